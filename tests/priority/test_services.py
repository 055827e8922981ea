from datetime import timedelta
from decimal import Decimal

import pytest

from priority import services as priority_services
from priority.recompute import run as recompute_workspace
from productops.errors import Conflict, Forbidden, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap.models import Feature
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _ranked(workspace):
    from roadmap.models import RoadmapSettings
    from tests.roadmap.factories import CriterionFactory

    RoadmapSettings.objects.create(workspace=workspace, scoring_model="rice")
    CriterionFactory(workspace=workspace, key="fit", weight=2)
    product = ProductFactory(workspace=workspace)
    features = [
        FeatureFactory(
            product=product,
            title=title,
            reach=reach,
            impact=1,
            confidence_pct=100,
            effort=1,
            ice_impact=ice,
            ice_confidence=ice,
            ice_ease=ice,
        )
        for title, reach, ice in [("A", 1000, 1), ("B", 100, 5), ("C", 10, 9)]
    ]
    recompute_workspace(workspace_id=workspace.pk)
    return features


def test_ranking_preview_ranks_under_the_proposal_and_changes_nothing(workspace, member):
    from roadmap.models import PrioritySnapshot, RoadmapSettings, ScorecardCriterion

    pm = member(workspace, Role.PRODUCT_MANAGER).user
    _ranked(workspace)
    state = list(
        Feature.objects.order_by("pk").values_list(
            "priority_rank", "priority_score", "score_ice", "score_state"
        )
    )
    counts = (PrioritySnapshot.objects.count(), AuditEvent.objects.count())

    rows = priority_services.ranking_preview(
        workspace=workspace, actor=pm, scoring_model="ice", criterion_weights={"fit": 7}
    )

    assert [(r["feature"].title, r["rank"], r["current_rank"], r["movement"]) for r in rows] == [
        ("C", 1, 3, 2),
        ("B", 2, 2, 0),
        ("A", 3, 1, -2),
    ]
    assert [r["score"] for r in rows] == [729.0, 125.0, 1.0]
    assert (
        list(
            Feature.objects.order_by("pk").values_list(
                "priority_rank", "priority_score", "score_ice", "score_state"
            )
        )
        == state
    )
    assert (PrioritySnapshot.objects.count(), AuditEvent.objects.count()) == counts
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "rice"
    assert ScorecardCriterion.objects.get(workspace=workspace).weight == Decimal("2.000")


def test_ranking_preview_validates_and_needs_a_product_manager(workspace, member):
    _ranked(workspace)
    with pytest.raises(Forbidden):
        priority_services.ranking_preview(
            workspace=workspace,
            actor=member(workspace, Role.CONTRIBUTOR).user,
            scoring_model="ice",
            criterion_weights={},
        )
    with pytest.raises(ValidationFailed) as unknown:
        priority_services.ranking_preview(workspace=workspace, scoring_model="nope", criterion_weights={})
    assert unknown.value.attr == "scoring_model"
    with pytest.raises(ValidationFailed) as bad_key:
        priority_services.ranking_preview(
            workspace=workspace, scoring_model="ice", criterion_weights={"other": 1}
        )
    assert bad_key.value.attr == "criterion_weights.other"


@pytest.mark.django_db(transaction=True)
def test_ranking_preview_gives_up_quickly_when_a_writer_holds_the_rows(workspace, member):
    import threading
    import time

    from django.db import connection, transaction

    from roadmap.models import RoadmapSettings

    if connection.vendor != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's; SQLite serialises writers, so there is no lock to wait on")
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    _ranked(workspace)
    locked, release = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction.atomic():
            RoadmapSettings.objects.select_for_update().get(workspace=workspace)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        with pytest.raises(Conflict) as busy:
            priority_services.ranking_preview(
                workspace=workspace, actor=pm, scoring_model="ice", criterion_weights={}
            )
        assert busy.value.code == "busy"
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join()
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "rice"


# --- sweeps: one failing workspace never stops the others ------------------------------------


def _dirty_workspace(reach: int):
    feature = FeatureFactory(reach=reach, impact=1, confidence_pct=100, effort=1)
    return feature


def test_the_sweep_isolates_a_poisoned_workspace_and_retries_it_after_its_backoff(caplog):
    from django.utils import timezone

    from roadmap.models import RoadmapSettings, ScoreState
    from tests.priority.poison import cure, poison

    healthy_before, poisoned, healthy_after = (_dirty_workspace(n) for n in (10, 20, 30))
    poison(poisoned.workspace_id)
    now = timezone.now()

    results = {r.workspace_id: r for r in priority_services.priorities_recompute_pending(now=now)}

    assert set(results) == {healthy_before.workspace_id, poisoned.workspace_id, healthy_after.workspace_id}
    assert results[poisoned.workspace_id].failed
    for ok in (healthy_before, healthy_after):
        ok.refresh_from_db()
        assert (ok.score_state, ok.priority_score) == (ScoreState.CLEAN, float(ok.reach))
    poisoned.refresh_from_db()
    assert poisoned.score_state == ScoreState.DIRTY
    row = RoadmapSettings.objects.get(workspace_id=poisoned.workspace_id)
    assert row.recompute_failures == 1
    assert "poisoned row" in caplog.text

    # Waiting out its backoff: the next sweeps leave it alone, and so does its queued task.
    assert priority_services.workspaces_pending(now=now) == []
    assert priority_services.priorities_recompute(workspace_id=poisoned.workspace_id, now=now).skipped
    row.refresh_from_db()
    assert row.recompute_failures == 1

    # Due again: tried, still failing, so the backoff doubles.
    due = row.recompute_next_attempt_at
    assert priority_services.workspaces_pending(now=due) == [poisoned.workspace_id]
    priority_services.priorities_recompute_pending(now=due)
    row.refresh_from_db()
    assert row.recompute_failures == 2
    assert row.recompute_next_attempt_at == due + timedelta(seconds=120)

    cure()
    priority_services.priorities_recompute_pending(now=row.recompute_next_attempt_at)
    row.refresh_from_db()
    poisoned.refresh_from_db()
    assert (row.recompute_failures, poisoned.score_state, poisoned.priority_score) == (
        0,
        ScoreState.CLEAN,
        20.0,
    )


def test_a_killed_daily_recompute_is_finished_by_the_next_sweep(django_capture_on_commit_callbacks):
    from django.utils import timezone

    from roadmap.models import RoadmapSettings, ScoreState

    features = [_dirty_workspace(n) for n in (1, 2, 3)]
    priority_services.priorities_recompute_pending()
    assert set(Feature.objects.values_list("score_state", flat=True)) == {ScoreState.CLEAN}

    # The daily task marks everything, then dies before running a single workspace.
    with django_capture_on_commit_callbacks(execute=True):
        assert priority_services.priorities_request_everything() == sorted(f.workspace_id for f in features)
    assert RoadmapSettings.objects.filter(recompute_requested_at__isnull=False).count() == 3
    assert set(Feature.objects.values_list("score_state", flat=True)) == {ScoreState.DIRTY}

    later = timezone.now()
    results = priority_services.priorities_recompute_pending(now=later)

    assert sorted(r.workspace_id for r in results) == sorted(f.workspace_id for f in features)
    assert set(Feature.objects.values_list("score_state", flat=True)) == {ScoreState.CLEAN}
    assert RoadmapSettings.objects.filter(recompute_requested_at__isnull=False).count() == 0
    assert set(Feature.objects.values_list("scores_computed_at", flat=True)) == {later}
