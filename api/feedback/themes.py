"""Themes API: clusters of unlinked feedback (``.../feedback-themes/``), their items, and the
actions on them (recompute, create a feature, link to a feature, "wrong theme").

Views validate input, call a service or selector and render; nothing else.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.roadmap.serializers import FeatureSummary, WorkspaceRelatedField
from feedback import theme_selectors, theme_services
from feedback.models import FeedbackItem, Importance, Theme, ThemeMember
from feedback.theme_models import DEFAULT_PERIOD, PERIOD_CHOICES
from productops.api.base import StrictSerializer, WorkspaceResourceViewSet
from productops.api.fields import ModelOutput
from productops.models import Workspace
from roadmap.models import Feature, Product

#: Items a theme's detail lists (all of them: ``.../items/``, paginated).
DETAIL_ITEMS = 50


# --- serializers ------------------------------------------------------------------------


class ThemeItemOutput(ModelOutput):
    id = serializers.IntegerField(source="item.id", read_only=True, help_text="The feedback item's id.")
    text = serializers.CharField(source="item.text", read_only=True)
    received_at = serializers.DateTimeField(source="item.received_at", read_only=True)
    state = serializers.CharField(source="item.state", read_only=True)
    company = serializers.SerializerMethodField(help_text="The item's company (or its contact's), by id.")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_company(self, member: ThemeMember) -> int | None:
        item = member.item
        if item.company_id:
            return item.company_id
        return item.contact.company_id if item.contact_id and item.contact else None

    similarity = serializers.FloatField(read_only=True, help_text="Cosine to the theme's centroid.")

    class Meta:
        model = ThemeMember
        fields = ["id", "text", "received_at", "state", "company", "similarity", "rank"]
        read_only_fields = fields


class ThemeOutput(ModelOutput):
    typical = ThemeItemOutput(many=True, read_only=True, help_text="Its three most typical items.")
    arr = serializers.DecimalField(
        max_digits=16, decimal_places=2, read_only=True, help_text="Distinct companies' ARR, in arr_currency."
    )

    class Meta:
        model = Theme
        fields = [
            "id",
            "label",
            "words",
            "period_days",
            "size",
            "company_count",
            "arr",
            "arr_currency",
            "trend_current",
            "trend_previous",
            "cohesion",
            "run_number",
            "computed_at",
            "typical",
        ]
        read_only_fields = fields


class ThemeDetailOutput(ThemeOutput):
    items = serializers.SerializerMethodField(
        help_text=f"Its first {DETAIL_ITEMS} items, most typical first."
    )

    class Meta(ThemeOutput.Meta):
        fields = [*ThemeOutput.Meta.fields, "items"]
        read_only_fields = fields

    @extend_schema_field(ThemeItemOutput(many=True))
    def get_items(self, theme: Theme) -> list[dict[str, Any]]:
        members = theme_selectors.theme_members(theme=theme)[:DETAIL_ITEMS]
        return ThemeItemOutput(members, many=True).data


class ThemeFilter(django_filters.FilterSet):
    period_days = django_filters.TypedChoiceFilter(
        choices=PERIOD_CHOICES, coerce=int, help_text="Themes of this period only (7, 30 or 90 days)."
    )

    class Meta:
        model = Theme
        fields: list[str] = []


class ThemeRecomputeInput(StrictSerializer):
    period_days = serializers.ChoiceField(choices=PERIOD_CHOICES, default=DEFAULT_PERIOD)


class ThemeRecomputeOutput(serializers.Serializer):
    period_days = serializers.IntegerField()
    queued = serializers.BooleanField(help_text="Always true: the worker recomputes after the commit.")


_IMPORTANCE_HELP = "One importance for every link; left out or null: each item's own."


class ThemeCreateFeatureInput(StrictSerializer):
    title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Left out: the theme's label."
    )
    description = serializers.CharField(required=False, allow_blank=True)
    product = WorkspaceRelatedField(Product)
    importance = serializers.ChoiceField(
        choices=Importance.choices, required=False, allow_null=True, help_text=_IMPORTANCE_HELP
    )


class ThemeLinkFeatureInput(StrictSerializer):
    feature = WorkspaceRelatedField(Feature)
    importance = serializers.ChoiceField(
        choices=Importance.choices, required=False, allow_null=True, help_text=_IMPORTANCE_HELP
    )


class ThemeLinkFeatureOutput(serializers.Serializer):
    linked = serializers.IntegerField(help_text="Items linked now (those linked already are skipped).")


class ThemeDismissItemInput(StrictSerializer):
    item = WorkspaceRelatedField(FeedbackItem, help_text="A feedback item of the theme.")


# --- the viewset ------------------------------------------------------------------------


class ThemeViewSet(WorkspaceResourceViewSet):
    """Themes of unlinked feedback (no link, not merged, not archived) received in the last 7,
    30 or 90 days, clustered by meaning by the worker (every 6 hours, or on demand with
    ``POST .../recompute/``), largest first. A theme keeps its id from run to run while it
    keeps most of its items."""

    serializer_class = ThemeOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = ThemeFilter
    conflict_actions = {"create_feature", "link_feature"}

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return theme_selectors.theme_list(workspace=workspace)

    @extend_schema(responses=ThemeDetailOutput)
    def retrieve(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The theme, with its first items."""
        return Response(ThemeDetailOutput(self.get_object()).data)

    @extend_schema(responses=ThemeItemOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def items(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Every item of the theme, most typical first."""
        page = self.paginate_queryset(theme_selectors.theme_members(theme=self.get_object()))
        return self.get_paginated_response(ThemeItemOutput(page, many=True).data)

    @extend_schema(request=ThemeRecomputeInput, responses={202: ThemeRecomputeOutput})
    @action(detail=False, methods=["post"], filter_backends=[])
    def recompute(self, request: Request, workspace_slug: str) -> Response:
        """Recompute the period's themes: queued for the worker, after the commit."""
        values = self.validated(ThemeRecomputeInput)
        period = theme_services.themes_recompute_request(
            workspace=self.workspace, actor=request.user, period_days=int(values["period_days"])
        )
        return Response({"period_days": period, "queued": True}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ThemeCreateFeatureInput, responses={201: FeatureSummary})
    @action(detail=True, methods=["post"], url_path="create-feature", filter_backends=[])
    def create_feature(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Create a feature from the theme: every open item linked, each with its own importance
        (or the one given), so each company counts once in its demand. Writes nothing if refused."""
        theme = self.get_object()
        values = dict(self.validated(ThemeCreateFeatureInput))
        importance = values.pop("importance", None)
        feature = theme_services.theme_create_feature(
            theme=theme, actor=request.user, data=values, importance=importance
        )
        return Response(FeatureSummary(feature).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ThemeLinkFeatureInput, responses=ThemeLinkFeatureOutput)
    @action(detail=True, methods=["post"], url_path="link-feature", filter_backends=[])
    def link_feature(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Link the theme's open items to an existing feature (items linked to it already are
        skipped). A declined or merged feature is a 409."""
        theme = self.get_object()
        values = self.validated(ThemeLinkFeatureInput)
        linked = theme_services.theme_link_feature(
            theme=theme, actor=request.user, feature=values["feature"], importance=values.get("importance")
        )
        return Response({"linked": linked})

    @extend_schema(request=ThemeDismissItemInput, responses=ThemeOutput)
    @action(detail=True, methods=["post"], url_path="dismiss-item", filter_backends=[])
    def dismiss_item(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Wrong theme: take the item out of the theme; later runs never put it back in it."""
        theme = self.get_object()
        values = self.validated(ThemeDismissItemInput)
        theme_services.theme_item_dismiss(theme=theme, item=values["item"], actor=request.user)
        return self.render(theme)
