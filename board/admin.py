from django.contrib import admin

from board.models import BoardContact, BoardNotification, BoardSettings, Comment, MagicLink


@admin.register(BoardSettings)
class BoardSettingsAdmin(admin.ModelAdmin):
    list_display = ["workspace", "enabled", "anonymous_viewing", "title"]
    list_filter = ["enabled"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "workspace", "feature", "contact", "is_hidden", "created_at"]
    list_filter = ["is_hidden"]
    raw_id_fields = ["feature", "contact", "hidden_by"]


@admin.register(BoardContact)
class BoardContactAdmin(admin.ModelAdmin):
    list_display = ["contact", "workspace", "verified_at", "notifications_enabled"]
    raw_id_fields = ["contact"]


@admin.register(MagicLink)
class MagicLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "workspace", "email", "created_at", "expires_at", "email_sent_at", "used_at"]
    exclude = ["secret", "token_hash"]
    readonly_fields = ["workspace", "email", "next_path", "expires_at", "email_sent_at", "used_at"]


@admin.register(BoardNotification)
class BoardNotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "workspace", "contact", "status_change", "created_at", "sent_at", "skipped"]
    raw_id_fields = ["contact", "status_change"]
