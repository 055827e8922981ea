"""Operators' console for the platform core."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from productops.models import ApiToken, AuditEvent, Heartbeat, Invitation, Membership, User, Workspace


@admin.register(User)
class ProductopsUserAdmin(UserAdmin):
    list_display = ["username", "email", "is_staff", "is_active", "last_login"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    list_select_related = ["workspace"]
    search_fields = ["email", "workspace__name"]
    readonly_fields = ["invited_by", "accepted_by", "accepted_at", "email_sent_at", "created_at"]
    autocomplete_fields = ["workspace"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (the key is shown once)."""

    list_display = ["name", "prefix", "user", "workspace", "scopes", "last_used_at", "revoked_at"]
    list_select_related = ["user", "workspace"]
    search_fields = ["name", "prefix", "user__username", "workspace__name"]
    readonly_fields = [f.name for f in ApiToken._meta.fields]

    def has_add_permission(self, request):
        return False


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
