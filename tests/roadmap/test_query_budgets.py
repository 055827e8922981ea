"""Fixed query budgets of the roadmap API's detail reads and writes (api/roadmap).

Each budget is the exact number of queries of one request, session authentication included
(session, user, membership); a detail read costs the same with one related row as with five
(``rich``), so a budget that grew with rows fails here. The list endpoints' budgets are in
test_api.py. Detail routes are enumerated from the URL conf: a new one without a budget fails
``test_every_detail_route_has_a_budget``.
"""

from __future__ import annotations

from datetime import date

import pytest

from productops.models import Role
from roadmap import services
from roadmap.models import FeatureStatus
from tests.query_routes import object_get_routes
from tests.roadmap.factories import (
    CriterionFactory,
    FeatureFactory,
    GoalFactory,
    KeyResultFactory,
    ProductFactory,
    TeamCapacityFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


def url(workspace, *parts) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/" + "".join(f"{p}/" for p in parts)


def _feature(workspace, pm, n: int):
    """A feature with ``n`` tags, goals, competitors and dependencies, an initiative, owner and team."""
    product = ProductFactory(workspace=workspace)
    goals = [GoalFactory(workspace=workspace) for _ in range(n)]
    initiative = services.initiative_create(
        workspace=workspace, actor=pm, data={"title": f"I{n}", "goal": goals[0], "owner": pm}
    )
    feature = services.feature_create(
        workspace=workspace,
        actor=pm,
        data={
            "title": f"Rich {n}",
            "product": product,
            "initiative": initiative,
            "owner": pm,
            "team": TeamFactory(workspace=workspace),
            "goals": goals,
            "tags": [f"tag-{n}-{i}" for i in range(n)],
            "competitors": [f"rival-{n}-{i}" for i in range(n)],
            "effort": 3,
            "target_date": date(2027, 3, 1),
        },
    )
    for _ in range(n):
        services.feature_add_dependency(feature=feature, depends_on=FeatureFactory(product=product), actor=pm)
    services.feature_set_criterion_values(
        feature=feature, actor=pm, values={CriterionFactory(workspace=workspace).key: 3 for _ in range(n)}
    )
    return feature


def _goal(workspace, pm, n: int):
    parent = GoalFactory(workspace=workspace)
    goal = GoalFactory(workspace=workspace, parent=parent, product=ProductFactory(workspace=workspace))
    for _ in range(n):
        KeyResultFactory(goal=goal)
    return goal


def _product(workspace, pm, n: int):
    product = ProductFactory(workspace=workspace)
    for _ in range(n):
        FeatureFactory(product=product)
    return product


def _key_result(workspace, pm, n: int):
    key_result = KeyResultFactory(goal=GoalFactory(workspace=workspace))
    for i in range(n):
        services.key_result_update(key_result=key_result, actor=pm, data={"current": i + 1})
    return key_result


def _initiative(workspace, pm, n: int):
    initiative = services.initiative_create(
        workspace=workspace, actor=pm, data={"title": f"I{n}", "goal": GoalFactory(workspace=workspace)}
    )
    for _ in range(n):
        FeatureFactory(product=ProductFactory(workspace=workspace), initiative=initiative)
    return initiative


def _team(workspace, pm, n: int):
    team = TeamFactory(workspace=workspace)
    for i in range(n):
        TeamCapacityFactory(
            team=team, period=f"2027-{i}", starts_on=date(2027, i + 1, 1), ends_on=date(2027, i + 1, 28)
        )
    return team


def _team_capacity(workspace, pm, n: int):
    capacity = TeamCapacityFactory(team=TeamFactory(workspace=workspace), capacity=100)
    for _ in range(n):
        FeatureFactory(
            product=ProductFactory(workspace=workspace),
            team=capacity.team,
            target_date=date(2027, 2, 1),
            effort=1,
        )
    return capacity


def _criterion(workspace, pm, n: int):
    return CriterionFactory(workspace=workspace)


#: route name → (builder of the object with ``n`` related rows, exact queries of its GET)
DETAIL_BUDGETS = {
    "product-detail": (_product, 4),
    "goal-detail": (_goal, 5),
    "key-result-detail": (_key_result, 4),
    "initiative-detail": (_initiative, 4),
    "team-detail": (_team, 4),
    "team-capacity-detail": (_team_capacity, 4),
    "feature-detail": (_feature, 5),
    "feature-score": (_feature, 11),
    "scorecard-criterion-detail": (_criterion, 4),
}


DETAIL_PATHS = {
    "product-detail": "products/{pk}",
    "goal-detail": "goals/{pk}",
    "key-result-detail": "key-results/{pk}",
    "initiative-detail": "initiatives/{pk}",
    "team-detail": "teams/{pk}",
    "team-capacity-detail": "team-capacities/{pk}",
    "feature-detail": "features/{pk}",
    "feature-score": "features/{pk}/score",
    "scorecard-criterion-detail": "scorecard-criteria/{pk}",
}


@pytest.mark.parametrize("route", list(DETAIL_BUDGETS))
def test_detail_read_budget(route, workspace, pm, session_client, django_assert_num_queries):
    build, budget = DETAIL_BUDGETS[route]
    plain, rich = build(workspace, pm, 1), build(workspace, pm, 5)
    client = session_client(pm)
    client.get(url(workspace, DETAIL_PATHS[route].format(pk=plain.pk)))  # first use: settings rows

    for obj in (plain, rich):
        with django_assert_num_queries(budget):
            response = client.get(url(workspace, DETAIL_PATHS[route].format(pk=obj.pk)))
        assert response.status_code == 200, response.content
    if route == "feature-detail":  # the rich one's relations are all in the answer
        body = response.json()
        assert (len(body["tags"]), len(body["goals"]), len(body["competitors"])) == (5, 5, 5)


#: GETs under one object that are lists, budgeted with the lists in test_api.py.
OBJECT_LISTS = {"feature-history", "feature-status-history"}


def test_every_detail_route_has_a_budget():
    assert object_get_routes("api.roadmap.views") == set(DETAIL_BUDGETS) | OBJECT_LISTS | {"roadmap-settings"}


def test_roadmap_settings_read_budget(workspace, pm, session_client, django_assert_num_queries):
    client = session_client(pm)
    client.get(url(workspace, "roadmap-settings"))  # creates the row with the defaults on first use

    with django_assert_num_queries(4):
        assert client.get(url(workspace, "roadmap-settings")).status_code == 200


# --- writes ------------------------------------------------------------------------------


def test_product_write_budgets(workspace, pm, session_client, django_assert_num_queries):
    client = session_client(pm)

    with django_assert_num_queries(13):
        created = client.post(url(workspace, "products"), {"name": "Analytics"})
    assert created.status_code == 201, created.content
    with django_assert_num_queries(14):
        assert (
            client.patch(url(workspace, "products", created.json()["id"]), {"name": "BI"}).status_code == 200
        )
    with django_assert_num_queries(18):
        assert client.delete(url(workspace, "products", created.json()["id"])).status_code == 204


@pytest.mark.parametrize("n", [1, 5])
def test_feature_write_budgets(n, workspace, pm, session_client, django_assert_num_queries):
    product = ProductFactory(workspace=workspace)
    goals = [GoalFactory(workspace=workspace) for _ in range(n)]
    client = session_client(pm)
    body = {
        "title": "SSO",
        "product": product.pk,
        "goals": [g.pk for g in goals],
        "tags": [f"t{i}" for i in range(n)],
        "competitors": [f"c{i}" for i in range(n)],
    }

    with django_assert_num_queries(41):
        created = client.post(url(workspace, "features"), body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    with django_assert_num_queries(32):
        updated = client.patch(
            url(workspace, "features", pk),
            {"title": "SAML", "tags": [f"u{i}" for i in range(n)]},
            format="json",
        )
    assert updated.status_code == 200, updated.content
    with django_assert_num_queries(19):
        moved = client.post(
            url(workspace, "features", pk, "status"), {"status": FeatureStatus.UNDER_CONSIDERATION}
        )
    assert moved.status_code == 200, moved.content
    with django_assert_num_queries(15):
        linked = client.post(
            url(workspace, "features", pk, "dependencies"), {"depends_on": FeatureFactory(product=product).pk}
        )
    assert linked.status_code == 201, linked.content
    # 39: the cascade reads each model once to audit it and once to delete it; comments and the
    # feature's vector are one more each.
    with django_assert_num_queries(39):
        assert client.delete(url(workspace, "features", pk)).status_code == 204
