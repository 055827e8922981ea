"""Bounces and complaints reported by the e-mail provider suppress the address: a real
django-anymail tracking webhook (Postmark's, with basic auth) through the project's URLs,
mounted only when ``ANYMAIL["WEBHOOK_SECRET"]`` is set, and the signal's receiver itself."""

from __future__ import annotations

import base64
import importlib
import json

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.test import Client
from django.urls import Resolver404, clear_url_caches, resolve

from productops.outbox.models import Channel, Delivery, DeliveryState, EmailSuppression, SuppressedReason
from productops.outbox.services import Message, deliveries_create
from tests.productops.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

SECRET = "hooks:s3cret-value"


def _reload_urls() -> None:
    import productops.urls

    importlib.reload(productops.urls)
    clear_url_caches()


@pytest.fixture
def webhooks_on(settings):
    """The project's URLs as they are with a webhook secret configured."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    _reload_urls()
    yield
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    _reload_urls()


def _rows(*recipients: str) -> list[Delivery]:
    workspace = WorkspaceFactory()
    deliveries_create(
        [
            {
                "workspace": workspace,
                "dedupe_key": f"loop:{n}:1",
                "kind": "comms.loop",
                "channel": Channel.EMAIL,
                "recipient": recipient,
                "message": Message(subject="Shipped", text="Shipped."),
            }
            for n, recipient in enumerate(recipients)
        ],
        send=False,
    )
    return list(Delivery.objects.order_by("id"))


def _postmark(record_type: str, bounce_type: str, email: str, message_id: str) -> dict:
    return {
        "RecordType": record_type,
        "ID": 4323372036854775807,
        "Type": bounce_type,
        "TypeCode": 1,
        "MessageID": message_id,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "productops@example.com",
        "BouncedAt": "2026-12-01T16:33:54.9070259Z",
        "Subject": "Shipped",
        "MessageStream": "outbound",
        "Metadata": {},
    }


def _post(client: Client, body: dict, *, secret: str = SECRET):
    auth = base64.b64encode(secret.encode()).decode()
    return client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def test_without_a_secret_the_webhooks_are_not_mounted():
    with pytest.raises(Resolver404):
        resolve("/anymail/postmark/tracking/")


def test_a_postmark_bounce_suppresses_the_address_and_its_pending_mail(webhooks_on):
    sent, waiting, other = _rows("gone@example.com", "Gone@Example.com", "fine@example.com")
    Delivery.objects.filter(pk=sent.pk).update(state=DeliveryState.SENT, provider_message_id="pm-123")

    response = _post(Client(), _postmark("Bounce", "HardBounce", "gone@example.com", "pm-123"))

    assert response.status_code == 200
    row = EmailSuppression.objects.get()
    assert (row.email, row.reason) == ("gone@example.com", SuppressedReason.BOUNCED)
    assert row.detail.startswith("Postmark: bounced: The server was unable to deliver")
    states = {d.pk: (d.state, d.suppressed_reason) for d in Delivery.objects.all()}
    assert states == {
        sent.pk: (DeliveryState.SENT, ""),  # what was sent stays sent, with the report
        waiting.pk: (DeliveryState.SUPPRESSED, SuppressedReason.BOUNCED),
        other.pk: (DeliveryState.PENDING, ""),
    }
    assert Delivery.objects.get(pk=sent.pk).last_error.startswith(
        "Reported bounced by the provider: Postmark: bounced: "
    )


def test_a_spam_complaint_suppresses_as_complained(webhooks_on):
    _rows("angry@example.com")
    response = _post(Client(), _postmark("SpamComplaint", "SpamComplaint", "angry@example.com", "pm-9"))
    assert response.status_code == 200
    assert EmailSuppression.objects.values_list("email", "reason").get() == (
        "angry@example.com",
        SuppressedReason.COMPLAINED,
    )
    assert Delivery.objects.get().suppressed_reason == SuppressedReason.COMPLAINED


def test_a_request_without_the_secret_is_refused_and_changes_nothing(webhooks_on):
    _rows("gone@example.com")
    response = _post(
        Client(), _postmark("Bounce", "HardBounce", "gone@example.com", "x"), secret="hooks:wrong"
    )
    assert response.status_code == 400
    assert EmailSuppression.objects.count() == 0
    assert Delivery.objects.get().state == DeliveryState.PENDING


@pytest.mark.parametrize(
    ("event_type", "reject_reason", "suppressed"),
    [
        ("bounced", None, SuppressedReason.BOUNCED),
        ("complained", None, SuppressedReason.COMPLAINED),
        ("rejected", "bounced", SuppressedReason.BOUNCED),
        ("rejected", "spam", SuppressedReason.COMPLAINED),
        ("rejected", "invalid", None),
        ("delivered", None, None),
        ("opened", None, None),
        ("deferred", None, None),
    ],
)
def test_the_tracking_signal_suppresses_only_bounces_and_complaints(event_type, reject_reason, suppressed):
    event = AnymailTrackingEvent(
        event_type=event_type, recipient="Someone@Example.com", reject_reason=reject_reason, message_id="m1"
    )
    tracking.send(sender=object, event=event, esp_name="Mailgun")
    assert list(EmailSuppression.objects.values_list("email", "reason")) == (
        [("someone@example.com", suppressed)] if suppressed else []
    )


def test_an_event_without_a_recipient_is_ignored():
    tracking.send(sender=object, event=AnymailTrackingEvent(event_type="bounced"), esp_name="Mailgun")
    assert EmailSuppression.objects.count() == 0
