"""The roadmap pages of the portal: board, timeline, kanban, matrix, feature page, scoring settings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from priority.recompute import run as recompute_workspace
from productops.models import AuditEvent, Role
from roadmap import services as roadmap_services
from roadmap.models import (
    Feature,
    FeatureStatusChange,
    PrioritySnapshot,
    RoadmapSettings,
    ScorecardCriterion,
)
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.roadmap.factories import (
    CriterionFactory,
    FeatureFactory,
    GoalFactory,
    ProductFactory,
    TeamCapacityFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def feature(workspace, product=None, **fields):
    return FeatureFactory(product=product or ProductFactory(workspace=workspace), **fields)


def audit_count():
    return AuditEvent.objects.count()


# --- board -----------------------------------------------------------------------------


def test_board_groups_features_by_horizon_for_a_viewer(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace, name="Core")
    now = feature(
        workspace, product, title="Single sign-on", horizon="now", priority_rank=1, priority_score=42.0
    )
    feature(workspace, product, title="Dark mode", horizon="", status="idea")
    feature(workspace, product, title="Merged away", horizon="now", merged_into=now)

    response = client.get(f"/w/{workspace.slug}/roadmap/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'<a href="/w/{workspace.slug}/features/{now.pk}/">Single sign-on</a>' in content
    assert '<span class="badge badge-idea">Idea</span>' in content
    assert "#1 · 42.0" in content
    assert "Merged away" not in content
    now_column = content.split('data-column-key="now"')[1].split('data-column-key="next"')[0]
    assert "Single sign-on" in now_column
    assert "Dark mode" not in now_column
    unscheduled = content.split('data-column-key="unscheduled"')[1]
    assert "Dark mode" in unscheduled
    # A viewer sees no way to move cards.
    assert 'name="horizon"' not in content
    assert 'draggable="true"' not in content


def test_board_columns_show_their_top_cards_and_offer_the_rest(portal_client, workspace, monkeypatch):
    monkeypatch.setattr("portal.views.roadmap.COLUMN_CARD_LIMIT", 3)
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    for rank in range(1, 6):
        feature(
            workspace, product, title=f"Ranked {rank}", horizon="next", priority_rank=rank, priority_score=1.0
        )

    content = client.get(f"/w/{workspace.slug}/roadmap/").content.decode()
    column = content.split('data-column-key="next"')[1].split('data-column-key="later"')[0]
    assert '<span class="count" data-hidden="2">5</span>' in column
    assert [f"Ranked {n}" in column for n in range(1, 6)] == [True, True, True, False, False]
    assert '<a href="?all=1">Show all 5 (top 3 by rank shown)</a>' in column

    everything = client.get(f"/w/{workspace.slug}/roadmap/?all=1").content.decode()
    assert all(f"Ranked {n}" in everything for n in range(1, 6))
    assert "Show all" not in everything


def test_board_filters_narrow_the_cards_and_round_trip_in_the_url(portal_client, workspace):
    client, _ = portal_client(workspace)
    core, mobile = (
        ProductFactory(workspace=workspace, name="Core"),
        ProductFactory(workspace=workspace, name="Mobile"),
    )
    goal = GoalFactory(workspace=workspace, title="Enterprise")
    team = TeamFactory(workspace=workspace, name="Platform")
    in_goal = feature(workspace, core, title="Audit log", horizon="now", team=team)
    in_goal.goals.add(goal)
    roadmap_services.feature_update(feature=in_goal, actor=None, data={"tags": ["Security"]})
    feature(workspace, mobile, title="Offline mode", horizon="now")

    by_product = client.get(f"/w/{workspace.slug}/roadmap/?product={core.pk}").content.decode()
    assert "Audit log" in by_product
    assert "Offline mode" not in by_product
    assert f'<option value="{core.pk}" selected>Core</option>' in by_product
    # The sub-nav keeps the filters across views.
    assert f'href="/w/{workspace.slug}/roadmap/timeline/?product={core.pk}"' in by_product
    assert f'href="/w/{workspace.slug}/roadmap/kanban/?product={core.pk}"' in by_product

    for query in (f"goal={goal.pk}", f"team={team.pk}", "tag=Security"):
        content = client.get(f"/w/{workspace.slug}/roadmap/?{query}").content.decode()
        assert "Audit log" in content, query
        assert "Offline mode" not in content, query
    kanban = client.get(f"/w/{workspace.slug}/roadmap/kanban/?tag=Security").content.decode()
    assert "Audit log" in kanban
    assert "Offline mode" not in kanban


def test_a_filter_naming_another_workspaces_product_is_an_error_not_a_leak(
    portal_client, workspace, other_workspace
):
    client, _ = portal_client(workspace)
    feature(workspace, title="Ours", horizon="now")
    theirs = ProductFactory(workspace=other_workspace)
    content = client.get(f"/w/{workspace.slug}/roadmap/?product={theirs.pk}").content.decode()
    assert "Select a valid choice" in content
    assert "Ours" in content


def test_moving_a_card_goes_through_the_service_htmx_gets_the_card(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace, title="Audit log", horizon="later")

    response = client.post(f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "now"}, **HX)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith(f'<article class="card" id="card-{f.pk}"')
    assert 'data-column="now"' in content
    f.refresh_from_db()
    assert f.horizon == "now"
    event = AuditEvent.objects.get(target_type="roadmap.feature", target_id=str(f.pk))
    assert event.changes == {"horizon": ["later", "now"]}


def test_moving_a_card_without_javascript_redirects_back(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace, horizon="now")
    board = f"/w/{workspace.slug}/roadmap/?product={f.product_id}"

    response = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "unscheduled", "next": board}
    )

    assert response.status_code == 302
    assert response["Location"] == board
    f.refresh_from_db()
    assert f.horizon == ""
    # An outside "next" is ignored.
    outside = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "next", "next": "https://evil.example/"}
    )
    assert outside["Location"] == f"/w/{workspace.slug}/roadmap/"


def test_a_viewer_cannot_move_a_card(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    f = feature(workspace, horizon="later")
    before = audit_count()

    response = client.post(f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "now"}, **HX)

    assert response.status_code == 403
    f.refresh_from_db()
    assert f.horizon == "later"
    assert audit_count() == before


def test_moving_another_workspaces_feature_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    theirs = feature(other_workspace, horizon="later")
    response = client.post(f"/w/{workspace.slug}/features/{theirs.pk}/horizon/", {"horizon": "now"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.horizon == "later"


def test_a_bad_horizon_writes_nothing_and_says_why(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace, horizon="later")
    response = client.post(f"/w/{workspace.slug}/features/{f.pk}/horizon/", {"horizon": "someday"}, **HX)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    f.refresh_from_db()
    assert f.horizon == "later"


def test_board_query_count_does_not_grow_with_cards(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    product = ProductFactory(workspace=workspace)
    feature(workspace, product, horizon="now", team=TeamFactory(workspace=workspace))
    url = f"/w/{workspace.slug}/roadmap/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12):
        feature(
            workspace,
            ProductFactory(workspace=workspace),
            horizon=["now", "next", "later", ""][i % 4],
            team=TeamFactory(workspace=workspace),
            priority_rank=i + 2,
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('class="card"') == 13
    assert len(many) == len(few)


# --- kanban ------------------------------------------------------------------------------


def test_kanban_shows_columns_by_status(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    feature(workspace, title="Being built", status="in_progress")
    content = client.get(f"/w/{workspace.slug}/roadmap/kanban/").content.decode()
    assert '<h2 id="col-in_progress">In progress <span class="count" data-hidden="0">1</span></h2>' in content
    assert '<h2 id="col-declined">Declined <span class="count" data-hidden="0">0</span></h2>' in content
    assert "Being built" in content.split('data-column-key="in_progress"')[1]
    assert 'name="status"' not in content


def test_kanban_status_change_needs_a_product_manager(portal_client, workspace):
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace, status="planned")
    before = FeatureStatusChange.objects.count()

    assert (
        contributor.post(
            f"/w/{workspace.slug}/features/{f.pk}/status/", {"status": "in_progress"}
        ).status_code
        == 403
    )
    f.refresh_from_db()
    assert f.status == "planned"
    assert FeatureStatusChange.objects.count() == before

    pm, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    response = pm.post(f"/w/{workspace.slug}/features/{f.pk}/status/", {"status": "in_progress"}, **HX)
    assert response.status_code == 200
    assert 'data-column="in_progress"' in response.content.decode()
    f.refresh_from_db()
    assert f.status == "in_progress"
    assert FeatureStatusChange.objects.filter(
        feature=f, from_status="planned", to_status="in_progress"
    ).exists()


def test_skipping_the_workflow_without_a_reason_is_refused_inline(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    f = feature(workspace, status="idea")
    before = audit_count()

    response = client.post(f"/w/{workspace.slug}/features/{f.pk}/status/", {"status": "shipped"}, **HX)

    assert response.status_code == 200
    assert "skips the workflow; give a reason." in response.content.decode()
    f.refresh_from_db()
    assert f.status == "idea"
    assert audit_count() == before
    plain = client.post(
        f"/w/{workspace.slug}/features/{f.pk}/status/", {"status": "planned", "reason": "Agreed"}
    )
    assert plain.status_code == 302
    assert plain["Location"] == f"/w/{workspace.slug}/roadmap/kanban/"
    f.refresh_from_db()
    assert f.status == "planned"


def test_kanban_query_count_does_not_grow_with_cards(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature(workspace, status="idea")
    url = f"/w/{workspace.slug}/roadmap/kanban/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    statuses = ["idea", "under_consideration", "planned", "in_progress", "shipped", "declined"]
    for i in range(12):
        feature(workspace, status=statuses[i % 6], team=TeamFactory(workspace=workspace))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('class="card"') == 13
    assert len(many) == len(few)


# --- timeline ------------------------------------------------------------------------------


def test_timeline_draws_bars_dependencies_and_capacity(portal_client, workspace):
    client, _ = portal_client(workspace)
    product = ProductFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace, name="Platform")
    base = feature(
        workspace,
        product,
        title="Data model",
        status="planned",
        team=team,
        effort=Decimal(8),
        planned_start=date(2027, 1, 1),
        target_date=date(2027, 1, 31),
    )
    top = feature(
        workspace,
        product,
        title="Reports",
        status="planned",
        team=team,
        effort=Decimal(6),
        planned_start=date(2027, 2, 1),
        target_date=date(2027, 2, 28),
    )
    feature(workspace, product, title="No dates", status="planned")
    roadmap_services.feature_add_dependency(feature=top, depends_on=base, actor=None)
    TeamCapacityFactory(team=team, period="2027-Q1", capacity=10)

    response = client.get(f"/w/{workspace.slug}/roadmap/timeline/?start=2027-01&months=3")

    assert response.status_code == 200
    content = response.content.decode()
    assert content.count('class="gantt-bar') == 2
    assert "<title>Reports depends on Data model</title>" in content
    assert f'depends on <a href="/w/{workspace.slug}/features/{base.pk}/">Data model</a>' in content
    assert "No dates" not in content
    assert "January 2027" in content
    assert "March 2027" in content
    # 8 + 6 planned against 10: over-committed.
    assert '<tr class="over">' in content
    assert "Over-committed (140 %)" in content


def test_timeline_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace)
    product = ProductFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    TeamCapacityFactory(team=team)
    previous = feature(
        workspace,
        product,
        team=team,
        status="planned",
        effort=1,
        planned_start=date(2027, 1, 5),
        target_date=date(2027, 2, 5),
    )
    url = f"/w/{workspace.slug}/roadmap/timeline/?start=2027-01&months=6"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12):
        other_team = TeamFactory(workspace=workspace)
        TeamCapacityFactory(team=other_team)
        current = feature(
            workspace,
            ProductFactory(workspace=workspace),
            team=other_team,
            status="planned",
            effort=2,
            planned_start=date(2027, 1 + i % 5, 1),
            target_date=date(2027, 1 + i % 5, 20),
        )
        roadmap_services.feature_add_dependency(feature=current, depends_on=previous, actor=None)
        previous = current
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('class="gantt-bar') == 13
    assert len(many) == len(few)


# --- matrix ---------------------------------------------------------------------------------


def test_matrix_dots_link_to_features_and_the_model_switches_the_values(portal_client, workspace):
    client, _ = portal_client(workspace)
    f = feature(workspace, title="Audit log", effort=Decimal(2), score_rice=150.0, score_ice=64.0)
    feature(workspace, title="Not scored", effort=Decimal(2))

    rice = client.get(f"/w/{workspace.slug}/roadmap/matrix/").content.decode()
    ice = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=ice").content.decode()

    assert f'<a href="/w/{workspace.slug}/features/{f.pk}/" class="chart-link">' in rice
    assert "<title>Audit log — Effort (points) 2, RICE score 150</title>" in rice
    assert "<title>Audit log — Effort (points) 2, ICE score 64</title>" in ice
    assert "Not scored" not in rice
    assert '<option value="ice" selected>ICE</option>' in ice
    # The table lists the same features.
    assert f'<td><a href="/w/{workspace.slug}/features/{f.pk}/">Audit log</a></td>' in ice
    assert '<td class="num">64.00</td>' in ice


def test_matrix_query_count_does_not_grow_with_dots(portal_client, workspace):
    client, _ = portal_client(workspace)
    feature(workspace, effort=1, score_rice=1.0)
    url = f"/w/{workspace.slug}/roadmap/matrix/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(12):
        feature(workspace, effort=i + 1, score_rice=float(i * 10))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('class="chart-link"') == 13
    assert len(many) == len(few)


# --- feature page ---------------------------------------------------------------------------


def rich_feature(workspace, links=1, deps=1, snapshots=1):
    product = ProductFactory(workspace=workspace)
    f = feature(
        workspace,
        product,
        title="Audit log",
        description="Export every change.",
        reach=100,
        impact=Decimal(2),
        confidence_pct=80,
        effort=Decimal(4),
        status="idea",
    )
    company = CompanyFactory(workspace=workspace, name="Initech", segment="enterprise", arr=Decimal("120000"))
    for i in range(links):
        FeedbackLinkFactory(feature=f, item__company=company, item__text=f"We need audit logs {i}")
    VoteFactory(feature=f, contact=ContactFactory(workspace=workspace, company=company))
    for i in range(deps):
        roadmap_services.feature_add_dependency(
            feature=f, depends_on=feature(workspace, product, title=f"Prerequisite {i}"), actor=None
        )
        roadmap_services.feature_add_dependency(
            feature=feature(workspace, product, title=f"Dependant {i}"), depends_on=f, actor=None
        )
    now = timezone.now()
    for i in range(snapshots):
        PrioritySnapshot.objects.create(
            workspace=workspace,
            feature=f,
            scoring_model="rice",
            score=10.0 + i,
            rank=snapshots - i,
            computed_at=now - timedelta(days=snapshots - i),
        )
    roadmap_services.feature_change_status(feature=f, to_status="under_consideration", actor=None)
    recompute_workspace(workspace_id=workspace.pk)
    f.refresh_from_db()
    return f


def test_feature_page_shows_score_history_demand_dependencies_and_trails(portal_client, workspace):
    client, _ = portal_client(workspace)
    f = rich_feature(workspace, snapshots=2)

    response = client.get(f"/w/{workspace.slug}/features/{f.pk}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Export every change." in content
    # Each factor's effect on one log scale (issue 13, see tests/portal/test_demand_beside_rank.py).
    assert "RICE score of Audit log: each factor’s effect, on a log scale" in content
    assert "<title>Reach: ×100</title>" in content
    assert "<title>Effort: ÷4</title>" in content
    assert "Priority rank of Audit log over time" in content
    assert "Priority score of Audit log over time" in content
    assert "We need audit logs 0" in content
    assert "<td>Initech</td><td>Enterprise</td>" in content
    assert '<td class="num">120,000</td>' in content
    assert "1 linked feedback item · 1 vote" in content
    assert ">Prerequisite 0</a>" in content
    assert ">Dependant 0</a>" in content
    assert '<span class="badge badge-under_consideration">Under consideration</span>' in content
    assert "from Idea" in content
    assert "<strong>system</strong> state changed" in content  # audit trail
    assert "reason: —; status: idea → under_consideration" in content  # keys sorted, as JSONB stores them
    # A viewer sees no edit or status controls.
    assert "/edit/" not in content
    assert 'name="status"' not in content


def test_another_workspaces_feature_page_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    theirs = feature(other_workspace)
    assert client.get(f"/w/{workspace.slug}/features/{theirs.pk}/").status_code == 404
    assert client.post(f"/w/{workspace.slug}/features/{theirs.pk}/edit/", {"title": "x"}).status_code == 404


def test_a_merged_features_page_redirects_to_the_survivor(portal_client, workspace, member):
    client, _ = portal_client(workspace)
    source, target = feature(workspace, title="Old"), feature(workspace, title="New")
    roadmap_services.feature_merge(source=source, target=target, actor=member(workspace, Role.OWNER).user)
    response = client.get(f"/w/{workspace.slug}/features/{source.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/features/{target.pk}/"


def test_inline_edit_saves_through_the_service(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace, title="Audit log", effort=Decimal(3))
    url = f"/w/{workspace.slug}/features/{f.pk}/edit/"

    form = client.get(url, **HX)
    assert form.status_code == 200
    assert '<label for="id_reach">Reach</label>' in form.content.decode()  # RICE inputs: the active model

    response = client.post(
        url,
        {
            "title": "Audit log export",
            "description": "CSV",
            "horizon": "next",
            "effort": "5",
            "reach": "200",
            "impact": "2",
            "confidence_pct": "50",
        },
        **HX,
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "Saved." in content
    assert "<dd>Next</dd>" in content
    f.refresh_from_db()
    assert (f.title, f.horizon, f.effort, f.reach, f.impact, f.confidence_pct) == (
        "Audit log export",
        "next",
        Decimal("5.00"),
        200,
        Decimal("2.00"),
        50,
    )
    event = AuditEvent.objects.get(target_type="roadmap.feature", target_id=str(f.pk))
    assert event.changes["title"] == ["Audit log", "Audit log export"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "effort": "3"}, "This field is required."),
        ({"title": "Audit log", "effort": "-2"}, "Ensure this value is greater than or equal to 0.01."),
        (
            {"title": "Audit log", "effort": "3", "confidence_pct": "120"},
            "Ensure this value is less than or equal to 100.",
        ),
    ],
)
def test_bad_edit_input_rerenders_the_form_and_writes_nothing(portal_client, workspace, data, message):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace, title="Audit log", effort=Decimal(3))
    before = audit_count()

    htmx = client.post(f"/w/{workspace.slug}/features/{f.pk}/edit/", data, **HX)
    plain = client.post(f"/w/{workspace.slug}/features/{f.pk}/edit/", data)

    assert htmx.status_code == 200
    assert plain.status_code == 400
    for response in (htmx, plain):
        assert f'<p class="error" role="alert">{message}</p>' in response.content.decode()
        assert "field-invalid" in response.content.decode()
    f.refresh_from_db()
    assert (f.title, f.effort) == ("Audit log", Decimal("3.00"))
    assert audit_count() == before


def test_a_viewer_cannot_edit(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    f = feature(workspace, title="Audit log")
    assert client.post(f"/w/{workspace.slug}/features/{f.pk}/edit/", {"title": "Hacked"}).status_code == 403
    f.refresh_from_db()
    assert f.title == "Audit log"


def test_scorecard_values_are_edited_with_the_feature(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    RoadmapSettings.objects.create(workspace=workspace, scoring_model="scorecard")
    CriterionFactory(workspace=workspace, key="fit", name="Strategic fit", weight=2)
    f = feature(workspace, title="Audit log")
    url = f"/w/{workspace.slug}/features/{f.pk}/edit/"

    bad = client.post(url, {"title": "Audit log", "criterion_fit": "11"}, **HX)
    assert "Ensure this value is less than or equal to 10." in bad.content.decode()
    assert not f.criterion_values.exists()

    client.post(url, {"title": "Audit log", "criterion_fit": "7.5"}, **HX)
    assert f.criterion_values.get().value == Decimal("7.50")


def test_feature_page_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    few_feature = rich_feature(workspace)
    many_feature = rich_feature(workspace, links=12, deps=12, snapshots=12)
    for i in range(12):
        roadmap_services.feature_update(feature=many_feature, actor=None, data={"description": f"v{i}"})
    client.get(f"/w/{workspace.slug}/features/{few_feature.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/w/{workspace.slug}/features/{few_feature.pk}/")
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/w/{workspace.slug}/features/{many_feature.pk}/")
    content = response.content.decode()
    assert "12 linked feedback items" in content
    assert content.count(">Prerequisite ") == 12
    assert len(many) == len(few)


# --- scoring settings --------------------------------------------------------------------------


def ranked_workspace(workspace):
    """Three features whose RICE and ICE rankings differ, ranked under RICE."""
    RoadmapSettings.objects.create(workspace=workspace, scoring_model="rice")
    CriterionFactory(workspace=workspace, key="fit", name="Strategic fit", weight=2)
    product = ProductFactory(workspace=workspace)
    a = feature(
        workspace,
        product,
        title="Alpha",
        reach=1000,
        impact=1,
        confidence_pct=100,
        effort=1,
        ice_impact=1,
        ice_confidence=1,
        ice_ease=1,
    )
    b = feature(
        workspace,
        product,
        title="Bravo",
        reach=100,
        impact=1,
        confidence_pct=100,
        effort=1,
        ice_impact=5,
        ice_confidence=5,
        ice_ease=5,
    )
    c = feature(
        workspace,
        product,
        title="Charlie",
        reach=10,
        impact=1,
        confidence_pct=100,
        effort=1,
        ice_impact=9,
        ice_confidence=9,
        ice_ease=9,
    )
    recompute_workspace(workspace_id=workspace.pk)
    return a, b, c


def test_scoring_page_shows_settings_and_ranking_to_a_viewer(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    ranked_workspace(workspace)
    response = client.get(f"/w/{workspace.slug}/settings/scoring/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<dt>Scoring model</dt><dd>RICE</dd>" in content
    assert "Strategic fit" in content
    assert content.index(">Alpha<") < content.index(">Bravo<") < content.index(">Charlie<")
    assert 'name="scoring_model"' not in content
    assert 'aria-current="page">Scoring</a>' in content  # the settings sub-nav


def test_scoring_preview_changes_ranks_in_its_output_but_not_the_database(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    ranked_workspace(workspace)
    ranks = list(
        Feature.objects.order_by("pk").values_list("pk", "priority_rank", "priority_score", "score_state")
    )
    snapshots, audits = PrioritySnapshot.objects.count(), audit_count()

    response = client.post(
        f"/w/{workspace.slug}/settings/scoring/preview/", {"scoring_model": "ice", "weight_fit": "5"}, **HX
    )

    assert response.status_code == 200
    content = response.content.decode()
    proposed = content.split("Proposed (preview, not saved)")[1].split("<h3>Current</h3>")[0]
    assert proposed.index(">Charlie<") < proposed.index(">Bravo<") < proposed.index(">Alpha<")
    assert '<span class="up">▲ 2</span> <span class="small muted">was #3</span>' in proposed
    assert '<span class="down">▼ 2</span> <span class="small muted">was #1</span>' in proposed
    assert (
        list(
            Feature.objects.order_by("pk").values_list("pk", "priority_rank", "priority_score", "score_state")
        )
        == ranks
    )
    assert PrioritySnapshot.objects.count() == snapshots
    assert audit_count() == audits
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "rice"
    assert ScorecardCriterion.objects.get(workspace=workspace).weight == Decimal("2.000")


def test_scoring_preview_and_save_need_a_product_manager(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    ranked_workspace(workspace)
    before = audit_count()
    data = {"scoring_model": "ice", "weight_fit": "5"}
    assert client.post(f"/w/{workspace.slug}/settings/scoring/preview/", data, **HX).status_code == 403
    assert client.post(f"/w/{workspace.slug}/settings/scoring/", data).status_code == 403
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "rice"
    assert audit_count() == before


def test_saving_scoring_settings_changes_the_model_and_weights(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    ranked_workspace(workspace)

    response = client.post(
        f"/w/{workspace.slug}/settings/scoring/", {"scoring_model": "ice", "weight_fit": "5"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/settings/scoring/"
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "ice"
    assert ScorecardCriterion.objects.get(workspace=workspace).weight == Decimal("5.000")
    assert set(Feature.objects.values_list("score_state", flat=True)) == {1}  # dirty: recompute queued


def test_bad_scoring_settings_are_refused_inline(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    ranked_workspace(workspace)
    before = audit_count()
    response = client.post(
        f"/w/{workspace.slug}/settings/scoring/", {"scoring_model": "ice", "weight_fit": "-1"}
    )
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()
    assert RoadmapSettings.objects.get(workspace=workspace).scoring_model == "rice"
    assert audit_count() == before


def test_criteria_can_be_added_and_removed(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    url = f"/w/{workspace.slug}/settings/scoring/criteria/"
    response = client.post(url, {"name": "Revenue", "key": "revenue", "weight": "3", "source": "manual"})
    assert response.status_code == 302
    criterion = ScorecardCriterion.objects.get(workspace=workspace)
    assert (criterion.key, criterion.weight) == ("revenue", Decimal("3.000"))
    duplicate = client.post(url, {"name": "Again", "key": "revenue", "weight": "1", "source": "manual"})
    assert duplicate.status_code == 400
    assert ScorecardCriterion.objects.filter(workspace=workspace).count() == 1
    assert client.post(f"{url}{criterion.pk}/delete/").status_code == 302
    assert not ScorecardCriterion.objects.filter(workspace=workspace).exists()


def test_scoring_page_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    ranked_workspace(workspace)
    url = f"/w/{workspace.slug}/settings/scoring/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    product = ProductFactory(workspace=workspace)
    for i in range(12):
        CriterionFactory(workspace=workspace)
        feature(workspace, product, reach=i + 1, impact=1, confidence_pct=100, effort=1)
    recompute_workspace(workspace_id=workspace.pk)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('aria-label="Remove ') == 13
    assert len(many) == len(few)


def test_timeline_clamps_a_month_outside_the_planning_range(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)

    late = client.get(f"/w/{workspace.slug}/roadmap/timeline/?start=9999-06&months=12")
    early = client.get(f"/w/{workspace.slug}/roadmap/timeline/?start=1000-01&months=3")

    assert (late.status_code, early.status_code) == (200, 200)
    assert late.context["start"] == date(2100, 1, 1)
    assert late.context["end"] == date(2100, 12, 31)
    assert (early.context["start"], early.context["end"]) == (date(2000, 1, 1), date(2000, 3, 31))


def test_matrix_plots_every_feature_and_lists_the_top_ones(portal_client, workspace, monkeypatch):
    monkeypatch.setattr("portal.views.roadmap.COLUMN_CARD_LIMIT", 2)
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)
    for n in range(1, 4):
        feature(workspace, product, title=f"Scored {n}", effort=n, score_rice=100.0 * n, status="planned")

    content = client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice").content.decode()
    chart, table = content.split('id="matrix-table-h"')
    assert chart.count('class="chart-dot') == 3
    assert ["Scored 3" in table, "Scored 2" in table, "Scored 1" in table] == [True, True, False]
    assert "Show all 3 (the 2 highest-scoring shown)" in table
    assert "Scored 1" in client.get(f"/w/{workspace.slug}/roadmap/matrix/?model=rice&all=1").content.decode()
