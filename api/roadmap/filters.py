"""Filters of the roadmap API.

Related objects are filtered by id, never with a model choice filter: its
queryset (and the browsable API's form) would span every workspace.
"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from productops.api.filters import IdFilter, StrictBooleanFilter, SyncFilterSet, sync_filterset
from releases import selectors as release_selectors
from roadmap.models import (
    Competitor,
    Feature,
    FeatureStatus,
    Goal,
    Horizon,
    Initiative,
    KeyResult,
    Product,
    ScorecardCriterion,
    Tag,
    Team,
    TeamCapacity,
)

UNSCHEDULED = "unscheduled"


class FeatureFilter(SyncFilterSet):
    """Shared by the feature list and the roadmap views."""

    product = IdFilter(field_name="product_id")
    status = django_filters.MultipleChoiceFilter(
        choices=FeatureStatus.choices, help_text="Repeat to match any of several."
    )
    horizon = django_filters.ChoiceFilter(
        choices=[*Horizon.choices, (UNSCHEDULED, "Unscheduled")], method="filter_horizon"
    )
    goal = IdFilter(field_name="goals", distinct=True)
    initiative = IdFilter(field_name="initiative_id")
    team = IdFilter(field_name="team_id")
    owner = IdFilter(field_name="owner_id")
    tag = django_filters.CharFilter(
        field_name="tags__name", lookup_expr="iexact", distinct=True, help_text="A tag name."
    )
    is_mvp = StrictBooleanFilter(
        method="filter_is_mvp", help_text="Deprecated: a must-have (or not) of its open release."
    )
    is_public = StrictBooleanFilter()
    search = django_filters.CharFilter(
        method="filter_search", help_text="Words that must each appear in the title or description."
    )
    scheduled_from = django_filters.DateFilter(
        method="filter_scheduled_from",
        help_text="Planned to run on or after this day (its target date, or only date, is on or after).",
    )
    scheduled_to = django_filters.DateFilter(
        method="filter_scheduled_to",
        help_text="Planned to run on or before this day (its planned start, or only date, is on or before).",
    )

    class Meta:
        model = Feature
        fields: list[str] = []

    def filter_is_mvp(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        must_have = release_selectors.feature_is_must_have()
        return queryset.filter(must_have if value else ~must_have)

    def filter_horizon(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(horizon="" if value == UNSCHEDULED else value)

    def filter_scheduled_from(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(
            Q(target_date__gte=value) | Q(target_date__isnull=True, planned_start__gte=value)
        )

    def filter_scheduled_to(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(
            Q(planned_start__lte=value) | Q(planned_start__isnull=True, target_date__lte=value)
        )

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for word in value.split():
            queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
        return queryset


FEATURE_ORDERING_FIELDS = [
    "priority_rank",
    "priority_score",
    "score_rice",
    "score_ice",
    "score_wsjf",
    "score_value_effort",
    "score_customer_impact",
    "score_scorecard",
    "requesting_companies",
    "arr_at_stake",
    "critical_requests",
    "created_at",
    "updated_at",
    "target_date",
    "title",
]


class GoalFilter(SyncFilterSet):
    product = IdFilter(field_name="product_id")
    parent = IdFilter(field_name="parent_id")

    class Meta:
        model = Goal
        fields = ["period"]


class KeyResultFilter(SyncFilterSet):
    goal = IdFilter(field_name="goal_id")

    class Meta:
        model = KeyResult
        fields: list[str] = []


class InitiativeFilter(SyncFilterSet):
    goal = IdFilter(field_name="goal_id")
    owner = IdFilter(field_name="owner_id")

    class Meta:
        model = Initiative
        fields: list[str] = []


class TeamCapacityFilter(SyncFilterSet):
    team = IdFilter(field_name="team_id")

    class Meta:
        model = TeamCapacity
        fields = ["period"]


ProductFilter = sync_filterset(Product)
TeamFilter = sync_filterset(Team)
ScorecardCriterionFilter = sync_filterset(ScorecardCriterion)
TagFilter = sync_filterset(Tag)
CompetitorFilter = sync_filterset(Competitor)


def filterset_parameters(filterset_class: type[django_filters.FilterSet]) -> list[OpenApiParameter]:
    """OpenAPI query parameters of a filterset, for plain API views that apply it by hand."""
    parameters = []
    for name, filter_ in filterset_class.base_filters.items():
        kwargs: dict = {"description": filter_.extra.get("help_text", "")}
        if isinstance(filter_, django_filters.BooleanFilter):
            kind = OpenApiTypes.BOOL
        elif isinstance(filter_, django_filters.NumberFilter):
            kind = OpenApiTypes.INT
        elif isinstance(filter_, django_filters.IsoDateTimeFilter):
            kind = OpenApiTypes.DATETIME
        elif isinstance(filter_, django_filters.DateFilter):
            kind = OpenApiTypes.DATE
        else:
            kind = OpenApiTypes.STR
        if isinstance(filter_, django_filters.MultipleChoiceFilter):
            kwargs.update(many=True, explode=True)
        if isinstance(filter_, django_filters.ChoiceFilter | django_filters.MultipleChoiceFilter):
            kwargs["enum"] = [value for value, _ in filter_.extra["choices"]]
        parameters.append(OpenApiParameter(name, kind, OpenApiParameter.QUERY, **kwargs))
    return parameters
