"""Inbound webhooks: tools post feedback to ``/api/v1/inbound/{public_id}/``, signed per webhook.

Signing scheme. It is ours, not any provider's: Slack, Intercom and Zendesk each
sign their own deliveries in their own way (and Slack expects its ``url_verification``
handshake, which is not handled here), so their events reach us through a relay (a
small function, Zapier, an iPaaS) that forwards the provider's JSON unchanged and signs
it like this:

* ``X-Productops-Timestamp: <unix seconds>``
* ``X-Productops-Signature: sha256=<hex>``, the HMAC-SHA256 of
  ``f"{timestamp}.".encode() + body`` under the webhook's secret, over exactly the
  bytes sent.

A delivery whose signature does not verify, or whose timestamp is more than
:data:`TIMESTAMP_TOLERANCE` from now (a replay), is refused with a 401 and nothing is
stored. The URL's ``public_id`` only finds the webhook; the secret authenticates, and
the webhook decides the workspace, whatever the payload says.

The payload is mapped by the webhook's provider (:data:`MAPPERS`) to ingest data with
the provider's id of the message as ``source_ref``, so a re-delivered event is stored
once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.views.decorators.debug import sensitive_variables

from feedback.channels.text import html_to_text, storable
from feedback.models import Company, FeedbackItem, InboundWebhook
from feedback.services import feedback_item_ingest, normalize_domain
from productops.errors import NotFound, Unauthorized, ValidationFailed
from productops.models import AuditEvent, Role, User, Workspace
from productops.services import audit_record, require_role

SIGNATURE_HEADER = "X-Productops-Signature"
TIMESTAMP_HEADER = "X-Productops-Timestamp"
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
MAX_WEBHOOK_BODY_BYTES = 1024 * 1024
SECRET_PREFIX = "whsec_"  # noqa: S105 (a public prefix that makes leaked secrets recognisable)

SOURCE_BY_PROVIDER = {
    InboundWebhook.Provider.SLACK: FeedbackItem.Source.SLACK,
    InboundWebhook.Provider.INTERCOM: FeedbackItem.Source.INTERCOM,
    InboundWebhook.Provider.ZENDESK: FeedbackItem.Source.ZENDESK,
    InboundWebhook.Provider.GENERIC: FeedbackItem.Source.API,
}


# --- management ---------------------------------------------------------------------------


def inbound_webhook_list(*, workspace: Workspace) -> QuerySet[InboundWebhook]:
    return InboundWebhook.objects.for_workspace(workspace).order_by("provider", "id")


def inbound_webhook_path(webhook: InboundWebhook) -> str:
    """Where the webhook's deliveries are posted (relative to the site root)."""
    return f"/api/v1/inbound/{webhook.public_id}/"


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
@sensitive_variables()  # the new secret, in every frame below (an error report hides them)
def inbound_webhook_create(
    *, workspace: Workspace, actor: User | None, provider: str, name: str = ""
) -> tuple[InboundWebhook, str]:
    """Create a webhook (admins); returns it and its secret, which the caller shows once."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    if provider not in InboundWebhook.Provider.values:
        raise ValidationFailed(
            f"Unknown provider; one of: {', '.join(InboundWebhook.Provider.values)}.",
            attr="provider",
            code="invalid_choice",
        )
    name = (name or "").strip()
    if len(name) > 120:
        raise ValidationFailed("At most 120 characters.", attr="name", code="max_length")
    webhook = InboundWebhook.objects.create(
        workspace=workspace,
        provider=provider,
        name=name,
        # 128 random bits: unguessable, though the secret is what authenticates.
        public_id=secrets.token_hex(16),
        secret=_new_secret(),
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=webhook,
        changes={"provider": provider, "name": name},
    )
    return webhook, webhook.secret


@transaction.atomic
@sensitive_variables()  # the new secret, in every frame below
def inbound_webhook_rotate_secret(
    *, webhook: InboundWebhook, actor: User | None
) -> tuple[InboundWebhook, str]:
    """Replace the secret (admins). Deliveries signed with the old one fail from now on."""
    require_role(workspace=webhook.workspace, user=actor, role=Role.ADMIN)
    webhook.secret = _new_secret()
    webhook.save(update_fields=["secret"])
    audit_record(
        workspace=webhook.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=webhook,
        changes={"secret": "rotated"},
    )
    return webhook, webhook.secret


@transaction.atomic
def inbound_webhook_delete(*, webhook: InboundWebhook, actor: User | None) -> None:
    """Delete the webhook (admins); its URL answers 404 from now on. Feedback it stored stays."""
    require_role(workspace=webhook.workspace, user=actor, role=Role.ADMIN)
    audit_record(
        workspace=webhook.workspace,
        actor=actor,
        action=AuditEvent.Action.DELETED,
        target=webhook,
        changes={"provider": webhook.provider, "public_id": webhook.public_id},
    )
    webhook.delete()


# --- signatures -----------------------------------------------------------------------------


def sign(*, secret: str, body: bytes, timestamp: str) -> str:
    """The ``X-Productops-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    *, webhook: InboundWebhook, body: bytes, timestamp: str, signature: str, now: datetime
) -> None:
    """Raise Unauthorized unless ``signature`` signs ``timestamp`` and ``body`` and is fresh.

    ``bad_signature``: missing, malformed or not matching (compared in constant time).
    ``stale_timestamp``: signed correctly but sent more than five minutes before or
    after ``now`` (a replayed or badly clocked delivery), or no timestamp.
    """
    scheme, _, provided = (signature or "").strip().partition("=")
    if scheme.strip().lower() != "sha256" or not provided:
        raise Unauthorized(
            f"Sign the body: {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256>.", code="bad_signature"
        )
    expected = sign(secret=webhook.secret, body=body, timestamp=timestamp or "").partition("=")[2]
    if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode()):
        raise Unauthorized("The signature does not match the body.", code="bad_signature")
    if not re.fullmatch(r"\d{1,12}", timestamp or "", flags=re.ASCII):
        raise Unauthorized(f"Send {TIMESTAMP_HEADER} as Unix seconds (and sign it).", code="stale_timestamp")
    if abs(now.timestamp() - int(timestamp)) > TIMESTAMP_TOLERANCE.total_seconds():
        raise Unauthorized(
            "The timestamp is more than five minutes off; sign each delivery when sending it.",
            code="stale_timestamp",
        )


# --- payload mappers ------------------------------------------------------------------------


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _string(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value).strip() if isinstance(value, str | int) else ""


def _unix_time(value: Any) -> datetime | None:
    """Slack's ``"1700000000.000100"`` or Intercom's ``1700000000``; None if absent or absurd."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not 0 < seconds < 32503680000:  # up to the year 3000
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def _iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _tags(value: Any) -> list[str]:
    """A list of strings, or a space/comma-separated string (Zendesk's ``{{ticket.tags}}``)."""
    if isinstance(value, str):
        return [tag for tag in re.split(r"[\s,]+", value) if tag]
    if isinstance(value, list):
        return [tag for tag in (_string(v) for v in value) if tag]
    return []


def map_slack(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack Events API ``event_callback`` (a message event)."""
    if payload.get("type") == "url_verification":
        raise ValidationFailed(
            "Slack's URL verification is not handled here; answer it in the relay.",
            attr="type",
            code="unsupported_event",
        )
    event = _object(payload.get("event"))
    profile = _object(event.get("user_profile"))
    channel = _string(event.get("channel_name")) or _string(event.get("channel"))
    return {
        "text": _string(event.get("text")),
        "contact_email": _string(event.get("user_email")) or _string(profile.get("email")),
        "contact_name": _string(profile.get("real_name")) or _string(profile.get("display_name")),
        "source_ref": _string(event.get("client_msg_id")) or _string(payload.get("event_id")),
        "tags": [channel] if channel else [],
        "received_at": _unix_time(event.get("ts")),
    }


def map_intercom(payload: Mapping[str, Any]) -> dict[str, Any]:
    """An Intercom ``conversation.*`` notification: the conversation's opening message."""
    item = _object(_object(payload.get("data")).get("item"))
    source = _object(item.get("source"))
    author = _object(source.get("author"))
    tags = _object(item.get("tags")).get("tags")
    names = [_string(_object(tag).get("name")) for tag in tags] if isinstance(tags, list) else []
    return {
        "text": html_to_text(_string(source.get("body"))),
        "contact_email": _string(author.get("email")),
        "contact_name": _string(author.get("name")),
        "source_ref": _string(item.get("id")),
        "tags": [name for name in names if name],
        "received_at": _unix_time(item.get("created_at")),
    }


def map_zendesk(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Zendesk ticket (trigger/webhook JSON): its description, else its latest comment."""
    ticket = _object(payload.get("ticket"))
    text = _string(ticket.get("description"))
    if not text:
        latest = ticket.get("latest_comment")
        comments = ticket.get("comments")
        if latest is None and isinstance(comments, list) and comments:
            latest = comments[-1]
        if isinstance(latest, Mapping):
            text = _string(latest.get("plain_body")) or _string(latest.get("body"))
            text = text or html_to_text(_string(latest.get("html_body")))
        else:
            text = _string(latest)
    requester = _object(ticket.get("requester")) or _object(payload.get("requester"))
    return {
        "text": text,
        "contact_email": _string(requester.get("email")),
        "contact_name": _string(requester.get("name")),
        "source_ref": _string(ticket.get("id")),
        "tags": _tags(ticket.get("tags")),
        "received_at": _iso_time(ticket.get("created_at")),
    }


# An item's field → the generic payload's key it came from.
GENERIC_FIELDS = {"contact_email": "email", "contact_name": "name", "source_ref": "external_id"}


def map_generic(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Our own JSON: ``{text, email, name, company_domain, external_id, importance, kind, tags}``.

    ``company_domain`` links a company of the workspace with that domain; an unknown
    domain is ignored rather than refused.
    """
    data = {
        "text": payload.get("text"),
        "contact_email": _string(payload.get("email")),
        "contact_name": _string(payload.get("name")),
        "company_domain": _string(payload.get("company_domain")),
        "source_ref": _string(payload.get("external_id")),
        "importance": payload.get("importance"),
        "kind": payload.get("kind"),
    }
    if "tags" in payload:
        data["tags"] = payload["tags"]  # validated by ingestion: a list of strings
    return data


MAPPERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    InboundWebhook.Provider.SLACK: map_slack,
    InboundWebhook.Provider.INTERCOM: map_intercom,
    InboundWebhook.Provider.ZENDESK: map_zendesk,
    InboundWebhook.Provider.GENERIC: map_generic,
}


# --- receiving ------------------------------------------------------------------------------


def _storable(value: Any) -> Any:
    """JSON may carry NULs and lone surrogates (``\\u0000``, ``\\ud800``), which no database stores."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [storable(v) if isinstance(v, str) else v for v in value]
    return value


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), "")
    return str(value)


@transaction.atomic
def inbound_webhook_receive(
    *, public_id: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> tuple[FeedbackItem, bool]:
    """Verify and store one delivery; ``(item, created)``.

    NotFound for an unknown or inactive webhook; Unauthorized (``bad_signature`` /
    ``stale_timestamp``) when the signature does not verify; ValidationFailed for a body
    that is not a JSON object or has no text. In each case nothing is stored. A delivery
    with a source ref stored before returns that item with ``created=False``; without
    an id in the payload, the body's sha256 is the ref.
    """
    webhook = (
        InboundWebhook.objects.select_related("workspace").filter(public_id=public_id, is_active=True).first()
    )
    if webhook is None:
        raise NotFound("No such webhook.")
    verify_signature(
        webhook=webhook,
        body=body,
        timestamp=_header(headers, TIMESTAMP_HEADER).strip(),
        signature=_header(headers, SIGNATURE_HEADER),
        now=now,
    )
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ValidationFailed("The body is not valid JSON.", attr=None, code="invalid_json") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", attr=None, code="invalid_json")
    data = {k: _storable(v) for k, v in MAPPERS[webhook.provider](payload).items() if v not in (None, "")}
    if not isinstance(data.get("text"), str) or not data["text"].strip():
        raise ValidationFailed("The payload has no feedback text.", attr="text", code="required")
    domain = normalize_domain(data.pop("company_domain", ""))
    if domain:
        # Only a known company is linked: an unknown domain must not bounce the delivery
        # (the sender cannot fix it); the contact's e-mail domain may still find one.
        company = Company.objects.filter(workspace=webhook.workspace, domain__iexact=domain).first()
        if company is not None:
            data["company"] = company
    data["source"] = SOURCE_BY_PROVIDER[webhook.provider]
    data.setdefault("source_ref", "sha256:" + hashlib.sha256(body).hexdigest())
    try:
        item, created = feedback_item_ingest(workspace=webhook.workspace, actor=None, data=data)
    except ValidationFailed as exc:
        # Name the field as the sender wrote it (our generic JSON says "email", not "contact_email").
        if webhook.provider == InboundWebhook.Provider.GENERIC and exc.attr in GENERIC_FIELDS:
            exc.attr = GENERIC_FIELDS[exc.attr]
        raise
    InboundWebhook.objects.filter(pk=webhook.pk).update(last_delivery_at=now)
    return item, created
