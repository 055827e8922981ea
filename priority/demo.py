"""Demo data of the engine: it seeds nothing of its own; once everything is seeded it dates
the demand (a feedback link from its item's date, votes spread over the last eight weeks),
scores the demo workspace, and writes eight weeks of backdated priority history — a point a
week with its reason (under the demo's weighted scorecard each criterion's contribution, the
customer-impact one from the demand that had arrived by then; under RICE its inputs, with the
reach drifting; the requesting companies and the ARR at stake) — so the dashboard's "moved
since last week" and the first digest show real moves with their reasons.

Everything is dated relative to when the demo workspace was made, and written once: a rerun
changes nothing.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery

from feedback.models import FeedbackItem, FeedbackLink, Vote
from priority import formulas, services
from priority.formulas import DemandSignal
from priority.recompute import arr_rates
from productops.demo import DemoContext
from productops.models import Workspace
from roadmap.models import (
    Feature,
    FeatureCriterionValue,
    FeatureStatus,
    FeatureStatusChange,
    PrioritySnapshot,
    RoadmapSettings,
    ScorecardCriterion,
    ScoringModel,
)
from roadmap.selectors import settings_for

HISTORY_WEEKS = 8
#: Per feature (cycling by id), how its reach drifted: reach k weeks ago = reach × (1 + slope × k),
#: so a negative slope is a feature whose reach grew (it rose), a positive one fell.
REACH_SLOPES = [-0.09, 0.0, 0.05, -0.04, 0.0, 0.07, -0.06, 0.02]


def finish(context: DemoContext) -> None:
    """Date the demand, score the demo roadmap (so the first page view already shows ranks),
    then write its backdated history."""
    workspace = context.workspace
    anchor = workspace.created_at
    _date_demand(workspace, anchor)
    services.priorities_recompute(workspace_id=workspace.pk)
    _write_history(workspace, anchor)


def _date_demand(workspace: Workspace, anchor: datetime) -> None:
    """Links made by the seed are dated from their feedback's ``received_at``; the seed's votes
    are spread over the eight weeks before ``anchor`` (by contact and feature, so a rerun
    dates them the same). Only rows made by the first seeding are touched."""
    fresh = {"created_at__gte": anchor - timedelta(minutes=1), "created_at__lt": anchor + timedelta(hours=1)}
    with transaction.atomic():
        FeedbackLink.objects.filter(
            workspace=workspace, item__source_ref__startswith="demo-", **fresh
        ).update(
            created_at=Subquery(FeedbackItem.objects.filter(pk=OuterRef("item_id")).values("received_at")[:1])
        )
        votes = list(Vote.objects.filter(workspace=workspace, **fresh).only("id", "contact_id", "feature_id"))
        for vote in votes:
            spread = zlib.crc32(f"{vote.contact_id}:{vote.feature_id}".encode())
            vote.created_at = anchor - timedelta(days=1 + spread % (HISTORY_WEEKS * 7), hours=spread % 24)
        Vote.objects.bulk_update(votes, ["created_at"], batch_size=500)


def _past_reach(reach: int | None, slope: float, weeks: int) -> int | None:
    if reach is None:
        return None
    return max(50, round(reach * (1 + slope * weeks) / 50) * 50)


def _rice(reach, feature: Feature) -> float | None:
    inputs = (reach, feature.impact, feature.confidence_pct, feature.effort)
    if any(value is None for value in inputs) or feature.effort <= 0:
        return None
    return float(reach) * float(feature.impact) * (feature.confidence_pct / 100.0) / float(feature.effort)


def _write_history(workspace: Workspace, anchor: datetime) -> None:
    """A history point a week for eight weeks (RICE; the scorecard in its own function), each feature ranked
    among the features alive then (a shipped feature until it shipped), written only where its
    rank or score changed, as the engine keeps history. Skipped when history is there."""
    if PrioritySnapshot.objects.filter(
        workspace=workspace, computed_at__lt=anchor - timedelta(days=1)
    ).exists():
        return
    settings_row = settings_for(workspace.pk)
    if settings_row.scoring_model == ScoringModel.SCORECARD:
        _write_scorecard_history(workspace, anchor, settings_row)
        return
    if settings_row.scoring_model != ScoringModel.RICE:
        return
    features = list(
        Feature.objects.for_workspace(workspace)
        .filter(merged_into__isnull=True)
        .exclude(status=FeatureStatus.DECLINED)
        .only("id", "reach", "impact", "confidence_pct", "effort", "status")
        .order_by("id")
    )
    shipped_at = dict(
        FeatureStatusChange.objects.filter(workspace=workspace, to_status=FeatureStatus.SHIPPED)
        .order_by("created_at")
        .values_list("feature_id", "created_at")
    )
    rates = arr_rates(workspace)
    asks: list[tuple[int, int, float, datetime]] = []  # feature, company, ARR, when
    for row in FeedbackLink.objects.filter(workspace=workspace).values(
        "feature_id",
        "created_at",
        "item__company_id",
        "item__company__arr",
        "item__company__arr_currency",
        "item__contact__company_id",
        "item__contact__company__arr",
        "item__contact__company__arr_currency",
    ):
        prefix = "item__company" if row["item__company_id"] else "item__contact__company"
        if row[f"{prefix}_id"]:
            arr = float(row[f"{prefix}__arr"]) * rates.get(row[f"{prefix}__arr_currency"], 0.0)
            asks.append((row["feature_id"], row[f"{prefix}_id"], arr, row["created_at"]))
    for row in Vote.objects.filter(workspace=workspace, contact__company__isnull=False).values(
        "feature_id",
        "created_at",
        "contact__company_id",
        "contact__company__arr",
        "contact__company__arr_currency",
    ):
        arr = float(row["contact__company__arr"]) * rates.get(row["contact__company__arr_currency"], 0.0)
        asks.append((row["feature_id"], row["contact__company_id"], arr, row["created_at"]))

    points: list[PrioritySnapshot] = []
    kept: dict[int, tuple[int | None, float | None]] = {}
    for weeks in range(HISTORY_WEEKS, 0, -1):
        at = anchor - timedelta(weeks=weeks, hours=1)
        reach = {
            f.pk: _past_reach(f.reach, REACH_SLOPES[index % len(REACH_SLOPES)], weeks)
            for index, f in enumerate(features)
        }
        scores = {f.pk: _rice(reach[f.pk], f) for f in features}
        alive = [f for f in features if f.pk not in shipped_at or shipped_at[f.pk] > at]
        ranked = sorted(alive, key=lambda f: (scores[f.pk] is None, -(scores[f.pk] or 0.0), f.pk))
        ranks = {f.pk: position for position, f in enumerate(ranked, start=1)}
        for feature in features:
            point = (ranks.get(feature.pk), scores[feature.pk])
            if feature.pk not in ranks and feature.pk not in kept:
                continue  # shipped before the history starts
            if kept.get(feature.pk) == point:
                continue
            kept[feature.pk] = point
            companies = {company: arr for f, company, arr, when in asks if f == feature.pk and when <= at}
            points.append(
                PrioritySnapshot(
                    workspace=workspace,
                    feature_id=feature.pk,
                    scoring_model=ScoringModel.RICE,
                    score=point[1],
                    rank=point[0],
                    computed_at=at,
                    contributions={
                        "reach": reach[feature.pk],
                        "impact": None if feature.impact is None else float(feature.impact),
                        "confidence": None
                        if feature.confidence_pct is None
                        else feature.confidence_pct / 100,
                        "effort": None if feature.effort is None else float(feature.effort),
                    },
                    requesting_companies=len(companies),
                    arr_at_stake=sum(companies.values()),
                )
            )
    PrioritySnapshot.objects.bulk_create(points, batch_size=500)


def _demand_signals(workspace: Workspace) -> dict[int, list[tuple[datetime, DemandSignal]]]:
    """Per feature, every link and vote as the engine reads it (``priority.demand``), with when
    it was made: what had been asked by a past date. Two queries."""
    rates = arr_rates(workspace)
    found: dict[int, list[tuple[datetime, DemandSignal]]] = {}

    def arr(amount, currency) -> float:
        return max(0.0, float(amount or 0) * float(rates.get(currency, 0.0)))

    for row in FeedbackLink.objects.filter(workspace=workspace).values(
        "feature_id",
        "created_at",
        "importance",
        "item_id",
        "item__received_at",
        "item__contact_id",
        "item__company_id",
        "item__company__segment",
        "item__company__arr",
        "item__company__arr_currency",
        "item__contact__company_id",
        "item__contact__company__segment",
        "item__contact__company__arr",
        "item__contact__company__arr_currency",
    ):
        prefix = "item__company" if row["item__company_id"] else "item__contact__company"
        company_id = row[f"{prefix}_id"]
        if company_id:
            key = f"c{company_id}"
        elif row["item__contact_id"]:
            key = f"p{row['item__contact_id']}"
        else:
            key = f"i{row['item_id']}"
        signal = DemandSignal(
            company_key=key,
            company_id=company_id,
            segment=(row[f"{prefix}__segment"] or "") if company_id else "",
            arr=arr(row[f"{prefix}__arr"], row[f"{prefix}__arr_currency"]) if company_id else 0.0,
            importance=row["importance"],
            at=row["item__received_at"],
        )
        found.setdefault(row["feature_id"], []).append((row["created_at"], signal))
    for row in Vote.objects.filter(workspace=workspace).values(
        "feature_id",
        "created_at",
        "contact_id",
        "contact__company_id",
        "contact__company__segment",
        "contact__company__arr",
        "contact__company__arr_currency",
    ):
        company_id = row["contact__company_id"]
        signal = DemandSignal(
            company_key=f"c{company_id}" if company_id else f"p{row['contact_id']}",
            company_id=company_id,
            segment=(row["contact__company__segment"] or "") if company_id else "",
            arr=arr(row["contact__company__arr"], row["contact__company__arr_currency"])
            if company_id
            else 0.0,
            importance="vote",
            at=row["created_at"],
        )
        found.setdefault(row["feature_id"], []).append((row["created_at"], signal))
    return found


def _write_scorecard_history(workspace: Workspace, anchor: datetime, settings_row: RoadmapSettings) -> None:
    """A scorecard point a week for eight weeks, as the engine would have kept it: each
    criterion's contribution (value × weight ÷ Σ weight), the customer-impact criterion from the
    demand made by then, decayed to then (``formulas``, the engine's reference); features ranked
    among those alive then (a shipped feature until it shipped), by score then customer impact;
    a point only where the rank or the score changed."""
    features = list(
        Feature.objects.for_workspace(workspace)
        .filter(merged_into__isnull=True)
        .exclude(status=FeatureStatus.DECLINED)
        .only("id", "status")
        .order_by("id")
    )
    criteria = list(ScorecardCriterion.objects.for_workspace(workspace).order_by("position", "id"))
    total_weight = sum(float(c.weight) for c in criteria)
    if not features or total_weight <= 0:
        return
    ids = [f.pk for f in features]
    manual: dict[tuple[int, int], float] = {
        (feature_id, criterion_id): float(value)
        for feature_id, criterion_id, value in FeatureCriterionValue.objects.filter(
            feature_id__in=ids, criterion__in=criteria
        ).values_list("feature_id", "criterion_id", "value")
    }
    competitors: dict[int, int] = {}
    for feature_id in Feature.competitors.through.objects.filter(feature_id__in=ids).values_list(
        "feature_id", flat=True
    ):
        competitors[feature_id] = competitors.get(feature_id, 0) + 1
    shipped_at = dict(
        FeatureStatusChange.objects.filter(workspace=workspace, to_status=FeatureStatus.SHIPPED)
        .order_by("created_at")
        .values_list("feature_id", "created_at")
    )
    signals = _demand_signals(workspace)
    weights = {
        "importance_weights": settings_row.importance_weights or formulas.DEFAULT_IMPORTANCE_WEIGHTS,
        "segment_weights": settings_row.segment_weights or formulas.DEFAULT_SEGMENT_WEIGHTS,
        "vote_weight": float(settings_row.vote_weight),
        "half_life_days": float(settings_row.recency_half_life_days),
    }
    scale = float(settings_row.customer_impact_scale)

    points: list[PrioritySnapshot] = []
    kept: dict[int, tuple[int | None, float | None]] = {}
    for weeks in range(HISTORY_WEEKS, 0, -1):
        at = anchor - timedelta(weeks=weeks, hours=1)
        state = {}
        for feature in features:
            asked = [signal for made, signal in signals.get(feature.pk, []) if made <= at]
            impact, companies, _ = formulas.customer_impact(asked, now=at, **weights)
            _, arr, _ = formulas.demand_summary(asked)
            contributions = {}
            for criterion in criteria:
                if criterion.source == ScorecardCriterion.Source.CUSTOMER_IMPACT:
                    value = formulas.customer_impact_to_ten(impact, scale=scale)
                elif criterion.source == ScorecardCriterion.Source.COMPETITIVE_GAP:
                    value = formulas.competitive_gap_to_ten(competitors.get(feature.pk, 0))
                else:
                    value = manual.get((feature.pk, criterion.pk), 0.0)
                contributions[criterion.key] = float(criterion.weight) * value / total_weight
            state[feature.pk] = (sum(contributions.values()), impact, companies, arr, contributions)
        alive = [f for f in features if f.pk not in shipped_at or shipped_at[f.pk] > at]
        ranked = sorted(alive, key=lambda f: (-state[f.pk][0], -state[f.pk][1], f.pk))
        ranks = {f.pk: position for position, f in enumerate(ranked, start=1)}
        for feature in features:
            score, _, companies, arr, contributions = state[feature.pk]
            point = (ranks.get(feature.pk), score)
            if feature.pk not in ranks and feature.pk not in kept:
                continue  # shipped before the history starts
            previous = kept.get(feature.pk)
            if previous is not None and not formulas.snapshot_needed(
                old_score=previous[1], new_score=score, old_rank=previous[0], new_rank=point[0]
            ):
                continue
            kept[feature.pk] = point
            points.append(
                PrioritySnapshot(
                    workspace=workspace,
                    feature_id=feature.pk,
                    scoring_model=ScoringModel.SCORECARD,
                    score=score,
                    rank=point[0],
                    computed_at=at,
                    contributions=contributions,
                    requesting_companies=companies,
                    arr_at_stake=arr,
                )
            )
    PrioritySnapshot.objects.bulk_create(points, batch_size=500)
