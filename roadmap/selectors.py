"""Reads of the roadmap: scoped, joined and ordered here so no view can cause an N+1."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from productops.models import AuditEvent, Workspace
from productops.search import SEARCH_LIMIT, rows_containing
from productops.selectors import audit_event_list
from roadmap.models import (
    DEFAULT_IMPORTANCE_WEIGHTS,
    DEFAULT_SEGMENT_WEIGHTS,
    MODEL_COLUMN,
    Competitor,
    Feature,
    FeatureComment,
    FeatureCriterionValue,
    FeatureDependency,
    FeatureMention,
    FeatureStatus,
    FeatureStatusChange,
    Goal,
    Initiative,
    KeyResult,
    KeyResultValue,
    Product,
    RoadmapSettings,
    ScorecardCriterion,
    Tag,
    Team,
    TeamCapacity,
)


def settings_for(workspace_id: int) -> RoadmapSettings:
    """The workspace's priority-engine settings row, created with the defaults on first use."""
    settings_row, _ = RoadmapSettings.objects.get_or_create(
        workspace_id=workspace_id,
        defaults={
            "importance_weights": DEFAULT_IMPORTANCE_WEIGHTS,
            "segment_weights": DEFAULT_SEGMENT_WEIGHTS,
        },
    )
    return settings_row


def roadmap_settings(*, workspace: Workspace) -> RoadmapSettings:
    return settings_for(workspace.pk)


def product_list(*, workspace: Workspace) -> QuerySet[Product]:
    return (
        Product.objects.for_workspace(workspace)
        .annotate(feature_count=Count("features"))
        .order_by("name", "id")
    )


def goal_list(*, workspace: Workspace) -> QuerySet[Goal]:
    return (
        Goal.objects.for_workspace(workspace)
        .select_related("product", "parent", "owner")
        .prefetch_related("key_results")
        .order_by("period", "title", "id")
    )


def key_result_list(*, workspace: Workspace) -> QuerySet[KeyResult]:
    return KeyResult.objects.for_workspace(workspace).select_related("goal").order_by("goal_id", "id")


def initiative_list(*, workspace: Workspace) -> QuerySet[Initiative]:
    return Initiative.objects.for_workspace(workspace).select_related("goal", "owner").order_by("title", "id")


def team_list(*, workspace: Workspace) -> QuerySet[Team]:
    return Team.objects.for_workspace(workspace).order_by("name", "id")


def team_capacity_list(*, workspace: Workspace) -> QuerySet[TeamCapacity]:
    return (
        TeamCapacity.objects.for_workspace(workspace)
        .select_related("team")
        .order_by("team__name", "starts_on")
    )


def scorecard_criterion_list(*, workspace: Workspace) -> QuerySet[ScorecardCriterion]:
    return ScorecardCriterion.objects.for_workspace(workspace).order_by("position", "id")


def tag_list(*, workspace: Workspace) -> QuerySet[Tag]:
    return Tag.objects.for_workspace(workspace).order_by("name")


def competitor_list(*, workspace: Workspace) -> QuerySet[Competitor]:
    return Competitor.objects.for_workspace(workspace).order_by("name")


def feature_list(*, workspace: Workspace) -> QuerySet[Feature]:
    """Features ranked (unranked last), their own columns only: no join, no prefetch.

    A list or card shows its relations by id or name only; read them for a whole page at
    once with :func:`feature_relations` (four queries, whatever the page's size). Joining
    product, initiative, owner and team onto every row before the sort, and Django's
    prefetches (a queryset cloned per row and relation), cost more than the page itself
    (docs/performance.md, "The API under load")."""
    return Feature.objects.for_workspace(workspace).order_by(F("priority_rank").asc(nulls_last=True), "id")


@dataclass(frozen=True)
class FeatureRelations:
    """What a feature's answer shows of its relations: ids and names, in the answer's order."""

    goal_ids: list[int]
    tag_names: list[str]
    competitor_names: list[str]
    depends_on_ids: list[int]


def feature_relations(feature_ids: Iterable[int]) -> dict[int, FeatureRelations]:
    """The relations of these features, in one query (rows as tuples, no model instances).

    Goals in the goal's order (period, title, id), tags and competitors by name, the
    features depended on by id; every id asked for has an entry (empty lists). One
    statement of four parts rather than four ORM querysets: on the feature list these
    were a fifth of the request's CPU (compiling and running four queries)."""
    ids = list(feature_ids)
    goals, tags, competitors, depends = (defaultdict(list) for _ in range(4))
    if ids:
        goal, tag, competitor = (model._meta.db_table for model in (Goal, Tag, Competitor))
        through = {name: Feature._meta.get_field(name).remote_field.through._meta.db_table for name in
                   ("goals", "tags", "competitors")}  # fmt: skip
        # PostgreSQL: one array parameter per part (planning 50 ``IN`` parameters four times
        # cost more than running the statement: 1.5 against 0.8 ms); SQLite has no arrays.
        if connection.vendor == "postgresql":
            match, params = "= ANY(%s)", [ids] * 4
        else:
            match, params = f"IN ({', '.join(['%s'] * len(ids))})", ids * 4
        # (part, feature, id, name, sort keys): each part sorted as its model's default order.
        sql = f"""
            SELECT 0, l.feature_id, g.id, NULL, g.period, g.title, g.id
              FROM {through["goals"]} l JOIN {goal} g ON g.id = l.goal_id WHERE l.feature_id {match}
            UNION ALL
            SELECT 1, l.feature_id, NULL, t.name, t.name, '', t.id
              FROM {through["tags"]} l JOIN {tag} t ON t.id = l.tag_id WHERE l.feature_id {match}
            UNION ALL
            SELECT 2, l.feature_id, NULL, c.name, c.name, '', c.id
              FROM {through["competitors"]} l JOIN {competitor} c ON c.id = l.competitor_id
             WHERE l.feature_id {match}
            UNION ALL
            SELECT 3, d.feature_id, d.depends_on_id, NULL, '', '', d.depends_on_id
              FROM {FeatureDependency._meta.db_table} d WHERE d.feature_id {match}
            ORDER BY 1, 5, 6, 7
        """  # noqa: S608 - table names from the models, values as parameters
        parts = (goals, tags, competitors, depends)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for part, feature_id, related_id, name, *_ in cursor.fetchall():
                parts[part][feature_id].append(related_id if name is None else name)
    return {pk: FeatureRelations(goals[pk], tags[pk], competitors[pk], depends[pk]) for pk in ids}


def open_feature_titles(
    *, workspace_id: int, public_only: bool = False, feature_ids: Iterable[int] | None = None
) -> list[tuple[int, str]]:
    """(id, lower-cased title) of features that can still take feedback: not shipped, declined or merged
    (and, with ``public_only``, shown on the public board; with ``feature_ids``, only those)."""
    features = Feature.objects.filter(workspace_id=workspace_id, merged_into__isnull=True)
    if feature_ids is not None:
        features = features.filter(pk__in=list(feature_ids))
    if public_only:
        features = features.filter(is_public=True)
    rows = (
        features.exclude(status__in=[FeatureStatus.SHIPPED, FeatureStatus.DECLINED])
        .order_by("id")
        .values_list("id", "title")
    )
    return [(pk, title.lower()) for pk, title in rows]


def feature_status_history(*, feature: Feature) -> QuerySet[FeatureStatusChange]:
    return (
        FeatureStatusChange.objects.filter(feature=feature)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


# --- capacity: what a team can build in a period against what is planned in it -------------

CAPACITY_STATUSES = (FeatureStatus.IN_PROGRESS, FeatureStatus.PLANNED)
#: Features listed per part of a capacity answer (fits, overflow, unscheduled); the counts are exact.
CAPACITY_LISTED = 200
CENT = Decimal("0.01")


def share_in_period(feature: Feature, starts_on: date, ends_on: date) -> Decimal | None:
    """How much of ``feature`` falls in the period: the share of the days from its planned
    start to its target date that lie inside it; with only a target date (or only a start),
    1 when that day falls inside and 0 otherwise; None when it has no dates (unscheduled).

    The one rule for every capacity computation (the fit, the timeline's load and, later,
    a release's scope)."""
    first = feature.planned_start or feature.target_date
    last = feature.target_date or feature.planned_start
    if first is None:
        return None
    overlap = (min(last, ends_on) - max(first, starts_on)).days + 1
    if overlap <= 0:
        return Decimal(0)
    return Decimal(overlap) / Decimal((last - first).days + 1)


def planned_cost(feature: Feature, starts_on: date, ends_on: date) -> Decimal | None:
    """The effort ``feature`` puts on the period (effort × share), to the cent; None without
    an effort estimate or dates."""
    share = share_in_period(feature, starts_on, ends_on)
    if share is None or feature.effort is None:
        return None
    return (feature.effort * share).quantize(CENT)


@dataclass
class CapacityFit:
    capacity: TeamCapacity
    fits: list[tuple[Feature, Decimal]] = field(default_factory=list)
    overflow: list[tuple[Feature, str]] = field(default_factory=list)
    unscheduled: list[Feature] = field(default_factory=list)
    used: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return self.capacity.capacity - self.used


def _capacity_candidates(team_id: int, workspace_id: int) -> list[Feature]:
    return list(
        Feature.objects.filter(
            workspace_id=workspace_id,
            team_id=team_id,
            status__in=CAPACITY_STATUSES,
            merged_into__isnull=True,
        ).only(
            "id",
            "title",
            "status",
            "horizon",
            "product_id",
            "team_id",
            "effort",
            "planned_start",
            "target_date",
            "priority_score",
            "priority_rank",
        )
    )


def capacity_fit(*, capacity: TeamCapacity) -> CapacityFit:
    """Which of the team's planned work fits its capacity for the period, and why the rest does not.

    A feature counts in the period by its share of it (:func:`share_in_period`), so its
    cost here is effort × share; features that fall outside the period do not count, and
    features without dates are listed as ``unscheduled``. In-progress work is counted
    first, then planned features by priority rank. A feature fits only with its unshipped
    dependencies: those the team also has in this period are pulled in ahead of it (if
    they fit together); one that ends before this period (scheduled earlier, by any team)
    is fine; any other makes it overflow, as does a missing effort estimate.
    """
    starts_on, ends_on = capacity.starts_on, capacity.ends_on
    result = CapacityFit(capacity=capacity)
    candidates = []
    for feature in _capacity_candidates(capacity.team_id, capacity.workspace_id):
        share = share_in_period(feature, starts_on, ends_on)
        if share is None:
            result.unscheduled.append(feature)
        elif share > 0:
            candidates.append(feature)
    candidates.sort(
        key=lambda f: (
            f.status != FeatureStatus.IN_PROGRESS,
            f.priority_rank is None,
            f.priority_rank or 0,
            f.pk,
        )
    )
    result.unscheduled.sort(key=lambda f: (f.priority_rank is None, f.priority_rank or 0, f.pk))
    by_id = {f.pk: f for f in candidates}
    deps: dict[int, list[int]] = defaultdict(list)
    dep_rows: dict[int, Feature] = {}
    for link in FeatureDependency.objects.filter(feature_id__in=by_id).select_related("depends_on"):
        deps[link.feature_id].append(link.depends_on_id)
        dep_rows[link.depends_on_id] = link.depends_on
    placed: set[int] = set()
    failed: dict[int, str] = {}

    def done_in_time(dependency: Feature) -> bool:
        if dependency.status == FeatureStatus.SHIPPED:
            return True
        last = dependency.target_date or dependency.planned_start
        return last is not None and last < starts_on

    def requirements(feature_id: int, trail: tuple[int, ...] = ()) -> tuple[list[int], str | None]:
        """Unplaced features (dependencies first) this one needs, or why it cannot fit."""
        needed: list[int] = []
        for dep_id in deps.get(feature_id, []):
            dependency = dep_rows[dep_id]
            if dep_id in placed or done_in_time(dependency):
                continue
            if dep_id not in by_id:
                return [], f"depends on “{dependency.title}”, which is not scheduled before this period"
            if dep_id in failed:
                return [], f"depends on “{dependency.title}”, which does not fit"
            if dep_id in trail:
                continue
            sub, reason = requirements(dep_id, (*trail, feature_id))
            if reason:
                return [], reason
            needed.extend(d for d in sub if d not in needed)
        needed.append(feature_id)
        return needed, None

    for feature in candidates:
        if feature.pk in placed or feature.pk in failed:
            continue
        if feature.effort is None:
            failed[feature.pk] = "no effort estimate"
            result.overflow.append((feature, failed[feature.pk]))
            continue
        needed, reason = requirements(feature.pk)
        if reason is None:
            missing = [by_id[i].title for i in needed if by_id[i].effort is None]
            if missing:
                reason = f"a dependency has no effort estimate ({', '.join(missing)})"
        if reason is None:
            cost = sum((planned_cost(by_id[i], starts_on, ends_on) for i in needed), Decimal(0))
            if cost > result.remaining:
                reason = f"needs {cost} here with its dependencies, {result.remaining} left"
        if reason is not None:
            failed[feature.pk] = reason
            result.overflow.append((feature, reason))
            continue
        for feature_id in needed:
            placed.add(feature_id)
            cost = planned_cost(by_id[feature_id], starts_on, ends_on)
            result.fits.append((by_id[feature_id], cost))
            result.used += cost
    return result


# --- roadmap views ----------------------------------------------------------------


#: The columns a feature card shows (``FeatureSummary`` in the API, a roadmap card).
SUMMARY_FIELDS = (
    "id",
    "workspace_id",
    "title",
    "status",
    "horizon",
    "product_id",
    "team_id",
    "effort",
    "planned_start",
    "target_date",
    "priority_score",
    "priority_rank",
)
HORIZON_GROUPS = ("now", "next", "later", "unscheduled")


@dataclass
class FeatureGroup:
    """A group of a grouped read: its first features (in rank order) and how many it has."""

    count: int
    features: list[Feature]


def feature_summary_list(*, workspace: Workspace) -> QuerySet[Feature]:
    """Features with only the columns a card shows, ranked (unranked last)."""
    return (
        Feature.objects.for_workspace(workspace)
        .only(*SUMMARY_FIELDS)
        .order_by(F("priority_rank").asc(nulls_last=True), "id")
    )


def roadmap_by_horizon(*, features: QuerySet[Feature], limit: int | None = None) -> dict[str, FeatureGroup]:
    """``features`` by horizon (``now``, ``next``, ``later``, ``unscheduled``), each group's
    first ``limit`` (all with None) in the queryset's order, with its count. Two queries a
    group with a limit (the rows and the count), one in all without."""
    if limit is None:
        groups = {key: FeatureGroup(count=0, features=[]) for key in HORIZON_GROUPS}
        for feature in features:
            group = groups[feature.horizon or "unscheduled"]
            group.features.append(feature)
            group.count += 1
        return groups
    groups = {}
    for key in HORIZON_GROUPS:
        members = features.filter(horizon="" if key == "unscheduled" else key)
        rows = list(members[:limit])
        groups[key] = FeatureGroup(count=len(rows) if len(rows) < limit else members.count(), features=rows)
    return groups


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return _next_month(day) - timedelta(days=1)


def roadmap_by_month(
    *, features: QuerySet[Feature], start: date, end: date, limit: int | None = None
) -> list[dict]:
    """Months from ``start`` to ``end`` with the features whose planned span overlaps each
    (``{"month", "features", "count"}``; with ``limit``, each month's first ``limit``).

    A feature with only a target date sits in that month; one with neither date is left out.
    """
    months = []
    month = _month_start(start)
    while month <= end:
        months.append({"month": month, "features": [], "count": 0})
        month = _next_month(month)
    dated = features.filter(Q(planned_start__isnull=False) | Q(target_date__isnull=False)).filter(
        Q(planned_start__lte=end) | Q(planned_start__isnull=True),
        Q(target_date__gte=_month_start(start)) | Q(target_date__isnull=True),
    )
    for feature in dated:
        first = feature.planned_start or feature.target_date
        last = feature.target_date or feature.planned_start
        for bucket in months:
            if _month_start(first) <= bucket["month"] <= last:
                bucket["count"] += 1
                if limit is None or len(bucket["features"]) < limit:
                    bucket["features"].append(feature)
    return months


# --- public board -----------------------------------------------------------------

#: The only Feature columns customer-facing pages load (no scores, notes or owners).
PUBLIC_FEATURE_FIELDS = (
    "id",
    "workspace_id",
    "title",
    "status",
    "horizon",
    "is_public",
    "merged_into_id",
    "product_id",
    "product__name",
)


def public_feature_list(*, workspace: Workspace) -> QuerySet[Feature]:
    """Features the workspace marked public (not merged away), with their product; no internal columns."""
    return (
        Feature.objects.for_workspace(workspace)
        .filter(is_public=True, merged_into__isnull=True)
        .select_related("product")
        .only(*PUBLIC_FEATURE_FIELDS)
        .order_by("product__name", "title", "id")
    )


# --- portal pages -----------------------------------------------------------------

OPEN_STATUSES = (
    FeatureStatus.IDEA,
    FeatureStatus.UNDER_CONSIDERATION,
    FeatureStatus.PLANNED,
    FeatureStatus.IN_PROGRESS,
)


def feature_board_list(
    *,
    workspace: Workspace,
    product: Product | None = None,
    goal: Goal | None = None,
    initiative: Initiative | None = None,
    team: Team | None = None,
    tag: Tag | None = None,
    statuses: tuple[str, ...] | None = None,
    with_dependencies: bool = False,
) -> QuerySet[Feature]:
    """Unmerged features for the roadmap views (cards: product, team, status, rank, score), ranked,
    narrowed by the filters; ``with_dependencies`` prefetches each one's prerequisites with titles."""
    features = (
        Feature.objects.for_workspace(workspace)
        .filter(merged_into__isnull=True)
        .select_related("product", "team")
        .order_by(F("priority_rank").asc(nulls_last=True), "id")
    )
    if statuses is not None:
        features = features.filter(status__in=statuses)
    # Each filter is one row of a many-to-many at most, so no feature is repeated.
    if product is not None:
        features = features.filter(product=product)
    if goal is not None:
        features = features.filter(goals=goal)
    if initiative is not None:
        features = features.filter(initiative=initiative)
    if team is not None:
        features = features.filter(team=team)
    if tag is not None:
        features = features.filter(tags=tag)
    if with_dependencies:
        features = features.prefetch_related(
            Prefetch(
                "dependency_links",
                queryset=FeatureDependency.objects.select_related("depends_on").order_by("depends_on_id"),
            )
        )
    return features


def feature_matrix_list(*, workspace: Workspace, score_column: str, **filters: object) -> QuerySet[Feature]:
    """Open features with an effort and a ``score_column`` score (the priority matrix's dots)."""
    if score_column not in MODEL_COLUMN.values():
        raise ValueError(f"Not a score column: {score_column}")
    return feature_board_list(workspace=workspace, statuses=OPEN_STATUSES, **filters).filter(
        effort__isnull=False, **{f"{score_column}__isnull": False}
    )


# --- closed work and horizon windows (issue 13, "views that read") -----------------

#: Closed statuses: they leave the horizon columns for a list of their own.
CLOSED_STATUSES = (FeatureStatus.SHIPPED, FeatureStatus.DECLINED)


def feature_closed_list(
    *, workspace: Workspace, status: str = FeatureStatus.SHIPPED, **filters: object
) -> QuerySet[Feature]:
    """Shipped (or declined) features, most recently closed first: ``status_changed_at`` is
    when they reached that status (their ship date); narrowed by the board's filters."""
    if status not in CLOSED_STATUSES:
        raise ValueError(f"Not a closed status: {status}")
    return feature_board_list(workspace=workspace, statuses=(status,), **filters).order_by(
        F("status_changed_at").desc(nulls_last=True), "-id"
    )


def feature_closed_group(*, workspace: Workspace, status: str, limit: int, **filters: object) -> FeatureGroup:
    """The first ``limit`` of :func:`feature_closed_list` and how many there are (one query,
    two when the list is longer than ``limit``)."""
    features = feature_closed_list(workspace=workspace, status=status, **filters)
    rows = list(features[:limit])
    return FeatureGroup(count=len(rows) if len(rows) < limit else features.count(), features=rows)


def feature_shipped_between(
    *, workspace: Workspace, start: date, end: date, **filters: object
) -> list[Feature]:
    """Features shipped from ``start`` to ``end`` (their ship date: when they became shipped),
    in ship order, with their prerequisites (the timeline draws them in the past)."""
    return list(
        feature_board_list(
            workspace=workspace, statuses=(FeatureStatus.SHIPPED,), with_dependencies=True, **filters
        )
        .filter(status_changed_at__date__gte=start, status_changed_at__date__lte=end)
        .order_by("status_changed_at", "id")
    )


@dataclass(frozen=True)
class HorizonWindow:
    """The dates a horizon stands for: ``now`` is this calendar quarter, ``next`` the next one,
    ``later`` anything from the quarter after (no end)."""

    horizon: str
    start: date
    end: date | None

    def overlaps(self, first: date, last: date) -> bool:
        return last >= self.start and (self.end is None or first <= self.end)


def _quarter_start(day: date, quarters_ahead: int = 0) -> date:
    index = (day.month - 1) // 3 + quarters_ahead
    return date(day.year + index // 4, 3 * (index % 4) + 1, 1)


def horizon_window(horizon: str, *, today: date) -> HorizonWindow | None:
    """The window of ``horizon`` seen from ``today`` (None for unscheduled)."""
    offsets = {"now": 0, "next": 1, "later": 2}
    if horizon not in offsets:
        return None
    start = _quarter_start(today, offsets[horizon])
    end = None if horizon == "later" else _quarter_start(today, offsets[horizon] + 1) - timedelta(days=1)
    return HorizonWindow(horizon=horizon, start=start, end=end)


@dataclass(frozen=True)
class HorizonDates:
    """How a feature's planned dates sit with a horizon's window, and the shifted dates."""

    window: HorizonWindow
    planned_start: date | None
    target_date: date | None
    shifted_start: date | None
    shifted_target: date | None


def horizon_dates_conflict(feature: Feature, horizon: str, *, today: date) -> HorizonDates | None:
    """The disagreement between ``feature``'s planned span (planned start to target date, or
    the one it has) and ``horizon``'s window, or None when they agree (or it has no dates, or
    the horizon is unscheduled). The shift moves both dates by the same number of days so
    the span starts at the window's start, or today for ``now``."""
    window = horizon_window(horizon, today=today)
    first = feature.planned_start or feature.target_date
    last = feature.target_date or feature.planned_start
    if window is None or first is None or window.overlaps(first, last):
        return None
    delta = max(window.start, today) - first
    return HorizonDates(
        window=window,
        planned_start=feature.planned_start,
        target_date=feature.target_date,
        shifted_start=feature.planned_start + delta if feature.planned_start else None,
        shifted_target=feature.target_date + delta if feature.target_date else None,
    )


def feature_detail(*, workspace: Workspace, feature_id: int) -> Feature | None:
    """One feature of the workspace with what its page shows, or None."""
    return (
        Feature.objects.for_workspace(workspace)
        .select_related("product", "initiative", "team", "owner")
        .prefetch_related("tags", "goals", "competitors")
        .filter(pk=feature_id)
        .first()
    )


def feature_dependencies(*, feature: Feature) -> dict[str, list[Feature]]:
    """What the feature waits on (``depends_on``) and what waits on it (``dependants``), by title."""
    links = FeatureDependency.objects.filter(Q(feature=feature) | Q(depends_on=feature)).select_related(
        "feature", "depends_on"
    )
    depends_on = sorted((link.depends_on for link in links if link.feature_id == feature.pk), key=_by_title)
    dependants = sorted((link.feature for link in links if link.depends_on_id == feature.pk), key=_by_title)
    return {"depends_on": depends_on, "dependants": dependants}


def feature_criterion_values(*, feature: Feature) -> dict[int, Decimal]:
    """The feature's manual scorecard values by criterion id (one query)."""
    return dict(FeatureCriterionValue.objects.filter(feature=feature).values_list("criterion_id", "value"))


def _by_title(feature: Feature) -> tuple[str, int]:
    return (feature.title.lower(), feature.pk)


def feature_audit_trail(*, feature: Feature, limit: int = 50) -> list[AuditEvent]:
    """The feature's own audit events, newest first."""
    meta = Feature._meta
    return list(
        audit_event_list(workspace=feature.workspace).filter(
            target_type=f"{meta.app_label}.{meta.model_name}", target_id=str(feature.pk)
        )[:limit]
    )


@dataclass
class CapacityLoad:
    capacity: TeamCapacity
    planned: Decimal = Decimal(0)
    features: list[Feature] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.capacity.capacity - self.planned

    @property
    def over(self) -> bool:
        return self.planned > self.capacity.capacity

    @property
    def load_pct(self) -> int:
        if self.capacity.capacity <= 0:
            return 100 if self.planned > 0 else 0
        return round(self.planned / self.capacity.capacity * 100)


def team_capacity_load(
    *, workspace: Workspace, start: date, end: date, team: Team | None = None
) -> list[CapacityLoad]:
    """Each team's capacity periods overlapping ``start``..``end`` against the effort planned in them.

    The same rule as :func:`capacity_fit`: the team's planned and in-progress features count
    in a period by their share of it (:func:`planned_cost`); features without dates count
    nowhere. Two queries, however many teams, periods and features.
    """
    capacities = team_capacity_list(workspace=workspace).filter(starts_on__lte=end, ends_on__gte=start)
    if team is not None:
        capacities = capacities.filter(team=team)
    loads = [CapacityLoad(capacity=capacity) for capacity in capacities]
    by_team: dict[int, list[CapacityLoad]] = defaultdict(list)
    for load in loads:
        by_team[load.capacity.team_id].append(load)
    features = Feature.objects.filter(
        workspace=workspace,
        team_id__in=list(by_team),
        status__in=CAPACITY_STATUSES,
        merged_into__isnull=True,
        effort__isnull=False,
    ).filter(Q(planned_start__isnull=False) | Q(target_date__isnull=False))
    for feature in features.only("id", "title", "team_id", "effort", "planned_start", "target_date"):
        for load in by_team[feature.team_id]:
            cost = planned_cost(feature, load.capacity.starts_on, load.capacity.ends_on)
            if cost:
                load.planned += cost
                load.features.append(feature)
    return loads


def feature_rank_list(*, workspace: Workspace, limit: int = 15) -> list[Feature]:
    """The current top of the ranking (ranked, unmerged features)."""
    return list(
        Feature.objects.for_workspace(workspace)
        .filter(priority_rank__isnull=False, merged_into__isnull=True)
        .select_related("product")
        .order_by("priority_rank", "id")[:limit]
    )


# --- for digests: what changed in a window (appended) --------------------------------------------


def key_result_values_at(*, key_result_ids: Iterable[int], at: datetime) -> dict[int, Decimal]:
    """Each key result's value at ``at``: its latest history point recorded before then
    (a key result with none is absent). One query (a window function)."""
    rows = (
        KeyResultValue.objects.filter(key_result_id__in=list(key_result_ids), recorded_at__lt=at)
        .annotate(
            newest=Window(
                expression=RowNumber(),
                partition_by=[F("key_result_id")],
                order_by=[F("recorded_at").desc(), F("id").desc()],
            )
        )
        .filter(newest=1)
        .values_list("key_result_id", "value")
    )
    return dict(rows)


def key_results_of_goals(*, workspace: Workspace, goal_ids: Iterable[int] | QuerySet) -> list[KeyResult]:
    """The key results of the goals, with their goal, by goal then id."""
    ids = goal_ids if isinstance(goal_ids, QuerySet) else list(goal_ids)
    return list(
        KeyResult.objects.for_workspace(workspace)
        .filter(goal_id__in=ids)
        .select_related("goal")
        .order_by("goal__title", "goal_id", "id")
    )


def feature_status_changes_between(
    *,
    workspace: Workspace,
    since: datetime,
    until: datetime,
    feature_ids: Iterable[int] | QuerySet | None = None,
) -> list[FeatureStatusChange]:
    """Status changes made in [``since``, ``until``) (not a feature's first status), oldest
    first, with the feature's title, public title, status and visibility. One query."""
    rows = (
        FeatureStatusChange.objects.for_workspace(workspace)
        .filter(created_at__gte=since, created_at__lt=until)
        .exclude(from_status="")
        .select_related("feature")
        .only(
            "feature_id",
            "from_status",
            "to_status",
            "reason",
            "context",
            "created_at",
            "feature__id",
            "feature__title",
            "feature__public_title",
            "feature__status",
            "feature__is_public",
            "feature__merged_into_id",
        )
    )
    if feature_ids is not None:
        rows = rows.filter(
            feature_id__in=feature_ids if isinstance(feature_ids, QuerySet) else list(feature_ids)
        )
    return list(rows.order_by("created_at", "id"))


def dependencies_added_between(
    *,
    workspace: Workspace,
    since: datetime,
    until: datetime,
    feature_ids: Iterable[int] | QuerySet | None = None,
) -> list[FeatureDependency]:
    """Dependencies recorded in [``since``, ``until``) on the features, with both titles. One query."""
    rows = (
        FeatureDependency.objects.for_workspace(workspace)
        .filter(created_at__gte=since, created_at__lt=until)
        .select_related("feature", "depends_on")
        .only(
            "created_at",
            "feature__id",
            "feature__title",
            "depends_on__id",
            "depends_on__title",
            "depends_on__status",
        )
    )
    if feature_ids is not None:
        rows = rows.filter(
            feature_id__in=feature_ids if isinstance(feature_ids, QuerySet) else list(feature_ids)
        )
    return list(rows.order_by("created_at", "id"))


def top_open_features(
    *, workspace: Workspace, feature_ids: Iterable[int] | QuerySet | None = None, limit: int = 5
) -> list[Feature]:
    """The top of the ranking among the features (ranked, so not shipped, declined or merged). One query."""
    rows = Feature.objects.for_workspace(workspace).filter(
        priority_rank__isnull=False, merged_into__isnull=True
    )
    if feature_ids is not None:
        rows = rows.filter(pk__in=feature_ids if isinstance(feature_ids, QuerySet) else list(feature_ids))
    return list(
        rows.only("id", "title", "priority_rank", "status", "requesting_companies").order_by(
            "priority_rank", "id"
        )[:limit]
    )


# --- the portal's planning pages (issue 13, appended) ---------------------------------------

#: How deep :func:`goal_descendants` follows nested goals (the services refuse cycles).
GOAL_TREE_MAX_DEPTH = 10


def goal_roots(*, workspace: Workspace) -> QuerySet[Goal]:
    """Goals nested under no other goal, in the goal order, with their key results."""
    return goal_list(workspace=workspace).filter(parent__isnull=True)


def goal_descendants(*, workspace: Workspace, goal_ids: Iterable[int]) -> list[Goal]:
    """Every goal nested under these goals, at any depth (to :data:`GOAL_TREE_MAX_DEPTH`), with
    its key results: two queries a level, however many goals."""
    found: list[Goal] = []
    level = list(goal_ids)
    seen = set(level)
    for _ in range(GOAL_TREE_MAX_DEPTH):
        if not level:
            break
        rows = [
            goal for goal in goal_list(workspace=workspace).filter(parent_id__in=level) if goal.pk not in seen
        ]
        seen.update(goal.pk for goal in rows)
        found.extend(rows)
        level = [goal.pk for goal in rows]
    return found


def key_result_history(*, key_result_ids: Iterable[int], limit: int = 10) -> dict[int, list[KeyResultValue]]:
    """The latest ``limit`` values of each key result, newest first, with who recorded them.
    One query (a window function), however many key results."""
    rows = (
        KeyResultValue.objects.filter(key_result_id__in=list(key_result_ids))
        .annotate(
            newest=Window(
                expression=RowNumber(),
                partition_by=[F("key_result_id")],
                order_by=[F("recorded_at").desc(), F("id").desc()],
            )
        )
        .filter(newest__lte=limit)
        .select_related("actor")
        .order_by("key_result_id", "-recorded_at", "-id")
    )
    history: dict[int, list[KeyResultValue]] = defaultdict(list)
    for row in rows:
        history[row.key_result_id].append(row)
    return history


def initiative_overview_list(*, workspace: Workspace) -> QuerySet[Initiative]:
    """Initiatives with their goal, owner and number of features."""
    return initiative_list(workspace=workspace).annotate(feature_count=Count("features"))


def team_overview_list(*, workspace: Workspace) -> QuerySet[Team]:
    """Teams with their number of features and their capacity periods (one more query)."""
    return (
        team_list(workspace=workspace)
        .annotate(feature_count=Count("features"))
        .prefetch_related("capacities")
    )


def feature_search(*, workspace: Workspace, query: str, limit: int = SEARCH_LIMIT) -> QuerySet[Feature]:
    """Features (not merged) whose title contains every word of ``query``, best ranked first,
    at most ``limit``; what a search result or picker shows only (title, status, rank, product
    name). One query; on PostgreSQL one bitmap scan of ``roadmap_feature_search_trgm``
    (``productops.search``)."""
    # ``merged_into_id + 0``: the b-tree of merged_into_id must not answer "not merged" (every
    # row of every workspace) and be AND-ed with the search index (tests/feedback/test_search_plans.py).
    not_merged = Feature.objects.alias(merged_key=F("merged_into_id") + 0).filter(merged_key__isnull=True)
    rows = rows_containing(
        not_merged,
        workspace_id=workspace.pk,
        columns=("title",),
        query=query,
    )
    return (
        rows.select_related("product")
        .only("id", "workspace_id", "title", "status", "priority_rank", "product_id", "product__name")
        .order_by(F("priority_rank").asc(nulls_last=True), "title", "id")[:limit]
    )


def planning_progress(*, workspace: Workspace) -> dict[str, bool]:
    """Whether the workspace has any product, goal, key result, initiative, team, capacity
    period and feature yet (the planning pages' first steps). One query."""
    models = {
        "products": Product,
        "goals": Goal,
        "key_results": KeyResult,
        "initiatives": Initiative,
        "teams": Team,
        "capacities": TeamCapacity,
        "features": Feature,
    }
    row = (
        Workspace.objects.filter(pk=workspace.pk)
        .annotate(
            **{
                name: Exists(model.objects.filter(workspace_id=OuterRef("pk")))
                for name, model in models.items()
            }
        )
        .values(*models)
        .first()
    )
    return {name: bool(row and row[name]) for name in models}


# --- saved views and share links (issue 13) ------------------------------------------


def saved_view_list(*, workspace: Workspace, user: object, everyone: bool = False) -> QuerySet:
    """The views ``user`` sees: their own and the workspace's shared ones (``everyone``: all of
    them, for product managers), with the owner and the number of working share links."""
    from django.db.models.functions import Lower
    from django.utils import timezone

    from roadmap.models import SavedView

    active = Q(share_links__revoked_at__isnull=True, share_links__expires_at__gt=timezone.now())
    views = (
        SavedView.objects.for_workspace(workspace)
        .select_related("owner")
        .annotate(active_links=Count("share_links", filter=active))
        .order_by(Lower("name"), "id")
    )
    if not everyone:
        views = views.filter(Q(owner=user) | Q(shared=True))
    return views


def saved_view_menu(*, workspace: Workspace, user: object, kind: str) -> QuerySet:
    """The views of one page (``kind``) for the "Views" menu: own and shared, names only."""
    from django.db.models.functions import Lower

    from roadmap.models import SavedView

    return (
        SavedView.objects.for_workspace(workspace)
        .filter(Q(owner=user) | Q(shared=True), kind=kind)
        .only("id", "name", "kind", "query", "shared", "owner_id")
        .order_by(Lower("name"), "id")
    )


def saved_view_detail(*, workspace: Workspace, user: object, view_id: int, everyone: bool = False):
    """One view ``user`` may see (own, shared, or any with ``everyone``), or None."""
    return (
        saved_view_list(workspace=workspace, user=user, everyone=everyone)
        .select_related("workspace", "owner")
        .filter(pk=view_id)
        .first()
    )


def share_link_list(*, view: object) -> QuerySet:
    """A view's share links, newest first, with who made each."""
    from roadmap.models import ShareLink

    return ShareLink.objects.filter(view=view).select_related("created_by").order_by("-created_at", "-id")


def share_link_detail(*, workspace: Workspace, link_id: int):
    """One share link of the workspace with its view (and the view's workspace), or None."""
    from roadmap.models import ShareLink

    return (
        ShareLink.objects.for_workspace(workspace)
        .select_related("workspace", "view", "view__workspace")
        .filter(pk=link_id)
        .first()
    )


def share_link_resolve(*, key: str):
    """The working link (not revoked, not expired) for ``key`` with its view and workspace, or
    None; one query by the key's SHA-256 (an indexed equality: nothing compares the key itself)."""
    from django.utils import timezone

    from productops.services import token_hash
    from roadmap.models import ShareLink

    if not isinstance(key, str) or not 10 <= len(key) <= 100:
        return None
    return (
        ShareLink.objects.select_related("view", "workspace")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def shared_view_features(
    *,
    workspace: Workspace,
    fields: Iterable[str],
    statuses: tuple[str, ...] | None,
    score_column: str | None = None,
    **filters: object,
) -> QuerySet[Feature]:
    """The features of a shared view (``feature_board_list``'s filters and order) loading only
    the columns the link shows: title, product, status and horizon always; dates, team, owner,
    description, rank and scores, demand only when ``fields`` names them (a timeline link
    always has its dates: ``share_link_create``). With ``score_column`` (the matrix): those
    with an effort and that score, highest first when the link shows scores, else by title."""
    shown = set(fields)
    columns = ["id", "workspace_id", "title", "status", "horizon", "product_id", "product__name"]
    if "dates" in shown:
        columns += ["planned_start", "target_date"]
    related = ["product"]
    if "team" in shown:
        columns += ["team_id", "team__name"]
        related.append("team")
    if "owner" in shown:
        columns += ["owner_id", "owner__first_name", "owner__last_name", "owner__username"]
        related.append("owner")
    if "description" in shown:
        columns.append("description")
    if "scores" in shown:
        columns += ["priority_rank", "priority_score", "effort", *MODEL_COLUMN.values()]
    if "demand" in shown:
        known = {f.name for f in Feature._meta.get_fields()}
        columns += [c for c in ("requesting_companies", "arr_at_stake", "critical_requests") if c in known]
    features = (
        feature_board_list(workspace=workspace, statuses=statuses, **filters)
        .select_related(None)
        .select_related(*related)
        .only(*columns)
    )
    if score_column is not None:
        if score_column not in MODEL_COLUMN.values():
            raise ValueError(f"Not a score column: {score_column}")
        features = features.filter(effort__isnull=False, **{f"{score_column}__isnull": False})
        # With the scores hidden, not even their order is shown.
        order = (F(score_column).desc(), "effort", "id") if "scores" in shown else ("title", "id")
        features = features.order_by(*order)
    return features


# --- internal comments and @mentions (issue 13) ----------------------------------------------

#: Comments the feature page shows (the newest ones; the API pages through all of them).
COMMENTS_SHOWN = 100
#: Mentions the dashboard's panel lists.
MENTIONS_SHOWN = 10


def feature_comment_list(*, feature: Feature) -> QuerySet[FeatureComment]:
    """The feature's comments, oldest first, each with its author and mentioned members."""
    return (
        FeatureComment.objects.filter(workspace_id=feature.workspace_id, feature=feature)
        .select_related("author")
        .prefetch_related(Prefetch("mentions", queryset=FeatureMention.objects.select_related("user")))
        .order_by("created_at", "id")
    )


def feature_comment_thread(
    *, feature: Feature, limit: int = COMMENTS_SHOWN
) -> tuple[list[FeatureComment], bool]:
    """The feature page's thread: its newest ``limit`` comments, oldest first, and whether
    there are older ones (one query: authors joined, mentions not loaded)."""
    newest = list(
        FeatureComment.objects.filter(workspace_id=feature.workspace_id, feature=feature)
        .select_related("author")
        .order_by("-created_at", "-id")[: limit + 1]
    )
    more = len(newest) > limit
    newest = newest[:limit]
    newest.reverse()
    for comment in newest:
        comment.feature = feature
    return newest, more


def mentions_for(user, workspace: Workspace, *, limit: int = MENTIONS_SHOWN) -> list[FeatureMention]:
    """The member's latest mentions in the workspace, newest first, unseen ones flagged by
    ``seen_at`` None, each with its comment, the comment's author and feature (one query)."""
    return list(
        FeatureMention.objects.for_workspace(workspace)
        .filter(user=user)
        .select_related("comment", "comment__author", "comment__feature")
        .only(
            "id",
            "created_at",
            "seen_at",
            "user_id",
            "comment__id",
            "comment__body",
            "comment__created_at",
            "comment__feature__id",
            "comment__feature__title",
            "comment__author__id",
            "comment__author__username",
            "comment__author__first_name",
            "comment__author__last_name",
        )
        .order_by("-created_at", "-id")[:limit]
    )


def share_link_visible_list(*, workspace: Workspace, user: object, everyone: bool = False) -> QuerySet:
    """The share links of the views ``user`` sees (``saved_view_list``), with their makers."""
    from roadmap.models import ShareLink

    links = (
        ShareLink.objects.for_workspace(workspace)
        .select_related("view", "view__workspace", "workspace", "created_by")
        .order_by("-created_at", "-id")
    )
    if not everyone:
        links = links.filter(Q(view__owner=user) | Q(view__shared=True))
    return links
