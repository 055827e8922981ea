from datetime import timedelta

import pytest
from django.utils import timezone

from priority import selectors
from priority.recompute import run as recompute_workspace
from roadmap import services
from roadmap.models import Feature
from tests.feedback.factories import CompanyFactory, FeedbackItemFactory, FeedbackLinkFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory


def test_score_breakdown_explains_each_company_and_criterion(workspace):
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product, reach=100, impact=2, confidence_pct=50, effort=4)
    globex = CompanyFactory(workspace=workspace, name="Globex", segment="enterprise", arr=999_000)
    FeedbackLinkFactory(
        feature=feature,
        importance="critical",
        item=FeedbackItemFactory(workspace=workspace, company=globex, received_at=timezone.now()),
    )
    recompute_workspace(workspace_id=workspace.pk)
    feature.refresh_from_db()

    breakdown = selectors.feature_score_breakdown(feature=feature)

    assert breakdown["scoring_model"] == "rice"
    assert breakdown["score"] == 25.0
    assert [(t["key"], t["value"], t["role"]) for t in breakdown["models"]["rice"]["terms"]] == [
        ("reach", 100.0, "multiplier"),
        ("impact", 2.0, "multiplier"),
        ("confidence", 0.5, "multiplier"),
        ("effort", 4.0, "divisor"),
    ]
    impact = breakdown["models"]["customer_impact"]
    assert impact["score"] == pytest.approx(48.0)
    assert impact["requesting_companies"] == 1
    assert [(t["label"], round(t["contribution"], 6)) for t in impact["terms"]] == [("Globex", 48.0)]


def test_priority_movers_lists_rank_changes_since_a_date(workspace):
    product = ProductFactory(workspace=workspace)
    a = FeatureFactory(product=product, title="A", reach=100, impact=1, confidence_pct=100, effort=1)
    b = FeatureFactory(product=product, title="B", reach=10, impact=1, confidence_pct=100, effort=1)
    recompute_workspace(workspace_id=workspace.pk, now=timezone.now() - timedelta(days=8))
    since = timezone.now() - timedelta(days=7)

    services.feature_update(feature=b, actor=None, data={"reach": 1000})
    recompute_workspace(workspace_id=workspace.pk)

    movers = selectors.priority_movers(workspace=workspace, since=since)
    assert [(m["feature"].title, m["old_rank"], m["new_rank"], m["delta"]) for m in movers] == [
        ("B", 2, 1, 1),
        ("A", 1, 2, -1),
    ]
    assert Feature.objects.get(pk=a.pk).priority_rank == 2


# --- portal pages -------------------------------------------------------------------
