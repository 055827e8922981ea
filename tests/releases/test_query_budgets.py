"""Fixed query budgets of the releases API's detail reads and writes (api/releases).

Each budget is the exact number of queries of one request, session authentication included;
a detail read costs the same with one scope item, task or metric as with five (``rich``).
Shipping is the exception, asserted for 1 and 5 features: each shipped feature's status
change re-reads and locks its row (tests/zeal_allowlist.py, an open problem). The list
budgets are in test_api.py; detail routes come from the URL conf (tests/query_routes.py).
"""

from __future__ import annotations

import pytest

from productops.models import Role
from releases import services
from releases.models import ScopeState
from roadmap.models import FeatureStatus
from tests.query_routes import object_get_routes
from tests.releases.factories import (
    ChecklistTaskFactory,
    ReleaseFactory,
    ScopeItemFactory,
    SuccessMetricFactory,
)
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


def url(workspace, *parts) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/" + "".join(f"{p}/" for p in parts)


def _release(workspace, n: int):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace))
    for _ in range(n):
        ScopeItemFactory(release=release, state=ScopeState.DONE)
        ChecklistTaskFactory(release=release)
        SuccessMetricFactory(release=release)
    return release


def _scope_item(workspace, n: int):
    return _release(workspace, n).scope_items.first()


def _task(workspace, n: int):
    return _release(workspace, n).checklist_tasks.first()


def _metric(workspace, n: int):
    return _release(workspace, n).success_metrics.first()


def _template_item(workspace, n: int):
    return services.checklist_template_ensure(workspace=workspace)[0]


#: route name → (path, builder of the object with ``n`` related rows, exact queries of its GET)
DETAIL_BUDGETS = {
    "release-detail": ("releases/{pk}", _release, 8),
    "release-notes": ("releases/{pk}/notes", _release, 5),
    "release-readiness": ("releases/{pk}/readiness", _release, 8),
    "release-ship-plan": ("releases/{pk}/ship-plan", _release, 6),
    "release-status-history": ("releases/{pk}/status-history", _release, 5),
    "scope-item-detail": ("scope-items/{pk}", _scope_item, 4),
    "checklist-task-detail": ("checklist-tasks/{pk}", _task, 4),
    "checklist-template-item-detail": ("checklist-template/{pk}", _template_item, 4),
    "success-metric-detail": ("success-metrics/{pk}", _metric, 4),
    "success-metric-actuals": ("success-metrics/{pk}/actuals", _metric, 5),
}
SINGLETONS = {"release-settings": ("release-settings", 4), "changelog-settings": ("changelog-settings", 4)}


@pytest.mark.parametrize("route", list(DETAIL_BUDGETS))
def test_detail_read_budget(route, workspace, owner, session_client, django_assert_num_queries):
    path, build, budget = DETAIL_BUDGETS[route]
    plain, rich = build(workspace, 1), build(workspace, 5)
    client = session_client(owner)
    client.get(url(workspace, path.format(pk=plain.pk)))  # first use: settings rows

    for obj in (plain, rich):
        with django_assert_num_queries(budget):
            response = client.get(url(workspace, path.format(pk=obj.pk)))
        assert response.status_code == 200, response.content


@pytest.mark.parametrize("route", list(SINGLETONS))
def test_settings_read_budget(route, workspace, owner, session_client, django_assert_num_queries):
    path, budget = SINGLETONS[route]
    client = session_client(owner)
    client.get(url(workspace, path))  # creates the row with the defaults on first use

    with django_assert_num_queries(budget):
        assert client.get(url(workspace, path)).status_code == 200


def test_every_detail_route_has_a_budget():
    assert object_get_routes("api.releases.views") == set(DETAIL_BUDGETS) | set(SINGLETONS)


# --- writes ------------------------------------------------------------------------------


def test_release_write_budgets(workspace, pm, session_client, django_assert_num_queries):
    product = ProductFactory(workspace=workspace)
    client = session_client(pm)
    body = {"product": product.pk, "name": "Spring", "version": "1.4.0", "is_public": False}

    with django_assert_num_queries(30):
        created = client.post(url(workspace, "releases"), body)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    with django_assert_num_queries(26):
        assert client.patch(url(workspace, "releases", pk), {"summary": "Faster"}).status_code == 200
    with django_assert_num_queries(17):
        moved = client.post(url(workspace, "releases", pk, "status"), {"status": "in_progress"})
    assert moved.status_code == 200, moved.content
    with django_assert_num_queries(22):
        assert client.delete(url(workspace, "releases", pk)).status_code == 204


@pytest.mark.parametrize(("n", "budget"), [(1, 38), (5, 94)])  # 24 + 14 per shipped feature
def test_ship_budget(n, budget, workspace, owner, session_client, django_assert_num_queries):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace), is_public=False)
    for _ in range(n):
        ScopeItemFactory(release=release, state=ScopeState.DONE, feature__status=FeatureStatus.IN_PROGRESS)
    client = session_client(owner)

    with django_assert_num_queries(budget):
        shipped = client.post(url(workspace, "releases", release.pk, "ship"), {"force": True, "reason": "Go"})

    assert shipped.status_code == 200, shipped.content
    assert len(shipped.json()["shipped"]) == n
