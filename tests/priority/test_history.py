"""Priority history keeps its reason (each point's contributions, requesting companies and
ARR at stake, written by the set-based recompute), and ``rank_moves_explained`` turns two
points into a sentence."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from feedback.models import FeedbackLink
from priority import selectors
from priority.recompute import run as recompute_workspace
from roadmap import services
from roadmap.models import Competitor, Feature, FeatureCriterionValue, PrioritySnapshot, ScoreState
from roadmap.selectors import settings_for
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.roadmap.factories import CriterionFactory, FeatureFactory, ProductFactory

NOW = timezone.now().replace(microsecond=0)
pytestmark = pytest.mark.django_db


def _model(workspace, model: str) -> None:
    row = settings_for(workspace.pk)
    row.scoring_model = model
    row.save()


def _latest(feature) -> PrioritySnapshot:
    return PrioritySnapshot.objects.filter(feature=feature).order_by("-computed_at", "-id").first()


def _demand(workspace, feature):
    """Globex (item's company, and a vote), Initech (through the item's contact), a company-less
    voter: two companies; ARR 1,000,000 USD + 200,000 EUR."""
    globex = CompanyFactory(workspace=workspace, name="Globex", segment="enterprise", arr=1_000_000)
    initech = CompanyFactory(
        workspace=workspace, name="Initech", segment="mid_market", arr=200_000, arr_currency="EUR"
    )
    FeedbackLinkFactory(feature=feature, item=FeedbackItemFactory(workspace=workspace, company=globex))
    FeedbackLinkFactory(
        feature=feature,
        item=FeedbackItemFactory(
            workspace=workspace, contact=ContactFactory(workspace=workspace, company=initech)
        ),
    )
    VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace, company=globex))
    VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace, company=None))
    return globex, initech


def test_a_rice_point_keeps_the_inputs_the_companies_and_their_arr_in_the_reporting_currency(workspace):
    workspace.reporting_currency = "USD"
    workspace.currency_rates = {"EUR": 1.1}
    workspace.save()
    feature = FeatureFactory(
        product=ProductFactory(workspace=workspace), reach=800, impact=2, confidence_pct=80, effort=4
    )
    _demand(workspace, feature)

    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    point = _latest(feature)
    assert (point.scoring_model, point.score, point.rank) == ("rice", 320.0, 1)
    assert point.contributions == {"reach": 800, "impact": 2, "confidence": 0.8, "effort": 4}
    assert point.requesting_companies == 2
    assert point.arr_at_stake == pytest.approx(1_000_000 + 220_000)


def test_a_customer_impact_point_keeps_the_impact_and_the_companies(workspace):
    _model(workspace, "customer_impact")
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    _demand(workspace, feature)

    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    feature.refresh_from_db()
    point = _latest(feature)
    assert point.contributions == {
        "customer_impact": pytest.approx(feature.score_customer_impact),
        "companies": 2,
    }
    assert feature.score_customer_impact > 0
    # Initech's EUR counts 0 without a rate for it.
    assert point.arr_at_stake == 1_000_000


@pytest.mark.parametrize(
    ("model", "contributions"),
    [
        ("ice", {"ice_impact": 5, "ice_confidence": 6, "ice_ease": 7}),
        ("wsjf", {"business_value": 8, "time_criticality": 4, "risk_reduction": 2, "job_size": 3}),
        ("value_effort", {"value": 9, "effort": 3}),
    ],
)
def test_other_models_keep_their_inputs(workspace, model, contributions):
    _model(workspace, model)
    feature = FeatureFactory(
        product=ProductFactory(workspace=workspace),
        ice_impact=5,
        ice_confidence=6,
        ice_ease=7,
        business_value=8,
        time_criticality=4,
        risk_reduction=2,
        effort=3,  # WSJF's job size defaults to the effort
        value=9,
    )

    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    point = _latest(feature)
    assert point.contributions == contributions
    assert (point.requesting_companies, point.arr_at_stake) == (0, 0.0)


def test_a_scorecard_point_keeps_what_each_criterion_adds(workspace):
    _model(workspace, "scorecard")
    fit = CriterionFactory(workspace=workspace, key="fit", weight=3, source="manual")
    CriterionFactory(workspace=workspace, key="unset", weight=2, source="manual")
    CriterionFactory(workspace=workspace, key="gap", weight=1, source="competitive_gap")
    CriterionFactory(workspace=workspace, key="demand", weight=2, source="customer_impact")
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    FeatureCriterionValue.objects.create(workspace=workspace, feature=feature, criterion=fit, value=8)
    feature.competitors.set(
        [Competitor.objects.create(workspace=workspace, name=name) for name in ("Rival", "Other")]
    )

    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    point = _latest(feature)
    # value × weight ÷ Σ weight (8): 8 × 3, 0 × 2, 5 (two competitors) × 1, 0 (no demand) × 2.
    assert point.contributions == {"fit": 3.0, "unset": 0.0, "gap": 0.625, "demand": 0.0}
    assert point.score == pytest.approx(sum(point.contributions.values()))


def test_a_scorecard_without_criteria_keeps_an_empty_reason(workspace):
    _model(workspace, "scorecard")
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))

    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    assert _latest(feature).contributions == {}


# --- rank_moves_explained ------------------------------------------------------------------


def _ranked_three(workspace):
    """A (#1), B (#2), C (#3) by RICE reach, scored eight days ago."""
    product = ProductFactory(workspace=workspace)
    rows = {
        title: FeatureFactory(
            product=product, title=title, reach=reach, impact=1, confidence_pct=100, effort=1
        )
        for title, reach in (("A", 300), ("B", 200), ("C", 100))
    }
    recompute_workspace(workspace_id=workspace.pk, now=NOW - timedelta(days=8))
    return rows


def _ask(workspace, feature, companies):
    for company in companies:
        FeedbackLinkFactory(feature=feature, item=FeedbackItemFactory(workspace=workspace, company=company))


def test_a_rise_is_explained_by_the_new_demand_and_the_changed_input(workspace):
    rows = _ranked_three(workspace)
    enterprises = [
        CompanyFactory(workspace=workspace, name=name, segment="enterprise", arr=arr)
        for name, arr in (("Globex", 1_200_000), ("Initech", 600_000), ("Umbrella", 300_000))
    ]
    old = CompanyFactory(workspace=workspace, name="Old Co", segment="smb", arr=50_000)
    _ask(workspace, rows["C"], [old])
    FeedbackLink.objects.filter(feature=rows["C"]).update(created_at=NOW - timedelta(days=20))
    _ask(workspace, rows["C"], enterprises)
    services.feature_update(feature=rows["C"], actor=None, data={"reach": 1000})
    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    moves = selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7))

    assert [(m["title"], m["old_rank"], m["new_rank"], m["delta"]) for m in moves] == [
        ("C", 3, 1, 2),
        ("A", 1, 2, -1),
        ("B", 2, 3, -1),
    ]
    c, a, b = moves
    assert c["reason"] == (
        "C rose from #3 to #1: three enterprise companies (ARR $2.1M) asked for it this week; "
        "reach raised from 100 to 1,000"
    )
    assert c["changes"] == [{"key": "reach", "label": "reach", "before": 100, "after": 1000}]
    assert [(x["name"], x["segment"], x["arr"]) for x in c["companies"]] == [
        ("Globex", "enterprise", 1_200_000.0),
        ("Initech", "enterprise", 600_000.0),
        ("Umbrella", "enterprise", 300_000.0),
    ]
    assert c["new_demand_arr"] == 2_100_000.0
    assert (c["requesting_companies"], c["arr_at_stake"]) == (4, 2_150_000.0)
    assert (c["score_before"], c["score_after"]) == (100.0, 1000.0)
    assert a["reason"] == "A fell from #1 to #2: others moved"
    assert a["changes"] == []
    assert a["companies"] == []
    assert b["reason"] == "B fell from #2 to #3: others moved"


def test_one_company_and_mixed_segments_read_naturally(workspace):
    rows = _ranked_three(workspace)
    hooli = CompanyFactory(workspace=workspace, name="Hooli", segment="mid_market", arr=96_000)
    _ask(workspace, rows["B"], [hooli])
    _ask(
        workspace,
        rows["C"],
        [
            CompanyFactory(workspace=workspace, name="E1", segment="enterprise", arr=400_000),
            CompanyFactory(workspace=workspace, name="E2", segment="enterprise", arr=50_000),
            CompanyFactory(workspace=workspace, name="S1", segment="smb", arr=0),
        ],
    )
    services.feature_update(feature=rows["C"], actor=None, data={"effort": Decimal("0.25")})
    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    moves = {
        m["title"]: m
        for m in selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7))
    }

    assert moves["C"]["reason"] == (
        "C rose from #3 to #1: three companies (two enterprise, one SMB; ARR $450k) asked for it "
        "this week; effort lowered from 1 to 0.25"
    )
    assert moves["B"]["reason"] == "B fell from #2 to #3: Hooli (mid-market, ARR $96k) asked for it this week"
    assert moves["A"]["reason"] == "A fell from #1 to #2: others moved"


def test_a_feature_that_shipped_left_the_ranking_and_a_new_one_entered(workspace):
    rows = _ranked_three(workspace)
    services.feature_change_status(feature=rows["A"], to_status="shipped", actor=None, reason="Done")
    new = FeatureFactory(
        product=rows["A"].product, title="D", reach=50, impact=1, confidence_pct=100, effort=1
    )
    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    moves = selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7), limit=None)

    assert [(m["title"], m["old_rank"], m["new_rank"], m["delta"], m["reason"]) for m in moves] == [
        ("B", 2, 1, 1, "B rose from #2 to #1: one feature above it left the ranking"),
        ("C", 3, 2, 1, "C rose from #3 to #2: one feature above it left the ranking"),
        ("D", None, 3, None, "D entered the ranking at #3"),
        ("A", 1, None, None, "A left the ranking (shipped)"),
    ]
    assert new.pk == moves[2]["feature_id"]


def test_a_change_of_model_is_the_reason(workspace):
    rows = _ranked_three(workspace)
    _model(workspace, "value_effort")
    Feature.objects.filter(pk=rows["C"].pk).update(value=9)
    Feature.objects.filter(pk__in=[rows["A"].pk, rows["B"].pk]).update(value=1)
    Feature.objects.filter(workspace=workspace).update(score_state=ScoreState.DIRTY)
    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    (move,) = selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7), limit=1)

    assert move["reason"] == "C rose from #3 to #1: the scoring model changed from RICE to Value ÷ effort"


def test_only_the_given_features_and_the_window_count(workspace):
    rows = _ranked_three(workspace)
    services.feature_update(feature=rows["C"], actor=None, data={"reach": 1000})
    recompute_workspace(workspace_id=workspace.pk, now=NOW - timedelta(days=3))
    services.feature_update(feature=rows["B"], actor=None, data={"reach": 2000})
    recompute_workspace(workspace_id=workspace.pk, now=NOW)
    since = NOW - timedelta(days=7)

    only_c = selectors.rank_moves_explained(workspace=workspace, since=since, feature_ids=[rows["C"].pk])
    until_day_two = selectors.rank_moves_explained(
        workspace=workspace, since=since, until=NOW - timedelta(days=2), limit=None
    )
    by_queryset = selectors.rank_moves_explained(
        workspace=workspace,
        since=since,
        feature_ids=Feature.objects.filter(title__in=["A", "B"]).values("id"),
        limit=None,
    )

    assert [(m["title"], m["old_rank"], m["new_rank"]) for m in only_c] == [("C", 3, 2)]
    assert [(m["title"], m["old_rank"], m["new_rank"]) for m in until_day_two] == [
        ("C", 3, 1),
        ("A", 1, 2),
        ("B", 2, 3),
    ]
    assert [(m["title"], m["old_rank"], m["new_rank"]) for m in by_queryset] == [("A", 1, 3), ("B", 2, 1)]
    assert selectors.rank_moves_explained(workspace=workspace, since=NOW + timedelta(days=1)) == []


def _many_moves(workspace, n: int):
    product = ProductFactory(workspace=workspace)
    features = [
        FeatureFactory(product=product, reach=100 + i, impact=1, confidence_pct=100, effort=1)
        for i in range(n)
    ]
    recompute_workspace(workspace_id=workspace.pk, now=NOW - timedelta(days=8))
    company = CompanyFactory(workspace=workspace, segment="enterprise", arr=10_000)
    for i, feature in enumerate(features):
        Feature.objects.filter(pk=feature.pk).update(reach=1000 - i, score_state=ScoreState.DIRTY)
        _ask(workspace, feature, [company])
        VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace, company=company))
    recompute_workspace(workspace_id=workspace.pk, now=NOW)


@pytest.mark.parametrize("n", [2, 12])
def test_the_query_count_does_not_grow_with_the_moves(workspace, django_assert_num_queries, n):
    _many_moves(workspace, n)

    with django_assert_num_queries(4):  # after, before, links, votes
        moves = selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7), limit=None)

    assert len(moves) == n
    assert all("asked for it this week" in m["reason"] for m in moves)


def test_old_points_without_a_reason_explain_by_the_score(workspace):
    rows = _ranked_three(workspace)
    PrioritySnapshot.objects.filter(workspace=workspace).update(contributions={})
    services.feature_update(feature=rows["C"], actor=None, data={"reach": 1000})
    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    moves = selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7), limit=1)

    assert moves[0]["reason"] == "C rose from #3 to #1: its score went from 100 to 1,000"
    assert moves[0]["changes"] == []


def test_money_reads_compactly():
    assert selectors.format_money(2_140_000, "USD") == "$2.1M"
    assert selectors.format_money(2_000_000, "USD") == "$2M"
    assert selectors.format_money(450_400, "EUR") == "€450k"
    assert selectors.format_money(950, "GBP") == "£950"
    assert selectors.format_money(1_500_000, "CHF") == "CHF 1.5M"


def test_a_new_feature_above_explains_a_fall(workspace):
    rows = _ranked_three(workspace)
    FeatureFactory(product=rows["A"].product, title="N", reach=5000, impact=1, confidence_pct=100, effort=1)
    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    moves = selectors.rank_moves_explained(workspace=workspace, since=NOW - timedelta(days=7), limit=None)

    assert [m["reason"] for m in moves] == [
        "A fell from #1 to #2: one new feature entered above it",
        "B fell from #2 to #3: one new feature entered above it",
        "C fell from #3 to #4: one new feature entered above it",
        "N entered the ranking at #1",
    ]
