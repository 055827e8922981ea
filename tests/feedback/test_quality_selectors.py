"""The suggestion quality report (feedback.quality_selectors): suggestions and dismissals
per reason and kind, and "wrong theme" dismissals, over a period, for one workspace."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback import services, theme_services
from feedback.models import DuplicateSuggestion, ThemeDismissal
from feedback.quality_selectors import suggestion_quality
from productops.models import Role
from tests.feedback.factories import FeedbackItemFactory
from tests.feedback.test_themes import dark_theme  # noqa: F401 (a fixture)
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _suggest(workspace, reason, *, feature=None, dismissed=False):
    item = FeedbackItemFactory(workspace=workspace)
    other = None if feature else FeedbackItemFactory(workspace=workspace)
    suggestion = DuplicateSuggestion.objects.create(
        workspace=workspace,
        item=item if other is None or item.pk < other.pk else other,
        similar_item=None if other is None else max(item, other, key=lambda i: i.pk),
        similar_feature=feature,
        similarity=0.8,
        word_similarity=0.8 if reason != "meaning" else 0.1,
        meaning_similarity=None if reason == "words" else 0.8,
        reason=reason,
    )
    if dismissed:
        services.duplicate_dismiss(suggestion=suggestion, actor=None)
    return suggestion


def _figures(report):
    return {(r.kind, r.reason): (r.suggested, r.dismissed, r.dismissed_share) for r in report.rows}


def test_counts_suggestions_and_dismissals_per_reason_and_kind(workspace, other_workspace):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    _suggest(workspace, "meaning", dismissed=True)
    _suggest(workspace, "meaning", dismissed=True)
    _suggest(workspace, "meaning")
    _suggest(workspace, "meaning")
    _suggest(workspace, "words")
    _suggest(workspace, "both", feature=feature, dismissed=True)
    old = _suggest(workspace, "words", dismissed=True)
    DuplicateSuggestion.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    _suggest(other_workspace, "words", dismissed=True)

    with CaptureQueriesContext(connection) as queries:
        report = suggestion_quality(workspace_id=workspace.pk)

    assert len(queries) == 3
    assert _figures(report) == {
        ("duplicate", "words"): (1, 0, 0.0),
        ("duplicate", "meaning"): (4, 2, 0.5),
        ("duplicate", "both"): (0, 0, None),
        ("feature", "words"): (0, 0, None),
        ("feature", "meaning"): (0, 0, None),
        ("feature", "both"): (1, 1, 1.0),
    }
    assert (report.days, report.themed_items, report.wrong_theme) == (90, 0, 0)


def test_wrong_theme_dismissals_are_counted(workspace, member, dark_theme):  # noqa: F811
    user = member(workspace, Role.CONTRIBUTOR).user
    before = suggestion_quality(workspace_id=workspace.pk)
    item = theme_services.theme_open_items(dark_theme)[0]

    theme_services.theme_item_dismiss(theme=dark_theme, item=item, actor=user)

    after = suggestion_quality(workspace_id=workspace.pk)
    assert before.wrong_theme == 0
    assert after.wrong_theme == ThemeDismissal.objects.count() == 1
    assert after.themed_items == before.themed_items - 1
