"""The outbox's delivery log (one row per message and recipient) and the address suppression list."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"


class SuppressedReason(models.TextChoices):
    EMPTY = "empty", "Nothing to say"
    NO_CONSENT = "no_consent", "No consent to e-mail"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    DO_NOT_CONTACT = "do_not_contact", "Company is do-not-contact"
    BOUNCED = "bounced", "Address bounced"
    COMPLAINED = "complained", "Recipient complained"
    OBSOLETE = "obsolete", "No longer relevant"
    DISABLED = "disabled", "Endpoint or subscription disabled"


class Delivery(models.Model):
    """One message to one recipient through one channel: the outbox row and its log entry.

    ``dedupe_key`` is never null and unique per workspace (rows without a workspace, such
    as password resets, are unique among themselves), so "create this message" is
    idempotent. The content is stored once (``rendered_at``) before the first attempt and
    every retry sends exactly it.
    """

    workspace = models.ForeignKey(
        "productops.Workspace", on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    dedupe_key = models.CharField(max_length=200)
    kind = models.CharField(max_length=60, help_text="What the message is, e.g. comms.digest, board.status.")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=500, help_text="An e-mail address or the URL posted to.")
    recipient_ref = models.CharField(
        max_length=100, blank=True, help_text="Who it is for in productops, e.g. contact:12, stakeholder:3."
    )
    event = models.ForeignKey(
        "productops.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True, help_text="The plain-text part, or the exact JSON body posted.")
    body_html = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    headers = models.JSONField(default=dict, blank=True)
    context = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="What the renderer needs."
    )
    rendered_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    suppressed_reason = models.CharField(max_length=20, choices=SuppressedReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "dedupe_key"],
                condition=Q(workspace__isnull=False),
                name="delivery_dedupe_per_workspace",
            ),
            models.UniqueConstraint(
                fields=["dedupe_key"], condition=Q(workspace__isnull=True), name="delivery_dedupe_global"
            ),
            models.CheckConstraint(
                condition=Q(state="suppressed", suppressed_reason__gt="")
                | (~Q(state="suppressed") & Q(suppressed_reason="")),
                name="delivery_suppressed_has_reason",
            ),
            models.CheckConstraint(condition=~Q(dedupe_key=""), name="delivery_dedupe_key_set"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="delivery_due",
                condition=Q(state__in=["pending", "sending"]),
            ),
            # Rows in flight, by lease: the sender finds expired leases without a scan.
            models.Index(
                fields=["lease_expires_at"], name="delivery_in_flight", condition=Q(state="sending")
            ),
            models.Index(fields=["workspace", "-created_at", "-id"], name="delivery_log"),
            models.Index(fields=["workspace", "state", "-created_at"], name="delivery_log_state"),
            models.Index(fields=["workspace", "recipient_ref"], name="delivery_recipient"),
            models.Index(fields=["provider_message_id"], name="delivery_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient} ({self.state})"


class EmailSuppression(models.Model):
    """An address the e-mail provider reported as bounced or complaining: never e-mailed again
    (by any workspace) until an operator removes the row."""

    email = models.EmailField(unique=True)
    reason = models.CharField(max_length=20, choices=SuppressedReason.choices)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"
