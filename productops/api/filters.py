"""Filters shared by the API. Every filter is strict: a value it cannot read is a 400
naming the parameter (never ignored), and ids are whole numbers a 64-bit key can hold."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.db.models import F
from drf_spectacular.utils import extend_schema_field
from rest_framework.filters import OrderingFilter

from productops.models import ApiToken

MAX_ID = 2**63 - 1


# Declared an integer (django-filter's NumberFilter reads as a ``number``), so a generated
# client sends ``3``, never ``3.0``.
@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An id: a whole number from 1 to 2^63 − 1 (``0.5`` or ``1e90`` are 400s, not empty lists)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); anything else is an error, not "no filter"."""

    widget = forms.TextInput
    TRUE, FALSE = {"true", "1"}, {"false", "0"}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


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


class SyncFilterSet(django_filters.FilterSet):
    """Base of every list's filters: ``updated_after`` / ``updated_before`` for incremental sync.

    ``updated_at`` moves when a person or an integration changes the row; for a feature,
    also when the priority engine records a history point for it (its rank changed, or its
    score moved by more than 1 %), but not for smaller moves of the score by recency decay.
    """

    updated_after = SafeIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="ISO 8601; changed at or after."
    )
    updated_before = SafeIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="lt", help_text="ISO 8601; changed before."
    )


def sync_filterset(model: type, **filters: django_filters.Filter) -> type[SyncFilterSet]:
    """A filter set of ``model`` with the sync filters and ``filters``."""
    meta = type("Meta", (), {"model": model, "fields": []})
    return type(f"{model.__name__}Filter", (SyncFilterSet,), {"Meta": meta, **filters})


class ApiTokenFilter(SyncFilterSet):
    # By id, not a model choice: a choice filter would list every user of the system.
    user = IdFilter(field_name="user_id")

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
