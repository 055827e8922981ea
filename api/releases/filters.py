"""Filters of the releases API: strict (a value they cannot read is a 400 naming the
parameter), related rows by id, and ``updated_after`` / ``updated_before`` on every list."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from productops.api.filters import IdFilter, StrictBooleanFilter, SyncFilterSet, sync_filterset
from releases.models import (
    ChecklistState,
    ChecklistTask,
    ChecklistTemplateItem,
    Release,
    ReleaseStatus,
    ScopeItem,
    ScopeState,
    SuccessMetric,
)


class ReleaseFilter(SyncFilterSet):
    product = IdFilter(field_name="product_id")
    status = django_filters.MultipleChoiceFilter(
        choices=ReleaseStatus.choices, help_text="Repeat to match any of several."
    )
    planned_after = django_filters.DateFilter(
        field_name="planned_date", lookup_expr="gte", help_text="Planned on or after this day."
    )
    planned_before = django_filters.DateFilter(
        field_name="planned_date", lookup_expr="lte", help_text="Planned on or before this day."
    )

    class Meta:
        model = Release
        fields: list[str] = []


class ScopeItemFilter(SyncFilterSet):
    release = IdFilter(field_name="release_id")
    feature = IdFilter(field_name="feature_id")
    is_open = StrictBooleanFilter(help_text="Open rows are the current plan; closed ones are history.")
    is_must_have = StrictBooleanFilter()
    state = django_filters.ChoiceFilter(choices=ScopeState.choices)

    class Meta:
        model = ScopeItem
        fields: list[str] = []


class ChecklistTaskFilter(SyncFilterSet):
    release = IdFilter(field_name="release_id")
    state = django_filters.ChoiceFilter(choices=ChecklistState.choices)
    owner = IdFilter(field_name="owner_id")
    is_required = StrictBooleanFilter()

    class Meta:
        model = ChecklistTask
        fields: list[str] = []


class SuccessMetricFilter(SyncFilterSet):
    release = IdFilter(field_name="release_id")
    feature = IdFilter(field_name="feature_id")
    review_due = StrictBooleanFilter(
        method="filter_review_due", help_text="true: the review date has come and nobody reviewed it yet."
    )

    class Meta:
        model = SuccessMetric
        fields: list[str] = []

    def filter_review_due(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        due = Q(review_date__lte=timezone.localdate(), reviewed_at__isnull=True)
        return queryset.filter(due if value else ~due)


ChecklistTemplateItemFilter = sync_filterset(ChecklistTemplateItem)
