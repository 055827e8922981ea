"""Reads of the feedback app: companies, contacts, feedback, links, votes, duplicate
suggestions, the triage inbox and the feedback reports.

The priority engine (``priority``) reads demand from these tables; feedback knows
nothing of how it is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from feedback.models import Company, Contact, DuplicateSuggestion, FeedbackItem, FeedbackLink, Vote
from feedback.similarity import similar_features, similar_items
from productops.models import Workspace
from productops.search import QUERY_MAX_LENGTH, SEARCH_LIMIT, rows_containing, words_contain
from productops.sql import now_utc_text, rate_case_sql, workspace_rates
from roadmap.models import Feature, Product

# --- lists of the API --------------------------------------------------------------


class _SubqueryCount(Subquery):
    """The number of rows the subquery returns (any subquery, unions included)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()


def _company_feedback_count() -> _SubqueryCount:
    """Open (not merged) feedback of the company: its own, or its contacts' company-less items."""
    # Unordered: a compound statement's parts may not have an ORDER BY (SQLite).
    own = FeedbackItem.objects.filter(company_id=OuterRef("pk"), merged_into__isnull=True).order_by()
    via_contact = FeedbackItem.objects.filter(
        company__isnull=True, contact__company_id=OuterRef("pk"), merged_into__isnull=True
    ).order_by()
    own, via_contact = own.values("pk"), via_contact.values("pk")
    return _SubqueryCount(own.union(via_contact, all=True))


def _company_requested_feature_count() -> _SubqueryCount:
    """Distinct features the company asked for, by linked feedback or by a contact's vote.

    Three index-friendly branches (the item's company, the item's contact's company,
    the voter's company) whose UNION removes features asked for more than once.
    """
    linked = FeedbackLink.objects.filter(item__company_id=OuterRef("pk")).order_by().values("feature_id")
    linked_via_contact = (
        FeedbackLink.objects.filter(item__company__isnull=True, item__contact__company_id=OuterRef("pk"))
        .order_by()
        .values("feature_id")
    )
    voted = Vote.objects.filter(contact__company_id=OuterRef("pk")).order_by().values("feature_id")
    return _SubqueryCount(linked.union(linked_via_contact, voted))


def company_list(*, workspace: Workspace) -> QuerySet[Company]:
    """Companies with their feedback and requested-feature counts (one correlated count each)."""
    return (
        Company.objects.for_workspace(workspace)
        .annotate(
            feedback_count=_company_feedback_count(),
            requested_feature_count=_company_requested_feature_count(),
        )
        .order_by("name", "id")
    )


def contact_list(*, workspace: Workspace) -> QuerySet[Contact]:
    return Contact.objects.for_workspace(workspace).select_related("company").order_by("email", "id")


def feedback_item_list(*, workspace: Workspace) -> QuerySet[FeedbackItem]:
    """Feedback with its links (by feature id), newest received first."""
    return (
        FeedbackItem.objects.for_workspace(workspace)
        .prefetch_related(Prefetch("links", queryset=FeedbackLink.objects.order_by("feature_id")))
        .order_by("-received_at", "-id")
    )


class _JsonArrayHasText(Func):
    """True when the JSON array ``expression`` holds ``text``, compared case-insensitively.

    ``tags__contains`` is not portable (SQLite has no JSON containment) and is
    case-sensitive; this is an EXISTS over the array's elements on both backends.
    """

    output_field = BooleanField()

    def __init__(self, expression: Any, text: str) -> None:
        super().__init__(expression, Value(text))

    def as_sql(self, compiler, connection, **extra_context):
        array, text = self.get_source_expressions()
        array_sql, array_params = compiler.compile(array)
        text_sql, text_params = compiler.compile(text)
        if connection.vendor == "postgresql":
            array_sql = f"CASE WHEN jsonb_typeof({array_sql}) = 'array' THEN {array_sql} ELSE '[]'::jsonb END"
            array_params = (*array_params, *array_params)
            elements = f"jsonb_array_elements_text({array_sql}) AS element(value)"
        else:
            elements = f"json_each({array_sql}) AS element"
        sql = f"EXISTS (SELECT 1 FROM {elements} WHERE lower(element.value) = lower({text_sql}))"
        return sql, (*array_params, *text_params)


def feedback_items_with_tag(items: QuerySet[FeedbackItem], tag: str) -> QuerySet[FeedbackItem]:
    """Items whose tags include ``tag`` (case-insensitive), on SQLite and PostgreSQL alike."""
    return items.filter(_JsonArrayHasText(F("tags"), tag.strip()))


def feedback_items_linked_to(items: QuerySet[FeedbackItem], feature_id: int) -> QuerySet[FeedbackItem]:
    """Items linked to the feature (an EXISTS, so no row is repeated)."""
    return items.filter(Exists(FeedbackLink.objects.filter(item=OuterRef("pk"), feature_id=feature_id)))


def feedback_items_matching(items: QuerySet[FeedbackItem], query: str) -> QuerySet[FeedbackItem]:
    """Full-text search of the text.

    PostgreSQL: ``websearch_to_tsquery`` against ``to_tsvector('english', COALESCE(text, ''))``,
    the expression of the GIN index ``feedback_item_text_search`` (migration 0004), so
    the planner can answer it from the index. SQLite: every word must appear (icontains).
    """
    query = query.strip()
    if not query:
        return items
    if connection.vendor == "postgresql":
        return items.alias(text_vector=SearchVector("text", config="english")).filter(
            text_vector=SearchQuery(query, config="english", search_type="websearch")
        )
    for word in query.split():
        items = items.filter(text__icontains=word.strip('"'))
    return items


def feedback_link_list(*, item: FeedbackItem) -> QuerySet[FeedbackLink]:
    return FeedbackLink.objects.filter(item=item).select_related("feature").order_by("feature_id")


def duplicate_suggestion_list(
    *, item: FeedbackItem, include_dismissed: bool = False
) -> QuerySet[DuplicateSuggestion]:
    """The item's stored duplicate suggestions, most similar first, with what they point at:
    both sides of each item pair (``row.other_item(item.pk)`` is the other item) and the
    features suggested for it."""
    suggestions = DuplicateSuggestion.objects.filter(workspace_id=item.workspace_id).filter(
        Q(item=item) | Q(similar_item=item)
    )
    if not include_dismissed:
        suggestions = suggestions.filter(dismissed=False)
    return suggestions.select_related("item", "similar_item", "similar_feature").order_by("-similarity", "id")


def similar_to_text(*, workspace: Workspace, text: str, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Live duplicate suggestions for text not stored yet (a submission form): open items and
    open features most like it, each ``{"item" | "feature": row, "similarity": float}``."""
    item_matches = similar_items(workspace_id=workspace.pk, text=text, limit=limit)
    feature_matches = similar_features(workspace_id=workspace.pk, text=text, limit=limit)
    items = FeedbackItem.objects.filter(workspace=workspace).in_bulk([m.id for m in item_matches])
    features = Feature.objects.filter(workspace=workspace).in_bulk([m.id for m in feature_matches])
    return {
        "items": [{"item": items[m.id], "similarity": m.similarity} for m in item_matches if m.id in items],
        "features": [
            {"feature": features[m.id], "similarity": m.similarity}
            for m in feature_matches
            if m.id in features
        ],
    }


def features_similar_to_text(
    *, workspace: Workspace, text: str, limit: int = 5, public_only: bool = False
) -> list[int]:
    """Ids of the open features whose titles read most like ``text``, best first (optionally only
    public ones, so private features never crowd public matches out)."""
    return [
        match.id
        for match in similar_features(
            workspace_id=workspace.pk, text=text, limit=limit, public_only=public_only
        )
    ]


def contacts_asking_for(*, feature_ids: set[int], contact_ids: QuerySet) -> dict[int, set[int]]:
    """Per feature, the contacts (among ``contact_ids``, a subquery) who voted for it or whose
    feedback is linked to it. Two queries, whatever the number of features."""
    by_feature: dict[int, set[int]] = {}
    votes = Vote.objects.filter(feature_id__in=feature_ids, contact_id__in=contact_ids)
    for feature_id, contact_id in votes.values_list("feature_id", "contact_id"):
        by_feature.setdefault(feature_id, set()).add(contact_id)
    links = FeedbackLink.objects.filter(feature_id__in=feature_ids, item__contact_id__in=contact_ids)
    for feature_id, contact_id in links.values_list("feature_id", "item__contact_id"):
        by_feature.setdefault(feature_id, set()).add(contact_id)
    return by_feature


def vote_list(*, workspace: Workspace) -> QuerySet[Vote]:
    return Vote.objects.for_workspace(workspace).select_related("contact").order_by("-created_at", "-id")


def feedback_link_all(*, workspace: Workspace) -> QuerySet[FeedbackLink]:
    """Every link of the workspace (for sync), newest first; ids only, no joins."""
    return FeedbackLink.objects.for_workspace(workspace).order_by("-created_at", "-id")


# --- aggregates ---------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeSeries:
    key: int | str | None  # a product id or a lower-cased tag; None: unlinked / untagged
    label: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class FeedbackVolume:
    by: str
    weeks: list[date]  # Monday of each ISO week (UTC), oldest first; the last is the current week
    series: list[VolumeSeries]


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def feedback_volume(
    *, workspace: Workspace, by: str, weeks: int, now: datetime | None = None
) -> FeedbackVolume:
    """Feedback received per ISO week (UTC) over the last ``weeks`` weeks, per product or tag.

    ``by="product"``: an item counts once for each product it has a feature linked in;
    items linked to nothing count under ``None``. ``by="tag"``: once for each of its
    tags (case-insensitively); untagged items under ``None``. Merged items are not
    counted (their survivor is). One grouped query, plus one for product names.
    """
    now = now or timezone.now()
    first = _week_start(now.astimezone(UTC).date()) - timedelta(weeks=weeks - 1)
    week_starts = [first + timedelta(weeks=i) for i in range(weeks)]
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = start + timedelta(weeks=weeks)
    if by == "product":
        rows = _volume_by_product(workspace, start, end)
    elif by == "tag":
        rows = _volume_by_tag(workspace, start, end)
    else:
        raise ValueError(f"Unknown grouping {by!r}.")

    position = {week: i for i, week in enumerate(week_starts)}
    counts: dict[Any, list[int]] = {}
    labels: dict[Any, str] = {}
    for week, key, label, count in rows:
        week = week.date() if isinstance(week, datetime) else week
        if isinstance(week, str):
            week = date.fromisoformat(week[:10])
        counts.setdefault(key, [0] * weeks)[position[_week_start(week)]] += count
        labels[key] = min(labels.get(key, label), label) if label else labels.get(key, "")
    if by == "product":
        names = dict(
            Product.objects.filter(
                workspace=workspace, pk__in=[k for k in counts if k is not None]
            ).values_list("pk", "name")
        )
        labels = {key: names.get(key, "") if key is not None else "Not linked" for key in counts}
    else:
        labels = {key: labels[key] if key is not None else "Untagged" for key in counts}
    series = [VolumeSeries(key=key, label=labels[key], counts=values) for key, values in counts.items()]
    series.sort(key=lambda s: (s.key is None, -s.total, s.label.lower(), str(s.key)))
    return FeedbackVolume(by=by, weeks=week_starts, series=series)


def feedback_weekly_totals(
    *, workspace: Workspace, weeks: int, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Feedback items received per ISO week (UTC), oldest first, each item once; merged items
    are not counted. One grouped query."""
    now = now or timezone.now()
    first = _week_start(now.astimezone(UTC).date()) - timedelta(weeks=weeks - 1)
    week_starts = [first + timedelta(weeks=i) for i in range(weeks)]
    start = datetime.combine(first, time.min, tzinfo=UTC)
    counts = dict.fromkeys(week_starts, 0)
    rows = (
        _volume_items(workspace, start, start + timedelta(weeks=weeks))
        .annotate(week=TruncWeek("received_at", tzinfo=UTC))
        .values("week")
        .annotate(count=Count("id"))
        .values_list("week", "count")
    )
    for week, count in rows:
        week = week.date() if isinstance(week, datetime) else week
        counts[_week_start(week)] += count
    return list(counts.items())


def _volume_items(workspace: Workspace, start: datetime, end: datetime) -> QuerySet[FeedbackItem]:
    return FeedbackItem.objects.filter(
        workspace=workspace, merged_into__isnull=True, received_at__gte=start, received_at__lt=end
    )


def _volume_by_product(workspace: Workspace, start: datetime, end: datetime) -> list[tuple]:
    rows = (
        _volume_items(workspace, start, end)
        .annotate(week=TruncWeek("received_at", tzinfo=UTC), product_key=F("links__feature__product_id"))
        .values("week", "product_key")
        .annotate(count=Count("pk", distinct=True))
        .order_by()
        .values_list("week", "product_key", "count")
    )
    return [(week, product, "", count) for week, product, count in rows]


def _volume_by_tag(workspace: Workspace, start: datetime, end: datetime) -> list[tuple]:
    if connection.vendor == "postgresql":
        week = "date_trunc('week', fi.received_at AT TIME ZONE 'UTC')::date"
        elements = (
            "LEFT JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(fi.tags) = 'array' "
            "THEN fi.tags ELSE '[]'::jsonb END) AS element(value) ON TRUE"
        )
        params: list = [workspace.pk, start, end]
    else:
        # Stored as UTC text; the Monday on or before the day.
        week = "date(fi.received_at, '-6 days', 'weekday 1')"
        elements = "LEFT JOIN json_each(fi.tags) AS element"
        params = [workspace.pk, now_utc_text(start), now_utc_text(end)]
    sql = f"""
        SELECT {week} AS week, lower(element.value) AS tag_key, MIN(element.value) AS label,
               COUNT(DISTINCT fi.id) AS count
        FROM feedback_feedbackitem fi
        {elements}
        WHERE fi.workspace_id = %s AND fi.merged_into_id IS NULL
          AND fi.received_at >= %s AND fi.received_at < %s
        GROUP BY 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(week, key, label or "", count) for week, key, label, count in cursor.fetchall()]


@dataclass(frozen=True)
class TopFeature:
    feature: Feature
    arr: Decimal  # summed over the distinct requesting companies, in ``currency``
    currency: str
    requesting_companies: int
    feedback_count: int
    votes_count: int


def top_features(*, workspace: Workspace, limit: int = 20) -> list[TopFeature]:
    """Features ranked by the ARR of the distinct companies asking for them.

    A company counts once per feature whether it linked feedback (through the item's
    company, or the item's contact's company) or voted (the voter's company). Features
    merged into another are left out (their demand moved). ARR is added up in the
    workspace's reporting currency (a company's ARR times its currency's rate; a currency
    without a rate counts 0). Two queries: the ranking, then the features.
    """
    rate_sql, rate_params = rate_case_sql("co.arr_currency", workspace_rates(workspace))
    sql = f"""
        SELECT f.id AS feature_id,
               COALESCE(demand.arr, 0) AS arr,
               COALESCE(demand.companies, 0) AS companies,
               COALESCE(linked.n, 0) AS feedback_count,
               COALESCE(voted.n, 0) AS votes_count
        FROM roadmap_feature f
        LEFT JOIN (
            SELECT pairs.feature_id, SUM(CAST(co.arr AS FLOAT) * {rate_sql}) AS arr, COUNT(*) AS companies
            FROM (
                SELECT l.feature_id AS feature_id, COALESCE(fi.company_id, ct.company_id) AS company_id
                FROM feedback_feedbacklink l
                JOIN feedback_feedbackitem fi ON fi.id = l.item_id
                LEFT JOIN feedback_contact ct ON ct.id = fi.contact_id
                WHERE l.workspace_id = %s
                UNION
                SELECT v.feature_id, ct.company_id
                FROM feedback_vote v
                JOIN feedback_contact ct ON ct.id = v.contact_id
                WHERE v.workspace_id = %s
            ) pairs
            JOIN feedback_company co ON co.id = pairs.company_id
            GROUP BY pairs.feature_id
        ) demand ON demand.feature_id = f.id
        LEFT JOIN (
            SELECT feature_id, COUNT(*) AS n FROM feedback_feedbacklink WHERE workspace_id = %s
            GROUP BY feature_id
        ) linked ON linked.feature_id = f.id
        LEFT JOIN (
            SELECT feature_id, COUNT(*) AS n FROM feedback_vote WHERE workspace_id = %s GROUP BY feature_id
        ) voted ON voted.feature_id = f.id
        WHERE f.workspace_id = %s AND f.merged_into_id IS NULL
          AND (linked.n IS NOT NULL OR voted.n IS NOT NULL)
        ORDER BY arr DESC, companies DESC, feedback_count DESC, votes_count DESC, f.id
        LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*rate_params, *[workspace.pk] * 5, limit])
        rows = cursor.fetchall()
    features = Feature.objects.filter(workspace=workspace).in_bulk([row[0] for row in rows])
    cents = Decimal("0.01")
    return [
        TopFeature(
            feature=features[feature_id],
            arr=Decimal(str(arr)).quantize(cents),
            currency=workspace.reporting_currency,
            requesting_companies=int(companies),
            feedback_count=int(linked),
            votes_count=int(voted),
        )
        for feature_id, arr, companies, linked, voted in rows
    ]


# --- the team portal's feedback pages -------------------------------------------------

INBOX_STATES = ("new", "reviewed", "linked", "archived")


def feedback_inbox(
    *,
    workspace: Workspace,
    state: str = FeedbackItem.State.NEW,
    source: str = "",
    company_id: int | None = None,
    segment: str = "",
    tag: str = "",
    query: str = "",
) -> QuerySet[FeedbackItem]:
    """The triage inbox: open (not merged) feedback, newest received first, with what a row
    shows (contact, company, links). ``state="all"`` (or empty) is every state."""
    items = (
        feedback_item_list(workspace=workspace)
        .filter(merged_into__isnull=True)
        .select_related("contact__company", "company")
    )
    if state and state != "all":
        items = items.filter(state=state)
    return _inbox_filters(items, source=source, company_id=company_id, segment=segment, tag=tag, query=query)


def _inbox_filters(
    items: QuerySet[FeedbackItem], *, source: str, company_id: int | None, segment: str, tag: str, query: str
) -> QuerySet[FeedbackItem]:
    if source:
        items = items.filter(source=source)
    if company_id:
        items = items.filter(company_id=company_id)
    if segment:
        items = items.filter(company__segment=segment)
    if tag.strip():
        items = feedback_items_with_tag(items, tag)
    if query.strip():
        items = feedback_items_matching(items, query)
    return items


def feedback_inbox_state_counts(
    *,
    workspace: Workspace,
    source: str = "",
    company_id: int | None = None,
    segment: str = "",
    tag: str = "",
    query: str = "",
) -> dict[str, int]:
    """Open (not merged) items per state under the inbox's other filters, plus ``"all"``. One query."""
    items = _inbox_filters(
        FeedbackItem.objects.filter(workspace=workspace, merged_into__isnull=True),
        source=source,
        company_id=company_id,
        segment=segment,
        tag=tag,
        query=query,
    )
    counts = dict.fromkeys(INBOX_STATES, 0)
    for state, count in items.order_by().values("state").annotate(n=Count("pk")).values_list("state", "n"):
        counts[state] = count
    counts["all"] = sum(counts.values())
    return counts


def _inbox_before(item: FeedbackItem) -> Q:
    """Rows after ``item`` in the inbox order (received_at descending, then id descending)."""
    return Q(received_at__lt=item.received_at) | Q(received_at=item.received_at, pk__lt=item.pk)


def feedback_inbox_next(items: QuerySet[FeedbackItem], *, item: FeedbackItem) -> FeedbackItem | None:
    """The item to triage after ``item`` in the (filtered) inbox ``items``: the next one down,
    else the nearest one up (the end of the list was reached), else None (the list is empty)."""
    others = items.exclude(pk=item.pk)
    after = others.filter(_inbox_before(item)).order_by("-received_at", "-id").first()
    if after is not None:
        return after
    return others.exclude(_inbox_before(item)).order_by("received_at", "id").first()


def feedback_inbox_position(items: QuerySet[FeedbackItem], *, item: FeedbackItem) -> int:
    """How many rows of ``items`` come before ``item`` in the inbox order (its 0-based index)."""
    return (
        items.order_by()
        .filter(Q(received_at__gt=item.received_at) | Q(received_at=item.received_at, pk__gt=item.pk))
        .count()
    )


def _links_with_features() -> Prefetch:
    links = FeedbackLink.objects.select_related("feature").order_by("feature__title", "feature_id")
    return Prefetch("links", queryset=links)


def feedback_item_for_triage(*, workspace: Workspace) -> QuerySet[FeedbackItem]:
    """Items with everything the triage pane shows: contact, company, links and their features
    (and the workspace, which the live similarity search reads)."""
    return (
        FeedbackItem.objects.for_workspace(workspace)
        .select_related("workspace", "contact__company", "company")
        .prefetch_related(_links_with_features())
    )


@dataclass(frozen=True)
class TriageSuggestion:
    """A likely duplicate item or matching feature of an item under triage.

    ``suggestion`` is the stored row (it can be dismissed); None for a live match.
    """

    similarity: float
    item: FeedbackItem | None = None
    feature: Feature | None = None
    suggestion: DuplicateSuggestion | None = None

    @property
    def reason(self) -> str:
        """Why it is suggested (``DuplicateSuggestion.Reason``): the stored row's reason; a
        live match is found by words."""
        return self.suggestion.reason if self.suggestion is not None else DuplicateSuggestion.Reason.WORDS

    @property
    def reason_label(self) -> str:
        """The reason as shown: "Same words", "Same meaning" or "Same words and meaning"."""
        return DuplicateSuggestion.Reason(self.reason).label


def feedback_triage_suggestions(*, item: FeedbackItem, limit: int = 5) -> dict[str, list[TriageSuggestion]]:
    """Stored (not dismissed) duplicate suggestions plus live :func:`similar_to_text` matches,
    without repeats, the item itself, merged items or features it is linked to already:
    ``{"items": [...], "features": [...]}``, most similar first. A constant number of queries."""
    linked = {link.feature_id for link in item.links.all()}
    stored = [
        s
        for s in duplicate_suggestion_list(item=item)
        if (s.similar_item_id is not None and s.other_item(item.pk).merged_into_id is None)
        or (
            s.similar_feature is not None
            and s.similar_feature.merged_into_id is None
            and s.similar_feature.status != "declined"
        )
    ]
    items = [
        TriageSuggestion(s.similarity, item=s.other_item(item.pk), suggestion=s)
        for s in stored
        if s.similar_item_id
    ]
    features = [
        TriageSuggestion(s.similarity, feature=s.similar_feature, suggestion=s)
        for s in stored
        if s.similar_feature and s.similar_feature_id not in linked
    ]
    dismissed = DuplicateSuggestion.objects.filter(Q(item=item) | Q(similar_item=item), dismissed=True)
    dismissed_items: set[int] = set()
    dismissed_features: set[int] = set()
    for item_id, similar_item_id, similar_feature_id in dismissed.values_list(
        "item_id", "similar_item_id", "similar_feature_id"
    ):
        if similar_feature_id:
            dismissed_features.add(similar_feature_id)
        elif similar_item_id:
            dismissed_items.add(similar_item_id if item_id == item.pk else item_id)
    seen_items = {s.item.pk for s in items} | dismissed_items | {item.pk}
    seen_features = {s.feature.pk for s in features} | dismissed_features | linked
    live = similar_to_text(workspace=item.workspace, text=item.text, limit=limit + 1)
    for match in live["items"]:
        if match["item"].pk not in seen_items and match["item"].merged_into_id is None:
            items.append(TriageSuggestion(match["similarity"], item=match["item"]))
            seen_items.add(match["item"].pk)
    for match in live["features"]:
        if match["feature"].pk not in seen_features:
            features.append(TriageSuggestion(match["similarity"], feature=match["feature"]))
            seen_features.add(match["feature"].pk)
    items.sort(key=lambda s: (-s.similarity, s.item.pk))
    features.sort(key=lambda s: (-s.similarity, s.feature.pk))
    return {"items": items, "features": features}


def linkable_features(*, workspace: Workspace, query: str = "", limit: int = 50) -> QuerySet[Feature]:
    """Features feedback can be linked to (not merged, not declined), best ranked first;
    ``query`` narrows them by title (every word must appear)."""
    features = (
        Feature.objects.for_workspace(workspace)
        .filter(merged_into__isnull=True)
        .exclude(status="declined")
        .select_related("product")
        .order_by(F("priority_rank").asc(nulls_last=True), "title", "id")
    )
    for word in query.split():
        features = features.filter(title__icontains=word)
    return features[:limit]


COMPANY_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "arr": ("arr", "name", "id"),
    "-arr": ("-arr", "name", "id"),
    "feedback": ("feedback_count", "name", "id"),
    "-feedback": ("-feedback_count", "name", "id"),
}


def company_directory(
    *,
    workspace: Workspace,
    segment: str = "",
    lifecycle_stage: str = "",
    query: str = "",
    sort: str = "name",
) -> QuerySet[Company]:
    """:func:`company_list` filtered by segment, lifecycle stage and name/domain search, sorted
    by one of :data:`COMPANY_SORTS` (``-feedback``: most feedback first)."""
    companies = company_list(workspace=workspace)
    if segment:
        companies = companies.filter(segment=segment)
    if lifecycle_stage:
        companies = companies.filter(lifecycle_stage=lifecycle_stage)
    for word in query.split():
        companies = companies.filter(Q(name__icontains=word) | Q(domain__icontains=word))
    return companies.order_by(*COMPANY_SORTS.get(sort, COMPANY_SORTS["name"]))


def company_contacts(*, company: Company) -> QuerySet[Contact]:
    return Contact.objects.filter(company=company).order_by("name", "email", "id")


def company_feedback(*, company: Company) -> QuerySet[FeedbackItem]:
    """What the company asked for: its open (not merged) feedback, or its contacts' feedback
    that has no company of its own (as :func:`company_list` counts it), newest first, with
    each item's contact and linked features."""
    return (
        FeedbackItem.objects.filter(workspace_id=company.workspace_id, merged_into__isnull=True)
        .filter(Q(company=company) | Q(company__isnull=True, contact__company=company))
        .select_related("contact")
        .prefetch_related(_links_with_features())
        .order_by("-received_at", "-id")
    )


def company_votes(*, company: Company) -> QuerySet[Vote]:
    """Votes of the company's contacts, newest first, with the feature and the voter."""
    return (
        Vote.objects.filter(workspace_id=company.workspace_id, contact__company=company)
        .select_related("feature", "contact")
        .order_by("-created_at", "-id")
    )


@dataclass
class LinkedFeedback:
    item: FeedbackItem
    importance: str
    company_name: str
    segment: str
    arr: Decimal | None


def feature_linked_feedback(*, feature: Feature, limit: int = 50) -> dict:
    """Feedback linked to the feature (newest first, at most ``limit``) with its company's
    segment and ARR, the total count and the number of votes."""
    workspace = feature.workspace
    items = feedback_items_linked_to(
        feedback_item_list(workspace=workspace).select_related("company", "contact__company"), feature.pk
    )
    rows = []
    for item in items[:limit]:
        company = item.company or (item.contact.company if item.contact else None)
        link = next((link for link in item.links.all() if link.feature_id == feature.pk), None)
        rows.append(
            LinkedFeedback(
                item=item,
                importance=link.get_importance_display() if link else "",
                company_name=company.name if company else "",
                segment=company.get_segment_display() if company else "",
                arr=company.arr if company else None,
            )
        )
    total = items.count()
    votes = vote_list(workspace=workspace).filter(feature_id=feature.pk).count()
    return {"rows": rows, "total": total, "votes": votes}


ALSO_ASKED_LIMIT = 50


def feedback_item_also_asked_by(*, item: FeedbackItem, limit: int = ALSO_ASKED_LIMIT) -> dict:
    """Items merged into ``item`` (they say the same thing) with who said them, newest first:
    ``{"rows": [(merged item, its company or None)], "total": n}``. Their links still count
    for their own companies. Two queries."""
    merged = (
        FeedbackItem.objects.filter(workspace_id=item.workspace_id, merged_into=item)
        .select_related("company", "contact__company")
        .prefetch_related(_links_with_features())
        .order_by("-received_at", "-id")
    )
    rows = [
        (other, other.company or (other.contact.company if other.contact else None))
        for other in merged[:limit]
    ]
    return {"rows": rows, "total": len(rows) if len(rows) < limit else merged.count()}


# --- for comms: who asked for a feature, and on what basis (appended) --------------------------


def feature_requesters(*, workspace_id: int, feature_ids: set[int]) -> dict[int, set[int]]:
    """Per contact, the features among ``feature_ids`` they asked for: they voted for it, a
    feedback item of theirs is linked to it, or their item was merged into an item linked to
    it (merged items keep their own links too). Features merged into one of these moved
    their votes and links onto it at the merge, so they count. Three queries."""
    feature_ids = set(feature_ids)
    by_contact: dict[int, set[int]] = {}
    if not feature_ids:
        return by_contact
    votes = Vote.objects.filter(workspace_id=workspace_id, feature_id__in=feature_ids)
    links = FeedbackLink.objects.filter(
        workspace_id=workspace_id, feature_id__in=feature_ids, item__contact_id__isnull=False
    )
    merged = FeedbackLink.objects.filter(
        workspace_id=workspace_id, feature_id__in=feature_ids, item__merged_items__contact_id__isnull=False
    )
    for rows in (
        votes.values_list("contact_id", "feature_id"),
        links.values_list("item__contact_id", "feature_id"),
        merged.values_list("item__merged_items__contact_id", "feature_id"),
    ):
        for contact_id, feature_id in rows.order_by().distinct():
            by_contact.setdefault(contact_id, set()).add(feature_id)
    return by_contact


def contacts_engaged_directly(*, workspace_id: int, contact_ids: set[int]) -> set[int]:
    """The contacts among ``contact_ids`` who acted themselves: cast a vote, or wrote feedback
    on the public board (both need a verified address there). Two queries."""
    contact_ids = set(contact_ids)
    if not contact_ids:
        return set()
    voters = Vote.objects.filter(workspace_id=workspace_id, contact_id__in=contact_ids)
    board = FeedbackItem.objects.filter(
        workspace_id=workspace_id, contact_id__in=contact_ids, source=FeedbackItem.Source.PUBLIC_BOARD
    )
    return set(voters.values_list("contact_id", flat=True).distinct()) | set(
        board.values_list("contact_id", flat=True).distinct()
    )


def arr_at_stake_by_feature(*, workspace: Workspace) -> dict[int, float]:
    """Per feature with demand, the summed ARR of the distinct companies asking for it (links,
    through the item's company or its contact's, and votes), in the reporting currency: the
    rule of :func:`top_features`. One query."""
    rate_sql, rate_params = rate_case_sql("co.arr_currency", workspace_rates(workspace))
    sql = f"""
        SELECT pairs.feature_id, SUM(CAST(co.arr AS FLOAT) * {rate_sql})
        FROM (
            SELECT l.feature_id AS feature_id, COALESCE(fi.company_id, ct.company_id) AS company_id
            FROM feedback_feedbacklink l
            JOIN feedback_feedbackitem fi ON fi.id = l.item_id
            LEFT JOIN feedback_contact ct ON ct.id = fi.contact_id
            WHERE l.workspace_id = %s
            UNION
            SELECT v.feature_id, ct.company_id
            FROM feedback_vote v
            JOIN feedback_contact ct ON ct.id = v.contact_id
            WHERE v.workspace_id = %s
        ) pairs
        JOIN feedback_company co ON co.id = pairs.company_id
        GROUP BY pairs.feature_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*rate_params, workspace.pk, workspace.pk])
        return {feature_id: float(arr or 0) for feature_id, arr in cursor.fetchall()}


# --- for digests (appended) -----------------------------------------------------------------------


def company_ids_owned_by(*, workspace: Workspace, user_id: int) -> list[int]:
    """The companies whose account owners include the user. One query."""
    return list(
        Company.objects.filter(workspace=workspace, account_owners__id=user_id)
        .order_by("id")
        .values_list("id", flat=True)
    )


def problem_reports_between(
    *, workspace: Workspace, feature_ids: Any, since: datetime, until: datetime
) -> list[dict]:
    """Per feature, how many problem reports (feedback of kind ``problem``) were linked to it in
    [``since``, ``until``): ``feature_id``, ``title``, ``status``, ``reports``, by title. One query."""
    ids = feature_ids if isinstance(feature_ids, QuerySet) else list(feature_ids)
    rows = (
        FeedbackLink.objects.filter(
            workspace=workspace,
            feature_id__in=ids,
            created_at__gte=since,
            created_at__lt=until,
            item__kind=FeedbackItem.Kind.PROBLEM,
        )
        .values("feature_id", "feature__title", "feature__status")
        .annotate(reports=Count("id"))
        .order_by("feature__title", "feature_id")
    )
    return [
        {
            "feature_id": row["feature_id"],
            "title": row["feature__title"],
            "status": row["feature__status"],
            "reports": row["reports"],
        }
        for row in rows
    ]


# --- search (the portal's search box and pickers; productops.search) ---------------


def company_search(*, workspace: Workspace, query: str, limit: int = SEARCH_LIMIT) -> QuerySet[Company]:
    """Companies whose name or domain contains every word of ``query``, by name, at most
    ``limit``; what a result or picker shows only. One query; on PostgreSQL one bitmap scan
    of ``feedback_company_search_trgm``."""
    rows = rows_containing(
        Company.objects.all(), workspace_id=workspace.pk, columns=("name", "domain"), query=query
    )
    return rows.only("id", "workspace_id", "name", "domain", "segment", "lifecycle_stage").order_by(
        "name", "id"
    )[:limit]


def contact_search(*, workspace: Workspace, query: str, limit: int = SEARCH_LIMIT) -> QuerySet[Contact]:
    """Contacts whose e-mail address or name contains every word of ``query``, by e-mail, at
    most ``limit``, with their company's name. One query; on PostgreSQL one bitmap scan of
    ``feedback_contact_search_trgm``."""
    rows = rows_containing(
        Contact.objects.all(), workspace_id=workspace.pk, columns=("email", "name"), query=query
    )
    return (
        rows.select_related("company")
        .only("id", "workspace_id", "email", "name", "company_id", "company__name")
        .order_by("email", "id")[:limit]
    )


def feedback_search(*, workspace: Workspace, query: str, limit: int = SEARCH_LIMIT) -> QuerySet[FeedbackItem]:
    """Open (not merged) feedback matching ``query`` with the inbox's full-text search
    (:func:`feedback_items_matching`), newest received first, at most ``limit``, with the
    contact's and company's names. One query."""
    if not query.strip():
        return FeedbackItem.objects.none()
    items = feedback_items_matching(
        FeedbackItem.objects.for_workspace(workspace).filter(merged_into__isnull=True),
        query[:QUERY_MAX_LENGTH],
    )
    return (
        items.select_related("company", "contact")
        .only(
            "id",
            "workspace_id",
            "text",
            "state",
            "kind",
            "received_at",
            "company_id",
            "company__name",
            "contact_id",
            "contact__name",
            "contact__email",
        )
        .order_by("-received_at", "-id")[:limit]
    )


# --- the portal's contact pages --------------------------------------------------------


def contact_directory(*, workspace: Workspace, query: str = "") -> QuerySet[Contact]:
    """:func:`contact_list` with each contact's open feedback and vote counts (one correlated
    count each), narrowed by name or e-mail (every word must appear), by e-mail."""
    feedback = FeedbackItem.objects.filter(contact_id=OuterRef("pk"), merged_into__isnull=True)
    votes = Vote.objects.filter(contact_id=OuterRef("pk"))
    contacts = contact_list(workspace=workspace).annotate(
        feedback_count=_SubqueryCount(feedback.order_by().values("pk")),
        vote_count=_SubqueryCount(votes.order_by().values("pk")),
    )
    return words_contain(contacts, columns=("name", "email"), query=query)


def contact_feedback(*, contact: Contact) -> QuerySet[FeedbackItem]:
    """The contact's open (not merged) feedback, newest first, with its company and linked features."""
    return (
        FeedbackItem.objects.filter(
            workspace_id=contact.workspace_id, contact=contact, merged_into__isnull=True
        )
        .select_related("company")
        .prefetch_related(_links_with_features())
        .order_by("-received_at", "-id")
    )


def contact_votes(*, contact: Contact) -> QuerySet[Vote]:
    """The contact's votes, newest first, with the feature."""
    return (
        Vote.objects.filter(workspace_id=contact.workspace_id, contact=contact)
        .select_related("feature")
        .order_by("-created_at", "-id")
    )


def company_account_owners(*, company: Company) -> QuerySet:
    """The members who own the account, by username."""
    return company.account_owners.order_by("username", "id")
