"""The set-based recompute agrees with the reference formulas, is idempotent,
coalesces bursts, and survives two runs at once."""

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from feedback import services as feedback_services
from feedback.models import Vote
from priority import formulas, tasks
from priority.recompute import run as recompute_workspace
from productops.celery import app as celery_app
from roadmap import services
from roadmap.models import (
    Feature,
    FeatureCriterionValue,
    PrioritySnapshot,
    RoadmapSettings,
    ScorecardCriterion,
    ScoreState,
    ScoringModel,
)
from roadmap.selectors import settings_for
from tests.feedback.factories import CompanyFactory, ContactFactory, FeedbackItemFactory, FeedbackLinkFactory
from tests.priority.poison import cure as _cure
from tests.priority.poison import poison as _poison
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import CriterionFactory, FeatureFactory, ProductFactory

NOW = timezone.now().replace(microsecond=0)


def build_random_workspace(seed: int, features: int = 25, companies: int = 12):
    rng = random.Random(seed)
    workspace = WorkspaceFactory()
    product = ProductFactory(workspace=workspace)
    settings_row = settings_for(workspace.pk)
    settings_row.scoring_model = rng.choice(ScoringModel.values)
    settings_row.recency_half_life_days = rng.choice([30, 90, 180])
    settings_row.save()
    criteria = [
        CriterionFactory(workspace=workspace, weight=Decimal(rng.randint(0, 5)), source=source)
        for source in ["manual", "manual", "customer_impact", "competitive_gap"]
    ]
    from roadmap.models import Competitor

    competitors = [Competitor.objects.create(workspace=workspace, name=f"Rival {i}") for i in range(5)]
    company_rows = [
        CompanyFactory(
            workspace=workspace,
            segment=rng.choice(["enterprise", "mid_market", "smb", ""]),
            arr=Decimal(rng.choice([0, 5_000, 120_000, 2_500_000])),
        )
        for _ in range(companies)
    ]
    contacts = [
        ContactFactory(workspace=workspace, company=rng.choice([None, *company_rows]))
        for _ in range(companies * 2)
    ]

    def maybe(value):
        return value if rng.random() > 0.2 else None

    feature_rows = []
    for _ in range(features):
        feature = FeatureFactory(
            workspace=workspace,
            product=product,
            status=rng.choice(["idea", "under_consideration", "planned", "in_progress", "shipped"]),
            effort=maybe(Decimal(rng.choice(["0.5", "1", "3", "8"]))),
            reach=maybe(rng.randint(0, 5000)),
            impact=maybe(Decimal(rng.choice(["0.25", "0.5", "1", "2", "3"]))),
            confidence_pct=maybe(rng.choice([50, 80, 100])),
            ice_impact=maybe(rng.randint(1, 10)),
            ice_confidence=maybe(rng.randint(1, 10)),
            ice_ease=maybe(rng.randint(1, 10)),
            business_value=maybe(rng.randint(1, 20)),
            time_criticality=maybe(rng.randint(1, 20)),
            risk_reduction=maybe(rng.randint(1, 20)),
            job_size=maybe(Decimal(rng.choice(["1", "2", "5"]))),
            value=maybe(rng.randint(1, 10)),
        )
        feature.competitors.set(rng.sample(competitors, rng.randint(0, 5)))
        for criterion in criteria[:2]:
            if rng.random() > 0.3:
                FeatureCriterionValue.objects.create(
                    workspace=workspace,
                    feature=feature,
                    criterion=criterion,
                    value=Decimal(rng.randint(0, 10)),
                )
        for _ in range(rng.randint(0, 6)):
            contact = rng.choice([None, *contacts])
            item = FeedbackItemFactory(
                workspace=workspace,
                contact=contact,
                company=rng.choice([None, None, *company_rows]),
                received_at=NOW - timedelta(days=rng.randint(0, 400), hours=rng.randint(0, 23)),
            )
            FeedbackLinkFactory(
                item=item, feature=feature, importance=rng.choice(["nice_to_have", "important", "critical"])
            )
        for contact in rng.sample(contacts, rng.randint(0, 4)):
            vote = Vote.objects.create(workspace=workspace, contact=contact, feature=feature)
            Vote.objects.filter(pk=vote.pk).update(created_at=NOW - timedelta(days=rng.randint(0, 300)))
        feature_rows.append(feature)
    return workspace


def reference_scores(workspace) -> dict[int, dict]:
    """The straightforward computation: Python over the ORM, one feature at a time."""
    from priority.demand import demand_signals_for_feature

    settings_row = RoadmapSettings.objects.get(workspace=workspace)
    criteria = list(ScorecardCriterion.objects.filter(workspace=workspace))
    expected = {}
    for feature in Feature.objects.filter(workspace=workspace):
        signals = demand_signals_for_feature(feature_id=feature.pk, arr_rates={"USD": 1.0})
        _, arr_at_stake, critical = formulas.demand_summary(signals)
        impact, companies, _ = formulas.customer_impact(
            signals,
            now=NOW,
            importance_weights=settings_row.importance_weights,
            segment_weights=settings_row.segment_weights,
            vote_weight=float(settings_row.vote_weight),
            half_life_days=float(settings_row.recency_half_life_days),
        )
        values = {v.criterion_id: float(v.value) for v in feature.criterion_values.all()}
        pairs = []
        for criterion in criteria:
            if criterion.source == "customer_impact":
                value = formulas.customer_impact_to_ten(
                    impact, scale=float(settings_row.customer_impact_scale)
                )
            elif criterion.source == "competitive_gap":
                value = formulas.competitive_gap_to_ten(feature.competitors.count())
            else:
                value = values.get(criterion.pk, 0.0)
            pairs.append((value, float(criterion.weight)))
        scores = {
            "rice": formulas.rice(
                reach=feature.reach,
                impact=feature.impact,
                confidence_pct=feature.confidence_pct,
                effort=feature.effort,
            ),
            "ice": formulas.ice(
                impact=feature.ice_impact, confidence=feature.ice_confidence, ease=feature.ice_ease
            ),
            "wsjf": formulas.wsjf(
                business_value=feature.business_value,
                time_criticality=feature.time_criticality,
                risk_reduction=feature.risk_reduction,
                job_size=feature.job_size if feature.job_size is not None else feature.effort,
            ),
            "value_effort": formulas.value_effort(value=feature.value, effort=feature.effort),
            "customer_impact": impact,
            "scorecard": formulas.scorecard(pairs),
        }
        expected[feature.pk] = {
            **scores,
            "companies": companies,
            "arr_at_stake": arr_at_stake,
            "critical_requests": critical,
            "priority": scores[settings_row.scoring_model],
            "status": feature.status,
        }
    ranked = sorted(
        (pk for pk, e in expected.items() if e["status"] not in ("shipped", "declined")),
        key=lambda pk: (
            expected[pk]["priority"] is None,
            -(expected[pk]["priority"] or 0),
            -expected[pk]["customer_impact"],
            pk,
        ),
    )
    for position, pk in enumerate(ranked, start=1):
        expected[pk]["rank"] = position
    return expected


def approx(value):
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(8))
def test_recompute_matches_the_reference_on_random_workspaces(seed):
    workspace = build_random_workspace(seed)

    result = recompute_workspace(workspace_id=workspace.pk, now=NOW)

    expected = reference_scores(workspace)
    assert result.recomputed == len(expected)
    for feature in Feature.objects.filter(workspace=workspace):
        want = expected[feature.pk]
        got = {
            "rice": feature.score_rice,
            "ice": feature.score_ice,
            "wsjf": feature.score_wsjf,
            "value_effort": feature.score_value_effort,
            "customer_impact": feature.score_customer_impact,
            "scorecard": feature.score_scorecard,
            "companies": feature.requesting_companies,
            "arr_at_stake": feature.arr_at_stake,
            "critical_requests": feature.critical_requests,
            "priority": feature.priority_score,
            "rank": feature.priority_rank,
        }
        assert got == {
            **{
                k: approx(want[k])
                for k in ["rice", "ice", "wsjf", "value_effort", "customer_impact", "scorecard"]
            },
            "companies": want["companies"],
            "arr_at_stake": approx(want["arr_at_stake"]),
            "critical_requests": want["critical_requests"],
            "priority": approx(want["priority"]),
            "rank": want.get("rank"),
        }, f"feature {feature.pk}"
        assert feature.score_state == ScoreState.CLEAN


@pytest.mark.django_db
def test_a_second_run_over_unchanged_inputs_changes_nothing():
    workspace = build_random_workspace(99)
    first = recompute_workspace(workspace_id=workspace.pk, now=NOW)
    before = list(Feature.objects.filter(workspace=workspace).values("pk", "priority_score", "priority_rank"))

    second = recompute_workspace(workspace_id=workspace.pk, full=True, now=NOW)

    assert first.snapshots > 0
    assert second.snapshots == 0
    assert (
        list(Feature.objects.filter(workspace=workspace).values("pk", "priority_score", "priority_rank"))
        == before
    )


@pytest.mark.django_db
def test_only_dirty_features_are_recomputed_and_history_records_moves():
    product = ProductFactory()
    top = FeatureFactory(product=product, reach=100, impact=1, confidence_pct=100, effort=1)
    low = FeatureFactory(product=product, reach=10, impact=1, confidence_pct=100, effort=1)
    recompute_workspace(workspace_id=product.workspace_id)

    services.feature_update(feature=low, actor=None, data={"reach": 1000})
    result = recompute_workspace(workspace_id=product.workspace_id)

    assert result.recomputed == 1
    top.refresh_from_db()
    low.refresh_from_db()
    assert (low.priority_rank, top.priority_rank) == (1, 2)
    history = list(PrioritySnapshot.objects.filter(feature=low).order_by("id").values_list("score", "rank"))
    assert history == [(10.0, 2), (1000.0, 1)]
    assert list(PrioritySnapshot.objects.filter(feature=top).order_by("id").values_list("score", "rank")) == [
        (100.0, 1),
        (100.0, 2),
    ]


@pytest.mark.django_db
def test_equal_scores_rank_by_customer_impact_then_age():
    product = ProductFactory()
    older, newer, asked_for = (
        FeatureFactory(product=product, reach=10, impact=1, confidence_pct=100, effort=1) for _ in range(3)
    )
    FeedbackLinkFactory(feature=asked_for, importance="important")

    recompute_workspace(workspace_id=product.workspace_id)

    ranks = dict(Feature.objects.values_list("pk", "priority_rank"))
    assert [ranks[asked_for.pk], ranks[older.pk], ranks[newer.pk]] == [1, 2, 3]


@pytest.mark.django_db
def test_shipped_and_declined_features_leave_the_ranking():
    product = ProductFactory()
    kept = FeatureFactory(product=product, reach=1, impact=1, confidence_pct=100, effort=1)
    shipped = FeatureFactory(
        product=product, reach=9, impact=1, confidence_pct=100, effort=1, status="in_progress"
    )
    recompute_workspace(workspace_id=product.workspace_id)

    services.feature_change_status(feature=shipped, to_status="shipped", actor=None)
    recompute_workspace(workspace_id=product.workspace_id)

    assert dict(Feature.objects.values_list("pk", "priority_rank")) == {kept.pk: 1, shipped.pk: None}


@pytest.mark.django_db
def test_a_company_arr_change_marks_what_it_asked_for_dirty():
    product = ProductFactory()
    asked, other = FeatureFactory(product=product), FeatureFactory(product=product)
    company = CompanyFactory(workspace=product.workspace, arr=0)
    FeedbackLinkFactory(feature=asked, item=FeedbackItemFactory(workspace=product.workspace, company=company))
    recompute_workspace(workspace_id=product.workspace_id)
    before = Feature.objects.get(pk=asked.pk).score_customer_impact

    feedback_services.company_update(company=company, actor=None, data={"arr": Decimal("999000")})

    states = dict(Feature.objects.values_list("pk", "score_state"))
    assert states == {asked.pk: ScoreState.DIRTY, other.pk: ScoreState.CLEAN}
    recompute_workspace(workspace_id=product.workspace_id)
    assert Feature.objects.get(pk=asked.pk).score_customer_impact == pytest.approx(before * 4)


@pytest.mark.django_db
def test_changing_the_scoring_model_reranks_everything():
    product = ProductFactory()
    rice_winner = FeatureFactory(product=product, reach=1000, impact=1, confidence_pct=100, effort=1, value=1)
    value_winner = FeatureFactory(product=product, reach=1, impact=1, confidence_pct=100, effort=1, value=10)
    recompute_workspace(workspace_id=product.workspace_id)
    assert Feature.objects.get(pk=rice_winner.pk).priority_rank == 1

    services.roadmap_settings_update(
        workspace=product.workspace, actor=None, data={"scoring_model": "value_effort"}
    )
    recompute_workspace(workspace_id=product.workspace_id)

    assert Feature.objects.get(pk=value_winner.pk).priority_rank == 1
    assert Feature.objects.get(pk=value_winner.pk).priority_score == 10.0


# --- coalescing and concurrency ------------------------------------------------------


def queued(queue=None) -> int:
    queue = queue or celery_app.conf.task_default_queue
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue, durable=True, auto_delete=False).message_count


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.mark.django_db
def test_a_thousand_votes_in_a_burst_send_one_recompute(empty_queue, django_capture_on_commit_callbacks):
    product = ProductFactory()
    feature = FeatureFactory(product=product)
    contacts = [ContactFactory(workspace=product.workspace) for _ in range(1000)]

    for contact in contacts:
        with django_capture_on_commit_callbacks(execute=True):
            feedback_services.vote_cast(contact=contact, feature=feature)

    assert Vote.objects.filter(feature=feature).count() == 1000
    assert queued() == 1
    result = tasks.recompute_priorities.run(product.workspace_id)
    assert result == {"recomputed": 1, "snapshots": 1, "failed": False, "skipped": False}
    assert Feature.objects.get(pk=feature.pk).score_customer_impact == pytest.approx(1000.0)


@pytest.mark.django_db
def test_voting_twice_is_idempotent_and_counts_once():
    feature = FeatureFactory()
    contact = ContactFactory(workspace=feature.workspace)

    _, first = feedback_services.vote_cast(contact=contact, feature=feature)
    _, second = feedback_services.vote_cast(contact=contact, feature=feature)

    assert (first, second) == (True, False)
    assert Vote.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_recomputes_at_once_give_the_same_result_as_one():
    workspace = build_random_workspace(7, features=40)
    errors = []

    def run():
        try:
            recompute_workspace(workspace_id=workspace.pk, now=NOW)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    expected = reference_scores(workspace)
    got = dict(Feature.objects.filter(workspace=workspace).values_list("pk", "priority_rank"))
    assert got == {pk: e.get("rank") for pk, e in expected.items()}
    assert Feature.objects.filter(workspace=workspace).exclude(score_state=ScoreState.CLEAN).count() == 0
    # One run's history only: the second run either waited its turn and found
    # nothing to do, or skipped because the first held the lock.
    assert PrioritySnapshot.objects.filter(workspace=workspace).count() == len(
        [e for e in expected.values() if e.get("rank") is not None or e["priority"] is not None]
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_vote_reaches_the_score_through_a_real_worker(empty_queue):
    feature = FeatureFactory()
    contact = ContactFactory(workspace=feature.workspace, company=CompanyFactory(workspace=feature.workspace))
    recompute_workspace(workspace_id=feature.workspace_id)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        feedback_services.vote_cast(contact=contact, feature=feature)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if Feature.objects.get(pk=feature.pk).requesting_companies == 1:
                break
            time.sleep(0.05)

    feature.refresh_from_db()
    assert feature.requesting_companies == 1
    assert feature.score_customer_impact == pytest.approx(1.0)
    assert feature.score_state == ScoreState.CLEAN


@pytest.mark.django_db
def test_beat_sweep_catches_up_dirty_features_whose_task_was_lost():
    feature = FeatureFactory(reach=10, impact=1, confidence_pct=100, effort=1)
    # No on_commit callbacks ran: as if Redis had been down when the feature changed.
    assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.DIRTY

    assert tasks.recompute_dirty_everywhere.run() == 1

    assert Feature.objects.get(pk=feature.pk).priority_score == 10.0


# --- odd data ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("received_at", "half_life"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), 180),
        (datetime(1899, 12, 30, tzinfo=UTC), 30),
    ],
)
def test_a_request_dated_centuries_ago_weighs_almost_nothing_and_never_stops_the_run(received_at, half_life):
    # Stored before dates were validated at every entry: the decay must still be safe
    # (PostgreSQL's POWER(0.5, 21000) is an underflow error, not zero).
    feature = FeatureFactory()
    settings_row = settings_for(feature.workspace_id)
    settings_row.recency_half_life_days = half_life
    settings_row.save()
    company = CompanyFactory(workspace=feature.workspace)
    FeedbackLinkFactory(
        feature=feature,
        item=FeedbackItemFactory(workspace=feature.workspace, company=company, received_at=received_at),
    )
    FeedbackLinkFactory(
        feature=feature, item__company=CompanyFactory(workspace=feature.workspace), importance="critical"
    )

    result = recompute_workspace(workspace_id=feature.workspace_id, now=NOW)

    assert (result.failed, result.recomputed) == (False, 1)
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.CLEAN
    assert feature.requesting_companies == 2
    expected = reference_scores(feature.workspace)[feature.pk]
    assert feature.score_customer_impact == approx(expected["customer_impact"])
    assert feature.score_customer_impact == approx(4.0)  # the old request adds ~1e-300


def test_the_scorecard_mapping_of_a_huge_impact_is_ten():
    assert formulas.customer_impact_to_ten(1e12, scale=0.001) == 10.0
    assert (
        formulas.signal_weight(
            formulas.DemandSignal("c1", 1, "", 0.0, "critical", NOW - timedelta(days=700_000)),
            now=NOW,
            importance_weights={"critical": 4.0},
            vote_weight=1.0,
            half_life_days=1.0,
        )
        == 4.0 * 0.5**formulas.MAX_HALF_LIVES
    )


# --- runs: leases, requests, failures -------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_run_gives_its_features_back_and_records_the_failure_with_backoff(caplog):
    feature = FeatureFactory(reach=10, impact=1, confidence_pct=100, effort=1)
    _poison(feature.workspace_id)

    result = recompute_workspace(workspace_id=feature.workspace_id, now=NOW)

    assert result.failed
    assert "poisoned row" in result.error
    feature.refresh_from_db()
    assert (feature.score_state, feature.priority_score) == (ScoreState.DIRTY, None)
    row = RoadmapSettings.objects.get(workspace_id=feature.workspace_id)
    assert row.recompute_failures == 1
    assert "poisoned row" in row.recompute_last_error
    assert row.recompute_lease_until is None
    assert row.recompute_next_attempt_at == NOW + timedelta(seconds=60)
    assert "Priority recompute of workspace" in caplog.text  # logged with its traceback
    assert caplog.records[-1].exc_info is not None

    _cure()
    assert recompute_workspace(workspace_id=feature.workspace_id, now=NOW).failed is False
    row.refresh_from_db()
    assert (row.recompute_failures, row.recompute_next_attempt_at, row.recompute_last_error) == (0, None, "")
    assert Feature.objects.get(pk=feature.pk).priority_score == 10.0


def test_backoff_doubles_up_to_an_hour():
    from priority.recompute import backoff_seconds

    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 7, 8, 20)] == [60, 120, 240, 480, 3600, 3600, 3600]


@pytest.mark.django_db
def test_a_second_run_while_the_lease_holds_is_busy_and_an_expired_lease_is_taken_over():
    feature = FeatureFactory()
    settings_for(feature.workspace_id)
    RoadmapSettings.objects.filter(workspace_id=feature.workspace_id).update(
        recompute_run=7, recompute_lease_until=NOW + timedelta(minutes=1)
    )
    Feature.objects.filter(pk=feature.pk).update(score_state=ScoreState.RECOMPUTING, recompute_run=7)

    assert recompute_workspace(workspace_id=feature.workspace_id, now=NOW).busy

    # The holder died and its lease ran out: the next run takes its claimed rows over.
    later = NOW + timedelta(minutes=2)
    result = recompute_workspace(workspace_id=feature.workspace_id, now=later)
    assert (result.busy, result.recomputed) == (False, 1)
    feature.refresh_from_db()
    assert (feature.score_state, feature.recompute_run) == (ScoreState.CLEAN, 8)
    assert RoadmapSettings.objects.get(workspace_id=feature.workspace_id).recompute_lease_until is None


@pytest.mark.django_db
def test_a_lease_whose_postgresql_backend_is_gone_is_taken_over_at_once():
    if connection.vendor != "postgresql":
        pytest.skip(
            "the holder's liveness is read from pg_stat_activity; SQLite waits for the lease to expire"
        )
    feature = FeatureFactory()
    settings_for(feature.workspace_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(pid) + 100000 FROM pg_stat_activity")
        dead_pid = cursor.fetchone()[0]
    RoadmapSettings.objects.filter(workspace_id=feature.workspace_id).update(
        recompute_run=3, recompute_lease_until=NOW + timedelta(minutes=5), recompute_holder_pid=dead_pid
    )

    result = recompute_workspace(workspace_id=feature.workspace_id, now=NOW)

    assert (result.busy, result.recomputed) == (False, 1)


@pytest.mark.django_db
def test_the_run_that_covers_a_request_clears_it_and_a_later_request_stays(
    django_capture_on_commit_callbacks,
):
    feature = FeatureFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.features_mark_dirty(workspace_id=feature.workspace_id, schedule=False)
    row = RoadmapSettings.objects.get(workspace_id=feature.workspace_id)
    assert row.recompute_requested_at is not None
    assert row.recompute_requested_seq == 1

    recompute_workspace(workspace_id=feature.workspace_id, now=NOW)
    row.refresh_from_db()
    assert row.recompute_requested_at is None

    # A request recorded after the run read the sequence is not the run's to clear.
    from priority import recompute

    real_claim = recompute._claim

    def claim_then_request(*args, **kwargs):
        claimed = real_claim(*args, **kwargs)
        services.recompute_request(workspace_id=feature.workspace_id)
        return claimed

    services.features_mark_dirty(workspace_id=feature.workspace_id, schedule=False)
    recompute._claim = claim_then_request
    try:
        recompute_workspace(workspace_id=feature.workspace_id, now=NOW)
    finally:
        recompute._claim = real_claim
    row.refresh_from_db()
    assert row.recompute_requested_at is not None


# --- races (PostgreSQL) ---------------------------------------------------------------------


def _advisory_waiters() -> int:
    with connection.cursor() as cursor:
        # This database's only: another test database on the server (a pytest-xdist worker's,
        # another checkout's) has advisory locks of its own.
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


def _returns_while_paused(write) -> bool:
    """Run ``write`` in a thread of its own; True when it returned (without raising) within
    10 s while the caller still holds the run paused."""
    done, errors = threading.Event(), []

    def target() -> None:
        try:
            write()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=target)
    thread.start()
    returned = done.wait(10)
    if errors:
        raise errors[0]
    return returned


@pytest.mark.django_db(transaction=True)
def test_a_vote_while_a_recompute_is_paused_before_its_write_returns_at_once_and_stays_counted():
    """The race of issue 10: a recompute claims a dirty feature, a vote on it commits before
    the run writes, and the run must neither make the vote wait nor mark the feature clean."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent transactions; SQLite serialises every writer")
    from priority.recompute import ADVISORY_LOCK_NAMESPACE

    feature = FeatureFactory()  # new, so DIRTY
    workspace_id = feature.workspace_id
    contact = ContactFactory(workspace=feature.workspace, company=CompanyFactory(workspace=feature.workspace))
    held, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def hold_the_write_lock() -> None:
        # The lock each of the run's writes takes first: holding it pauses the run after
        # its claim has committed and before it writes anything.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, workspace_id])
            held.set()
            release.wait(30)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, workspace_id])
        connection.close()

    def run() -> None:
        try:
            outcome["result"] = recompute_workspace(workspace_id=workspace_id)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert held.wait(10)
    runner = threading.Thread(target=run)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while _advisory_waiters() == 0:
            assert time.monotonic() < deadline, "the recompute never reached its write"
            time.sleep(0.01)
        assert Feature.objects.get(pk=feature.pk).score_state == ScoreState.RECOMPUTING

        # While the run is still paused: a vote that waited for any lock the run holds
        # would not return before ``release`` (no wall-clock bound, so load cannot fail it).
        returned = _returns_while_paused(
            lambda: feedback_services.vote_cast(contact=contact, feature=feature)
        )
    finally:
        release.set()
        holder.join()
        runner.join()

    assert returned is True
    assert outcome["result"].failed is False
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.DIRTY  # the run skipped it: its claim was stale
    assert feature.requesting_companies == 0
    recompute_workspace(workspace_id=workspace_id)
    feature.refresh_from_db()
    assert (feature.score_state, feature.requesting_companies) == (ScoreState.CLEAN, 1)


@pytest.mark.django_db(transaction=True)
def test_three_hundred_votes_from_four_threads_during_recomputes_are_all_counted():
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent transactions; SQLite serialises every writer")
    feature = FeatureFactory()
    workspace = feature.workspace
    contacts = [
        ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace)) for _ in range(300)
    ]
    voting = threading.Event()
    errors: list[Exception] = []

    def voter(batch) -> None:
        try:
            for contact in batch:
                feedback_services.vote_cast(contact=contact, feature=feature)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    def recomputer() -> None:
        try:
            while voting.is_set():
                recompute_workspace(workspace_id=workspace.pk)
        finally:
            connection.close()

    voting.set()
    loop = threading.Thread(target=recomputer)
    loop.start()
    voters = [threading.Thread(target=voter, args=(contacts[i::4],)) for i in range(4)]
    for thread in voters:
        thread.start()
    for thread in voters:
        thread.join()
    voting.clear()
    loop.join()

    assert errors == []
    assert Vote.objects.filter(feature=feature).count() == 300
    # Whatever the interleaving, what is left dirty is scored by the next run.
    recompute_workspace(workspace_id=workspace.pk)
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.CLEAN
    assert feature.requesting_companies == 300


@pytest.mark.django_db
def test_a_history_point_bumps_updated_at_and_a_run_that_moves_nothing_does_not():
    product = ProductFactory()
    low = FeatureFactory(product=product, reach=10, impact=1, confidence_pct=100, effort=1)
    high = FeatureFactory(product=product, reach=100, impact=1, confidence_pct=100, effort=1)
    recompute_workspace(workspace_id=product.workspace_id, now=NOW)
    stamps = dict(Feature.objects.values_list("pk", "updated_at"))

    recompute_workspace(workspace_id=product.workspace_id, full=True, now=NOW + timedelta(days=1))
    assert dict(Feature.objects.values_list("pk", "updated_at")) == stamps  # nothing moved

    Feature.objects.filter(pk=low.pk).update(reach=1000, score_state=ScoreState.DIRTY)
    later = NOW + timedelta(days=2)
    recompute_workspace(workspace_id=product.workspace_id, now=later)

    after = dict(Feature.objects.values_list("pk", "updated_at"))
    assert after[low.pk] == later  # both changed rank
    assert after[high.pk] == later


@pytest.mark.django_db(transaction=True)
def test_a_vote_on_a_clean_feature_during_a_paused_full_run_stays_dirty_and_is_counted_next():
    """A full run claims clean features too; a mark after its claim must still win over its
    write."""
    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent transactions; SQLite serialises every writer")
    from priority.recompute import ADVISORY_LOCK_NAMESPACE

    feature = FeatureFactory()
    workspace_id = feature.workspace_id
    recompute_workspace(workspace_id=workspace_id)
    contact = ContactFactory(workspace=feature.workspace, company=CompanyFactory(workspace=feature.workspace))
    held, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def hold_the_write_lock() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, workspace_id])
            held.set()
            release.wait(30)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, workspace_id])
        connection.close()

    def run() -> None:
        try:
            outcome["result"] = recompute_workspace(workspace_id=workspace_id, full=True)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert held.wait(10)
    runner = threading.Thread(target=run)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while _advisory_waiters() == 0:
            assert time.monotonic() < deadline, "the recompute never reached its write"
            time.sleep(0.01)
        claimed = Feature.objects.get(pk=feature.pk)
        run_number = RoadmapSettings.objects.get(workspace_id=workspace_id).recompute_run
        assert (claimed.score_state, claimed.recompute_run) == (ScoreState.RECOMPUTING, run_number)

        # While the run is still paused: a vote that waited for any lock the run holds
        # would not return before ``release`` (no wall-clock bound, so load cannot fail it).
        returned = _returns_while_paused(
            lambda: feedback_services.vote_cast(contact=contact, feature=feature)
        )
    finally:
        release.set()
        holder.join()
        runner.join()

    assert returned is True
    assert outcome["result"].failed is False
    feature.refresh_from_db()
    assert (feature.score_state, feature.requesting_companies) == (ScoreState.DIRTY, 0)
    recompute_workspace(workspace_id=workspace_id)
    feature.refresh_from_db()
    assert (feature.score_state, feature.requesting_companies) == (ScoreState.CLEAN, 1)
