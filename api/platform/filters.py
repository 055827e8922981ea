"""Filters of the platform's API: every list has the sync filters (``updated_after`` / ``updated_before``)."""

from __future__ import annotations

import django_filters

from productops.api.filters import IdFilter, SafeIsoDateTimeFilter, SyncFilterSet
from productops.models import AuditEvent, Invitation, Membership, Role, Workspace


class WorkspaceFilter(SyncFilterSet):
    class Meta:
        model = Workspace
        fields: list[str] = []


class MembershipFilter(SyncFilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Membership
        fields: list[str] = []


class InvitationFilter(SyncFilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Invitation
        fields: list[str] = []


class AuditEventFilter(SyncFilterSet):
    created_after = SafeIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = SafeIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    # An event never changes: it was "updated" when it was written.
    updated_after = SafeIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Same as created_after."
    )
    updated_before = SafeIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Same as created_before."
    )
    # By id, not a model choice: a choice filter would list every user of the system.
    actor = IdFilter(field_name="actor_id")

    class Meta:
        model = AuditEvent
        fields = ["action", "target_type", "target_id"]
