"""The demo releases (releases/demo.py through seed_demo): a shipped, an at-risk and a planned
release with checklists, metrics with actuals, a public changelog; idempotent."""

from __future__ import annotations

import io

import feedparser
import pytest
from django.core.management import call_command
from django.test import Client

from productops.demo import DEMO_WORKSPACE_SLUG
from productops.models import Event, Workspace
from releases import selectors
from releases.models import (
    ChangelogSettings,
    ChecklistTask,
    MetricActual,
    Release,
    ReleaseStatus,
    ScopeItem,
    SuccessMetric,
)
from roadmap.models import FeatureStatus

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    models = [Release, ScopeItem, ChecklistTask, SuccessMetric, MetricActual, Event, ChangelogSettings]
    return {model.__name__: model.objects.count() for model in models}


def test_the_demo_has_each_kind_of_release_and_a_public_changelog():
    call_command("seed_demo", force=True, stdout=io.StringIO())
    counts = _counts()
    call_command("seed_demo", force=True, stdout=io.StringIO())
    assert _counts() == counts

    workspace = Workspace.objects.get(slug=DEMO_WORKSPACE_SLUG)
    releases = list(selectors.release_list(workspace=workspace))
    assert {r.product.name for r in releases} == {"Insights", "Connect"}
    assert all(r.checklist_tasks.exists() for r in releases)
    health = selectors.release_health(workspace=workspace, releases=releases)

    shipped = [r for r in releases if r.status == ReleaseStatus.RELEASED]
    assert {r.product.name for r in shipped} == {"Insights", "Connect"}
    for release in shipped:
        assert release.published_notes
        assert release.notes_published_at is not None
        items = release.scope_items.select_related("feature")
        assert items.exists()
        assert all(i.feature.status == FeatureStatus.SHIPPED for i in items)
        assert all(i.feature.public_title and i.feature.release_note for i in items)
        assert release.success_metrics.exists()
        assert not release.checklist_tasks.filter(state__in=["todo", "in_progress"]).exists()
    assert MetricActual.objects.filter(metric__release__in=shipped).exists()
    assert SuccessMetric.objects.filter(release__in=shipped, key_result__isnull=False).exists()
    assert Event.objects.filter(kind=Event.Kind.RELEASE_SHIPPED).count() == len(shipped)

    at_risk = [r for r in releases if r.status == ReleaseStatus.IN_PROGRESS and health[r.pk].at_risk]
    assert at_risk
    reasons = " ".join(health[at_risk[0].pk].risks)
    assert "must-haves not started" in reasons
    assert "Required tasks overdue" in reasons
    assert [r for r in releases if r.status == ReleaseStatus.PLANNED]

    client = Client()
    page = client.get(f"/p/{workspace.slug}/changelog/")
    assert page.status_code == 200
    assert len(page.context["page"].object_list) == len(shipped)
    body = page.content.decode()
    for release in shipped:
        assert release.name in body
    assert "A guided first dashboard" in body  # the customer-facing title, from the notes
    feed = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/atom/").content)
    assert feed.bozo is False
    assert len(feed.entries) == len(shipped)
