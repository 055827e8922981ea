"""Reads of the outbox: the delivery log."""

from __future__ import annotations

from django.db.models import QuerySet

from productops.models import Workspace
from productops.outbox.models import Channel, Delivery

LIST_FIELDS = (
    "id",
    "workspace_id",
    "dedupe_key",
    "kind",
    "channel",
    "recipient",
    "recipient_ref",
    "event_id",
    "subject",
    "state",
    "suppressed_reason",
    "attempts",
    "next_attempt_at",
    "last_error",
    "provider_message_id",
    "sent_at",
    "created_at",
    "updated_at",
)


def deliveries_for_workspace(
    *,
    workspace: Workspace,
    state: str | None = None,
    channel: str | None = None,
    kind: str | None = None,
    event_id: int | None = None,
    recipient: str | None = None,
    recipient_ref: str | None = None,
) -> QuerySet[Delivery]:
    """The workspace's delivery log, newest first, without the stored bodies; each filter
    narrows it (``recipient`` matches the address or URL case-insensitively, exactly)."""
    rows = Delivery.objects.filter(workspace=workspace)
    if state:
        rows = rows.filter(state=state)
    if channel:
        rows = rows.filter(channel=channel)
    if kind:
        rows = rows.filter(kind=kind)
    if event_id is not None:
        rows = rows.filter(event_id=event_id)
    if recipient:
        rows = rows.filter(recipient__iexact=recipient.strip())
    if recipient_ref:
        rows = rows.filter(workspace=workspace, recipient_ref=recipient_ref)
    return rows.only(*LIST_FIELDS).order_by("-created_at", "-id")


def delivery_detail(*, workspace: Workspace, delivery_id: int) -> Delivery | None:
    """One delivery with its stored content (what was sent, byte for byte)."""
    return Delivery.objects.filter(workspace=workspace, pk=delivery_id).first()


def emails_latest(*, workspace: Workspace, limit: int = 25) -> QuerySet[Delivery]:
    """The workspace's latest e-mail deliveries with their stored subject and bodies, newest
    first (the portal's "Sent e-mails (dev)" page). One query."""
    return (
        Delivery.objects.filter(workspace=workspace, channel=Channel.EMAIL)
        .only(
            "id",
            "workspace_id",
            "kind",
            "recipient",
            "subject",
            "body_text",
            "body_html",
            "rendered_at",
            "state",
            "sent_at",
            "created_at",
        )
        .order_by("-created_at", "-id")[:limit]
    )
