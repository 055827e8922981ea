"""Filters of the feedback API.

Related objects are filtered by id, never with a model choice filter: its
queryset (and the browsable API's form) would span every workspace. Filters
that need more than a column lookup (tag, linked feature, full-text search)
call the selectors, which own the portable SQL.
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from feedback import selectors
from feedback.models import (
    Company,
    Contact,
    FeedbackItem,
    FeedbackLink,
    Importance,
    InboundWebhook,
    Segment,
    Vote,
)
from feedback.services import normalize_domain
from productops.api.filters import IdFilter, SafeIsoDateTimeFilter, StrictBooleanFilter, SyncFilterSet


class CompanyFilter(SyncFilterSet):
    segment = django_filters.ChoiceFilter(choices=Segment.choices)
    lifecycle_stage = django_filters.ChoiceFilter(choices=Company.Lifecycle.choices)
    domain = django_filters.CharFilter(
        method="filter_domain", help_text="The company with this domain (any case, with or without www.)."
    )
    crm_external_id = django_filters.CharFilter(help_text="The company with this CRM id.")

    def filter_domain(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(domain__iexact=normalize_domain(value))

    class Meta:
        model = Company
        fields: list[str] = []


class ContactFilter(SyncFilterSet):
    company = IdFilter(field_name="company_id", help_text="A company id.")
    email = django_filters.CharFilter(
        lookup_expr="iexact", help_text="The contact with this e-mail (any case)."
    )
    crm_external_id = django_filters.CharFilter(help_text="The contact with this CRM id.")

    class Meta:
        model = Contact
        fields: list[str] = []


_ANY_OF = "Repeat to match any of several."


class FeedbackItemFilter(SyncFilterSet):
    company = IdFilter(field_name="company_id", help_text="A company id.")
    contact = IdFilter(field_name="contact_id", help_text="A contact id.")
    segment = django_filters.ChoiceFilter(
        field_name="company__segment", choices=Segment.choices, help_text="The company's segment."
    )
    source = django_filters.MultipleChoiceFilter(choices=FeedbackItem.Source.choices, help_text=_ANY_OF)
    state = django_filters.MultipleChoiceFilter(choices=FeedbackItem.State.choices, help_text=_ANY_OF)
    kind = django_filters.MultipleChoiceFilter(choices=FeedbackItem.Kind.choices, help_text=_ANY_OF)
    importance = django_filters.MultipleChoiceFilter(choices=Importance.choices, help_text=_ANY_OF)
    tag = django_filters.CharFilter(method="filter_tag", help_text="A tag (case-insensitive).")
    source_ref = django_filters.CharFilter(
        help_text="The id at the source (with source: the item an integration sent)."
    )
    feature = IdFilter(method="filter_feature", help_text="Linked to this feature id.")
    merged_into = IdFilter(
        field_name="merged_into_id", help_text="Merged into this item (who else asked for the same thing)."
    )
    received_after = SafeIsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", help_text="ISO 8601; received at or after."
    )
    received_before = SafeIsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", help_text="ISO 8601; received before."
    )
    search = django_filters.CharFilter(
        method="filter_search",
        help_text="Full-text search of the text (PostgreSQL: web-search syntax, English stemming; "
        "SQLite: every word must appear).",
    )

    class Meta:
        model = FeedbackItem
        fields: list[str] = []

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.feedback_items_with_tag(queryset, value)

    def filter_feature(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        return selectors.feedback_items_linked_to(queryset, value)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.feedback_items_matching(queryset, value)


class VoteFilter(SyncFilterSet):
    feature = IdFilter(field_name="feature_id", help_text="A feature id.")
    contact = IdFilter(field_name="contact_id", help_text="A contact id.")

    class Meta:
        model = Vote
        fields: list[str] = []


class FeedbackLinkFilter(SyncFilterSet):
    item = IdFilter(field_name="item_id", help_text="A feedback item id.")
    feature = IdFilter(field_name="feature_id", help_text="A feature id.")
    importance = django_filters.MultipleChoiceFilter(choices=Importance.choices, help_text=_ANY_OF)

    class Meta:
        model = FeedbackLink
        fields: list[str] = []


class InboundWebhookFilter(SyncFilterSet):
    provider = django_filters.ChoiceFilter(choices=InboundWebhook.Provider.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = InboundWebhook
        fields: list[str] = []
