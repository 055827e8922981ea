from datetime import date
from decimal import Decimal

import pytest

from priority.recompute import run as recompute_workspace
from roadmap import selectors, services
from tests.roadmap.factories import FeatureFactory, ProductFactory, TeamCapacityFactory, TeamFactory

pytestmark = pytest.mark.django_db


Q1 = (date(2027, 1, 1), date(2027, 3, 31))


def planned(product, team, title, effort, reach, status="planned", dates=Q1):
    start, target = dates
    return FeatureFactory(
        product=product,
        team=team,
        title=title,
        status=status,
        effort=None if effort is None else Decimal(effort),
        reach=reach,
        impact=1,
        confidence_pct=100,
        planned_start=start,
        target_date=target,
    )


def fitted(fit):
    return [(f.title, cost) for f, cost in fit.fits]


def test_capacity_fit_takes_top_ranked_work_and_pulls_dependencies_in_first():
    team = TeamFactory()
    product = ProductFactory(workspace=team.workspace)
    capacity = TeamCapacityFactory(team=team, capacity=10)  # 2027-Q1
    planned(product, team, "Ongoing", 2, 1, status="in_progress")
    top = planned(product, team, "Top", 3, 900)
    foundation = planned(product, team, "Foundation", 2, 5)  # low rank, but Top needs it
    planned(product, team, "Big", 5, 500)  # does not fit once the above are in
    planned(product, team, "Small", 1, 100)  # still fits after Big overflows
    services.feature_add_dependency(feature=top, depends_on=foundation, actor=None)
    recompute_workspace(workspace_id=team.workspace_id)

    fit = selectors.capacity_fit(capacity=capacity)

    assert fitted(fit) == [
        ("Ongoing", Decimal("2.00")),
        ("Foundation", Decimal("2.00")),
        ("Top", Decimal("3.00")),
        ("Small", Decimal("1.00")),
    ]
    assert [(f.title, reason) for f, reason in fit.overflow] == [
        ("Big", "needs 5.00 here with its dependencies, 3.00 left")
    ]
    assert (fit.used, fit.remaining) == (Decimal("8.00"), Decimal("2.00"))


def test_an_empty_later_period_shows_nothing_fitting_and_work_counts_by_its_share_of_each_period():
    """The repro of issue 10: an empty 2027-Q2 showed the Q1 features fitting."""
    team = TeamFactory()
    product = ProductFactory(workspace=team.workspace)
    q1 = TeamCapacityFactory(team=team, capacity=20)
    q2 = TeamCapacityFactory(
        team=team, period="2027-Q2", starts_on=date(2027, 4, 1), ends_on=date(2027, 6, 30), capacity=20
    )
    q3 = TeamCapacityFactory(
        team=team, period="2027-Q3", starts_on=date(2027, 7, 1), ends_on=date(2027, 9, 30), capacity=5
    )
    planned(product, team, "All in Q1", 4, 10)
    # 2027-03-02 .. 2027-04-30: 30 days in Q1, 30 in Q2.
    planned(product, team, "Across", 6, 20, dates=(date(2027, 3, 2), date(2027, 4, 30)))
    planned(product, team, "Due in Q2", 3, 30, dates=(None, date(2027, 5, 15)))
    planned(product, team, "Undated", 2, 40, dates=(None, None))
    recompute_workspace(workspace_id=team.workspace_id)

    first, second, third = (selectors.capacity_fit(capacity=c) for c in (q1, q2, q3))

    assert sorted(fitted(first)) == [("Across", Decimal("3.00")), ("All in Q1", Decimal("4.00"))]
    assert sorted(fitted(second)) == [("Across", Decimal("3.00")), ("Due in Q2", Decimal("3.00"))]
    assert (fitted(third), third.overflow, third.used) == ([], [], Decimal(0))
    assert [f.title for f in first.unscheduled] == ["Undated"]
    loads = {
        load.capacity.period: load.planned
        for load in selectors.team_capacity_load(
            workspace=team.workspace, start=date(2027, 1, 1), end=date(2027, 12, 31)
        )
    }
    assert loads == {"2027-Q1": Decimal("7.00"), "2027-Q2": Decimal("6.00"), "2027-Q3": Decimal(0)}


def test_a_dependency_scheduled_before_the_period_is_fine_one_after_it_is_not():
    team = TeamFactory()
    product = ProductFactory(workspace=team.workspace)
    capacity = TeamCapacityFactory(
        team=team, period="2027-Q2", starts_on=date(2027, 4, 1), ends_on=date(2027, 6, 30)
    )
    q2 = (date(2027, 4, 1), date(2027, 6, 30))
    early = planned(product, team, "Uses early", 1, 900, dates=q2)
    late = planned(product, team, "Uses late", 1, 800, dates=q2)
    undated = planned(product, team, "Uses undated", 1, 700, dates=q2)
    other_team = FeatureFactory(
        product=product, title="Earlier, elsewhere", status="planned", target_date=date(2027, 3, 1)
    )
    after = FeatureFactory(
        product=product, title="Later, elsewhere", status="planned", target_date=date(2027, 9, 1)
    )
    idea = FeatureFactory(product=product, title="Just an idea", status="idea")
    services.feature_add_dependency(feature=early, depends_on=other_team, actor=None)
    services.feature_add_dependency(feature=late, depends_on=after, actor=None)
    services.feature_add_dependency(feature=undated, depends_on=idea, actor=None)
    recompute_workspace(workspace_id=team.workspace_id)

    fit = selectors.capacity_fit(capacity=capacity)

    assert fitted(fit) == [("Uses early", Decimal("1.00"))]
    assert [(f.title, reason) for f, reason in fit.overflow] == [
        ("Uses late", "depends on “Later, elsewhere”, which is not scheduled before this period"),
        ("Uses undated", "depends on “Just an idea”, which is not scheduled before this period"),
    ]


def test_capacity_fit_ignores_shipped_dependencies_and_reports_missing_estimates():
    team = TeamFactory()
    product = ProductFactory(workspace=team.workspace)
    capacity = TeamCapacityFactory(team=team, capacity=10)
    done = FeatureFactory(product=product, title="Done", status="shipped", effort=4)
    top = planned(product, team, "Top", 3, 900)
    planned(product, team, "Vague", None, 1)
    services.feature_add_dependency(feature=top, depends_on=done, actor=None)
    recompute_workspace(workspace_id=team.workspace_id)

    fit = selectors.capacity_fit(capacity=capacity)

    assert fitted(fit) == [("Top", Decimal("3.00"))]
    assert [(f.title, reason) for f, reason in fit.overflow] == [("Vague", "no effort estimate")]


def test_roadmap_by_month_places_features_in_every_month_they_span():
    product = ProductFactory()
    spanning = FeatureFactory(product=product, planned_start=date(2027, 1, 15), target_date=date(2027, 3, 2))
    target_only = FeatureFactory(product=product, target_date=date(2027, 2, 10))
    FeatureFactory(product=product)  # undated: not on a timeline
    FeatureFactory(product=product, planned_start=date(2026, 1, 1), target_date=date(2026, 2, 1))  # before

    months = selectors.roadmap_by_month(
        features=selectors.feature_list(workspace=product.workspace),
        start=date(2027, 1, 1),
        end=date(2027, 4, 30),
    )

    assert [(m["month"], [f.pk for f in m["features"]]) for m in months] == [
        (date(2027, 1, 1), [spanning.pk]),
        (date(2027, 2, 1), [spanning.pk, target_only.pk]),
        (date(2027, 3, 1), [spanning.pk]),
        (date(2027, 4, 1), []),
    ]


def test_feature_board_list_filters_and_leaves_out_merged_features():
    from tests.roadmap.factories import GoalFactory

    product = ProductFactory()
    workspace = product.workspace
    goal = GoalFactory(workspace=workspace)
    kept = FeatureFactory(product=product, title="Kept", priority_rank=2)
    kept.goals.add(goal)
    FeatureFactory(product=product, title="Other product")
    FeatureFactory(product=product, title="Merged", merged_into=kept)
    FeatureFactory(product=ProductFactory(workspace=workspace), title="Elsewhere")

    assert [f.title for f in selectors.feature_board_list(workspace=workspace, goal=goal)] == ["Kept"]
    assert "Merged" not in [f.title for f in selectors.feature_board_list(workspace=workspace)]
    assert [f.title for f in selectors.feature_board_list(workspace=workspace, product=product)] == [
        "Kept",
        "Other product",
    ]


def test_feature_dependencies_lists_both_directions():
    product = ProductFactory()
    middle = FeatureFactory(product=product, title="Middle")
    before = FeatureFactory(product=product, title="Before")
    after = FeatureFactory(product=product, title="After")
    services.feature_add_dependency(feature=middle, depends_on=before, actor=None)
    services.feature_add_dependency(feature=after, depends_on=middle, actor=None)

    deps = selectors.feature_dependencies(feature=middle)

    assert deps == {"depends_on": [before], "dependants": [after]}


def test_team_capacity_load_spreads_effort_over_dates_and_flags_over_commitment():
    team = TeamFactory()
    product = ProductFactory(workspace=team.workspace)
    q1 = TeamCapacityFactory(
        team=team, period="2027-Q1", starts_on=date(2027, 1, 1), ends_on=date(2027, 3, 31), capacity=10
    )
    TeamCapacityFactory(
        team=team, period="2027-Q2", starts_on=date(2027, 4, 1), ends_on=date(2027, 6, 30), capacity=10
    )
    # Mar 30 .. Apr 2: two of its four days in each quarter, so 4 + 4.
    FeatureFactory(
        product=product,
        team=team,
        status="planned",
        effort=Decimal(8),
        planned_start=date(2027, 3, 30),
        target_date=date(2027, 4, 2),
    )
    FeatureFactory(
        product=product, team=team, status="in_progress", effort=Decimal(9), target_date=date(2027, 2, 1)
    )
    FeatureFactory(
        product=product, team=team, status="shipped", effort=Decimal(50), target_date=date(2027, 2, 1)
    )
    FeatureFactory(product=product, team=team, status="planned", effort=Decimal(50))  # no dates

    loads = selectors.team_capacity_load(
        workspace=team.workspace, start=date(2027, 1, 1), end=date(2027, 12, 31)
    )

    assert [(load.capacity.period, load.planned, load.over) for load in loads] == [
        ("2027-Q1", Decimal("13.00"), True),
        ("2027-Q2", Decimal("4.00"), False),
    ]
    assert loads[0].capacity == q1
    assert loads[0].load_pct == 130
    assert (
        selectors.team_capacity_load(workspace=team.workspace, start=date(2028, 1, 1), end=date(2028, 3, 31))
        == []
    )


def test_feature_audit_trail_is_the_features_own_events():
    feature = FeatureFactory(title="Audit log")
    other = FeatureFactory(product=feature.product)
    services.feature_update(feature=feature, actor=None, data={"title": "Audit export"})
    services.feature_update(feature=feature, actor=None, data={"horizon": "now"})
    services.feature_update(feature=other, actor=None, data={"title": "Other renamed"})

    trail = selectors.feature_audit_trail(feature=feature)

    assert [(e.action, e.changes) for e in trail] == [
        ("updated", {"horizon": ["", "now"]}),
        ("updated", {"title": ["Audit log", "Audit export"]}),
    ]
