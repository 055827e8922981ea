"""Operators' console for releases.

Writes go through ``releases.services`` (validated, audited, the same rules as the API and
the portal) as the system, audited as the operator (``productops.admin_audit``). A
release's status moves only through its actions: **Ship** (``release_ship``: the done
scope's features marked shipped, the notes published, the ``release.shipped`` event) and
**Publish notes** (``release_notes_publish``); each selected release gets its own message,
and a refused one (a domain error) writes nothing. Status history is read-only; a
release's scope, checklist and metrics show on its page and are edited on their own pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from productops.admin import ReadOnlyModelAdmin, ServiceModelAdmin
from productops.errors import DomainError, ValidationFailed
from releases import selectors, services
from releases.models import (
    ChangelogSettings,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseSettings,
    ReleaseStatusChange,
    ScopeItem,
    SuccessMetric,
)


def _same_workspace(workspace, **related: Any) -> None:
    for attr, obj in related.items():
        if obj is not None and obj.workspace_id != workspace.pk:
            raise ValidationFailed(f"The {attr} belongs to another workspace.", attr=attr)


class _ShownInline(admin.TabularInline):
    """Rows of a release, shown on its page; edited on their own admin pages (services)."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ScopeItemInline(_ShownInline):
    model = ScopeItem
    fields = ["feature", "is_must_have", "state", "change_type", "is_open", "outcome"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScopeItem]:
        return super().get_queryset(request).select_related("feature")


class ChecklistTaskInline(_ShownInline):
    model = ChecklistTask
    fields = ["title", "category", "owner", "due_date", "state", "is_required"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChecklistTask]:
        return super().get_queryset(request).select_related("owner")


class SuccessMetricInline(_ShownInline):
    model = SuccessMetric
    fk_name = "release"
    fields = ["name", "unit", "baseline", "target", "review_date", "reviewed_at"]
    readonly_fields = fields


@admin.register(Release)
class ReleaseAdmin(ServiceModelAdmin):
    list_display = [
        "name",
        "version",
        "product",
        "workspace",
        "status",
        "planned_date",
        "shipped_on",
        "is_public",
        "owner",
    ]
    list_filter = ["status", "is_public", "planned_date", "product", "workspace"]
    list_select_related = ["workspace", "product", "owner"]
    search_fields = ["name", "version", "product__name", "workspace__name", "summary"]
    autocomplete_fields = ["workspace", "product", "owner"]
    date_hierarchy = "planned_date"
    fields = [
        "workspace",
        "product",
        "name",
        "version",
        "planned_date",
        "owner",
        "summary",
        "is_public",
        "notes",
        "public_id",
        "status",
        "status_changed_at",
        "shipped_on",
        "shipped_at",
        "published_notes",
        "notes_published_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "public_id",
        "status",
        "status_changed_at",
        "shipped_on",
        "shipped_at",
        "published_notes",
        "notes_published_at",
        "created_at",
        "updated_at",
    ]
    create_only_fields = ("workspace", "product")
    inlines = [ScopeItemInline, ChecklistTaskInline, SuccessMetricInline]
    actions = ["ship", "publish_notes"]

    def get_inlines(self, request: HttpRequest, obj: Release | None) -> list:
        return self.inlines if obj is not None else []

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The rows shown inline are not saved from here (their pages use the services); the
        # change message still reads what a formset's save would have recorded.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def create(self, *, workspace, data):
        notes = data.pop("notes", "")
        release = services.release_create(workspace=workspace, actor=None, data=data)
        if notes:
            release = services.release_notes_update(release=release, actor=None, notes=notes)
        return release

    def update(self, *, instance, data):
        notes = data.pop("notes", None)
        if data:
            instance = services.release_update(release=instance, actor=None, data=data)
        if notes is not None:
            instance = services.release_notes_update(release=instance, actor=None, notes=notes)
        return instance

    def delete(self, *, instance):
        services.release_delete(release=instance, actor=None)

    @admin.action(description="Ship the selected releases", permissions=["change"])
    def ship(self, request: HttpRequest, queryset: QuerySet[Release]) -> None:
        for release in queryset.select_related("workspace", "product").order_by("planned_date", "id"):
            try:
                result = services.release_ship(release=release, actor=None)
            except DomainError as exc:
                messages.error(request, f"{release}: not shipped. {exc.detail}")
                continue
            if not result.changed:
                messages.warning(request, f"{release}: already shipped; nothing done.")
                continue
            shipped = len(result.shipped)
            text = f"{release}: shipped, {shipped} feature{'s' if shipped != 1 else ''} marked shipped"
            if result.moved:
                text += f", {len(result.moved)} unfinished moved out"
            if result.notes_generated:
                text += ", notes generated from the scope"
            messages.success(request, text + ".")

    @admin.action(description="Publish the notes of the selected releases", permissions=["change"])
    def publish_notes(self, request: HttpRequest, queryset: QuerySet[Release]) -> None:
        for release in queryset.select_related("workspace").order_by("planned_date", "id"):
            try:
                services.release_notes_publish(release=release, actor=None)
            except DomainError as exc:
                messages.error(request, f"{release}: notes not published. {exc.detail}")
            else:
                messages.success(request, f"{release}: notes published.")


@admin.register(ReleaseStatusChange)
class ReleaseStatusChangeAdmin(ReadOnlyModelAdmin):
    list_display = ["release", "from_status", "to_status", "actor", "created_at", "workspace"]
    list_filter = ["to_status"]
    list_select_related = ["workspace", "release", "actor"]
    search_fields = ["release__name", "release__version", "reason"]


@admin.register(ScopeItem)
class ScopeItemAdmin(ServiceModelAdmin):
    list_display = [
        "feature",
        "release",
        "state",
        "is_must_have",
        "change_type",
        "is_open",
        "outcome",
        "workspace",
    ]
    list_filter = ["state", "is_open", "is_must_have", "change_type", "outcome"]
    list_select_related = ["workspace", "release", "feature"]
    search_fields = ["feature__title", "release__name", "release__version"]
    autocomplete_fields = ["workspace", "release", "feature"]
    fields = [
        "workspace",
        "release",
        "feature",
        "is_must_have",
        "state",
        "change_type",
        "position",
        "is_open",
        "outcome",
        "added_at",
        "closed_at",
    ]
    readonly_fields = ["is_open", "outcome", "added_at", "closed_at"]
    create_only_fields = ("workspace", "release", "feature")

    def create(self, *, workspace, data):
        release, feature = data.pop("release"), data.pop("feature")
        _same_workspace(workspace, release=release)
        return services.scope_add(release=release, feature=feature, actor=None, data=data)

    def update(self, *, instance, data):
        return services.scope_update(item=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.scope_remove(item=instance, actor=None)


@admin.register(ChecklistTask)
class ChecklistTaskAdmin(ServiceModelAdmin):
    list_display = ["title", "release", "category", "owner", "due_date", "state", "is_required", "workspace"]
    list_filter = ["state", "is_required", "category"]
    list_select_related = ["workspace", "release", "owner"]
    search_fields = ["title", "release__name", "release__version"]
    autocomplete_fields = ["workspace", "release", "owner"]
    readonly_fields = ["completed_at", "created_at", "updated_at"]
    create_only_fields = ("workspace", "release")

    def create(self, *, workspace, data):
        release = data.pop("release")
        _same_workspace(workspace, release=release)
        data.pop("completed_at", None)
        return services.checklist_task_create(release=release, actor=None, data=data)

    def update(self, *, instance, data):
        return services.checklist_task_update(task=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.checklist_task_delete(task=instance, actor=None)


@admin.register(ChecklistTemplateItem)
class ChecklistTemplateItemAdmin(ServiceModelAdmin):
    list_display = [
        "title",
        "workspace",
        "category",
        "due_offset_days",
        "is_required",
        "default_owner",
        "position",
    ]
    list_filter = ["category", "is_required"]
    list_select_related = ["workspace", "default_owner"]
    search_fields = ["title", "workspace__name"]
    autocomplete_fields = ["workspace", "default_owner"]

    @staticmethod
    def _values(data: dict[str, Any]) -> dict[str, Any]:
        if "due_offset_days" in data:
            data["relative_due"] = data.pop("due_offset_days")
        return data

    def create(self, *, workspace, data):
        return services.checklist_template_item_create(
            workspace=workspace, actor=None, data=self._values(data)
        )

    def update(self, *, instance, data):
        return services.checklist_template_item_update(item=instance, actor=None, data=self._values(data))

    def delete(self, *, instance):
        services.checklist_template_item_delete(item=instance, actor=None)


@admin.register(SuccessMetric)
class SuccessMetricAdmin(ServiceModelAdmin):
    list_display = [
        "name",
        "release",
        "feature",
        "baseline",
        "target",
        "latest_actual",
        "unit",
        "review_date",
        "reviewed_at",
        "workspace",
    ]
    list_filter = ["review_date"]
    list_select_related = ["workspace", "release", "feature", "key_result"]
    search_fields = ["name", "release__name", "feature__title"]
    autocomplete_fields = ["workspace", "release", "feature", "key_result"]
    readonly_fields = ["reviewed_at", "created_at", "updated_at"]
    create_only_fields = ("workspace", "release", "feature")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SuccessMetric]:
        latest = MetricActual.objects.filter(metric=OuterRef("pk")).order_by("-recorded_on", "-id")
        return super().get_queryset(request).annotate(latest_actual=Subquery(latest.values("value")[:1]))

    @admin.display(description="Latest actual")
    def latest_actual(self, obj: SuccessMetric) -> Any:
        value = selectors.metric_actual(obj)
        return "-" if value is None else value

    def create(self, *, workspace, data):
        return services.success_metric_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.success_metric_update(metric=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.success_metric_delete(metric=instance, actor=None)


@admin.register(MetricActual)
class MetricActualAdmin(ServiceModelAdmin):
    """Recorded (``metric_actual_record``), then kept: an actual is history."""

    list_display = ["metric", "value", "recorded_on", "note", "actor", "workspace"]
    list_select_related = ["workspace", "metric", "actor"]
    search_fields = ["metric__name", "note"]
    autocomplete_fields = ["workspace", "metric"]
    fields = ["workspace", "metric", "value", "recorded_on", "note"]

    def create(self, *, workspace, data):
        metric = data["metric"]
        _same_workspace(workspace, metric=metric)
        return services.metric_actual_record(
            metric=metric,
            actor=None,
            value=data["value"],
            recorded_on=data.get("recorded_on"),
            note=data.get("note", ""),
        )


@admin.register(ReleaseSettings)
class ReleaseSettingsAdmin(ServiceModelAdmin):
    list_display = ["workspace", "risk_window_days", "checklist_seeded"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__slug"]
    autocomplete_fields = ["workspace"]
    readonly_fields = ["checklist_seeded"]

    def create(self, *, workspace, data):
        return services.release_settings_update(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.release_settings_update(workspace=instance.workspace, actor=None, data=data)


@admin.register(ChangelogSettings)
class ChangelogSettingsAdmin(ServiceModelAdmin):
    """The public changelog's opt-in (``/p/<workspace>/changelog/`` and its feeds)."""

    list_display = ["workspace", "enabled", "title", "updated_at"]
    list_filter = ["enabled"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__slug", "title"]
    autocomplete_fields = ["workspace"]

    def create(self, *, workspace, data):
        return services.changelog_settings_update(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.changelog_settings_update(workspace=instance.workspace, actor=None, data=data)
