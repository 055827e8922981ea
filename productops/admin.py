"""Operators' console for the platform core.

Changes that carry rules (roles, the last owner) go through the services, so
the admin cannot do what the API refuses, and every change is audited.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from productops import services
from productops.errors import DomainError
from productops.models import ApiToken, AuditEvent, Heartbeat, Invitation, Membership, User, Workspace


@admin.register(User)
class ProductopsUserAdmin(UserAdmin):
    list_display = ["username", "email", "is_staff", "is_active", "last_login"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False  # created through the API or portal, with an owner

    def save_model(self, request, obj, form, change):
        services.workspace_update(
            workspace=Workspace.objects.get(pk=obj.pk), actor=None, data=form.cleaned_data
        )

    def delete_model(self, request, obj):
        services.workspace_delete(workspace=obj, actor=None)


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


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    list_select_related = ["workspace"]
    search_fields = ["email", "workspace__name"]
    readonly_fields = [f.name for f in Invitation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (the key is shown once)."""

    list_display = ["name", "prefix", "user", "workspace", "scopes", "last_used_at", "revoked_at"]
    list_select_related = ["user", "workspace"]
    search_fields = ["name", "prefix", "user__username", "workspace__name"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.select_related("workspace"):
            services.api_token_revoke(token=token, actor=None)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is never edited."""

    list_display = ["created_at", "workspace", "actor_label", "action", "target_type", "target_repr"]
    list_filter = ["action", "target_type"]
    list_select_related = ["workspace"]
    search_fields = ["actor_label", "target_repr", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen_at"]
    readonly_fields = ["name", "last_seen_at"]
