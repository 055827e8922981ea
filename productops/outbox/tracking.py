"""Bounces and complaints from the e-mail provider (django-anymail's ``tracking`` signal).

The provider's webhook (mounted at ``/anymail/<esp>/tracking/`` when
``ANYMAIL["WEBHOOK_SECRET"]`` is set, and authenticated by anymail with that secret) turns
each report into an ``AnymailTrackingEvent``. A bounce (or a rejection because the address
bounced before) suppresses the address as ``bounced``, a complaint (or a rejection because
of an earlier spam report) as ``complained``, through :func:`email_suppress`: the address
gets no more e-mail from any workspace and its pending deliveries are suppressed. The sent
delivery the report is about (matched on the provider's message id) keeps its state and
gets the report in ``last_error``. Other events (delivered, opened, ...) are ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from productops.outbox.models import Channel, Delivery, SuppressedReason
from productops.outbox.services import email_suppress

logger = logging.getLogger(__name__)

#: (event type, reject reason or None) -> the suppression it means.
REASONS = {
    ("bounced", None): SuppressedReason.BOUNCED,
    ("complained", None): SuppressedReason.COMPLAINED,
    ("rejected", "bounced"): SuppressedReason.BOUNCED,
    ("rejected", "spam"): SuppressedReason.COMPLAINED,
}


def suppression_reason(event: Any) -> str:
    """The suppression an anymail tracking event means, or "" for none."""
    event_type = getattr(event, "event_type", None)
    if event_type == "rejected":
        return REASONS.get((event_type, getattr(event, "reject_reason", None)), "")
    return REASONS.get((event_type, None), "")


def tracking_received(sender: Any, event: Any, esp_name: str = "", **kwargs: Any) -> None:
    """Receiver of ``anymail.signals.tracking`` (connected in ``ProductopsConfig.ready``)."""
    reason = suppression_reason(event)
    recipient = (getattr(event, "recipient", None) or "").strip()
    if not reason or not recipient:
        return
    detail = ": ".join(
        str(part) for part in (esp_name, event.event_type, event.description or event.mta_response) if part
    )
    email_suppress(email=recipient, reason=reason, detail=detail)
    if event.message_id:
        Delivery.objects.filter(
            channel=Channel.EMAIL,
            provider_message_id=str(event.message_id)[:255],
            recipient__iexact=recipient,
        ).update(last_error=f"Reported {reason} by the provider: {detail}"[:2000])
    logger.info("e-mail address suppressed (%s, reported by %s)", reason, esp_name or "the provider")
