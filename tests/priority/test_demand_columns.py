"""The recompute stores the demand beside the rank: ``arr_at_stake`` (the distinct requesting
companies' ARR in the reporting currency, as a history point's) and ``critical_requests``
(feedback links of importance critical: deal-blockers), in its set-based statements."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from priority import formulas
from priority import services as priority_services
from priority.demand import demand_signals_for_feature
from priority.recompute import arr_rates
from priority.recompute import run as recompute_workspace
from roadmap.models import Feature, PrioritySnapshot, ScoreState
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.priority.test_recompute import NOW, build_random_workspace
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def link(feature, importance="nice_to_have", *, company=None, contact=None):
    item = FeedbackItemFactory(workspace=feature.workspace, company=company, contact=contact, received_at=NOW)
    return FeedbackLinkFactory(item=item, feature=feature, importance=importance)


@pytest.fixture
def world():
    workspace = WorkspaceFactory(reporting_currency="USD", currency_rates={"EUR": 1.1})
    product = ProductFactory(workspace=workspace)
    initech = CompanyFactory(workspace=workspace, segment="enterprise", arr=Decimal("1000000"))
    globex = CompanyFactory(
        workspace=workspace, segment="mid_market", arr=Decimal("500000"), arr_currency="EUR"
    )
    hooli = CompanyFactory(workspace=workspace, arr=Decimal("20000"))
    unrated = CompanyFactory(workspace=workspace, arr=Decimal("70000"), arr_currency="CHF")
    feature = FeatureFactory(product=product, title="SSO")
    # Initech: a critical item of its own, a critical one through a contact, and a vote: once.
    link(feature, "critical", company=initech)
    link(feature, "critical", contact=ContactFactory(workspace=workspace, company=initech))
    VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace, company=initech))
    # Globex asks as "important" (EUR ARR at 1.1); Hooli only votes; a CHF company has no rate.
    link(feature, "important", company=globex)
    VoteFactory(feature=feature, contact=ContactFactory(workspace=workspace, company=hooli))
    link(feature, "nice_to_have", company=unrated)
    # Anonymous critical feedback and a contact without company: deal-blockers, not companies.
    link(feature, "critical")
    link(feature, "critical", contact=ContactFactory(workspace=workspace))
    quiet = FeatureFactory(product=product, title="Quiet")
    other = FeatureFactory(product=product, title="Votes only")
    VoteFactory(feature=other, contact=ContactFactory(workspace=workspace, company=globex))
    return {"workspace": workspace, "feature": feature, "quiet": quiet, "other": other}


def test_the_recompute_stores_the_arr_at_stake_and_the_deal_blockers(world):
    recompute_workspace(workspace_id=world["workspace"].pk, now=NOW, full=True)

    feature = Feature.objects.get(pk=world["feature"].pk)
    # Initech 1,000,000 + Globex 500,000 × 1.1 + Hooli 20,000 + CHF company 0 (no rate).
    assert (feature.requesting_companies, feature.arr_at_stake, feature.critical_requests) == (
        4,
        pytest.approx(1_570_000.0),
        4,
    )
    quiet = Feature.objects.get(pk=world["quiet"].pk)
    assert (quiet.requesting_companies, quiet.arr_at_stake, quiet.critical_requests) == (0, 0.0, 0)
    other = Feature.objects.get(pk=world["other"].pk)
    assert (other.requesting_companies, other.arr_at_stake, other.critical_requests) == (
        1,
        pytest.approx(550_000.0),
        0,
    )


def test_the_stored_arr_at_stake_is_the_history_points(world):
    recompute_workspace(workspace_id=world["workspace"].pk, now=NOW, full=True)

    for feature in Feature.objects.filter(workspace=world["workspace"]):
        point = PrioritySnapshot.objects.filter(feature=feature).latest("computed_at")
        assert point.arr_at_stake == pytest.approx(feature.arr_at_stake)
        assert point.requesting_companies == feature.requesting_companies


def test_a_new_critical_link_reaches_the_columns_on_the_next_run(world):
    workspace = world["workspace"]
    recompute_workspace(workspace_id=workspace.pk, now=NOW, full=True)
    quiet = world["quiet"]
    link(quiet, "critical", company=CompanyFactory(workspace=workspace, arr=Decimal("12000")))
    Feature.objects.filter(pk=quiet.pk).update(score_state=ScoreState.DIRTY)

    recompute_workspace(workspace_id=workspace.pk, now=NOW)

    quiet.refresh_from_db()
    assert (quiet.requesting_companies, quiet.arr_at_stake, quiet.critical_requests) == (1, 12_000.0, 1)
    assert quiet.score_state == ScoreState.CLEAN


def test_the_scoring_preview_leaves_the_columns_as_they_were(world, member):
    from productops.models import Role

    workspace = world["workspace"]
    recompute_workspace(workspace_id=workspace.pk, now=NOW, full=True)
    before = list(Feature.objects.order_by("id").values_list("id", "arr_at_stake", "critical_requests"))
    Feature.objects.filter(workspace=workspace).update(arr_at_stake=0.0, critical_requests=0)

    priority_services.ranking_preview(
        workspace=workspace,
        actor=member(workspace, Role.PRODUCT_MANAGER).user,
        scoring_model="customer_impact",
        criterion_weights={},
    )

    assert set(Feature.objects.values_list("arr_at_stake", "critical_requests")) == {(0.0, 0)}
    assert before  # the preview computed them inside its rolled-back transaction only


@pytest.mark.parametrize("seed", range(4))
def test_the_columns_match_the_reference_on_random_workspaces(seed):
    workspace = build_random_workspace(seed + 100)
    workspace.currency_rates = {"EUR": 1.25}
    workspace.save(update_fields=["currency_rates"])

    recompute_workspace(workspace_id=workspace.pk, now=NOW, full=True)

    rates = arr_rates(workspace)
    for feature in Feature.objects.filter(workspace=workspace):
        companies, arr, critical = formulas.demand_summary(
            demand_signals_for_feature(feature_id=feature.pk, arr_rates=rates)
        )
        got = (feature.requesting_companies, feature.arr_at_stake, feature.critical_requests)
        assert got == (companies, pytest.approx(arr, rel=1e-9, abs=1e-9), critical), f"feature {feature.pk}"


def test_demand_summary_counts_each_company_once_and_every_critical_link():
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    signals = [
        formulas.DemandSignal("c1", 1, "enterprise", 1000.0, "critical", at),
        formulas.DemandSignal("c1", 1, "enterprise", 1000.0, "vote", at),
        formulas.DemandSignal("c2", 2, "smb", 250.0, "important", at),
        formulas.DemandSignal("p7", None, "", 0.0, "critical", at),
        formulas.DemandSignal("i9", None, "", 0.0, "critical", at),
    ]

    assert formulas.demand_summary(signals) == (2, 1250.0, 3)
    assert formulas.demand_summary([]) == (0, 0.0, 0)


def test_the_recompute_query_count_does_not_grow_with_features_or_demand():
    def run_for(features: int) -> int:
        workspace = build_random_workspace(7, features=features, companies=6)
        with CaptureQueriesContext(connection) as queries:
            recompute_workspace(workspace_id=workspace.pk, now=NOW, full=True)
        return len(queries)

    assert run_for(5) == run_for(40)
