"""``priority.explain``: "why is this #N" in one plain sentence, per model, from the feature's own
columns; the scorecard terms of a list loaded at once; the deal-blockers not planned."""

from __future__ import annotations

from decimal import Decimal

import pytest

from priority import explain, selectors
from priority.explain import SentenceSettings, rank_sentence
from roadmap.models import FeatureCriterionValue, ScoringModel
from roadmap.selectors import settings_for
from tests.roadmap.factories import CriterionFactory, FeatureFactory, ProductFactory

RICE_INPUTS = {"reach": 2000, "impact": Decimal("2.00"), "confidence_pct": 80, "effort": Decimal("4.00")}


def feature(**fields) -> FeatureFactory:
    """An unsaved feature: the sentence reads only its columns."""
    defaults = {
        "priority_rank": 3,
        "status": "planned",
        "requesting_companies": 6,
        "arr_at_stake": 1_700_000.0,
        "critical_requests": 2,
        **RICE_INPUTS,
    }
    return FeatureFactory.build(**{**defaults, **fields})


def test_the_rice_sentence_reads_as_the_issue_says():
    assert (
        rank_sentence(feature(), SentenceSettings("rice", "points"), currency="USD")
        == "#3 by RICE: reach 2,000 × impact 2 × 80 % ÷ 4 points; 6 companies, $1.7M ARR, 2 deal-blockers"
    )


@pytest.mark.parametrize(
    ("model", "fields", "formula"),
    [
        ("ice", {"ice_impact": 8, "ice_confidence": 7, "ice_ease": 5}, "impact 8 × confidence 7 × ease 5"),
        (
            "wsjf",
            {"business_value": 13, "time_criticality": 8, "risk_reduction": 5, "job_size": Decimal("3")},
            "(business value 13 + time criticality 8 + risk reduction 5) ÷ job size 3",
        ),
        (
            "wsjf",
            {"business_value": 13, "time_criticality": 8, "risk_reduction": 5, "job_size": None},
            "(business value 13 + time criticality 8 + risk reduction 5) ÷ job size 4",
        ),
        ("value_effort", {"value": 8, "effort": Decimal("1")}, "value 8 ÷ 1 person-week"),
        ("customer_impact", {"score_customer_impact": 12.345}, "score 12.3 from the requests"),
        ("scorecard", {"score_scorecard": 7.43}, "7.4 of 10"),
    ],
)
def test_each_model_fills_in_its_formula(model, fields, formula):
    sentence = rank_sentence(feature(**fields), SentenceSettings(model, "person_weeks"), currency="USD")

    assert (
        sentence == f"#3 by {explain.MODEL_WORDS[model]}: {formula}; 6 companies, $1.7M ARR, 2 deal-blockers"
    )


def test_missing_inputs_say_what_is_unset_and_unknown_units_say_effort():
    lacking = feature(reach=None, effort=None)
    assert rank_sentence(lacking, SentenceSettings("rice"), currency="USD").startswith(
        "#3 by RICE: not scored (reach, effort unset); "
    )
    assert explain.formula_text(feature(value=9), SentenceSettings("value_effort")) == "value 9 ÷ effort 4"
    assert explain.formula_text(feature(), SentenceSettings("value_effort")) == "not scored (value unset)"


def test_the_demand_reads_in_the_reporting_currency_with_singulars_and_without_zeros():
    one = feature(requesting_companies=1, arr_at_stake=450_000.0, critical_requests=1)
    none = feature(requesting_companies=0, arr_at_stake=0.0, critical_requests=0)

    assert explain.demand_text(one, currency="EUR") == "1 company, €450k ARR, 1 deal-blocker"
    assert explain.demand_text(none, currency="USD") == "no requesting company"
    assert explain.demand_text(feature(arr_at_stake=2_500.0), currency="CHF") == (
        "6 companies, CHF 2k ARR, 2 deal-blockers"
    )


def test_unranked_shipped_and_declined_features_say_so():
    settings_row = SentenceSettings("rice")
    assert rank_sentence(feature(priority_rank=None, status="shipped"), settings_row, currency="USD") == (
        "Shipped, so not ranked; 6 companies, $1.7M ARR, 2 deal-blockers"
    )
    assert rank_sentence(feature(priority_rank=None, status="idea"), settings_row, currency="USD") == (
        "Not ranked yet by RICE; 6 companies, $1.7M ARR, 2 deal-blockers"
    )


def test_the_scorecard_names_its_largest_contributions_and_a_move_is_appended():
    terms = [
        {"label": "Strategic fit", "value": 5.0, "weight": 2.0, "contribution": 1.0},
        {"label": "Customer impact", "value": 8.6, "weight": 4.0, "contribution": 3.44},
        {"label": "Unweighted", "value": 9.0, "weight": 0.0, "contribution": 0.0},
        {"label": "Goal alignment", "value": 8.0, "weight": 3.0, "contribution": 2.4},
        {"label": "Competitive gap", "value": 5.0, "weight": 1.0, "contribution": 0.5},
    ]
    sentence = rank_sentence(
        feature(score_scorecard=7.34),
        SentenceSettings("scorecard"),
        currency="USD",
        scorecard_terms=terms,
        move={"reason": "SSO rose from #5 to #3: Initech asked for it this week"},
    )

    assert sentence == (
        "#3 by weighted scorecard: 7.3 of 10 (customer impact 8.6 × 4, goal alignment 8 × 3, "
        "strategic fit 5 × 2, …); 6 companies, $1.7M ARR, 2 deal-blockers. "
        "SSO rose from #5 to #3: Initech asked for it this week"
    )


def test_the_model_guide_has_every_model_with_the_active_one_apart():
    current, others = explain.model_guide("scorecard")

    assert current["label"] == "Weighted scorecard"
    assert [g["model"] for g in others] == [m for m in ScoringModel.values if m != "scorecard"]
    assert all(g["formula"] and g["inputs"] for g in [current, *others])


@pytest.mark.django_db
def test_scorecard_terms_of_a_list_are_the_breakdowns_in_three_queries(workspace, django_assert_num_queries):
    product = ProductFactory(workspace=workspace)
    settings_row = settings_for(workspace.pk)
    fit = CriterionFactory(workspace=workspace, key="fit", name="Fit", weight=Decimal("2"), source="manual")
    CriterionFactory(
        workspace=workspace, key="demand", name="Demand", weight=Decimal("3"), source="customer_impact"
    )
    CriterionFactory(
        workspace=workspace, key="gap", name="Gap", weight=Decimal("1"), source="competitive_gap"
    )
    from roadmap.models import Competitor

    rival = Competitor.objects.create(workspace=workspace, name="Rival")
    rows = []
    for i in range(4):
        row = FeatureFactory(product=product, score_customer_impact=float(i * 3))
        FeatureCriterionValue.objects.create(
            workspace=workspace, feature=row, criterion=fit, value=Decimal(i)
        )
        if i % 2:
            row.competitors.add(rival)
        rows.append(row)

    with django_assert_num_queries(3):
        terms = selectors.scorecard_terms_by_feature(
            workspace=workspace, features=rows, settings_row=settings_row
        )

    for row in rows:
        row.refresh_from_db()
        expected = selectors.feature_score_breakdown(feature=row)["models"]["scorecard"]["terms"]
        assert [(t["key"], t["label"], t["weight"]) for t in terms[row.pk]] == [
            (t["key"], t["label"], t["weight"]) for t in expected
        ]
        # The breakdown recomputes demand now (no links here: 0); the list reads the stored column.
        assert terms[row.pk][0]["value"] == pytest.approx(float(rows.index(row)))
        assert terms[row.pk][2]["value"] == (2.5 if rows.index(row) % 2 else 0.0)


@pytest.mark.django_db
def test_deal_blockers_not_planned_are_unstarted_and_unscheduled_most_first(
    workspace, other_workspace, django_assert_num_queries
):
    product = ProductFactory(workspace=workspace)
    make = lambda title, **kw: FeatureFactory(product=product, title=title, **kw)  # noqa: E731
    idea_now = make("Idea on now", status="idea", horizon="now", critical_requests=1, arr_at_stake=10.0)
    planned_none = make("Planned, no horizon", status="planned", horizon="", critical_requests=3)
    make("Planned later", status="planned", horizon="later", critical_requests=5)
    make("In progress", status="in_progress", horizon="", critical_requests=9)
    make("Shipped", status="shipped", critical_requests=9)
    make("No blocker", status="idea", critical_requests=0)
    big = make("Considered", status="under_consideration", critical_requests=1, arr_at_stake=99.0)
    target = make("Target", status="idea")
    make("Merged away", status="idea", critical_requests=4, merged_into=target)
    FeatureFactory(product=ProductFactory(workspace=other_workspace), status="idea", critical_requests=7)

    with django_assert_num_queries(1):
        rows = selectors.deal_blockers_unplanned(workspace=workspace)

    assert [f.title for f in rows] == [planned_none.title, big.title, idea_now.title]
    assert selectors.deal_blockers_unplanned(workspace=workspace, limit=1) == [planned_none]
