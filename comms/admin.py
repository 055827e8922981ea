"""Operators' console for stakeholder comms.

Every write goes through the comms services (validated, audited as the operator):
stakeholders, subscriptions and the comms settings (``comms.services``), webhook endpoints
and thresholds (``comms.webhooks``). An endpoint's signing secret is never displayed: it is
shown once, in a message, to the operator who creates or rotates it. Thresholds' per-feature
state is the engine listener's and read-only. What was sent is in the outbox's delivery log
(*Deliveries*).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from comms import digests, services, webhooks
from comms.models import (
    TARGET_FIELDS,
    CommsSettings,
    Stakeholder,
    Subscription,
    Threshold,
    ThresholdState,
    WebhookEndpoint,
)
from productops.admin import ReadOnlyModelAdmin, ServiceModelAdmin
from productops.errors import DomainError


class StakeholderForm(forms.ModelForm):
    class Meta:
        model = Stakeholder
        fields = ["workspace", "kind", "user", "contact", "name", "email", "audience"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "email" in self.fields:
            # A member's or contact's address is copied from them by the service.
            self.fields["email"].required = False
            self.fields["email"].help_text = "External stakeholders only; members and contacts use theirs."


@admin.register(Stakeholder)
class StakeholderAdmin(ServiceModelAdmin):
    form = StakeholderForm
    list_display = ["__str__", "email", "kind", "audience", "workspace", "confirmed_at", "unsubscribed_at"]
    list_filter = ["kind", "audience", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["workspace", "user", "contact"]
    fields = [
        "workspace",
        "kind",
        "user",
        "contact",
        "name",
        "email",
        "audience",
        "confirmed_at",
        "unsubscribed_at",
        "created_at",
    ]
    readonly_fields = ["confirmed_at", "unsubscribed_at", "created_at"]
    create_only_fields = ("workspace", "kind", "user", "contact")

    def create(self, *, workspace, data):
        return services.stakeholder_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.stakeholder_update(stakeholder=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.stakeholder_delete(stakeholder=instance, actor=None)


@admin.register(Subscription)
class SubscriptionAdmin(ServiceModelAdmin):
    list_display = [
        "id",
        "stakeholder",
        "follows",
        "channel",
        "cadence",
        "time_zone",
        "local_hour",
        "next_due_at",
        "is_active",
        "workspace",
    ]
    list_filter = ["channel", "cadence", "is_active", "workspace"]
    list_select_related = ["workspace", "stakeholder"]
    search_fields = ["stakeholder__name", "stakeholder__email"]
    autocomplete_fields = ["workspace", "stakeholder", *TARGET_FIELDS]
    fields = [
        "workspace",
        "stakeholder",
        *TARGET_FIELDS,
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
    ]
    readonly_fields = ["next_due_at", "digest_through", "created_at"]
    create_only_fields = ("workspace", "stakeholder", *TARGET_FIELDS)
    actions = ["send_now"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Follows")
    def follows(self, obj: Subscription) -> str:
        return obj.target_label()

    def create(self, *, workspace, data):
        return services.subscription_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.subscription_update(subscription=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.subscription_delete(subscription=instance, actor=None)

    @admin.action(description="Send this digest now", permissions=["change"])
    def send_now(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset.select_related("workspace", "stakeholder").order_by("id"):
            label = f"{subscription.stakeholder} ({subscription.target_label()})"
            try:
                digests.digest_send_now(subscription=subscription, actor=None)
            except DomainError as exc:
                messages.error(request, f"{label}: not sent. {exc.detail}")
            else:
                messages.success(request, f"{label}: digest queued; see Deliveries.")


@admin.register(CommsSettings)
class CommsSettingsAdmin(ServiceModelAdmin):
    """One row per workspace, made on first use; changed through ``comms_settings_update``."""

    list_display = ["workspace", "notify_imported_contacts", "digest_rank_moves", "events_through_id"]
    list_filter = ["notify_imported_contacts"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__slug"]
    fields = ["workspace", "notify_imported_contacts", "digest_rank_moves", "events_through_id", "updated_at"]
    readonly_fields = ["events_through_id", "updated_at"]

    def update(self, *, instance, data):
        return services.comms_settings_update(workspace=instance.workspace, actor=None, data=data)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(kind, kind) for kind in webhooks.EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["workspace", "name", "url", "format", "event_types", "rank_top_n", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceModelAdmin):
    """The signing secrets are never shown here but once, right after creating or rotating."""

    form = WebhookEndpointForm
    list_display = ["name", "url", "format", "workspace", "is_active", "rank_top_n", "created_at"]
    list_filter = ["format", "is_active", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name", "url"]
    autocomplete_fields = ["workspace"]
    fields = [
        "workspace",
        "name",
        "url",
        "format",
        "event_types",
        "rank_top_n",
        "is_active",
        "last_top_ids",
        "previous_secret_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["last_top_ids", "previous_secret_expires_at", "created_by", "created_at", "updated_at"]
    actions = ["rotate_secret", "send_test"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # Created here rather than in ``create`` so the one-time secret goes to this request's
        # operator only (the admin instance is shared by every request).
        data = {
            name: form.cleaned_data[name] for name in webhooks.ENDPOINT_FIELDS if name in form.cleaned_data
        }
        try:
            endpoint, secret = webhooks.webhook_endpoint_create(
                workspace=form.cleaned_data["workspace"], actor=None, data=data
            )
        except DomainError as exc:
            self._fail(request, exc)
            return None
        messages.warning(request, f"Signing secret (shown once): {secret}")
        obj.pk = endpoint.pk
        return None

    def has_add_permission(self, request):
        return admin.ModelAdmin.has_add_permission(self, request)

    def update(self, *, instance, data):
        return webhooks.webhook_endpoint_update(endpoint=instance, actor=None, data=data)

    def delete(self, *, instance):
        webhooks.webhook_endpoint_delete(endpoint=instance, actor=None)

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.select_related("workspace").order_by("id"):
            _, secret = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=None)
            messages.warning(request, f"{endpoint}: new signing secret (shown once): {secret}")

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.select_related("workspace").order_by("id"):
            try:
                webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=None)
            except DomainError as exc:
                messages.error(request, f"{endpoint}: {exc.detail}")
            else:
                messages.success(request, f"{endpoint}: test event queued; see Deliveries.")


class ThresholdForm(forms.ModelForm):
    rule = forms.CharField(
        max_length=100, help_text='"companies >= 5" or "arr >= 250k" (ARR in the reporting currency).'
    )

    class Meta:
        model = Threshold
        fields = ["workspace"]


@admin.register(Threshold)
class ThresholdAdmin(ServiceModelAdmin):
    """Added from a rule and deleted through ``comms.webhooks``; a rule is not edited."""

    list_display = ["rule", "metric", "value", "is_active", "workspace", "created_at"]
    list_filter = ["metric", "is_active", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__slug"]
    autocomplete_fields = ["workspace"]

    @admin.display(description="Rule")
    def rule(self, obj: Threshold) -> str:
        return webhooks.rule_text(obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ThresholdForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["workspace", "rule"]
        return ["workspace", "rule", "metric", "value", "is_active", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def create(self, *, workspace, data):
        return webhooks.threshold_create(workspace=workspace, actor=None, rule=data.get("rule", ""))

    def delete(self, *, instance):
        webhooks.threshold_delete(threshold=instance, actor=None)


@admin.register(ThresholdState)
class ThresholdStateAdmin(ReadOnlyModelAdmin):
    list_display = ["threshold", "feature", "armed", "below_since", "fired_at", "workspace"]
    list_filter = ["armed", "workspace"]
    list_select_related = ["workspace", "threshold", "feature"]
    search_fields = ["feature__title"]
