"""The engine's page in the operators' console: each workspace's settings and recompute health.

Registered here, not in ``roadmap.admin``, because it shows the engine's bookkeeping
(failures, last error, next attempt, lease) and its actions call the engine.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from priority.health import STUCK_AFTER
from priority.services import recompute_retry_now as priority_recompute_retry_now
from productops.admin import ServiceModelAdmin
from roadmap import services
from roadmap.admin import recompute_selected as _recompute
from roadmap.models import RoadmapSettings


class RecomputeHealthFilter(admin.SimpleListFilter):
    """Workspaces whose recompute failed or whose request waits longer than it should."""

    title = "recompute"
    parameter_name = "recompute"

    def lookups(self, request, model_admin):
        return [("stuck", "Stuck (failing, or waiting over 10 minutes)"), ("failing", "Failing")]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(recompute_failures__gt=0)
        if self.value() == "stuck":
            late = timezone.now() - STUCK_AFTER
            return queryset.filter(Q(recompute_failures__gt=0) | Q(recompute_requested_at__lt=late))
        return queryset


@admin.register(RoadmapSettings)
class RoadmapSettingsAdmin(ServiceModelAdmin):
    """One row per workspace, made on first use; changes re-rank through the service.

    The recompute columns show the engine's health per workspace: a failing workspace
    has its failures, last error and next attempt here (and in ``/readyz``'s details).
    """

    list_display = [
        "workspace",
        "scoring_model",
        "effort_unit",
        "last_recomputed_at",
        "recompute_requested_at",
        "recompute_failures",
        "recompute_next_attempt_at",
    ]
    list_filter = [RecomputeHealthFilter, "scoring_model"]
    list_select_related = ["workspace"]
    search_fields = ["workspace__name", "workspace__slug"]
    readonly_fields = [
        "last_recomputed_at",
        "recompute_requested_at",
        "recompute_requested_seq",
        "recompute_run",
        "recompute_lease_until",
        "recompute_holder_pid",
        "recompute_failures",
        "recompute_next_attempt_at",
        "recompute_last_error",
    ]
    actions = ["recompute_priorities", "retry_now"]

    def update(self, *, instance, data):
        return services.roadmap_settings_update(workspace=instance.workspace, actor=None, data=data)

    @admin.action(description="Recompute priorities of the selected workspaces", permissions=["change"])
    def recompute_priorities(self, request, queryset):
        _recompute(request, set(queryset.values_list("workspace_id", flat=True)))

    @admin.action(description="Retry failed recomputes at the next sweep", permissions=["change"])
    def retry_now(self, request, queryset):
        count = priority_recompute_retry_now(
            workspace_ids=list(queryset.values_list("workspace_id", flat=True))
        )
        messages.success(request, f"{count} workspace(s) will be retried within a minute.")
