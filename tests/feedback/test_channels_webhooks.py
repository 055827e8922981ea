import json
from datetime import UTC, datetime
from unittest.mock import ANY

import pytest
from django.test import override_settings
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from api.feedback.channels import InboundWebhookReceiveView
from feedback.channels import webhooks
from feedback.channels.webhooks import (
    inbound_webhook_create,
    inbound_webhook_receive,
    inbound_webhook_rotate_secret,
    sign,
    verify_signature,
)
from feedback.models import Company, Contact, FeedbackItem, InboundWebhook
from productops.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from productops.models import AuditEvent, Role
from tests.feedback.factories import CompanyFactory, InboundWebhookFactory

pytestmark = pytest.mark.django_db

GENERIC = {
    "text": "Please add SAML SSO",
    "email": "ann@acme.com",
    "name": "Ann",
    "company_domain": "acme.com",
    "external_id": "delivery-1",
    "importance": "critical",
    "kind": "problem",
    "tags": ["auth"],
}


def _body(payload) -> bytes:
    return json.dumps(payload).encode()


def deliver(webhook, body: bytes, *, secret=None, timestamp=None, signature=None, client=None):
    """POST ``body`` to the webhook's URL, signed with its secret at ``timestamp`` (default: now)."""
    timestamp = str(int(timezone.now().timestamp())) if timestamp is None else timestamp
    signature = signature or sign(secret=secret or webhook.secret, body=body, timestamp=timestamp)
    return (client or APIClient()).post(
        f"/api/v1/inbound/{webhook.public_id}/",
        body,
        content_type="application/json",
        headers={"X-Productops-Signature": signature, "X-Productops-Timestamp": timestamp},
    )


def hooks_url(workspace, pk=None, suffix=""):
    base = f"/api/v1/workspaces/{workspace.slug}/inbound-webhooks/"
    if pk is not None:
        base += f"{pk}/"
    return base + suffix


# --- receiving ------------------------------------------------------------------------------


def test_the_route_is_the_receive_view():
    assert resolve("/api/v1/inbound/abc123/").func.view_class is InboundWebhookReceiveView


def test_generic_delivery_creates_an_item_in_the_webhooks_workspace(workspace):
    acme = CompanyFactory(workspace=workspace, domain="acme.com")
    webhook = InboundWebhookFactory(workspace=workspace)

    response = deliver(webhook, _body(GENERIC))

    item = FeedbackItem.objects.get()
    assert (response.status_code, response.json()) == (201, {"id": item.pk, "created": True})
    assert (item.workspace, item.source, item.source_ref) == (workspace, "api", "delivery-1")
    assert (item.text, item.importance, item.kind, item.tags) == (
        "Please add SAML SSO",
        "critical",
        "problem",
        ["auth"],
    )
    assert (item.contact.email, item.contact.name, item.company) == ("ann@acme.com", "Ann", acme)
    webhook.refresh_from_db()
    assert webhook.last_delivery_at is not None
    assert AuditEvent.objects.get(target_type="feedback.feedbackitem").actor_label == "system"


def test_an_unknown_company_domain_is_ignored_not_refused(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)

    response = deliver(webhook, _body({**GENERIC, "email": "ann@gmail.com"}))

    assert response.status_code == 201
    assert FeedbackItem.objects.get().company is None
    assert not Company.objects.exists()


def test_nul_and_lone_surrogate_escapes_are_stored_cleanly(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    body = (
        b'{"text": "Dark\\u0000 mode \\ud800!", "name": "A\\u0000nn", "email": "a@example.com", '
        b'"tags": ["x\\u0000"]}'
    )

    response = deliver(webhook, body)

    assert response.status_code == 201
    item = FeedbackItem.objects.get()
    assert (item.text, item.contact.name, item.tags) == ("Dark mode \ufffd!", "Ann", ["x"])


def test_the_same_delivery_twice_is_stored_once(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    body = _body(GENERIC)

    first = deliver(webhook, body)
    again = deliver(webhook, body)
    # A retry is signed anew, with another timestamp: still the same delivery.
    resigned = deliver(webhook, body, timestamp=str(int(timezone.now().timestamp()) - 60))

    item = FeedbackItem.objects.get()
    assert [r.status_code for r in (first, again, resigned)] == [201, 200, 200]
    assert again.json() == resigned.json() == {"id": item.pk, "created": False}
    assert Contact.objects.count() == 1


def test_without_an_id_the_body_identifies_the_delivery(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    body = _body({"text": "No id here"})

    deliver(webhook, body)
    again = deliver(webhook, body)

    assert again.status_code == 200
    assert FeedbackItem.objects.get().source_ref.startswith("sha256:")


def test_wrong_signature_is_a_401_and_stores_nothing(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)

    response = deliver(webhook, _body(GENERIC), secret="not-the-secret")

    assert response.status_code == 401
    assert response.json() == {
        "type": "client_error",
        "request_id": ANY,
        "errors": [
            {"code": "bad_signature", "detail": "The signature does not match the body.", "attr": None}
        ],
    }
    assert response["WWW-Authenticate"] == 'HMAC-SHA256 realm="api"'
    assert FeedbackItem.objects.count() == 0
    assert Contact.objects.count() == 0
    webhook.refresh_from_db()
    assert webhook.last_delivery_at is None


@pytest.mark.parametrize("signature", ["", "sha256=", "md5=abc", "deadbeef", "sha256=zz\u00e9"])
def test_missing_or_malformed_signature_is_a_401(workspace, signature):
    webhook = InboundWebhookFactory(workspace=workspace)
    timestamp = str(int(timezone.now().timestamp()))

    response = APIClient().post(
        f"/api/v1/inbound/{webhook.public_id}/",
        _body(GENERIC),
        content_type="application/json",
        headers={"X-Productops-Signature": signature, "X-Productops-Timestamp": timestamp},
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "bad_signature"
    assert FeedbackItem.objects.count() == 0


def test_tampered_body_is_a_401(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    timestamp = str(int(timezone.now().timestamp()))
    signature = sign(secret=webhook.secret, body=_body(GENERIC), timestamp=timestamp)

    response = deliver(
        webhook, _body({**GENERIC, "importance": "nice_to_have"}), timestamp=timestamp, signature=signature
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "bad_signature"
    assert FeedbackItem.objects.count() == 0


def test_tampered_timestamp_is_a_401(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    now = int(timezone.now().timestamp())
    signature = sign(secret=webhook.secret, body=_body(GENERIC), timestamp=str(now - 3600))

    response = deliver(webhook, _body(GENERIC), timestamp=str(now), signature=signature)

    assert response.json()["errors"][0]["code"] == "bad_signature"
    assert FeedbackItem.objects.count() == 0


@pytest.mark.parametrize("offset", [-6 * 60, 6 * 60])
def test_replayed_or_future_timestamp_is_a_401(workspace, offset):
    webhook = InboundWebhookFactory(workspace=workspace)
    timestamp = str(int(timezone.now().timestamp()) + offset)

    response = deliver(webhook, _body(GENERIC), timestamp=timestamp)

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "stale_timestamp"
    assert FeedbackItem.objects.count() == 0


def test_signature_tolerance_is_five_minutes_either_way():
    webhook = InboundWebhook(secret="s3cret")
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)

    def check(seconds_off: int, timestamp: str | None = None) -> str:
        timestamp = str(int(now.timestamp()) + seconds_off) if timestamp is None else timestamp
        signature = sign(secret="s3cret", body=b"{}", timestamp=timestamp)
        try:
            verify_signature(webhook=webhook, body=b"{}", timestamp=timestamp, signature=signature, now=now)
        except Unauthorized as exc:
            return exc.code
        return "ok"

    assert [check(s) for s in (-300, 300, -301, 301)] == ["ok", "ok", "stale_timestamp", "stale_timestamp"]
    assert [check(0, t) for t in ("", "1e9", "+1714564800", "1_714_564_800")] == ["stale_timestamp"] * 4


def test_signature_is_case_insensitive_hex_and_checks_the_scheme():
    webhook = InboundWebhook(secret="s3cret")
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    timestamp = str(int(now.timestamp()))
    digest = sign(secret="s3cret", body=b"{}", timestamp=timestamp).partition("=")[2]

    verify_signature(
        webhook=webhook, body=b"{}", timestamp=timestamp, signature=f"SHA256={digest.upper()}", now=now
    )
    with pytest.raises(Unauthorized):
        verify_signature(
            webhook=webhook, body=b"{}", timestamp=timestamp, signature=f"sha1={digest}", now=now
        )


def test_unknown_or_inactive_webhook_is_a_404(workspace):
    inactive = InboundWebhookFactory(workspace=workspace, is_active=False)
    unknown = InboundWebhook(public_id="nope", secret="x")

    assert deliver(inactive, _body(GENERIC)).status_code == 404
    assert deliver(unknown, _body(GENERIC)).status_code == 404
    assert FeedbackItem.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"\xff\xfe\x00", None, "invalid_json"),
        (b"[1, 2]", None, "invalid_json"),
        (b"", None, "invalid_json"),
        (_body({"email": "a@example.com"}), "text", "required"),
        (_body({"text": 42}), "text", "required"),
        (_body({"text": "x", "email": "nope"}), "email", "invalid"),
        (_body({"text": "x", "tags": "not-a-list"}), "tags", "invalid"),
        (_body({"text": "x", "importance": "urgent"}), "importance", "invalid_choice"),
    ],
)
def test_bad_payloads_are_400s_and_store_nothing(workspace, body, attr, code):
    webhook = InboundWebhookFactory(workspace=workspace)

    response = deliver(webhook, body)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]
    assert FeedbackItem.objects.count() == 0
    assert Contact.objects.count() == 0
    webhook.refresh_from_db()
    assert webhook.last_delivery_at is None


def test_oversized_body_is_a_400(workspace, monkeypatch):
    monkeypatch.setattr(webhooks, "MAX_WEBHOOK_BODY_BYTES", 50)
    webhook = InboundWebhookFactory(workspace=workspace)

    response = deliver(webhook, _body(GENERIC))

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "request_too_large"
    assert FeedbackItem.objects.count() == 0


def test_a_webhook_of_one_workspace_cannot_write_into_another(workspace, other_workspace):
    ours = InboundWebhookFactory(workspace=workspace)
    theirs = InboundWebhookFactory(workspace=other_workspace)

    # Our secret on their URL does not verify...
    refused = deliver(theirs, _body(GENERIC), secret=ours.secret)
    # ...and on our URL the item lands in our workspace whatever the payload says.
    accepted = deliver(ours, _body({**GENERIC, "workspace": other_workspace.slug}))

    assert refused.status_code == 401
    assert accepted.status_code == 201
    assert FeedbackItem.objects.filter(workspace=other_workspace).count() == 0
    assert FeedbackItem.objects.get().workspace == workspace


def test_session_credentials_are_not_needed_nor_used(workspace, owner, session_client):
    webhook = InboundWebhookFactory(workspace=workspace)

    response = deliver(webhook, _body(GENERIC), client=session_client(owner))

    assert response.status_code == 201
    assert AuditEvent.objects.get(target_type="feedback.feedbackitem").actor is None


def test_deliveries_are_throttled_per_webhook(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    other = InboundWebhookFactory(workspace=workspace)
    rates = {"user": "100/minute", "anon": "100/minute", "inbound_webhook": "2/minute"}
    from django.conf import settings

    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [deliver(webhook, _body({"text": f"idea {n}"})).status_code for n in range(3)]
        other_status = deliver(other, _body({"text": "elsewhere"})).status_code

    assert statuses == [201, 201, 429]
    assert other_status == 201
    assert FeedbackItem.objects.count() == 3


# --- provider payloads ----------------------------------------------------------------------


def test_slack_event_callback(workspace):
    webhook = InboundWebhookFactory(workspace=workspace, provider="slack")
    payload = {
        "type": "event_callback",
        "event_id": "Ev123",
        "event": {
            "type": "message",
            "text": "Can we get a Jira integration?",
            "user": "U123",
            "user_profile": {"email": "Eve@Initech.com", "real_name": "Eve"},
            "channel": "C42",
            "channel_name": "customer-feedback",
            "client_msg_id": "6f1b-msg",
            "ts": "1714564800.000100",
        },
    }

    response = deliver(webhook, _body(payload))

    item = FeedbackItem.objects.get(pk=response.json()["id"])
    assert (item.source, item.source_ref, item.tags) == ("slack", "6f1b-msg", ["customer-feedback"])
    assert (item.text, item.contact.email, item.contact.name) == (
        "Can we get a Jira integration?",
        "eve@initech.com",
        "Eve",
    )
    assert item.received_at == datetime(2024, 5, 1, 12, 0, 0, 100, tzinfo=UTC)


def test_slack_without_client_msg_id_uses_the_event_id_and_channel_id():
    data = webhooks.map_slack({"event_id": "Ev9", "event": {"text": "hi", "channel": "C1"}})

    assert (data["source_ref"], data["tags"], data["contact_email"]) == ("Ev9", ["C1"], "")


def test_slack_url_verification_is_refused_with_a_clear_error():
    with pytest.raises(ValidationFailed) as caught:
        webhooks.map_slack({"type": "url_verification", "challenge": "x"})

    assert caught.value.code == "unsupported_event"


def test_intercom_conversation(workspace):
    webhook = InboundWebhookFactory(workspace=workspace, provider="intercom")
    payload = {
        "type": "notification_event",
        "topic": "conversation.user.created",
        "data": {
            "item": {
                "type": "conversation",
                "id": "1911149811",
                "created_at": 1714564800,
                "source": {
                    "body": "<p>Hi, we'd love <b>bulk editing</b>.</p><p>Thanks!</p>",
                    "author": {"type": "user", "email": "max@hooli.com", "name": "Max"},
                },
                "tags": {"tags": [{"name": "billing"}, {"name": ""}]},
            }
        },
    }

    response = deliver(webhook, _body(payload))

    item = FeedbackItem.objects.get(pk=response.json()["id"])
    assert (item.source, item.source_ref, item.tags) == ("intercom", "1911149811", ["billing"])
    assert item.text == "Hi, we'd love bulk editing.\n\nThanks!"
    assert (item.contact.email, item.received_at) == ("max@hooli.com", datetime(2024, 5, 1, 12, tzinfo=UTC))


def test_zendesk_ticket(workspace):
    webhook = InboundWebhookFactory(workspace=workspace, provider="zendesk")
    payload = {
        "ticket": {
            "id": 35436,
            "description": "The export times out on big roadmaps.",
            "requester": {"email": "sam@umbrella.com", "name": "Sam"},
            "tags": "export performance",
            "created_at": "2024-05-01T12:00:00Z",
        }
    }

    response = deliver(webhook, _body(payload))

    item = FeedbackItem.objects.get(pk=response.json()["id"])
    assert (item.source, item.source_ref, item.tags) == ("zendesk", "35436", ["export", "performance"])
    assert (item.text, item.contact.email) == ("The export times out on big roadmaps.", "sam@umbrella.com")
    assert item.received_at == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_zendesk_without_description_uses_the_latest_comment():
    data = webhooks.map_zendesk(
        {"ticket": {"id": 7, "comments": [{"body": "first"}, {"html_body": "<p>latest</p>"}], "tags": ["a"]}}
    )
    placeholder = webhooks.map_zendesk({"ticket": {"id": 8, "latest_comment": "from a placeholder"}})

    assert (data["text"], data["source_ref"], data["tags"]) == ("latest", "7", ["a"])
    assert placeholder["text"] == "from a placeholder"


def test_receive_service_checks_before_writing(workspace):
    webhook = InboundWebhookFactory(workspace=workspace)
    now = timezone.now()
    timestamp = str(int(now.timestamp()))
    body = _body(GENERIC)
    headers = {"x-productops-signature": sign(secret=webhook.secret, body=body, timestamp=timestamp)}

    with pytest.raises(NotFound):
        inbound_webhook_receive(public_id="missing", body=body, headers=headers, now=now)
    with pytest.raises(Unauthorized):  # no timestamp header: the signature covers another string
        inbound_webhook_receive(public_id=webhook.public_id, body=body, headers=headers, now=now)
    item, created = inbound_webhook_receive(
        public_id=webhook.public_id,
        body=body,
        headers={**headers, "X-PRODUCTOPS-TIMESTAMP": timestamp},
        now=now,
    )

    assert created is True
    assert FeedbackItem.objects.get() == item


# --- management -----------------------------------------------------------------------------


def test_admin_creates_a_webhook_and_sees_the_secret_once(workspace, member, session_client):
    admin = member(workspace, Role.ADMIN).user
    client = session_client(admin)

    created = client.post(hooks_url(workspace), {"provider": "intercom", "name": "Support inbox"})

    assert created.status_code == 201
    body = created.json()
    webhook = InboundWebhook.objects.get()
    assert body == {
        "id": webhook.pk,
        "provider": "intercom",
        "name": "Support inbox",
        "public_id": webhook.public_id,
        "url": f"http://testserver/api/v1/inbound/{webhook.public_id}/",
        "is_active": True,
        "last_delivery_at": None,
        "created_at": body["created_at"],
        "secret": webhook.secret,
    }
    assert body["secret"].startswith("whsec_")
    assert len(webhook.public_id) == 32
    listed = client.get(hooks_url(workspace)).json()["results"]
    retrieved = client.get(hooks_url(workspace, webhook.pk)).json()
    assert [r["id"] for r in listed] == [webhook.pk]
    assert "secret" not in listed[0]
    assert "secret" not in retrieved
    assert webhook.secret not in json.dumps([listed, retrieved])
    event = AuditEvent.objects.get(target_type="feedback.inboundwebhook")
    assert (event.actor, event.action, event.changes) == (
        admin,
        "created",
        {"provider": "intercom", "name": "Support inbox"},
    )
    assert webhook.secret not in json.dumps(event.changes)


def test_created_webhook_receives_deliveries_signed_with_its_secret(workspace, owner, session_client):
    body = session_client(owner).post(hooks_url(workspace), {"provider": "generic"}).json()
    webhook = InboundWebhook.objects.get(pk=body["id"])

    response = deliver(webhook, _body(GENERIC), secret=body["secret"])

    assert response.status_code == 201


def test_rotating_the_secret_invalidates_the_old_one(workspace, owner, session_client):
    webhook = InboundWebhookFactory(workspace=workspace)
    old_secret = webhook.secret
    client = session_client(owner)

    rotated = client.post(hooks_url(workspace, webhook.pk, "rotate-secret/"))

    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != old_secret
    assert deliver(webhook, _body(GENERIC), secret=old_secret).status_code == 401
    assert deliver(webhook, _body(GENERIC), secret=new_secret).status_code == 201
    assert AuditEvent.objects.get(target_type="feedback.inboundwebhook", action="updated").changes == {
        "secret": "rotated"
    }


def test_deleting_a_webhook_closes_its_url_and_keeps_its_feedback(workspace, owner, session_client):
    webhook = InboundWebhookFactory(workspace=workspace)
    deliver(webhook, _body(GENERIC))

    response = session_client(owner).delete(hooks_url(workspace, webhook.pk))

    assert response.status_code == 204
    assert InboundWebhook.objects.count() == 0
    assert deliver(webhook, _body({**GENERIC, "external_id": "2"})).status_code == 404
    assert FeedbackItem.objects.count() == 1
    assert AuditEvent.objects.filter(target_type="feedback.inboundwebhook", action="deleted").count() == 1


@pytest.mark.parametrize("role", [Role.CONTRIBUTOR, Role.PRODUCT_MANAGER])
def test_below_admin_cannot_manage_webhooks(workspace, member, session_client, role):
    webhook = InboundWebhookFactory(workspace=workspace)
    client = session_client(member(workspace, role).user)

    assert client.post(hooks_url(workspace), {"provider": "generic"}).status_code == 403
    assert client.get(hooks_url(workspace)).status_code == 403
    assert client.post(hooks_url(workspace, webhook.pk, "rotate-secret/")).status_code == 403
    assert client.delete(hooks_url(workspace, webhook.pk)).status_code == 403
    assert InboundWebhook.objects.count() == 1
    assert InboundWebhook.objects.get().secret == webhook.secret


def test_another_workspaces_webhooks_are_404s(workspace, other_workspace, owner, session_client):
    theirs = InboundWebhookFactory(workspace=other_workspace)
    client = session_client(owner)

    assert client.get(hooks_url(workspace, theirs.pk)).status_code == 404
    assert client.post(hooks_url(workspace, theirs.pk, "rotate-secret/")).status_code == 404
    assert client.delete(hooks_url(workspace, theirs.pk)).status_code == 404
    assert client.get(hooks_url(other_workspace)).status_code == 404
    assert InboundWebhook.objects.get().secret == theirs.secret


def test_create_validates_its_input(workspace, owner, session_client):
    client = session_client(owner)

    unknown = client.post(hooks_url(workspace), {"provider": "teams"})
    extra = client.post(hooks_url(workspace), {"provider": "generic", "secret": "mine"})

    assert (unknown.status_code, unknown.json()["errors"][0]["attr"]) == (400, "provider")
    assert (extra.status_code, extra.json()["errors"][0]["code"]) == (400, "unknown_field")
    assert InboundWebhook.objects.count() == 0


def test_services_check_roles(workspace, member):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    webhook = InboundWebhookFactory(workspace=workspace)

    with pytest.raises(Forbidden):
        inbound_webhook_create(workspace=workspace, actor=contributor, provider="generic")
    with pytest.raises(Forbidden):
        inbound_webhook_rotate_secret(webhook=webhook, actor=contributor)
    hook, secret = inbound_webhook_create(workspace=workspace, actor=None, provider="slack", name=" Sales ")
    assert (hook.name, hook.secret, hook.workspace) == ("Sales", secret, workspace)
    assert InboundWebhook.objects.count() == 2


def test_a_ticket_dated_in_year_one_is_a_field_error_and_stores_nothing(workspace):
    webhook = InboundWebhookFactory(workspace=workspace, provider="zendesk")
    ticket = {"ticket": {"id": 1, "description": "Export is slow", "created_at": "0001-01-01T00:00:00Z"}}

    response = deliver(webhook, _body(ticket))

    assert response.status_code == 400
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("out_of_range", "received_at")]
    assert FeedbackItem.objects.count() == 0
