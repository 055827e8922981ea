from datetime import UTC, date, datetime
from unittest.mock import ANY

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback.models import Segment
from priority.recompute import run as recompute_workspace
from productops.models import Role
from roadmap import services
from roadmap.models import (
    Feature,
    FeatureDependency,
    FeatureStatus,
    FeatureStatusChange,
    Goal,
    KeyResult,
    PrioritySnapshot,
    Product,
    RoadmapSettings,
    ScoringModel,
    Tag,
    Team,
    TeamCapacity,
)
from tests.feedback.factories import CompanyFactory, FeedbackLinkFactory
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import (
    CriterionFactory,
    FeatureFactory,
    ProductFactory,
    TeamCapacityFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

FEATURE_KEYS = {
    "id",
    "title",
    "description",
    "public_title",
    "release_note",
    "product",
    "initiative",
    "goals",
    "status",
    "status_changed_at",
    "horizon",
    "planned_start",
    "target_date",
    "effort",
    "owner",
    "team",
    "is_mvp",
    "is_public",
    "merged_into",
    "tags",
    "competitors",
    "depends_on",
    "reach",
    "impact",
    "confidence_pct",
    "ice_impact",
    "ice_confidence",
    "ice_ease",
    "business_value",
    "time_criticality",
    "risk_reduction",
    "job_size",
    "value",
    "score_rice",
    "score_ice",
    "score_wsjf",
    "score_value_effort",
    "score_customer_impact",
    "requesting_companies",
    "arr_at_stake",
    "critical_requests",
    "score_scorecard",
    "priority_score",
    "priority_rank",
    "score_state",
    "scores_computed_at",
    "created_at",
    "updated_at",
}


def url(workspace, resource, pk=None, action=None):
    base = f"/api/v1/workspaces/{workspace.slug}/{resource}/"
    if pk is not None:
        base += f"{pk}/"
    if action:
        base += f"{action}/"
    return base


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def summary(feature, **overrides):
    feature.refresh_from_db()
    return {
        "id": feature.pk,
        "title": feature.title,
        "status": feature.status,
        "horizon": feature.horizon or None,
        "product": feature.product_id,
        "team": feature.team_id,
        "effort": None if feature.effort is None else f"{feature.effort:.2f}",
        "planned_start": feature.planned_start and feature.planned_start.isoformat(),
        "target_date": feature.target_date and feature.target_date.isoformat(),
        "priority_score": feature.priority_score,
        "priority_rank": feature.priority_rank,
        **overrides,
    }


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


@pytest.fixture
def contributor(workspace, member):
    return member(workspace, Role.CONTRIBUTOR).user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Analytics")


# --- products -------------------------------------------------------------------------


def test_product_crud(workspace, pm, session_client):
    client = session_client(pm)

    created = client.post(
        url(workspace, "products"), {"name": "Analytics", "vision": "See it all", "personas": ["Analyst"]}
    )

    assert created.status_code == 201
    product_id = created.json()["id"]
    assert created.json() == {
        "id": product_id,
        "name": "Analytics",
        "vision": "See it all",
        "personas": ["Analyst"],
        "version_scheme": "semver",
        "feature_count": 0,
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert client.get(url(workspace, "products", product_id)).json() == created.json()
    assert [p["name"] for p in client.get(url(workspace, "products")).json()["results"]] == ["Analytics"]

    updated = client.patch(url(workspace, "products", product_id), {"name": "Insights"})

    assert updated.status_code == 200
    assert updated.json()["name"] == "Insights"
    assert updated.json()["vision"] == "See it all"

    assert client.delete(url(workspace, "products", product_id)).status_code == 204
    assert Product.objects.count() == 0


def test_a_product_with_features_cannot_be_deleted(workspace, pm, session_client, product):
    FeatureFactory(product=product)
    client = session_client(pm)

    response = client.delete(url(workspace, "products", product.pk))

    assert response.status_code == 409
    assert response.json()["errors"] == [
        {"code": "has_features", "detail": "The product still has 1 feature(s).", "attr": None}
    ]
    assert client.get(url(workspace, "products", product.pk)).json()["feature_count"] == 1


def test_a_contributor_cannot_create_a_product(workspace, contributor, session_client):
    response = session_client(contributor).post(url(workspace, "products"), {"name": "Nope"})

    assert response.status_code == 403
    assert Product.objects.count() == 0


def test_a_duplicate_product_name_is_a_400(workspace, pm, session_client, product):
    response = session_client(pm).post(url(workspace, "products"), {"name": "ANALYTICS"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] in ("name", None)
    assert Product.objects.count() == 1


# --- features: CRUD -----------------------------------------------------------------


def test_feature_crud(workspace, pm, contributor, session_client, product):
    team = TeamFactory(workspace=workspace, name="Core")
    goal = services.goal_create(workspace=workspace, actor=pm, data={"title": "Grow", "period": "2027 H1"})
    initiative = services.initiative_create(workspace=workspace, actor=pm, data={"title": "Mobile first"})
    client = session_client(contributor)
    payload = {
        "title": "Offline mode",
        "description": "Work without a connection.",
        "product": product.pk,
        "initiative": initiative.pk,
        "goals": [goal.pk],
        "team": team.pk,
        "owner": contributor.pk,
        "horizon": "next",
        "planned_start": "2027-01-04",
        "target_date": "2027-02-26",
        "effort": "5",
        "reach": 100,
        "impact": "2",
        "confidence_pct": 80,
        "public_title": "Offline mode",
        "release_note": "Keep working on the train.",
        "tags": ["Mobile", "sync"],
        "competitors": ["Rival"],
    }

    created = client.post(url(workspace, "features"), payload)

    assert created.status_code == 201
    body = created.json()
    assert set(body) == FEATURE_KEYS
    feature_id = body["id"]
    assert {key: body[key] for key in payload} == {
        **payload,
        "effort": "5.00",
        "impact": "2.00",
        "tags": ["Mobile", "sync"],
    }
    assert body["status"] == "idea"
    assert body["depends_on"] == []
    assert body["score_state"] == "dirty"
    assert body["priority_rank"] is None
    assert body["is_public"] is False
    assert body["is_mvp"] is False  # deprecated and read-only: a must-have of its open release
    assert client.get(url(workspace, "features", feature_id)).json() == body
    assert ids(client.get(url(workspace, "features"))) == [feature_id]

    updated = client.patch(
        url(workspace, "features", feature_id), {"title": "Offline sync", "tags": ["sync"], "goals": []}
    )

    assert updated.status_code == 200
    assert updated.json()["title"] == "Offline sync"
    assert updated.json()["tags"] == ["sync"]
    assert updated.json()["goals"] == []
    assert updated.json()["competitors"] == ["Rival"]
    assert sorted(t["name"] for t in client.get(url(workspace, "tags")).json()["results"]) == [
        "Mobile",
        "sync",
    ]
    assert [c["name"] for c in client.get(url(workspace, "competitors")).json()["results"]] == ["Rival"]

    assert client.delete(url(workspace, "features", feature_id)).status_code == 403  # contributor
    assert session_client(pm).delete(url(workspace, "features", feature_id)).status_code == 204
    assert Feature.objects.count() == 0


def test_unknown_and_read_only_fields_are_rejected(workspace, contributor, session_client, product):
    client = session_client(contributor)
    feature = FeatureFactory(product=product, title="Keep")

    created = client.post(
        url(workspace, "features"),
        {"title": "X", "product": product.pk, "priority_score": 99, "colour": "red"},
    )
    patched = client.patch(url(workspace, "features", feature.pk), {"status": "shipped", "title": "Changed"})
    deprecated = client.patch(url(workspace, "features", feature.pk), {"is_mvp": True})

    assert created.status_code == 400
    assert created.json()["errors"] == [
        {"code": "unknown_field", "detail": "Unknown or read-only field.", "attr": "colour"},
        {"code": "unknown_field", "detail": "Unknown or read-only field.", "attr": "priority_score"},
    ]
    assert patched.status_code == 400
    assert patched.json()["errors"] == [
        {"code": "unknown_field", "detail": "Unknown or read-only field.", "attr": "status"}
    ]
    assert deprecated.status_code == 400
    assert deprecated.json()["errors"] == [
        {"code": "unknown_field", "detail": "Unknown or read-only field.", "attr": "is_mvp"}
    ]
    assert Feature.objects.count() == 1
    feature.refresh_from_db()
    assert (feature.title, feature.status) == ("Keep", "idea")


# --- isolation ------------------------------------------------------------------------


def test_another_workspaces_token_gets_404_on_features_and_products(
    workspace, other_workspace, member, token_client, product
):
    feature = FeatureFactory(product=product, title="Secret")
    attacker = member(other_workspace, Role.OWNER).user
    client = token_client(other_workspace, attacker)

    answers = [
        client.get(url(workspace, "products")).status_code,
        client.get(url(workspace, "products", product.pk)).status_code,
        client.patch(url(workspace, "products", product.pk), {"name": "pwned"}).status_code,
        client.delete(url(workspace, "products", product.pk)).status_code,
        client.get(url(workspace, "features")).status_code,
        client.get(url(workspace, "features", feature.pk)).status_code,
        client.patch(url(workspace, "features", feature.pk), {"title": "pwned"}).status_code,
        client.delete(url(workspace, "features", feature.pk)).status_code,
        client.post(url(workspace, "features", feature.pk, "status"), {"status": "declined"}).status_code,
        client.get(url(workspace, "features", feature.pk, "score")).status_code,
        client.get(url(workspace, "roadmap")).status_code,
        # The victim's ids through the attacker's own workspace.
        client.get(url(other_workspace, "features", feature.pk)).status_code,
        client.patch(url(other_workspace, "features", feature.pk), {"title": "pwned"}).status_code,
        client.delete(url(other_workspace, "features", feature.pk)).status_code,
        client.get(url(other_workspace, "products", product.pk)).status_code,
        client.delete(url(other_workspace, "products", product.pk)).status_code,
    ]

    assert answers == [404] * len(answers)
    assert Product.objects.get(pk=product.pk).name == "Analytics"
    feature.refresh_from_db()
    assert (feature.title, feature.status) == ("Secret", "idea")


def test_a_feature_referencing_another_workspaces_product_is_a_400_and_creates_nothing(
    workspace, other_workspace, contributor, session_client
):
    foreign = ProductFactory(workspace=other_workspace)

    response = session_client(contributor).post(
        url(workspace, "features"), {"title": "X", "product": foreign.pk, "tags": ["new-tag"]}
    )

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "request_id": ANY,
        "errors": [
            {
                "code": "does_not_exist",
                "detail": f'Invalid pk "{foreign.pk}" - object does not exist.',
                "attr": "product",
            }
        ],
    }
    assert Feature.objects.count() == 0
    assert Tag.objects.count() == 0


@pytest.mark.parametrize("field", ["goals", "team", "initiative", "owner", "depends_on"])
def test_related_ids_outside_the_workspace_are_400s(
    workspace, other_workspace, member, contributor, session_client, product, field
):
    feature = FeatureFactory(product=product)
    outsider = member(other_workspace, Role.OWNER).user
    foreign = {
        "goals": [Goal.objects.create(workspace=other_workspace, title="G", period="P").pk],
        "team": TeamFactory(workspace=other_workspace).pk,
        "initiative": services.initiative_create(
            workspace=other_workspace, actor=None, data={"title": "I"}
        ).pk,
        "owner": outsider.pk,
        "depends_on": FeatureFactory(product=ProductFactory(workspace=other_workspace)).pk,
    }[field]
    client = session_client(contributor)

    if field == "depends_on":
        response = client.post(url(workspace, "features", feature.pk, "dependencies"), {field: foreign})
    else:
        response = client.patch(url(workspace, "features", feature.pk), {field: foreign})

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(field, "does_not_exist")]
    feature.refresh_from_db()
    assert (feature.team_id, feature.owner_id, feature.initiative_id) == (None, None, None)
    assert list(feature.goals.all()) == []
    assert FeatureDependency.objects.count() == 0


# --- roles ----------------------------------------------------------------------------


def test_a_viewer_cannot_create_a_feature(workspace, member, session_client, product):
    viewer = member(workspace, Role.VIEWER).user

    response = session_client(viewer).post(url(workspace, "features"), {"title": "X", "product": product.pk})

    assert response.status_code == 403
    assert response.json()["errors"][0]["detail"] == "This needs the Contributor role or higher."
    assert Feature.objects.count() == 0


def test_a_contributor_cannot_change_the_status(workspace, contributor, session_client, product):
    feature = FeatureFactory(product=product)

    response = session_client(contributor).post(
        url(workspace, "features", feature.pk, "status"), {"status": "under_consideration"}
    )

    assert response.status_code == 403
    feature.refresh_from_db()
    assert feature.status == "idea"
    assert FeatureStatusChange.objects.count() == 0


def test_a_read_scope_token_cannot_write(workspace, pm, token_client, product):
    client = token_client(workspace, pm, scopes=("read",))

    created = client.post(url(workspace, "features"), {"title": "X", "product": product.pk})

    assert created.status_code == 403
    assert created.json()["errors"][0]["detail"] == "This token lacks the 'write' scope."
    assert client.get(url(workspace, "features")).status_code == 200
    assert Feature.objects.count() == 0


def test_contributors_update_key_results_but_only_product_managers_create_them(
    workspace, pm, contributor, session_client
):
    goal = services.goal_create(workspace=workspace, actor=pm, data={"title": "Grow", "period": "2027 H1"})
    payload = {
        "goal": goal.pk,
        "metric": "Weekly actives",
        "baseline": "100",
        "target": "200",
        "current": "100",
    }

    refused = session_client(contributor).post(url(workspace, "key-results"), payload)
    created = session_client(pm).post(url(workspace, "key-results"), payload)
    progressed = session_client(contributor).patch(
        url(workspace, "key-results", created.json()["id"]), {"current": "150"}
    )
    moved = session_client(pm).patch(url(workspace, "key-results", created.json()["id"]), {"goal": goal.pk})

    assert refused.status_code == 403
    assert created.status_code == 201
    assert progressed.status_code == 200
    assert progressed.json()["current"] == "150.0000"
    assert progressed.json()["progress"] == 0.5
    assert moved.status_code == 400  # a key result stays under its goal
    assert moved.json()["errors"][0]["code"] == "unknown_field"
    goal_body = session_client(contributor).get(url(workspace, "goals", goal.pk)).json()
    assert [kr["metric"] for kr in goal_body["key_results"]] == ["Weekly actives"]


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("effort", ["0", "-3"])
def test_effort_must_be_positive(workspace, contributor, session_client, product, effort):
    response = session_client(contributor).post(
        url(workspace, "features"), {"title": "X", "product": product.pk, "effort": effort}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "min_value", "detail": "Must be greater than zero.", "attr": "effort"}
    ]
    assert Feature.objects.count() == 0


def test_target_date_before_planned_start_is_a_400(workspace, contributor, session_client, product):
    feature = FeatureFactory(product=product, planned_start=date(2027, 3, 1))
    client = session_client(contributor)

    created = client.post(
        url(workspace, "features"),
        {"title": "X", "product": product.pk, "planned_start": "2027-03-01", "target_date": "2027-02-01"},
    )
    patched = client.patch(url(workspace, "features", feature.pk), {"target_date": "2027-02-01"})

    for response in (created, patched):
        assert response.status_code == 400
        assert response.json()["errors"] == [
            {
                "code": "invalid",
                "detail": "The target date is before the planned start.",
                "attr": "target_date",
            }
        ]
    assert Feature.objects.count() == 1
    feature.refresh_from_db()
    assert feature.target_date is None


def test_skipping_the_workflow_needs_a_reason(workspace, pm, session_client, product):
    feature = FeatureFactory(product=product)
    client = session_client(pm)

    refused = client.post(url(workspace, "features", feature.pk, "status"), {"status": "shipped"})

    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {
            "code": "reason_required",
            "detail": "Moving from Idea to Shipped skips the workflow; give a reason.",
            "attr": "reason",
        }
    ]
    feature.refresh_from_db()
    assert feature.status == "idea"

    shipped = client.post(
        url(workspace, "features", feature.pk, "status"),
        {"status": "shipped", "reason": "Built in a hackathon"},
    )

    assert shipped.status_code == 200
    assert shipped.json()["status"] == "shipped"
    assert shipped.json()["status_changed_at"] is not None
    history = client.get(url(workspace, "features", feature.pk, "status-history")).json()
    assert [(c["from_status"], c["to_status"], c["reason"]) for c in history["results"]] == [
        ("idea", "shipped", "Built in a hackathon")
    ]
    assert history["results"][0]["actor"]["id"] == pm.pk


def test_a_dependency_cycle_is_a_400(workspace, contributor, session_client, product):
    a = FeatureFactory(product=product, title="A")
    b = FeatureFactory(product=product, title="B")
    client = session_client(contributor)

    first = client.post(url(workspace, "features", a.pk, "dependencies"), {"depends_on": b.pk})
    cycle = client.post(url(workspace, "features", b.pk, "dependencies"), {"depends_on": a.pk})
    itself = client.post(url(workspace, "features", a.pk, "dependencies"), {"depends_on": a.pk})

    assert first.status_code == 201
    assert first.json() == {"feature": a.pk, "depends_on": b.pk, "created_at": ANY}
    assert client.get(url(workspace, "features", a.pk)).json()["depends_on"] == [b.pk]
    assert cycle.status_code == 400
    assert cycle.json()["errors"] == [
        {
            "code": "cycle",
            "detail": "'A' already depends on 'B', directly or indirectly: this would make a cycle.",
            "attr": "depends_on",
        }
    ]
    assert itself.status_code == 400
    assert itself.json()["errors"][0]["attr"] == "depends_on"
    assert list(FeatureDependency.objects.values_list("feature_id", "depends_on_id")) == [(a.pk, b.pk)]


def test_removing_a_dependency(workspace, contributor, session_client, product):
    a = FeatureFactory(product=product)
    b = FeatureFactory(product=product)
    services.feature_add_dependency(feature=a, depends_on=b, actor=None)
    client = session_client(contributor)

    response = client.delete(url(workspace, "features", a.pk, "dependencies") + f"{b.pk}/")

    assert response.status_code == 204
    assert FeatureDependency.objects.count() == 0
    assert client.delete(url(workspace, "features", a.pk, "dependencies") + "999999/").status_code == 404


def test_deleting_a_feature_others_depend_on_is_a_409(workspace, pm, session_client, product):
    base = FeatureFactory(product=product, title="Base")
    first = FeatureFactory(product=product, title="First")
    second = FeatureFactory(product=product, title="Second")
    for dependant in (first, second):
        services.feature_add_dependency(feature=dependant, depends_on=base, actor=None)

    response = session_client(pm).delete(url(workspace, "features", base.pk))

    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "code": "has_dependants",
            "detail": f"Other features depend on this one: #{first.pk} First, #{second.pk} Second.",
            "attr": None,
            "dependants": [{"id": first.pk, "title": "First"}, {"id": second.pk, "title": "Second"}],
        }
    ]
    assert Feature.objects.count() == 3
    assert FeatureDependency.objects.count() == 2


@pytest.mark.parametrize(
    ("weights", "attr", "code"),
    [
        ({"critical": "lots"}, "importance_weights.critical", "invalid"),
        ({"critical": [1]}, "importance_weights.critical", "invalid"),
        ({"critical": -1}, "importance_weights.critical", "out_of_range"),
        ({"extreme": 2}, "importance_weights.extreme", "invalid_choice"),
    ],
)
def test_roadmap_settings_weights_that_do_not_parse_are_400s(
    workspace, pm, session_client, weights, attr, code
):
    client = session_client(pm)
    before = client.get(url(workspace, "roadmap-settings")).json()

    response = client.patch(
        url(workspace, "roadmap-settings"), {"scoring_model": "ice", "importance_weights": weights}
    )

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]
    assert client.get(url(workspace, "roadmap-settings")).json() == before


def test_a_nan_weight_is_a_400(workspace, pm, session_client):
    response = session_client(pm).patch(
        url(workspace, "roadmap-settings"), {"importance_weights": {"critical": "NaN"}}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "importance_weights.critical"


def test_roadmap_settings_read_by_members_written_by_product_managers(
    workspace, pm, contributor, session_client
):
    read = session_client(contributor).get(url(workspace, "roadmap-settings"))
    refused = session_client(contributor).patch(url(workspace, "roadmap-settings"), {"scoring_model": "ice"})
    changed = session_client(pm).patch(
        url(workspace, "roadmap-settings"),
        {"scoring_model": "wsjf", "importance_weights": {"critical": "8"}, "recency_half_life_days": 90},
    )

    assert read.status_code == 200
    assert read.json() == {
        "scoring_model": "rice",
        "effort_unit": "points",
        "importance_weights": {"nice_to_have": 1.0, "important": 2.0, "critical": 4.0},
        "segment_weights": {"enterprise": 3.0, "mid_market": 2.0, "smb": 1.0, "": 1.0},
        "vote_weight": "1.000",
        "recency_half_life_days": 180,
        "customer_impact_scale": "20.000",
        "last_recomputed_at": None,
    }
    assert refused.status_code == 403
    assert changed.status_code == 200
    assert changed.json()["scoring_model"] == "wsjf"
    assert changed.json()["importance_weights"] == {"nice_to_have": 1.0, "important": 2.0, "critical": 8.0}
    assert RoadmapSettings.objects.get(workspace=workspace).recency_half_life_days == 90


def test_moving_a_capacity_onto_a_taken_period_is_a_400(workspace, pm, session_client):
    team = TeamFactory(workspace=workspace)
    TeamCapacityFactory(team=team, period="2027-Q1")
    second = TeamCapacityFactory(team=team, period="2027-Q2", starts_on="2027-04-01", ends_on="2027-06-30")

    response = session_client(pm).patch(url(workspace, "team-capacities", second.pk), {"period": "2027-Q1"})

    assert response.status_code == 400
    assert TeamCapacity.objects.get(pk=second.pk).period == "2027-Q2"


# --- other resources --------------------------------------------------------------------


def test_goals_teams_capacities_initiatives_and_criteria(workspace, pm, contributor, session_client, product):
    client = session_client(pm)

    company_goal = client.post(url(workspace, "goals"), {"title": "Grow", "period": "2027"})
    goal = client.post(
        url(workspace, "goals"),
        {"title": "Retain", "period": "2027 H1", "product": product.pk, "parent": company_goal.json()["id"]},
    )
    own_parent = client.patch(
        url(workspace, "goals", company_goal.json()["id"]), {"parent": goal.json()["id"]}
    )
    team = client.post(url(workspace, "teams"), {"name": "Core"})
    capacity = client.post(
        url(workspace, "team-capacities"),
        {
            "team": team.json()["id"],
            "period": "2027-Q1",
            "starts_on": "2027-01-01",
            "ends_on": "2027-03-31",
            "capacity": "30",
        },
    )
    backwards = client.patch(
        url(workspace, "team-capacities", capacity.json()["id"]), {"ends_on": "2026-12-01"}
    )
    initiative = client.post(
        url(workspace, "initiatives"),
        {
            "title": "Mobile",
            "goal": goal.json()["id"],
            "owner": contributor.pk,
            "investment_target_pct": "25",
        },
    )
    criterion = client.post(
        url(workspace, "scorecard-criteria"), {"key": "fit", "name": "Strategic fit", "weight": "2"}
    )

    assert [r.status_code for r in (company_goal, goal, team, capacity, initiative, criterion)] == [201] * 6
    assert goal.json() == {
        "id": ANY,
        "title": "Retain",
        "description": "",
        "period": "2027 H1",
        "product": product.pk,
        "parent": company_goal.json()["id"],
        "owner": None,
        "key_results": [],
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert own_parent.status_code == 400
    assert own_parent.json()["errors"][0]["attr"] == "parent"
    assert capacity.json() == {
        "id": ANY,
        "team": team.json()["id"],
        "team_name": "Core",
        "period": "2027-Q1",
        "starts_on": "2027-01-01",
        "ends_on": "2027-03-31",
        "capacity": "30.00",
    }
    assert backwards.status_code == 400
    assert backwards.json()["errors"][0]["attr"] == "ends_on"
    assert initiative.json()["investment_target_pct"] == "25.00"
    assert criterion.json() == {
        "id": ANY,
        "key": "fit",
        "name": "Strategic fit",
        "weight": "2.000",
        "source": "manual",
        "position": 0,
    }
    assert ids(client.get(url(workspace, "goals") + f"?parent={company_goal.json()['id']}")) == [
        goal.json()["id"]
    ]
    assert ids(client.get(url(workspace, "goals") + "?search=reta")) == [goal.json()["id"]]
    assert ids(client.get(url(workspace, "goals") + "?period=2027")) == [company_goal.json()["id"]]
    assert ids(client.get(url(workspace, "initiatives") + f"?owner={contributor.pk}")) == [
        initiative.json()["id"]
    ]
    assert ids(client.get(url(workspace, "team-capacities") + f"?team={team.json()['id']}")) == [
        capacity.json()["id"]
    ]
    assert (
        client.patch(url(workspace, "teams", team.json()["id"]), {"name": "Platform"}).json()["name"]
        == "Platform"
    )

    for resource, body in (
        ("scorecard-criteria", criterion),
        ("initiatives", initiative),
        ("team-capacities", capacity),
        ("teams", team),
        ("goals", goal),
    ):
        assert client.delete(url(workspace, resource, body.json()["id"])).status_code == 204
    assert (Team.objects.count(), TeamCapacity.objects.count(), Goal.objects.count()) == (0, 0, 1)


def test_criterion_values(workspace, contributor, session_client, product):
    CriterionFactory(workspace=workspace, key="fit", name="Fit")
    CriterionFactory(workspace=workspace, key="gap", name="Gap", source="competitive_gap")
    feature = FeatureFactory(product=product)
    client = session_client(contributor)
    path = url(workspace, "features", feature.pk, "criterion-values")

    set_ = client.put(path, {"values": {"fit": 7.5}})
    computed = client.put(path, {"values": {"gap": 3}})
    unknown = client.put(path, {"values": {"nope": 3}})
    too_big = client.put(path, {"values": {"fit": 11}})
    cleared = client.put(path, {"values": {"fit": None}})

    assert set_.status_code == 200
    assert set_.json() == {"values": {"fit": "7.50"}}
    assert [
        (r.status_code, r.json()["errors"][0]["attr"], r.json()["errors"][0]["code"])
        for r in (computed, unknown, too_big)
    ] == [
        (400, "values.gap", "read_only"),
        (400, "values.nope", "invalid_choice"),
        (400, "values.fit", "out_of_range"),
    ]
    assert cleared.json() == {"values": {}}


# --- scores -----------------------------------------------------------------------------


def test_score_breakdown_after_a_recompute(workspace, contributor, session_client, product):
    CriterionFactory(workspace=workspace, key="fit", name="Fit", weight=1)
    feature = FeatureFactory(product=product, reach=100, impact=2, confidence_pct=50, effort=4)
    company = CompanyFactory(workspace=workspace, name="Initech", segment=Segment.ENTERPRISE, arr=250_000)
    FeedbackLinkFactory(feature=feature, item__company=company, importance="critical")
    client = session_client(contributor)
    client.put(url(workspace, "features", feature.pk, "criterion-values"), {"values": {"fit": 8}})

    recompute_workspace(workspace_id=workspace.pk)
    response = client.get(url(workspace, "features", feature.pk, "score"))

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("feature_id", "scoring_model", "score", "rank")} == {
        "feature_id": feature.pk,
        "scoring_model": "rice",
        "score": 25.0,
        "rank": 1,
    }
    assert body["computed_at"] is not None
    assert set(body["models"]) == set(ScoringModel.values)
    assert body["models"]["rice"] == {
        "score": 25.0,
        "formula": "reach × impact × confidence ÷ effort",
        "terms": [
            {"key": "reach", "label": "Reach", "value": 100.0, "role": "multiplier", "contribution": None},
            {"key": "impact", "label": "Impact", "value": 2.0, "role": "multiplier", "contribution": None},
            {
                "key": "confidence",
                "label": "Confidence",
                "value": 0.5,
                "role": "multiplier",
                "contribution": None,
            },
            {"key": "effort", "label": "Effort", "value": 4.0, "role": "divisor", "contribution": None},
        ],
    }
    impact = body["models"]["customer_impact"]
    assert impact["requesting_companies"] == 1
    assert [(t["company"]["name"], t["role"]) for t in impact["terms"]] == [("Initech", "addend")]
    assert impact["terms"][0]["contribution"] == pytest.approx(impact["score"])
    assert [(t["key"], t["value"], t["is_set"]) for t in body["models"]["scorecard"]["terms"]] == [
        ("fit", 8.0, True)
    ]
    listed = client.get(url(workspace, "features")).json()["results"][0]
    assert {
        k: listed[k]
        for k in ("score_rice", "priority_score", "priority_rank", "score_state", "score_scorecard")
    } == {
        "score_rice": 25.0,
        "priority_score": 25.0,
        "priority_rank": 1,
        "score_state": "clean",
        "score_scorecard": 8.0,
    }
    assert listed["requesting_companies"] == 1
    assert (listed["arr_at_stake"], listed["critical_requests"]) == (250_000.0, 1)


def test_priority_history_newest_first(workspace, contributor, session_client, product):
    feature = FeatureFactory(product=product, reach=100, impact=1, confidence_pct=100, effort=4)
    recompute_workspace(workspace_id=workspace.pk, now=datetime(2027, 1, 1, tzinfo=UTC))
    services.feature_update(feature=feature, actor=None, data={"reach": 200})
    recompute_workspace(workspace_id=workspace.pk, now=datetime(2027, 1, 2, tzinfo=UTC))

    response = session_client(contributor).get(url(workspace, "features", feature.pk, "history"))

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert response.json()["results"] == [
        {"score": 50.0, "rank": 1, "scoring_model": "rice", "computed_at": "2027-01-02T00:00:00Z"},
        {"score": 25.0, "rank": 1, "scoring_model": "rice", "computed_at": "2027-01-01T00:00:00Z"},
    ]


# --- capacity fit --------------------------------------------------------------------------


def test_capacity_fit_returns_fits_and_overflow(workspace, contributor, session_client, product):
    team = TeamFactory(workspace=workspace, name="Core")
    capacity = TeamCapacityFactory(team=team, capacity=10)
    planned = {
        "product": product,
        "team": team,
        "status": FeatureStatus.PLANNED,
        "impact": 1,
        "confidence_pct": 100,
        "planned_start": date(2027, 1, 1),
        "target_date": date(2027, 3, 31),
    }
    elsewhere = FeatureFactory(product=product, title="Elsewhere", status=FeatureStatus.PLANNED)
    a = FeatureFactory(**planned, title="A", effort=4, reach=100)
    b = FeatureFactory(**planned, title="B", effort=5, reach=100)
    c = FeatureFactory(**planned, title="C", effort=3, reach=30)
    d = FeatureFactory(**planned, title="D")
    e = FeatureFactory(**planned, title="E", effort=1, reach=5)
    ongoing = FeatureFactory(
        product=product,
        team=team,
        status=FeatureStatus.IN_PROGRESS,
        title="Ongoing",
        effort=1,
        target_date=date(2027, 2, 1),
    )
    undated = FeatureFactory(
        product=product, team=team, status=FeatureStatus.PLANNED, title="Undated", effort=2
    )
    FeatureFactory(
        product=product,
        team=team,
        status=FeatureStatus.PLANNED,
        title="Next year",
        effort=2,
        target_date=date(2028, 2, 1),
    )
    FeatureFactory(product=product, team=team, status=FeatureStatus.SHIPPED, title="Done", effort=1)
    services.feature_add_dependency(feature=e, depends_on=elsewhere, actor=None)
    recompute_workspace(workspace_id=workspace.pk)

    response = session_client(contributor).get(url(workspace, "capacity-fit") + f"?capacity={capacity.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "capacity": {
            "id": capacity.pk,
            "team": team.pk,
            "team_name": "Core",
            "period": "2027-Q1",
            "starts_on": "2027-01-01",
            "ends_on": "2027-03-31",
            "capacity": "10.00",
        },
        "used": "10.00",
        "remaining": "0.00",
        "fits": [
            {**summary(ongoing), "cost": "1.00"},
            {**summary(a), "cost": "4.00"},
            {**summary(b), "cost": "5.00"},
        ],
        "fits_total": 3,
        "overflow": [
            {"feature": summary(c), "reason": "needs 3.00 here with its dependencies, 0.00 left"},
            {
                "feature": summary(e),
                "reason": "depends on “Elsewhere”, which is not scheduled before this period",
            },
            {"feature": summary(d), "reason": "no effort estimate"},
        ],
        "overflow_total": 3,
        "unscheduled": [summary(undated)],
        "unscheduled_total": 1,
    }


@pytest.mark.parametrize(
    ("query", "code"), [("", "required"), ("?capacity=abc", "invalid"), ("?capacity=0", "min_value")]
)
def test_capacity_fit_needs_a_capacity_id(workspace, contributor, session_client, query, code):
    response = session_client(contributor).get(url(workspace, "capacity-fit") + query)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("capacity", code)]


def test_capacity_fit_of_another_workspaces_capacity_is_a_404(
    workspace, other_workspace, contributor, session_client
):
    foreign = TeamCapacityFactory(team=TeamFactory(workspace=other_workspace))

    response = session_client(contributor).get(url(workspace, "capacity-fit") + f"?capacity={foreign.pk}")

    assert response.status_code == 404


# --- roadmap ---------------------------------------------------------------------------------


def test_roadmap_grouped_by_horizon(workspace, contributor, session_client, product):
    now = FeatureFactory(product=product, horizon="now")
    next_ = FeatureFactory(product=product, horizon="next", status=FeatureStatus.PLANNED)
    later = FeatureFactory(product=product, horizon="later")
    unscheduled = FeatureFactory(product=product)
    FeatureFactory(product=product, horizon="now", status=FeatureStatus.DECLINED)
    client = session_client(contributor)

    everything = client.get(url(workspace, "roadmap"))
    filtered = client.get(url(workspace, "roadmap") + "?group_by=horizon&status=idea&status=planned")

    assert everything.status_code == 200
    assert [everything.json()[k]["count"] for k in ("now", "next", "later", "unscheduled")] == [2, 1, 1, 1]

    def group(*features):
        return {"count": len(features), "features": [summary(f) for f in features], "more": None}

    assert filtered.json() == {
        "group_by": "horizon",
        "now": group(now),
        "next": group(next_),
        "later": group(later),
        "unscheduled": group(unscheduled),
    }


def test_a_roadmap_group_holds_its_top_50_and_links_to_the_rest(
    workspace, contributor, session_client, product, django_assert_max_num_queries
):
    from roadmap.models import Feature

    Feature.objects.bulk_create(
        [
            Feature(workspace=workspace, product=product, title=f"F{i}", horizon="now", priority_rank=i + 1)
            for i in range(60)
        ]
    )
    client = session_client(contributor)

    with django_assert_max_num_queries(14):
        response = client.get(url(workspace, "roadmap") + "?status=idea")

    now = response.json()["now"]
    assert (now["count"], len(now["features"])) == (60, 50)
    assert [f["priority_rank"] for f in now["features"]] == list(range(1, 51))
    assert now["more"] == f"http://testserver{url(workspace, 'features')}?status=idea&horizon=now"
    everything = client.get(now["more"] + "&page_size=100").json()
    assert everything["count"] == 60


def test_roadmap_grouped_by_month(workspace, contributor, session_client, product):
    spans_two = FeatureFactory(
        product=product, planned_start=date(2027, 1, 10), target_date=date(2027, 2, 20)
    )
    target_only = FeatureFactory(product=product, target_date=date(2027, 3, 5))
    FeatureFactory(product=product, planned_start=date(2026, 12, 1))  # before the range
    started_before = FeatureFactory(
        product=product, planned_start=date(2026, 11, 1), target_date=date(2027, 1, 15)
    )
    FeatureFactory(product=product)  # no dates
    runs_past = FeatureFactory(product=product, planned_start=date(2027, 3, 20), target_date=date(2027, 6, 1))

    response = session_client(contributor).get(
        url(workspace, "roadmap") + "?group_by=month&start=2027-01-01&end=2027-03-31"
    )

    assert response.status_code == 200

    def month(day, *features):
        return {
            "month": day,
            "count": len(features),
            "features": [summary(f) for f in features],
            "more": None,
        }

    assert response.json() == {
        "group_by": "month",
        "months": [
            month("2027-01-01", spans_two, started_before),
            month("2027-02-01", spans_two),
            month("2027-03-01", target_only, runs_past),
        ],
    }


@pytest.mark.parametrize(
    ("query", "attr", "code"),
    [
        ("group_by=week", "group_by", "invalid_choice"),
        ("group_by=month&end=2027-03-31", "start", "required"),
        ("group_by=month&start=2027-01-01", "end", "required"),
        ("group_by=month&start=nope&end=2027-03-31", "start", "invalid"),
        ("group_by=month&start=2027-03-01&end=2027-01-31", "end", "invalid"),
        ("group_by=month&start=2027-01-01&end=2030-01-01", "end", "out_of_range"),
        ("status=bogus", "status", "invalid_choice"),
        ("team=x", "team", "invalid"),
    ],
)
def test_roadmap_bad_parameters_are_400s(workspace, contributor, session_client, query, attr, code):
    response = session_client(contributor).get(url(workspace, "roadmap") + "?" + query)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]


def test_roadmap_accepts_36_months(workspace, contributor, session_client):
    response = session_client(contributor).get(
        url(workspace, "roadmap") + "?group_by=month&start=2027-01-15&end=2029-12-01"
    )

    assert response.status_code == 200
    assert len(response.json()["months"]) == 36


# --- filters and ordering --------------------------------------------------------------------


def test_feature_filters(workspace, contributor, session_client, product):
    other_product = ProductFactory(workspace=workspace)
    offline = services.feature_create(
        workspace=workspace,
        actor=None,
        data={
            "title": "Offline mode",
            "description": "Sync later",
            "product": product,
            "horizon": "now",
            "tags": ["Mobile"],
        },
    )
    web = services.feature_create(
        workspace=workspace,
        actor=None,
        data={"title": "Web app", "product": product, "horizon": "next", "tags": ["Web"]},
    )
    # is_mvp (deprecated) reads the scope: a must-have of the feature's open release.
    ScopeItemFactory(release=ReleaseFactory(product=product), feature=web, is_must_have=True)
    shipped = services.feature_create(
        workspace=workspace, actor=None, data={"title": "Push", "product": product, "tags": ["mobile"]}
    )
    declined = services.feature_create(
        workspace=workspace, actor=None, data={"title": "Fax", "product": other_product}
    )
    Feature.objects.filter(pk=web.pk).update(status=FeatureStatus.PLANNED)
    Feature.objects.filter(pk=shipped.pk).update(status=FeatureStatus.SHIPPED)
    Feature.objects.filter(pk=declined.pk).update(status=FeatureStatus.DECLINED)
    client = session_client(contributor)

    def listed(query):
        response = client.get(url(workspace, "features") + "?" + query)
        assert response.status_code == 200
        return ids(response)

    assert listed("status=idea&status=shipped") == [offline.pk, shipped.pk]
    assert listed("tag=MOBILE") == [offline.pk, shipped.pk]
    assert listed("tag=web&status=planned") == [web.pk]
    assert listed("horizon=now") == [offline.pk]
    assert listed("horizon=unscheduled") == [shipped.pk, declined.pk]
    assert listed("search=sync") == [offline.pk]
    assert listed("search=offline+mode") == [offline.pk]
    assert listed(f"product={other_product.pk}") == [declined.pk]
    assert listed("is_mvp=true") == [web.pk]
    assert listed("tag=none") == []
    bad = client.get(url(workspace, "features") + "?status=bogus")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "status"


def test_feature_ordering_by_priority_score(workspace, contributor, session_client, product):
    services.roadmap_settings_update(workspace=workspace, actor=None, data={"scoring_model": "ice"})
    low = FeatureFactory(product=product, ice_impact=2, ice_confidence=2, ice_ease=2)
    high = FeatureFactory(product=product, ice_impact=5, ice_confidence=5, ice_ease=5)
    unscored = FeatureFactory(product=product)
    middle = FeatureFactory(product=product, ice_impact=3, ice_confidence=3, ice_ease=3)
    recompute_workspace(workspace_id=workspace.pk)
    client = session_client(contributor)

    best_first = client.get(url(workspace, "features") + "?ordering=-priority_score")
    worst_first = client.get(url(workspace, "features") + "?ordering=priority_score")

    assert ids(best_first) == [high.pk, middle.pk, low.pk, unscored.pk]
    assert [f["priority_score"] for f in best_first.json()["results"]] == [125.0, 27.0, 8.0, None]
    assert ids(worst_first) == [low.pk, middle.pk, high.pk, unscored.pk]  # unscored last either way
    assert ids(client.get(url(workspace, "features") + "?ordering=-score_ice")) == ids(best_first)
    assert ids(client.get(url(workspace, "features"))) == [high.pk, middle.pk, low.pk, unscored.pk]
    bad = client.get(url(workspace, "features") + "?ordering=-snapshot_score")
    assert ids(bad) == ids(client.get(url(workspace, "features")))  # unknown fields are ignored


def test_the_default_order_puts_unranked_features_last(workspace, contributor, session_client, product):
    shipped = FeatureFactory(product=product, status=FeatureStatus.SHIPPED)
    ranked = FeatureFactory(product=product)
    recompute_workspace(workspace_id=workspace.pk)

    response = session_client(contributor).get(url(workspace, "features"))

    assert ids(response) == [ranked.pk, shipped.pk]


# --- query counts ----------------------------------------------------------------------------


LIST_ENDPOINTS = {
    # resource: (path under the workspace, most queries allowed)
    "products": ("products/", 5),
    "goals": ("goals/", 6),
    "key-results": ("key-results/", 5),
    "initiatives": ("initiatives/", 5),
    "teams": ("teams/", 5),
    "team-capacities": ("team-capacities/", 5),
    "features": ("features/", 9),
    "scorecard-criteria": ("scorecard-criteria/", 5),
    "tags": ("tags/", 5),
    "competitors": ("competitors/", 5),
    "history": ("features/{tracked}/history/", 10),
    "status-history": ("features/{tracked}/status-history/", 10),
    "roadmap": ("roadmap/", 8),
    "roadmap-by-month": ("roadmap/?group_by=month&start=2027-01-01&end=2027-12-31", 8),
    "capacity-fit": ("capacity-fit/?capacity={capacity}", 6),
}


@pytest.mark.parametrize("resource", list(LIST_ENDPOINTS))
def test_list_query_count_does_not_grow_with_rows(
    workspace, pm, session_client, resource, django_assert_max_num_queries
):
    product = ProductFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    capacity = TeamCapacityFactory(team=team, capacity=1000)
    tracked = FeatureFactory(
        product=product, team=team, status=FeatureStatus.PLANNED, effort=1, target_date=date(2027, 3, 1)
    )
    client = session_client(pm)
    path, most = LIST_ENDPOINTS[resource]
    path = f"/api/v1/workspaces/{workspace.slug}/" + path.format(tracked=tracked.pk, capacity=capacity.pk)
    previous = {"goal": None, "feature": tracked}

    def add_rows(n):
        for _ in range(n):
            i = Feature.objects.count()
            own_product = ProductFactory(workspace=workspace)
            goal = services.goal_create(
                workspace=workspace,
                actor=pm,
                data={
                    "title": f"G{i}",
                    "period": "2027",
                    "product": own_product,
                    "parent": previous["goal"],
                    "owner": pm,
                },
            )
            KeyResult.objects.create(
                workspace=workspace, goal=goal, metric="m", baseline=0, target=10, current=i
            )
            initiative = services.initiative_create(
                workspace=workspace, actor=pm, data={"title": f"I{i}", "goal": goal, "owner": pm}
            )
            own_team = TeamFactory(workspace=workspace)
            TeamCapacityFactory(team=own_team)
            CriterionFactory(workspace=workspace)
            feature = services.feature_create(
                workspace=workspace,
                actor=pm,
                data={
                    "title": f"F{i}",
                    "product": own_product,
                    "initiative": initiative,
                    "team": team,
                    "owner": pm,
                    "effort": 1,
                    "horizon": "now",
                    "planned_start": date(2027, 1, 1 + i),
                    "goals": [goal],
                    "tags": [f"t{i}", "shared"],
                    "competitors": [f"c{i}"],
                },
            )
            Feature.objects.filter(pk=feature.pk).update(status=FeatureStatus.PLANNED)
            services.feature_add_dependency(feature=feature, depends_on=previous["feature"], actor=pm)
            for status in (FeatureStatus.UNDER_CONSIDERATION, FeatureStatus.PLANNED):
                services.feature_change_status(feature=tracked, to_status=status, actor=pm)
            PrioritySnapshot.objects.create(
                workspace=workspace,
                feature=tracked,
                scoring_model="rice",
                score=i,
                rank=1,
                computed_at=datetime.now(UTC),
            )
            previous.update(goal=goal, feature=feature)

    add_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    add_rows(10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)

    assert response.status_code == 200
    body = response.json()
    rows = (
        body.get("results")
        or body.get("now", {}).get("features")
        or body.get("fits")
        or body.get("months", [{}])[0].get("features")
    )
    assert len(rows) >= 10
    assert len(many) == len(few)
    with django_assert_max_num_queries(most):
        client.get(path)


# --- schema -------------------------------------------------------------------------------------


def test_the_schema_has_every_roadmap_endpoint_and_no_warnings(tmp_path):
    schema_file = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = schema_file.read_text()
    for path in (
        "products/",
        "goals/",
        "key-results/",
        "initiatives/",
        "teams/",
        "team-capacities/",
        "features/",
        "features/{id}/status/",
        "features/{id}/score/",
        "features/{id}/history/",
        "features/{id}/status-history/",
        "features/{id}/dependencies/",
        "features/{id}/dependencies/{depends_on_id}/",
        "features/{id}/criterion-values/",
        "scorecard-criteria/",
        "tags/",
        "competitors/",
        "roadmap-settings/",
        "capacity-fit/",
        "roadmap/",
    ):
        assert f"/api/v1/workspaces/{{workspace_slug}}/{path}:" in schema


def test_a_token_acts_as_its_user(workspace, pm, token_client, product):
    created = token_client(workspace, pm).post(
        url(workspace, "features"), {"title": "Via token", "product": product.pk}
    )

    assert created.status_code == 201
    assert FeatureStatusChange.objects.get(feature_id=created.json()["id"]).actor == pm


# --- dates: planning dates from 2000 to 2100 -------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("planned_start", "1999-12-31"), ("target_date", "2101-01-01"), ("target_date", "9999-12-31")],
)
def test_a_feature_planned_outside_2000_to_2100_is_a_field_error(
    workspace, contributor, session_client, product, field, value
):
    client = session_client(contributor)
    feature = FeatureFactory(product=product)

    created = client.post(url(workspace, "features"), {"title": "Far", "product": product.pk, field: value})
    updated = client.patch(url(workspace, "features", feature.pk), {field: value})

    for response in (created, updated):
        assert response.status_code == 400
        assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("out_of_range", field)]
    assert Feature.objects.count() == 1
    feature.refresh_from_db()
    assert getattr(feature, field) is None


def test_a_capacity_period_outside_2000_to_2100_is_a_field_error(workspace, pm, session_client):
    team = TeamFactory(workspace=workspace)

    response = session_client(pm).post(
        url(workspace, "team-capacities"),
        {
            "team": team.pk,
            "period": "Old",
            "starts_on": "1899-12-30",
            "ends_on": "1900-03-31",
            "capacity": "5",
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "out_of_range"
    assert response.json()["errors"][0]["attr"] == "starts_on"
    assert not TeamCapacity.objects.exists()


def test_a_monthly_roadmap_ending_in_december_9999_is_clamped_not_a_500(
    workspace, contributor, session_client
):
    response = session_client(contributor).get(
        url(workspace, "roadmap") + "?group_by=month&start=9999-10-01&end=9999-12-31"
    )

    assert response.status_code == 200
    assert [m["month"] for m in response.json()["months"]] == ["2100-12-01"]


# --- uniqueness and ranges answer with their field, never a constraint's name -------------------


@pytest.mark.parametrize(
    ("resource", "first", "second", "attr", "code"),
    [
        ("products", {"name": "Web"}, {"name": "WEB"}, "name", "unique"),
        ("teams", {"name": "Core"}, {"name": "core"}, "name", "unique"),
        (
            "scorecard-criteria",
            {"key": "fit", "name": "Fit", "weight": "1"},
            {"key": "fit", "name": "Fit again", "weight": "1"},
            "key",
            "unique",
        ),
    ],
)
def test_a_taken_name_is_a_field_error_with_a_stable_code(
    workspace, pm, session_client, resource, first, second, attr, code
):
    client = session_client(pm)

    assert client.post(url(workspace, resource), first).status_code == 201
    response = client.post(url(workspace, resource), second)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]
    assert "Constraint" not in response.json()["errors"][0]["detail"]


def test_a_taken_period_and_a_zero_half_life_are_field_errors(workspace, pm, session_client):
    client = session_client(pm)
    team = TeamFactory(workspace=workspace)
    path = url(workspace, "team-capacities")

    assert client.post(path, {"team": team.pk, "period": "2027-Q1", "capacity": "5"}).status_code == 201
    again = client.post(path, {"team": team.pk, "period": "2027-Q1", "capacity": "5"})
    zero = client.patch(url(workspace, "roadmap-settings"), {"recency_half_life_days": 0})
    huge = client.patch(url(workspace, "roadmap-settings"), {"recency_half_life_days": 10**12})

    assert [(e["attr"], e["code"]) for e in again.json()["errors"]] == [("period", "unique")]
    assert [(e["attr"], e["code"]) for e in zero.json()["errors"]] == [
        ("recency_half_life_days", "min_value")
    ]
    assert [(e["attr"], e["code"]) for e in huge.json()["errors"]] == [
        ("recency_half_life_days", "max_value")
    ]


# --- incremental sync ------------------------------------------------------------------------------


def test_features_sync_by_update_time_and_deletions_are_tombstones(workspace, pm, session_client, product):
    from django.utils import timezone

    old = FeatureFactory(product=product, title="Old")
    cut = timezone.now()
    client = session_client(pm)
    client.patch(url(workspace, "features", old.pk), {"title": "Old, renamed"})
    doomed = FeatureFactory(product=product, title="Doomed")
    client.delete(url(workspace, "features", doomed.pk))

    changed = client.get(url(workspace, "features"), {"updated_after": cut.isoformat()})
    gone = client.get(url(workspace, "features") + "deleted/", {"since": cut.isoformat()})

    assert ids(changed) == [old.pk]
    assert [(row["id"], bool(row["deleted_at"])) for row in gone.json()["results"]] == [(doomed.pk, True)]


def test_a_teams_capacities_are_tombstoned_with_the_team(workspace, pm, session_client):
    team = TeamFactory(workspace=workspace)
    capacity = TeamCapacityFactory(team=team)
    client = session_client(pm)

    assert client.delete(url(workspace, "teams", team.pk)).status_code == 204

    assert [r["id"] for r in client.get(url(workspace, "teams") + "deleted/").json()["results"]] == [team.pk]
    assert [
        r["id"] for r in client.get(url(workspace, "team-capacities") + "deleted/").json()["results"]
    ] == [capacity.pk]
