"""The planning pages of the portal ("Plan"): products, goals and key results, initiatives,
teams and capacity periods, and the scorecard criterion's edit page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from productops.models import AuditEvent, Role
from roadmap import services as roadmap_services
from roadmap.models import (
    Goal,
    Initiative,
    KeyResult,
    KeyResultValue,
    Product,
    ScorecardCriterion,
    Team,
    TeamCapacity,
)
from tests.releases.factories import ReleaseFactory
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

HX = {"HTTP_HX_REQUEST": "true"}


def url(workspace, path=""):
    return f"/w/{workspace.slug}/{path}"


def audits(action=None, target_type=None):
    rows = AuditEvent.objects.all()
    if action:
        rows = rows.filter(action=action)
    if target_type:
        rows = rows.filter(target_type=target_type)
    return list(rows.order_by("id"))


def content(response):
    return response.content.decode()


def count_queries(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    return len(queries)


# --- navigation and the empty workspace -----------------------------------------------------------


def test_main_nav_has_plan_and_the_plan_pages_have_their_subnav(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    page = content(client.get(url(workspace, "plan/goals/")))
    assert '<a href="/w/acme/plan/products/" aria-current="page">Plan</a>' in page
    assert '<nav class="subnav" aria-label="Plan">' in page
    assert '<a href="/w/acme/plan/goals/" aria-current="page">Goals &amp; key results</a>' in page
    dashboard = content(client.get(url(workspace)))
    assert '<a href="/w/acme/plan/products/">Plan</a>' in dashboard


def test_an_empty_workspace_tells_a_product_manager_what_to_do_first(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    page = content(client.get(url(workspace, "plan/products/")))
    assert "First steps" in page
    assert '<a href="/w/acme/plan/products/new/">Create a product</a>' in page
    assert '<a class="button" href="/w/acme/plan/products/new/">Create the first product</a>' in page
    goals = content(client.get(url(workspace, "plan/goals/")))
    assert '<a class="button" href="/w/acme/plan/goals/new/">Create the first goal</a>' in goals
    initiatives = content(client.get(url(workspace, "plan/initiatives/")))
    assert (
        '<a class="button" href="/w/acme/plan/initiatives/new/">Create the first initiative</a>'
        in initiatives
    )
    teams = content(client.get(url(workspace, "plan/teams/")))
    assert "Create the first team" in teams
    assert 'action="/w/acme/plan/teams/new/"' in teams


def test_an_empty_workspace_tells_a_viewer_who_creates(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    for path in ("plan/products/", "plan/goals/", "plan/initiatives/", "plan/teams/"):
        page = content(client.get(url(workspace, path)))
        assert "A product manager creates them." in page, path
        assert "/new/" not in page.split('<nav class="subnav" aria-label="Plan">')[1], path


def test_first_steps_tick_off_and_disappear_when_all_are_done(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    page = content(client.get(url(workspace, "plan/products/")))
    assert '<li class="done"><a href="/w/acme/plan/products/">Create a product</a>' in page
    assert '<li><a href="/w/acme/plan/goals/">Set goals and key results</a>' in page
    KeyResultFactory(goal=GoalFactory(workspace=workspace))
    workspace_initiative = Initiative.objects.create(workspace=workspace, title="Onboarding")
    assert workspace_initiative.pk
    TeamCapacityFactory(team=TeamFactory(workspace=workspace))
    FeatureFactory(product=product)
    assert "First steps" not in content(client.get(url(workspace, "plan/products/")))


def test_plan_pages_are_for_members_only(portal_client, workspace, other_workspace):
    client, _ = portal_client(other_workspace, Role.OWNER)
    for path in ("plan/products/", "plan/goals/", "plan/initiatives/", "plan/teams/"):
        assert client.get(url(workspace, path)).status_code == 404, path


# --- products -------------------------------------------------------------------------------------


def test_product_list_shows_products_to_a_viewer(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace, name="Core", personas=["Admin", "Analyst"], vision="Fast")
    FeatureFactory(product=product)
    page = content(client.get(url(workspace, "plan/products/")))
    assert f'<a href="/w/acme/plan/products/{product.pk}/">Core</a>' in page
    assert "<td>Admin, Analyst</td>" in page
    assert "<td>Semantic versioning (1.4.2)</td>" in page
    assert f'href="/w/acme/roadmap/?product={product.pk}"' in page
    assert "New product" not in page


def test_product_list_is_paginated(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    for n in range(27):
        ProductFactory(workspace=workspace, name=f"P{n:02d}")
    first = content(client.get(url(workspace, "plan/products/")))
    assert "Page 1 of 2" in first
    assert ">P24<" in first
    assert ">P25<" not in first
    second = content(client.get(url(workspace, "plan/products/?page=2")))
    assert ">P25<" in second
    assert ">P26<" in second


def test_a_manager_creates_a_product(portal_client, workspace):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert client.get(url(workspace, "plan/products/new/")).status_code == 200
    response = client.post(
        url(workspace, "plan/products/new/"),
        {
            "name": " Core ",
            "vision": "One place",
            "personas": "Admin\n\n Analyst \nAdmin",
            "version_scheme": "calver",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/plan/products/"
    product = Product.objects.get(workspace=workspace)
    assert (product.name, product.vision, product.personas, product.version_scheme) == (
        "Core",
        "One place",
        ["Admin", "Analyst"],
        "calver",
    )
    [event] = audits(AuditEvent.Action.CREATED, "roadmap.product")
    assert (event.actor_id, event.target_id) == (membership.user_id, str(product.pk))
    assert event.changes["personas"] == ["Admin", "Analyst"]
    assert "Product “Core” created." in content(client.get(response["Location"]))


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_below_a_manager_cannot_create_a_product(portal_client, workspace, role):
    client, _ = portal_client(workspace, role)
    assert client.get(url(workspace, "plan/products/new/")).status_code == 403
    response = client.post(url(workspace, "plan/products/new/"), {"name": "Core", "version_scheme": "semver"})
    assert response.status_code == 403
    assert Product.objects.count() == 0
    assert audits() == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "version_scheme": "semver"}, "This field is required."),
        ({"name": "x" * 121, "version_scheme": "semver"}, "Ensure this value has at most 120 characters"),
        ({"name": "Core", "version_scheme": "roman"}, "Select a valid choice."),
        (
            {"name": "Core", "version_scheme": "semver", "personas": "y" * 121},
            "is longer than 120 characters",
        ),
        ({"name": "core", "version_scheme": "semver"}, "A product with this name exists."),
    ],
)
def test_product_form_errors_are_inline_and_nothing_is_written(portal_client, workspace, data, error):
    ProductFactory(workspace=workspace, name="Core")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, "plan/products/new/"), data)
    assert response.status_code == 400
    assert error in content(response)
    assert 'class="field field-invalid"' in content(response)
    assert Product.objects.count() == 1
    assert audits() == []


def test_a_manager_edits_a_product(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core", personas=["Admin"])
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    page = content(client.get(url(workspace, f"plan/products/{product.pk}/")))
    assert "\nAdmin</textarea>" in page
    response = client.post(
        url(workspace, f"plan/products/{product.pk}/"),
        {"name": "Core platform", "vision": "", "personas": "Admin\nOps", "version_scheme": "semver"},
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.personas) == ("Core platform", ["Admin", "Ops"])
    [event] = audits(AuditEvent.Action.UPDATED, "roadmap.product")
    assert event.changes == {"name": ["Core", "Core platform"], "personas": [["Admin"], ["Admin", "Ops"]]}


def test_a_contributor_sees_a_product_but_cannot_edit_it(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    page = content(client.get(url(workspace, f"plan/products/{product.pk}/")))
    assert "<h1>Core</h1>" in page
    assert '<form method="post" action="/w/acme/plan/products/' not in page
    response = client.post(
        url(workspace, f"plan/products/{product.pk}/"), {"name": "X", "version_scheme": "semver"}
    )
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.name == "Core"
    assert audits() == []


def test_a_product_with_releases_keeps_its_version_scheme_inline(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    ReleaseFactory(product=product)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(
        url(workspace, f"plan/products/{product.pk}/"), {"name": "Core", "version_scheme": "calver"}
    )
    assert response.status_code == 400
    assert "The product has releases numbered by this scheme; it cannot change." in content(response)
    product.refresh_from_db()
    assert product.version_scheme == "semver"
    assert audits() == []


def test_deleting_a_product_with_features_is_refused_with_a_message(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    FeatureFactory(product=product)
    FeatureFactory(product=product)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/products/{product.pk}/delete/"), follow=True)
    assert response.redirect_chain == [(f"/w/acme/plan/products/{product.pk}/", 302)]
    assert "Not deleted: The product still has 2 feature(s)." in content(response)
    assert Product.objects.filter(pk=product.pk).exists()
    assert audits() == []


def test_deleting_a_product_with_releases_is_refused_with_a_message(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    ReleaseFactory(product=product)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/products/{product.pk}/delete/"), follow=True)
    assert "Not deleted: The product still has releases." in content(response)
    assert Product.objects.filter(pk=product.pk).exists()
    assert audits(AuditEvent.Action.DELETED) == []


def test_a_manager_deletes_a_product_and_its_goals_go_with_it(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    goal = GoalFactory(workspace=workspace, product=product)
    client, _membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/products/{product.pk}/delete/"))
    assert response["Location"] == "/w/acme/plan/products/"
    assert not Product.objects.exists()
    assert not Goal.objects.exists()
    deleted = {(e.target_type, e.target_id) for e in audits(AuditEvent.Action.DELETED)}
    assert deleted == {("roadmap.product", str(product.pk)), ("roadmap.goal", str(goal.pk))}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_below_a_manager_cannot_delete_a_product(portal_client, workspace, role):
    product = ProductFactory(workspace=workspace)
    client, _ = portal_client(workspace, role)
    assert client.post(url(workspace, f"plan/products/{product.pk}/delete/")).status_code == 403
    assert Product.objects.filter(pk=product.pk).exists()


def test_another_workspaces_product_is_not_found(portal_client, workspace, other_workspace):
    theirs = ProductFactory(workspace=other_workspace, name="Theirs")
    client, _ = portal_client(workspace, Role.OWNER)
    for path in (f"plan/products/{theirs.pk}/", f"plan/products/{theirs.pk}/delete/"):
        assert client.get(url(workspace, path)).status_code in (404, 405), path
        assert client.post(url(workspace, path), {"name": "X", "version_scheme": "semver"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


# --- goals ----------------------------------------------------------------------------------------


def test_the_goal_tree_nests_goals_and_shows_key_results(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    company = GoalFactory(workspace=workspace, title="Win mid-market", period="2027")
    product_goal = GoalFactory(
        workspace=workspace, title="Faster onboarding", period="2027 H1", parent=company
    )
    deeper = GoalFactory(workspace=workspace, title="Import wizard", period="2027 Q1", parent=product_goal)
    KeyResultFactory(goal=product_goal, metric="Activated teams", baseline=0, target=200, current=50, unit="")
    page = content(client.get(url(workspace, "plan/goals/")))
    assert "1 top-level goal" in page
    top = page.split(f'id="goal-{company.pk}"')[1]
    nested = top.split('aria-label="Nested under Win mid-market"')[1]
    assert f'id="goal-{product_goal.pk}"' in nested
    assert 'aria-label="Nested under Faster onboarding"' in nested
    assert f'id="goal-{deeper.pk}"' in nested.split('aria-label="Nested under Faster onboarding"')[1]
    assert "Activated teams" in page
    assert 'value="25" aria-label="Progress of Activated teams"' in page
    assert "50 of 200 (from 0) · 25 %" in page
    assert 'name="current"' not in page  # a viewer updates nothing


def test_a_contributor_gets_the_one_click_update_on_the_tree(portal_client, workspace):
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), current=5)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    page = content(client.get(url(workspace, "plan/goals/")))
    assert f'hx-post="/w/acme/plan/key-results/{kr.pk}/current/"' in page
    assert f'id="kr-{kr.pk}-current"' in page
    assert 'value="5"' in page
    assert "New goal" not in page


def test_a_manager_creates_a_goal_nested_with_product_and_owner(portal_client, workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    parent = GoalFactory(workspace=workspace, title="Company")
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    form = content(client.get(url(workspace, f"plan/goals/new/?parent={parent.pk}")))
    assert f'<option value="{parent.pk}" selected>' in form
    response = client.post(
        url(workspace, "plan/goals/new/"),
        {
            "title": "Onboarding",
            "period": "2027 H1",
            "description": "",
            "product": product.pk,
            "parent": parent.pk,
            "owner": f"#{membership.user_id}",
        },
    )
    goal = Goal.objects.get(title="Onboarding")
    assert response["Location"] == f"/w/acme/plan/goals/{goal.pk}/#key-results"
    assert (goal.period, goal.product_id, goal.parent_id, goal.owner_id) == (
        "2027 H1",
        product.pk,
        parent.pk,
        membership.user_id,
    )
    [event] = audits(AuditEvent.Action.CREATED, "roadmap.goal")
    assert (event.target_id, event.changes) == (
        str(goal.pk),
        {"title": "Onboarding", "period": "2027 H1", "description": ""},
    )


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"title": "", "period": "2027"}, "title", "This field is required."),
        ({"title": "G", "period": ""}, "period", "This field is required."),
        (
            {"title": "G", "period": "2027", "owner": "nobody-here"},
            "owner",
            "No single match for “nobody-here”",
        ),
        ({"title": "G", "period": "2027", "parent": "theirs"}, "parent", "Select a valid choice."),
        ({"title": "G", "period": "2027", "product": "theirs"}, "product", "Select a valid choice."),
    ],
)
def test_goal_form_errors_are_inline(portal_client, workspace, other_workspace, data, field, error):
    theirs = {
        "parent": GoalFactory(workspace=other_workspace).pk,
        "product": ProductFactory(workspace=other_workspace).pk,
    }
    data = {k: (theirs[k] if v == "theirs" else v) for k, v in data.items()}
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, "plan/goals/new/"), data)
    assert response.status_code == 400
    assert error in content(response)
    assert Goal.objects.filter(workspace=workspace).count() == 0
    assert audits() == []


def test_nesting_a_goal_under_its_own_child_is_refused_inline(portal_client, workspace):
    parent = GoalFactory(workspace=workspace, title="Parent")
    child = GoalFactory(workspace=workspace, title="Child", parent=parent)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(
        url(workspace, f"plan/goals/{parent.pk}/"),
        {"title": "Parent", "period": "2027 H1", "parent": child.pk},
    )
    assert response.status_code == 400
    assert "A goal cannot be nested under itself." in content(response)
    parent.refresh_from_db()
    assert parent.parent_id is None
    assert audits() == []


def test_a_manager_edits_a_goal(portal_client, workspace):
    goal = GoalFactory(workspace=workspace, title="Old", period="2027 H1")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/goals/{goal.pk}/"), {"title": "New", "period": "2027 H2"})
    assert response["Location"] == f"/w/acme/plan/goals/{goal.pk}/"
    goal.refresh_from_db()
    assert (goal.title, goal.period) == ("New", "2027 H2")
    [event] = audits(AuditEvent.Action.UPDATED, "roadmap.goal")
    assert event.changes == {"title": ["Old", "New"], "period": ["2027 H1", "2027 H2"]}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_below_a_manager_cannot_write_goals(portal_client, workspace, role):
    goal = GoalFactory(workspace=workspace, title="Keep")
    client, _ = portal_client(workspace, role)
    assert client.get(url(workspace, "plan/goals/new/")).status_code == 403
    assert client.post(url(workspace, "plan/goals/new/"), {"title": "G", "period": "2027"}).status_code == 403
    assert (
        client.post(url(workspace, f"plan/goals/{goal.pk}/"), {"title": "X", "period": "2027"}).status_code
        == 403
    )
    assert client.post(url(workspace, f"plan/goals/{goal.pk}/delete/")).status_code == 403
    data = {"metric": "M", "baseline": 0, "target": 1, "current": 0}
    assert client.post(url(workspace, f"plan/goals/{goal.pk}/key-results/"), data).status_code == 403
    assert list(Goal.objects.values_list("title", flat=True)) == ["Keep"]
    assert KeyResult.objects.count() == 0
    assert audits() == []
    page = content(client.get(url(workspace, f"plan/goals/{goal.pk}/")))
    assert "Add a key result" not in page
    assert "Delete this goal" not in page


def test_a_manager_deletes_a_goal_with_its_key_results_children_move_up(portal_client, workspace):
    goal = GoalFactory(workspace=workspace)
    child = GoalFactory(workspace=workspace, parent=goal)
    kr = KeyResultFactory(goal=goal)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/goals/{goal.pk}/delete/"))
    assert response["Location"] == "/w/acme/plan/goals/"
    assert list(Goal.objects.values_list("pk", "parent_id")) == [(child.pk, None)]
    assert not KeyResult.objects.exists()
    deleted = {(e.target_type, e.target_id) for e in audits(AuditEvent.Action.DELETED)}
    assert deleted == {("roadmap.goal", str(goal.pk)), ("roadmap.keyresult", str(kr.pk))}


def test_another_workspaces_goal_and_key_result_are_not_found(portal_client, workspace, other_workspace):
    goal = GoalFactory(workspace=other_workspace)
    kr = KeyResultFactory(goal=goal, current=1)
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.get(url(workspace, f"plan/goals/{goal.pk}/")).status_code == 404
    assert client.post(url(workspace, f"plan/goals/{goal.pk}/delete/")).status_code == 404
    data = {"metric": "M", "baseline": 0, "target": 1, "current": 0}
    assert client.post(url(workspace, f"plan/goals/{goal.pk}/key-results/"), data).status_code == 404
    assert client.get(url(workspace, f"plan/key-results/{kr.pk}/")).status_code == 404
    assert (
        client.post(url(workspace, f"plan/key-results/{kr.pk}/current/"), {"current": 9}).status_code == 404
    )
    assert client.post(url(workspace, f"plan/key-results/{kr.pk}/delete/")).status_code == 404
    kr.refresh_from_db()
    assert kr.current == 1
    assert Goal.objects.count() == 1


# --- key results ----------------------------------------------------------------------------------


def test_a_manager_adds_a_key_result_with_its_first_value(portal_client, workspace):
    goal = GoalFactory(workspace=workspace)
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(
        url(workspace, f"plan/goals/{goal.pk}/key-results/"),
        {"metric": "NPS", "unit": "pt", "baseline": "20", "target": "45", "current": "25"},
    )
    assert response["Location"] == f"/w/acme/plan/goals/{goal.pk}/#key-results"
    kr = KeyResult.objects.get()
    assert (kr.goal_id, kr.metric, kr.unit, kr.baseline, kr.target, kr.current) == (
        goal.pk,
        "NPS",
        "pt",
        Decimal("20"),
        Decimal("45"),
        Decimal("25"),
    )
    assert list(KeyResultValue.objects.values_list("key_result_id", "value", "actor_id")) == [
        (kr.pk, Decimal("25"), membership.user_id)
    ]
    assert [e.target_id for e in audits(AuditEvent.Action.CREATED, "roadmap.keyresult")] == [str(kr.pk)]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"metric": "", "baseline": "0", "target": "1", "current": "0"}, "This field is required."),
        ({"metric": "M", "baseline": "x", "target": "1", "current": "0"}, "Enter a number."),
        (
            {"metric": "M", "baseline": "5", "target": "5", "current": "0"},
            "Target must differ from the baseline.",
        ),
        ({"metric": "M", "baseline": "0", "target": "1"}, "This field is required."),
    ],
)
def test_key_result_form_errors_are_inline(portal_client, workspace, data, error):
    goal = GoalFactory(workspace=workspace)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/goals/{goal.pk}/key-results/"), data)
    assert response.status_code == 400
    assert error in content(response)
    assert not KeyResult.objects.exists()
    assert audits() == []


def test_updating_current_in_one_click_with_htmx_swaps_the_row(portal_client, workspace):
    kr = KeyResultFactory(
        goal=GoalFactory(workspace=workspace), metric="Teams", baseline=0, target=200, current=50
    )
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(
        url(workspace, f"plan/key-results/{kr.pk}/current/"),
        {"current": "100", "next": "/w/acme/plan/goals/"},
        **HX,
    )
    assert response.status_code == 200
    body = content(response)
    assert body.lstrip().startswith(f'<li class="kr-row" id="kr-{kr.pk}">')
    assert 'role="status">Saved.</span>' in body
    assert "100 of 200 (from 0) · 50 %" in body
    kr.refresh_from_db()
    assert kr.current == Decimal("100")
    assert list(KeyResultValue.objects.filter(key_result=kr).values_list("value", "actor_id")) == [
        (Decimal("100"), membership.user_id)
    ]
    [event] = audits(AuditEvent.Action.UPDATED, "roadmap.keyresult")
    assert event.changes == {"current": ["50.0000", "100"]}


def test_updating_current_without_javascript_goes_back_to_the_page(portal_client, workspace):
    goal = GoalFactory(workspace=workspace)
    kr = KeyResultFactory(goal=goal, metric="Teams", unit=" teams", current=1)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(
        url(workspace, f"plan/key-results/{kr.pk}/current/"),
        {"current": "7", "next": "/w/acme/plan/goals/?page=1"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/plan/goals/?page=1"
    assert "“Teams” is now 7 teams." in content(client.get(response["Location"]))
    # ``next`` elsewhere falls back to the goal's page.
    response = client.post(
        url(workspace, f"plan/key-results/{kr.pk}/current/"),
        {"current": "8", "next": "https://evil.example/"},
    )
    assert response["Location"] == f"/w/acme/plan/goals/{goal.pk}/"


def test_a_bad_current_value_is_shown_inline_and_nothing_is_written(portal_client, workspace):
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), current=3)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(url(workspace, f"plan/key-results/{kr.pk}/current/"), {"current": "lots"}, **HX)
    assert response.status_code == 200
    assert "Enter a number." in content(response)
    assert 'class="field field-invalid"' in content(response)
    plain = client.post(url(workspace, f"plan/key-results/{kr.pk}/current/"), {"current": ""})
    assert plain.status_code == 400
    assert "This field is required." in content(plain)
    kr.refresh_from_db()
    assert kr.current == 3
    assert not KeyResultValue.objects.exists()
    assert audits() == []


def test_a_viewer_cannot_update_a_key_result(portal_client, workspace):
    kr = KeyResultFactory(goal=GoalFactory(workspace=workspace), current=3)
    client, _ = portal_client(workspace, Role.VIEWER)
    assert (
        client.post(url(workspace, f"plan/key-results/{kr.pk}/current/"), {"current": "9"}, **HX).status_code
        == 403
    )
    data = {"metric": "M", "baseline": 0, "target": 1, "current": 9}
    assert client.post(url(workspace, f"plan/key-results/{kr.pk}/"), data).status_code == 403
    kr.refresh_from_db()
    assert kr.current == 3
    assert audits() == []


def test_the_history_of_values_is_shown_on_the_goal_and_key_result_pages(portal_client, workspace):
    goal = GoalFactory(workspace=workspace)
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    kr = roadmap_services.key_result_create(
        workspace=workspace,
        actor=membership.user,
        data={"goal": goal, "metric": "Teams", "baseline": 0, "target": 10, "current": 1},
    )
    for value in (2, 4):
        roadmap_services.key_result_update(key_result=kr, actor=membership.user, data={"current": value})
    for path in (f"plan/goals/{goal.pk}/", f"plan/key-results/{kr.pk}/"):
        page = content(client.get(url(workspace, path)))
        history = page.split("History")[1]
        values = [history.index(f'<td class="num">{v}</td>') for v in (4, 2, 1)]
        assert values == sorted(values), path  # newest first


def test_a_contributor_edits_a_key_result_but_only_a_manager_deletes_it(portal_client, workspace):
    goal = GoalFactory(workspace=workspace)
    kr = KeyResultFactory(goal=goal, metric="Old", baseline=0, target=10, current=1)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    page = content(client.get(url(workspace, f"plan/key-results/{kr.pk}/")))
    assert "Delete this key result" not in page
    response = client.post(
        url(workspace, f"plan/key-results/{kr.pk}/"),
        {"metric": "New", "unit": "%", "baseline": "0", "target": "20", "current": "1"},
    )
    assert response["Location"] == f"/w/acme/plan/key-results/{kr.pk}/"
    kr.refresh_from_db()
    assert (kr.metric, kr.unit, kr.target) == ("New", "%", Decimal("20"))
    assert not KeyResultValue.objects.exists()  # current unchanged: no history point
    assert client.post(url(workspace, f"plan/key-results/{kr.pk}/delete/")).status_code == 403
    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = manager.post(url(workspace, f"plan/key-results/{kr.pk}/delete/"))
    assert response["Location"] == f"/w/acme/plan/goals/{goal.pk}/#key-results"
    assert not KeyResult.objects.exists()
    assert [e.target_id for e in audits(AuditEvent.Action.DELETED)] == [str(kr.pk)]


# --- initiatives ----------------------------------------------------------------------------------


def test_a_manager_creates_an_initiative_under_a_goal(portal_client, workspace):
    goal = GoalFactory(workspace=workspace, title="Win")
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    form = content(client.get(url(workspace, f"plan/initiatives/new/?goal={goal.pk}")))
    assert f'<option value="{goal.pk}" selected>' in form
    response = client.post(
        url(workspace, "plan/initiatives/new/"),
        {
            "title": "Onboarding",
            "description": "",
            "goal": goal.pk,
            "owner": membership.user.username,
            "investment_target_pct": "30",
        },
    )
    assert response["Location"] == "/w/acme/plan/initiatives/"
    initiative = Initiative.objects.get()
    assert (initiative.title, initiative.goal_id, initiative.owner_id, initiative.investment_target_pct) == (
        "Onboarding",
        goal.pk,
        membership.user_id,
        Decimal("30"),
    )
    [event] = audits(AuditEvent.Action.CREATED, "roadmap.initiative")
    assert event.target_id == str(initiative.pk)
    page = content(client.get(response["Location"]))
    assert f'<a href="/w/acme/plan/initiatives/{initiative.pk}/">Onboarding</a>' in page
    assert '<td class="num">30 %</td>' in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"title": "", "investment_target_pct": "0"}, "This field is required."),
        ({"title": "I", "investment_target_pct": "150"}, "Ensure this value is less than or equal to 100."),
        ({"title": "I", "investment_target_pct": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"title": "I", "investment_target_pct": "0", "goal": "theirs"}, "Select a valid choice."),
    ],
)
def test_initiative_form_errors_are_inline(portal_client, workspace, other_workspace, data, error):
    if data.get("goal") == "theirs":
        data["goal"] = GoalFactory(workspace=other_workspace).pk
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, "plan/initiatives/new/"), data)
    assert response.status_code == 400
    assert error in content(response)
    assert not Initiative.objects.exists()
    assert audits() == []


def test_a_manager_edits_and_deletes_an_initiative_its_features_stay(portal_client, workspace):
    initiative = Initiative.objects.create(workspace=workspace, title="Old", investment_target_pct=10)
    f = FeatureFactory(product=ProductFactory(workspace=workspace), initiative=initiative)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(
        url(workspace, f"plan/initiatives/{initiative.pk}/"),
        {"title": "New", "investment_target_pct": "12.5"},
    )
    assert response["Location"] == f"/w/acme/plan/initiatives/{initiative.pk}/"
    initiative.refresh_from_db()
    assert (initiative.title, initiative.investment_target_pct) == ("New", Decimal("12.5"))
    [event] = audits(AuditEvent.Action.UPDATED, "roadmap.initiative")
    assert set(event.changes) == {"title", "investment_target_pct"}
    response = client.post(url(workspace, f"plan/initiatives/{initiative.pk}/delete/"))
    assert response["Location"] == "/w/acme/plan/initiatives/"
    assert not Initiative.objects.exists()
    f.refresh_from_db()
    assert f.initiative_id is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_below_a_manager_cannot_write_initiatives(portal_client, workspace, role):
    initiative = Initiative.objects.create(workspace=workspace, title="Keep")
    client, _ = portal_client(workspace, role)
    assert client.get(url(workspace, f"plan/initiatives/{initiative.pk}/")).status_code == 200
    assert client.get(url(workspace, "plan/initiatives/new/")).status_code == 403
    assert (
        client.post(
            url(workspace, "plan/initiatives/new/"), {"title": "I", "investment_target_pct": 0}
        ).status_code
        == 403
    )
    assert (
        client.post(
            url(workspace, f"plan/initiatives/{initiative.pk}/"), {"title": "X", "investment_target_pct": 0}
        ).status_code
        == 403
    )
    assert client.post(url(workspace, f"plan/initiatives/{initiative.pk}/delete/")).status_code == 403
    assert list(Initiative.objects.values_list("title", flat=True)) == ["Keep"]
    assert audits() == []


def test_another_workspaces_initiative_is_not_found(portal_client, workspace, other_workspace):
    theirs = Initiative.objects.create(workspace=other_workspace, title="Theirs")
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.get(url(workspace, f"plan/initiatives/{theirs.pk}/")).status_code == 404
    assert (
        client.post(
            url(workspace, f"plan/initiatives/{theirs.pk}/"), {"title": "X", "investment_target_pct": 0}
        ).status_code
        == 404
    )
    assert client.post(url(workspace, f"plan/initiatives/{theirs.pk}/delete/")).status_code == 404
    assert Initiative.objects.get().title == "Theirs"


# --- teams and capacity ---------------------------------------------------------------------------


def test_a_manager_creates_a_team_then_lands_on_its_periods(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, "plan/teams/new/"), {"name": "Platform"})
    team = Team.objects.get()
    assert response["Location"] == f"/w/acme/plan/teams/{team.pk}/#new-period"
    assert [e.target_id for e in audits(AuditEvent.Action.CREATED, "roadmap.team")] == [str(team.pk)]
    page = content(client.get(response["Location"]))
    assert "No capacity periods yet" in page
    assert f'action="/w/acme/plan/teams/{team.pk}/capacities/"' in page


@pytest.mark.parametrize(
    ("name", "error"), [("", "This field is required."), ("platform", "A team with this name exists.")]
)
def test_team_form_errors_are_inline(portal_client, workspace, name, error):
    TeamFactory(workspace=workspace, name="Platform")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, "plan/teams/new/"), {"name": name})
    assert response.status_code == 400
    assert error in content(response)
    assert Team.objects.count() == 1
    assert audits() == []


def test_a_quarter_gives_its_dates(portal_client, workspace):
    team = TeamFactory(workspace=workspace, name="Platform")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(
        url(workspace, f"plan/teams/{team.pk}/capacities/"), {"period": "2027-q2", "capacity": "40"}
    )
    assert response["Location"] == f"/w/acme/plan/teams/{team.pk}/#periods"
    capacity = TeamCapacity.objects.get()
    assert (capacity.team_id, capacity.period, capacity.starts_on, capacity.ends_on, capacity.capacity) == (
        team.pk,
        "2027-Q2",
        date(2027, 4, 1),
        date(2027, 6, 30),
        Decimal("40"),
    )
    [event] = audits(AuditEvent.Action.CREATED, "roadmap.teamcapacity")
    assert event.target_id == str(capacity.pk)


def test_a_named_period_with_its_dates(portal_client, workspace):
    team = TeamFactory(workspace=workspace)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    data = {"period": "Sprint 42", "starts_on": "2027-01-04", "ends_on": "2027-01-15", "capacity": "8"}
    client.post(url(workspace, f"plan/teams/{team.pk}/capacities/"), data)
    capacity = TeamCapacity.objects.get()
    assert (capacity.period, capacity.starts_on, capacity.ends_on) == (
        "Sprint 42",
        date(2027, 1, 4),
        date(2027, 1, 15),
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"period": "2027-Q5", "capacity": "1"}, "Not a period: use YYYY-Qn"),
        ({"period": "Sprint 1", "capacity": "1"}, "Give the dates of a period with a name of its own"),
        (
            {"period": "2027-Q1", "capacity": "1", "starts_on": "2027-02-01"},
            "2027-Q1 runs from 2027-01-01 to 2027-03-31.",
        ),
        ({"period": "2027-02", "capacity": "1"}, "Overlaps 2027-Q1 (2027-01-01 to 2027-03-31) of Platform"),
        ({"period": "2027-Q3", "capacity": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"period": "", "capacity": "1"}, "This field is required."),
        (
            {"period": "X", "capacity": "1", "starts_on": "2027-05-02", "ends_on": "2027-05-01"},
            "The period must end on or after its start.",
        ),
    ],
)
def test_capacity_errors_are_inline_and_nothing_is_written(portal_client, workspace, data, error):
    team = TeamFactory(workspace=workspace, name="Platform")
    TeamCapacityFactory(team=team)  # 2027-Q1
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/teams/{team.pk}/capacities/"), data)
    assert response.status_code == 400
    assert error in content(response)
    assert TeamCapacity.objects.count() == 1
    assert audits() == []


def test_the_team_page_shows_each_periods_load(portal_client, workspace):
    team = TeamFactory(workspace=workspace, name="Platform")
    TeamCapacityFactory(team=team, capacity=10)
    FeatureFactory(
        product=ProductFactory(workspace=workspace),
        team=team,
        status="planned",
        effort=15,
        planned_start=date(2027, 1, 1),
        target_date=date(2027, 3, 31),
    )
    client, _ = portal_client(workspace, Role.VIEWER)
    page = content(client.get(url(workspace, f"plan/teams/{team.pk}/")))
    row = page.split('<tr id="period-')[1].split("</tr>")[0]
    assert 'class="over"' in row
    assert '<td class="num">10</td>' in row
    assert '<td class="num">15</td>' in row
    assert "150 %" in row
    assert "Edit" not in row  # a viewer


def test_editing_a_period_relabels_it_with_the_new_dates(portal_client, workspace):
    team = TeamFactory(workspace=workspace)
    capacity = TeamCapacityFactory(team=team)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    form = content(client.get(url(workspace, f"plan/capacities/{capacity.pk}/")))
    assert 'name="starts_on"' in form
    assert 'name="starts_on" value=' not in form
    response = client.post(
        url(workspace, f"plan/capacities/{capacity.pk}/"), {"period": "2027-Q2", "capacity": "12"}
    )
    assert response["Location"] == f"/w/acme/plan/teams/{team.pk}/#periods"
    capacity.refresh_from_db()
    assert (capacity.period, capacity.starts_on, capacity.ends_on, capacity.capacity) == (
        "2027-Q2",
        date(2027, 4, 1),
        date(2027, 6, 30),
        Decimal("12"),
    )
    [event] = audits(AuditEvent.Action.UPDATED, "roadmap.teamcapacity")
    assert set(event.changes) == {"period", "starts_on", "ends_on", "capacity"}


def test_a_bad_period_edit_is_inline(portal_client, workspace):
    capacity = TeamCapacityFactory(team=TeamFactory(workspace=workspace))
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(
        url(workspace, f"plan/capacities/{capacity.pk}/"), {"period": "2027-H3", "capacity": "1"}
    )
    assert response.status_code == 400
    assert "Not a period" in content(response)
    capacity.refresh_from_db()
    assert capacity.period == "2027-Q1"
    assert audits() == []


def test_a_manager_deletes_a_period_and_a_team(portal_client, workspace):
    team = TeamFactory(workspace=workspace)
    first, second = (
        TeamCapacityFactory(team=team),
        TeamCapacityFactory(
            team=team, period="2027-Q2", starts_on=date(2027, 4, 1), ends_on=date(2027, 6, 30)
        ),
    )
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/capacities/{first.pk}/delete/"))
    assert response["Location"] == f"/w/acme/plan/teams/{team.pk}/#periods"
    assert list(TeamCapacity.objects.values_list("pk", flat=True)) == [second.pk]
    response = client.post(url(workspace, f"plan/teams/{team.pk}/delete/"))
    assert response["Location"] == "/w/acme/plan/teams/"
    assert not Team.objects.exists()
    assert not TeamCapacity.objects.exists()
    deleted = [(e.target_type, e.target_id) for e in audits(AuditEvent.Action.DELETED)]
    assert deleted == [
        ("roadmap.teamcapacity", str(first.pk)),
        ("roadmap.team", str(team.pk)),
        ("roadmap.teamcapacity", str(second.pk)),
    ]


def test_a_manager_renames_a_team(portal_client, workspace):
    team = TeamFactory(workspace=workspace, name="Old")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"plan/teams/{team.pk}/"), {"name": "New"})
    assert response["Location"] == f"/w/acme/plan/teams/{team.pk}/"
    team.refresh_from_db()
    assert team.name == "New"
    assert audits(AuditEvent.Action.UPDATED)[0].changes == {"name": ["Old", "New"]}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_below_a_manager_cannot_write_teams(portal_client, workspace, role):
    team = TeamFactory(workspace=workspace, name="Keep")
    capacity = TeamCapacityFactory(team=team)
    client, _ = portal_client(workspace, role)
    assert client.post(url(workspace, "plan/teams/new/"), {"name": "T"}).status_code == 403
    assert client.post(url(workspace, f"plan/teams/{team.pk}/"), {"name": "X"}).status_code == 403
    assert client.post(url(workspace, f"plan/teams/{team.pk}/delete/")).status_code == 403
    data = {"period": "2027-Q3", "capacity": "1"}
    assert client.post(url(workspace, f"plan/teams/{team.pk}/capacities/"), data).status_code == 403
    assert client.post(url(workspace, f"plan/capacities/{capacity.pk}/"), data).status_code == 403
    assert client.post(url(workspace, f"plan/capacities/{capacity.pk}/delete/")).status_code == 403
    assert list(Team.objects.values_list("name", flat=True)) == ["Keep"]
    assert list(TeamCapacity.objects.values_list("period", flat=True)) == ["2027-Q1"]
    assert audits() == []
    # The period's edit page sends them to the team page.
    assert (
        client.get(url(workspace, f"plan/capacities/{capacity.pk}/"))["Location"]
        == f"/w/acme/plan/teams/{team.pk}/#periods"
    )


def test_another_workspaces_team_and_period_are_not_found(portal_client, workspace, other_workspace):
    team = TeamFactory(workspace=other_workspace)
    capacity = TeamCapacityFactory(team=team)
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.get(url(workspace, f"plan/teams/{team.pk}/")).status_code == 404
    assert client.post(url(workspace, f"plan/teams/{team.pk}/delete/")).status_code == 404
    data = {"period": "2027-Q3", "capacity": "1"}
    assert client.post(url(workspace, f"plan/teams/{team.pk}/capacities/"), data).status_code == 404
    assert client.get(url(workspace, f"plan/capacities/{capacity.pk}/")).status_code == 404
    assert client.post(url(workspace, f"plan/capacities/{capacity.pk}/delete/")).status_code == 404
    assert TeamCapacity.objects.count() == 1
    assert Team.objects.count() == 1


# --- scorecard criteria ---------------------------------------------------------------------------


def test_the_scoring_page_links_each_criterion_to_its_edit_page(portal_client, workspace):
    criterion = CriterionFactory(workspace=workspace, name="Fit")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    page = content(client.get(url(workspace, "settings/scoring/")))
    assert (
        f'<a href="/w/acme/settings/scoring/criteria/{criterion.pk}/edit/" aria-label="Edit Fit">Edit</a>'
        in page
    )


def test_a_manager_edits_a_criterion(portal_client, workspace):
    criterion = CriterionFactory(workspace=workspace, name="Fit", key="fit", weight=1)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    page = content(client.get(url(workspace, f"settings/scoring/criteria/{criterion.pk}/edit/")))
    assert "<code>fit</code>" in page
    response = client.post(
        url(workspace, f"settings/scoring/criteria/{criterion.pk}/edit/"),
        {"name": "Strategic fit", "weight": "2.5", "source": "manual", "position": "3"},
    )
    assert response["Location"] == "/w/acme/settings/scoring/"
    criterion.refresh_from_db()
    assert (criterion.key, criterion.name, criterion.weight, criterion.position) == (
        "fit",
        "Strategic fit",
        Decimal("2.5"),
        3,
    )
    [event] = audits(AuditEvent.Action.UPDATED, "roadmap.scorecardcriterion")
    assert set(event.changes) == {"name", "weight", "position"}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "weight": "1", "source": "manual", "position": "0"}, "This field is required."),
        (
            {"name": "F", "weight": "-1", "source": "manual", "position": "0"},
            "Ensure this value is greater than or equal to 0.",
        ),
        ({"name": "F", "weight": "1", "source": "astrology", "position": "0"}, "Select a valid choice."),
        (
            {"name": "F", "weight": "1", "source": "manual", "position": "-2"},
            "Ensure this value is greater than or equal to 0.",
        ),
    ],
)
def test_criterion_errors_are_inline(portal_client, workspace, data, error):
    criterion = CriterionFactory(workspace=workspace, name="Fit")
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = client.post(url(workspace, f"settings/scoring/criteria/{criterion.pk}/edit/"), data)
    assert response.status_code == 400
    assert error in content(response)
    assert ScorecardCriterion.objects.get().name == "Fit"
    assert audits() == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_below_a_manager_cannot_edit_a_criterion(portal_client, workspace, role):
    criterion = CriterionFactory(workspace=workspace, name="Fit")
    client, _ = portal_client(workspace, role)
    path = url(workspace, f"settings/scoring/criteria/{criterion.pk}/edit/")
    assert client.get(path).status_code == 403
    assert (
        client.post(path, {"name": "X", "weight": "1", "source": "manual", "position": "0"}).status_code
        == 403
    )
    assert ScorecardCriterion.objects.get().name == "Fit"
    assert audits() == []


def test_another_workspaces_criterion_is_not_found(portal_client, workspace, other_workspace):
    theirs = CriterionFactory(workspace=other_workspace, name="Theirs")
    client, _ = portal_client(workspace, Role.OWNER)
    path = url(workspace, f"settings/scoring/criteria/{theirs.pk}/edit/")
    assert client.get(path).status_code == 404
    assert (
        client.post(path, {"name": "X", "weight": "1", "source": "manual", "position": "0"}).status_code
        == 404
    )
    assert ScorecardCriterion.objects.get().name == "Theirs"


# --- query counts ---------------------------------------------------------------------------------


def _products(workspace, n):
    for _ in range(n):
        product = ProductFactory(workspace=workspace, personas=["A", "B"])
        FeatureFactory(product=product)


def _goals(workspace, n):
    for _ in range(n):
        root = GoalFactory(workspace=workspace, product=ProductFactory(workspace=workspace))
        KeyResultFactory(goal=root)
        child = GoalFactory(workspace=workspace, parent=root)
        KeyResultFactory(goal=child)
        KeyResultFactory(goal=GoalFactory(workspace=workspace, parent=child))


def _initiatives(workspace, n):
    for _ in range(n):
        initiative = Initiative.objects.create(
            workspace=workspace, title="I", goal=GoalFactory(workspace=workspace)
        )
        FeatureFactory(product=ProductFactory(workspace=workspace), initiative=initiative)


def _teams(workspace, n):
    for _ in range(n):
        team = TeamFactory(workspace=workspace)
        TeamCapacityFactory(team=team)
        TeamCapacityFactory(
            team=team, period="2027-Q2", starts_on=date(2027, 4, 1), ends_on=date(2027, 6, 30)
        )


def _one_team_periods(workspace, n):
    team = Team.objects.filter(workspace=workspace).first() or TeamFactory(
        workspace=workspace, name="Platform"
    )
    start = TeamCapacity.objects.filter(team=team).count()
    for month in range(start + 1, start + n + 1):
        TeamCapacityFactory(
            team=team,
            period=f"2030-{month:02d}",
            starts_on=date(2030, month, 1),
            ends_on=date(2030, month, 28),
        )
        FeatureFactory(
            product=ProductFactory(workspace=workspace),
            team=team,
            status="planned",
            effort=3,
            planned_start=date(2030, month, 2),
            target_date=date(2030, month, 20),
        )
    return team


LIST_PAGES = {
    # page: (path, builder, exact queries). Every page: session, user, membership, and the
    # workspace switcher (4); then its own: a count and a page of rows, and
    # products: + the first steps (one query); goals: + key results of the top-level goals,
    #   then two a level of nesting (the builder nests three deep) and the empty last level;
    # teams: + the page's capacity periods, the roadmap settings (effort unit).
    "products": ("plan/products/", _products, 7),
    "goals": ("plan/goals/", _goals, 12),
    "initiatives": ("plan/initiatives/", _initiatives, 6),
    "teams": ("plan/teams/", _teams, 8),
}


@pytest.mark.parametrize("page", list(LIST_PAGES))
def test_list_page_query_count_does_not_grow_with_rows(
    page, portal_client, workspace, django_assert_num_queries
):
    path, build, budget = LIST_PAGES[page]
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    client.get(url(workspace, path))  # first use: settings rows
    build(workspace, 2)
    with django_assert_num_queries(budget):
        assert client.get(url(workspace, path)).status_code == 200
    build(workspace, 8)
    with django_assert_num_queries(budget):
        assert client.get(url(workspace, path)).status_code == 200


def test_goal_and_team_pages_query_counts_do_not_grow(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    goal = GoalFactory(workspace=workspace)
    for n in range(2):
        roadmap_services.key_result_create(
            workspace=workspace,
            actor=None,
            data={"goal": goal, "metric": f"M{n}", "baseline": 0, "target": 9, "current": 1},
        )
    GoalFactory(workspace=workspace, parent=goal)
    team = _one_team_periods(workspace, 2)
    goal_path, team_path = url(workspace, f"plan/goals/{goal.pk}/"), url(workspace, f"plan/teams/{team.pk}/")
    client.get(team_path)
    few = (count_queries(client, goal_path), count_queries(client, team_path))
    for n in range(6):
        kr = roadmap_services.key_result_create(
            workspace=workspace,
            actor=None,
            data={"goal": goal, "metric": f"X{n}", "baseline": 0, "target": 9, "current": 1},
        )
        roadmap_services.key_result_update(key_result=kr, actor=None, data={"current": 2})
        GoalFactory(workspace=workspace, parent=goal)
    _one_team_periods(workspace, 6)
    assert (count_queries(client, goal_path), count_queries(client, team_path)) == few
