"""Input and output serializers of the comms API.

Input serializers only validate shape and types; the rules (who may be a stakeholder,
time zones, URLs that may be posted to, threshold rules, roles) live in the comms
services. Related ids in a stakeholder's body are looked up inside the request's
workspace only (another workspace's id is a field error ``does_not_exist``); what a
subscription follows is resolved by the view, and another workspace's object is a 404.
Output serializers are read-only. Secrets of webhook endpoints are rendered by
:class:`WebhookEndpointSecretOutput` only, on create and rotation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.roadmap.serializers import MAX_ID, MemberField, WorkspaceRelatedField
from comms import loop, webhooks
from comms.models import (
    TARGET_FIELDS,
    Audience,
    Cadence,
    CommsSettings,
    Stakeholder,
    StakeholderKind,
    Subscription,
    Threshold,
    WebhookEndpoint,
    WebhookFormat,
)
from comms.models import Channel as SubscriptionChannel
from feedback.models import Contact
from productops.api.base import StrictSerializer
from productops.api.fields import BlankAsNullChoiceField, ModelOutput
from productops.models import ROLE_RANK, Role
from productops.outbox.models import Delivery, SuppressedReason

#: What a subscription can follow, as ``follows.type`` names it (the model's
#: ``target_workspace`` is ``workspace``). Named in ``ENUM_NAME_OVERRIDES``
#: (``SubscriptionTargetEnum``).
FOLLOWS_CHOICES = [
    (name.removeprefix("target_"), name.removeprefix("target_").title()) for name in TARGET_FIELDS
]
#: ``follows.type`` → the model field that holds it.
FOLLOWS_FIELDS = {name.removeprefix("target_"): name for name in TARGET_FIELDS}
#: The events an endpoint can subscribe to; ``webhook.test`` is sent on demand only.
#: Named in ``ENUM_NAME_OVERRIDES`` (``WebhookEventTypeEnum``).
WEBHOOK_EVENT_CHOICES = [(kind.value, kind.label) for kind in webhooks.EVENT_TYPES]
#: Why a contact who asked is not told.
LOOP_SUPPRESSED_CHOICES = [
    (reason.value, reason.label)
    for reason in (
        SuppressedReason.NO_CONSENT,
        SuppressedReason.UNSUBSCRIBED,
        SuppressedReason.DO_NOT_CONTACT,
    )
]

SLACK_URL_HELP = (
    "A Slack incoming webhook, https://hooks.slack.com/...; required for the slack channel. "
    "Refused when not https (insecure_url), not on hooks.slack.com (not_slack) or resolving to a "
    "private, loopback or link-local address (private_address)."
)


def _is_product_manager(context: dict[str, Any]) -> bool:
    request = context.get("request")
    membership = getattr(request, "membership", None)
    return membership is not None and ROLE_RANK[membership.role] >= ROLE_RANK[Role.PRODUCT_MANAGER]


# --- stakeholders ---------------------------------------------------------------------------------


class StakeholderOutput(ModelOutput):
    subscription_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Stakeholder
        fields = [
            "id",
            "kind",
            "user",
            "contact",
            "name",
            "email",
            "audience",
            "confirmed_at",
            "unsubscribed_at",
            "subscription_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StakeholderUpdateInput(StrictSerializer):
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Blank: the member's or contact's name."
    )
    audience = serializers.ChoiceField(choices=Audience.choices, help_text="What their digests emphasise.")
    email = serializers.EmailField(
        max_length=254,
        required=False,
        help_text="External stakeholders only (a member's or contact's address is theirs: 400 read_only); "
        "unique in the workspace, any case.",
    )
    unsubscribed = serializers.BooleanField(
        required=False,
        help_text="false: resubscribe a stakeholder who unsubscribed. Only they unsubscribe "
        "(from their e-mail's link), so true is refused.",
    )

    def validate_unsubscribed(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError(
                "Only the stakeholder can unsubscribe, from their e-mail's link.", code="invalid"
            )
        return value


class StakeholderCreateInput(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=StakeholderKind.choices,
        required=False,
        help_text="member (needs user), contact (needs contact) or external (needs email; the default).",
    )
    audience = serializers.ChoiceField(choices=Audience.choices, help_text="What their digests emphasise.")
    user = MemberField(required=False, allow_null=True, help_text="A member's user id (kind member).")
    contact = WorkspaceRelatedField(
        Contact, required=False, allow_null=True, help_text="A customer contact's id (kind contact)."
    )
    email = serializers.EmailField(
        max_length=254,
        required=False,
        help_text="Kind external: where e-mail goes; unique in the workspace, any case. Members and "
        "contacts use their own address.",
    )
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Blank: the member's or contact's name."
    )


# --- subscriptions --------------------------------------------------------------------------------


class FollowsOutput(serializers.Serializer):
    type = serializers.ChoiceField(choices=FOLLOWS_CHOICES)
    id = serializers.IntegerField(help_text="The followed object's id (the workspace's own for workspace).")
    name = serializers.CharField(help_text="Its name or title, for people.")


class FollowsInput(StrictSerializer):
    type = serializers.ChoiceField(choices=FOLLOWS_CHOICES)
    id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="The object's id in this workspace (another workspace's: 404). Not needed for workspace.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] != "workspace" and attrs.get("id") is None:
            raise serializers.ValidationError({"id": ["This field is required."]}, code="required")
        return attrs


def _follows(subscription: Subscription) -> dict[str, Any] | None:
    for kind, field in FOLLOWS_FIELDS.items():
        target = getattr(subscription, field)
        if target is None:
            continue
        name = getattr(target, "title", None) or getattr(target, "name", "")
        if kind == "release" and getattr(target, "version", ""):
            name = f"{name} {target.version}"
        return {"type": kind, "id": target.pk, "name": name}
    return None


class SubscriptionOutput(ModelOutput):
    follows = serializers.SerializerMethodField()
    slack_url = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = [
            "id",
            "stakeholder",
            "follows",
            "channel",
            "slack_url",
            "cadence",
            "time_zone",
            "local_hour",
            "weekday",
            "is_active",
            "next_due_at",
            "digest_through",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(FollowsOutput)
    def get_follows(self, subscription: Subscription) -> dict[str, Any] | None:
        return _follows(subscription)

    @extend_schema_field(
        serializers.URLField(
            allow_null=True,
            help_text="The Slack incoming webhook (a credential): null for the e-mail channel, and for "
            "roles below product manager.",
        )
    )
    def get_slack_url(self, subscription: Subscription) -> str | None:
        if not subscription.slack_url or not _is_product_manager(self.context):
            return None
        return subscription.slack_url


class SubscriptionUpdateInput(StrictSerializer):
    """The channel and schedule; what it follows is fixed (delete and subscribe again)."""

    channel = serializers.ChoiceField(choices=SubscriptionChannel.choices, required=False)
    slack_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text=SLACK_URL_HELP
    )
    cadence = serializers.ChoiceField(
        choices=Cadence.choices,
        required=False,
        help_text="immediate: each change as it happens; daily or weekly: one digest a period "
        "(default weekly).",
    )
    time_zone = serializers.CharField(
        max_length=64,
        required=False,
        help_text="IANA name, e.g. Europe/Paris (default UTC); unknown: 400 invalid_time_zone.",
    )
    local_hour = serializers.IntegerField(
        min_value=0, max_value=23, required=False, help_text="When digests go out, local time (default 9)."
    )
    weekday = serializers.IntegerField(
        min_value=1,
        max_value=7,
        required=False,
        help_text="Weekly digests: ISO weekday, 1 = Monday (default).",
    )
    is_active = serializers.BooleanField(required=False)


class SubscriptionCreateInput(SubscriptionUpdateInput):
    stakeholder = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="A stakeholder of this workspace (another workspace's: 404)."
    )
    follows = FollowsInput(
        help_text="Exactly one thing: the workspace, a product, goal, initiative, feature or release."
    )


class DigestItemOutput(serializers.Serializer):
    text = serializers.CharField()
    detail = serializers.CharField(
        required=False, help_text="Why, or who: the reason of a move, the companies."
    )
    url = serializers.URLField(
        required=False, help_text="A page to read more (a release's changelog entry); left out when none."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        item = super().to_representation(instance)
        if not item.get("url"):
            item.pop("url", None)  # no page (a private release): no link rather than ""
        return item


class DigestSectionOutput(serializers.Serializer):
    key = serializers.CharField(help_text="e.g. rank_moves, key_results, shipped, revenue_at_stake.")
    title = serializers.CharField()
    intro = serializers.CharField()
    news = serializers.BooleanField(
        help_text="Something happened in the period; false: context (how things stand), which alone "
        "never makes a digest."
    )
    items = DigestItemOutput(many=True)


class DigestPreviewOutput(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField(help_text="The plain-text part.")
    html = serializers.CharField(help_text="The HTML part, CSS inlined, as it would be stored and sent.")
    sections = DigestSectionOutput(many=True, help_text="What the digest reports, section by section.")
    since = serializers.DateTimeField(help_text="The period it reports: from this time...")
    until = serializers.DateTimeField(help_text="... to this one.")
    empty = serializers.BooleanField(help_text="No news: a digest for this period would not be sent.")
    channel = serializers.ChoiceField(choices=SubscriptionChannel.choices)
    payload = serializers.DictField(
        required=False, help_text="Slack subscriptions: the Block Kit message that would be posted."
    )


#: The longest period a digest preview reports.
MAX_PREVIEW_DAYS = 93


class DigestPeriodQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def _utc(self, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise serializers.ValidationError("Date out of range.", code="out_of_range") from None

    def validate_since(self, value: datetime) -> datetime:
        return self._utc(value)

    def validate_until(self, value: datetime) -> datetime:
        return self._utc(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until") or timezone.now()
        if since is not None and until - since > timedelta(days=MAX_PREVIEW_DAYS):
            raise serializers.ValidationError(
                {"since": [f"A preview reports at most {MAX_PREVIEW_DAYS} days."]}, code="out_of_range"
            )
        return attrs


# --- deliveries -----------------------------------------------------------------------------------


class DeliveryOutput(ModelOutput):
    """A row of the delivery log, without its stored content."""

    class Meta:
        model = Delivery
        fields = [
            "id",
            "kind",
            "channel",
            "recipient",
            "recipient_ref",
            "event",
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
        ]
        read_only_fields = fields
        extra_kwargs = {
            "recipient_ref": {
                "help_text": "Who it is for: contact:<id>, stakeholder:<id>, user:<id> or endpoint:<id>."
            },
        }


class DeliveryDetailOutput(DeliveryOutput):
    """A delivery with exactly what was (or will be) sent."""

    text = serializers.CharField(
        source="body_text", read_only=True, help_text="The plain-text part, or the exact JSON body posted."
    )
    html = serializers.CharField(source="body_html", read_only=True)
    payload = serializers.DictField(read_only=True, help_text="The webhook's or Slack message's JSON.")
    headers = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="Headers stored with the message."
    )

    class Meta(DeliveryOutput.Meta):
        fields = [
            *DeliveryOutput.Meta.fields,
            "dedupe_key",
            "text",
            "html",
            "payload",
            "headers",
            "rendered_at",
        ]
        read_only_fields = fields


# --- webhook endpoints ----------------------------------------------------------------------------


class WebhookEndpointOutput(ModelOutput):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_CHOICES),
        read_only=True,
        help_text="The events posted to it (empty: none).",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "name",
            "url",
            "format",
            "event_types",
            "rank_top_n",
            "is_active",
            "previous_secret_expires_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "previous_secret_expires_at": {
                "help_text": "After a rotation, the old secret still signs (a second signature) until then."
            },
        }


class WebhookEndpointSecretOutput(WebhookEndpointOutput):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (whsec_ + base64). Shown now only (on create and rotation); store it.",
    )

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    url = serializers.CharField(
        max_length=500,
        help_text="https only; a Slack endpoint on hooks.slack.com; never a private, loopback or "
        "link-local address (400 insecure_url, not_slack, private_address).",
    )
    format = serializers.ChoiceField(
        choices=WebhookFormat.choices,
        required=False,
        help_text="standard: signed JSON (Standard Webhooks, the default); slack: a Slack message.",
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_CHOICES),
        required=False,
        max_length=len(WEBHOOK_EVENT_CHOICES),
        help_text="The events to post (empty: none).",
    )
    rank_top_n = serializers.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        help_text="priority.rank_changed fires when a feature enters or leaves the top N (default 10).",
    )
    is_active = serializers.BooleanField(required=False)


class WebhookEndpointCreateInput(WebhookEndpointUpdateInput):
    pass


# --- thresholds -----------------------------------------------------------------------------------


class ThresholdOutput(ModelOutput):
    rule = serializers.SerializerMethodField(
        help_text='The rule as text, e.g. "companies >= 5", "arr >= 250000".'
    )

    class Meta:
        model = Threshold
        fields = ["id", "metric", "value", "rule", "is_active", "created_at"]
        read_only_fields = fields

    def get_rule(self, threshold: Threshold) -> str:
        return webhooks.rule_text(threshold)


class ThresholdCreateInput(StrictSerializer):
    rule = serializers.CharField(
        max_length=100,
        help_text='"companies >= N" (requesting companies) or "arr >= X" (ARR at stake, in the reporting '
        'currency; k and M suffixes: "arr >= 250k", "arr >= 2.5M"). Anything else: 400 invalid_rule; '
        "a rule the workspace has: 400 unique.",
    )


# --- settings -------------------------------------------------------------------------------------


class CommsSettingsOutput(ModelOutput):
    class Meta:
        model = CommsSettings
        fields = ["notify_imported_contacts", "digest_rank_moves"]
        read_only_fields = fields


class CommsSettingsInput(StrictSerializer):
    notify_imported_contacts = serializers.BooleanField(
        required=False,
        help_text="Also e-mail contacts known only from imports (CSV, support tickets, webhooks) when "
        "closing the loop; off: they are recorded as suppressed (no_consent).",
    )
    digest_rank_moves = serializers.IntegerField(
        min_value=1, max_value=50, required=False, help_text="How many rank moves a digest explains."
    )


# --- close the loop -------------------------------------------------------------------------------


class FeatureLoopPreviewQuery(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[("shipped", "Shipped"), ("declined", "Declined")], default="shipped"
    )
    customer_message = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="What customers are told."
    )


class LoopFeatureOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField(help_text="Internal title.")
    customer_title = serializers.CharField(
        allow_null=True, help_text="What customers read; null: it has none and is left out of notices."
    )


class LoopPersonOutput(serializers.Serializer):
    contact_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    company = serializers.CharField(help_text="The contact's company's name (blank: none).")
    features = serializers.ListField(
        child=serializers.CharField(), help_text="What they asked for, as customers read it."
    )
    reason = BlankAsNullChoiceField(
        choices=LOOP_SUPPRESSED_CHOICES, help_text="Why they are not e-mailed; null: they are."
    )


class LoopSuppressedOutput(serializers.Serializer):
    no_consent = serializers.IntegerField(
        help_text="Known only from imports while the workspace does not notify imported contacts."
    )
    unsubscribed = serializers.IntegerField()
    do_not_contact = serializers.IntegerField(help_text="Their company is do-not-contact.")


class LoopPreviewOutput(serializers.Serializer):
    """Who closing the loop tells; nothing is sent or stored."""

    features = LoopFeatureOutput(many=True, help_text="The features considered.")
    contacts = serializers.IntegerField(help_text="Contacts e-mailed, once each.")
    companies = serializers.IntegerField(help_text="Their distinct companies.")
    suppressed = LoopSuppressedOutput(help_text="Contacts who asked but are not e-mailed, by reason.")
    account_owners = serializers.IntegerField(help_text="Account owners who get a summary of who was told.")
    sample = LoopPersonOutput(many=True, help_text=f"The first {loop.SAMPLE_SIZE} contacts e-mailed.")
    suppressed_sample = LoopPersonOutput(many=True, help_text=f"The first {loop.SAMPLE_SIZE} left out.")


class LoopNoticeOutput(serializers.Serializer):
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField(help_text="CSS inlined, as it would be stored and sent.")


class FeatureLoopPreviewOutput(LoopPreviewOutput):
    notice = LoopNoticeOutput(help_text="The notice they read, with the customer message.")
