"""Each framework's published formula, in plain Python.

These are the reference: the set-based SQL recompute must agree with them (a
property test checks it) and explanations are built from them. A formula whose
inputs are incomplete returns None: an unscored feature ranks after scored ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from roadmap.models import DEFAULT_IMPORTANCE_WEIGHTS, DEFAULT_SEGMENT_WEIGHTS

__all__ = ["DEFAULT_IMPORTANCE_WEIGHTS", "DEFAULT_SEGMENT_WEIGHTS"]

SECONDS_PER_DAY = 86400.0
# Competitive gap criterion: each competitor that has the feature adds 2.5, up to 10.
COMPETITIVE_GAP_PER_COMPETITOR = 2.5
# A change smaller than this share of the old score is not kept in history
# (recency decay moves every score a little each day).
SNAPSHOT_RELATIVE_THRESHOLD = 0.01
# Decay stops at this many half-lives: ½^1000 ≈ 9e-302 is still a normal float, so no
# database underflows on a request dated centuries ago (its weight is as good as zero).
MAX_HALF_LIVES = 1000
# e^(−700) is still a normal float; the scorecard's customer-impact mapping stops there.
MAX_EXP_ARGUMENT = 700.0


def _f(value: object) -> float | None:
    return None if value is None else float(value)


def rice(*, reach: object, impact: object, confidence_pct: object, effort: object) -> float | None:
    """RICE = reach × impact × confidence ÷ effort (Intercom)."""
    values = [_f(reach), _f(impact), _f(confidence_pct), _f(effort)]
    if any(v is None for v in values) or values[3] <= 0:
        return None
    return values[0] * values[1] * (values[2] / 100.0) / values[3]


def ice(*, impact: object, confidence: object, ease: object) -> float | None:
    """ICE = impact × confidence × ease, each 1-10 (Sean Ellis)."""
    values = [_f(impact), _f(confidence), _f(ease)]
    if any(v is None for v in values):
        return None
    return values[0] * values[1] * values[2]


def wsjf(
    *, business_value: object, time_criticality: object, risk_reduction: object, job_size: object
) -> float | None:
    """WSJF = cost of delay ÷ job size; cost of delay = value + time criticality + risk reduction (SAFe)."""
    values = [_f(business_value), _f(time_criticality), _f(risk_reduction), _f(job_size)]
    if any(v is None for v in values) or values[3] <= 0:
        return None
    return (values[0] + values[1] + values[2]) / values[3]


def value_effort(*, value: object, effort: object) -> float | None:
    """Value ÷ effort."""
    v, e = _f(value), _f(effort)
    if v is None or e is None or e <= 0:
        return None
    return v / e


@dataclass(frozen=True)
class DemandSignal:
    """One request for a feature: a feedback link or a vote."""

    company_key: str  # the company, or the contact/item standing in for an unknown company
    company_id: int | None
    segment: str
    arr: float
    importance: str  # "vote" for votes
    at: datetime


def age_days(at: datetime, now: datetime) -> int:
    """Whole days since ``at`` (scores decay once a day, not every second)."""
    return max(0, math.floor((now - at).total_seconds() / SECONDS_PER_DAY))


def company_weight(*, segment: str, arr: float, segment_weights: Mapping[str, float]) -> float:
    """segment weight × (1 + log10(1 + ARR / 1000)): a $1M account counts 4×, not 1000×."""
    return float(segment_weights.get(segment, segment_weights.get("", 1.0))) * (
        1.0 + math.log10(1.0 + float(arr) / 1000.0)
    )


def signal_weight(
    signal: DemandSignal,
    *,
    now: datetime,
    importance_weights: Mapping[str, float],
    vote_weight: float,
    half_life_days: float,
) -> float:
    base = (
        vote_weight if signal.importance == "vote" else float(importance_weights.get(signal.importance, 1.0))
    )
    return base * 0.5 ** min(age_days(signal.at, now) / half_life_days, MAX_HALF_LIVES)


def customer_impact(
    signals: Iterable[DemandSignal],
    *,
    now: datetime,
    importance_weights: Mapping[str, float],
    segment_weights: Mapping[str, float],
    vote_weight: float,
    half_life_days: float,
) -> tuple[float, int, dict[str, float]]:
    """Σ over requesting companies of company weight × its strongest recency-decayed signal.

    A company counts once however many of its people asked. Returns the score,
    the number of distinct real companies, and each company key's contribution.
    """
    best: dict[str, float] = {}
    weights: dict[str, float] = {}
    real: set[str] = set()
    for signal in signals:
        weight = signal_weight(
            signal,
            now=now,
            importance_weights=importance_weights,
            vote_weight=vote_weight,
            half_life_days=half_life_days,
        )
        best[signal.company_key] = max(best.get(signal.company_key, 0.0), weight)
        weights[signal.company_key] = company_weight(
            segment=signal.segment, arr=signal.arr, segment_weights=segment_weights
        )
        if signal.company_id is not None:
            real.add(signal.company_key)
    contributions = {key: weights[key] * best[key] for key in best}
    return sum(contributions.values()), len(real), contributions


def demand_summary(signals: Iterable[DemandSignal]) -> tuple[int, float, int]:
    """What a list shows beside the rank: (requesting companies, ARR at stake, deal-blockers).

    Requesting companies and their ARR count each real company once however many of its
    people asked (as :func:`customer_impact` and a history point's ``arr_at_stake``); the
    deal-blockers are the requests (feedback links, one per linked item) of importance
    "critical", whoever made them; a vote is never one. The recompute stores the three on the
    feature (``requesting_companies``, ``arr_at_stake``, ``critical_requests``).
    """
    arr: dict[str, float] = {}
    critical = 0
    for signal in signals:
        if signal.company_id is not None:
            arr[signal.company_key] = float(signal.arr)
        if signal.importance == "critical":
            critical += 1
    return len(arr), sum(arr.values()), critical


def customer_impact_to_ten(impact: float, *, scale: float) -> float:
    """Map customer impact onto 0..10 for a scorecard: 10 × (1 − e^(−impact / scale))."""
    return 10.0 * (1.0 - math.exp(-min(impact / scale, MAX_EXP_ARGUMENT)))


def competitive_gap_to_ten(competitors_with_it: int) -> float:
    return min(10.0, COMPETITIVE_GAP_PER_COMPETITOR * competitors_with_it)


def scorecard(values_and_weights: Iterable[tuple[float, float]]) -> float | None:
    """Weighted average of criterion values (0..10); None without any weight."""
    pairs = list(values_and_weights)
    total_weight = sum(w for _, w in pairs)
    if total_weight <= 0:
        return None
    return sum(v * w for v, w in pairs) / total_weight


def snapshot_needed(
    *, old_score: float | None, new_score: float | None, old_rank: int | None, new_rank: int | None
) -> bool:
    if old_rank != new_rank:
        return True
    if (old_score is None) != (new_score is None):
        return True
    if old_score is None:
        return False
    return abs(new_score - old_score) > SNAPSHOT_RELATIVE_THRESHOLD * abs(old_score)
