"""The releases API: releases and their actions, scope, checklists and their template,
success metrics, settings; and the roadmap's release fields."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import ANY

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productops.models import AuditEvent, Event, Role
from releases import services
from releases.models import (
    ChecklistState,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseStatus,
    ScopeItem,
    ScopeOutcome,
    ScopeState,
    SuccessMetric,
)
from roadmap import services as roadmap_services
from roadmap.models import (
    Feature,
    FeatureDependency,
    FeatureStatus,
    FeatureStatusChange,
    Product,
    VersionScheme,
)
from tests.releases.factories import (
    ChecklistTaskFactory,
    ReleaseFactory,
    ScopeItemFactory,
    SuccessMetricFactory,
    in_days,
)
from tests.roadmap.factories import (
    FeatureFactory,
    KeyResultFactory,
    ProductFactory,
    TeamCapacityFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


def url(workspace, resource, pk=None, action=None):
    base = f"/api/v1/workspaces/{workspace.slug}/{resource}/"
    if pk is not None:
        base += f"{pk}/"
    if action:
        base += f"{action}/"
    return base


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def errors(response):
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


@pytest.fixture
def admin(workspace, member):
    return member(workspace, Role.ADMIN).user


@pytest.fixture
def contributor(workspace, member):
    return member(workspace, Role.CONTRIBUTOR).user


@pytest.fixture
def viewer(workspace, member):
    return member(workspace, Role.VIEWER).user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Analytics")


def _release(workspace, pm, product, **data):
    """A release made by the service: with the default launch checklist."""
    return services.release_create(
        workspace=workspace,
        actor=pm,
        data={"product": product, "name": "Spring", "version": "1.0.0", "planned_date": in_days(30), **data},
    )


def _released(product, version, **fields):
    return ReleaseFactory(
        product=product,
        version=version,
        status=ReleaseStatus.RELEASED,
        shipped_at=timezone.now(),
        shipped_on=timezone.localdate(),
        **fields,
    )


def _tick_checklist(release):
    ChecklistTask.objects.filter(release=release).update(state=ChecklistState.DONE)


# --- releases: CRUD --------------------------------------------------------------------------


def test_release_crud(workspace, pm, session_client, product):
    client = session_client(pm)
    planned = in_days(45)

    created = client.post(
        url(workspace, "releases"),
        {
            "product": product.pk,
            "name": "Spring",
            "version": "1.4.0",
            "planned_date": planned.isoformat(),
            "owner": pm.pk,
            "summary": "Faster dashboards.",
            "is_public": False,
        },
    )

    assert created.status_code == 201
    release = Release.objects.get()
    required_tasks = [title for title, _, _, required in services.DEFAULT_CHECKLIST if required]
    assert created.json() == {
        "id": release.pk,
        "public_id": str(release.public_id),
        "product": product.pk,
        "name": "Spring",
        "version": "1.4.0",
        "status": "planned",
        "status_changed_at": ANY,
        "planned_date": planned.isoformat(),
        "shipped_on": None,
        "shipped_at": None,
        "owner": pm.pk,
        "summary": "Faster dashboards.",
        "is_public": False,
        "notes_published_at": None,
        "created_at": ANY,
        "updated_at": ANY,
        "is_ready": False,
        "readiness_pct": 0,
        "missing": [f"Required task not done: {title}" for title in required_tasks],
        "at_risk": False,
        "risks": [],
    }
    assert ChecklistTask.objects.filter(release=release).count() == len(services.DEFAULT_CHECKLIST)
    assert client.get(url(workspace, "releases", release.pk)).json() == created.json()
    assert ids(client.get(url(workspace, "releases"))) == [release.pk]

    updated = client.patch(
        url(workspace, "releases", release.pk), {"name": "Spring launch", "version": "1.5.0"}
    )

    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["version"]) == ("Spring launch", "1.5.0")
    assert updated.json()["summary"] == "Faster dashboards."
    assert AuditEvent.objects.filter(
        target_type="releases.release", action=AuditEvent.Action.UPDATED
    ).exists()

    assert client.delete(url(workspace, "releases", release.pk)).status_code == 204
    assert Release.objects.count() == 0
    gone = client.get(url(workspace, "releases", action="deleted"))
    assert [row["id"] for row in gone.json()["results"]] == [release.pk]


def test_a_release_lists_its_readiness_and_risks(workspace, pm, session_client, product):
    release = _release(workspace, pm, product, planned_date=in_days(5))
    _tick_checklist(release)
    ChecklistTask.objects.filter(release=release, position=0).update(
        state=ChecklistState.TODO, due_date=in_days(-1)
    )
    done = ScopeItemFactory(release=release, state=ScopeState.DONE, feature__title="Exports")
    ScopeItemFactory(release=release, feature__title="Alerts")
    ScopeItemFactory(release=release, is_must_have=False, feature__title="Themes")

    body = session_client(pm).get(url(workspace, "releases", release.pk)).json()

    first_task = services.DEFAULT_CHECKLIST[0][0]
    assert {key: body[key] for key in ("is_ready", "readiness_pct", "missing", "at_risk", "risks")} == {
        "is_ready": False,
        # 1 of 2 must-haves and 3 of 4 required tasks: 4 of 6.
        "readiness_pct": 67,
        "missing": ["Must-have not done: Alerts", f"Required task not done: {first_task}"],
        "at_risk": True,
        "risks": [
            "Planned in 5 days with must-haves not started: Alerts",
            "No effort estimate: Alerts",
            f"Required tasks overdue: {first_task}",
        ],
    }
    assert done.feature.title == "Exports"


def test_release_filters_search_and_ordering(workspace, other_workspace, pm, session_client, product):
    other_product = ProductFactory(workspace=workspace)
    spring = ReleaseFactory(product=product, name="Spring", version="1.1.0", planned_date=in_days(10))
    summer = ReleaseFactory(
        product=product, name="Summer", version="1.2.0", planned_date=in_days(40), status="in_progress"
    )
    autumn = ReleaseFactory(product=other_product, name="Autumn", version="3.0.0", planned_date=in_days(70))
    undated = ReleaseFactory(product=other_product, name="Backlog", version="4.0.0", planned_date=None)
    ReleaseFactory(product=ProductFactory(workspace=other_workspace), version="1.1.0")
    client = session_client(pm)

    def listed(query=""):
        response = client.get(url(workspace, "releases") + "?" + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed() == [spring.pk, summer.pk, autumn.pk, undated.pk]
    assert listed(f"product={product.pk}") == [spring.pk, summer.pk]
    assert listed("status=planned") == [spring.pk, autumn.pk, undated.pk]
    assert listed("status=planned&status=in_progress") == [spring.pk, summer.pk, autumn.pk, undated.pk]
    assert listed(f"planned_after={in_days(20)}") == [summer.pk, autumn.pk]
    assert listed(f"planned_before={in_days(40)}") == [spring.pk, summer.pk]
    assert listed(f"planned_after={in_days(20)}&planned_before={in_days(50)}") == [summer.pk]
    assert listed("search=summ") == [summer.pk]
    assert listed("ordering=name") == [autumn.pk, undated.pk, spring.pk, summer.pk]
    assert listed("ordering=-planned_date") == [autumn.pk, summer.pk, spring.pk, undated.pk]
    assert listed("ordering=-created_at") == [undated.pk, autumn.pk, summer.pk, spring.pk]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    Release.objects.filter(pk=autumn.pk).update(updated_at=timezone.now() + timedelta(minutes=2))
    assert listed("updated_after=" + later.replace("+", "%2B")) == [autumn.pk]

    for query, attr in (
        ("status=shipped", "status"),
        ("planned_after=soon", "planned_after"),
        ("product=1.5", "product"),
        ("updated_since=2027-01-01", "updated_since"),
    ):
        bad = client.get(url(workspace, "releases") + "?" + query)
        assert bad.status_code == 400, query
        assert bad.json()["errors"][0]["attr"] == attr, query


# --- releases: bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "code"),
    [
        ("1.4", "invalid"),
        ("v1.4.0", "invalid"),
        ("2027.03", "invalid"),
        ("1.0.0", "unique"),
        ("1.2.0", "not_greater"),
        ("1.3.0-rc.1", "not_greater"),
    ],
)
def test_a_version_that_does_not_fit_is_a_field_error_and_nothing_is_written(
    workspace, pm, session_client, product, version, code
):
    ReleaseFactory(product=product, version="1.0.0")
    _released(product, "1.3.0")

    response = session_client(pm).post(
        url(workspace, "releases"), {"product": product.pk, "name": "Next", "version": version}
    )

    assert response.status_code == 400
    assert errors(response) == [("version", code)]
    assert Release.objects.count() == 2
    assert ChecklistTask.objects.count() == 0


def test_a_maintenance_release_of_an_older_line_and_calendar_versions(workspace, pm, session_client, product):
    _released(product, "2.0.0")
    client = session_client(pm)
    calver = ProductFactory(workspace=workspace, version_scheme=VersionScheme.CALVER)

    assert (
        client.post(
            url(workspace, "releases"), {"product": product.pk, "name": "Fix", "version": "1.4.3"}
        ).status_code
        == 201
    )
    assert (
        client.post(
            url(workspace, "releases"), {"product": calver.pk, "name": "March", "version": "2027.03"}
        ).status_code
        == 201
    )
    refused = client.post(url(workspace, "releases"), {"product": calver.pk, "name": "X", "version": "1.0.0"})
    assert errors(refused) == [("version", "invalid")]


def test_a_new_release_cannot_be_planned_in_the_past(workspace, pm, session_client, product):
    response = session_client(pm).post(
        url(workspace, "releases"),
        {"product": product.pk, "name": "Late", "version": "1.0.0", "planned_date": in_days(-1).isoformat()},
    )

    assert response.status_code == 400
    assert errors(response) == [("planned_date", "in_past")]
    assert Release.objects.count() == 0


def test_bad_release_bodies_are_field_errors(workspace, other_workspace, member, pm, session_client, product):
    foreign_product = ProductFactory(workspace=other_workspace)
    outsider = member(other_workspace, Role.OWNER).user
    client = session_client(pm)
    base = {"product": product.pk, "name": "Spring", "version": "1.0.0"}

    for body, expected in (
        ({**base, "product": foreign_product.pk}, [("product", "does_not_exist")]),
        ({**base, "owner": outsider.pk}, [("owner", "does_not_exist")]),
        ({**base, "name": ""}, [("name", "blank")]),
        ({**base, "name": "x" * 121}, [("name", "max_length")]),
        ({**base, "planned_date": "2101-01-01"}, [("planned_date", "out_of_range")]),
        ({**base, "status": "released"}, [("status", "unknown_field")]),
        ({**base, "version": 1}, [("version", "not_a_string")]),
        ({"name": "Spring", "version": "1.0.0"}, [("product", "required")]),
    ):
        response = client.post(url(workspace, "releases"), body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    assert Release.objects.count() == 0


def test_a_shipped_release_keeps_its_version_and_cannot_be_deleted(workspace, pm, session_client, product):
    shipped = _released(product, "1.0.0")
    client = session_client(pm)

    patched = client.patch(url(workspace, "releases", shipped.pk), {"version": "1.0.1"})
    deleted = client.delete(url(workspace, "releases", shipped.pk))

    assert errors(patched) == [("version", "read_only")]
    assert deleted.status_code == 409
    assert errors(deleted) == [(None, "release_shipped")]
    assert Release.objects.get().version == "1.0.0"


# --- releases: tenancy and roles -----------------------------------------------------------------


def test_another_workspaces_release_is_a_404_everywhere(workspace, other_workspace, member, session_client):
    foreign = ReleaseFactory(product=ProductFactory(workspace=other_workspace))
    client = session_client(member(workspace, Role.OWNER).user)

    for method, action, body in (
        ("get", None, None),
        ("patch", None, {"name": "Mine"}),
        ("delete", None, None),
        ("post", "status", {"status": "in_progress"}),
        ("get", "readiness", None),
        ("get", "ship-plan", None),
        ("post", "ship", {}),
        ("post", "cancel", {}),
        ("get", "status-history", None),
        ("get", "notes", None),
        ("patch", "notes", {"notes": "Mine"}),
        ("post", "notes/generate", {}),
        ("post", "notes/preview", {"notes": "x"}),
        ("post", "notes/publish", None),
    ):
        response = getattr(client, method)(
            url(workspace, "releases", foreign.pk, action), body, format="json"
        )
        assert response.status_code == 404, (method, action)
    assert ids(client.get(url(workspace, "releases"))) == []
    foreign.refresh_from_db()
    assert foreign.status == ReleaseStatus.PLANNED


def test_viewers_read_but_only_product_managers_plan_releases(
    workspace, viewer, contributor, pm, session_client, product
):
    release = _release(workspace, pm, product)
    as_viewer, as_contributor = session_client(viewer), session_client(contributor)

    assert as_viewer.get(url(workspace, "releases", release.pk)).status_code == 200
    assert as_viewer.get(url(workspace, "releases", release.pk, "notes")).status_code == 200
    for client in (as_viewer, as_contributor):
        assert (
            client.post(
                url(workspace, "releases"), {"product": product.pk, "name": "X", "version": "2.0.0"}
            ).status_code
            == 403
        )
        assert client.patch(url(workspace, "releases", release.pk), {"name": "X"}).status_code == 403
        for action, body in (
            ("status", {"status": "in_progress"}),
            ("ship", {}),
            ("cancel", {}),
            ("notes/publish", None),
        ):
            assert client.post(url(workspace, "releases", release.pk, action), body).status_code == 403
        assert client.delete(url(workspace, "releases", release.pk)).status_code == 403
    release.refresh_from_db()
    assert (release.name, release.status, Release.objects.count()) == ("Spring", "planned", 1)


# --- releases: status, readiness, ship plan ----------------------------------------------------------


def test_status_changes_and_their_history(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)
    client = session_client(pm)

    moved = client.post(
        url(workspace, "releases", release.pk, "status"), {"status": "in_progress", "reason": "Kick-off"}
    )
    refused = client.post(url(workspace, "releases", release.pk, "status"), {"status": "released"})
    history = client.get(url(workspace, "releases", release.pk, "status-history"))

    assert moved.status_code == 200
    assert moved.json()["status"] == "in_progress"
    assert errors(refused) == [("status", "invalid_choice")]
    assert history.json()["results"] == [
        {
            "id": ANY,
            "from_status": "planned",
            "to_status": "in_progress",
            "reason": "Kick-off",
            "actor": {"id": pm.pk, "username": pm.username, "email": pm.email},
            "created_at": ANY,
        },
        {
            "id": ANY,
            "from_status": None,
            "to_status": "planned",
            "reason": "",
            "actor": {"id": pm.pk, "username": pm.username, "email": pm.email},
            "created_at": ANY,
        },
    ]


def test_a_cancelled_release_cannot_change_status(workspace, pm, session_client, product):
    release = ReleaseFactory(product=product, status=ReleaseStatus.CANCELLED)

    response = session_client(pm).post(
        url(workspace, "releases", release.pk, "status"), {"status": "planned"}
    )

    assert response.status_code == 409
    assert errors(response) == [(None, "release_cancelled")]


def test_readiness_is_the_health_with_its_counts(workspace, pm, session_client, product):
    release = _release(workspace, pm, product, planned_date=in_days(60))
    _tick_checklist(release)
    team = TeamFactory(workspace=workspace)
    TeamCapacityFactory(team=team, starts_on=in_days(0), ends_on=in_days(60), capacity=3)
    ScopeItemFactory(release=release, feature__title="Alerts", feature__team=team, feature__effort=5)
    ScopeItemFactory(release=release, state=ScopeState.DONE)

    response = session_client(pm).get(url(workspace, "releases", release.pk, "readiness"))

    assert response.status_code == 200
    assert response.json() == {
        "is_ready": False,
        "readiness_pct": 83,
        "missing": ["Must-have not done: Alerts"],
        "at_risk": True,
        "risks": [
            f"Remaining must-have effort 5.00 exceeds the 3.00 available to their teams before {in_days(60)}"
        ],
        "must_haves": 2,
        "must_haves_done": 1,
        "required_tasks": 4,
        "required_tasks_done": 4,
        "remaining_effort": "5.00",
        "available_capacity": "3.00",
    }


def test_the_ship_plan_lists_what_ships_and_what_blocks(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)
    base = ScopeItemFactory(release=release, state=ScopeState.DONE, feature__title="Base").feature
    top = ScopeItemFactory(release=release, state=ScopeState.DONE, feature__title="Above").feature
    FeatureDependency.objects.create(workspace=workspace, feature=top, depends_on=base)
    outside = FeatureFactory(product=product, title="Outside")
    FeatureDependency.objects.create(workspace=workspace, feature=base, depends_on=outside)
    todo = ScopeItemFactory(release=release, feature__title="Todo").feature
    nice = ScopeItemFactory(release=release, is_must_have=False, feature__title="Nice").feature

    response = session_client(pm).get(url(workspace, "releases", release.pk, "ship-plan"))

    assert response.json() == {
        "ship": [{"id": base.pk, "title": "Base"}, {"id": top.pk, "title": "Above"}],
        "must_haves_unfinished": [{"id": todo.pk, "title": "Todo"}],
        "nice_to_haves_unfinished": [{"id": nice.pk, "title": "Nice"}],
        "dependencies_unshipped": [{"id": outside.pk, "title": "Outside"}],
        "notes_generated": True,
        "without_public_title": [],
    }


# --- releases: shipping ---------------------------------------------------------------------------


@pytest.fixture
def shippable(workspace, pm, product):
    """A release with two done must-haves, an unfinished nice-to-have and its checklist ticked."""
    release = _release(workspace, pm, product)
    _tick_checklist(release)
    for title in ("Exports", "Alerts"):
        ScopeItemFactory(release=release, state=ScopeState.DONE, feature__title=title)
    ScopeItemFactory(
        release=release, is_must_have=False, state=ScopeState.IN_PROGRESS, feature__title="Themes"
    )
    return release


def test_shipping_ships_the_done_scope_and_moves_the_rest(workspace, pm, session_client, product, shippable):
    later = ReleaseFactory(product=product, version="1.1.0")
    features = {item.feature.title: item.feature for item in shippable.scope_items.select_related("feature")}
    client = session_client(pm)

    response = client.post(
        url(workspace, "releases", shippable.pk, "ship"), {"move_unfinished_to": later.pk}, format="json"
    )

    assert response.status_code == 200
    event = Event.objects.get(kind="release.shipped")
    body = response.json()
    assert body == {
        "release": {**client.get(url(workspace, "releases", shippable.pk)).json(), "updated_at": ANY},
        "shipped": [
            {"id": features["Exports"].pk, "title": "Exports"},
            {"id": features["Alerts"].pk, "title": "Alerts"},
        ],
        "moved": [{"id": features["Themes"].pk, "title": "Themes", "to_release": later.pk}],
        "notes_generated": True,
        "event": event.pk,
        "changed": True,
    }
    assert body["release"]["status"] == "released"
    assert body["release"]["shipped_on"] == timezone.localdate().isoformat()
    assert body["release"]["notes_published_at"] is not None
    assert event.kind == Event.Kind.RELEASE_SHIPPED
    for title in ("Exports", "Alerts"):
        features[title].refresh_from_db()
        assert features[title].status == FeatureStatus.SHIPPED
    assert ScopeItem.objects.get(release=later).feature == features["Themes"]
    history = client.get(url(workspace, "features", features["Exports"].pk, "status-history")).json()
    assert history["results"][0]["context"] == {
        "release": {"id": shippable.pk, "name": "Spring", "version": "1.0.0"}
    }
    assert history["results"][0]["reason"] == "Shipped in Spring 1.0.0"

    again = client.post(url(workspace, "releases", shippable.pk, "ship"), {}, format="json")

    assert again.status_code == 200
    assert again.json() == {**body, "release": {**body["release"], "updated_at": ANY}, "changed": False}
    assert Event.objects.filter(kind="release.shipped").count() == 1


def test_unfinished_nice_to_haves_go_back_to_the_backlog(workspace, pm, session_client, shippable):
    themes = ScopeItem.objects.get(release=shippable, is_must_have=False)

    response = session_client(pm).post(url(workspace, "releases", shippable.pk, "ship"), {}, format="json")

    assert response.json()["moved"] == [{"id": themes.feature_id, "title": "Themes", "to_release": None}]
    themes.refresh_from_db()
    assert (themes.is_open, themes.outcome) == (False, ScopeOutcome.DEFERRED)


def test_unfinished_must_haves_are_a_409_with_the_features_and_nothing_is_written(
    workspace, pm, session_client, shippable
):
    todo = ScopeItemFactory(release=shippable, feature__title="Billing").feature

    response = session_client(pm).post(url(workspace, "releases", shippable.pk, "ship"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "code": "must_haves_unfinished",
            "detail": "Must-haves are not done: Billing.",
            "attr": None,
            "features": [{"id": todo.pk, "title": "Billing"}],
        }
    ]
    shippable.refresh_from_db()
    assert shippable.status == ReleaseStatus.PLANNED
    assert not FeatureStatusChange.objects.filter(to_status=FeatureStatus.SHIPPED).exists()
    assert Event.objects.count() == 0


def test_an_unshipped_dependency_outside_is_a_409_with_the_features(workspace, pm, session_client, shippable):
    outside = FeatureFactory(product=shippable.product, title="Search")
    done = ScopeItem.objects.filter(release=shippable, state=ScopeState.DONE).first().feature
    FeatureDependency.objects.create(workspace=workspace, feature=done, depends_on=outside)

    response = session_client(pm).post(url(workspace, "releases", shippable.pk, "ship"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "dependencies_unshipped"
    assert response.json()["errors"][0]["features"] == [{"id": outside.pk, "title": "Search"}]
    assert Event.objects.count() == 0


def test_forcing_a_ship_needs_an_admin_and_a_reason_and_is_audited(
    workspace, pm, admin, session_client, shippable
):
    todo = ScopeItemFactory(release=shippable, feature__title="Billing").feature
    path = url(workspace, "releases", shippable.pk, "ship")

    by_pm = session_client(pm).post(path, {"force": True, "reason": "Deadline"}, format="json")
    no_reason = session_client(admin).post(path, {"force": True}, format="json")
    forced = session_client(admin).post(path, {"force": True, "reason": "Board demo"}, format="json")

    assert by_pm.status_code == 403
    assert errors(no_reason) == [("reason", "required")]
    assert forced.status_code == 200
    assert forced.json()["moved"] == [
        {"id": ANY, "title": "Themes", "to_release": None},
        {"id": todo.pk, "title": "Billing", "to_release": None},
    ]
    audit = AuditEvent.objects.get(target_type="releases.release", changes__forced=True)
    assert audit.actor == admin
    assert audit.changes["reason"] == "Board demo"
    assert audit.changes["must_haves_unfinished"] == [{"id": todo.pk, "title": "Billing"}]
    assert Event.objects.get(kind="release.shipped").payload["forced"] is True


def test_shipping_a_cancelled_release_is_a_409(workspace, pm, session_client, product):
    release = ReleaseFactory(product=product, status=ReleaseStatus.CANCELLED)

    response = session_client(pm).post(url(workspace, "releases", release.pk, "ship"), {}, format="json")

    assert response.status_code == 409
    assert errors(response) == [(None, "release_cancelled")]


def test_moving_the_unfinished_scope_to_a_bad_release_is_a_400(
    workspace, other_workspace, pm, session_client, product, shippable
):
    client = session_client(pm)
    path = url(workspace, "releases", shippable.pk, "ship")
    other_product = ReleaseFactory(product=ProductFactory(workspace=workspace), version="2.0.0")
    foreign = ReleaseFactory(product=ProductFactory(workspace=other_workspace), version="2.0.0")

    for target, expected in (
        (other_product.pk, [("move_unfinished_to", "invalid")]),
        (shippable.pk, [("move_unfinished_to", "invalid")]),
        (foreign.pk, [("move_unfinished_to", "does_not_exist")]),
        ("soon", [("move_unfinished_to", "incorrect_type")]),
    ):
        response = client.post(path, {"move_unfinished_to": target}, format="json")
        assert response.status_code == 400, target
        assert errors(response) == expected, target
    shippable.refresh_from_db()
    assert shippable.status == ReleaseStatus.PLANNED


def test_cancelling_a_release_and_a_shipped_one(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)
    item = ScopeItemFactory(release=release)
    shipped = _released(product, "0.9.0")
    client = session_client(pm)

    cancelled = client.post(
        url(workspace, "releases", release.pk, "cancel"), {"reason": "Merged into summer"}
    )
    refused = client.post(url(workspace, "releases", shipped.pk, "cancel"), {})

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    item.refresh_from_db()
    assert (item.is_open, item.outcome) == (False, ScopeOutcome.CANCELLED)
    assert refused.status_code == 409
    assert errors(refused) == [(None, "release_shipped")]


# --- notes ---------------------------------------------------------------------------------------


def test_notes_read_written_generated_previewed_and_published(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)
    feature = ScopeItemFactory(release=release, state=ScopeState.DONE, feature__title="Exports").feature
    roadmap_services.feature_update(
        feature=feature, actor=pm, data={"public_title": "CSV exports", "release_note": "Download any chart."}
    )
    client = session_client(pm)
    generated = "## New\n\n- **CSV exports** — Download any chart.\n"

    read = client.get(url(workspace, "releases", release.pk, "notes"))

    assert read.json() == {
        "notes": "",
        "published_notes": "",
        "notes_html": "",
        "published_html": "",
        "notes_published_at": None,
        "generated": generated,
    }

    preview = client.post(
        url(workspace, "releases", release.pk, "notes/preview"),
        {"notes": "**Hi** <script>alert(1)</script> [x](javascript:alert(1))"},
    )
    assert preview.status_code == 200
    assert "<strong>Hi</strong>" in preview.json()["html"]
    assert "<script" not in preview.json()["html"]
    assert "javascript:" not in preview.json()["html"]

    just_generated = client.post(url(workspace, "releases", release.pk, "notes/generate"), {})
    assert just_generated.json() == {"notes": generated, "saved": False}
    release.refresh_from_db()
    assert release.notes == ""
    saved = client.post(url(workspace, "releases", release.pk, "notes/generate"), {"save": True})
    assert saved.json() == {"notes": generated, "saved": True}

    written = client.patch(url(workspace, "releases", release.pk, "notes"), {"notes": "Hand-written *notes*"})
    assert written.status_code == 200
    assert written.json()["notes"] == "Hand-written *notes*"
    assert written.json()["notes_html"] == "<p>Hand-written <em>notes</em></p>"
    assert written.json()["published_notes"] == ""

    published = client.post(url(workspace, "releases", release.pk, "notes/publish"))
    assert published.status_code == 200
    assert published.json() == {
        "notes": "Hand-written *notes*",
        "published_notes": "Hand-written *notes*",
        "notes_html": "<p>Hand-written <em>notes</em></p>",
        "published_html": "<p>Hand-written <em>notes</em></p>",
        "notes_published_at": ANY,
        "generated": generated,
    }
    assert client.get(url(workspace, "releases", release.pk)).json()["notes_published_at"] is not None


def test_notes_over_the_limit_are_a_400_and_nothing_is_saved(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)
    client = session_client(pm)
    too_long = "x" * (services.MAX_NOTES + 1)

    written = client.patch(
        url(workspace, "releases", release.pk, "notes"), {"notes": too_long}, format="json"
    )
    previewed = client.post(
        url(workspace, "releases", release.pk, "notes/preview"), {"notes": too_long}, format="json"
    )

    assert errors(written) == [("notes", "max_length")]
    assert errors(previewed) == [("notes", "max_length")]
    release.refresh_from_db()
    assert release.notes == ""


def test_a_public_release_with_nothing_to_say_cannot_publish(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)

    response = session_client(pm).post(url(workspace, "releases", release.pk, "notes/publish"))

    assert errors(response) == [("notes", "required")]
    release.refresh_from_db()
    assert release.notes_published_at is None


# --- scope -----------------------------------------------------------------------------------------


def scope_body(item, **overrides):
    item.refresh_from_db()
    return {
        "id": item.pk,
        "release": item.release_id,
        "feature": item.feature_id,
        "feature_title": item.feature.title,
        "is_must_have": item.is_must_have,
        "state": item.state,
        "change_type": item.change_type,
        "is_open": item.is_open,
        "outcome": item.outcome or None,
        "position": item.position,
        "added_at": ANY,
        "closed_at": ANY if item.closed_at else None,
        "updated_at": ANY,
        **overrides,
    }


def test_scope_item_crud_and_move(workspace, pm, session_client, product):
    release = _release(workspace, pm, product)
    later = _release(workspace, pm, product, name="Summer", version="1.1.0")
    feature = FeatureFactory(product=product, title="Exports")
    client = session_client(pm)

    created = client.post(
        url(workspace, "scope-items"),
        {"release": release.pk, "feature": feature.pk, "is_must_have": False, "change_type": "improved"},
    )

    assert created.status_code == 201
    item = ScopeItem.objects.get()
    assert created.json() == scope_body(item)
    assert created.json()["is_must_have"] is False
    assert created.json()["change_type"] == "improved"
    assert created.json()["state"] == "todo"
    assert client.get(url(workspace, "scope-items", item.pk)).json() == created.json()
    assert ids(client.get(url(workspace, "scope-items"))) == [item.pk]

    updated = client.patch(url(workspace, "scope-items", item.pk), {"is_must_have": True, "state": "done"})
    assert updated.json() == scope_body(item)
    assert (updated.json()["is_must_have"], updated.json()["state"]) == (True, "done")

    moved = client.post(url(workspace, "scope-items", item.pk, "move"), {"release": later.pk})
    assert moved.status_code == 200
    new = ScopeItem.objects.get(release=later)
    assert moved.json() == scope_body(new)
    assert (moved.json()["is_must_have"], moved.json()["state"]) == (True, "done")
    assert client.get(url(workspace, "scope-items", item.pk)).json()["outcome"] == "moved"
    closed = client.patch(url(workspace, "scope-items", item.pk), {"state": "todo"})
    assert closed.status_code == 409
    assert errors(closed) == [(None, "scope_closed")]

    assert client.delete(url(workspace, "scope-items", new.pk)).status_code == 204
    assert list(ScopeItem.objects.values_list("pk", flat=True)) == [item.pk]


def test_scope_item_filters(workspace, pm, session_client, product):
    release = ReleaseFactory(product=product)
    other = ReleaseFactory(product=product)
    a = ScopeItemFactory(release=release, state=ScopeState.DONE)
    b = ScopeItemFactory(release=release, is_must_have=False)
    c = ScopeItemFactory(release=other)
    closed = ScopeItemFactory(release=other, is_open=False, outcome=ScopeOutcome.DEFERRED)
    client = session_client(pm)

    def listed(query):
        response = client.get(url(workspace, "scope-items") + "?" + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed(f"release={release.pk}") == [a.pk, b.pk]
    assert listed(f"feature={c.feature_id}") == [c.pk]
    assert listed("is_open=false") == [closed.pk]
    assert listed("is_must_have=false") == [b.pk]
    assert listed("state=done") == [a.pk]
    assert listed("is_open=true&state=todo") == [b.pk, c.pk]
    assert errors(client.get(url(workspace, "scope-items") + "?state=shipped")) == [
        ("state", "invalid_choice")
    ]
    assert errors(client.get(url(workspace, "scope-items") + "?is_open=maybe")) == [("is_open", "invalid")]


def test_a_feature_that_cannot_join_is_a_field_error_and_nothing_is_written(
    workspace, other_workspace, pm, session_client, product
):
    release = ReleaseFactory(product=product)
    busy = ScopeItemFactory(release=ReleaseFactory(product=product)).feature
    foreign_feature = FeatureFactory(product=ProductFactory(workspace=other_workspace))
    foreign_release = ReleaseFactory(product=ProductFactory(workspace=other_workspace))
    other_product = FeatureFactory(product=ProductFactory(workspace=workspace))
    fine = FeatureFactory(product=product)
    client = session_client(pm)

    for body, expected in (
        ({"release": release.pk, "feature": foreign_feature.pk}, [("feature", "does_not_exist")]),
        ({"release": foreign_release.pk, "feature": fine.pk}, [("release", "does_not_exist")]),
        ({"release": release.pk, "feature": other_product.pk}, [("feature", "other_product")]),
        ({"release": release.pk, "feature": busy.pk}, [("feature", "in_other_release")]),
        ({"release": release.pk, "feature": fine.pk, "state": "shipped"}, [("state", "invalid_choice")]),
        ({"release": release.pk, "feature": fine.pk, "is_open": False}, [("is_open", "unknown_field")]),
    ):
        response = client.post(url(workspace, "scope-items"), body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    assert ScopeItem.objects.count() == 1


def test_a_shipped_release_takes_no_more_scope(workspace, pm, session_client, product):
    shipped = _released(product, "1.0.0")

    response = session_client(pm).post(
        url(workspace, "scope-items"), {"release": shipped.pk, "feature": FeatureFactory(product=product).pk}
    )

    assert response.status_code == 409
    assert errors(response) == [(None, "release_shipped")]
    assert ScopeItem.objects.count() == 0


def test_contributors_set_the_scope_state_only(workspace, contributor, viewer, session_client, product):
    item = ScopeItemFactory(release=ReleaseFactory(product=product))
    path = url(workspace, "scope-items", item.pk)
    client = session_client(contributor)

    assert client.patch(path, {"state": "in_progress"}).json()["state"] == "in_progress"
    assert client.patch(path, {"is_must_have": False}).status_code == 403
    assert client.delete(path).status_code == 403
    assert (
        client.post(
            url(workspace, "scope-items"),
            {"release": item.release_id, "feature": FeatureFactory(product=product).pk},
        ).status_code
        == 403
    )
    assert session_client(viewer).patch(path, {"state": "done"}).status_code == 403
    item.refresh_from_db()
    assert (item.state, item.is_must_have) == (ScopeState.IN_PROGRESS, True)


def test_another_workspaces_scope_item_is_a_404_and_moving_to_a_foreign_release_a_400(
    workspace, other_workspace, pm, session_client, product
):
    foreign = ScopeItemFactory(release=ReleaseFactory(product=ProductFactory(workspace=other_workspace)))
    mine = ScopeItemFactory(release=ReleaseFactory(product=product))
    client = session_client(pm)

    assert client.get(url(workspace, "scope-items", foreign.pk)).status_code == 404
    assert client.patch(url(workspace, "scope-items", foreign.pk), {"state": "done"}).status_code == 404
    assert client.delete(url(workspace, "scope-items", foreign.pk)).status_code == 404
    assert client.post(url(workspace, "scope-items", foreign.pk, "move"), {"release": 1}).status_code == 404
    moved = client.post(url(workspace, "scope-items", mine.pk, "move"), {"release": foreign.release_id})
    assert errors(moved) == [("release", "does_not_exist")]
    assert ids(client.get(url(workspace, "scope-items"))) == [mine.pk]


# --- checklist tasks ----------------------------------------------------------------------------------


def test_checklist_task_crud_and_filters(workspace, pm, contributor, session_client, product):
    release = ReleaseFactory(product=product)
    client = session_client(pm)

    created = client.post(
        url(workspace, "checklist-tasks"),
        {
            "release": release.pk,
            "title": "Record the demo",
            "category": "sales_enablement",
            "owner": contributor.pk,
            "due_date": in_days(20).isoformat(),
            "is_required": False,
        },
    )

    assert created.status_code == 201
    task = ChecklistTask.objects.get()
    assert created.json() == {
        "id": task.pk,
        "release": release.pk,
        "title": "Record the demo",
        "category": "sales_enablement",
        "owner": contributor.pk,
        "due_date": in_days(20).isoformat(),
        "state": "todo",
        "is_required": False,
        "position": 0,
        "completed_at": None,
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert client.get(url(workspace, "checklist-tasks", task.pk)).json() == created.json()
    required = ChecklistTaskFactory(release=release, owner=pm)
    done = ChecklistTaskFactory(release=ReleaseFactory(product=product), state=ChecklistState.DONE)

    def listed(query):
        response = client.get(url(workspace, "checklist-tasks") + "?" + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed(f"release={release.pk}") == [task.pk, required.pk]
    assert listed("state=done") == [done.pk]
    assert listed(f"owner={contributor.pk}") == [task.pk]
    assert listed("is_required=true") == [required.pk, done.pk]
    assert listed("search=demo") == [task.pk]

    ticked = session_client(contributor).patch(url(workspace, "checklist-tasks", task.pk), {"state": "done"})
    assert ticked.status_code == 200
    assert ticked.json()["state"] == "done"
    assert ticked.json()["completed_at"] is not None
    retitled = session_client(contributor).patch(
        url(workspace, "checklist-tasks", task.pk), {"title": "Mine"}
    )
    assert retitled.status_code == 403

    assert client.delete(url(workspace, "checklist-tasks", task.pk)).status_code == 204
    assert not ChecklistTask.objects.filter(pk=task.pk).exists()


def test_bad_checklist_tasks_are_refused(
    workspace, other_workspace, member, pm, viewer, session_client, product
):
    release = ReleaseFactory(product=product)
    shipped = _released(product, "0.1.0")
    foreign_release = ReleaseFactory(product=ProductFactory(workspace=other_workspace))
    outsider = member(other_workspace, Role.OWNER).user
    client = session_client(pm)

    for body, expected in (
        ({"release": foreign_release.pk, "title": "T"}, [("release", "does_not_exist")]),
        ({"release": release.pk, "title": "T", "owner": outsider.pk}, [("owner", "does_not_exist")]),
        ({"release": release.pk, "title": "T", "category": "party"}, [("category", "invalid_choice")]),
        ({"release": release.pk, "title": "T", "due_date": "1999-12-31"}, [("due_date", "out_of_range")]),
        ({"release": release.pk, "title": "   "}, [("title", "blank")]),
    ):
        response = client.post(url(workspace, "checklist-tasks"), body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    closed = client.post(url(workspace, "checklist-tasks"), {"release": shipped.pk, "title": "Late"})
    assert closed.status_code == 409
    assert (
        session_client(viewer)
        .post(url(workspace, "checklist-tasks"), {"release": release.pk, "title": "T"})
        .status_code
        == 403
    )
    foreign_task = ChecklistTaskFactory(release=foreign_release)
    assert client.get(url(workspace, "checklist-tasks", foreign_task.pk)).status_code == 404
    assert (
        client.patch(url(workspace, "checklist-tasks", foreign_task.pk), {"state": "done"}).status_code == 404
    )
    assert ChecklistTask.objects.filter(workspace=workspace).count() == 0


# --- the checklist template ------------------------------------------------------------------------------


def test_the_template_starts_with_the_default_checklist(workspace, viewer, session_client):
    response = session_client(viewer).get(url(workspace, "checklist-template"))

    assert response.status_code == 200
    assert [
        (row["title"], row["category"], row["relative_due"], row["is_required"])
        for row in response.json()["results"]
    ] == [
        (title, category, services.format_relative_due(offset), required)
        for title, category, offset, required in services.DEFAULT_CHECKLIST
    ]
    assert response.json()["results"][0]["relative_due"] == "-21 days"


def test_template_item_crud_with_relative_due_dates(workspace, pm, session_client):
    client = session_client(pm)

    created = client.post(
        url(workspace, "checklist-template"),
        {"title": "Update the status page", "category": "support_training", "relative_due": "-2 weeks"},
    )

    assert created.status_code == 201
    item = ChecklistTemplateItem.objects.get(title="Update the status page")
    assert created.json() == {
        "id": item.pk,
        "title": "Update the status page",
        "category": "support_training",
        "relative_due": "-14 days",
        "is_required": True,
        "default_owner": None,
        "position": len(services.DEFAULT_CHECKLIST),
        "created_at": ANY,
        "updated_at": ANY,
    }
    updated = client.patch(url(workspace, "checklist-template", item.pk), {"relative_due": "+1d"})
    assert updated.json()["relative_due"] == "+1 day"
    assert client.get(url(workspace, "checklist-template", item.pk)).json() == updated.json()

    assert client.delete(url(workspace, "checklist-template", item.pk)).status_code == 204
    assert not ChecklistTemplateItem.objects.filter(pk=item.pk).exists()
    release = _release(workspace, pm, ProductFactory(workspace=workspace))
    assert release.checklist_tasks.count() == len(services.DEFAULT_CHECKLIST)


@pytest.mark.parametrize(
    ("relative_due", "code"),
    [("next week", "invalid"), ("-7", "invalid"), ("-400 days", "out_of_range"), ("", "blank"), (-7, None)],
)
def test_a_malformed_relative_due_is_a_400_and_nothing_is_written(
    workspace, pm, session_client, relative_due, code
):
    services.checklist_template_ensure(workspace=workspace)
    item = ChecklistTemplateItem.objects.filter(workspace=workspace).first()
    client = session_client(pm)

    created = client.post(
        url(workspace, "checklist-template"), {"title": "T", "relative_due": relative_due}, format="json"
    )
    updated = client.patch(
        url(workspace, "checklist-template", item.pk), {"relative_due": relative_due}, format="json"
    )

    expected = [("relative_due", code or "not_a_string")]
    assert errors(created) == expected
    assert errors(updated) == expected
    assert ChecklistTemplateItem.objects.count() == len(services.DEFAULT_CHECKLIST)
    item.refresh_from_db()
    assert item.due_offset_days == services.DEFAULT_CHECKLIST[0][2]


def test_only_product_managers_edit_the_template(workspace, other_workspace, contributor, pm, session_client):
    client = session_client(contributor)
    listed = client.get(url(workspace, "checklist-template")).json()["results"]
    foreign = services.checklist_template_ensure(workspace=other_workspace)[0]
    for method in ("get", "patch", "delete"):
        assert (
            getattr(session_client(pm), method)(url(workspace, "checklist-template", foreign.pk)).status_code
            == 404
        )
    assert foreign.pk not in [row["id"] for row in listed]

    assert client.post(url(workspace, "checklist-template"), {"title": "Mine"}).status_code == 403
    assert (
        client.patch(url(workspace, "checklist-template", listed[0]["id"]), {"title": "X"}).status_code == 403
    )
    assert client.delete(url(workspace, "checklist-template", listed[0]["id"])).status_code == 403


# --- success metrics ----------------------------------------------------------------------------------


def test_success_metric_crud_and_actuals(workspace, pm, contributor, session_client, product):
    release = ReleaseFactory(product=product)
    client = session_client(pm)

    created = client.post(
        url(workspace, "success-metrics"),
        {
            "release": release.pk,
            "name": "Weekly exports",
            "unit": "exports",
            "baseline": "120",
            "target": "300.5",
            "review_date": in_days(90).isoformat(),
        },
    )

    assert created.status_code == 201
    metric = SuccessMetric.objects.get()
    assert created.json() == {
        "id": metric.pk,
        "release": release.pk,
        "feature": None,
        "name": "Weekly exports",
        "unit": "exports",
        "baseline": "120.0000",
        "target": "300.5000",
        "actual": None,
        "review_date": in_days(90).isoformat(),
        "key_result": None,
        "reviewed": False,
        "reviewed_at": None,
        "created_at": ANY,
        "updated_at": ANY,
    }

    as_contributor = session_client(contributor)
    first = as_contributor.post(
        url(workspace, "success-metrics", metric.pk, "actuals"),
        {"value": "150", "recorded_on": in_days(-7).isoformat(), "note": "Week 1"},
    )
    second = as_contributor.post(url(workspace, "success-metrics", metric.pk, "actuals"), {"value": "180.25"})

    assert first.status_code == 201
    assert first.json() == {
        "id": ANY,
        "metric": metric.pk,
        "value": "150.0000",
        "recorded_on": in_days(-7).isoformat(),
        "note": "Week 1",
        "actor": {"id": contributor.pk, "username": contributor.username, "email": contributor.email},
        "created_at": ANY,
    }
    assert second.json()["recorded_on"] == timezone.localdate().isoformat()
    listed = client.get(url(workspace, "success-metrics", metric.pk, "actuals"))
    assert [row["value"] for row in listed.json()["results"]] == ["180.2500", "150.0000"]
    assert client.get(url(workspace, "success-metrics", metric.pk)).json()["actual"] == "180.2500"

    reviewed = client.patch(url(workspace, "success-metrics", metric.pk), {"reviewed": True, "target": "400"})
    assert reviewed.status_code == 200
    assert (reviewed.json()["reviewed"], reviewed.json()["target"]) == (True, "400.0000")
    assert reviewed.json()["reviewed_at"] is not None
    assert (
        as_contributor.patch(url(workspace, "success-metrics", metric.pk), {"name": "X"}).status_code == 403
    )

    assert client.delete(url(workspace, "success-metrics", metric.pk)).status_code == 204
    assert (SuccessMetric.objects.count(), MetricActual.objects.count()) == (0, 0)


def test_a_metric_of_a_feature_reads_its_key_result(workspace, pm, session_client, product):
    feature = FeatureFactory(product=product)
    key_result = KeyResultFactory(goal__workspace=workspace, current=42)

    created = session_client(pm).post(
        url(workspace, "success-metrics"),
        {
            "feature": feature.pk,
            "name": "Activation",
            "baseline": "10",
            "target": "50",
            "review_date": in_days(30).isoformat(),
            "key_result": key_result.pk,
        },
    )

    assert created.status_code == 201
    assert (created.json()["feature"], created.json()["release"]) == (feature.pk, None)
    assert created.json()["actual"] == "42.0000"


def test_bad_metrics_are_field_errors_and_nothing_is_written(
    workspace, other_workspace, pm, session_client, product
):
    release = ReleaseFactory(product=product)
    foreign_release = ReleaseFactory(product=ProductFactory(workspace=other_workspace))
    foreign_kr = KeyResultFactory(goal__workspace=other_workspace)
    client = session_client(pm)
    base = {
        "release": release.pk,
        "name": "M",
        "baseline": "1",
        "target": "2",
        "review_date": str(in_days(9)),
    }

    for body, expected in (
        ({**base, "release": foreign_release.pk}, [("release", "does_not_exist")]),
        ({**base, "key_result": foreign_kr.pk}, [("key_result", "does_not_exist")]),
        ({**base, "target": "1"}, [("target", "invalid")]),
        ({**base, "release": None}, [("release", "required")]),
        ({**base, "baseline": "NaN"}, [("baseline", "invalid")]),
        ({**base, "review_date": "2200-01-01"}, [("review_date", "out_of_range")]),
    ):
        response = client.post(url(workspace, "success-metrics"), body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    assert SuccessMetric.objects.count() == 0
    metric = SuccessMetricFactory(release=release)
    moved = client.patch(url(workspace, "success-metrics", metric.pk), {"release": None}, format="json")
    assert errors(moved) == [("release", "unknown_field")]
    future = client.post(
        url(workspace, "success-metrics", metric.pk, "actuals"),
        {"value": "3", "recorded_on": str(in_days(5))},
    )
    assert errors(future) == [("recorded_on", "in_future")]
    assert MetricActual.objects.count() == 0


def test_metric_filters(workspace, pm, session_client, product):
    release = ReleaseFactory(product=product)
    feature = FeatureFactory(product=product)
    due = SuccessMetricFactory(release=release, review_date=in_days(-1))
    reviewed = SuccessMetricFactory(release=release, review_date=in_days(-2), reviewed_at=timezone.now())
    later = SuccessMetricFactory(workspace=workspace, release=None, feature=feature, review_date=in_days(10))
    client = session_client(pm)

    def listed(query):
        response = client.get(url(workspace, "success-metrics") + "?" + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed(f"release={release.pk}") == [reviewed.pk, due.pk]
    assert listed(f"feature={feature.pk}") == [later.pk]
    assert listed("review_due=true") == [due.pk]
    assert listed("review_due=false") == [reviewed.pk, later.pk]
    assert errors(client.get(url(workspace, "success-metrics") + "?review_due=soon")) == [
        ("review_due", "invalid")
    ]


def test_another_workspaces_metric_is_a_404(workspace, other_workspace, member, session_client):
    foreign = SuccessMetricFactory(release=ReleaseFactory(product=ProductFactory(workspace=other_workspace)))
    client = session_client(member(workspace, Role.OWNER).user)

    assert client.get(url(workspace, "success-metrics", foreign.pk)).status_code == 404
    assert client.get(url(workspace, "success-metrics", foreign.pk, "actuals")).status_code == 404
    assert (
        client.post(url(workspace, "success-metrics", foreign.pk, "actuals"), {"value": "1"}).status_code
        == 404
    )
    assert client.patch(url(workspace, "success-metrics", foreign.pk), {"name": "X"}).status_code == 404
    assert client.delete(url(workspace, "success-metrics", foreign.pk)).status_code == 404
    assert ids(client.get(url(workspace, "success-metrics"))) == []
    assert MetricActual.objects.count() == 0


def test_viewers_cannot_record_actuals(workspace, viewer, session_client, product):
    metric = SuccessMetricFactory(release=ReleaseFactory(product=product))

    response = session_client(viewer).post(
        url(workspace, "success-metrics", metric.pk, "actuals"), {"value": "1"}
    )

    assert response.status_code == 403
    assert MetricActual.objects.count() == 0


# --- settings --------------------------------------------------------------------------------------------


def test_release_settings_read_by_members_written_by_admins(workspace, pm, admin, session_client):
    path = url(workspace, "release-settings")

    assert session_client(pm).get(path).json() == {"risk_window_days": 14}
    assert session_client(pm).patch(path, {"risk_window_days": 7}).status_code == 403
    changed = session_client(admin).patch(path, {"risk_window_days": 7})
    assert changed.json() == {"risk_window_days": 7}
    for value, code in ((0, "out_of_range"), (366, "out_of_range"), ("soon", "invalid"), (None, "null")):
        refused = session_client(admin).patch(path, {"risk_window_days": value}, format="json")
        assert errors(refused) == [("risk_window_days", code)], value
    assert session_client(pm).get(path).json() == {"risk_window_days": 7}


def test_changelog_settings_read_by_members_written_by_admins(workspace, pm, admin, session_client):
    path = url(workspace, "changelog-settings")

    assert session_client(pm).get(path).json() == {"enabled": False, "title": "", "intro": ""}
    assert session_client(pm).patch(path, {"enabled": True}).status_code == 403
    changed = session_client(admin).patch(path, {"enabled": True, "title": " What's new ", "intro": "Hello"})
    assert changed.json() == {"enabled": True, "title": "What's new", "intro": "Hello"}
    too_long = session_client(admin).patch(path, {"title": "x" * 121})
    assert errors(too_long) == [("title", "max_length")]
    unknown = session_client(admin).patch(path, {"theme": "dark"})
    assert errors(unknown) == [("theme", "unknown_field")]
    assert session_client(pm).get(path).json() == changed.json()


# --- the roadmap's release fields --------------------------------------------------------------------


def test_products_expose_their_version_scheme_fixed_once_they_have_releases(
    workspace, pm, session_client, product
):
    client = session_client(pm)

    created = client.post(url(workspace, "products"), {"name": "Mobile", "version_scheme": "calver"})
    assert created.json()["version_scheme"] == "calver"
    assert client.get(url(workspace, "products", product.pk)).json()["version_scheme"] == "semver"
    assert (
        client.patch(url(workspace, "products", product.pk), {"version_scheme": "calver"}).status_code == 200
    )
    assert errors(client.patch(url(workspace, "products", product.pk), {"version_scheme": "roman"})) == [
        ("version_scheme", "invalid_choice")
    ]
    ReleaseFactory(product=product, version="2027.01")

    refused = client.patch(url(workspace, "products", product.pk), {"version_scheme": "semver"})

    assert refused.status_code == 400
    assert errors(refused) == [("version_scheme", "in_use")]
    assert Product.objects.get(pk=product.pk).version_scheme == VersionScheme.CALVER


def test_a_product_with_releases_cannot_be_deleted(workspace, pm, session_client, product):
    ReleaseFactory(product=product)

    response = session_client(pm).delete(url(workspace, "products", product.pk))

    assert response.status_code == 409
    assert errors(response) == [(None, "has_releases")]
    assert Product.objects.filter(pk=product.pk).exists()


def test_features_write_their_release_fields_and_read_is_mvp_from_the_scope(
    workspace, pm, session_client, product
):
    client = session_client(pm)
    created = client.post(
        url(workspace, "features"),
        {
            "title": "Exports",
            "product": product.pk,
            "public_title": "CSV exports",
            "release_note": "Any chart.",
        },
    )
    feature_id = created.json()["id"]
    nice = FeatureFactory(product=product)
    release = ReleaseFactory(product=product)

    assert created.status_code == 201
    assert (created.json()["public_title"], created.json()["release_note"]) == ("CSV exports", "Any chart.")
    assert created.json()["is_mvp"] is False
    refused = client.patch(url(workspace, "features", feature_id), {"is_mvp": True})
    assert errors(refused) == [("is_mvp", "unknown_field")]

    ScopeItemFactory(release=release, feature=Feature.objects.get(pk=feature_id), is_must_have=True)
    ScopeItemFactory(release=release, feature=nice, is_must_have=False)

    assert client.get(url(workspace, "features", feature_id)).json()["is_mvp"] is True
    assert client.get(url(workspace, "features", nice.pk)).json()["is_mvp"] is False
    assert ids(client.get(url(workspace, "features") + "?is_mvp=true")) == [feature_id]
    assert ids(client.get(url(workspace, "features") + "?is_mvp=false")) == [nice.pk]
    roadmap = client.get(url(workspace, "roadmap") + "?is_mvp=true").json()
    assert [f["id"] for f in roadmap["unscheduled"]["features"]] == [feature_id]
    ScopeItem.objects.filter(feature_id=feature_id).update(is_open=False, outcome=ScopeOutcome.DEFERRED)
    assert client.get(url(workspace, "features", feature_id)).json()["is_mvp"] is False


def test_a_persons_status_change_has_an_empty_context(workspace, pm, session_client, product):
    feature = FeatureFactory(product=product)
    client = session_client(pm)
    client.post(url(workspace, "features", feature.pk, "status"), {"status": "under_consideration"})

    history = client.get(url(workspace, "features", feature.pk, "status-history")).json()["results"]

    assert history[0]["context"] == {}


# --- query counts -----------------------------------------------------------------------------------

LIST_ENDPOINTS = {
    # name: (path under the workspace, the queries it takes)
    "releases": ("releases/", 11),
    "releases-filtered": ("releases/?status=planned&status=in_progress&ordering=name&search=R", 11),
    "release-status-history": ("releases/{release}/status-history/", 6),
    "scope-items": ("scope-items/", 5),
    "checklist-tasks": ("checklist-tasks/", 5),
    "checklist-template": ("checklist-template/", 6),
    "success-metrics": ("success-metrics/", 5),
    "metric-actuals": ("success-metrics/{metric}/actuals/", 6),
    "release-tombstones": ("releases/deleted/", 4),
    "features": ("features/?is_mvp=true", 6),
}


@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_list_query_count_does_not_grow_with_rows(
    workspace, pm, session_client, product, name, django_assert_num_queries
):
    team = TeamFactory(workspace=workspace)
    TeamCapacityFactory(team=team, starts_on=in_days(-30), ends_on=in_days(120), capacity=50)
    tracked = _release(workspace, pm, product, name="Tracked", version="0.1.0")
    metric = SuccessMetricFactory(release=tracked)
    services.checklist_template_ensure(workspace=workspace)
    client = session_client(pm)
    path, expected = LIST_ENDPOINTS[name]
    path = f"/api/v1/workspaces/{workspace.slug}/" + path.format(release=tracked.pk, metric=metric.pk)

    def add_rows(n):
        for _ in range(n):
            i = Release.objects.count()
            release = _release(
                workspace, pm, product, name=f"R{i}", version=f"{i}.0.0", planned_date=in_days(7)
            )
            feature = FeatureFactory(product=product, team=team, effort=2, title=f"F{i}")
            item = services.scope_add(release=release, feature=feature, actor=pm)
            outside = FeatureFactory(product=product, title=f"Dep {i}", target_date=in_days(60))
            FeatureDependency.objects.create(workspace=workspace, feature=feature, depends_on=outside)
            ChecklistTask.objects.filter(release=release, position=0).update(due_date=in_days(-1))
            services.release_change_status(release=release, to_status="in_progress", actor=pm)
            services.release_change_status(
                release=tracked, to_status=("planned", "in_progress")[i % 2], actor=pm
            )
            services.checklist_template_item_create(workspace=workspace, actor=pm, data={"title": f"T{i}"})
            services.success_metric_create(
                workspace=workspace,
                actor=pm,
                data={
                    "release": release,
                    "feature": feature,
                    "name": f"M{i}",
                    "baseline": 1,
                    "target": 2,
                    "review_date": in_days(20),
                    "key_result": KeyResultFactory(goal__workspace=workspace) if i % 2 else None,
                },
            )
            services.metric_actual_record(metric=metric, actor=pm, value=i)
            doomed = _release(workspace, pm, product, name=f"D{i}", version=f"{i}.5.0")
            services.release_delete(release=doomed, actor=pm)
            assert item.is_must_have

    add_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    add_rows(3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)

    assert response.status_code == 200
    assert len(response.json()["results"]) >= 5
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    with django_assert_num_queries(expected):
        client.get(path)


# --- schema ------------------------------------------------------------------------------------------


def test_release_examples_and_error_features_are_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    item = schema["components"]["schemas"]["ErrorItem"]["properties"]
    operation = schema["paths"]["/api/v1/workspaces/{workspace_slug}/releases/"]["post"]

    assert item["features"]["items"] == {"$ref": "#/components/schemas/ErrorDependant"}
    assert "examples" in operation["requestBody"]["content"]["application/json"]
    assert schema["components"]["schemas"]["FeatureOutput"]["properties"]["is_mvp"]["deprecated"] is True
    assert schema["components"]["schemas"]["ReleaseManualStatusEnum"]["enum"] == [
        "planned",
        "in_progress",
        "code_complete",
    ]
