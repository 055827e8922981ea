"""Roadmap API: products, goals, key results, initiatives, teams and capacities,
features and their actions, scorecard criteria, settings, capacity fit, roadmap.

Views validate input, call a service or selector and render; nothing else.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from api import examples
from api.roadmap.filters import (
    FEATURE_ORDERING_FIELDS,
    CompetitorFilter,
    FeatureFilter,
    GoalFilter,
    InitiativeFilter,
    KeyResultFilter,
    ProductFilter,
    ScorecardCriterionFilter,
    TagFilter,
    TeamCapacityFilter,
    TeamFilter,
    filterset_parameters,
)
from api.roadmap.serializers import (
    ROADMAP_GROUP_LIMIT,
    CapacityFitOutput,
    CapacityFitQuery,
    CompetitorOutput,
    CriterionValuesInput,
    CriterionValuesOutput,
    FeatureDependencyInput,
    FeatureDependencyOutput,
    FeatureInput,
    FeatureMergeInput,
    FeatureOutput,
    FeatureStatusChangeOutput,
    FeatureStatusInput,
    GoalInput,
    GoalOutput,
    InitiativeInput,
    InitiativeOutput,
    KeyResultCreateInput,
    KeyResultOutput,
    KeyResultUpdateInput,
    PrioritySnapshotOutput,
    ProductInput,
    ProductOutput,
    RoadmapByHorizonOutput,
    RoadmapByMonthOutput,
    RoadmapQuery,
    RoadmapSettingsInput,
    RoadmapSettingsOutput,
    ScoreBreakdownOutput,
    ScorecardCriterionCreateInput,
    ScorecardCriterionOutput,
    ScorecardCriterionUpdateInput,
    TagOutput,
    TeamCapacityCreateInput,
    TeamCapacityOutput,
    TeamCapacityUpdateInput,
    TeamInput,
    TeamOutput,
)
from priority import selectors as priority_selectors
from productops.api.base import (
    TombstonesMixin,
    WorkspaceResourceViewSet,
    WorkspaceScopedAPIView,
    WorkspaceScopedViewSet,
)
from productops.api.filters import StableOrderingFilter
from productops.api.redirects import MERGED_REDIRECT_RESPONSE, merged_redirect
from productops.models import Role, Workspace
from releases import selectors as release_selectors
from roadmap import selectors, services

# --- products, goals, key results, initiatives, teams, capacities -------------------


class ProductViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Products; every feature belongs to one. A product with features cannot be deleted (409)."""

    serializer_class = ProductOutput
    write_role = Role.PRODUCT_MANAGER
    conflict_actions = {"destroy"}  # a product with features
    filterset_class = ProductFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "feature_count"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.product_list(workspace=workspace)

    @extend_schema(
        request=ProductInput,
        responses={201: ProductOutput},
        examples=[examples.PRODUCT_REQUEST, examples.PRODUCT_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        product = services.product_create(
            workspace=self.workspace, actor=request.user, data=self.validated(ProductInput)
        )
        return self.render(product, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ProductInput, responses=ProductOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        product = services.product_update(
            product=self.get_object(), actor=request.user, data=self.validated(ProductInput, partial=True)
        )
        return self.render(product)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.product_delete(product=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GoalViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Goals per period, optionally under a product and nested under a parent goal."""

    serializer_class = GoalOutput
    write_role = Role.PRODUCT_MANAGER
    filterset_class = GoalFilter
    search_fields = ["title"]
    ordering_fields = ["period", "title", "created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.goal_list(workspace=workspace)

    @extend_schema(request=GoalInput, responses={201: GoalOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        goal = services.goal_create(
            workspace=self.workspace, actor=request.user, data=self.validated(GoalInput)
        )
        return self.render(goal, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=GoalInput, responses=GoalOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        goal = services.goal_update(
            goal=self.get_object(), actor=request.user, data=self.validated(GoalInput, partial=True)
        )
        return self.render(goal)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.goal_delete(goal=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class KeyResultViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Key results of goals. Contributors may update progress; product managers create and delete."""

    serializer_class = KeyResultOutput
    write_role = Role.PRODUCT_MANAGER
    action_roles = {"partial_update": Role.CONTRIBUTOR}
    filterset_class = KeyResultFilter
    search_fields = ["metric"]
    ordering_fields = ["updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.key_result_list(workspace=workspace)

    @extend_schema(request=KeyResultCreateInput, responses={201: KeyResultOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        key_result = services.key_result_create(
            workspace=self.workspace, actor=request.user, data=self.validated(KeyResultCreateInput)
        )
        return self.render(key_result, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=KeyResultUpdateInput, responses=KeyResultOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        key_result = services.key_result_update(
            key_result=self.get_object(),
            actor=request.user,
            data=self.validated(KeyResultUpdateInput, partial=True),
        )
        return self.render(key_result)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.key_result_delete(key_result=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InitiativeViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Themes grouping features under a goal, with a target share of capacity."""

    serializer_class = InitiativeOutput
    write_role = Role.PRODUCT_MANAGER
    filterset_class = InitiativeFilter
    search_fields = ["title"]
    ordering_fields = ["title", "created_at", "investment_target_pct"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.initiative_list(workspace=workspace)

    @extend_schema(request=InitiativeInput, responses={201: InitiativeOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        initiative = services.initiative_create(
            workspace=self.workspace, actor=request.user, data=self.validated(InitiativeInput)
        )
        return self.render(initiative, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=InitiativeInput, responses=InitiativeOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        initiative = services.initiative_update(
            initiative=self.get_object(),
            actor=request.user,
            data=self.validated(InitiativeInput, partial=True),
        )
        return self.render(initiative)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.initiative_delete(initiative=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    serializer_class = TeamOutput
    write_role = Role.PRODUCT_MANAGER
    filterset_class = TeamFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.team_list(workspace=workspace)

    @extend_schema(request=TeamInput, responses={201: TeamOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        team = services.team_create(
            workspace=self.workspace, actor=request.user, data=self.validated(TeamInput)
        )
        return self.render(team, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=TeamInput, responses=TeamOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        team = services.team_update(
            team=self.get_object(), actor=request.user, data=self.validated(TeamInput, partial=True)
        )
        return self.render(team)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.team_delete(team=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamCapacityViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """What a team can build in a period, in the workspace's effort unit."""

    serializer_class = TeamCapacityOutput
    write_role = Role.PRODUCT_MANAGER
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = TeamCapacityFilter
    ordering_fields = ["starts_on", "ends_on", "capacity"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.team_capacity_list(workspace=workspace)

    @extend_schema(request=TeamCapacityCreateInput, responses={201: TeamCapacityOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        capacity = services.team_capacity_create(
            workspace=self.workspace, actor=request.user, data=self.validated(TeamCapacityCreateInput)
        )
        return self.render(capacity, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=TeamCapacityUpdateInput, responses=TeamCapacityOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        capacity = services.team_capacity_update(
            capacity=self.get_object(),
            actor=request.user,
            data=self.validated(TeamCapacityUpdateInput, partial=True),
        )
        return self.render(capacity)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.team_capacity_delete(capacity=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- scorecard criteria, tags, competitors -----------------------------------------


class ScorecardCriterionViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Weighted criteria of the workspace's custom scorecard."""

    serializer_class = ScorecardCriterionOutput
    write_role = Role.PRODUCT_MANAGER
    filterset_class = ScorecardCriterionFilter
    search_fields = ["key", "name"]
    ordering_fields = ["position", "key", "name", "weight"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.scorecard_criterion_list(workspace=workspace)

    @extend_schema(request=ScorecardCriterionCreateInput, responses={201: ScorecardCriterionOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        criterion = services.scorecard_criterion_create(
            workspace=self.workspace, actor=request.user, data=self.validated(ScorecardCriterionCreateInput)
        )
        return self.render(criterion, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=ScorecardCriterionUpdateInput, responses=ScorecardCriterionOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        criterion = services.scorecard_criterion_update(
            criterion=self.get_object(),
            actor=request.user,
            data=self.validated(ScorecardCriterionUpdateInput, partial=True),
        )
        return self.render(criterion)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.scorecard_criterion_delete(criterion=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagViewSet(mixins.ListModelMixin, WorkspaceScopedViewSet):
    """Tags in use; they are created by naming them on a feature."""

    serializer_class = TagOutput
    filter_backends = [DjangoFilterBackend, SearchFilter, StableOrderingFilter]
    filterset_class = TagFilter
    search_fields = ["name"]
    ordering_fields = ["name"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.tag_list(workspace=workspace)


class CompetitorViewSet(mixins.ListModelMixin, WorkspaceScopedViewSet):
    """Competitors named on features; they are created by naming them on a feature."""

    serializer_class = CompetitorOutput
    filter_backends = [DjangoFilterBackend, SearchFilter, StableOrderingFilter]
    filterset_class = CompetitorFilter
    search_fields = ["name"]
    ordering_fields = ["name"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.competitor_list(workspace=workspace)


# --- features -------------------------------------------------------------------------

DEPENDS_ON_ID = OpenApiParameter(
    "depends_on_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The dependency's feature id."
)


class FeatureViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Features, ranked by the priority engine (unranked last).

    The status changes only through ``POST .../status/``; score columns are
    written by the recompute and read-only here. A feature merged into another
    answers ``GET`` with **301 Moved Permanently** and ``Location`` set to the
    surviving feature's URL.
    """

    serializer_class = FeatureOutput
    write_role = Role.CONTRIBUTOR
    action_roles = {
        "destroy": Role.PRODUCT_MANAGER,
        "change_status": Role.PRODUCT_MANAGER,
        "merge": Role.PRODUCT_MANAGER,
    }
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = FeatureFilter
    ordering_fields = FEATURE_ORDERING_FIELDS
    conflict_actions = {"destroy", "change_status", "merge"}

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        # ``is_mvp`` (deprecated) reads the feature's open scope row: one subquery, not one a row.
        return selectors.feature_list(workspace=workspace).annotate(
            is_mvp=release_selectors.feature_is_must_have()
        )

    @extend_schema(
        request=FeatureInput,
        responses={201: FeatureOutput},
        examples=[examples.FEATURE_REQUEST, examples.FEATURE_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        feature = services.feature_create(
            workspace=self.workspace, actor=request.user, data=self.validated(FeatureInput)
        )
        return self.render(feature, status_code=status.HTTP_201_CREATED)

    @extend_schema(responses={200: FeatureOutput, 301: MERGED_REDIRECT_RESPONSE})
    def retrieve(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The feature; **301** to the surviving feature if this one was merged."""
        feature = self.get_object()
        if feature.merged_into_id is not None:
            return merged_redirect(
                request,
                route="feature-detail",
                workspace_slug=workspace_slug,
                target_id=feature.merged_into_id,
            )
        return Response(self.get_serializer(feature).data)

    @extend_schema(request=FeatureInput, responses=FeatureOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        feature = services.feature_update(
            feature=self.get_object(), actor=request.user, data=self.validated(FeatureInput, partial=True)
        )
        return self.render(feature)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.feature_delete(feature=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=FeatureStatusInput, responses=FeatureOutput)
    @action(detail=True, methods=["post"], url_path="status", filter_backends=[])
    def change_status(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Move the feature along the workflow; skipping steps or reopening needs a reason."""
        values = self.validated(FeatureStatusInput)
        feature = services.feature_change_status(
            feature=self.get_object(),
            to_status=values["status"],
            reason=values.get("reason", ""),
            customer_message=values.get("customer_message", ""),
            actor=request.user,
        )
        return self.render(feature)

    @extend_schema(request=FeatureMergeInput, responses=FeatureOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def merge(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Merge this feature into ``into`` (product managers): its votes and feedback links
        move there (a contact's two votes become one; an item linked to both keeps one link,
        the stronger importance), tags, competitors and dependencies follow, and this feature
        is declined and redirects (301) to ``into``. Answers with the surviving feature."""
        source = self.get_object()  # first: another workspace's feature is a 404 whatever the body
        values = self.validated(FeatureMergeInput)
        target = services.feature_merge(source=source, target=values["into"], actor=request.user)
        return self.render(target)

    @extend_schema(responses=ScoreBreakdownOutput)
    @action(detail=True, methods=["get"], filter_backends=[])
    def score(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Why the feature scores what it scores, under every scoring model."""
        return Response(priority_selectors.feature_score_breakdown(feature=self.get_object()))

    @extend_schema(responses=PrioritySnapshotOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The feature's score and rank after each recompute that moved them, newest first."""
        page = self.paginate_queryset(priority_selectors.feature_priority_history(feature=self.get_object()))
        return self.get_paginated_response(PrioritySnapshotOutput(page, many=True).data)

    @extend_schema(responses=FeatureStatusChangeOutput(many=True))
    @action(detail=True, methods=["get"], url_path="status-history", filter_backends=[])
    def status_history(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Every status change of the feature, newest first."""
        page = self.paginate_queryset(selectors.feature_status_history(feature=self.get_object()))
        return self.get_paginated_response(FeatureStatusChangeOutput(page, many=True).data)

    @extend_schema(request=FeatureDependencyInput, responses={201: FeatureDependencyOutput})
    @action(detail=True, methods=["post"], url_path="dependencies", filter_backends=[])
    def add_dependency(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Record that this feature cannot ship before another; a cycle is a 400."""
        values = self.validated(FeatureDependencyInput)
        dependency = services.feature_add_dependency(
            feature=self.get_object(), depends_on=values["depends_on"], actor=request.user
        )
        return Response(FeatureDependencyOutput(dependency).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[DEPENDS_ON_ID], request=None, responses={204: None})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"dependencies/(?P<depends_on_id>[0-9]+)",
        filter_backends=[],
    )
    def remove_dependency(
        self, request: Request, workspace_slug: str, pk: str, depends_on_id: str
    ) -> Response:
        depends_on = get_object_or_404(self.get_queryset(), pk=depends_on_id)
        services.feature_remove_dependency(
            feature=self.get_object(), depends_on=depends_on, actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=CriterionValuesInput, responses=CriterionValuesOutput)
    @action(detail=True, methods=["put"], url_path="criterion-values", filter_backends=[])
    def criterion_values(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Set manual scorecard values by criterion key (0..10); null clears one."""
        values = self.validated(CriterionValuesInput)["values"]
        rows = services.feature_set_criterion_values(
            feature=self.get_object(), values=values, actor=request.user
        )
        return Response(
            CriterionValuesOutput({"values": {row.criterion.key: row.value for row in rows}}).data
        )


# --- settings, capacity fit, roadmap ---------------------------------------------------


class RoadmapSettingsView(WorkspaceScopedAPIView):
    """The priority engine's settings of the workspace (one row)."""

    write_role = Role.PRODUCT_MANAGER

    @extend_schema(responses=RoadmapSettingsOutput)
    def get(self, request: Request, workspace_slug: str) -> Response:
        return Response(RoadmapSettingsOutput(selectors.roadmap_settings(workspace=self.workspace)).data)

    @extend_schema(request=RoadmapSettingsInput, responses=RoadmapSettingsOutput)
    def patch(self, request: Request, workspace_slug: str) -> Response:
        data = RoadmapSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        settings_row = services.roadmap_settings_update(
            workspace=self.workspace, actor=request.user, data=data.validated_data
        )
        return Response(RoadmapSettingsOutput(settings_row).data)


class CapacityFitView(WorkspaceScopedAPIView):
    """Which of a team's planned features fit its capacity for a period, and why the rest do not."""

    query_parameters = {"get": {"capacity"}}

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.team_capacity_list(workspace=workspace)

    @extend_schema(
        parameters=[
            OpenApiParameter("capacity", OpenApiTypes.INT, required=True, description="A team capacity id.")
        ],
        responses=CapacityFitOutput,
    )
    def get(self, request: Request, workspace_slug: str) -> Response:
        query = CapacityFitQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        capacity = get_object_or_404(self.get_queryset(), pk=query.validated_data["capacity"])
        return Response(CapacityFitOutput(selectors.capacity_fit(capacity=capacity)).data)


ROADMAP_RESPONSE = PolymorphicProxySerializer(
    component_name="Roadmap",
    serializers={"horizon": RoadmapByHorizonOutput, "month": RoadmapByMonthOutput},
    resource_type_field_name="group_by",
)


class RoadmapView(WorkspaceScopedAPIView):
    """Features grouped by horizon (default) or by month, filtered like the feature list."""

    query_parameters = {"get": {"group_by", "start", "end", *FeatureFilter.base_filters}}

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        # Only the columns a card shows: a group holds at most ROADMAP_GROUP_LIMIT of them.
        return selectors.feature_summary_list(workspace=workspace)

    @extend_schema(
        parameters=[
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=["horizon", "month"], default="horizon"),
            OpenApiParameter("start", OpenApiTypes.DATE, description="With group_by=month: first day."),
            OpenApiParameter(
                "end", OpenApiTypes.DATE, description="With group_by=month: last day (36 months at most)."
            ),
            *filterset_parameters(FeatureFilter),
        ],
        responses=ROADMAP_RESPONSE,
    )
    def get(self, request: Request, workspace_slug: str) -> Response:
        """Each group holds its first 50 features by rank, its count, and (when it has more)
        ``more``: the feature list of the whole group, filtered the same way."""
        query = RoadmapQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        features = FeatureFilter(request.query_params, queryset=self.get_queryset(), request=request)
        if not features.is_valid():
            raise translate_validation(features.errors)
        values = query.validated_data
        if values["group_by"] == "month":
            months = selectors.roadmap_by_month(
                features=features.qs, start=values["start"], end=values["end"], limit=ROADMAP_GROUP_LIMIT
            )
            for bucket in months:
                last = selectors.month_end(bucket["month"])
                bucket["more"] = self._more(
                    bucket, scheduled_from=bucket["month"].isoformat(), scheduled_to=last.isoformat()
                )
            return Response(RoadmapByMonthOutput({"group_by": "month", "months": months}).data)
        groups = selectors.roadmap_by_horizon(features=features.qs, limit=ROADMAP_GROUP_LIMIT)
        body = {
            key: {"count": g.count, "features": g.features, "more": self._more(vars(g), horizon=key)}
            for key, g in groups.items()
        }
        return Response(RoadmapByHorizonOutput({"group_by": "horizon", **body}).data)

    def _more(self, group: dict, **narrowing: str) -> str | None:
        """The feature list of the whole group: this request's filters and the group's own."""
        if group["count"] <= len(group["features"]):
            return None
        filters = {
            name: self.request.query_params.getlist(name)
            for name in FeatureFilter.base_filters
            if name in self.request.query_params
        }
        filters.update({name: [value] for name, value in narrowing.items()})
        path = reverse("feature-list", kwargs={"workspace_slug": self.workspace.slug})
        return self.request.build_absolute_uri(f"{path}?{urlencode(filters, doseq=True)}")
