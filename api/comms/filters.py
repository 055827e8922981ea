"""Filters of the comms API: strict (a value they cannot read is a 400 naming the
parameter), related rows by id, and ``updated_after`` / ``updated_before`` on the lists
whose rows have an ``updated_at``."""

from __future__ import annotations

import django_filters

from comms.models import (
    Audience,
    Cadence,
    Channel,
    Stakeholder,
    StakeholderKind,
    Subscription,
    Threshold,
    ThresholdMetric,
    WebhookEndpoint,
    WebhookFormat,
)
from productops.api.filters import IdFilter, SafeIsoDateTimeFilter, StrictBooleanFilter, SyncFilterSet
from productops.outbox.models import Channel as DeliveryChannel
from productops.outbox.models import Delivery, DeliveryState, SuppressedReason


class StakeholderFilter(SyncFilterSet):
    audience = django_filters.MultipleChoiceFilter(
        choices=Audience.choices, help_text="Repeat to match any of several."
    )
    kind = django_filters.ChoiceFilter(choices=StakeholderKind.choices)
    user = IdFilter(field_name="user_id", help_text="The stakeholder who is this member.")
    contact = IdFilter(field_name="contact_id", help_text="The stakeholder who is this contact.")
    email = django_filters.CharFilter(lookup_expr="iexact", help_text="This address (any case).")
    unsubscribed = StrictBooleanFilter(
        field_name="unsubscribed_at", lookup_expr="isnull", exclude=True, help_text="true: they unsubscribed."
    )

    class Meta:
        model = Stakeholder
        fields: list[str] = []


class SubscriptionFilter(SyncFilterSet):
    stakeholder = IdFilter(field_name="stakeholder_id")
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    cadence = django_filters.ChoiceFilter(choices=Cadence.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = Subscription
        fields: list[str] = []


class WebhookEndpointFilter(SyncFilterSet):
    # Not ``format``: DRF reads that parameter as the response format.
    slack = StrictBooleanFilter(
        method="filter_slack", help_text="true: Slack endpoints; false: Standard Webhooks ones."
    )
    is_active = StrictBooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields: list[str] = []

    def filter_slack(self, queryset, name: str, value: bool):
        slack = queryset.filter(format=WebhookFormat.SLACK)
        return slack if value else queryset.exclude(format=WebhookFormat.SLACK)


class ThresholdFilter(django_filters.FilterSet):
    metric = django_filters.ChoiceFilter(choices=ThresholdMetric.choices)
    is_active = StrictBooleanFilter()
    # A threshold is never changed, only created and deleted: its creation is its last change.
    updated_after = SafeIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; created at or after."
    )
    updated_before = SafeIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; created before."
    )

    class Meta:
        model = Threshold
        fields: list[str] = []


class DeliveryFilter(SyncFilterSet):
    """The delivery log's filters (the same as ``deliveries_for_workspace``'s)."""

    state = django_filters.MultipleChoiceFilter(
        choices=DeliveryState.choices, help_text="Repeat to match any of several."
    )
    channel = django_filters.ChoiceFilter(choices=DeliveryChannel.choices)
    kind = django_filters.CharFilter(help_text="e.g. comms.digest, comms.loop, webhook.event, board.status.")
    suppressed_reason = django_filters.ChoiceFilter(choices=SuppressedReason.choices)
    event = IdFilter(field_name="event_id", help_text="Deliveries of this event.")
    recipient = django_filters.CharFilter(
        method="filter_recipient", help_text="This address or URL, exactly (any case)."
    )
    recipient_ref = django_filters.CharFilter(
        help_text="Who it is for: contact:<id>, stakeholder:<id>, user:<id> or endpoint:<id>."
    )
    created_after = SafeIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; created at or after."
    )
    created_before = SafeIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; created before."
    )

    class Meta:
        model = Delivery
        fields: list[str] = []

    def filter_recipient(self, queryset, name: str, value: str):
        return queryset.filter(recipient__iexact=value.strip())
