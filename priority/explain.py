"""“Why is this #N?” in one plain sentence, from the score's explanation and the stored demand.

``rank_sentence`` is pure: it reads the feature's own columns (its scoring inputs, its rank and
score, and the demand the recompute stores beside them: ``requesting_companies``,
``arr_at_stake``, ``critical_requests``), the workspace's scoring model and effort unit, and,
for the weighted scorecard, the criteria terms of the score breakdown
(``priority.selectors.feature_score_breakdown`` or ``scorecard_terms_by_feature``). No query,
so a list can say it for every row:

    #3 by RICE: reach 2,000 × impact 2 × 80 % ÷ 4 points; 6 companies, $1.7M ARR, 2 deal-blockers

A rank move (an entry of ``priority.selectors.rank_moves_explained``) can be appended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from priority.selectors import format_money
from roadmap.models import FeatureStatus, ScoringModel

#: How a model is named inside the sentence ("#3 by RICE", "#3 by weighted scorecard").
MODEL_WORDS = {
    ScoringModel.RICE: "RICE",
    ScoringModel.ICE: "ICE",
    ScoringModel.WSJF: "WSJF",
    ScoringModel.VALUE_EFFORT: "value ÷ effort",
    ScoringModel.CUSTOMER_IMPACT: "customer impact",
    ScoringModel.SCORECARD: "weighted scorecard",
}
EFFORT_WORDS = {"points": ("point", "points"), "person_weeks": ("person-week", "person-weeks")}
#: Scorecard criteria named in the sentence (the largest contributions); the rest are "…".
SCORECARD_TERMS_SHOWN = 3


@dataclass(frozen=True)
class SentenceSettings:
    """What the sentence needs of the workspace's settings (a ``RoadmapSettings`` row works too)."""

    scoring_model: str
    effort_unit: str = ""  # "" when unknown: the effort is then said as "effort 4"


def number(value: object) -> str:
    """2,000 · 2 · 0.5 · 12.4 · 1,234.5: whole numbers without decimals, others with at most two."""
    if value is None:
        return "—"
    amount = float(value)
    if abs(amount - round(amount)) < 1e-9:
        return f"{round(amount):,}"
    if abs(amount) < 10:
        return f"{amount:,.2f}".rstrip("0").rstrip(".")
    return f"{amount:,.1f}".rstrip("0").rstrip(".")


def _effort(value: object, unit: str) -> str:
    if not unit:
        return f"effort {number(value)}"
    one, many = EFFORT_WORDS.get(unit, (unit, unit))
    return f"{number(value)} {one if value is not None and float(value) == 1 else many}"


def _missing(pairs: Sequence[tuple[str, object]]) -> str:
    names = [name for name, value in pairs if value is None]
    return f"not scored ({', '.join(names)} unset)"


def formula_text(feature: Any, settings: Any, *, scorecard_terms: Sequence[Mapping] | None = None) -> str:
    """The active model's formula with the feature's inputs filled in ("reach 2,000 × impact 2 ×
    80 % ÷ 4 points"), or what it lacks ("not scored (effort unset)")."""
    model = ScoringModel(settings.scoring_model)
    unit = getattr(settings, "effort_unit", "") or ""
    if model == ScoringModel.RICE:
        inputs = [
            ("reach", feature.reach),
            ("impact", feature.impact),
            ("confidence", feature.confidence_pct),
            ("effort", feature.effort),
        ]
        if any(value is None for _, value in inputs):
            return _missing(inputs)
        return (
            f"reach {number(feature.reach)} × impact {number(feature.impact)} × "
            f"{number(feature.confidence_pct)} % ÷ {_effort(feature.effort, unit)}"
        )
    if model == ScoringModel.ICE:
        inputs = [
            ("impact", feature.ice_impact),
            ("confidence", feature.ice_confidence),
            ("ease", feature.ice_ease),
        ]
        if any(value is None for _, value in inputs):
            return _missing(inputs)
        return " × ".join(f"{name} {number(value)}" for name, value in inputs)
    if model == ScoringModel.WSJF:
        size = feature.job_size if feature.job_size is not None else feature.effort
        inputs = [
            ("business value", feature.business_value),
            ("time criticality", feature.time_criticality),
            ("risk reduction", feature.risk_reduction),
            ("job size", size),
        ]
        if any(value is None for _, value in inputs):
            return _missing(inputs)
        cost = " + ".join(f"{name} {number(value)}" for name, value in inputs[:3])
        return f"({cost}) ÷ job size {number(size)}"
    if model == ScoringModel.VALUE_EFFORT:
        inputs = [("value", feature.value), ("effort", feature.effort)]
        if any(value is None for _, value in inputs):
            return _missing(inputs)
        return f"value {number(feature.value)} ÷ {_effort(feature.effort, unit)}"
    if model == ScoringModel.CUSTOMER_IMPACT:
        return f"score {number(feature.score_customer_impact)} from the requests"
    return _scorecard_text(feature, scorecard_terms)


def _scorecard_text(feature: Any, terms: Sequence[Mapping] | None) -> str:
    score = feature.score_scorecard
    if score is None:
        return "not scored (no criterion has a weight)"
    head = f"{float(score):.1f} of 10"
    if not terms:
        return head
    weighted = [t for t in terms if t.get("weight") and t.get("contribution") is not None]
    weighted.sort(key=lambda t: (-float(t["contribution"]), str(t["label"])))
    shown = [
        f"{str(t['label']).lower()} {number(t['value'])} × {number(t['weight'])}"
        for t in weighted[:SCORECARD_TERMS_SHOWN]
    ]
    more = ", …" if len(weighted) > SCORECARD_TERMS_SHOWN else ""
    return f"{head} ({', '.join(shown)}{more})" if shown else head


def demand_text(feature: Any, *, currency: str) -> str:
    """ "6 companies, $1.7M ARR, 2 deal-blockers" from the columns the recompute stores."""
    companies = int(feature.requesting_companies or 0)
    parts = [
        "no requesting company"
        if companies == 0
        else f"{companies:,} compan{'y' if companies == 1 else 'ies'}"
    ]
    arr = float(feature.arr_at_stake or 0)
    if arr > 0:
        parts.append(f"{format_money(arr, currency)} ARR")
    blockers = int(feature.critical_requests or 0)
    if blockers:
        parts.append(f"{blockers:,} deal-blocker{'' if blockers == 1 else 's'}")
    return ", ".join(parts)


def rank_sentence(
    feature: Any,
    settings: Any,
    *,
    currency: str,
    scorecard_terms: Sequence[Mapping] | None = None,
    move: Mapping | None = None,
) -> str:
    """One plain sentence: the rank, the model, its formula filled in, the demand beside it
    (and a rank move's reason when ``move`` is given)::

        #3 by RICE: reach 2,000 × impact 2 × 80 % ÷ 4 points; 6 companies, $1.7M ARR, 2 deal-blockers

    ``settings``: the workspace's ``RoadmapSettings`` (or a :class:`SentenceSettings`);
    ``currency``: the workspace's reporting currency (the ARR is stored in it);
    ``scorecard_terms``: the weighted scorecard's terms (label, value, weight, contribution)
    to name its largest contributions.
    """
    model = ScoringModel(settings.scoring_model)
    demand = demand_text(feature, currency=currency)
    if feature.priority_rank is None:
        status = feature.status
        if status in (FeatureStatus.SHIPPED, FeatureStatus.DECLINED):
            sentence = f"{FeatureStatus(status).label}, so not ranked; {demand}"
        else:
            sentence = f"Not ranked yet by {MODEL_WORDS[model]}; {demand}"
    else:
        sentence = (
            f"#{feature.priority_rank} by {MODEL_WORDS[model]}: "
            f"{formula_text(feature, settings, scorecard_terms=scorecard_terms)}; {demand}"
        )
    if move and move.get("reason"):
        sentence = f"{sentence}. {move['reason']}"
    return sentence


def breakdown_settings(breakdown: Mapping, *, effort_unit: str = "") -> SentenceSettings:
    """The sentence's settings from a score breakdown (its active model), for pages that have one."""
    return SentenceSettings(scoring_model=breakdown["scoring_model"], effort_unit=effort_unit)


def breakdown_scorecard_terms(breakdown: Mapping) -> list[dict]:
    return list(breakdown["models"].get(ScoringModel.SCORECARD.value, {}).get("terms", []))


#: What each scoring model reads, for the scoring settings page: its formula and its inputs.
MODEL_GUIDE: dict[str, tuple[str, tuple[str, ...]]] = {
    ScoringModel.RICE: (
        "reach × impact × confidence ÷ effort",
        ("Reach: people per quarter", "Impact: 0.25, 0.5, 1, 2 or 3", "Confidence: 0–100 %", "Effort"),
    ),
    ScoringModel.ICE: ("impact × confidence × ease", ("Impact: 1–10", "Confidence: 1–10", "Ease: 1–10")),
    ScoringModel.WSJF: (
        "(business value + time criticality + risk reduction) ÷ job size",
        (
            "Business value: 1–20",
            "Time criticality: 1–20",
            "Risk reduction / opportunity: 1–20",
            "Job size (the effort when unset)",
        ),
    ),
    ScoringModel.VALUE_EFFORT: ("value ÷ effort", ("Value: 1–10", "Effort")),
    ScoringModel.CUSTOMER_IMPACT: (
        "Σ requesting companies: segment weight × (1 + log10(1 + ARR ÷ 1000)) × strongest recent request",
        (
            "Feedback linked to the feature, weighted by its importance (critical counts most)",
            "Votes",
            "Each company's segment and ARR, counted once per company",
            "Recency: a request's weight halves every half-life",
        ),
    ),
    ScoringModel.SCORECARD: (
        "Σ weight × criterion value ÷ Σ weight (each value 0–10)",
        (
            "The scorecard criteria and their weights (below)",
            "A customer-impact criterion: the customer demand, mapped onto 0–10",
            "A competitive-gap criterion: 2.5 per competitor that has it, up to 10",
        ),
    ),
}


def model_guide(active: str) -> tuple[dict, list[dict]]:
    """The active model's guide and the other models' (label, formula, inputs), in menu order."""
    guides = [
        {
            "model": model.value,
            "label": model.label,
            "formula": MODEL_GUIDE[model][0],
            "inputs": MODEL_GUIDE[model][1],
        }
        for model in ScoringModel
    ]
    current = next(g for g in guides if g["model"] == active)
    return current, [g for g in guides if g["model"] != active]
