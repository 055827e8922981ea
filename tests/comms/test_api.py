"""The comms API: stakeholders, subscriptions and their digest preview and test send,
webhook endpoints (secret shown once), thresholds, the delivery log and its retry, the
comms settings, the close-the-loop previews; and the feature status change's customer
message."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from comms import services, webhooks
from comms.models import CommsSettings, Stakeholder, Subscription, Threshold, WebhookEndpoint
from productops.models import AuditEvent, Event, Role
from productops.outbox.models import Delivery
from productops.outbox.transports import webhook_headers
from roadmap.models import FeatureStatus, FeatureStatusChange, Initiative
from tests.feedback.factories import ContactFactory, FeedbackItemFactory, FeedbackLinkFactory, VoteFactory
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, GoalFactory, ProductFactory

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX"


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


def _stakeholder(workspace, email="exec@acme.example", audience="executive", **data):
    return services.stakeholder_create(
        workspace=workspace,
        actor=None,
        data={"kind": "external", "email": email, "audience": audience, **data},
    )


def _subscription(workspace, stakeholder, **data):
    return services.subscription_create(
        workspace=workspace,
        actor=None,
        data={"stakeholder": stakeholder, "target_workspace": workspace, **data},
    )


def _delivery(workspace, n=0, **fields):
    values = {
        "workspace": workspace,
        "dedupe_key": f"test:{n}",
        "kind": "comms.digest",
        "channel": "email",
        "recipient": f"person{n}@acme.example",
        "recipient_ref": f"stakeholder:{n}",
        "subject": f"Digest {n}",
        "body_text": f"Text {n}",
        "body_html": f"<p>Text {n}</p>",
        **fields,
    }
    return Delivery.objects.create(**values)


def _foreign_objects(other_workspace):
    product = ProductFactory(workspace=other_workspace)
    return {
        "product": product,
        "goal": GoalFactory(workspace=other_workspace),
        "initiative": Initiative.objects.create(workspace=other_workspace, title="Elsewhere"),
        "feature": FeatureFactory(product=product),
        "release": ReleaseFactory(product=product),
    }


# --- every endpoint: authentication ---------------------------------------------------------------

ENDPOINTS = [
    ("get", "stakeholders", None),
    ("post", "stakeholders", None),
    ("get", "stakeholders", "1"),
    ("get", "stakeholders/1", "digest-preview"),
    ("get", "subscriptions", None),
    ("post", "subscriptions", None),
    ("get", "subscriptions/1", "digest-preview"),
    ("post", "subscriptions/1", "send-test"),
    ("get", "webhook-endpoints", None),
    ("post", "webhook-endpoints", None),
    ("patch", "webhook-endpoints", "1"),
    ("post", "webhook-endpoints/1", "rotate-secret"),
    ("post", "webhook-endpoints/1", "send-test"),
    ("get", "webhook-endpoints/1", "deliveries"),
    ("get", "thresholds", None),
    ("post", "thresholds", None),
    ("delete", "thresholds", "1"),
    ("get", "deliveries", None),
    ("get", "deliveries", "1"),
    ("post", "deliveries/1", "retry"),
    ("get", "comms-settings", None),
    ("patch", "comms-settings", None),
    ("get", "releases/1", "loop-preview"),
    ("get", "features/1", "loop-preview"),
]


@pytest.mark.parametrize(("method", "resource", "rest"), ENDPOINTS)
def test_every_endpoint_needs_authentication(workspace, method, resource, rest):
    from rest_framework.test import APIClient

    path = url(workspace, resource) + (f"{rest}/" if rest else "")
    response = getattr(APIClient(), method)(path, {}, format="json")

    assert response.status_code == 401
    assert errors(response) == [(None, "not_authenticated")]


@pytest.mark.parametrize(("method", "resource", "rest"), ENDPOINTS)
def test_a_non_member_gets_a_404_for_the_workspace(
    workspace, other_workspace, member, session_client, method, resource, rest
):
    client = session_client(member(other_workspace, Role.OWNER).user)
    path = url(workspace, resource) + (f"{rest}/" if rest else "")
    response = getattr(client, method)(path, {}, format="json")

    assert response.status_code == 404
    assert response.json()["errors"][0]["detail"] == "Workspace not found."


# --- stakeholders ---------------------------------------------------------------------------------


def test_stakeholder_crud(workspace, pm, session_client, member):
    client = session_client(pm)
    colleague = member(workspace, Role.VIEWER, first_name="Dana", last_name="Scully").user
    contact = ContactFactory(workspace=workspace, email="ann@initech.example", name="Ann")

    external = client.post(
        url(workspace, "stakeholders"),
        {"email": "Board@Acme.example", "audience": "executive"},
        format="json",
    )
    as_member = client.post(
        url(workspace, "stakeholders"),
        {"kind": "member", "user": colleague.pk, "audience": "sales"},
        format="json",
    )
    as_contact = client.post(
        url(workspace, "stakeholders"),
        {"kind": "contact", "contact": contact.pk, "audience": "customer"},
        format="json",
    )

    assert (external.status_code, as_member.status_code, as_contact.status_code) == (201, 201, 201)
    body = external.json()
    assert body == {
        "id": body["id"],
        "kind": "external",
        "user": None,
        "contact": None,
        "name": "",
        "email": "board@acme.example",
        "audience": "executive",
        "confirmed_at": body["confirmed_at"],
        "unsubscribed_at": None,
        "subscription_count": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert body["confirmed_at"] is not None
    assert (as_member.json()["user"], as_member.json()["name"], as_member.json()["email"]) == (
        colleague.pk,
        "Dana Scully",
        colleague.email,
    )
    assert (as_contact.json()["contact"], as_contact.json()["email"]) == (contact.pk, "ann@initech.example")

    listed = client.get(url(workspace, "stakeholders"))
    assert listed.status_code == 200
    # By name (the external one has none yet), then e-mail.
    assert ids(listed) == [body["id"], as_contact.json()["id"], as_member.json()["id"]]

    detail = client.get(url(workspace, "stakeholders", body["id"]))
    assert detail.json() == body

    patched = client.patch(
        url(workspace, "stakeholders", body["id"]),
        {"name": "The board", "audience": "marketing", "email": "board2@acme.example"},
        format="json",
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["audience"], patched.json()["email"]) == (
        "The board",
        "marketing",
        "board2@acme.example",
    )

    deleted = client.delete(url(workspace, "stakeholders", body["id"]))
    assert deleted.status_code == 204
    assert not Stakeholder.objects.filter(pk=body["id"]).exists()
    assert client.get(url(workspace, "stakeholders", body["id"])).status_code == 404
    tombstones = client.get(url(workspace, "stakeholders", action="deleted"))
    assert [row["id"] for row in tombstones.json()["results"]] == [body["id"]]
    assert (
        AuditEvent.objects.filter(
            workspace=workspace, target_type="comms.stakeholder", action=AuditEvent.Action.CREATED
        ).count()
        == 3
    )


def test_a_stakeholder_counts_their_subscriptions(workspace, pm, session_client):
    stakeholder = _stakeholder(workspace)
    _subscription(workspace, stakeholder)
    _subscription(workspace, stakeholder, cadence="daily")

    response = session_client(pm).get(url(workspace, "stakeholders", stakeholder.pk))

    assert response.json()["subscription_count"] == 2


def test_stakeholder_filters_search_and_ordering(workspace, other_workspace, pm, session_client):
    board = _stakeholder(workspace, "board@acme.example", "executive", name="Board")
    sales = _stakeholder(workspace, "sales@acme.example", "sales", name="Sales team")
    eng = _stakeholder(workspace, "eng@acme.example", "engineering", name="Engineers")
    Stakeholder.objects.filter(pk=eng.pk).update(unsubscribed_at=timezone.now())
    _stakeholder(other_workspace, "board@acme.example", "executive")
    client = session_client(pm)

    def listed(query):
        response = client.get(url(workspace, "stakeholders") + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed("") == [board.pk, eng.pk, sales.pk]
    assert listed("?audience=executive") == [board.pk]
    assert listed("?audience=executive&audience=sales") == [board.pk, sales.pk]
    assert listed("?kind=external") == [board.pk, eng.pk, sales.pk]
    assert listed("?kind=member") == []
    assert listed("?email=SALES@acme.example") == [sales.pk]
    assert listed("?unsubscribed=true") == [eng.pk]
    assert listed("?unsubscribed=false") == [board.pk, sales.pk]
    assert listed("?search=team") == [sales.pk]
    assert listed("?ordering=-email") == [sales.pk, eng.pk, board.pk]

    for query, attr, code in (
        ("?audience=emperor", "audience", "invalid_choice"),
        ("?unsubscribed=maybe", "unsubscribed", "invalid"),
        ("?user=0", "user", "min_value"),
        ("?audiences=sales", "audiences", "unknown_parameter"),
    ):
        response = client.get(url(workspace, "stakeholders") + query)
        assert response.status_code == 400, query
        assert errors(response) == [(attr, code)], query


def test_stakeholders_are_paginated(workspace, pm, session_client):
    made = [_stakeholder(workspace, f"s{n}@acme.example", name=f"S{n}") for n in range(5)]
    client = session_client(pm)

    first = client.get(url(workspace, "stakeholders") + "?page_size=2").json()
    last = client.get(url(workspace, "stakeholders") + "?page_size=2&page=3").json()

    assert (first["count"], [r["id"] for r in first["results"]]) == (5, [made[0].pk, made[1].pk])
    assert first["next"].endswith("page=2&page_size=2")
    assert ([r["id"] for r in last["results"]], last["next"]) == ([made[4].pk], None)
    assert client.get(url(workspace, "stakeholders") + "?page=4").status_code == 400


def test_bad_stakeholders_are_field_errors_and_nothing_is_written(
    workspace, other_workspace, member, pm, session_client
):
    outsider = member(other_workspace, Role.OWNER).user
    foreign_contact = ContactFactory(workspace=other_workspace)
    _stakeholder(workspace, "taken@acme.example")
    client = session_client(pm)
    before = (Stakeholder.objects.count(), AuditEvent.objects.count())

    for body, expected in (
        ({"email": "not-an-address", "audience": "sales"}, [("email", "invalid")]),
        ({"email": "a@acme.example", "audience": "emperor"}, [("audience", "invalid_choice")]),
        ({"email": "a@acme.example"}, [("audience", "required")]),
        ({"audience": "sales"}, [("email", "required")]),
        ({"email": "TAKEN@acme.example", "audience": "sales"}, [("email", "unique")]),
        ({"kind": "member", "audience": "sales"}, [("user", "required")]),
        ({"kind": "member", "user": outsider.pk, "audience": "sales"}, [("user", "does_not_exist")]),
        ({"kind": "member", "user": 2**63, "audience": "sales"}, [("user", "does_not_exist")]),
        ({"kind": "contact", "audience": "customer"}, [("contact", "required")]),
        (
            {"kind": "contact", "contact": foreign_contact.pk, "audience": "customer"},
            [("contact", "does_not_exist")],
        ),
        ({"kind": "robot", "email": "a@acme.example", "audience": "sales"}, [("kind", "invalid_choice")]),
        (
            {"email": "a@acme.example", "audience": "sales", "confirmed_at": None},
            [("confirmed_at", "unknown_field")],
        ),
        ({"email": ["a@acme.example"], "audience": "sales"}, [("email", "not_a_string")]),
        (
            {"email": "a@acme.example", "audience": "sales", "unsubscribed": False},
            [("unsubscribed", "unknown_field")],
        ),
    ):
        response = client.post(url(workspace, "stakeholders"), body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    assert (Stakeholder.objects.count(), AuditEvent.objects.count()) == before


def test_a_member_stakeholders_address_is_theirs(workspace, pm, viewer, session_client):
    stakeholder = services.stakeholder_create(
        workspace=workspace, actor=None, data={"kind": "member", "user": viewer, "audience": "support"}
    )

    response = session_client(pm).patch(
        url(workspace, "stakeholders", stakeholder.pk), {"email": "else@acme.example"}, format="json"
    )

    assert (response.status_code, errors(response)) == (400, [("email", "read_only")])
    stakeholder.refresh_from_db()
    assert stakeholder.email == viewer.email


def test_an_unsubscribed_stakeholder_is_resubscribed_by_the_team(workspace, pm, session_client):
    stakeholder = _stakeholder(workspace)
    services.stakeholder_unsubscribe(stakeholder=stakeholder)
    client = session_client(pm)

    refused = client.patch(
        url(workspace, "stakeholders", stakeholder.pk), {"unsubscribed": True}, format="json"
    )
    response = client.patch(
        url(workspace, "stakeholders", stakeholder.pk), {"unsubscribed": False}, format="json"
    )

    assert (refused.status_code, errors(refused)) == (400, [("unsubscribed", "invalid")])
    assert (response.status_code, response.json()["unsubscribed_at"]) == (200, None)


def test_stakeholders_are_for_product_managers(workspace, viewer, contributor, session_client):
    stakeholder = _stakeholder(workspace)

    for user in (viewer, contributor):
        client = session_client(user)
        assert client.get(url(workspace, "stakeholders")).status_code == 403
        assert client.get(url(workspace, "stakeholders", stakeholder.pk)).status_code == 403
        created = client.post(
            url(workspace, "stakeholders"), {"email": "x@acme.example", "audience": "sales"}, format="json"
        )
        patched = client.patch(url(workspace, "stakeholders", stakeholder.pk), {"name": "X"}, format="json")
        deleted = client.delete(url(workspace, "stakeholders", stakeholder.pk))
        assert (created.status_code, patched.status_code, deleted.status_code) == (403, 403, 403)
    stakeholder.refresh_from_db()
    assert (Stakeholder.objects.count(), stakeholder.name) == (1, "")


def test_a_read_only_token_cannot_write(workspace, pm, token_client):
    client = token_client(workspace, pm, scopes=("read",))

    assert client.get(url(workspace, "stakeholders")).status_code == 200
    response = client.post(
        url(workspace, "stakeholders"), {"email": "x@acme.example", "audience": "sales"}, format="json"
    )
    assert (response.status_code, Stakeholder.objects.count()) == (403, 0)


def test_another_workspaces_stakeholder_is_a_404(workspace, other_workspace, owner, session_client):
    foreign = _stakeholder(other_workspace)
    client = session_client(owner)

    for method, action, body in (
        ("get", None, None),
        ("patch", None, {"name": "Mine"}),
        ("delete", None, None),
    ):
        response = getattr(client, method)(
            url(workspace, "stakeholders", foreign.pk, action), body, format="json"
        )
        assert response.status_code == 404, method
    for pk in ("abc", str(2**64)):
        assert client.get(url(workspace, "stakeholders", pk)).status_code == 404
    assert ids(client.get(url(workspace, "stakeholders"))) == []
    foreign.refresh_from_db()
    assert foreign.name == ""


# --- subscriptions --------------------------------------------------------------------------------


def test_subscription_crud(workspace, pm, session_client, product):
    stakeholder = _stakeholder(workspace)
    client = session_client(pm)

    created = client.post(
        url(workspace, "subscriptions"),
        {
            "stakeholder": stakeholder.pk,
            "follows": {"type": "product", "id": product.pk},
            "cadence": "weekly",
            "time_zone": "Europe/Paris",
            "local_hour": 9,
            "weekday": 1,
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body == {
        "id": body["id"],
        "stakeholder": stakeholder.pk,
        "follows": {"type": "product", "id": product.pk, "name": "Analytics"},
        "channel": "email",
        "slack_url": None,
        "cadence": "weekly",
        "time_zone": "Europe/Paris",
        "local_hour": 9,
        "weekday": 1,
        "is_active": True,
        "next_due_at": body["next_due_at"],
        "digest_through": body["digest_through"],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    subscription = Subscription.objects.get(pk=body["id"])
    assert subscription.product_id == product.pk
    local = subscription.next_due_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.isoweekday(), local.hour, local.minute) == (1, 9, 0)

    assert ids(client.get(url(workspace, "subscriptions"))) == [body["id"]]
    assert client.get(url(workspace, "subscriptions", body["id"])).json() == body

    patched = client.patch(
        url(workspace, "subscriptions", body["id"]),
        {"cadence": "daily", "local_hour": 18, "time_zone": "America/New_York"},
        format="json",
    )
    assert patched.status_code == 200
    assert (patched.json()["cadence"], patched.json()["local_hour"], patched.json()["time_zone"]) == (
        "daily",
        18,
        "America/New_York",
    )
    subscription.refresh_from_db()
    local = subscription.next_due_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (18, 0)

    assert client.delete(url(workspace, "subscriptions", body["id"])).status_code == 204
    assert not Subscription.objects.filter(pk=body["id"]).exists()
    tombstones = client.get(url(workspace, "subscriptions", action="deleted")).json()
    assert [row["id"] for row in tombstones["results"]] == [body["id"]]


@pytest.mark.parametrize("kind", ["product", "goal", "initiative", "feature", "release"])
def test_a_subscription_follows_any_one_thing(workspace, pm, session_client, product, kind):
    targets = {
        "product": product,
        "goal": GoalFactory(workspace=workspace, title="Grow"),
        "initiative": Initiative.objects.create(workspace=workspace, title="Enterprise"),
        "feature": FeatureFactory(product=product, title="SSO"),
        "release": ReleaseFactory(product=product, name="Spring", version="2.0.0"),
    }
    names = {
        "product": "Analytics",
        "goal": "Grow",
        "initiative": "Enterprise",
        "feature": "SSO",
        "release": "Spring 2.0.0",
    }
    target = targets[kind]

    response = session_client(pm).post(
        url(workspace, "subscriptions"),
        {"stakeholder": _stakeholder(workspace).pk, "follows": {"type": kind, "id": target.pk}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["follows"] == {"type": kind, "id": target.pk, "name": names[kind]}
    assert getattr(Subscription.objects.get(), f"{kind}_id") == target.pk


def test_a_subscription_follows_the_workspace(workspace, other_workspace, pm, session_client):
    stakeholder = _stakeholder(workspace)
    client = session_client(pm)

    plain = client.post(
        url(workspace, "subscriptions"),
        {"stakeholder": stakeholder.pk, "follows": {"type": "workspace"}},
        format="json",
    )
    named = client.post(
        url(workspace, "subscriptions"),
        {
            "stakeholder": stakeholder.pk,
            "follows": {"type": "workspace", "id": workspace.pk},
            "cadence": "daily",
        },
        format="json",
    )
    foreign = client.post(
        url(workspace, "subscriptions"),
        {"stakeholder": stakeholder.pk, "follows": {"type": "workspace", "id": other_workspace.pk}},
        format="json",
    )

    assert (plain.status_code, named.status_code) == (201, 201)
    assert plain.json()["follows"] == {"type": "workspace", "id": workspace.pk, "name": "Acme"}
    assert (foreign.status_code, errors(foreign)) == (404, [("follows", "not_found")])
    assert Subscription.objects.filter(target_workspace=workspace).count() == 2


def test_subscribing_to_another_workspaces_object_is_a_404_and_nothing_is_written(
    workspace, other_workspace, pm, session_client
):
    stakeholder = _stakeholder(workspace)
    foreign_stakeholder = _stakeholder(other_workspace)
    client = session_client(pm)
    before = (Subscription.objects.count(), AuditEvent.objects.count())

    for kind, target in _foreign_objects(other_workspace).items():
        response = client.post(
            url(workspace, "subscriptions"),
            {"stakeholder": stakeholder.pk, "follows": {"type": kind, "id": target.pk}},
            format="json",
        )
        assert (response.status_code, errors(response)) == (404, [("follows", "not_found")]), kind
    for pk in (foreign_stakeholder.pk, 10**9):
        response = client.post(
            url(workspace, "subscriptions"),
            {"stakeholder": pk, "follows": {"type": "workspace"}},
            format="json",
        )
        assert (response.status_code, errors(response)) == (404, [("stakeholder", "not_found")])
    missing = client.post(
        url(workspace, "subscriptions"),
        {"stakeholder": stakeholder.pk, "follows": {"type": "feature", "id": 10**9}},
        format="json",
    )
    assert missing.status_code == 404
    assert (Subscription.objects.count(), AuditEvent.objects.count()) == before


def test_bad_subscriptions_are_field_errors_and_nothing_is_written(
    workspace, pm, session_client, monkeypatch
):
    stakeholder = _stakeholder(workspace)
    client = session_client(pm)
    base = {"stakeholder": stakeholder.pk, "follows": {"type": "workspace"}}
    before = (Subscription.objects.count(), AuditEvent.objects.count())
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        # hooks.slack.com, as a hostile resolver would answer it.
        if host == "hooks.slack.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 443))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    for extra, expected in (
        ({"time_zone": "Mars/Olympus_Mons"}, [("time_zone", "invalid_time_zone")]),
        ({"time_zone": ""}, [("time_zone", "blank")]),
        ({"local_hour": 24}, [("local_hour", "max_value")]),
        ({"local_hour": -1}, [("local_hour", "min_value")]),
        ({"local_hour": "nine"}, [("local_hour", "invalid")]),
        ({"weekday": 8}, [("weekday", "max_value")]),
        ({"weekday": 0}, [("weekday", "min_value")]),
        ({"cadence": "hourly"}, [("cadence", "invalid_choice")]),
        ({"channel": "pigeon"}, [("channel", "invalid_choice")]),
        ({"channel": "slack"}, [("slack_url", "required")]),
        (
            {"channel": "slack", "slack_url": "http://hooks.slack.com/services/T/B/X"},
            [("slack_url", "insecure_url")],
        ),
        (
            {"channel": "slack", "slack_url": "https://hooks.slack.com.evil.example/x"},
            [("slack_url", "not_slack")],
        ),
        ({"channel": "slack", "slack_url": SLACK_URL}, [("slack_url", "private_address")]),
        ({"channel": "slack", "slack_url": "not a url"}, [("slack_url", "invalid")]),
        ({"follows": {"type": "product"}}, [("follows.id", "required")]),
        ({"follows": {"type": "team", "id": 1}}, [("follows.type", "invalid_choice")]),
        ({"follows": {"type": "product", "id": 0}}, [("follows.id", "min_value")]),
        ({"follows": {"type": "workspace", "depth": 1}}, [("follows.depth", "unknown_field")]),
        ({"follows": None}, [("follows", "null")]),
        ({"stakeholder": "x"}, [("stakeholder", "invalid")]),
        ({"next_due_at": "2027-01-01T00:00:00Z"}, [("next_due_at", "unknown_field")]),
    ):
        response = client.post(url(workspace, "subscriptions"), {**base, **extra}, format="json")
        assert response.status_code == 400, extra
        assert errors(response) == expected, extra
    missing = client.post(url(workspace, "subscriptions"), {}, format="json")
    assert sorted(errors(missing)) == [("follows", "required"), ("stakeholder", "required")]
    assert (Subscription.objects.count(), AuditEvent.objects.count()) == before


def test_a_subscriptions_target_is_fixed_and_its_schedule_validated(workspace, pm, session_client, product):
    subscription = _subscription(workspace, _stakeholder(workspace))
    client = session_client(pm)

    for body, expected in (
        ({"follows": {"type": "product", "id": product.pk}}, [("follows", "unknown_field")]),
        ({"stakeholder": subscription.stakeholder_id}, [("stakeholder", "unknown_field")]),
        ({"time_zone": "Nowhere/Town"}, [("time_zone", "invalid_time_zone")]),
        ({"local_hour": 99}, [("local_hour", "max_value")]),
        ({"channel": "slack"}, [("slack_url", "required")]),
        ({"channel": "slack", "slack_url": "https://127.0.0.1/hook"}, [("slack_url", "not_slack")]),
    ):
        response = client.patch(url(workspace, "subscriptions", subscription.pk), body, format="json")
        assert response.status_code == 400, body
        assert errors(response) == expected, body
    subscription.refresh_from_db()
    assert (
        subscription.channel,
        subscription.time_zone,
        subscription.local_hour,
        subscription.target_workspace_id,
    ) == (
        "email",
        "UTC",
        9,
        workspace.pk,
    )


def test_a_slack_url_is_a_credential_product_managers_see(workspace, pm, viewer, session_client):
    subscription = _subscription(workspace, _stakeholder(workspace), channel="slack", slack_url=SLACK_URL)

    as_pm = session_client(pm).get(url(workspace, "subscriptions", subscription.pk)).json()
    as_viewer = session_client(viewer).get(url(workspace, "subscriptions", subscription.pk))

    assert (as_pm["channel"], as_pm["slack_url"]) == ("slack", SLACK_URL)
    assert as_viewer.status_code == 403


def test_subscription_filters(workspace, other_workspace, pm, session_client):
    first, second = _stakeholder(workspace), _stakeholder(workspace, "two@acme.example")
    weekly = _subscription(workspace, first)
    daily = _subscription(workspace, first, cadence="daily", is_active=False)
    slack = _subscription(workspace, second, channel="slack", slack_url=SLACK_URL, cadence="immediate")
    _subscription(other_workspace, _stakeholder(other_workspace))
    client = session_client(pm)

    def listed(query):
        response = client.get(url(workspace, "subscriptions") + query)
        assert response.status_code == 200, response.json()
        return ids(response)

    assert listed("") == [weekly.pk, daily.pk, slack.pk]
    assert listed(f"?stakeholder={first.pk}") == [weekly.pk, daily.pk]
    assert listed("?channel=slack") == [slack.pk]
    assert listed("?cadence=daily") == [daily.pk]
    assert listed("?is_active=false") == [daily.pk]
    assert listed("?ordering=-created_at") == [slack.pk, daily.pk, weekly.pk]
    response = client.get(url(workspace, "subscriptions") + "?stakeholder=x")
    assert (response.status_code, errors(response)) == (400, [("stakeholder", "invalid")])


def test_subscriptions_are_for_product_managers(workspace, viewer, contributor, session_client):
    stakeholder = _stakeholder(workspace)
    subscription = _subscription(workspace, stakeholder)

    for user in (viewer, contributor):
        client = session_client(user)
        assert client.get(url(workspace, "subscriptions", subscription.pk)).status_code == 403
        for method, path, body in (
            (
                "post",
                url(workspace, "subscriptions"),
                {"stakeholder": stakeholder.pk, "follows": {"type": "workspace"}},
            ),
            ("patch", url(workspace, "subscriptions", subscription.pk), {"cadence": "daily"}),
            ("delete", url(workspace, "subscriptions", subscription.pk), None),
            ("get", url(workspace, "subscriptions", subscription.pk, "digest-preview"), None),
            ("post", url(workspace, "subscriptions", subscription.pk, "send-test"), None),
        ):
            response = getattr(client, method)(path, body, format="json")
            assert response.status_code == 403, (user, method, path)
    subscription.refresh_from_db()
    assert (Subscription.objects.count(), subscription.cadence, Delivery.objects.count()) == (1, "weekly", 0)


def test_another_workspaces_subscription_is_a_404(workspace, other_workspace, owner, session_client):
    foreign = _subscription(other_workspace, _stakeholder(other_workspace))
    client = session_client(owner)

    for method, action, body in (
        ("get", None, None),
        ("patch", None, {"cadence": "daily"}),
        ("delete", None, None),
        ("get", "digest-preview", None),
        ("post", "send-test", None),
    ):
        response = getattr(client, method)(
            url(workspace, "subscriptions", foreign.pk, action), body, format="json"
        )
        assert response.status_code == 404, (method, action)
    foreign.refresh_from_db()
    assert (foreign.cadence, Delivery.objects.count()) == ("weekly", 0)


# --- digests: preview and test send ------------------------------------------------------------


def test_a_digest_preview_of_a_quiet_period_is_empty_and_writes_nothing(workspace, pm, session_client):
    subscription = _subscription(workspace, _stakeholder(workspace))
    client = session_client(pm)
    before = (Delivery.objects.count(), AuditEvent.objects.count())

    response = client.get(url(workspace, "subscriptions", subscription.pk, "digest-preview"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"subject", "text", "html", "sections", "since", "until", "empty", "channel"}
    assert (body["empty"], body["channel"]) == (True, "email")
    assert all(set(section) == {"key", "title", "intro", "news", "items"} for section in body["sections"])
    assert (Delivery.objects.count(), AuditEvent.objects.count()) == before


def test_a_digest_preview_reports_what_shipped_in_any_period(workspace, pm, session_client, product):
    subscription = _subscription(workspace, _stakeholder(workspace, audience="marketing"))
    shipped_at = timezone.now() - timedelta(days=3)
    ReleaseFactory(
        product=product,
        name="Spring",
        version="2.0.0",
        status="released",
        shipped_at=shipped_at,
        shipped_on=shipped_at.date(),
    )
    client = session_client(pm)
    since = (timezone.now() - timedelta(days=7)).isoformat()
    query = "?" + urlencode({"since": since})

    response = client.get(url(workspace, "subscriptions", subscription.pk, "digest-preview") + query)
    by_stakeholder = client.get(
        url(workspace, "stakeholders", subscription.stakeholder_id, "digest-preview") + query
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["empty"] is False
    (shipped,) = [section for section in body["sections"] if section["key"] == "shipped"]
    (item,) = shipped["items"]
    assert (shipped["news"], item["text"].startswith("Spring 2.0.0 shipped on ")) == (True, True)
    assert "Spring 2.0.0" in body["text"]
    assert by_stakeholder.status_code == 200
    assert by_stakeholder.json()["sections"] == body["sections"]


def test_a_digest_preview_period_is_checked(workspace, pm, session_client):
    subscription = _subscription(workspace, _stakeholder(workspace))
    client = session_client(pm)
    now = timezone.now()

    for query, expected in (
        ({"since": "yesterday"}, [("since", "invalid")]),
        ({"since": (now - timedelta(days=94)).isoformat()}, [("since", "out_of_range")]),
        (
            {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()},
            [("until", "invalid_range")],
        ),
        ({"period": "week"}, [("period", "unknown_parameter")]),
    ):
        for resource, pk in (
            ("subscriptions", subscription.pk),
            ("stakeholders", subscription.stakeholder_id),
        ):
            response = client.get(url(workspace, resource, pk, "digest-preview") + "?" + urlencode(query))
            assert (response.status_code, errors(response)) == (400, expected), (resource, query)


def test_a_test_digest_goes_to_the_requester(workspace, pm, session_client):
    subscription = _subscription(workspace, _stakeholder(workspace))
    through = subscription.digest_through
    client = session_client(pm)

    response = client.post(url(workspace, "subscriptions", subscription.pk, "send-test"))

    assert response.status_code == 201, response.json()
    body = response.json()
    delivery = Delivery.objects.get()
    assert (body["id"], body["kind"], body["channel"], body["recipient"], body["recipient_ref"]) == (
        delivery.pk,
        "comms.digest_test",
        "email",
        pm.email,
        f"user:{pm.pk}",
    )
    assert body["subject"].startswith("[Test] ")
    assert body["text"] == delivery.body_text != ""
    subscription.refresh_from_db()
    assert subscription.digest_through == through  # a test does not move the next digest's window


def test_previews_of_a_stakeholder_are_for_product_managers(
    workspace, other_workspace, viewer, owner, session_client
):
    stakeholder = _stakeholder(workspace)
    foreign = _stakeholder(other_workspace)

    assert (
        session_client(viewer)
        .get(url(workspace, "stakeholders", stakeholder.pk, "digest-preview"))
        .status_code
        == 403
    )
    assert (
        session_client(owner).get(url(workspace, "stakeholders", foreign.pk, "digest-preview")).status_code
        == 404
    )


# --- deliveries -----------------------------------------------------------------------------------


def test_the_delivery_log_lists_without_bodies_newest_first(workspace, other_workspace, pm, session_client):
    now = timezone.now()
    older = _delivery(workspace, 1, created_at=now - timedelta(hours=2))
    newer = _delivery(workspace, 2, created_at=now - timedelta(hours=1), state="sent", sent_at=now)
    _delivery(other_workspace, 3)

    response = session_client(pm).get(url(workspace, "deliveries"))

    assert response.status_code == 200
    assert ids(response) == [newer.pk, older.pk]
    row = response.json()["results"][0]
    assert row == {
        "id": newer.pk,
        "kind": "comms.digest",
        "channel": "email",
        "recipient": "person2@acme.example",
        "recipient_ref": "stakeholder:2",
        "event": None,
        "subject": "Digest 2",
        "state": "sent",
        "suppressed_reason": None,
        "attempts": 0,
        "next_attempt_at": row["next_attempt_at"],
        "last_error": "",
        "provider_message_id": "",
        "sent_at": row["sent_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def test_a_deliverys_detail_has_what_was_sent(workspace, pm, session_client):
    delivery = _delivery(
        workspace,
        1,
        payload={"id": "evt_1", "type": "webhook.test"},
        headers={"List-Unsubscribe": "<https://x.example/u>"},
        rendered_at=timezone.now(),
    )

    body = session_client(pm).get(url(workspace, "deliveries", delivery.pk)).json()

    assert (body["id"], body["subject"], body["text"], body["html"]) == (
        delivery.pk,
        "Digest 1",
        "Text 1",
        "<p>Text 1</p>",
    )
    assert (body["payload"], body["headers"], body["dedupe_key"]) == (
        {"id": "evt_1", "type": "webhook.test"},
        {"List-Unsubscribe": "<https://x.example/u>"},
        "test:1",
    )
    assert body["rendered_at"] is not None


def test_delivery_filters(workspace, pm, session_client):
    event = Event.objects.create(
        workspace=workspace,
        kind=Event.Kind.RELEASE_SHIPPED,
        subject_type="releases.release",
        subject_id="1",
        occurred_at=timezone.now(),
    )
    email = _delivery(
        workspace,
        1,
        recipient="Ann@Initech.example",
        recipient_ref="contact:5",
        kind="comms.loop",
        event=event,
    )
    suppressed = _delivery(
        workspace, 2, state="suppressed", suppressed_reason="no_consent", kind="comms.loop", event=event
    )
    failed = _delivery(
        workspace,
        3,
        state="failed",
        last_error="HTTP 500",
        channel="webhook",
        kind="webhook.event",
        recipient="https://hooks.acme.example/x",
        recipient_ref="endpoint:4",
    )
    client = session_client(pm)

    def listed(query):
        response = client.get(url(workspace, "deliveries") + query)
        assert response.status_code == 200, response.json()
        return sorted(ids(response))

    assert listed("?state=failed") == [failed.pk]
    assert listed("?state=failed&state=suppressed") == [suppressed.pk, failed.pk]
    assert listed("?channel=webhook") == [failed.pk]
    assert listed("?kind=comms.loop") == [email.pk, suppressed.pk]
    assert listed(f"?event={event.pk}") == [email.pk, suppressed.pk]
    assert listed("?recipient=ann@initech.EXAMPLE") == [email.pk]
    assert listed("?recipient=ann@initech") == []
    assert listed("?recipient_ref=endpoint:4") == [failed.pk]
    assert listed("?suppressed_reason=no_consent") == [suppressed.pk]
    for query, attr, code in (
        ("?state=lost", "state", "invalid_choice"),
        ("?channel=fax", "channel", "invalid_choice"),
        ("?event=abc", "event", "invalid"),
        ("?created_after=yesterday", "created_after", "invalid"),
        ("?body=x", "body", "unknown_parameter"),
    ):
        response = client.get(url(workspace, "deliveries") + query)
        assert (response.status_code, errors(response)) == (400, [(attr, code)]), query


def test_deliveries_are_for_product_managers(workspace, viewer, contributor, session_client):
    delivery = _delivery(workspace, 1, state="failed")

    for user in (viewer, contributor):
        client = session_client(user)
        assert client.get(url(workspace, "deliveries")).status_code == 403
        assert client.get(url(workspace, "deliveries", delivery.pk)).status_code == 403
        assert client.post(url(workspace, "deliveries", delivery.pk, "retry")).status_code == 403
    delivery.refresh_from_db()
    assert delivery.state == "failed"


def test_another_workspaces_delivery_is_a_404(workspace, other_workspace, owner, session_client):
    foreign = _delivery(other_workspace, 1, state="failed")
    client = session_client(owner)

    assert client.get(url(workspace, "deliveries", foreign.pk)).status_code == 404
    assert client.post(url(workspace, "deliveries", foreign.pk, "retry")).status_code == 404
    for pk in ("abc", str(2**64), "0"):
        assert client.get(url(workspace, "deliveries", pk)).status_code == 404, pk
        assert client.post(url(workspace, "deliveries", pk, "retry")).status_code == 404, pk
    foreign.refresh_from_db()
    assert foreign.state == "failed"


def test_a_failed_delivery_is_retried_and_any_other_is_a_409(workspace, pm, session_client):
    failed = _delivery(workspace, 1, state="failed", attempts=8, last_error="SMTP 451")
    sent = _delivery(workspace, 2, state="sent", attempts=1, sent_at=timezone.now())
    client = session_client(pm)

    retried = client.post(url(workspace, "deliveries", failed.pk, "retry"))
    refused = client.post(url(workspace, "deliveries", sent.pk, "retry"))

    assert retried.status_code == 200
    assert (retried.json()["id"], retried.json()["state"], retried.json()["attempts"]) == (
        failed.pk,
        "pending",
        0,
    )
    assert (refused.status_code, errors(refused)) == (409, [(None, "not_failed")])
    sent.refresh_from_db()
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert AuditEvent.objects.filter(target_type="productops.delivery", target_id=str(failed.pk)).count() == 1


def test_deliveries_are_paginated(workspace, pm, session_client):
    for n in range(5):
        _delivery(workspace, n)

    page = session_client(pm).get(url(workspace, "deliveries") + "?page_size=2").json()

    assert (page["count"], len(page["results"]), page["previous"]) == (5, 2, None)


# --- webhook endpoints ----------------------------------------------------------------------------


def _endpoint(workspace, **data):
    endpoint, _ = webhooks.webhook_endpoint_create(
        workspace=workspace,
        actor=None,
        data={
            "name": "Warehouse",
            "url": "https://hooks.acme.example/in",
            "event_types": ["release.shipped"],
            **data,
        },
    )
    return endpoint


def test_webhook_endpoint_crud_and_the_secret_is_shown_once(workspace, admin, session_client):
    client = session_client(admin)

    created = client.post(
        url(workspace, "webhook-endpoints"),
        {
            "name": "Data warehouse",
            "url": "https://hooks.acme.example/productops",
            "event_types": ["priority.rank_changed", "release.shipped"],
            "rank_top_n": 5,
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert body == {
        "id": endpoint.pk,
        "name": "Data warehouse",
        "url": "https://hooks.acme.example/productops",
        "format": "standard",
        "event_types": ["release.shipped", "priority.rank_changed"],
        "rank_top_n": 5,
        "is_active": True,
        "previous_secret_expires_at": None,
        "created_by": admin.pk,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "secret": endpoint.secret,
    }
    assert body["secret"].startswith("whsec_")
    listed = client.get(url(workspace, "webhook-endpoints")).json()["results"]
    detail = client.get(url(workspace, "webhook-endpoints", endpoint.pk)).json()
    assert "secret" not in listed[0]
    assert "secret" not in detail
    assert {k: v for k, v in body.items() if k != "secret"} == detail == listed[0]

    patched = client.patch(
        url(workspace, "webhook-endpoints", endpoint.pk), {"name": "Lake", "is_active": False}, format="json"
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["is_active"], "secret" in patched.json()) == (
        "Lake",
        False,
        False,
    )

    rotated = client.post(url(workspace, "webhook-endpoints", endpoint.pk, "rotate-secret"))
    assert rotated.status_code == 200
    endpoint.refresh_from_db()
    assert rotated.json()["secret"] == endpoint.secret != body["secret"]
    assert endpoint.previous_secret == body["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert "secret" not in client.get(url(workspace, "webhook-endpoints", endpoint.pk)).json()

    assert client.delete(url(workspace, "webhook-endpoints", endpoint.pk)).status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    tombstones = client.get(url(workspace, "webhook-endpoints", action="deleted")).json()
    assert [row["id"] for row in tombstones["results"]] == [endpoint.pk]
    secrets_in_audit = [
        str(changes)
        for changes in AuditEvent.objects.filter(target_type="comms.webhookendpoint").values_list(
            "changes", flat=True
        )
    ]
    assert not any(body["secret"] in text or endpoint.secret in text for text in secrets_in_audit)


def test_bad_webhook_endpoints_are_field_errors_and_nothing_is_written(
    workspace, admin, session_client, monkeypatch
):
    client = session_client(admin)
    base = {"name": "Hook", "url": "https://hooks.acme.example/in"}
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        addresses = {"rebind.acme.example": "127.0.0.1", "metadata.acme.example": "169.254.169.254"}
        if host in addresses:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addresses[host], 443))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    before = (WebhookEndpoint.objects.count(), AuditEvent.objects.count())

    for extra, expected in (
        ({"url": "http://hooks.acme.example/in"}, [("url", "insecure_url")]),
        ({"url": "https://127.0.0.1/in"}, [("url", "private_address")]),
        ({"url": "https://10.0.0.8/in"}, [("url", "private_address")]),
        ({"url": "https://[::ffff:127.0.0.1]/in"}, [("url", "private_address")]),
        ({"url": "https://100.64.0.1/in"}, [("url", "private_address")]),
        ({"url": "https://rebind.acme.example/in"}, [("url", "private_address")]),
        ({"url": "https://metadata.acme.example/latest"}, [("url", "private_address")]),
        ({"url": "https://user:pw@hooks.acme.example/in"}, [("url", "invalid")]),
        ({"url": "ftp://hooks.acme.example/in"}, [("url", "invalid")]),
        ({"format": "slack"}, [("url", "not_slack")]),
        ({"format": "xml"}, [("format", "invalid_choice")]),
        ({"event_types": ["webhook.test"]}, [("event_types.0", "invalid_choice")]),
        ({"event_types": "release.shipped"}, [("event_types", "not_a_list")]),
        ({"rank_top_n": 0}, [("rank_top_n", "min_value")]),
        ({"rank_top_n": 101}, [("rank_top_n", "max_value")]),
        ({"name": ""}, [("name", "blank")]),
        ({"secret": "whsec_mine"}, [("secret", "unknown_field")]),
    ):
        response = client.post(url(workspace, "webhook-endpoints"), {**base, **extra}, format="json")
        assert response.status_code == 400, extra
        assert errors(response) == expected, extra
    assert (WebhookEndpoint.objects.count(), AuditEvent.objects.count()) == before


def test_webhook_endpoints_are_for_admins(workspace, pm, viewer, session_client):
    endpoint = _endpoint(workspace)

    for user in (pm, viewer):
        client = session_client(user)
        for method, path in (
            ("get", url(workspace, "webhook-endpoints")),
            ("get", url(workspace, "webhook-endpoints", endpoint.pk)),
            ("post", url(workspace, "webhook-endpoints")),
            ("patch", url(workspace, "webhook-endpoints", endpoint.pk)),
            ("delete", url(workspace, "webhook-endpoints", endpoint.pk)),
            ("post", url(workspace, "webhook-endpoints", endpoint.pk, "rotate-secret")),
            ("post", url(workspace, "webhook-endpoints", endpoint.pk, "send-test")),
            ("get", url(workspace, "webhook-endpoints", endpoint.pk, "deliveries")),
        ):
            response = getattr(client, method)(
                path, {"name": "X", "url": "https://x.example/"}, format="json"
            )
            assert response.status_code == 403, (user, method, path)
    secret = endpoint.secret
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.secret, WebhookEndpoint.objects.count(), Delivery.objects.count()) == (
        "Warehouse",
        secret,
        1,
        0,
    )


def test_another_workspaces_endpoint_is_a_404(workspace, other_workspace, owner, session_client):
    foreign = _endpoint(other_workspace)
    secret = foreign.secret
    client = session_client(owner)

    for method, action in (
        ("get", None),
        ("patch", None),
        ("delete", None),
        ("post", "rotate-secret"),
        ("post", "send-test"),
        ("get", "deliveries"),
    ):
        body = {"name": "X"} if method == "patch" else None
        response = getattr(client, method)(
            url(workspace, "webhook-endpoints", foreign.pk, action), body, format="json"
        )
        assert response.status_code == 404, (method, action)
    foreign.refresh_from_db()
    assert (foreign.secret, foreign.name, Delivery.objects.count()) == (secret, "Warehouse", 0)


def test_a_test_event_is_posted_through_the_outbox_and_listed_with_the_endpoint(
    workspace, admin, session_client
):
    endpoint = _endpoint(workspace)
    other = _endpoint(workspace, name="Other")
    client = session_client(admin)

    sent = client.post(url(workspace, "webhook-endpoints", endpoint.pk, "send-test"))

    assert sent.status_code == 201, sent.json()
    body = sent.json()
    event = Event.objects.get(kind=Event.Kind.WEBHOOK_TEST)
    assert (body["kind"], body["channel"], body["recipient"], body["recipient_ref"], body["event"]) == (
        "webhook.event",
        "webhook",
        "https://hooks.acme.example/in",
        f"endpoint:{endpoint.pk}",
        event.pk,
    )
    assert (body["payload"]["id"], body["payload"]["type"]) == (f"evt_{event.pk}", "webhook.test")
    listed = client.get(url(workspace, "webhook-endpoints", endpoint.pk, "deliveries")).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert "text" not in listed["results"][0]
    assert client.get(url(workspace, "webhook-endpoints", other.pk, "deliveries")).json()["results"] == []


def test_an_inactive_endpoint_sends_no_test(workspace, admin, session_client):
    endpoint = _endpoint(workspace, is_active=False)

    response = session_client(admin).post(url(workspace, "webhook-endpoints", endpoint.pk, "send-test"))

    assert (response.status_code, errors(response)) == (409, [(None, "endpoint_inactive")])
    assert (Delivery.objects.count(), Event.objects.filter(kind=Event.Kind.WEBHOOK_TEST).count()) == (0, 0)


def test_webhook_endpoint_filters(workspace, admin, session_client):
    first = _endpoint(workspace, name="A")
    slack = _endpoint(workspace, name="B", format="slack", url=SLACK_URL)
    off = _endpoint(workspace, name="Cold", is_active=False)
    client = session_client(admin)

    assert ids(client.get(url(workspace, "webhook-endpoints") + "?slack=true")) == [slack.pk]
    assert ids(client.get(url(workspace, "webhook-endpoints") + "?slack=false")) == [first.pk, off.pk]
    assert ids(client.get(url(workspace, "webhook-endpoints") + "?is_active=true")) == [first.pk, slack.pk]
    assert ids(client.get(url(workspace, "webhook-endpoints") + "?search=cold")) == [off.pk]


def _docs_verifier():
    """The receiver docs/api.md tells integrators to write, run as written."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    (code,) = [
        block for block in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "def verify(" in block
    ]
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (our own documentation)
    return namespace["verify"]


def test_a_test_event_verifies_with_the_library_and_with_the_documented_receiver(
    workspace, admin, session_client
):
    endpoint = _endpoint(workspace)
    client = session_client(admin)
    first_secret = endpoint.secret
    delivery = Delivery.objects.get(
        pk=client.post(url(workspace, "webhook-endpoints", endpoint.pk, "send-test")).json()["id"]
    )
    new_secret = client.post(url(workspace, "webhook-endpoints", endpoint.pk, "rotate-secret")).json()[
        "secret"
    ]
    verify = _docs_verifier()

    # What the transport sends for this delivery: signed by both secrets during the rotation.
    headers = webhook_headers(
        msg_id=delivery.payload["id"],
        body=delivery.body_text,
        secrets=webhooks.endpoint_secrets(delivery),
        at=timezone.now(),
    )

    assert headers["webhook-id"] == delivery.payload["id"] == f"evt_{delivery.event_id}"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new_secret, first_secret):
        assert verify(secret, headers, delivery.body_text.encode()) == delivery.payload
        assert Webhook(secret).verify(delivery.body_text, headers) == delivery.payload
    with pytest.raises(ValueError, match="no valid signature"):
        verify(webhooks.new_secret(), headers, delivery.body_text.encode())
    with pytest.raises(ValueError, match="no valid signature"):
        verify(new_secret, headers, delivery.body_text.encode() + b" ")
    stale = {**headers, "webhook-timestamp": str(int(timezone.now().timestamp()) - 301)}
    with pytest.raises(ValueError, match="timestamp"):
        verify(new_secret, stale, delivery.body_text.encode())


def test_the_documented_signature_example_is_right():
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    block = text[text.index("webhook-id: evt_1042") :]
    timestamp = re.search(r"webhook-timestamp: (\d+)", block)[1]
    signature = re.search(r"webhook-signature: (\S+)", block)[1]
    body = re.search(r"\n\n(\{.*\})\n```", block)[1]
    secret = re.search(r"secret `(whsec_\S+)`", text)[1]
    headers = {"webhook-id": "evt_1042", "webhook-timestamp": timestamp, "webhook-signature": signature}

    expected = Webhook(secret).sign("evt_1042", datetime.fromtimestamp(int(timestamp), UTC), body)

    assert signature == expected
    assert _docs_verifier()(secret, headers, body.encode(), tolerance=10**10)["id"] == "evt_1042"


# --- thresholds -----------------------------------------------------------------------------------


def test_threshold_create_list_and_delete(workspace, admin, session_client):
    client = session_client(admin)

    companies = client.post(url(workspace, "thresholds"), {"rule": "companies >= 5"}, format="json")
    arr = client.post(url(workspace, "thresholds"), {"rule": "arr >= 250k"}, format="json")

    assert (companies.status_code, arr.status_code) == (201, 201)
    assert companies.json() == {
        "id": companies.json()["id"],
        "metric": "companies",
        "value": "5.00",
        "rule": "companies >= 5",
        "is_active": True,
        "created_at": companies.json()["created_at"],
    }
    assert (arr.json()["metric"], arr.json()["value"], arr.json()["rule"]) == (
        "arr",
        "250000.00",
        "arr >= 250000",
    )
    assert ids(client.get(url(workspace, "thresholds"))) == [arr.json()["id"], companies.json()["id"]]
    assert ids(client.get(url(workspace, "thresholds") + "?metric=companies")) == [companies.json()["id"]]
    assert client.get(url(workspace, "thresholds", arr.json()["id"])).json() == arr.json()
    assert (
        client.patch(
            url(workspace, "thresholds", arr.json()["id"]), {"rule": "arr >= 1"}, format="json"
        ).status_code
        == 405
    )

    assert client.delete(url(workspace, "thresholds", arr.json()["id"])).status_code == 204
    assert list(Threshold.objects.values_list("metric", flat=True)) == ["companies"]
    tombstones = client.get(url(workspace, "thresholds", action="deleted")).json()
    assert [row["id"] for row in tombstones["results"]] == [arr.json()["id"]]


def test_a_threshold_that_does_not_parse_is_a_400_and_nothing_is_written(workspace, admin, session_client):
    client = session_client(admin)
    client.post(url(workspace, "thresholds"), {"rule": "companies >= 5"}, format="json")
    before = (Threshold.objects.count(), AuditEvent.objects.count())

    for body, expected in (
        ({"rule": "companies > lots"}, [("rule", "invalid_rule")]),
        ({"rule": "votes >= 3"}, [("rule", "invalid_rule")]),
        ({"rule": "companies >= 2.5"}, [("rule", "invalid_rule")]),
        ({"rule": "arr >= 0"}, [("rule", "invalid_rule")]),
        ({"rule": "COMPANIES >= 5"}, [("rule", "unique")]),
        ({"rule": ""}, [("rule", "blank")]),
        ({"rule": 5}, [("rule", "not_a_string")]),
        ({}, [("rule", "required")]),
        ({"rule": "arr >= 1", "metric": "arr"}, [("metric", "unknown_field")]),
    ):
        response = client.post(url(workspace, "thresholds"), body, format="json")
        assert (response.status_code, errors(response)) == (400, expected), body
    assert (Threshold.objects.count(), AuditEvent.objects.count()) == before


def test_thresholds_are_for_admins_and_scoped(workspace, other_workspace, pm, owner, session_client):
    mine = webhooks.threshold_create(workspace=workspace, actor=None, rule="companies >= 3")
    foreign = webhooks.threshold_create(workspace=other_workspace, actor=None, rule="companies >= 3")
    as_pm, as_owner = session_client(pm), session_client(owner)

    assert as_pm.get(url(workspace, "thresholds")).status_code == 403
    assert as_pm.post(url(workspace, "thresholds"), {"rule": "arr >= 1m"}, format="json").status_code == 403
    assert as_pm.delete(url(workspace, "thresholds", mine.pk)).status_code == 403
    assert as_owner.get(url(workspace, "thresholds", foreign.pk)).status_code == 404
    assert as_owner.delete(url(workspace, "thresholds", foreign.pk)).status_code == 404
    assert ids(as_owner.get(url(workspace, "thresholds"))) == [mine.pk]
    assert Threshold.objects.count() == 2


# --- close the loop: previews ---------------------------------------------------------------------


@pytest.fixture
def asked(workspace, product):
    """A public feature asked for by a voter (told), an unsubscribed voter and a contact known
    only from a CSV import (not e-mailed without consent)."""
    feature = FeatureFactory(product=product, title="Bulk export", public_title="Export everything")
    voter = ContactFactory(workspace=workspace, email="ann@initech.example", name="Ann")
    gone = ContactFactory(workspace=workspace, email="bob@initech.example", unsubscribed_at=timezone.now())
    imported = ContactFactory(workspace=workspace, email="cy@initech.example")
    VoteFactory(feature=feature, contact=voter)
    VoteFactory(feature=feature, contact=gone)
    FeedbackLinkFactory(
        feature=feature, item=FeedbackItemFactory(workspace=workspace, contact=imported, source="csv")
    )
    return feature


def test_the_release_loop_preview_counts_who_will_be_told(workspace, pm, session_client, product, asked):
    release = ReleaseFactory(product=product)
    ScopeItemFactory(release=release, feature=asked, state="done")

    response = session_client(pm).get(url(workspace, "releases", release.pk, "loop-preview"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["features"] == [
        {"id": asked.pk, "title": "Bulk export", "customer_title": "Export everything"}
    ]
    assert (body["contacts"], body["companies"], body["account_owners"]) == (1, 0, 0)
    assert body["suppressed"] == {"no_consent": 1, "unsubscribed": 1, "do_not_contact": 0}
    assert body["sample"] == [
        {
            "contact_id": asked.votes.get(contact__email="ann@initech.example").contact_id,
            "name": "Ann",
            "email": "ann@initech.example",
            "company": "",
            "features": ["Export everything"],
            "reason": None,
        }
    ]
    assert sorted((p["email"], p["reason"]) for p in body["suppressed_sample"]) == [
        ("bob@initech.example", "unsubscribed"),
        ("cy@initech.example", "no_consent"),
    ]
    assert Delivery.objects.count() == 0


def test_the_feature_loop_preview_shows_the_notice(workspace, pm, session_client, asked):
    client = session_client(pm)

    response = client.get(
        url(workspace, "features", asked.pk, "loop-preview")
        + "?outcome=declined&customer_message=Not+this+year."
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["contacts"], body["suppressed"]["no_consent"]) == (1, 1)
    assert set(body["notice"]) == {"subject", "text", "html"}
    assert "Not this year." in body["notice"]["text"]
    shipped = client.get(url(workspace, "features", asked.pk, "loop-preview")).json()
    assert shipped["notice"]["subject"] != body["notice"]["subject"]  # shipped, by default
    assert Delivery.objects.count() == 0
    for query, expected in (
        ("?outcome=planned", [("outcome", "invalid_choice")]),
        ("?outcome=shipped&customer_message=" + "x" * 2001, [("customer_message", "max_length")]),
        ("?outcome=shipped&reason=x", [("reason", "unknown_parameter")]),
    ):
        response = client.get(url(workspace, "features", asked.pk, "loop-preview") + query)
        assert (response.status_code, errors(response)) == (400, expected), query


def test_loop_previews_are_for_product_managers_and_scoped(
    workspace, other_workspace, contributor, owner, session_client, product, asked
):
    release = ReleaseFactory(product=product)
    foreign_product = ProductFactory(workspace=other_workspace)
    foreign_release, foreign_feature = (
        ReleaseFactory(product=foreign_product),
        FeatureFactory(product=foreign_product),
    )
    as_contributor, as_owner = session_client(contributor), session_client(owner)

    assert as_contributor.get(url(workspace, "releases", release.pk, "loop-preview")).status_code == 403
    assert (
        as_contributor.get(
            url(workspace, "features", asked.pk, "loop-preview") + "?outcome=shipped"
        ).status_code
        == 403
    )
    assert as_owner.get(url(workspace, "releases", foreign_release.pk, "loop-preview")).status_code == 404
    assert (
        as_owner.get(
            url(workspace, "features", foreign_feature.pk, "loop-preview") + "?outcome=shipped"
        ).status_code
        == 404
    )
    assert as_owner.get(url(workspace, "releases", "abc", "loop-preview")).status_code == 404


# --- settings -------------------------------------------------------------------------------------


def test_comms_settings_read_by_members_written_by_admins(workspace, viewer, pm, admin, session_client):
    path = url(workspace, "comms-settings")

    assert session_client(viewer).get(path).json() == {
        "notify_imported_contacts": False,
        "digest_rank_moves": 5,
    }
    refused = session_client(pm).patch(path, {"notify_imported_contacts": True}, format="json")
    assert refused.status_code == 403
    assert not CommsSettings.objects.filter(workspace=workspace).exists()

    changed = session_client(admin).patch(
        path, {"notify_imported_contacts": True, "digest_rank_moves": 8}, format="json"
    )

    assert changed.status_code == 200
    assert changed.json() == {"notify_imported_contacts": True, "digest_rank_moves": 8}
    assert session_client(viewer).get(path).json() == changed.json()
    assert AuditEvent.objects.filter(target_type="comms.commssettings").count() == 1


def test_bad_comms_settings_are_field_errors(workspace, admin, session_client):
    client = session_client(admin)

    for body, expected in (
        ({"digest_rank_moves": 0}, [("digest_rank_moves", "min_value")]),
        ({"digest_rank_moves": 51}, [("digest_rank_moves", "max_value")]),
        ({"notify_imported_contacts": "perhaps"}, [("notify_imported_contacts", "invalid")]),
        ({"events_through_id": 9}, [("events_through_id", "unknown_field")]),
    ):
        response = client.patch(url(workspace, "comms-settings"), body, format="json")
        assert (response.status_code, errors(response)) == (400, expected), body
    assert not CommsSettings.objects.filter(workspace=workspace, notify_imported_contacts=True).exists()
    assert client.put(url(workspace, "comms-settings"), {}, format="json").status_code == 405


# --- feature status change: the customer message --------------------------------------------------


def test_a_status_change_keeps_its_customer_message(workspace, pm, session_client, product):
    feature = FeatureFactory(product=product, status=FeatureStatus.PLANNED)
    client = session_client(pm)

    too_long = client.post(
        url(workspace, "features", feature.pk, "status"),
        {"status": "declined", "reason": "Out of scope", "customer_message": "x" * 2001},
        format="json",
    )
    response = client.post(
        url(workspace, "features", feature.pk, "status"),
        {
            "status": "declined",
            "reason": "Out of scope",
            "customer_message": "We will not build this, sorry.",
        },
        format="json",
    )

    assert (too_long.status_code, errors(too_long)) == (400, [("customer_message", "max_length")])
    assert response.status_code == 200, response.json()
    change = FeatureStatusChange.objects.filter(feature=feature).latest("id")
    assert (change.reason, change.customer_message) == ("Out of scope", "We will not build this, sorry.")
    history = client.get(url(workspace, "features", feature.pk, "status-history")).json()["results"]
    assert history[0]["customer_message"] == "We will not build this, sorry."


# --- list query counts ----------------------------------------------------------------------------

LIST_ENDPOINTS = {
    "stakeholders": ("stakeholders/", 5),
    "subscriptions": ("subscriptions/", 5),
    "deliveries": ("deliveries/", 5),
    "webhook-endpoints": ("webhook-endpoints/", 5),
    "endpoint-deliveries": ("webhook-endpoints/{endpoint}/deliveries/", 6),
    "thresholds": ("thresholds/", 5),
    "stakeholder-tombstones": ("stakeholders/deleted/", 4),
    "subscription-tombstones": ("subscriptions/deleted/", 4),
}


@pytest.mark.parametrize("name", list(LIST_ENDPOINTS))
def test_list_query_count_does_not_grow_with_rows(
    workspace, admin, session_client, product, name, django_assert_max_num_queries
):
    client = session_client(admin)
    tracked = _endpoint(workspace, name="Tracked")
    path, most = LIST_ENDPOINTS[name]
    path = f"/api/v1/workspaces/{workspace.slug}/" + path.format(endpoint=tracked.pk)

    def add_rows(n):
        for _ in range(n):
            i = Stakeholder.objects.count()
            stakeholder = _stakeholder(workspace, f"s{i}@acme.example", name=f"S{i}")
            feature = FeatureFactory(product=product, title=f"F{i}")
            services.subscription_create(
                workspace=workspace, actor=None, data={"stakeholder": stakeholder, "feature": feature}
            )
            slack = services.subscription_create(
                workspace=workspace,
                actor=None,
                data={
                    "stakeholder": stakeholder,
                    "release": ReleaseFactory(product=product),
                    "channel": "slack",
                    "slack_url": SLACK_URL,
                },
            )
            services.subscription_delete(subscription=slack, actor=None)
            _delivery(workspace, i, state="failed")
            _delivery(workspace, 1000 + i, channel="webhook", recipient_ref=f"endpoint:{tracked.pk}")
            _endpoint(workspace, name=f"E{i}")
            webhooks.threshold_create(workspace=workspace, actor=None, rule=f"companies >= {i + 1}")
            webhooks.threshold_create(workspace=workspace, actor=None, rule=f"arr >= {i + 1}k")
            doomed = _stakeholder(workspace, f"d{i}@acme.example")
            services.stakeholder_delete(stakeholder=doomed, actor=None)

    add_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    add_rows(3)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)

    assert response.status_code == 200
    assert len(response.json()["results"]) >= 5
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    with django_assert_max_num_queries(most):
        client.get(path)
