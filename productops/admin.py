"""Operators' console for the platform core.

Changes that carry rules (roles, the last owner) go through the services, so
the admin cannot do what the API refuses, and every change is audited.
:class:`ServiceModelAdmin` is the shared base the other apps' admins use for that.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import UserAdmin
from django.db import models, transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from productops import services
from productops.errors import DomainError
from productops.models import (
    ApiToken,
    AuditEvent,
    Event,
    Heartbeat,
    IdempotencyKey,
    Invitation,
    Membership,
    User,
    Workspace,
    WorkspaceDeletion,
)
from productops.outbox import services as outbox
from productops.outbox.models import Delivery, DeliveryState, EmailSuppression, SuppressedReason

_FAILED = "_admin_service_failed"

# The console's own name in its header, the browser tab and the index page (Django's
# defaults read "Django administration").
admin.site.site_header = "productops admin console"
admin.site.site_title = "productops admin"
admin.site.index_title = "Operators' console"


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable only: rows written by services or workers, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


class ServiceModelAdmin(admin.ModelAdmin):
    """An admin whose writes go through the app's services (as the system, ``actor=None``).

    Subclasses implement :meth:`create`, :meth:`update` and/or :meth:`delete`; what
    they do not implement is not offered. A :class:`DomainError` is shown as an error
    message and nothing is written; the operator returns to the form.
    """

    #: Fields only set when the row is created (the workspace, and whatever the update service ignores).
    create_only_fields: tuple[str, ...] = ("workspace",)

    def create(self, *, workspace: Workspace, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def update(self, *, instance: models.Model, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def delete(self, *, instance: models.Model) -> None:
        raise NotImplementedError

    def _implements(self, name: str) -> bool:
        return getattr(type(self), name) is not getattr(ServiceModelAdmin, name)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._implements("create") and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._implements("update") and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._implements("delete") and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [f for f in self.create_only_fields if f not in fields]
        return fields

    def get_queryset(self, request: HttpRequest):
        # Joined here (the changelist then leaves the query alone), so no row costs a query.
        related = list(self.list_select_related) if isinstance(self.list_select_related, list | tuple) else []
        related += [name for name in self._workspace_join() if name not in related]
        queryset = super().get_queryset(request)
        return queryset.select_related(*related) if related else queryset

    def _fail(self, request: HttpRequest, exc: DomainError) -> None:
        setattr(request, _FAILED, True)
        messages.error(request, exc.detail)

    def save_model(self, request: HttpRequest, obj: models.Model, form, change: bool) -> None:
        names = form.changed_data if change else list(form.cleaned_data)
        data = {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}
        data.pop("workspace", None)
        try:
            # One change, one transaction: an update made of several service calls (fields,
            # then a status) is all written or not at all.
            with transaction.atomic():
                if change:
                    current = type(obj).objects.select_related(*self._workspace_join()).get(pk=obj.pk)
                    saved = self.update(instance=current, data=data)
                else:
                    saved = self.create(workspace=form.cleaned_data["workspace"], data=data)
        except DomainError as exc:
            self._fail(request, exc)
            return
        obj.pk = saved.pk

    def _workspace_join(self) -> list[str]:
        return ["workspace"] if any(f.name == "workspace" for f in self.model._meta.fields) else []

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Relations are the services' business (they were in ``data``)."""

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        try:
            with transaction.atomic():
                self.delete(instance=obj)
        except DomainError as exc:
            self._fail(request, exc)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset.select_related(*self._workspace_join()):
            self.delete_model(request, obj)

    def log_addition(self, request: HttpRequest, obj, message):
        if not getattr(request, _FAILED, False):
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request: HttpRequest, obj, message):
        if not getattr(request, _FAILED, False):
            return super().log_change(request, obj, message)
        return None

    def response_add(self, request: HttpRequest, obj, post_url_continue=None) -> HttpResponse:
        if getattr(request, _FAILED, False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj) -> HttpResponse:
        if getattr(request, _FAILED, False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        if getattr(request, _FAILED, False):
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj_id])
            )
        return super().response_delete(request, obj_display, obj_id)


@admin.register(User)
class ProductopsUserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "last_login"]


@admin.register(Workspace)
class WorkspaceAdmin(ServiceModelAdmin):
    list_display = ["name", "slug", "member_count", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "created_at", "updated_at"]
    create_only_fields = ()

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships", distinct=True))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj: Workspace) -> int:
        return obj.member_count

    # No ``create``: a workspace is created through the API or portal, with an owner.

    def update(self, *, instance: Workspace, data: dict[str, Any]) -> Workspace:
        return services.workspace_update(workspace=instance, actor=None, data=data)

    def delete(self, *, instance: Workspace) -> None:
        services.workspace_delete(workspace=instance, actor=None)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "workspace"] if obj else []

    def save_model(self, request, obj, form, change):
        try:
            if change:
                current = Membership.objects.select_related("workspace").get(pk=obj.pk)
                services.membership_change_role(membership=current, role=obj.role, actor=None)
            else:
                services.membership_add(workspace=obj.workspace, user=obj.user, role=obj.role, actor=None)
        except DomainError as exc:
            messages.error(request, exc.detail)

    def delete_model(self, request, obj):
        try:
            services.membership_remove(membership=obj, actor=None)
        except DomainError as exc:
            messages.error(request, exc.detail)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("workspace", "user"):
            self.delete_model(request, membership)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "workspace",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["role"]
    list_select_related = ["workspace", "invited_by"]
    search_fields = ["email", "workspace__name"]
    readonly_fields = [f.name for f in Invitation._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected invitations", permissions=["change"])
    def revoke(self, request, queryset):
        for invitation in queryset.select_related("workspace"):
            try:
                services.invitation_revoke(invitation=invitation, actor=None)
            except DomainError as exc:
                messages.error(request, f"{invitation.email}: {exc.detail}")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (the key is shown once)."""

    list_display = [
        "name",
        "prefix",
        "user",
        "workspace",
        "scopes",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_select_related = ["user", "workspace"]
    search_fields = ["name", "prefix", "user__username", "workspace__name"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the audit log names them

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset.select_related("workspace"):
            services.api_token_revoke(token=token, actor=None)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Read-only: the audit log is never edited."""

    list_display = ["created_at", "workspace", "actor_label", "action", "target_type", "target_repr"]
    list_filter = ["action", "target_type"]
    list_select_related = ["workspace"]
    search_fields = ["actor_label", "target_repr", "target_id"]
    date_hierarchy = "created_at"


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    """Read-only: the event table is append-only (written by the services, read by consumers)."""

    list_display = ["id", "occurred_at", "workspace", "kind", "subject_type", "subject_id"]
    list_filter = ["kind", "subject_type"]
    list_select_related = ["workspace"]
    search_fields = ["subject_id", "workspace__name", "workspace__slug"]
    date_hierarchy = "occurred_at"


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "last_seen_at"]


@admin.register(WorkspaceDeletion)
class WorkspaceDeletionAdmin(ReadOnlyModelAdmin):
    list_display = ["workspace_id", "created_at"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyModelAdmin):
    list_display = ["key", "scope", "workspace", "status_code", "created_at"]
    list_filter = ["scope", "status_code"]
    list_select_related = ["workspace"]
    search_fields = ["key", "scope"]
    exclude = ["response_body"]


# --- the outbox ------------------------------------------------------------------------

#: The stored content: shown on a delivery's page, never loaded for the list.
DELIVERY_CONTENT = ("body_text", "body_html", "payload", "headers", "context")


class DeliveryChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer(*DELIVERY_CONTENT)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyModelAdmin):
    """The delivery log, read-only: what was sent (byte for byte), to whom, when, and why not.
    Failed rows are put back in the queue with the action, through ``deliveries_retry``."""

    list_display = [
        "kind",
        "channel",
        "recipient",
        "state",
        "suppressed_reason",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "workspace",
    ]
    list_filter = ["state", "channel", "kind", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["recipient", "dedupe_key", "recipient_ref", "provider_message_id"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {"fields": ["workspace", "kind", "channel", "recipient", "recipient_ref", "dedupe_key", "event"]},
        ),
        (
            "Outcome",
            {
                "fields": [
                    "state",
                    "suppressed_reason",
                    "attempts",
                    "next_attempt_at",
                    "lease_expires_at",
                    "last_error",
                    "provider_message_id",
                    "sent_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "Content (as stored and sent)",
            {"fields": ["rendered_at", "subject", "body_text", "body_html", "payload", "headers", "context"]},
        ),
    ]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["retry"]

    def get_changelist(self, request, **kwargs):
        return DeliveryChangeList

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # Rows are never edited here, but requeueing is a change: Django's change permission.
        return admin.ModelAdmin.has_change_permission(self, request)

    @admin.action(description="Retry failed deliveries", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset) -> None:
        selected = list(queryset.values_list("pk", "state"))
        failed = [pk for pk, state in selected if state == DeliveryState.FAILED]
        # As the system: operators are not workspace members; the audit log names the
        # operator (productops.admin_audit).
        requeued = outbox.deliveries_retry(workspace=None, ids=failed, actor=None) if failed else 0
        if requeued:
            messages.success(
                request, f"{requeued} failed deliver{'y' if requeued == 1 else 'ies'} queued again."
            )
        skipped = len(selected) - requeued
        if skipped:
            verb = "was" if skipped == 1 else "were"
            messages.warning(request, f"{skipped} of the selected {verb} not failed; left alone.")


class EmailSuppressionForm(forms.ModelForm):
    reason = forms.ChoiceField(
        choices=[
            (SuppressedReason.BOUNCED.value, SuppressedReason.BOUNCED.label),
            (SuppressedReason.COMPLAINED.value, SuppressedReason.COMPLAINED.label),
        ]
    )

    class Meta:
        model = EmailSuppression
        fields = ["email", "reason", "detail"]


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Addresses never e-mailed again (reported by the provider, or added here). Adding one
    goes through ``email_suppress``, which also suppresses its pending e-mails; deleting
    the row un-suppresses the address for what is sent from then on."""

    form = EmailSuppressionForm
    list_display = ["email", "reason", "detail", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email", "detail"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False  # add or delete; an entry is not edited

    def save_model(self, request: HttpRequest, obj: EmailSuppression, form, change: bool) -> None:
        row = outbox.email_suppress(
            email=form.cleaned_data["email"],
            reason=form.cleaned_data["reason"],
            detail=form.cleaned_data.get("detail") or "",
        )
        obj.pk = row.pk
