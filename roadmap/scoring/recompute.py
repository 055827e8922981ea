"""The set-based recompute: a handful of SQL statements per workspace, whatever its size.

1. under the workspace's settings-row lock, claim DIRTY features (→ RECOMPUTING)
   and apply the per-row formulas (RICE, ICE, WSJF, value ÷ effort) in the same UPDATE;
2. customer impact (one aggregate over links and votes, ``feedback.selectors``) and
   the scorecard of every claimed feature, into a temporary table;
3. one UPDATE writes them and the active model's score, and the claimed rows are CLEAN;
4. ranks for the whole workspace with a window function;
5. history: one INSERT … SELECT of the features whose score or rank moved.

Two runs for one workspace never overlap (``skip_locked``: the second reports
busy and its task retries), and a run over unchanged inputs changes nothing.
A feature marked dirty during a run waits on the claimed row's lock, so it is
DIRTY again after the run commits and the next run scores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from feedback.selectors import demand_by_feature_sql, now_utc_text
from roadmap.models import Feature, FeatureStatus, RoadmapSettings, ScoreState, ScoringModel
from roadmap.scoring.formulas import (
    COMPETITIVE_GAP_PER_COMPETITOR,
    DEFAULT_IMPORTANCE_WEIGHTS,
    DEFAULT_SEGMENT_WEIGHTS,
    SNAPSHOT_RELATIVE_THRESHOLD,
)

MODEL_COLUMN = {
    ScoringModel.RICE: "score_rice",
    ScoringModel.ICE: "score_ice",
    ScoringModel.WSJF: "score_wsjf",
    ScoringModel.VALUE_EFFORT: "score_value_effort",
    ScoringModel.CUSTOMER_IMPACT: "score_customer_impact",
    ScoringModel.SCORECARD: "score_scorecard",
}
UNRANKED_STATUSES = (FeatureStatus.SHIPPED, FeatureStatus.DECLINED)


@dataclass(frozen=True)
class RecomputeResult:
    workspace_id: int
    busy: bool = False
    recomputed: int = 0
    snapshots: int = 0


def settings_for(workspace_id: int) -> RoadmapSettings:
    settings_row, _ = RoadmapSettings.objects.get_or_create(
        workspace_id=workspace_id,
        defaults={
            "importance_weights": DEFAULT_IMPORTANCE_WEIGHTS,
            "segment_weights": DEFAULT_SEGMENT_WEIGHTS,
        },
    )
    return settings_row


def _distinct(a: str, b: str) -> str:
    if connection.vendor == "postgresql":
        return f"{a} IS DISTINCT FROM {b}"
    return f"{a} IS NOT {b}"


def _least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def _execute(sql: str, params: list | tuple) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def recompute_workspace(
    *, workspace_id: int, full: bool = False, now: datetime | None = None
) -> RecomputeResult:
    """Recompute the workspace's dirty features (all of them with ``full``)."""
    now = now or timezone.now()
    settings_for(workspace_id)
    with transaction.atomic():
        locked = (
            RoadmapSettings.objects.select_for_update(skip_locked=True)
            .filter(workspace_id=workspace_id)
            .first()
        )
        if locked is None:
            return RecomputeResult(workspace_id=workspace_id, busy=True)
        features = Feature.objects.filter(workspace_id=workspace_id)
        to_claim = features if full else features.filter(score_state=ScoreState.DIRTY)
        # 1. Claim and apply the row formulas in one pass over the rows.
        claimed = to_claim.update(score_state=ScoreState.RECOMPUTING, **_row_formulas())
        snapshots = 0
        if claimed:
            _score_claimed(locked, now, everything=full or claimed == features.count())
            snapshots = _rank_and_snapshot(locked, now)
        locked.last_recomputed_at = now
        locked.save(update_fields=["last_recomputed_at"])
    return RecomputeResult(workspace_id=workspace_id, recomputed=claimed, snapshots=snapshots)


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
        "score_customer_impact": Value(0.0),
        "requesting_companies": Value(0),
    }


def _score_claimed(settings_row: RoadmapSettings, now: datetime, *, everything: bool) -> None:
    """Customer impact, scorecard and the active model's score of the claimed rows, which become clean.

    The aggregates go into a temporary table first: PostgreSQL runs a SELECT (and
    CREATE TABLE AS) with parallel workers, but never a data-modifying UPDATE. Then
    one UPDATE writes them, because each pass over the feature rows costs as much
    as the arithmetic it carries.
    """
    workspace_id = settings_row.workspace_id
    # When every feature is claimed, no filter: the planner then scans and hashes
    # in parallel instead of trusting a stale estimate of the claimed rows.
    claimed_filter = (
        ""
        if everything
        else "feature_id IN (SELECT id FROM roadmap_feature WHERE workspace_id = %s AND score_state = %s)"
    )
    demand_sql, demand_params = demand_by_feature_sql(
        workspace_id=workspace_id,
        now=now,
        importance_weights=settings_row.importance_weights or DEFAULT_IMPORTANCE_WEIGHTS,
        segment_weights=settings_row.segment_weights or DEFAULT_SEGMENT_WEIGHTS,
        vote_weight=float(settings_row.vote_weight),
        half_life_days=float(settings_row.recency_half_life_days),
        feature_filter_sql=claimed_filter,
        feature_filter_params=() if everything else (workspace_id, ScoreState.RECOMPUTING),
    )
    impact = "COALESCE(demand.impact, 0.0)"
    competitors = "(SELECT COUNT(*) FROM roadmap_feature_competitors fc WHERE fc.feature_id = f.id)"
    gap = _least("10.0", f"{COMPETITIVE_GAP_PER_COMPETITOR} * {competitors}")
    # The scorecard: weighted average of the criteria, derived ones computed in place.
    scorecard = f"""(
        SELECT SUM(CAST(c.weight AS FLOAT) * (CASE c.source
                WHEN 'customer_impact' THEN 10.0 * (1.0 - EXP(-{impact} / %s))
                WHEN 'competitive_gap' THEN {gap}
                ELSE COALESCE(CAST(v.value AS FLOAT), 0.0) END))
               / NULLIF(SUM(CAST(c.weight AS FLOAT)), 0.0)
        FROM roadmap_scorecardcriterion c
        LEFT JOIN roadmap_featurecriterionvalue v ON v.criterion_id = c.id AND v.feature_id = f.id
        WHERE c.workspace_id = %s
    )"""
    _execute("DROP TABLE IF EXISTS roadmap_score_scratch", [])
    _execute(
        f"""
        CREATE TEMPORARY TABLE roadmap_score_scratch AS
        SELECT f.id AS feature_id, {impact} AS impact, COALESCE(demand.companies, 0) AS companies,
               {scorecard} AS scorecard
        FROM roadmap_feature f
        LEFT JOIN ({demand_sql}) AS demand ON demand.feature_id = f.id
        WHERE f.workspace_id = %s AND f.score_state = %s
        """,
        [
            float(settings_row.customer_impact_scale),
            workspace_id,
            *demand_params,
            workspace_id,
            ScoreState.RECOMPUTING,
        ],
    )
    model = ScoringModel(settings_row.scoring_model)
    # SET expressions read the row as it was before this UPDATE, in which the
    # claim already wrote the row formulas; the aggregates come from the scratch table.
    priority = {
        ScoringModel.CUSTOMER_IMPACT: "scores.impact",
        ScoringModel.SCORECARD: "scores.scorecard",
    }.get(model, MODEL_COLUMN[model])
    now_value = now if connection.vendor == "postgresql" else now_utc_text(now)
    _execute(
        f"""
        UPDATE roadmap_feature
        SET score_customer_impact = scores.impact, requesting_companies = scores.companies,
            score_scorecard = scores.scorecard, priority_score = {priority},
            score_state = %s, scores_computed_at = %s
        FROM roadmap_score_scratch AS scores
        WHERE roadmap_feature.id = scores.feature_id AND roadmap_feature.score_state = %s
        """,
        [ScoreState.CLEAN, now_value, ScoreState.RECOMPUTING],
    )
    _execute("DROP TABLE roadmap_score_scratch", [])


def _rank_and_snapshot(settings_row: RoadmapSettings, now: datetime) -> int:
    workspace_id = settings_row.workspace_id
    unranked = ", ".join(f"'{s}'" for s in UNRANKED_STATUSES)
    # 4. Ranks over the whole workspace: score, then customer impact, then age
    # (oldest first); shipped and declined features sort last and get no rank.
    done = f"status IN ({unranked})"
    _execute(
        f"""
        UPDATE roadmap_feature SET priority_rank = ranked.position
        FROM (
            SELECT id, CASE WHEN {done} THEN NULL ELSE ROW_NUMBER() OVER (
                ORDER BY CASE WHEN {done} THEN 1 ELSE 0 END,
                         priority_score DESC NULLS LAST, score_customer_impact DESC, id ASC
            ) END AS position
            FROM roadmap_feature
            WHERE workspace_id = %s
        ) AS ranked
        WHERE roadmap_feature.id = ranked.id
          AND {_distinct("roadmap_feature.priority_rank", "ranked.position")}
        """,
        [workspace_id],
    )

    # 5. History: features whose rank changed or whose score moved by more than the threshold.
    moved = f"""
        ({_distinct("priority_rank", "snapshot_rank")}
         OR (priority_score IS NULL) <> (snapshot_score IS NULL)
         OR ABS(priority_score - snapshot_score) > %s * ABS(snapshot_score))
    """
    now_value = now if connection.vendor == "postgresql" else now_utc_text(now)
    snapshots = _execute(
        f"""
        INSERT INTO roadmap_prioritysnapshot
            (workspace_id, feature_id, scoring_model, score, rank, computed_at)
        SELECT workspace_id, id, %s, priority_score, priority_rank, %s
        FROM roadmap_feature
        WHERE workspace_id = %s AND {moved}
        """,
        [settings_row.scoring_model, now_value, workspace_id, SNAPSHOT_RELATIVE_THRESHOLD],
    )
    _execute(
        f"""
        UPDATE roadmap_feature SET snapshot_score = priority_score, snapshot_rank = priority_rank
        WHERE workspace_id = %s AND {moved}
        """,
        [workspace_id, SNAPSHOT_RELATIVE_THRESHOLD],
    )
    return snapshots
