"""Reads of the priority engine: why a feature scores what it scores, and its history.

The explanation is computed now with the Python formulas (``priority.formulas``), the
reference the SQL recompute is checked against, so it also shows what a stale stored
score (a dirty feature, or decay since the last run) would become.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from priority import formulas
from priority.demand import company_labels, demand_signals_for_feature
from priority.recompute import arr_rates
from productops.models import Workspace
from roadmap.models import (
    MODEL_COLUMN,
    Feature,
    FeatureCriterionValue,
    PrioritySnapshot,
    RoadmapSettings,
    ScorecardCriterion,
    ScoringModel,
)
from roadmap.selectors import settings_for

#: Companies listed one by one in a customer-impact explanation; the rest are summed.
EXPLAINED_COMPANIES = 100


def feature_priority_history(*, feature: Feature) -> QuerySet[PrioritySnapshot]:
    return PrioritySnapshot.objects.filter(feature=feature).order_by("-computed_at", "-id")


def priority_movers(*, workspace: Workspace, since: datetime) -> list[dict]:
    """Features whose rank changed since ``since``: old rank (before), new rank (now), and
    ``delta`` (places gained; negative when it fell; None when it entered or left the ranking)."""
    before = {}
    for snapshot in (
        PrioritySnapshot.objects.for_workspace(workspace)
        .filter(computed_at__lt=since)
        .order_by("feature_id", "-computed_at", "-id")
        .values("feature_id", "rank")
    ):
        before.setdefault(snapshot["feature_id"], snapshot["rank"])
    changed_ids = set(
        PrioritySnapshot.objects.for_workspace(workspace)
        .filter(computed_at__gte=since)
        .values_list("feature_id", flat=True)
    )
    movers = []
    for feature in Feature.objects.filter(pk__in=changed_ids).only(
        "id", "title", "priority_rank", "priority_score"
    ):
        old = before.get(feature.pk)
        if old != feature.priority_rank:
            movers.append(
                {
                    "feature": feature,
                    "old_rank": old,
                    "new_rank": feature.priority_rank,
                    "delta": old - feature.priority_rank
                    if old is not None and feature.priority_rank is not None
                    else None,
                    "score": feature.priority_score,
                }
            )
    movers.sort(key=lambda m: (m["new_rank"] is None, m["new_rank"] or 0))
    return movers


# --- explanations ---------------------------------------------------------------


def _term(key: str, label: str, value: object, role: str, contribution: float | None = None) -> dict:
    return {
        "key": key,
        "label": label,
        "value": None if value is None else float(value),
        "role": role,
        "contribution": contribution,
    }


def feature_score_breakdown(*, feature: Feature, now: datetime | None = None) -> dict:
    """Why a feature scores what it scores, per model, and what each criterion adds.

    Additive models (customer impact, scorecard, WSJF's cost of delay) report each
    term's contribution to the total; multiplicative ones (RICE, ICE, value ÷ effort)
    report each factor and whether it multiplies or divides.
    """
    now = now or timezone.now()
    settings_row = settings_for(feature.workspace_id)
    effort = feature.effort
    wsjf_size = feature.job_size if feature.job_size is not None else effort
    cost_of_delay_terms = [
        ("business_value", "Business value", feature.business_value),
        ("time_criticality", "Time criticality", feature.time_criticality),
        ("risk_reduction", "Risk reduction / opportunity", feature.risk_reduction),
    ]
    wsjf_score = formulas.wsjf(
        business_value=feature.business_value,
        time_criticality=feature.time_criticality,
        risk_reduction=feature.risk_reduction,
        job_size=wsjf_size,
    )
    models = {
        ScoringModel.RICE: {
            "score": formulas.rice(
                reach=feature.reach,
                impact=feature.impact,
                confidence_pct=feature.confidence_pct,
                effort=effort,
            ),
            "formula": "reach × impact × confidence ÷ effort",
            "terms": [
                _term("reach", "Reach", feature.reach, "multiplier"),
                _term("impact", "Impact", feature.impact, "multiplier"),
                _term(
                    "confidence",
                    "Confidence",
                    None if feature.confidence_pct is None else feature.confidence_pct / 100,
                    "multiplier",
                ),
                _term("effort", "Effort", effort, "divisor"),
            ],
        },
        ScoringModel.ICE: {
            "score": formulas.ice(
                impact=feature.ice_impact, confidence=feature.ice_confidence, ease=feature.ice_ease
            ),
            "formula": "impact × confidence × ease",
            "terms": [
                _term("ice_impact", "Impact", feature.ice_impact, "multiplier"),
                _term("ice_confidence", "Confidence", feature.ice_confidence, "multiplier"),
                _term("ice_ease", "Ease", feature.ice_ease, "multiplier"),
            ],
        },
        ScoringModel.WSJF: {
            "score": wsjf_score,
            "formula": "(business value + time criticality + risk reduction) ÷ job size",
            "terms": [
                *[
                    _term(
                        key,
                        label,
                        value,
                        "addend",
                        None if wsjf_score is None or value is None else float(value) / float(wsjf_size),
                    )
                    for key, label, value in cost_of_delay_terms
                ],
                _term("job_size", "Job size", wsjf_size, "divisor"),
            ],
        },
        ScoringModel.VALUE_EFFORT: {
            "score": formulas.value_effort(value=feature.value, effort=effort),
            "formula": "value ÷ effort",
            "terms": [
                _term("value", "Value", feature.value, "multiplier"),
                _term("effort", "Effort", effort, "divisor"),
            ],
        },
    }
    models[ScoringModel.CUSTOMER_IMPACT] = _customer_impact_breakdown(feature, settings_row, now)
    models[ScoringModel.SCORECARD] = _scorecard_breakdown(
        feature, settings_row, models[ScoringModel.CUSTOMER_IMPACT]
    )
    active = ScoringModel(settings_row.scoring_model)
    return {
        "feature_id": feature.pk,
        "scoring_model": active.value,
        "score": getattr(feature, MODEL_COLUMN[active]),
        "rank": feature.priority_rank,
        "computed_at": feature.scores_computed_at,
        "models": {model.value: data for model, data in models.items()},
    }


def _customer_impact_breakdown(feature: Feature, settings_row: RoadmapSettings, now: datetime) -> dict:
    """Each requesting company's contribution, strongest first: the first
    :data:`EXPLAINED_COMPANIES` one by one, the rest summed in one ``others`` term."""
    workspace = feature.workspace
    signals = demand_signals_for_feature(feature_id=feature.pk, arr_rates=arr_rates(workspace))
    score, companies, contributions = formulas.customer_impact(
        signals,
        now=now,
        importance_weights=settings_row.importance_weights or formulas.DEFAULT_IMPORTANCE_WEIGHTS,
        segment_weights=settings_row.segment_weights or formulas.DEFAULT_SEGMENT_WEIGHTS,
        vote_weight=float(settings_row.vote_weight),
        half_life_days=float(settings_row.recency_half_life_days),
    )
    ranked = sorted(contributions.items(), key=lambda kv: (-kv[1], kv[0]))
    shown, rest = ranked[:EXPLAINED_COMPANIES], ranked[EXPLAINED_COMPANIES:]
    labels = company_labels(company_keys=[key for key, _ in shown])
    terms = [
        {**_term(key, labels[key]["name"], None, "addend", value), "company": labels[key]}
        for key, value in shown
    ]
    if rest:
        terms.append(
            {
                **_term("others", f"{len(rest)} more", None, "addend", sum(value for _, value in rest)),
                "company": None,
            }
        )
    return {
        "score": score,
        "formula": "Σ companies: segment weight × (1 + log10(1 + ARR/1000)) × strongest request "
        f"(importance × ½^(age days ÷ {settings_row.recency_half_life_days})); ARR in "
        f"{workspace.reporting_currency}",
        "requesting_companies": companies,
        "terms": terms,
    }


def _scorecard_breakdown(feature: Feature, settings_row: RoadmapSettings, customer_impact: dict) -> dict:
    criteria = list(ScorecardCriterion.objects.for_workspace(feature.workspace_id).order_by("position", "id"))
    manual = {
        v.criterion_id: v.value
        for v in FeatureCriterionValue.objects.filter(feature=feature, criterion__in=criteria)
    }
    competitors = feature.competitors.count()
    pairs = []
    terms = []
    total_weight = sum(float(c.weight) for c in criteria)
    for criterion in criteria:
        if criterion.source == ScorecardCriterion.Source.CUSTOMER_IMPACT:
            value = formulas.customer_impact_to_ten(
                customer_impact["score"], scale=float(settings_row.customer_impact_scale)
            )
        elif criterion.source == ScorecardCriterion.Source.COMPETITIVE_GAP:
            value = formulas.competitive_gap_to_ten(competitors)
        else:
            value = float(manual.get(criterion.pk, Decimal(0)))
        pairs.append((value, float(criterion.weight)))
        terms.append(
            {
                **_term(
                    criterion.key,
                    criterion.name,
                    value,
                    "addend",
                    value * float(criterion.weight) / total_weight if total_weight else None,
                ),
                "weight": float(criterion.weight),
                "source": criterion.source,
                "is_set": criterion.source != "manual" or criterion.pk in manual,
            }
        )
    return {"score": formulas.scorecard(pairs), "formula": "Σ weight × value ÷ Σ weight", "terms": terms}
