"""Outgoing webhooks: endpoint services and their refusals, secrets (shown once, rotated with a
grace period), the Standard Webhooks payload, Slack's rendering, rank-change events, and real
deliveries to a local receiver verified with the standardwebhooks library and with a
verifier written from the specification alone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from comms import events, webhooks
from comms.models import WebhookEndpoint
from feedback.services import feedback_item_ingest
from productops.errors import Conflict, Forbidden, ValidationFailed
from productops.models import AuditEvent, Event, Role
from productops.outbox.models import Delivery
from productops.outbox.services import outbox_send
from roadmap.models import Feature
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX"


@pytest.fixture
def admin(workspace, member):
    return member(workspace, Role.ADMIN).user


@pytest.fixture
def public_dns(monkeypatch):
    """example.com-like names resolve to a public address without the network."""
    import socket

    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host.endswith(".example.com") or host == "hooks.slack.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def create(workspace, actor, **data):
    data = {
        "name": "CRM",
        "url": "https://hooks.example.com/in",
        "event_types": list(webhooks.EVENT_TYPES),
        **data,
    }
    return webhooks.webhook_endpoint_create(workspace=workspace, actor=actor, data=data)


# --- services ----------------------------------------------------------------------------------------


def test_an_endpoint_is_created_with_a_secret_shown_once(workspace, admin, public_dns):
    endpoint, secret = create(workspace, admin, event_types=["feedback.created", "release.shipped"])

    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", secret)
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert endpoint.secret == secret
    assert endpoint.event_types == ["release.shipped", "feedback.created"]  # in the catalogue's order
    audit = AuditEvent.objects.get(target_type="comms.webhookendpoint")
    assert secret not in json.dumps(audit.changes)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"url": "http://hooks.example.com/in"}, ("url", "insecure_url")),
        ({"url": "https://10.0.0.8/in"}, ("url", "private_address")),
        ({"url": "https://[::ffff:169.254.169.254]/in"}, ("url", "private_address")),
        ({"url": "https://hooks.example.com/in", "format": "slack"}, ("url", "not_slack")),
        ({"url": "not a url"}, ("url", "invalid")),
        ({"name": "  "}, ("name", "required")),
        ({"event_types": ["webhook.test"]}, ("event_types", "invalid_choice")),
        ({"event_types": ["feature.exploded"]}, ("event_types", "invalid_choice")),
        ({"rank_top_n": 0}, ("rank_top_n", "out_of_range")),
        ({"rank_top_n": 101}, ("rank_top_n", "out_of_range")),
        ({"format": "xml"}, ("format", "invalid_choice")),
    ],
)
def test_bad_endpoints_are_refused_and_nothing_is_stored(workspace, admin, public_dns, data, error):
    with pytest.raises(ValidationFailed) as refused:
        create(workspace, admin, **data)
    assert (refused.value.attr, refused.value.code) == error
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(target_type="comms.webhookendpoint").exists()


def test_only_admins_manage_endpoints(workspace, member, public_dns):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    with pytest.raises(Forbidden):
        create(workspace, pm)
    assert not WebhookEndpoint.objects.exists()


def test_a_slack_endpoint_is_on_hooks_slack_com(workspace, admin, public_dns):
    endpoint, _ = create(workspace, admin, format="slack", url=SLACK_URL)
    assert endpoint.format == "slack"

    with pytest.raises(ValidationFailed) as refused:
        webhooks.webhook_endpoint_update(
            endpoint=endpoint, actor=admin, data={"url": "https://hooks.example.com/x"}
        )
    assert (refused.value.attr, refused.value.code) == ("url", "not_slack")


def test_rotation_keeps_the_old_secret_signing_for_a_day(workspace, admin, public_dns):
    endpoint, first = create(workspace, admin)
    delivery = Delivery(workspace=workspace, recipient_ref=f"endpoint:{endpoint.pk}")
    assert webhooks.endpoint_secrets(delivery) == [first]

    endpoint, second = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=admin)

    assert second != first
    assert endpoint.secret == second
    assert webhooks.endpoint_secrets(delivery) == [second, first]
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert webhooks.endpoint_secrets(delivery) == [second]
    assert webhooks.endpoint_secrets(Delivery(workspace=workspace, recipient_ref="contact:1")) == []


def test_deactivating_or_deleting_an_endpoint_suppresses_what_is_pending(workspace, admin, public_dns):
    endpoint, _ = create(workspace, admin)
    other, _ = create(workspace, admin, name="Other")
    feedback_item_ingest(workspace=workspace, actor=admin, data={"text": "Export to CSV please"})
    events.events_consume()
    assert Delivery.objects.filter(state="pending").count() == 2

    webhooks.webhook_endpoint_update(endpoint=endpoint, actor=admin, data={"is_active": False})
    assert Delivery.objects.get(recipient_ref=f"endpoint:{endpoint.pk}").suppressed_reason == "disabled"
    other_ref = f"endpoint:{other.pk}"
    webhooks.webhook_endpoint_delete(endpoint=other, actor=admin)
    assert Delivery.objects.get(recipient_ref=other_ref).suppressed_reason == "disabled"

    feedback_item_ingest(workspace=workspace, actor=admin, data={"text": "Dark mode"})
    events.events_consume()
    assert Delivery.objects.count() == 2  # inactive endpoints get nothing


def test_send_test_records_an_event_and_one_delivery_for_this_endpoint(workspace, admin, public_dns):
    endpoint, _ = create(workspace, admin)
    create(workspace, admin, name="Other")

    delivery = webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=admin)

    event = Event.objects.get(kind="webhook.test")
    assert (delivery.dedupe_key, delivery.recipient_ref, delivery.event_id) == (
        f"webhook:{endpoint.pk}:{event.pk}",
        f"endpoint:{endpoint.pk}",
        event.pk,
    )
    events.events_consume()  # the consumer sees the event too, and adds nothing
    assert list(Delivery.objects.values_list("pk", flat=True)) == [delivery.pk]

    webhooks.webhook_endpoint_update(endpoint=endpoint, actor=admin, data={"is_active": False})
    with pytest.raises(Conflict) as refused:
        webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=admin)
    assert refused.value.code == "endpoint_inactive"


def test_the_payload_follows_standard_webhooks_and_filters_by_event_type(workspace, admin, public_dns):
    wants, _ = create(workspace, admin, event_types=["feedback.created"])
    create(workspace, admin, name="Releases only", event_types=["release.shipped"])
    item, _ = feedback_item_ingest(
        workspace=workspace,
        actor=admin,
        data={"text": "Export to CSV please", "contact_email": "ada@example.com"},
    )

    events.events_consume()

    (row,) = Delivery.objects.all()
    event = Event.objects.get(kind="feedback.created")
    assert (row.kind, row.channel, row.recipient, row.dedupe_key) == (
        "webhook.event",
        "webhook",
        "https://hooks.example.com/in",
        f"webhook:{wants.pk}:{event.pk}",
    )
    body = json.loads(row.body_text)
    assert body == row.payload
    assert set(body) == {"id", "type", "timestamp", "data"}
    assert (body["id"], body["type"], body["timestamp"]) == (
        f"evt_{event.pk}",
        "feedback.created",
        event.occurred_at.isoformat(),
    )
    assert body["data"]["feedback"]["id"] == item.pk
    assert body["data"]["feedback"]["text"] == "Export to CSV please"
    assert body["data"]["feedback"]["contact"]["email"] == "ada@example.com"


def test_a_slack_endpoint_gets_block_kit(workspace, admin, public_dns):
    create(workspace, admin, format="slack", url=SLACK_URL, event_types=["feedback.created"])
    feedback_item_ingest(workspace=workspace, actor=admin, data={"text": "Export <b>now</b> & then"})

    events.events_consume()

    (row,) = Delivery.objects.all()
    assert (row.channel, row.recipient) == ("slack", SLACK_URL)
    assert row.payload["text"].startswith("New feedback from someone")
    section = row.payload["blocks"][0]
    assert section["type"] == "section"
    assert "Export &lt;b&gt;now&lt;/b&gt; &amp; then" in section["text"]["text"]


# --- rank changes ----------------------------------------------------------------------------------


def rank(*features):
    for position, feature in enumerate(features, start=1):
        Feature.objects.filter(pk=feature.pk).update(priority_rank=position)


def test_a_rank_change_is_the_net_change_of_the_top_n_since_the_last_event(workspace, admin, public_dns):
    product = ProductFactory(workspace=workspace)
    a, b, c, d = (FeatureFactory(workspace=workspace, product=product, title=t) for t in "ABCD")
    rank(a, b, c, d)
    top2, _ = create(workspace, admin, event_types=["priority.rank_changed"], rank_top_n=2)
    top3, _ = create(workspace, admin, name="Top 3", event_types=["priority.rank_changed"], rank_top_n=3)
    assert top2.last_top_ids == [a.pk, b.pk]

    rank(b, a, c, d)  # order within the top 2 only
    webhooks.after_recompute(workspace_id=workspace.pk)
    rank(c, b, a, d)  # a leaves the top 2 ... (the listener missed this run)
    rank(a, b, c, d)  # ... and comes back: net, nothing changed
    webhooks.after_recompute(workspace_id=workspace.pk)
    assert not Event.objects.filter(kind="priority.rank_changed").exists()

    rank(d, a, b, c)
    webhooks.after_recompute(workspace_id=workspace.pk)
    webhooks.after_recompute(workspace_id=workspace.pk)  # nothing new

    first, second = Event.objects.filter(kind="priority.rank_changed").order_by("id")
    assert (first.subject_id, second.subject_id) == (str(top2.pk), str(top3.pk))
    assert first.payload == {
        "endpoint": {"id": top2.pk},
        "top_n": 2,
        "entered": [{"id": d.pk, "title": "D", "rank": 1}],
        "left": [{"id": b.pk, "title": "B", "rank": 3}],
        "top": [{"id": d.pk, "title": "D", "rank": 1}, {"id": a.pk, "title": "A", "rank": 2}],
    }
    assert [f["id"] for f in second.payload["left"]] == [c.pk]
    top2.refresh_from_db()
    assert top2.last_top_ids == [d.pk, a.pk]

    events.events_consume()
    # Each endpoint gets its own event only.
    assert sorted(Delivery.objects.values_list("recipient_ref", "event_id")) == sorted(
        [(f"endpoint:{top2.pk}", first.pk), (f"endpoint:{top3.pk}", second.pk)]
    )


# --- real deliveries to a local receiver --------------------------------------------------------------


class Receiver:
    """A local HTTP endpoint recording what it was posted."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def verify_from_the_docs(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification written from the specification, not the library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > 5 * 60:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    signatures = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(value, expected) for version, value in signatures)


@pytest.fixture
def local_receivers(settings):
    settings.OUTBOX_ALLOW_LOCALHOST = True


def test_a_delivery_posted_to_a_receiver_verifies_with_both_verifiers(workspace, admin, local_receivers):
    with Receiver() as receiver:
        endpoint, secret = create(workspace, admin, url=receiver.url, event_types=["feedback.created"])
        feedback_item_ingest(workspace=workspace, actor=admin, data={"text": "Export to CSV please"})
        events.events_consume()

        assert outbox_send() == {"sent": 1}

    ((headers, body),) = receiver.received
    event = Event.objects.get(kind="feedback.created")
    assert headers["webhook-id"] == f"evt_{event.pk}"
    assert headers["content-type"] == "application/json"
    assert Webhook(secret).verify(body, headers)["data"]["feedback"]["text"] == "Export to CSV please"
    assert verify_from_the_docs(secret, headers, body)
    assert not verify_from_the_docs(secret, headers, body + b" ")
    row = Delivery.objects.get()
    assert (row.state, row.provider_message_id, row.body_text.encode()) == ("sent", f"evt_{event.pk}", body)
    assert endpoint.pk == int(row.recipient_ref.split(":")[1])


def test_during_the_grace_period_both_secrets_verify(workspace, admin, local_receivers):
    with Receiver() as receiver:
        endpoint, old = create(workspace, admin, url=receiver.url)
        endpoint, new = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=admin)
        webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=admin)
        assert outbox_send() == {"sent": 1}

    ((headers, body),) = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "webhook.test"
        assert verify_from_the_docs(secret, headers, body)
    assert not verify_from_the_docs(webhooks.new_secret(), headers, body)
