"""Each framework's formula against hand-computed examples."""

from datetime import UTC, datetime, timedelta

import pytest

from priority import formulas
from priority.formulas import DemandSignal

NOW = datetime(2027, 1, 1, tzinfo=UTC)
WEIGHTS = {
    "importance_weights": formulas.DEFAULT_IMPORTANCE_WEIGHTS,
    "segment_weights": formulas.DEFAULT_SEGMENT_WEIGHTS,
    "vote_weight": 1.0,
    "half_life_days": 90.0,
}


def test_rice_is_reach_times_impact_times_confidence_over_effort():
    # 2000 people × impact 2 × 80 % ÷ 4 points = 800
    assert formulas.rice(reach=2000, impact=2, confidence_pct=80, effort=4) == 800.0
    assert formulas.rice(reach=150, impact=0.25, confidence_pct=50, effort=0.5) == 37.5


@pytest.mark.parametrize(
    "inputs",
    [
        {"reach": None, "impact": 2, "confidence_pct": 80, "effort": 4},
        {"reach": 10, "impact": 2, "confidence_pct": 80, "effort": None},
        {"reach": 10, "impact": 2, "confidence_pct": 80, "effort": 0},
        {"reach": 10, "impact": 2, "confidence_pct": 80, "effort": -1},
    ],
)
def test_rice_without_complete_inputs_or_with_non_positive_effort_has_no_score(inputs):
    assert formulas.rice(**inputs) is None


def test_ice_is_the_product_of_its_three_ratings():
    assert formulas.ice(impact=8, confidence=5, ease=3) == 120.0
    assert formulas.ice(impact=8, confidence=None, ease=3) is None


def test_wsjf_is_cost_of_delay_over_job_size():
    # (8 + 5 + 3) ÷ 4 = 4
    assert formulas.wsjf(business_value=8, time_criticality=5, risk_reduction=3, job_size=4) == 4.0
    assert formulas.wsjf(business_value=8, time_criticality=5, risk_reduction=3, job_size=0) is None


def test_value_over_effort():
    assert formulas.value_effort(value=9, effort=3) == 3.0
    assert formulas.value_effort(value=9, effort=0) is None


def test_company_weight_is_segment_times_damped_arr():
    # enterprise 3 × (1 + log10(1 + 999000/1000)) = 3 × (1 + 3) = 12
    assert formulas.company_weight(
        segment="enterprise", arr=999_000, segment_weights=formulas.DEFAULT_SEGMENT_WEIGHTS
    ) == pytest.approx(12.0)
    assert formulas.company_weight(segment="", arr=0, segment_weights=formulas.DEFAULT_SEGMENT_WEIGHTS) == 1.0


def _signal(key, importance, days_ago, segment="smb", arr=0.0, company_id=1):
    return DemandSignal(
        company_key=key,
        company_id=company_id,
        segment=segment,
        arr=arr,
        importance=importance,
        at=NOW - timedelta(days=days_ago),
    )


def test_customer_impact_with_no_feedback_is_zero():
    assert formulas.customer_impact([], now=NOW, **WEIGHTS) == (0.0, 0, {})


def test_customer_impact_counts_a_company_once_with_its_strongest_request():
    signals = [
        _signal("c1", "nice_to_have", 0, segment="enterprise", arr=999_000),
        _signal("c1", "critical", 0, segment="enterprise", arr=999_000),  # same company, stronger
        _signal("c1", "vote", 0, segment="enterprise", arr=999_000),
        _signal("c2", "important", 0, segment="smb", arr=0, company_id=2),
    ]

    score, companies, contributions = formulas.customer_impact(signals, now=NOW, **WEIGHTS)

    # c1: 12 × critical 4 = 48; c2: 1 × important 2 = 2
    assert contributions == pytest.approx({"c1": 48.0, "c2": 2.0})
    assert score == pytest.approx(50.0)
    assert companies == 2


def test_customer_impact_halves_per_half_life_in_whole_days():
    fresh = formulas.customer_impact([_signal("c1", "critical", 0)], now=NOW, **WEIGHTS)[0]
    one_half_life = formulas.customer_impact([_signal("c1", "critical", 90)], now=NOW, **WEIGHTS)[0]
    two_half_lives = formulas.customer_impact([_signal("c1", "critical", 180.9)], now=NOW, **WEIGHTS)[0]

    assert (fresh, one_half_life, two_half_lives) == pytest.approx((4.0, 2.0, 1.0))


def test_feedback_without_a_company_counts_but_not_as_a_requesting_company():
    signals = [_signal("p7", "important", 0, segment="", company_id=None)]

    score, companies, _ = formulas.customer_impact(signals, now=NOW, **WEIGHTS)

    assert (score, companies) == (2.0, 0)


def test_scorecard_is_the_weighted_average():
    # (8×3 + 2×1) ÷ 4 = 6.5
    assert formulas.scorecard([(8, 3), (2, 1)]) == 6.5
    assert formulas.scorecard([]) is None
    assert formulas.scorecard([(5, 0)]) is None


def test_derived_criteria_map_onto_zero_to_ten():
    assert formulas.customer_impact_to_ten(0, scale=20) == 0.0
    assert formulas.customer_impact_to_ten(20, scale=20) == pytest.approx(6.3212, abs=1e-4)
    assert formulas.competitive_gap_to_ten(0) == 0.0
    assert formulas.competitive_gap_to_ten(2) == 5.0
    assert formulas.competitive_gap_to_ten(9) == 10.0


@pytest.mark.parametrize(
    ("old_score", "new_score", "old_rank", "new_rank", "expected"),
    [
        (10.0, 10.05, 3, 3, False),  # 0.5 %: noise from daily decay
        (10.0, 10.2, 3, 3, True),  # 2 %
        (10.0, 10.0, 3, 4, True),  # rank moved
        (None, 10.0, None, 1, True),  # first score
        (None, None, None, None, False),
    ],
)
def test_history_keeps_rank_changes_and_score_moves_above_one_percent(
    old_score, new_score, old_rank, new_rank, expected
):
    assert (
        formulas.snapshot_needed(
            old_score=old_score, new_score=new_score, old_rank=old_rank, new_rank=new_rank
        )
        is expected
    )
