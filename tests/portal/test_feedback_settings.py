"""Suggestions by meaning in the team portal: the reason shown beside each suggestion in the
triage pane, and the feedback settings page where an admin turns suggestions by meaning on or
off (every member sees the setting)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback.models import DuplicateSuggestion, FeedbackSettings
from productops.models import AuditEvent, Role
from tests.feedback.factories import FeedbackItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TARGET = "feedback.feedbacksettings"
CHECKBOX = 'name="semantic_suggestions"'


def settings_url(workspace) -> str:
    return f"/w/{workspace.slug}/settings/feedback/"


def item_url(item) -> str:
    return f"/w/{item.workspace.slug}/feedback/{item.pk}/"


def label(reason: str, text: str) -> str:
    return f'<span class="badge badge-reason" data-reason="{reason}">{text}</span>'


def checkbox(page: str) -> str:
    """The setting's checkbox, without its id attributes."""
    tag = "<input" + page.split(CHECKBOX, 1)[0].rsplit("<input", 1)[1] + CHECKBOX
    tag += page.split(CHECKBOX, 1)[1].split(">", 1)[0] + ">"
    return re.sub(r' (id|aria-describedby)="[^"]*"', "", tag)


def written():
    return (
        list(FeedbackSettings.objects.values_list("workspace_id", "semantic_suggestions")),
        AuditEvent.objects.filter(target_type=TARGET).count(),
    )


def count_queries(client, url: str, **extra) -> int:
    client.get(url, **extra)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(queries)


# --- the reason beside each suggestion ----------------------------------------------------------


def _suggest(item, reason, *, similar_item=None, similar_feature=None, similarity=0.9):
    return DuplicateSuggestion.objects.create(
        workspace=item.workspace,
        item=item,
        similar_item=similar_item,
        similar_feature=similar_feature,
        similarity=similarity,
        word_similarity=0.9 if reason != "meaning" else 0.05,
        meaning_similarity=None if reason == "words" else 0.8,
        reason=reason,
    )


def test_each_suggestion_shows_why_it_is_suggested(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    product = ProductFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace, text="Let us sign in with our Okta accounts")
    by_words = FeedbackItemFactory(workspace=workspace, text="Unrelated wording number one")
    by_both = FeedbackItemFactory(workspace=workspace, text="Unrelated wording number two")
    by_meaning = FeatureFactory(product=product, title="Identity provider login")
    live = FeedbackItemFactory(workspace=workspace, text="Let us sign in with our Okta accounts!")
    _suggest(item, "words", similar_item=by_words, similarity=0.7)
    _suggest(item, "both", similar_item=by_both, similarity=0.95)
    _suggest(item, "meaning", similar_feature=by_meaning, similarity=0.6)

    response = client.get(item_url(item), **HTMX)

    assert response.status_code == 200
    rows = {s.item.pk: (s.reason, s.reason_label) for s in response.context["item_suggestions"]}
    assert rows == {
        by_both.pk: ("both", "Same words and meaning"),
        live.pk: ("words", "Same words"),  # a live match is found by words
        by_words.pk: ("words", "Same words"),
    }
    assert [(s.feature, s.reason_label) for s in response.context["feature_suggestions"]] == [
        (by_meaning, "Same meaning")
    ]
    content = response.content.decode()
    features = content.split('id="sugg-features-h"', 1)[1].split('id="sugg-items-h"', 1)[0]
    duplicates = content.split('id="sugg-items-h"', 1)[1]
    assert (
        f'{label("meaning", "Same meaning")}\n          <span class="muted small">0.60 similar</span>'
        in features
    )
    assert (
        f"{label('both', 'Same words and meaning')}\n"
        '          <span class="muted small">0.95 similar · New</span>' in duplicates
    )
    assert duplicates.count(label("words", "Same words")) == 2
    assert "Same meaning" not in duplicates


def test_the_labels_cost_no_query(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    product = ProductFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace)
    _suggest(item, "words", similar_item=FeedbackItemFactory(workspace=workspace))
    one = count_queries(client, item_url(item), **HTMX)
    for reason in ("words", "meaning", "both"):
        _suggest(item, reason, similar_item=FeedbackItemFactory(workspace=workspace))
        _suggest(item, reason, similar_feature=FeatureFactory(product=product))

    assert count_queries(client, item_url(item), **HTMX) == one


# --- the settings page --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER])
def test_members_below_admin_see_the_setting_without_a_form(role, portal_client, workspace):
    client, _ = portal_client(workspace, role)

    response = client.get(settings_url(workspace))

    assert response.status_code == 200
    content = response.content.decode()
    assert '<dd data-semantic-suggestions="on">On: by shared words and by meaning</dd>' in content
    assert CHECKBOX not in content
    assert "An admin changes this." in content
    assert f'<a href="/w/{workspace.slug}/settings/feedback/" aria-current="page">Feedback</a>' in content
    assert written() == ([], 0)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER])
def test_members_below_admin_get_403_and_nothing_is_written(role, portal_client, workspace):
    client, _ = portal_client(workspace, role)

    response = client.post(settings_url(workspace), {})  # an unticked box: off

    assert response.status_code == 403
    assert written() == ([], 0)
    assert client.get(settings_url(workspace)).context["settings_row"].semantic_suggestions is True


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_an_admin_turns_it_off_and_on_and_each_change_is_audited(
    role, portal_client, workspace, other_workspace, member
):
    client, membership = portal_client(workspace, role)
    page = client.get(settings_url(workspace)).content.decode()
    assert checkbox(page) == '<input type="checkbox" name="semantic_suggestions" checked>'
    assert "Suggest duplicates and features by meaning (offline model)</label>" in page

    off = client.post(settings_url(workspace), {}, follow=True)

    assert off.redirect_chain == [(settings_url(workspace), 302)]
    assert "Suggestions by meaning turned off." in off.content.decode()
    assert written() == ([(workspace.pk, False)], 1)
    event = AuditEvent.objects.get(target_type=TARGET)
    assert (event.actor_id, event.action, event.changes) == (
        membership.user_id,
        AuditEvent.Action.UPDATED,
        {"semantic_suggestions": False},
    )
    assert checkbox(off.content.decode()) == '<input type="checkbox" name="semantic_suggestions">'

    again = client.post(settings_url(workspace), {})  # unchanged: no new audit row
    on = client.post(settings_url(workspace), {"semantic_suggestions": "on"})

    assert (again.status_code, on.status_code) == (302, 302)
    assert written() == ([(workspace.pk, True)], 2)
    abroad, _ = portal_client(other_workspace, Role.VIEWER)
    assert abroad.get(settings_url(other_workspace)).context["settings_row"].semantic_suggestions is True
    assert not FeedbackSettings.objects.filter(workspace=other_workspace).exists()


def test_another_workspaces_settings_page_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(other_workspace, Role.OWNER)

    assert client.get(settings_url(workspace)).status_code == 404
    assert client.post(settings_url(workspace), {}).status_code == 404
    assert written() == ([], 0)


def test_the_settings_page_costs_a_fixed_number_of_queries(portal_client, workspace):
    viewer, _ = portal_client(workspace, Role.VIEWER)
    admin, _ = portal_client(workspace, Role.ADMIN)
    defaults = count_queries(viewer, settings_url(workspace))
    admin.post(settings_url(workspace), {})

    assert count_queries(viewer, settings_url(workspace)) == defaults
    assert count_queries(admin, settings_url(workspace)) == defaults


def test_the_settings_page_shows_what_was_suggested_and_dismissed_per_reason(portal_client, workspace):
    viewer, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    empty = count_queries(viewer, settings_url(workspace))
    item = FeedbackItemFactory(workspace=workspace)
    dismissed = _suggest(item, "meaning", similar_item=FeedbackItemFactory(workspace=workspace))
    DuplicateSuggestion.objects.filter(pk=dismissed.pk).update(dismissed=True)
    _suggest(item, "meaning", similar_item=FeedbackItemFactory(workspace=workspace))
    _suggest(item, "words", similar_feature=FeatureFactory(product=product))

    assert count_queries(viewer, settings_url(workspace)) == empty
    content = viewer.get(settings_url(workspace)).content.decode()

    def row(key: str) -> list[str]:
        cells = content.split(f'data-reason="{key}">', 1)[1].split("</tr>", 1)[0]
        return re.findall(r"<td[^>]*>([^<]*)</td>", cells)

    assert row("duplicate-meaning") == ["Duplicate item", "Same meaning", "2", "1", "50 %"]
    assert row("feature-words") == ["Feature it asks for", "Same words", "1", "0", "0 %"]
    assert row("duplicate-both") == ["Duplicate item", "Both", "0", "0", "—"]
    assert "0 items in a theme now; 0 taken out with" in content
