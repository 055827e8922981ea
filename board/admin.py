"""The public board in the operators' console.

Settings change through ``board_settings_update`` and comments are hidden or shown
through ``comment_hide`` (both audited); magic links and verified contacts are
written by the board's services, so they are read-only here (a magic link's secret
and hash are never shown). The board's e-mails (sign-in links, status notices) are
outbox deliveries, in the core's delivery log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from board import services
from board.models import BoardContact, BoardSettings, Comment, MagicLink
from productops.admin import ReadOnlyModelAdmin, ServiceModelAdmin
from productops.errors import DomainError


@admin.register(BoardSettings)
class BoardSettingsAdmin(ServiceModelAdmin):
    list_display = ["workspace", "enabled", "anonymous_viewing", "title"]
    list_filter = ["enabled", "anonymous_viewing"]
    search_fields = ["workspace__name", "workspace__slug", "title"]
    list_select_related = ["workspace"]

    def update(self, *, instance: BoardSettings, data: dict[str, Any]) -> BoardSettings:
        return services.board_settings_update(workspace=instance.workspace, actor=None, data=data)


@admin.register(Comment)
class CommentAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "workspace", "feature", "contact", "body", "is_hidden", "created_at"]
    list_filter = ["is_hidden"]
    search_fields = ["body", "contact__email", "feature__title"]
    list_select_related = ["workspace", "feature", "contact"]
    actions = ["hide_comments", "show_comments"]

    def has_change_permission(self, request: HttpRequest, obj: Comment | None = None) -> bool:
        # The actions below are the only changes (through the service); the form stays read-only.
        return obj is None and admin.ModelAdmin.has_change_permission(self, request)

    def _set_hidden(self, request: HttpRequest, queryset: QuerySet[Comment], hidden: bool) -> None:
        done = 0
        for comment in queryset.select_related("workspace"):
            try:
                services.comment_hide(comment=comment, actor=None, hidden=hidden)
                done += 1
            except DomainError as exc:
                messages.error(request, f"Comment {comment.pk}: {exc.detail}")
        messages.success(
            request, f"{done} comment{'s' if done != 1 else ''} {'hidden' if hidden else 'shown'}."
        )

    @admin.action(description="Hide the selected comments from the public board", permissions=["change"])
    def hide_comments(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        self._set_hidden(request, queryset, True)

    @admin.action(description="Show the selected comments on the public board", permissions=["change"])
    def show_comments(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        self._set_hidden(request, queryset, False)


@admin.register(BoardContact)
class BoardContactAdmin(ReadOnlyModelAdmin):
    list_display = ["contact", "workspace", "verified_at", "notifications_enabled"]
    list_filter = ["notifications_enabled"]
    search_fields = ["contact__email", "contact__name"]
    list_select_related = ["contact", "workspace"]


@admin.register(MagicLink)
class MagicLinkAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "workspace", "email", "created_at", "expires_at", "used_at"]
    search_fields = ["email"]
    list_select_related = ["workspace"]
    exclude = ["secret", "token_hash"]
