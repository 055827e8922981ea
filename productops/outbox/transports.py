"""Sending one stored delivery through its channel. Each transport returns the provider's
message id (or "") and raises :class:`SendError` with ``permanent`` when retrying is useless."""

from __future__ import annotations

import hashlib
import smtplib
from collections.abc import Callable
from datetime import datetime

import httpx
from anymail.exceptions import AnymailError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from standardwebhooks.webhooks import Webhook

from productops.outbox import http
from productops.outbox.models import Channel, Delivery


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


#: (delivery) -> the endpoint's signing secrets, newest first; registered by comms at start-up.
_webhook_secrets: list[Callable[[Delivery], list[str]]] = []


def webhook_secrets_register(provider: Callable[[Delivery], list[str]]) -> None:
    if provider not in _webhook_secrets:
        _webhook_secrets.append(provider)


def webhook_headers(*, msg_id: str, body: str, secrets: list[str], at: datetime) -> dict[str, str]:
    """Standard Webhooks headers; one ``v1,`` signature per secret (rotation keeps the old one
    valid for a while), space-separated as the specification says."""
    signatures = [Webhook(secret).sign(msg_id, at, body) for secret in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "productops-webhooks/1",
    }


def _email(delivery: Delivery) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "localhost"
    # One Message-ID per delivery, the same on every attempt: a message sent twice (its
    # worker died after sending) is recognised as one by mail clients.
    digest = hashlib.sha256(f"{delivery.workspace_id}:{delivery.dedupe_key}".encode()).hexdigest()[:16]
    message_id = f"<delivery-{delivery.pk}.{digest}@{domain}>"
    message = EmailMultiAlternatives(
        subject=delivery.subject,
        body=delivery.body_text,
        to=[delivery.recipient],
        headers={**(delivery.headers or {}), "Message-ID": message_id},
    )
    if delivery.body_html:
        message.attach_alternative(delivery.body_html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"recipient refused: {exc.recipients}", permanent=True) from exc
    except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
        # The provider refused the address (invalid, or on its own suppression list).
        raise SendError(f"{type(exc).__name__}: {exc}"[:2000], permanent=True) from exc
    except (smtplib.SMTPException, OSError, AnymailError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}"[:2000]) from exc
    status = getattr(message, "anymail_status", None)
    return (getattr(status, "message_id", None) or message_id)[:255]


def _post(url: str, body: str, headers: dict[str, str]) -> str:
    try:
        with http.client() as client:
            response = client.post(url, content=body.encode(), headers=headers)
    except http.ForbiddenAddress as exc:
        raise SendError(str(exc), permanent=True) from exc
    except httpx.HTTPError as exc:
        # httpx re-raises the guard's ForbiddenAddress as its own ConnectError (the cause).
        permanent = isinstance(exc.__cause__, http.ForbiddenAddress)
        raise SendError(f"{type(exc).__name__}: {exc}", permanent=permanent) from exc
    if 200 <= response.status_code < 300:
        return response.headers.get("x-request-id", "")[:255]
    # 3xx are not followed; 4xx other than timeouts and rate limits will not get better.
    permanent = 300 <= response.status_code < 500 and response.status_code not in (408, 409, 425, 429)
    raise SendError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=permanent)


# A Slack incoming-webhook URL is itself the credential; a webhook's signing secrets are in
# ``secrets``: an unexpected error below is logged with its traceback, whose report must not
# show them.
@sensitive_variables()
def _slack(delivery: Delivery) -> str:
    return _post(delivery.recipient, delivery.body_text, {"content-type": "application/json"})


@sensitive_variables()
def _webhook(delivery: Delivery) -> str:
    secrets: list[str] = []
    for provider in _webhook_secrets:
        secrets = provider(delivery)
        if secrets:
            break
    if not secrets:
        raise SendError("the endpoint has no signing secret (deleted?)", permanent=True)
    msg_id = str(delivery.payload.get("id") or f"msg_{delivery.pk}")
    headers = webhook_headers(msg_id=msg_id, body=delivery.body_text, secrets=secrets, at=timezone.now())
    _post(delivery.recipient, delivery.body_text, headers)
    return msg_id


TRANSPORTS: dict[str, Callable[[Delivery], str]] = {
    Channel.EMAIL: _email,
    Channel.SLACK: _slack,
    Channel.WEBHOOK: _webhook,
}


def send(delivery: Delivery) -> str:
    return TRANSPORTS[delivery.channel](delivery)
