"""The set-based recompute of one workspace, in short transactions.

A run never holds a lock that a vote, a link or any other writer needs for longer
than one short statement, and a change committed after the run claimed its features
always leaves them dirty:

1. **Lease.** The workspace's ``RoadmapSettings`` row records the run: ``recompute_run``
   is incremented (the run's number) and ``recompute_lease_until`` set. While a lease
   holds, another run reports busy. A lease whose holder is gone (its PostgreSQL backend
   no longer exists) or that expired can be taken over.
2. **Claim.** One ``UPDATE`` sets the features to score (``DIRTY`` ones, every one with
   ``full``, and ``RECOMPUTING`` ones a dead run left behind) to ``RECOMPUTING``, stamps
   them with the run's number and writes the row formulas (RICE, ICE, WSJF,
   value ÷ effort). It commits at once.
3. **Aggregate.** One ``SELECT`` computes customer impact (``priority.demand``), with the
   requesting companies, the ARR at stake and the deal-blockers (critical requests) in the
   same aggregate, and the scorecard of every claimed feature. It reads; it locks nothing.
4. **Write.** In chunks of :data:`WRITE_CHUNK` features by id, one ``UPDATE`` per chunk
   writes the aggregates and the active model's score and marks the rows ``CLEAN`` —
   only ``WHERE score_state = RECOMPUTING AND recompute_run = <this run>``. A feature
   marked dirty after the claim reads ``DIRTY`` (``features_mark_dirty`` always writes the
   flag), so the write skips it and it stays dirty for the next run.
5. **Rank.** One ``SELECT`` with a window computes every rank of the workspace; the
   changed ranks and the history points (rank changed, score appeared or vanished, or
   moved by more than 1 %) are written in chunks. Each point keeps its reason in the same
   ``INSERT ... SELECT``: the active model's per-criterion inputs or contributions, the
   requesting companies and the ARR at stake, so a rank move is explained as the
   difference of two points (``priority.selectors.rank_moves_explained``).
6. **Finish.** ``recompute_requested_at`` is cleared if no mark came after the claim
   (``recompute_requested_seq`` unchanged), failures are reset, the lease released.
   The request ids read with the settings (``dirty_request_ids``, the changes this run
   covers) are removed, and the run logs one line naming them:
   ``recompute workspace=<slug> features=<n> request_ids=[...]``, with the same values as
   the structured fields ``workspace``, ``features`` and ``request_ids`` (at most
   ``RECOMPUTE_REQUEST_IDS_LOGGED``; ``request_ids_cut`` says more were recorded).

If any step fails, :func:`run` puts the run's claimed features back to ``DIRTY``,
records the failure (``recompute_failures``, ``recompute_last_error``,
``recompute_next_attempt_at`` with exponential backoff) and returns a failed result:
one workspace's bad data never stops another workspace's run.

:func:`recompute_in_transaction` runs steps 2 to 5 inside the caller's transaction,
for the scoring preview, which rolls everything back.

Statement limits: the claim, the aggregate and ranking reads and each write chunk run in
``productops.db.long_transaction``: ``DB_LONG_STATEMENT_TIMEOUT_MS`` (``SET LOCAL``), no
separate lock timeout (a lock wait is bounded by that statement timeout: the run waits for
requests' short transactions rather than failing) and the long client deadline. The lease,
the finish and the failure record are short and keep the role's limits. In the preview
they all keep the preview's own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Case, F, FloatField, JSONField, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from priority.demand import DemandWeights, demand_by_feature_sql
from priority.formulas import (
    COMPETITIVE_GAP_PER_COMPETITOR,
    DEFAULT_IMPORTANCE_WEIGHTS,
    DEFAULT_SEGMENT_WEIGHTS,
    MAX_EXP_ARGUMENT,
    SNAPSHOT_RELATIVE_THRESHOLD,
)
from productops.db import long_transaction
from productops.models import Workspace
from productops.sql import (
    rate_case_sql,
    sql_datetime,
    sql_distinct,
    sql_greatest,
    sql_least,
    workspace_rates,
)
from roadmap.models import (
    MODEL_COLUMN,
    RECOMPUTE_REQUEST_IDS_LOGGED,
    Feature,
    FeatureStatus,
    RoadmapSettings,
    ScoreState,
    ScoringModel,
)
from roadmap.selectors import settings_for

logger = logging.getLogger(__name__)

UNRANKED_STATUSES = (FeatureStatus.SHIPPED, FeatureStatus.DECLINED)
#: Features written per statement (and per transaction) in the write and rank steps, so
#: a writer waits at most for one chunk's statement on a feature row.
WRITE_CHUNK = 500
#: Namespace of the PostgreSQL advisory lock a run takes around each write: two runs of a
#: workspace never interleave their writes, even if one outlived its lease.
ADVISORY_LOCK_NAMESPACE = 0x5052494F  # "PRIO"


class LeaseLost(Exception):
    """Another run took the workspace over (this run outlived its lease)."""


@dataclass(frozen=True)
class RecomputeResult:
    workspace_id: int
    busy: bool = False
    recomputed: int = 0
    snapshots: int = 0
    failed: bool = False
    skipped: bool = False
    error: str = ""


def lease_seconds() -> int:
    return int(getattr(settings, "PRIORITY_RECOMPUTE_LEASE_SECONDS", 300))


def backoff_seconds(failures: int) -> int:
    """Wait after ``failures`` failures in a row: 1, 2, 4 … minutes, at most an hour."""
    return min(60 * 2 ** max(0, failures - 1), 3600)


def _execute(sql: str, params: Sequence | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def _fetch(sql: str, params: Sequence | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def aggregate_work_mem() -> str:
    """``work_mem`` of the aggregate's transaction (``PRIORITY_RECOMPUTE_WORK_MEM``)."""
    return str(getattr(settings, "PRIORITY_RECOMPUTE_WORK_MEM", "64MB"))


def _fetch_long(
    sql: str, params: Sequence | None = None, *, planner: dict[str, str] | None = None
) -> list[tuple]:
    """A read that may run long (the aggregate, the ranking), in a transaction of its own with
    the long statement timeout (``productops.db.long_transaction``); inside the caller's
    transaction (the preview) it keeps the caller's limits. ``planner`` settings
    (PostgreSQL) hold for this statement only (:func:`_planner_setting`: transaction-local,
    safe through PgBouncer, put back after it)."""
    with long_transaction(), ExitStack() as stack:
        if connection.vendor == "postgresql":
            for name, value in (planner or {}).items():
                stack.enter_context(_planner_setting(name, value))
        return _fetch(sql, params)


def _chunks(rows: Sequence, size: int = WRITE_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


_PYTHON_TYPE = {"bigint": int, "integer": int, "float8": float}


def _values(rows: Sequence[Sequence], columns: Sequence[tuple[str, str]]) -> tuple[str, list]:
    """Rows as a derived table ``v`` with named columns, on both backends.

    ``columns`` are (name, PostgreSQL type). On PostgreSQL the rows travel as one array per
    column (``unnest``): a handful of parameters whatever the chunk's size, which the
    server parses and plans in no time, where a ``VALUES`` list of thousands of
    parameters costs more than the update itself.
    """
    if connection.vendor == "postgresql":
        params = [
            [None if value is None else _PYTHON_TYPE[kind](value) for value in column]
            for column, (_, kind) in zip(zip(*rows, strict=True), columns, strict=True)
        ]
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
        names = ", ".join(name for name, _ in columns)
        return f"unnest({arrays}) AS v({names})", params
    width = len(columns)
    params = [value for row in rows for value in row]
    body = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    names = ", ".join(f"column{i + 1} AS {name}" for i, (name, _) in enumerate(columns))
    return f"(SELECT {names} FROM (VALUES {body})) AS v", params


def _write_lock(workspace_id: int) -> None:
    """Serialise the writes of runs of one workspace (PostgreSQL; SQLite serialises all writers)."""
    if connection.vendor == "postgresql":
        _execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, workspace_id])


# --- the run -------------------------------------------------------------------------


def run(*, workspace_id: int, full: bool = False, now: datetime | None = None) -> RecomputeResult:
    """Recompute the workspace's dirty features (all of them with ``full``) in short transactions.

    Never raises for a failure inside the run: the failure is logged with its traceback,
    recorded on the settings row with a backoff, the claimed features go back to DIRTY,
    and the result says ``failed``.
    """
    now = now or timezone.now()
    settings_for(workspace_id)
    run_number = _take_lease(workspace_id, now)
    if run_number is None:
        return RecomputeResult(workspace_id=workspace_id, busy=True)
    try:
        result = _run_steps(workspace_id, run_number, now=now, full=full)
    except Exception as exc:
        logger.exception("Priority recompute of workspace %s failed", workspace_id)
        _record_failure(workspace_id, run_number, exc, now)
        return RecomputeResult(workspace_id=workspace_id, failed=True, error=describe(exc))
    return result


def describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:2000]


def _take_lease(workspace_id: int, now: datetime) -> int | None:
    """Start a run: its number, or None while another run holds the workspace."""
    free = Q(recompute_lease_until__isnull=True) | Q(recompute_lease_until__lt=now)
    holder = None
    if connection.vendor == "postgresql":
        holder = _fetch("SELECT pg_backend_pid()")[0][0]
        # Whether the holder is still connected is decided inside the UPDATE, on the row it
        # locks: a run that took the lease an instant earlier (its UPDATE committed while
        # this one waited on the row) is alive, so this one does not take it over.
        free |= Q(
            RawSQL(
                "roadmap_roadmapsettings.recompute_holder_pid IS NOT NULL AND NOT EXISTS (SELECT 1 "
                "FROM pg_stat_activity a WHERE a.pid = roadmap_roadmapsettings.recompute_holder_pid)",
                [],
                output_field=BooleanField(),
            )
        )
    with transaction.atomic():
        taken = (
            RoadmapSettings.objects.filter(workspace_id=workspace_id)
            .filter(free)
            .update(
                recompute_run=F("recompute_run") + 1,
                recompute_lease_until=now + timedelta(seconds=lease_seconds()),
                recompute_holder_pid=holder,
            )
        )
        if not taken:
            return None
        return RoadmapSettings.objects.filter(workspace_id=workspace_id).values_list(
            "recompute_run", flat=True
        )[0]


def _renew_lease(workspace_id: int, run_number: int, now: datetime) -> None:
    renewed = RoadmapSettings.objects.filter(workspace_id=workspace_id, recompute_run=run_number).update(
        recompute_lease_until=timezone.now() + timedelta(seconds=lease_seconds())
    )
    if not renewed:
        raise LeaseLost(f"run {run_number} of workspace {workspace_id} was taken over")


def _run_steps(workspace_id: int, run_number: int, *, now: datetime, full: bool) -> RecomputeResult:
    started = time.monotonic()
    # The claim locks every feature to score (waiting for requests' short transactions) and
    # updates them all: the long statement timeout, no separate lock timeout.
    with long_transaction():
        settings_row, seen_seq = _read_settings(workspace_id)
        claimed, everything = _claim(workspace_id, run_number, full=full)
    # The changes whose request was recorded before the claim: their features are claimed.
    request_ids = list(settings_row.dirty_request_ids or [])
    snapshots = 0
    if claimed:
        _renew_lease(workspace_id, run_number, now)
        scores = _aggregate(settings_row, run_number, now, everything=everything)
        _renew_lease(workspace_id, run_number, now)
        _write_scores(settings_row, run_number, scores, now)
        _renew_lease(workspace_id, run_number, now)
        snapshots = _rank_and_snapshot(settings_row, now)
    _finish(workspace_id, run_number, seen_seq, now, request_ids_covered=len(request_ids))
    _log_run(settings_row, run_number, claimed, snapshots, request_ids, full=full, started=started)
    return RecomputeResult(workspace_id=workspace_id, recomputed=claimed, snapshots=snapshots)


def _log_run(
    settings_row: RoadmapSettings,
    run_number: int,
    claimed: int,
    snapshots: int,
    request_ids: Sequence[str],
    *,
    full: bool,
    started: float,
) -> None:
    """The run's one line: what it scored, for which requests (a recompute coalesces many)."""
    slug = settings_row.workspace.slug
    listed = list(request_ids[:RECOMPUTE_REQUEST_IDS_LOGGED])
    logger.info(
        "recompute workspace=%s features=%d request_ids=%s",
        slug,
        claimed,
        json.dumps(listed),
        extra={
            "workspace": slug,
            "workspace_id": settings_row.workspace_id,
            "features": claimed,
            "snapshots": snapshots,
            "request_ids": listed,
            "request_ids_cut": len(request_ids) > RECOMPUTE_REQUEST_IDS_LOGGED,
            "full": full,
            "run": run_number,
            "duration_ms": round((time.monotonic() - started) * 1000),
        },
    )


def _read_settings(workspace_id: int) -> tuple[RoadmapSettings, int]:
    """The settings the run scores with, and the request sequence it covers (read before the
    claim: every mark committed by now has its features claimed)."""
    settings_row = RoadmapSettings.objects.select_related("workspace").get(workspace_id=workspace_id)
    return settings_row, settings_row.recompute_requested_seq


def _finish(
    workspace_id: int, run_number: int, seen_seq: int, now: datetime, *, request_ids_covered: int = 0
) -> None:
    """Release the run's lease and clear what it covered: the request unless a mark came
    after the claim, and the first ``request_ids_covered`` request ids (ids appended since
    stay for the next run; only the lease holder removes any, so they are the first ones)."""
    changes: dict = {}
    if request_ids_covered:
        changes["dirty_request_ids"] = _request_ids_after(request_ids_covered)
    with transaction.atomic():
        RoadmapSettings.objects.filter(workspace_id=workspace_id, recompute_run=run_number).update(
            recompute_requested_at=Case(
                When(recompute_requested_seq=seen_seq, then=Value(None)),
                default=F("recompute_requested_at"),
            ),
            recompute_lease_until=None,
            recompute_holder_pid=None,
            recompute_failures=0,
            recompute_next_attempt_at=None,
            recompute_last_error="",
            last_recomputed_at=now,
            **changes,
        )


def _request_ids_after(count: int) -> RawSQL:
    """``dirty_request_ids`` without its first ``count`` elements."""
    if connection.vendor == "postgresql":
        sql = (
            "COALESCE((SELECT jsonb_agg(e.value ORDER BY e.n) FROM jsonb_array_elements("
            "roadmap_roadmapsettings.dirty_request_ids) WITH ORDINALITY AS e(value, n) WHERE e.n > %s),"
            " '[]'::jsonb)"
        )
    else:
        sql = (
            "(SELECT json_group_array(value) FROM (SELECT value FROM json_each("
            "roadmap_roadmapsettings.dirty_request_ids) WHERE key >= %s ORDER BY key))"
        )
    return RawSQL(sql, [count], output_field=JSONField())  # noqa: S611 (constant SQL, a parameter)


def _record_failure(workspace_id: int, run_number: int, exc: BaseException, now: datetime) -> None:
    """Give the run's claimed features back (DIRTY) and record the failure with a backoff."""
    try:
        with transaction.atomic():
            Feature.objects.filter(
                workspace_id=workspace_id, score_state=ScoreState.RECOMPUTING, recompute_run=run_number
            ).update(score_state=ScoreState.DIRTY)
            row = RoadmapSettings.objects.filter(workspace_id=workspace_id).first()
            if row is None:
                return
            failures = row.recompute_failures + 1
            owned = row.recompute_run == run_number
            RoadmapSettings.objects.filter(pk=row.pk).update(
                recompute_failures=failures,
                recompute_next_attempt_at=now + timedelta(seconds=backoff_seconds(failures)),
                recompute_last_error=describe(exc),
                recompute_lease_until=None if owned else F("recompute_lease_until"),
                recompute_holder_pid=None if owned else F("recompute_holder_pid"),
            )
    except Exception:
        # The database itself may be what failed; the lease then expires on its own.
        logger.exception("Could not record the failed recompute of workspace %s", workspace_id)


# --- in the caller's transaction (the scoring preview) ------------------------------------


def recompute_in_transaction(*, workspace_id: int, now: datetime | None = None) -> RecomputeResult:
    """Score every feature of the workspace inside the caller's transaction (no lease, no
    bookkeeping): the scoring preview runs this and rolls it back."""
    now = now or timezone.now()
    settings_for(workspace_id)
    settings_row, _ = _read_settings(workspace_id)
    run_number = settings_row.recompute_run + 1
    claimed, everything = _claim(workspace_id, run_number, full=True)
    snapshots = 0
    if claimed:
        scores = _aggregate(settings_row, run_number, now, everything=everything)
        _write_scores(settings_row, run_number, scores, now)
        snapshots = _rank_and_snapshot(settings_row, now)
    return RecomputeResult(workspace_id=workspace_id, recomputed=claimed, snapshots=snapshots)


# --- the steps ------------------------------------------------------------------------------


def _float(name: str) -> Cast:
    return Cast(F(name), FloatField())


def _row_formulas() -> dict:
    """RICE, ICE, WSJF, value ÷ effort per row. SQL arithmetic on NULL is NULL,
    so incomplete inputs give no score; effort and job size are > 0 by constraint."""
    return {
        "score_rice": _float("reach")
        * _float("impact")
        * (_float("confidence_pct") / Value(100.0))
        / _float("effort"),
        "score_ice": _float("ice_impact") * _float("ice_confidence") * _float("ice_ease"),
        "score_wsjf": (_float("business_value") + _float("time_criticality") + _float("risk_reduction"))
        / Coalesce(_float("job_size"), _float("effort")),
        "score_value_effort": _float("value") / _float("effort"),
    }


def _claim(workspace_id: int, run_number: int, *, full: bool) -> tuple[int, bool]:
    """Claim the features to score; (how many, whether that is every feature of the workspace)."""
    features = Feature.objects.filter(workspace_id=workspace_id)
    to_claim = (
        features if full else features.filter(score_state__in=[ScoreState.DIRTY, ScoreState.RECOMPUTING])
    )
    if connection.vendor == "postgresql":
        # Lock in id order, as markers of several features do, so the two never deadlock.
        list(to_claim.order_by("id").select_for_update().values_list("id", flat=True))
    claimed = to_claim.update(score_state=ScoreState.RECOMPUTING, recompute_run=run_number, **_row_formulas())
    everything = bool(claimed) and (full or claimed == features.count())
    return claimed, everything


def _weights(settings_row: RoadmapSettings) -> DemandWeights:
    return DemandWeights(
        importance_weights=settings_row.importance_weights or DEFAULT_IMPORTANCE_WEIGHTS,
        segment_weights=settings_row.segment_weights or DEFAULT_SEGMENT_WEIGHTS,
        vote_weight=float(settings_row.vote_weight),
        half_life_days=float(settings_row.recency_half_life_days),
        arr_rates=arr_rates(settings_row.workspace),
    )


def arr_rates(workspace: Workspace) -> dict[str, float]:
    """Currency → value of one unit in the workspace's reporting currency (which is 1)."""
    return workspace_rates(workspace)


def _aggregate(
    settings_row: RoadmapSettings, run_number: int, now: datetime, *, everything: bool
) -> list[tuple[int, float, int, float | None, float, int]]:
    """(feature id, customer impact, requesting companies, scorecard, ARR at stake, critical
    requests) of each claimed feature."""
    workspace_id = settings_row.workspace_id
    claimed_sql = (
        "roadmap_feature.workspace_id = %s AND roadmap_feature.score_state = %s "
        "AND roadmap_feature.recompute_run = %s"
    )
    claimed_params = [workspace_id, ScoreState.RECOMPUTING, run_number]
    # When every feature is claimed, no filter: the planner then scans and hashes
    # in parallel instead of trusting a stale estimate of the claimed rows.
    demand_sql, demand_params = demand_by_feature_sql(
        workspace_id=workspace_id,
        now=now,
        weights=_weights(settings_row),
        feature_filter_sql=""
        if everything
        else f"feature_id IN (SELECT id FROM roadmap_feature WHERE {claimed_sql})",
        feature_filter_params=() if everything else tuple(claimed_params),
    )
    impact = "COALESCE(demand.impact, 0.0)"
    competitors = "(SELECT COUNT(*) FROM roadmap_feature_competitors fc WHERE fc.feature_id = f.id)"
    gap = sql_least("10.0", f"{COMPETITIVE_GAP_PER_COMPETITOR} * {competitors}")
    # The scorecard: weighted average of the criteria, derived ones computed in place. The
    # exponent is capped (as in formulas.customer_impact_to_ten) so EXP never underflows.
    exponent = sql_least(f"{impact} / %s", f"{MAX_EXP_ARGUMENT}")
    scorecard = f"""(
        SELECT SUM(CAST(c.weight AS FLOAT) * (CASE c.source
                WHEN 'customer_impact' THEN 10.0 * (1.0 - EXP(-{exponent}))
                WHEN 'competitive_gap' THEN {gap}
                ELSE COALESCE(CAST(v.value AS FLOAT), 0.0) END))
               / NULLIF(SUM(CAST(c.weight AS FLOAT)), 0.0)
        FROM roadmap_scorecardcriterion c
        LEFT JOIN roadmap_featurecriterionvalue v ON v.criterion_id = c.id AND v.feature_id = f.id
        WHERE c.workspace_id = %s
    )"""
    # The demand groups link rows by feature and company (200,000 groups at 1,000,000
    # links): at the default work_mem of 4 MB its hash aggregates spill to disk in batches.
    # No nested loop: the claim has just turned every row RECOMPUTING while the statistics
    # (autovacuum off) may say none is, and with one claimed row expected the planner
    # joined the features to the demand in a nested loop, comparing every feature with
    # every feature's demand: 124-155 s at 50,000 features instead of ~5 s.
    return _fetch_long(
        f"""
        SELECT f.id, {impact}, COALESCE(demand.companies, 0), {scorecard},
               COALESCE(demand.arr, 0.0), COALESCE(demand.critical, 0)
        FROM roadmap_feature f
        LEFT JOIN ({demand_sql}) AS demand ON demand.feature_id = f.id
        WHERE {claimed_sql.replace("roadmap_feature.", "f.")}
        ORDER BY f.id
        """,
        [
            float(settings_row.customer_impact_scale),
            workspace_id,
            *demand_params,
            *claimed_params,
        ],
        planner={"work_mem": aggregate_work_mem(), "enable_nestloop": "off"},
    )


def _write_scores(
    settings_row: RoadmapSettings, run_number: int, scores: Sequence[tuple], now: datetime
) -> None:
    """Write the aggregates and the active model's score, and mark the rows CLEAN: only rows
    still claimed by this run (a feature marked dirty meanwhile is skipped and stays dirty)."""
    model = ScoringModel(settings_row.scoring_model)
    # SET expressions read the row as it is, in which the claim already wrote the row
    # formulas; the aggregates come from the VALUES list.
    priority = {
        ScoringModel.CUSTOMER_IMPACT: "v.impact",
        ScoringModel.SCORECARD: "v.scorecard",
    }.get(model, f"roadmap_feature.{MODEL_COLUMN[model]}")
    columns = [
        ("id", "bigint"),
        ("impact", "float8"),
        ("companies", "integer"),
        ("scorecard", "float8"),
        ("arr", "float8"),
        ("critical", "integer"),
    ]
    for chunk in _chunks(scores):
        source, params = _values(chunk, columns)
        with long_transaction():
            _write_lock(settings_row.workspace_id)
            # One plan whatever the statistics: the chunk's rows are fetched by primary key
            # (``id = ANY``), hashed and joined to the values, and their state is checked on
            # each row (``score_state + 0``: no index answers it). The claim has just turned
            # every row RECOMPUTING while the statistics (autovacuum off) may say none is:
            # the planner then expected one row, and nested a scan of the values inside a
            # scan of every claimed row (the dirty-state index, or the table), for each
            # chunk: quadratic in the features, 6.7 s a chunk at 50,000 features, 0.2 s at
            # 1,000. Hash join, ids probed: 25-30 ms a chunk at either size.
            sql, sql_params = _write_sql(
                priority, source, params, [int(row[0]) for row in chunk], now, run_number
            )
            if connection.vendor == "postgresql":
                with _planner_setting("enable_nestloop", "off"):
                    _execute(sql, sql_params)
            else:
                _execute(sql, sql_params)


@contextmanager
def _planner_setting(name: str, value: str) -> Iterator[None]:
    """``name`` set to ``value`` for the statements inside (PostgreSQL, ``set_config`` local to
    the transaction), then put back: in the scoring preview the transaction goes on.
    Only for blocks of SQL statements (an exception means the transaction is lost)."""
    previous = _fetch("SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value])[0][0]
    yield
    # Not on an error: the transaction is then aborted (its rollback undoes the setting),
    # and a statement here would replace the error with "transaction is aborted".
    _fetch("SELECT set_config(%s, %s, true)", [name, previous])


def _write_sql(
    priority: str, source: str, params: list, ids: list[int], now: datetime, run_number: int
) -> tuple[str, list]:
    """The UPDATE of one chunk of scores (see :func:`_write_scores`)."""
    ids_filter, ids_params = "", []
    if connection.vendor == "postgresql":
        ids_filter, ids_params = "AND roadmap_feature.id = ANY(%s::bigint[])", [ids]
    return (
        f"""
        UPDATE roadmap_feature
        SET score_customer_impact = v.impact, requesting_companies = v.companies,
            arr_at_stake = v.arr, critical_requests = v.critical,
            score_scorecard = v.scorecard, priority_score = {priority},
            score_state = %s, scores_computed_at = %s
        FROM {source}
        WHERE roadmap_feature.id = v.id {ids_filter} AND roadmap_feature.score_state + 0 = %s
          AND roadmap_feature.recompute_run = %s
        """,
        [ScoreState.CLEAN, sql_datetime(now), *params, *ids_params, ScoreState.RECOMPUTING, run_number],
    )


def _rank_and_snapshot(settings_row: RoadmapSettings, now: datetime) -> int:
    """Ranks over the whole workspace and the history points; returns the snapshots written.

    Ranks: by score (unscored last), then customer impact, then age (oldest first); shipped
    and declined features sort last and get no rank. A history point is kept when the rank
    changed, the score appeared or disappeared, or it moved by more than
    ``SNAPSHOT_RELATIVE_THRESHOLD`` of the last kept score; that also bumps ``updated_at``.
    A point stores its reason (:func:`_contributions_sql`, :func:`_arr_at_stake_join`),
    computed set-based in the insert itself.
    """
    workspace_id = settings_row.workspace_id
    unranked = ", ".join(f"'{s}'" for s in UNRANKED_STATUSES)
    done = f"status IN ({unranked})"
    moved = f"""
        ({sql_distinct("ranked.position", "ranked.snapshot_rank")}
         OR (ranked.priority_score IS NULL) <> (ranked.snapshot_score IS NULL)
         OR ABS(ranked.priority_score - ranked.snapshot_score) > %s * ABS(ranked.snapshot_score))
    """
    rows = _fetch_long(
        f"""
        SELECT ranked.id, ranked.position, ranked.priority_score,
               CASE WHEN {moved} THEN 1 ELSE 0 END AS moved
        FROM (
            SELECT id, priority_rank, priority_score, snapshot_score, snapshot_rank,
                   CASE WHEN {done} THEN NULL ELSE ROW_NUMBER() OVER (
                       ORDER BY CASE WHEN {done} THEN 1 ELSE 0 END,
                                priority_score DESC NULLS LAST, score_customer_impact DESC, id ASC
                   ) END AS position
            FROM roadmap_feature
            WHERE workspace_id = %s
        ) AS ranked
        WHERE {sql_distinct("ranked.priority_rank", "ranked.position")} OR {moved}
        ORDER BY ranked.id
        """,
        [SNAPSHOT_RELATIVE_THRESHOLD, workspace_id, SNAPSHOT_RELATIVE_THRESHOLD],
    )
    now_value = sql_datetime(now)
    columns = [("id", "bigint"), ("position", "integer"), ("score", "float8"), ("moved", "integer")]
    contributions_sql, contributions_params = _contributions_sql(settings_row)
    snapshots = 0
    for chunk in _chunks(rows):
        with long_transaction():
            _write_lock(workspace_id)
            moved_rows = [row for row in chunk if row[3]]
            if moved_rows:
                source, params = _values(moved_rows, columns)
                stake_sql, stake_params = _arr_at_stake_join(settings_row, [row[0] for row in moved_rows])
                # First, before the chunk's rows are locked: the insert reads the features
                # (its foreign-key checks take KEY SHARE, which a vote's update does not wait
                # for) and aggregates their links, the slow part of the chunk. Joined to the
                # feature, so a feature deleted meanwhile is simply left out. The reason
                # travels with the point: the active model's per-criterion inputs or
                # contributions, the requesting companies and their ARR.
                snapshots += _execute(
                    f"""
                    INSERT INTO roadmap_prioritysnapshot
                        (workspace_id, feature_id, scoring_model, score, rank, computed_at,
                         contributions, requesting_companies, arr_at_stake)
                    SELECT f.workspace_id, f.id, %s, v.score, v.position, %s,
                           {contributions_sql}, f.requesting_companies, COALESCE(stake.arr, 0.0)
                    FROM {source} JOIN roadmap_feature f ON f.id = v.id
                    {stake_sql}
                    """,
                    [
                        settings_row.scoring_model,
                        now_value,
                        *contributions_params,
                        *params,
                        *stake_params,
                    ],
                )
            # Last in the transaction: the rows it locks (a vote marking one of them dirty
            # waits) are held only for this statement and the commit, and the point and
            # the snapshot columns it is compared with next time still commit together.
            source, params = _values(chunk, columns)
            _execute(
                f"""
                UPDATE roadmap_feature
                SET priority_rank = v.position,
                    snapshot_rank = CASE WHEN v.moved = 1 THEN v.position ELSE snapshot_rank END,
                    snapshot_score = CASE WHEN v.moved = 1 THEN v.score ELSE snapshot_score END,
                    updated_at = CASE WHEN v.moved = 1 THEN %s ELSE updated_at END
                FROM {source}
                WHERE roadmap_feature.id = v.id
                """,
                [now_value, *params],
            )
    return snapshots


# --- why: what a history point keeps --------------------------------------------------------

#: Per model, the inputs a snapshot keeps (key as in ``selectors.feature_score_breakdown``'s
#: terms → SQL over the feature row ``f``). Customer impact and the scorecard are built below.
_MODEL_INPUTS: dict[str, list[tuple[str, str]]] = {
    ScoringModel.RICE: [
        ("reach", "CAST(f.reach AS FLOAT)"),
        ("impact", "CAST(f.impact AS FLOAT)"),
        ("confidence", "CAST(f.confidence_pct AS FLOAT) / 100.0"),
        ("effort", "CAST(f.effort AS FLOAT)"),
    ],
    ScoringModel.ICE: [
        ("ice_impact", "CAST(f.ice_impact AS FLOAT)"),
        ("ice_confidence", "CAST(f.ice_confidence AS FLOAT)"),
        ("ice_ease", "CAST(f.ice_ease AS FLOAT)"),
    ],
    ScoringModel.WSJF: [
        ("business_value", "CAST(f.business_value AS FLOAT)"),
        ("time_criticality", "CAST(f.time_criticality AS FLOAT)"),
        ("risk_reduction", "CAST(f.risk_reduction AS FLOAT)"),
        ("job_size", "CAST(COALESCE(f.job_size, f.effort) AS FLOAT)"),
    ],
    ScoringModel.VALUE_EFFORT: [
        ("value", "CAST(f.value AS FLOAT)"),
        ("effort", "CAST(f.effort AS FLOAT)"),
    ],
    ScoringModel.CUSTOMER_IMPACT: [
        ("customer_impact", "f.score_customer_impact"),
        ("companies", "f.requesting_companies"),
    ],
}


def _json_object(pairs: Sequence[tuple[str, str]]) -> str:
    """A JSON object of constant keys and SQL values (``jsonb_build_object`` / ``json_object``)."""
    function = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    return f"{function}(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"


def _contributions_sql(settings_row: RoadmapSettings) -> tuple[str, list]:
    """SQL (over the feature row ``f``) of the snapshot's ``contributions`` for the active
    model: the formula's inputs for RICE, ICE, WSJF and value ÷ effort; customer impact and
    requesting companies; for the scorecard each criterion's key → value × weight ÷ Σ weight
    (what it adds to the score), the derived criteria computed as the aggregate step does."""
    model = settings_row.scoring_model
    if model != ScoringModel.SCORECARD:
        return _json_object(_MODEL_INPUTS[ScoringModel(model)]), []
    postgres = connection.vendor == "postgresql"
    competitors = "(SELECT COUNT(*) FROM roadmap_feature_competitors fc WHERE fc.feature_id = f.id)"
    gap = sql_least("10.0", f"{COMPETITIVE_GAP_PER_COMPETITOR} * {competitors}")
    exponent = sql_least("f.score_customer_impact / %s", f"{MAX_EXP_ARGUMENT}")
    value = f"""(CASE c.source
            WHEN 'customer_impact' THEN 10.0 * (1.0 - EXP(-{exponent}))
            WHEN 'competitive_gap' THEN {gap}
            ELSE COALESCE(CAST(cv.value AS FLOAT), 0.0) END)"""
    aggregate = "jsonb_object_agg" if postgres else "json_group_object"
    empty = "'{}'::jsonb" if postgres else "json_object()"
    sql = f"""COALESCE((
        SELECT {aggregate}(c.key, CAST(c.weight AS FLOAT) * {value} / NULLIF((
            SELECT SUM(CAST(w.weight AS FLOAT)) FROM roadmap_scorecardcriterion w
            WHERE w.workspace_id = f.workspace_id), 0.0))
        FROM roadmap_scorecardcriterion c
        LEFT JOIN roadmap_featurecriterionvalue cv ON cv.criterion_id = c.id AND cv.feature_id = f.id
        WHERE c.workspace_id = f.workspace_id
    ), {empty})"""
    return sql, [float(settings_row.customer_impact_scale)]


def _id_list(ids: Sequence[int]) -> tuple[str, list]:
    """``ids`` as a one-column derived table ``ids(id)``: one array parameter on PostgreSQL."""
    if connection.vendor == "postgresql":
        return "unnest(%s::bigint[]) AS ids(id)", [[int(i) for i in ids]]
    body = ", ".join(["(%s)"] * len(ids))
    return f"(SELECT column1 AS id FROM (VALUES {body})) AS ids", [int(i) for i in ids]


def _arr_at_stake_join(settings_row: RoadmapSettings, feature_ids: Sequence[int]) -> tuple[str, list]:
    """A ``LEFT JOIN`` (alias ``stake``, column ``arr``) of the ARR, in the reporting currency, of
    the distinct companies that asked for each of ``feature_ids``: a link's company is the
    item's, else its contact's; a vote's is the voter's (as ``priority.demand`` counts
    requesting companies). One aggregate over the features' links and votes, not a subquery
    per feature."""
    workspace_id = settings_row.workspace_id
    rate_sql, rate_params = rate_case_sql("co.arr_currency", arr_rates(settings_row.workspace))
    arr = sql_greatest(f"CAST(co.arr AS FLOAT) * {rate_sql}", "0.0")
    ids_sql, ids_params = _id_list(feature_ids)
    sql = f"""LEFT JOIN (
        SELECT pairs.feature_id, SUM({arr}) AS arr
        FROM (
            SELECT l.feature_id AS feature_id, COALESCE(fi.company_id, ct.company_id) AS company_id
            FROM feedback_feedbacklink l
            JOIN feedback_feedbackitem fi ON fi.id = l.item_id
            LEFT JOIN feedback_contact ct ON ct.id = fi.contact_id
            WHERE l.workspace_id = %s AND l.feature_id IN (SELECT id FROM {ids_sql})
            UNION
            SELECT vo.feature_id, vc.company_id
            FROM feedback_vote vo JOIN feedback_contact vc ON vc.id = vo.contact_id
            WHERE vo.workspace_id = %s AND vo.feature_id IN (SELECT id FROM {ids_sql})
        ) pairs
        JOIN feedback_company co ON co.id = pairs.company_id
        GROUP BY pairs.feature_id
    ) stake ON stake.feature_id = f.id"""
    return sql, [*rate_params, workspace_id, *ids_params, workspace_id, *ids_params]
