"""Filters shared by the API."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.db.models import F
from rest_framework.filters import OrderingFilter

from productops.models import ApiToken


class SafeIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 datetime, given in UTC to the query (any offset Python reads, even one
    PostgreSQL refuses such as +17:19); its UTC form must exist (year 1..9999)."""

    def clean(self, value):
        cleaned = super().clean(value)
        if cleaned is not None:
            try:
                cleaned = cleaned.astimezone(UTC)
            except OverflowError:
                raise forms.ValidationError("Date out of range.", code="out_of_range") from None
        return cleaned


class SafeIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = SafeIsoDateTimeField


class ApiTokenFilter(django_filters.FilterSet):
    # By id, not a model choice: a choice filter would list every user of the system.
    user = django_filters.NumberFilter(field_name="user_id")

    class Meta:
        model = ApiToken
        fields: list[str] = []


class StableOrderingFilter(OrderingFilter):
    """``?ordering=`` with empty values last either way and the id as the final tie-break,
    so pages never overlap and unscored features never lead a "best first" list."""

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset  # the selector's order
        terms = [
            F(term[1:]).desc(nulls_last=True) if term.startswith("-") else F(term).asc(nulls_last=True)
            for term in ordering
        ]
        if not {"id", "-id", "pk", "-pk"} & set(ordering):
            terms.append(F("id").asc())
        return queryset.order_by(*terms)
