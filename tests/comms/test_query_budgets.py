"""Fixed query budgets of the comms API's detail reads and writes (api/comms).

Each budget is the exact number of queries of one request, session authentication included;
a detail read costs the same with one related row as with five (``rich``: five features linked
to feedback of five contacts for the close-the-loop previews, five subscriptions or deliveries
otherwise). Detail routes come from the URL conf (tests/query_routes.py).
"""

from __future__ import annotations

import pytest

from comms import services
from productops.outbox.models import Delivery
from releases.models import ScopeState
from tests.comms.factories import StakeholderFactory, ThresholdFactory, WebhookEndpointFactory
from tests.feedback.factories import ContactFactory, FeedbackItemFactory, FeedbackLinkFactory
from tests.query_routes import object_get_routes
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def url(workspace, *parts) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/" + "".join(f"{p}/" for p in parts)


def _asked(workspace, feature, n: int) -> None:
    for _ in range(n):
        item = FeedbackItemFactory(workspace=workspace, contact=ContactFactory(workspace=workspace))
        FeedbackLinkFactory(feature=feature, item=item)


def _release(workspace, n: int):
    release = ReleaseFactory(product=ProductFactory(workspace=workspace))
    for _ in range(n):
        _asked(workspace, ScopeItemFactory(release=release, state=ScopeState.DONE).feature, n)
    return release


def _feature(workspace, n: int):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    _asked(workspace, feature, n)
    return feature


def _stakeholder(workspace, n: int):
    stakeholder = StakeholderFactory(workspace=workspace)
    for cadence in ["weekly", "daily"][: min(n, 2)]:
        services.subscription_create(
            workspace=workspace,
            actor=None,
            data={"stakeholder": stakeholder, "target_workspace": workspace, "cadence": cadence},
        )
    return stakeholder


def _subscription(workspace, n: int):
    return _stakeholder(workspace, n).subscriptions.first()


def _delivery(workspace, n: int):
    endpoint = WebhookEndpointFactory(workspace=workspace)
    rows = [
        Delivery.objects.create(
            workspace=workspace,
            dedupe_key=f"test:{endpoint.pk}:{i}",
            kind="comms.webhook",
            channel="webhook",
            recipient=endpoint.url,
            recipient_ref=f"webhook:{endpoint.pk}",
            subject="feature.status_changed",
            body_text="{}",
        )
        for i in range(n)
    ]
    return rows[0]


def _endpoint(workspace, n: int):
    return WebhookEndpointFactory(workspace=workspace)


def _threshold(workspace, n: int):
    return ThresholdFactory(workspace=workspace, value=3 + n)


#: route name → (path, builder of the object with ``n`` related rows, exact queries of its GET)
DETAIL_BUDGETS = {
    "stakeholder-detail": ("stakeholders/{pk}", _stakeholder, 4),
    "stakeholder-digest-preview": ("stakeholders/{pk}/digest-preview", _stakeholder, 14),
    "subscription-detail": ("subscriptions/{pk}", _subscription, 4),
    "subscription-digest-preview": ("subscriptions/{pk}/digest-preview", _subscription, 13),
    "webhook-endpoint-detail": ("webhook-endpoints/{pk}", _endpoint, 4),
    "webhook-endpoint-deliveries": ("webhook-endpoints/{pk}/deliveries", _endpoint, 5),
    "threshold-detail": ("thresholds/{pk}", _threshold, 4),
    "delivery-detail": ("deliveries/{pk}", _delivery, 4),
    "release-loop-loop-preview": ("releases/{pk}/loop-preview", _release, 16),
    "feature-loop-loop-preview": ("features/{pk}/loop-preview", _feature, 11),
}


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


def test_comms_settings_read_budget(workspace, owner, session_client, django_assert_num_queries):
    client = session_client(owner)
    client.get(url(workspace, "comms-settings"))  # creates the row with the defaults on first use

    with django_assert_num_queries(4):
        assert client.get(url(workspace, "comms-settings")).status_code == 200


def test_every_detail_route_has_a_budget():
    assert object_get_routes("api.comms.views") == set(DETAIL_BUDGETS) | {"comms-settings"}


def test_stakeholder_write_budgets(workspace, owner, session_client, django_assert_num_queries):
    client = session_client(owner)
    body = {"kind": "external", "name": "Ann", "email": "ann@example.com", "audience": "executive"}

    with django_assert_num_queries(12):
        created = client.post(url(workspace, "stakeholders"), body)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    with django_assert_num_queries(17):
        assert client.patch(url(workspace, "stakeholders", pk), {"name": "Ann B"}).status_code == 200
    with django_assert_num_queries(11):
        assert client.delete(url(workspace, "stakeholders", pk)).status_code == 204
