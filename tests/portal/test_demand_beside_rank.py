"""Demand beside the rank in every ranked list of the team portal (dashboard, board, kanban,
matrix, feature page), the "why #N" sentence, the dashboard's revenue and deal-blocker panels,
the score breakdown on one scale, and scoring settings that show only what the model uses.
Never on the public board."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from productops.models import Role
from roadmap.models import RoadmapSettings
from roadmap.selectors import settings_for
from tests.board.factories import BoardSettingsFactory
from tests.feedback.factories import CompanyFactory, FeedbackItemFactory, FeedbackLinkFactory
from tests.roadmap.factories import CriterionFactory, FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

SENTENCE = "#1 by RICE: reach 2,000 × impact 2 × 80 % ÷ 4 points; 6 companies, $1.7M ARR, 2 deal-blockers"
DEMAND = {"requesting_companies": 6, "arr_at_stake": 1_700_000.0, "critical_requests": 2}
RICE = {"reach": 2000, "impact": Decimal("2"), "confidence_pct": 80, "effort": Decimal("4")}


def sso(workspace, **fields):
    """The top feature, with the demand columns as the recompute stores them."""
    settings_for(workspace.pk)
    return FeatureFactory(
        product=ProductFactory(workspace=workspace, name="Core"),
        title="Single sign-on",
        status="planned",
        horizon="now",
        priority_rank=1,
        priority_score=800.0,
        score_rice=800.0,
        **{**RICE, **DEMAND, **fields},
    )


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return html.unescape(response.content.decode())


# --- every ranked list shows it ----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER, Role.OWNER])
def test_the_dashboard_shows_demand_and_the_sentence_beside_each_rank(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    sso(workspace)

    content = page(client, f"/w/{workspace.slug}/")

    assert (
        '<th class="num">Companies</th><th class="num">ARR at stake</th><th class="num">Deal-blockers</th>'
        in (content.replace("\n        ", ""))
    )
    assert f'<div class="small muted rank-sentence">{SENTENCE}</div>' in content
    assert '<td class="num">6</td>' in content
    assert '<td class="num">$1.7M</td>' in content
    assert '<strong class="deal-blockers">2</strong>' in content


def test_board_and_kanban_cards_show_demand_with_the_sentence(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    f = sso(workspace)
    FeatureFactory(product=f.product, title="Quiet", horizon="next", priority_rank=2, priority_score=1.0)

    for path in ("roadmap/", "roadmap/kanban/"):
        content = page(client, f"/w/{workspace.slug}/{path}")
        assert (
            f'<span class="demand" title="{SENTENCE}"><span>6 companies</span> · <span>$1.7M ARR</span> · '
            '<strong class="deal-blockers">2 deal-blockers</strong></span>'
        ) in content, path
        assert '<span class="muted">no requests</span>' in content


def test_a_moved_card_keeps_its_demand(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = sso(workspace)

    response = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "next"}, HTTP_HX_REQUEST="true"
    )

    assert "<span>6 companies</span>" in html.unescape(response.content.decode())


def test_the_matrix_table_shows_demand_and_the_sentence(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    sso(workspace)

    content = page(client, f"/w/{workspace.slug}/roadmap/matrix/")

    assert (
        '<th class="num">Companies</th><th class="num">ARR at stake</th><th class="num">Deal-blockers</th>'
        in content
    )
    assert f'<td class="num" title="{SENTENCE}">6</td><td class="num">$1.7M</td>' in content


def test_the_feature_page_says_why_and_shows_the_demand(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    f = sso(workspace, critical_requests=0)

    content = page(client, f"/w/{workspace.slug}/features/{f.pk}/")

    # The page has no effort unit at hand: the effort is said as "effort 4".
    assert (
        '<p class="rank-sentence">#1 by RICE: reach 2,000 × impact 2 × 80 % ÷ effort 4; '
        "6 companies, $1.7M ARR</p>"
    ) in content
    assert "<dt>Requesting companies</dt><dd>6</dd>" in content
    assert "<dt>ARR at stake</dt><dd>$1.7M</dd>" in content
    assert "<dt>Deal-blockers</dt><dd>0</dd>" in content


def test_the_reporting_currency_formats_the_arr(portal_client, workspace):
    workspace.reporting_currency = "EUR"
    workspace.save(update_fields=["reporting_currency"])
    client, _ = portal_client(workspace, Role.VIEWER)
    sso(workspace, arr_at_stake=450_000.0)

    assert "<span>€450k ARR</span>" in page(client, f"/w/{workspace.slug}/roadmap/")


def test_the_public_board_and_roadmap_never_show_demand(workspace):
    BoardSettingsFactory(workspace=workspace)
    sso(workspace, is_public=True)

    for path in ("", "roadmap/"):
        content = page(Client(), f"/p/{workspace.slug}/{path}")
        assert "Single sign-on" in content or path == ""
        for word in ("deal-blocker", "ARR", "$1.7M", "requesting compan", "rank-sentence"):
            assert word not in content, (path, word)


# --- the dashboard's panels ---------------------------------------------------------------------


def _demand(feature, company, importance="nice_to_have"):
    item = FeedbackItemFactory(workspace=feature.workspace, company=company)
    FeedbackLinkFactory(item=item, feature=feature, importance=importance)


def test_most_requested_by_revenue_and_deal_blockers_not_planned(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    big = CompanyFactory(workspace=workspace, arr=Decimal("2000000"))
    small = CompanyFactory(workspace=workspace, arr=Decimal("30000"))
    export = FeatureFactory(product=product, title="Bulk export", status="idea", critical_requests=1)
    audit = FeatureFactory(
        product=product, title="Audit log", status="planned", horizon="now", critical_requests=3
    )
    _demand(export, big, "critical")
    _demand(audit, small)

    content = page(client, f"/w/{workspace.slug}/")

    requested = content.split('id="requested-h"')[1].split("</section>")[0]
    assert requested.index("Bulk export") < requested.index("Audit log")
    assert '<td class="num">$2M</td><td class="num">1</td>' in requested
    blockers = content.split('id="blockers-h"')[1].split("</section>")[0]
    assert "Bulk export" in blockers
    assert "Audit log" not in blockers  # planned on a horizon
    assert '<strong class="deal-blockers">1 deal-blocker</strong>' in blockers


def test_the_dashboard_query_count_is_fixed_and_does_not_grow(
    portal_client, workspace, django_assert_num_queries
):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    company = CompanyFactory(workspace=workspace, arr=Decimal("1000"))

    def add(n):
        for _ in range(n):
            f = FeatureFactory(product=product, status="idea", critical_requests=1, priority_rank=None)
            _demand(f, company, "critical")

    add(1)
    client.get(f"/w/{workspace.slug}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/w/{workspace.slug}/")
    add(12)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/w/{workspace.slug}/")

    assert len(many) == len(few)


def test_the_dashboard_under_a_scorecard_names_the_criteria_in_a_fixed_number_of_queries(
    portal_client, workspace
):
    client, _ = portal_client(workspace, Role.VIEWER)
    RoadmapSettings.objects.filter(workspace=workspace).delete()
    settings_row = settings_for(workspace.pk)
    settings_row.scoring_model = "scorecard"
    settings_row.save()
    CriterionFactory(
        workspace=workspace, key="demand", name="Customer impact", weight=4, source="customer_impact"
    )
    product = ProductFactory(workspace=workspace)

    def add(rank):
        FeatureFactory(
            product=product,
            priority_rank=rank,
            priority_score=5.0,
            score_scorecard=5.0,
            score_customer_impact=9.0,
        )

    add(1)
    client.get(f"/w/{workspace.slug}/")
    with CaptureQueriesContext(connection) as few:
        content = page(client, f"/w/{workspace.slug}/")
    for rank in range(2, 8):
        add(rank)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/w/{workspace.slug}/")

    assert "#1 by weighted scorecard: 5.0 of 10 (customer impact 3.62 × 4); no requesting company" in content
    assert len(many) == len(few)


def test_the_board_query_count_does_not_grow_with_demand_cards(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    f = sso(workspace)
    url = f"/w/{workspace.slug}/roadmap/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for rank in range(2, 14):
        FeatureFactory(product=f.product, horizon="later", priority_rank=rank, **DEMAND)
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(few)


# --- the score breakdown on one scale --------------------------------------------------------------


def test_rice_bars_are_each_factors_effect_on_a_log_scale_with_the_formula_filled_in(
    portal_client, workspace
):
    client, _ = portal_client(workspace, Role.VIEWER)
    f = sso(workspace)

    content = page(client, f"/w/{workspace.slug}/features/{f.pk}/")

    chart = content.split('id="breakdown-t"')[1].split("</svg>")[0]
    assert "RICE score of Single sign-on: each factor’s effect, on a log scale" in chart
    assert "reach × impact × confidence ÷ effort: 2,000 × 2 × 0.8 ÷ 4 = 800." in chart
    assert "Reach: ×2,000; Impact: ×2; Confidence: ×0.8 (lowers it); Effort: ÷4 (lowers it)" in chart
    assert '<g class="chart-bar chart-bar-lowers">' in chart
    assert '<g class="chart-bar chart-bar-raises">' in chart


def test_the_score_chart_builds_each_model(workspace):
    from portal.score_chart import breakdown_chart

    def breakdown(model, terms, score):
        return {"scoring_model": model, "models": {model: {"formula": "f", "terms": terms, "score": score}}}

    def term(label, value, role, contribution=None):
        return {"key": label, "label": label, "value": value, "role": role, "contribution": contribution}

    wsjf = breakdown_chart(
        breakdown(
            "wsjf",
            [term("Value", 12, "addend", 4.0), term("Time", 6, "addend", 2.0), term("Size", 3, "divisor")],
            6.0,
        ),
        feature_title="X",
        model_label="WSJF",
    )
    assert [(m.label, m.value) for m in wsjf["marks"]] == [("Value ÷ 3", "4"), ("Time ÷ 3", "2")]
    assert wsjf["formula"] == "(12 + 6) ÷ 3 = 6"
    ice = breakdown_chart(
        breakdown("ice", [term("Impact", 10, "multiplier"), term("Ease", None, "multiplier")], None),
        feature_title="X",
        model_label="ICE",
    )
    assert [(m.label, m.value, m.width) for m in ice["marks"]][1] == ("Ease", "unset", 0.0)
    assert ice["formula"] == "10 × unset = not scored"
    card = breakdown_chart(
        breakdown("scorecard", [term("Fit", 8, "addend", 3.2), term("Gap", 5, "addend", 0.5)], 3.7),
        feature_title="X",
        model_label="Weighted scorecard",
    )
    assert [(m.label, m.value) for m in card["marks"]] == [("Fit", "3.2"), ("Gap", "0.5")]
    assert card["formula"] == "3.2 + 0.5 = 3.7"


# --- scoring settings show what the model uses ---------------------------------------------------


def _criteria(workspace):
    CriterionFactory(workspace=workspace, key="fit", name="Strategic fit", weight=2, source="manual")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PRODUCT_MANAGER])
def test_scoring_settings_collapse_what_the_active_model_does_not_use(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    settings_for(workspace.pk)
    _criteria(workspace)

    content = page(client, f"/w/{workspace.slug}/settings/scoring/")

    assert "<strong>RICE</strong> ranks by <code>reach × impact × confidence ÷ effort</code>" in content
    assert "<summary>Other models — not used by the active model (RICE)</summary>" in content
    assert (
        "<summary>Not used by the active model (RICE): "
        "the criteria count only under the weighted scorecard</summary>" in content
    )
    if role == Role.PRODUCT_MANAGER:
        assert (
            "<summary>Scorecard criteria weights — not used by the active model (RICE)</summary>" in content
        )


def test_under_the_scorecard_its_weights_are_open(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    settings_row = settings_for(workspace.pk)
    settings_row.scoring_model = "scorecard"
    settings_row.save()
    _criteria(workspace)

    content = page(client, f"/w/{workspace.slug}/settings/scoring/")

    assert "<fieldset><legend>Scorecard criteria weights</legend>" in content
    assert "not used by the active model (Weighted scorecard): the criteria" not in content
    assert "<summary>Other models — not used by the active model (Weighted scorecard)</summary>" in content


def test_a_posted_model_is_the_one_explained_when_the_form_is_refused(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    settings_for(workspace.pk)
    _criteria(workspace)

    response = client.post(
        f"/w/{workspace.slug}/settings/scoring/", {"scoring_model": "scorecard", "weight_fit": "-1"}
    )

    assert response.status_code == 400
    content = html.unescape(response.content.decode())
    assert "<strong>Weighted scorecard</strong> ranks by" in content
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "rice"


def test_the_dashboards_demand_panels_cost_a_fixed_number_of_queries(workspace, django_assert_num_queries):
    """The panels' reads, exactly (the whole page is compared at two sizes above, since other
    panels of the dashboard add their own): most requested 2, deal-blockers 1, whatever the rows."""
    from feedback import selectors as feedback_selectors
    from priority import selectors as priority_selectors

    product = ProductFactory(workspace=workspace)
    company = CompanyFactory(workspace=workspace, arr=Decimal("5000"))
    for n in (1, 9):
        for _ in range(n):
            f = FeatureFactory(product=product, status="idea", critical_requests=1)
            _demand(f, company, "critical")
        with django_assert_num_queries(2):  # the ranking aggregate, the features
            requested = feedback_selectors.top_features(workspace=workspace, limit=8)
        with django_assert_num_queries(1):
            blockers = priority_selectors.deal_blockers_unplanned(workspace=workspace, limit=8)
        assert len(requested) == len(blockers) == min(8, 1 if n == 1 else 10)
