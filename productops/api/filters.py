"""Filters shared by the API."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms

from productops.models import ApiToken


class SafeIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 datetime whose UTC form must exist (year 1..9999 after conversion)."""

    def clean(self, value):
        cleaned = super().clean(value)
        if cleaned is not None:
            try:
                cleaned.astimezone(UTC)
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
