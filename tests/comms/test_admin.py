"""Comms in the admin console: every model browsable with a constant number of queries, writes
through the comms services (audited as the operator), a refused write shown as an error with
nothing written, endpoint secrets never displayed but once, and the "Send this digest now"
action."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages

from comms import digests, services, webhooks
from comms.models import (
    CommsSettings,
    Stakeholder,
    Subscription,
    Threshold,
    ThresholdState,
    WebhookEndpoint,
)
from productops.models import AuditEvent
from productops.outbox.models import Delivery
from tests.comms.factories import ThresholdFactory, WebhookEndpointFactory
from tests.productops.factories import WorkspaceFactory
from tests.productops.test_admin import admin_url, assert_admin_pages_work
from tests.roadmap.factories import FeatureFactory

pytestmark = pytest.mark.django_db


def _stakeholder(n: int, workspace=None) -> Stakeholder:
    return services.stakeholder_create(
        workspace=workspace or WorkspaceFactory(),
        actor=None,
        data={
            "kind": "external",
            "email": f"exec{n}@example.com",
            "audience": "executive",
            "name": f"Exec {n}",
        },
    )


def _subscription(n: int) -> Subscription:
    stakeholder = _stakeholder(n)
    return services.subscription_create(
        workspace=stakeholder.workspace,
        actor=None,
        data={"stakeholder": stakeholder, "target_workspace": stakeholder.workspace, "cadence": "weekly"},
    )


def _threshold_state(n: int) -> ThresholdState:
    threshold = ThresholdFactory(value=n + 1)
    feature = FeatureFactory(product__workspace=threshold.workspace)
    return ThresholdState.objects.create(workspace=threshold.workspace, threshold=threshold, feature=feature)


COMMS_MAKERS = {
    Stakeholder: _stakeholder,
    Subscription: _subscription,
    CommsSettings: lambda n: services.comms_settings_for(WorkspaceFactory()),
    WebhookEndpoint: lambda n: WebhookEndpointFactory(),
    Threshold: lambda n: ThresholdFactory(value=n + 1),
    ThresholdState: _threshold_state,
}


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _audits(model) -> list[tuple[str, str]]:
    label = f"comms.{model._meta.model_name}"
    return list(
        AuditEvent.objects.filter(target_type=label).order_by("id").values_list("action", "actor_label")
    )


def test_every_model_of_the_app_is_registered():
    models = set(apps.get_app_config("comms").get_models())
    assert all(admin.site.is_registered(model) for model in models)
    assert set(COMMS_MAKERS) == models


@pytest.mark.parametrize("model", list(COMMS_MAKERS), ids=lambda m: m.__name__)
def test_changelist_and_change_page(admin_client, model):
    assert_admin_pages_work(admin_client, model, COMMS_MAKERS[model])


# --- stakeholders and subscriptions ---------------------------------------------------------


def test_adding_a_stakeholder_goes_through_the_service_audited_as_the_operator(admin_client, workspace):
    response = admin_client.post(
        admin_url(Stakeholder, "add"),
        {
            "workspace": workspace.pk,
            "kind": "external",
            "email": " CFO@Example.com ",
            "audience": "executive",
        },
    )

    assert response.status_code == 302
    stakeholder = Stakeholder.objects.get()
    assert (stakeholder.email, stakeholder.audience, stakeholder.workspace_id) == (
        "cfo@example.com",
        "executive",
        workspace.pk,
    )
    assert stakeholder.confirmed_at is not None
    assert _audits(Stakeholder) == [("created", "operator:admin")]


def test_a_member_stakeholder_needs_no_address_typed(admin_client, workspace, member):
    user = member(workspace, email="priya@example.com").user

    response = admin_client.post(
        admin_url(Stakeholder, "add"),
        {"workspace": workspace.pk, "kind": "member", "user": user.pk, "audience": "engineering"},
    )

    assert response.status_code == 302
    assert Stakeholder.objects.values_list("email", "user_id").get() == ("priya@example.com", user.pk)


def test_a_refused_stakeholder_is_reported_and_nothing_is_written(admin_client, workspace):
    _stakeholder(1, workspace)

    response = admin_client.post(
        admin_url(Stakeholder, "add"),
        {"workspace": workspace.pk, "kind": "member", "audience": "sales"},  # no user
        follow=True,
    )

    assert response.status_code == 200
    assert Stakeholder.objects.count() == 1
    assert _audits(Stakeholder) == [("created", "system")]


def test_changing_a_stakeholder_goes_through_the_service(admin_client, workspace):
    stakeholder = _stakeholder(1, workspace)

    response = admin_client.post(
        admin_url(Stakeholder, "change", stakeholder.pk),
        {"name": "Chief", "email": stakeholder.email, "audience": "sales"},
    )

    assert response.status_code == 302
    stakeholder.refresh_from_db()
    assert (stakeholder.name, stakeholder.audience) == ("Chief", "sales")
    assert _audits(Stakeholder) == [("created", "system"), ("updated", "operator:admin")]


def _subscription_form(**overrides) -> dict:
    form = {
        "channel": "email",
        "slack_url": "",
        "cadence": "weekly",
        "time_zone": "Europe/Paris",
        "local_hour": 9,
        "weekday": 1,
        "is_active": "on",
    }
    form.update(overrides)
    return form


def test_adding_a_subscription_goes_through_the_service_and_schedules_it(admin_client, workspace):
    stakeholder = _stakeholder(1, workspace)

    response = admin_client.post(
        admin_url(Subscription, "add"),
        _subscription_form(workspace=workspace.pk, stakeholder=stakeholder.pk, target_workspace=workspace.pk),
    )

    assert response.status_code == 302
    subscription = Subscription.objects.get()
    assert (subscription.stakeholder_id, subscription.target_workspace_id, subscription.time_zone) == (
        stakeholder.pk,
        workspace.pk,
        "Europe/Paris",
    )
    assert subscription.next_due_at is not None
    assert _audits(Subscription) == [("created", "operator:admin")]


def test_a_subscription_with_an_unknown_time_zone_is_refused_and_nothing_is_written(admin_client, workspace):
    stakeholder = _stakeholder(1, workspace)

    response = admin_client.post(
        admin_url(Subscription, "add"),
        _subscription_form(
            workspace=workspace.pk,
            stakeholder=stakeholder.pk,
            target_workspace=workspace.pk,
            time_zone="Mars/Base",
        ),
        follow=True,
    )

    assert response.status_code == 200
    assert [level for level, _ in _messages(response)] == ["error"]
    assert not Subscription.objects.exists()
    assert _audits(Subscription) == []


def test_changing_a_subscription_reschedules_it_through_the_service(admin_client):
    subscription = _subscription(1)
    before = subscription.next_due_at

    response = admin_client.post(
        admin_url(Subscription, "change", subscription.pk),
        _subscription_form(cadence="daily", time_zone="UTC", local_hour=7),
    )

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.cadence, subscription.local_hour) == ("daily", 7)
    assert subscription.next_due_at != before
    assert subscription.next_due_at.hour == 7
    assert _audits(Subscription) == [("created", "system"), ("updated", "operator:admin")]


def _send_now(admin_client, subscriptions) -> list[tuple[str, str]]:
    response = admin_client.post(
        admin_url(Subscription, "changelist"),
        {"action": "send_now", "_selected_action": [s.pk for s in subscriptions]},
        follow=True,
    )
    assert response.status_code == 200
    return _messages(response)


def test_send_this_digest_now_calls_the_digest_service_for_each_subscription(admin_client, monkeypatch):
    first, second = _subscription(1), _subscription(2)
    calls = []

    def record(*, subscription, actor):
        calls.append((subscription.pk, actor))
        if subscription.pk == second.pk:
            from productops.errors import Conflict

            raise Conflict("The subscription is not active.", code="inactive")

    monkeypatch.setattr(digests, "digest_send_now", record, raising=False)

    notes = _send_now(admin_client, [second, first])

    assert calls == [(first.pk, None), (second.pk, None)]
    assert notes == [
        ("success", f"Exec 1 (workspace #{first.target_workspace_id}): digest queued; see Deliveries."),
        (
            "error",
            f"Exec 2 (workspace #{second.target_workspace_id}): not sent. The subscription is not active.",
        ),
    ]


def test_send_this_digest_now_records_a_digest_delivery_for_the_stakeholder(admin_client):
    subscription = _subscription(1)

    notes = _send_now(admin_client, [subscription])

    assert [level for level, _ in notes] == ["success"]
    rows = Delivery.objects.filter(
        workspace=subscription.workspace, recipient_ref=f"stakeholder:{subscription.stakeholder_id}"
    )
    assert rows.count() == 1
    row = rows.get()
    assert (row.kind, row.recipient) == (digests.DIGEST_KIND, subscription.stakeholder.email)
    assert row.dedupe_key.startswith(f"digest:{subscription.pk}:manual:")
    assert AuditEvent.objects.filter(
        target_type="comms.subscription", target_id=str(subscription.pk), actor_label="operator:admin"
    ).exists()


# --- settings -------------------------------------------------------------------------------


def test_comms_settings_change_through_the_service_and_cannot_be_added(admin_client, workspace):
    row = services.comms_settings_for(workspace)

    response = admin_client.post(
        admin_url(CommsSettings, "change", row.pk), {"notify_imported_contacts": "on", "digest_rank_moves": 8}
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.notify_imported_contacts, row.digest_rank_moves) == (True, 8)
    assert _audits(CommsSettings) == [("updated", "operator:admin")]
    assert admin_client.get(admin_url(CommsSettings, "add")).status_code == 403


# --- webhook endpoints and thresholds -------------------------------------------------------


def test_an_endpoint_secret_is_never_displayed(admin_client):
    endpoint = WebhookEndpointFactory(previous_secret="whsec_b2xkLW9uZS1zdGlsbC12YWxpZA==")

    for url in (admin_url(WebhookEndpoint, "changelist"), admin_url(WebhookEndpoint, "change", endpoint.pk)):
        page = admin_client.get(url).content.decode()
        assert endpoint.name in page
        assert endpoint.secret not in page
        assert endpoint.secret.removeprefix("whsec_") not in page
        assert "whsec_b2xkLW9uZS1zdGlsbC12YWxpZA" not in page


def test_adding_an_endpoint_shows_its_secret_once(admin_client, workspace):
    response = admin_client.post(
        admin_url(WebhookEndpoint, "add"),
        {
            "workspace": workspace.pk,
            "name": "CRM",
            "url": "https://hooks.example.com/crm",
            "format": "standard",
            "event_types": ["release.shipped", "feature.status_changed"],
            "rank_top_n": 10,
            "is_active": "on",
        },
        follow=True,
    )

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.name, endpoint.event_types) == ("CRM", ["release.shipped", "feature.status_changed"])
    assert _messages(response)[0] == ("warning", f"Signing secret (shown once): {endpoint.secret}")
    assert _audits(WebhookEndpoint) == [("created", "operator:admin")]
    page = admin_client.get(admin_url(WebhookEndpoint, "change", endpoint.pk)).content.decode()
    assert endpoint.secret not in page


def test_an_endpoint_on_plain_http_is_refused_and_nothing_is_written(admin_client, workspace):
    response = admin_client.post(
        admin_url(WebhookEndpoint, "add"),
        {
            "workspace": workspace.pk,
            "name": "CRM",
            "url": "http://hooks.example.com/crm",
            "format": "standard",
            "rank_top_n": 10,
        },
        follow=True,
    )

    assert _messages(response) == [("error", "The URL must use https://.")]
    assert not WebhookEndpoint.objects.exists()
    assert _audits(WebhookEndpoint) == []


def test_rotating_an_endpoint_secret_shows_the_new_one_once_and_keeps_the_old_one_signing(admin_client):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret

    response = admin_client.post(
        admin_url(WebhookEndpoint, "changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.previous_secret == old
    assert _messages(response) == [
        ("warning", f"{endpoint.name}: new signing secret (shown once): {endpoint.secret}")
    ]
    assert _audits(WebhookEndpoint) == [("updated", "operator:admin")]


def test_a_threshold_is_added_from_its_rule_and_a_bad_rule_is_refused(admin_client, workspace):
    added = admin_client.post(
        admin_url(Threshold, "add"), {"workspace": workspace.pk, "rule": "arr >= 250k"}, follow=True
    )
    refused = admin_client.post(
        admin_url(Threshold, "add"), {"workspace": workspace.pk, "rule": "arr is large"}, follow=True
    )

    assert [level for level, _ in _messages(added)] == ["success"]
    assert Threshold.objects.values_list("metric", "value").get() == ("arr", Decimal("250000.00"))
    assert _messages(refused) == [("error", 'Write a rule like "companies >= 5" or "arr >= 250k".')]
    assert _audits(Threshold) == [("created", "operator:admin")]

    threshold = Threshold.objects.get()
    assert admin_client.get(admin_url(Threshold, "change", threshold.pk)).status_code == 200
    deleted = admin_client.post(admin_url(Threshold, "delete", threshold.pk), {"post": "yes"})
    assert deleted.status_code == 302
    assert not Threshold.objects.exists()
    assert webhooks.thresholds_list(workspace=workspace).count() == 0


def test_send_a_test_event_queues_one_delivery_per_active_endpoint(admin_client):
    active, inactive = (
        WebhookEndpointFactory(name="Active"),
        WebhookEndpointFactory(name="Paused", is_active=False),
    )

    response = admin_client.post(
        admin_url(WebhookEndpoint, "changelist"),
        {"action": "send_test", "_selected_action": [active.pk, inactive.pk]},
        follow=True,
    )

    assert _messages(response) == [
        ("success", "Active: test event queued; see Deliveries."),
        ("error", "Paused: The endpoint is not active; activate it to send a test."),
    ]
    assert list(Delivery.objects.values_list("recipient_ref", "recipient")) == [
        (f"endpoint:{active.pk}", active.url)
    ]
