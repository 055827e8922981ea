"""Readiness and every at-risk reason, in a constant number of queries per list."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from releases import selectors
from releases.models import ChecklistState, ReleaseSettings, ReleaseStatus, ScopeState
from roadmap import services as roadmap_services
from roadmap.models import FeatureStatus
from tests.releases.factories import ChecklistTaskFactory, ReleaseFactory, ScopeItemFactory, in_days
from tests.roadmap.factories import FeatureFactory, ProductFactory, TeamCapacityFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _health(release):
    return selectors.release_health(workspace=release.workspace, releases=[release])[release.pk]


@pytest.fixture
def team(workspace):
    return TeamFactory(workspace=workspace)


def test_ready_when_every_must_have_and_required_task_is_done(workspace, team):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace), planned_date=in_days(60))
    must = ScopeItemFactory(release=release, feature__title="Export", state=ScopeState.IN_PROGRESS)
    must.feature.effort, must.feature.team = Decimal(1), team
    must.feature.save()
    ScopeItemFactory(release=release, is_must_have=False)  # a nice-to-have never blocks
    required = ChecklistTaskFactory(release=release, title="Docs")
    ChecklistTaskFactory(release=release, title="Press", is_required=False)
    ChecklistTaskFactory(release=release, title="Pricing", state=ChecklistState.SKIPPED)
    TeamCapacityFactory(team=team, period="now", starts_on=in_days(-1), ends_on=in_days(90), capacity=50)

    health = _health(release)
    assert health.missing == ["Must-have not done: Export", "Required task not done: Docs"]
    assert (health.is_ready, health.at_risk, health.readiness_pct) == (False, False, 33)

    must.state = ScopeState.DONE
    must.save()
    required.state = ChecklistState.DONE
    required.save()
    health = _health(release)
    assert (health.is_ready, health.missing, health.readiness_pct) == (True, [], 100)


def test_near_the_planned_date_with_must_haves_to_do_is_at_risk(workspace):
    ReleaseSettings.objects.create(workspace=workspace, risk_window_days=7)
    near = ReleaseFactory(product=ProductFactory(workspace=workspace), planned_date=in_days(5))
    ScopeItemFactory(release=near, feature__title="SSO", feature__effort=None)

    assert _health(near).risks[0] == "Planned in 5 days with must-haves not started: SSO"

    ReleaseSettings.objects.filter(workspace=workspace).update(risk_window_days=3)
    assert not any(r.startswith("Planned in") for r in _health(near).risks)

    near.planned_date = in_days(-2)
    assert _health(near).risks[0] == "The planned date passed 2 days ago with must-haves to do: SSO"


def test_remaining_effort_beyond_the_teams_capacity_is_at_risk(workspace, team):
    product = ProductFactory(workspace=workspace)
    start = timezone.localdate()
    # A 10-day period holding 10 points, 4 of them taken by other planned work of the team.
    TeamCapacityFactory(
        team=team, period="sprint", starts_on=start, ends_on=start + timedelta(days=9), capacity=10
    )
    FeatureFactory(
        product=product,
        team=team,
        status=FeatureStatus.PLANNED,
        effort=Decimal(4),
        planned_start=start,
        target_date=start + timedelta(days=9),
    )
    release = ReleaseFactory(product=product, planned_date=start + timedelta(days=4))  # half the period
    ScopeItemFactory(release=release, feature__title="Search", feature__team=team, feature__effort=Decimal(3))

    health = _health(release)
    assert (health.remaining_effort, health.available_capacity) == (Decimal(3), Decimal("3.00"))
    assert not any("exceeds" in r for r in health.risks)

    ScopeItemFactory(
        release=release, feature__title="Filters", feature__team=team, feature__effort=Decimal(1)
    )
    health = _health(release)
    assert health.remaining_effort == Decimal(4)
    assert (
        "Remaining must-have effort 4.00 exceeds the 3.00 available to their teams "
        f"before {release.planned_date:%Y-%m-%d}" in health.risks
    )


def test_a_must_have_without_an_estimate_or_a_team_is_a_reason(workspace):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace), planned_date=in_days(90))
    ScopeItemFactory(release=release, feature__title="Audit log", feature__effort=None)
    ScopeItemFactory(release=release, feature__title="Billing", feature__effort=Decimal(2))

    assert _health(release).risks[:2] == ["No effort estimate: Audit log", "No team to build it: Billing"]


def test_a_must_have_depending_on_unshipped_work_outside_is_at_risk_unless_it_is_due_in_time(workspace, team):
    product = ProductFactory(workspace=workspace)
    release = ReleaseFactory(product=product, planned_date=in_days(60))
    item = ScopeItemFactory(
        release=release, feature__title="Reports", feature__effort=Decimal(1), feature__team=team
    )
    TeamCapacityFactory(team=team, period="q", starts_on=in_days(0), ends_on=in_days(60), capacity=100)
    outside = FeatureFactory(product=product, title="Warehouse", status=FeatureStatus.PLANNED)
    inside = ScopeItemFactory(
        release=release, feature__title="Charts", feature__effort=Decimal(1), feature__team=team
    )
    roadmap_services.feature_add_dependency(feature=item.feature, depends_on=outside, actor=None)
    roadmap_services.feature_add_dependency(feature=item.feature, depends_on=inside.feature, actor=None)

    assert _health(release).risks == [
        "Depends on unshipped work outside the release: Reports needs Warehouse"
    ]

    outside.target_date = in_days(60)
    outside.save()
    assert _health(release).risks == []
    outside.target_date = in_days(61)
    outside.save()
    assert len(_health(release).risks) == 1
    outside.status = FeatureStatus.SHIPPED
    outside.save()
    assert _health(release).risks == []


def test_overdue_required_tasks_are_at_risk(workspace):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace), planned_date=in_days(60))
    ChecklistTaskFactory(release=release, title="Training", due_date=in_days(-1))
    ChecklistTaskFactory(release=release, title="Blog", due_date=in_days(-1), is_required=False)
    ChecklistTaskFactory(release=release, title="Docs", due_date=in_days(-1), state=ChecklistState.DONE)
    ChecklistTaskFactory(release=release, title="FAQ", due_date=in_days(0))

    assert _health(release).risks == ["Required tasks overdue: Training"]


def test_shipped_and_cancelled_releases_are_neither_ready_nor_at_risk(workspace):
    product = ProductFactory(workspace=workspace)
    shipped = ReleaseFactory(
        product=product,
        status=ReleaseStatus.RELEASED,
        shipped_at=timezone.now(),
        shipped_on=timezone.localdate(),
    )
    cancelled = ReleaseFactory(product=product, status=ReleaseStatus.CANCELLED, planned_date=in_days(1))
    ScopeItemFactory(release=cancelled, feature__effort=None)
    health = selectors.release_health(workspace=workspace, releases=[shipped, cancelled])
    assert [(h.is_ready, h.missing, h.risks) for h in health.values()] == [(False, [], []), (False, [], [])]


def _release_with_everything(workspace, product, team, n):
    release = ReleaseFactory(product=product, planned_date=in_days(10 + n))
    for i in range(3):
        item = ScopeItemFactory(release=release, feature__team=team, feature__effort=Decimal(2))
        other = FeatureFactory(product=product, status=FeatureStatus.PLANNED)
        roadmap_services.feature_add_dependency(feature=item.feature, depends_on=other, actor=None)
        ChecklistTaskFactory(release=release, due_date=in_days(-i))
    return release


def test_health_of_a_list_takes_the_same_queries_whatever_its_length(
    workspace, team, django_assert_num_queries
):
    product = ProductFactory(workspace=workspace)
    TeamCapacityFactory(team=team, period="q", starts_on=in_days(0), ends_on=in_days(90), capacity=20)
    releases = [_release_with_everything(workspace, product, team, n) for n in range(5)]

    with django_assert_num_queries(6):
        one = selectors.release_health(workspace=workspace, releases=releases[:1])
    with django_assert_num_queries(6):
        five = selectors.release_health(workspace=workspace, releases=releases)
    assert one[releases[0].pk].risks == five[releases[0].pk].risks
    assert all(h.risks for h in five.values())


def test_teams_without_capacity_before_the_date_say_so(workspace, team):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace), planned_date=in_days(60))
    ScopeItemFactory(release=release, feature__title="Search", feature__team=team, feature__effort=Decimal(5))
    TeamCapacityFactory(team=team, period="later", starts_on=in_days(61), ends_on=in_days(90), capacity=50)

    assert _health(release).risks == [
        f"Their teams have no capacity planned before {in_days(60):%Y-%m-%d} "
        "for the remaining must-have effort 5.00"
    ]
