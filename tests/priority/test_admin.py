"""The engine's page in the admin console: recompute health per workspace and its actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from priority import tasks
from roadmap.models import Feature, RoadmapSettings, ScoreState
from roadmap.selectors import settings_for
from tests.productops.factories import WorkspaceFactory
from tests.productops.test_admin import admin_url
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_recompute_action_on_roadmap_settings(admin_client):
    feature = FeatureFactory(product=ProductFactory(), reach=10, impact=1, confidence_pct=100, effort=1)
    row = settings_for(feature.workspace_id)
    tasks.recompute_priorities.run(feature.workspace_id)

    admin_client.post(
        admin_url(RoadmapSettings, "changelist"),
        {"action": "recompute_priorities", "_selected_action": [row.pk]},
    )

    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY
    tasks.recompute_priorities.run(feature.workspace_id)
    assert Feature.objects.get(pk=feature.pk).score_rice == pytest.approx(10.0)


def test_the_stuck_filter_lists_failing_and_late_workspaces_and_retry_forgets_the_backoff(admin_client):
    now = timezone.now()
    healthy = settings_for(WorkspaceFactory(name="Healthy").pk)
    failing = settings_for(WorkspaceFactory(name="Failing").pk)
    late = settings_for(WorkspaceFactory(name="Late").pk)
    RoadmapSettings.objects.filter(pk=failing.pk).update(
        recompute_failures=2,
        recompute_last_error="DataError: value out of range: underflow",
        recompute_next_attempt_at=now + timedelta(minutes=2),
    )
    RoadmapSettings.objects.filter(pk=late.pk).update(recompute_requested_at=now - timedelta(hours=1))
    RoadmapSettings.objects.filter(pk=healthy.pk).update(recompute_requested_at=now)

    page = admin_client.get(admin_url(RoadmapSettings, "changelist") + "?recompute=stuck")

    assert page.status_code == 200
    listed = {row.workspace.name for row in page.context["cl"].result_list}
    assert listed == {"Failing", "Late"}
    failing_only = admin_client.get(admin_url(RoadmapSettings, "changelist") + "?recompute=failing")
    assert {row.workspace.name for row in failing_only.context["cl"].result_list} == {"Failing"}
    detail = admin_client.get(admin_url(RoadmapSettings, "change", failing.pk))
    assert "value out of range: underflow" in detail.content.decode()

    admin_client.post(
        admin_url(RoadmapSettings, "changelist"), {"action": "retry_now", "_selected_action": [failing.pk]}
    )
    failing.refresh_from_db()
    assert (failing.recompute_failures, failing.recompute_next_attempt_at) == (2, None)
