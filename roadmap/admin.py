"""Operators' console for the roadmap.

Writes go through ``roadmap.services`` (validated, audited, marking scores dirty);
score columns, history and the tags/competitors made by the feature services are
read-only here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count

from productops.admin import ReadOnlyModelAdmin, ServiceModelAdmin
from roadmap import services
from roadmap.models import (
    Competitor,
    Feature,
    FeatureComment,
    FeatureCriterionValue,
    FeatureDependency,
    FeatureMention,
    FeatureStatusChange,
    Goal,
    Initiative,
    KeyResult,
    KeyResultValue,
    PrioritySnapshot,
    Product,
    SavedView,
    ScorecardCriterion,
    ShareLink,
    Tag,
    Team,
    TeamCapacity,
)

SCORE_FIELDS = [
    "score_rice",
    "score_ice",
    "score_wsjf",
    "score_value_effort",
    "score_customer_impact",
    "requesting_companies",
    "arr_at_stake",
    "critical_requests",
    "score_scorecard",
    "priority_score",
    "priority_rank",
    "snapshot_score",
    "snapshot_rank",
    "score_state",
    "scores_computed_at",
    "recompute_run",
]


def recompute_selected(request, workspace_ids: set[int]) -> None:
    """Mark every feature of the workspaces dirty; the recompute is queued after the commit."""
    with transaction.atomic():
        for workspace_id in sorted(workspace_ids):
            services.features_mark_dirty(workspace_id=workspace_id)
    messages.success(request, f"Recompute queued for {len(workspace_ids)} workspace(s).")


@admin.register(Product)
class ProductAdmin(ServiceModelAdmin):
    list_display = ["name", "workspace", "feature_count", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "workspace__name"]
    autocomplete_fields = ["workspace"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(feature_count=Count("features"))

    @admin.display(description="Features", ordering="feature_count")
    def feature_count(self, obj: Product) -> int:
        return obj.feature_count

    def create(self, *, workspace, data):
        return services.product_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.product_update(product=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.product_delete(product=instance, actor=None)


@admin.register(Goal)
class GoalAdmin(ServiceModelAdmin):
    list_display = ["title", "period", "workspace", "product", "parent", "owner"]
    list_filter = ["period", "workspace"]
    list_select_related = ["workspace", "product", "parent", "owner"]
    search_fields = ["title", "period", "workspace__name"]
    autocomplete_fields = ["workspace", "product", "parent", "owner"]

    def create(self, *, workspace, data):
        return services.goal_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.goal_update(goal=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.goal_delete(goal=instance, actor=None)


@admin.register(KeyResult)
class KeyResultAdmin(ServiceModelAdmin):
    list_display = ["metric", "goal", "workspace", "baseline", "current", "target", "unit"]
    list_select_related = ["workspace", "goal"]
    search_fields = ["metric", "goal__title"]
    autocomplete_fields = ["workspace", "goal"]
    create_only_fields = ("workspace", "goal")

    def create(self, *, workspace, data):
        return services.key_result_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.key_result_update(key_result=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.key_result_delete(key_result=instance, actor=None)


@admin.register(Initiative)
class InitiativeAdmin(ServiceModelAdmin):
    list_display = ["title", "workspace", "goal", "owner", "investment_target_pct"]
    list_select_related = ["workspace", "goal", "owner"]
    search_fields = ["title", "workspace__name"]
    autocomplete_fields = ["workspace", "goal", "owner"]

    def create(self, *, workspace, data):
        return services.initiative_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.initiative_update(initiative=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.initiative_delete(initiative=instance, actor=None)


@admin.register(Team)
class TeamAdmin(ServiceModelAdmin):
    list_display = ["name", "workspace", "feature_count", "created_at"]
    search_fields = ["name", "workspace__name"]
    autocomplete_fields = ["workspace"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(feature_count=Count("features"))

    @admin.display(description="Features", ordering="feature_count")
    def feature_count(self, obj: Team) -> int:
        return obj.feature_count

    def create(self, *, workspace, data):
        return services.team_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.team_update(team=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.team_delete(team=instance, actor=None)


@admin.register(TeamCapacity)
class TeamCapacityAdmin(ServiceModelAdmin):
    list_display = ["team", "period", "starts_on", "ends_on", "capacity", "workspace"]
    list_select_related = ["workspace", "team"]
    search_fields = ["team__name", "period"]
    autocomplete_fields = ["workspace", "team"]
    create_only_fields = ("workspace", "team")

    def create(self, *, workspace, data):
        return services.team_capacity_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.team_capacity_update(capacity=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.team_capacity_delete(capacity=instance, actor=None)


@admin.register(Tag)
class TagAdmin(ReadOnlyModelAdmin):
    """Made by the feature services from names."""

    list_display = ["name", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name"]


@admin.register(Competitor)
class CompetitorAdmin(ReadOnlyModelAdmin):
    """Made by the feature services from names."""

    list_display = ["name", "workspace"]
    list_select_related = ["workspace"]
    search_fields = ["name"]


@admin.register(ScorecardCriterion)
class ScorecardCriterionAdmin(ServiceModelAdmin):
    list_display = ["name", "key", "weight", "source", "position", "workspace"]
    list_filter = ["source"]
    list_select_related = ["workspace"]
    search_fields = ["name", "key"]
    autocomplete_fields = ["workspace"]
    create_only_fields = ("workspace", "key")

    def create(self, *, workspace, data):
        return services.scorecard_criterion_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        return services.scorecard_criterion_update(criterion=instance, actor=None, data=data)

    def delete(self, *, instance):
        services.scorecard_criterion_delete(criterion=instance, actor=None)


@admin.register(Feature)
class FeatureAdmin(ServiceModelAdmin):
    list_display = [
        "title",
        "workspace",
        "product",
        "status",
        "horizon",
        "priority_rank",
        "priority_score",
        "score_state",
        "owner",
    ]
    list_filter = ["status", "horizon", "score_state", "is_public"]
    list_select_related = ["workspace", "product", "owner"]
    search_fields = ["title", "description"]
    autocomplete_fields = ["workspace", "product", "initiative", "owner", "team", "goals"]
    exclude = ["tags", "competitors"]
    readonly_fields = [*SCORE_FIELDS, "status_changed_at", "merged_into", "tag_names", "competitor_names"]
    actions = ["recompute_priorities"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A new feature starts as an idea; its status moves through the workflow service.
        return fields if obj is not None else [*fields, "status"]

    @admin.display(description="Tags")
    def tag_names(self, obj: Feature) -> str:
        return ", ".join(t.name for t in obj.tags.all()) or "-"

    @admin.display(description="Competitors that have it")
    def competitor_names(self, obj: Feature) -> str:
        return ", ".join(c.name for c in obj.competitors.all()) or "-"

    def create(self, *, workspace, data):
        return services.feature_create(workspace=workspace, actor=None, data=data)

    def update(self, *, instance, data):
        status = data.pop("status", None)
        if data:
            instance = services.feature_update(feature=instance, actor=None, data=data)
        if status is not None:
            instance = services.feature_change_status(
                feature=instance, to_status=status, actor=None, reason="Changed in the admin console."
            )
        return instance

    def delete(self, *, instance):
        services.feature_delete(feature=instance, actor=None)

    @admin.action(description="Recompute priorities of these features' workspaces", permissions=["change"])
    def recompute_priorities(self, request, queryset):
        recompute_selected(request, set(queryset.values_list("workspace_id", flat=True)))


@admin.register(FeatureDependency)
class FeatureDependencyAdmin(ServiceModelAdmin):
    list_display = ["feature", "depends_on", "workspace", "created_at"]
    list_select_related = ["workspace", "feature", "depends_on"]
    search_fields = ["feature__title", "depends_on__title"]
    autocomplete_fields = ["workspace", "feature", "depends_on"]

    def create(self, *, workspace, data):
        return services.feature_add_dependency(
            feature=data["feature"], depends_on=data["depends_on"], actor=None
        )

    def delete(self, *, instance):
        services.feature_remove_dependency(
            feature=instance.feature, depends_on=instance.depends_on, actor=None
        )


@admin.register(FeatureCriterionValue)
class FeatureCriterionValueAdmin(ServiceModelAdmin):
    list_display = ["feature", "criterion", "value", "workspace"]
    list_select_related = ["workspace", "feature", "criterion"]
    search_fields = ["feature__title", "criterion__name"]
    autocomplete_fields = ["workspace", "feature", "criterion"]
    create_only_fields = ("workspace", "feature", "criterion")

    def _set(self, feature, criterion, value):
        services.feature_set_criterion_values(feature=feature, values={criterion.key: value}, actor=None)
        return FeatureCriterionValue.objects.filter(feature=feature, criterion=criterion).first()

    def create(self, *, workspace, data):
        return self._set(data["feature"], data["criterion"], data["value"])

    def update(self, *, instance, data):
        return self._set(instance.feature, instance.criterion, data.get("value", instance.value))

    def delete(self, *, instance):
        self._set(instance.feature, instance.criterion, None)


@admin.register(FeatureStatusChange)
class FeatureStatusChangeAdmin(ReadOnlyModelAdmin):
    list_display = ["feature", "from_status", "to_status", "actor", "created_at", "workspace"]
    list_filter = ["to_status"]
    list_select_related = ["workspace", "feature", "actor"]
    search_fields = ["feature__title", "reason"]


@admin.register(KeyResultValue)
class KeyResultValueAdmin(ReadOnlyModelAdmin):
    list_display = ["key_result", "value", "recorded_at", "actor", "workspace"]
    list_select_related = ["workspace", "key_result", "actor"]
    search_fields = ["key_result__metric"]
    date_hierarchy = "recorded_at"


@admin.register(PrioritySnapshot)
class PrioritySnapshotAdmin(ReadOnlyModelAdmin):
    list_display = [
        "feature",
        "scoring_model",
        "rank",
        "score",
        "requesting_companies",
        "arr_at_stake",
        "computed_at",
        "workspace",
    ]
    list_filter = ["scoring_model"]
    list_select_related = ["workspace", "feature"]
    search_fields = ["feature__title"]


# Comments, mentions, saved views and share links are written from the portal and the API
# (their services check the author, owner and roles); the console reads them, and revokes a
# leaked share link.


@admin.register(FeatureComment)
class FeatureCommentAdmin(ReadOnlyModelAdmin):
    list_display = ["feature", "author", "created_at", "edited_at", "workspace"]
    list_select_related = ["workspace", "feature", "author"]
    search_fields = ["feature__title", "body", "author__username"]
    date_hierarchy = "created_at"


@admin.register(FeatureMention)
class FeatureMentionAdmin(ReadOnlyModelAdmin):
    list_display = ["comment", "user", "created_at", "seen_at", "workspace"]
    list_select_related = ["workspace", "comment", "comment__feature", "user"]
    search_fields = ["user__username", "comment__feature__title"]


@admin.register(SavedView)
class SavedViewAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "kind", "owner", "shared", "updated_at", "workspace"]
    list_filter = ["kind", "shared"]
    list_select_related = ["workspace", "owner"]
    search_fields = ["name", "owner__username"]


@admin.action(description="Revoke the selected share links")
def revoke_share_links(modeladmin, request, queryset):
    revoked = 0
    for link in queryset.filter(revoked_at__isnull=True).select_related("view", "workspace"):
        services.share_link_revoke(link=link, actor=None)  # the operator: AdminOperatorAuditMiddleware
        revoked += 1
    messages.success(request, f"{revoked} share link(s) revoked.")


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyModelAdmin):
    list_display = ["prefix", "view", "created_by", "created_at", "expires_at", "revoked_at", "workspace"]
    list_filter = ["revoked_at"]
    list_select_related = ["workspace", "view", "created_by"]
    search_fields = ["prefix", "view__name"]
    exclude = ["key_hash"]
    actions = [revoke_share_links]
