"""Reads of releases: lists, readiness and risk, the changelog, metrics.

:func:`release_health` answers for a whole list of releases in a constant number of
queries (scope, checklist, dependencies, capacity, settings), whatever the list's length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from productops.models import Workspace
from releases.models import (
    OPEN_STATUSES,
    ChangelogSettings,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseSettings,
    ReleaseStatus,
    ReleaseStatusChange,
    ScopeItem,
    ScopeOutcome,
    ScopeState,
    SuccessMetric,
)
from roadmap.models import Feature, FeatureDependency, FeatureStatus
from roadmap.selectors import planned_cost, team_capacity_load

# --- lists -----------------------------------------------------------------------------------


def release_list(*, workspace: Workspace) -> QuerySet[Release]:
    """The workspace's releases with their product and owner, by planned date."""
    return (
        Release.objects.filter(workspace=workspace)
        .select_related("product", "owner")
        .order_by(F("planned_date").asc(nulls_last=True), "id")
    )


def release_detail(*, workspace: Workspace, release_id: int) -> Release | None:
    return release_list(workspace=workspace).filter(pk=release_id).first()


def release_status_history(*, release: Release) -> QuerySet[ReleaseStatusChange]:
    return (
        ReleaseStatusChange.objects.filter(release=release)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )


def scope_item_list(*, workspace: Workspace) -> QuerySet[ScopeItem]:
    return (
        ScopeItem.objects.filter(workspace=workspace)
        .select_related("feature", "release")
        .order_by("release_id", "position", "id")
    )


def release_scope(*, release: Release, include_closed: bool = False) -> list[ScopeItem]:
    items = ScopeItem.objects.filter(release=release)
    if not include_closed:
        items = items.filter(is_open=True)
    return list(items.select_related("feature", "feature__team").order_by("-is_open", "position", "id"))


def open_release_of_features(*, feature_ids: Iterable[int]) -> dict[int, ScopeItem]:
    """The open scope row (with its release) of each feature that has one; one query."""
    rows = ScopeItem.objects.filter(feature_id__in=list(feature_ids), is_open=True).select_related("release")
    return {row.feature_id: row for row in rows}


def feature_releases(*, feature: Feature) -> list[ScopeItem]:
    """Every release the feature was or is in, newest first (scope rows with their release)."""
    return list(
        ScopeItem.objects.filter(feature=feature).select_related("release").order_by("-added_at", "-id")
    )


def checklist_task_list(*, workspace: Workspace) -> QuerySet[ChecklistTask]:
    return (
        ChecklistTask.objects.filter(workspace=workspace)
        .select_related("owner")
        .order_by("release_id", "position", "id")
    )


def checklist_template(*, workspace: Workspace) -> QuerySet[ChecklistTemplateItem]:
    return ChecklistTemplateItem.objects.filter(workspace=workspace).select_related("default_owner")


def _latest_actual() -> Subquery:
    return Subquery(
        MetricActual.objects.filter(metric=OuterRef("pk")).order_by("-recorded_on", "-id").values("value")[:1]
    )


def success_metric_list(*, workspace: Workspace) -> QuerySet[SuccessMetric]:
    """Metrics with ``latest_actual`` (the last recorded value) and their key result."""
    return (
        SuccessMetric.objects.filter(workspace=workspace)
        .select_related("key_result", "release", "feature")
        .annotate(latest_actual=_latest_actual())
        .order_by("review_date", "id")
    )


def metric_actual_list(*, workspace: Workspace) -> QuerySet[MetricActual]:
    return MetricActual.objects.filter(workspace=workspace).order_by("metric_id", "-recorded_on", "-id")


def metric_actual(metric: SuccessMetric) -> Decimal | None:
    """The metric's actual: its key result's current value when it reads one, else the last
    recorded value (``latest_actual`` from :func:`success_metric_list`)."""
    if metric.key_result_id is not None and metric.key_result is not None:
        return metric.key_result.current
    return getattr(metric, "latest_actual", None)


def metric_reviews_due(
    *, workspace: Workspace, today: date | None = None, limit: int = 10
) -> list[SuccessMetric]:
    """Metrics whose review date has come and that nobody has reviewed yet."""
    today = today or timezone.localdate()
    return list(
        success_metric_list(workspace=workspace).filter(review_date__lte=today, reviewed_at__isnull=True)[
            :limit
        ]
    )


# --- readiness and risk --------------------------------------------------------------------------


@dataclass
class ReleaseHealth:
    """Readiness (what is missing) and risk (why) of one release."""

    release: Release
    must_haves: int = 0
    must_haves_done: int = 0
    required_tasks: int = 0
    required_tasks_done: int = 0
    missing: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    remaining_effort: Decimal = Decimal(0)
    available_capacity: Decimal | None = None

    @property
    def is_ready(self) -> bool:
        """Ready to ship: open, nothing missing (a shipped or cancelled release is not)."""
        return self.release.status in OPEN_STATUSES and not self.missing

    @property
    def at_risk(self) -> bool:
        return bool(self.risks)

    @property
    def readiness_total(self) -> int:
        return self.must_haves + self.required_tasks

    @property
    def readiness_done(self) -> int:
        return self.must_haves_done + self.required_tasks_done

    @property
    def readiness_pct(self) -> int:
        total = self.readiness_total
        return 100 if total == 0 else round(self.readiness_done * 100 / total)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def release_health(
    *, workspace: Workspace, releases: Sequence[Release], today: date | None = None
) -> dict[int, ReleaseHealth]:
    """Readiness and risk of each release, by id, in a constant number of queries.

    **Ready**: every must-have scope row is done and every required checklist task is done
    (or marked not needed); ``missing`` lists the rest. Shipped and cancelled releases are
    neither ready nor at risk: they are past.

    **At risk**, each reason listed:

    * the planned date is within the workspace's window (``ReleaseSettings.
      risk_window_days``), or past, and must-haves are still to do;
    * the remaining effort (must-haves not done) exceeds the capacity available to their
      teams from today to the planned date: each capacity period counts by the share of
      its days in that window, minus the other work planned in it (the roadmap's one rule,
      :func:`roadmap.selectors.planned_cost`); a must-have without an effort estimate or a
      team is itself a reason;
    * a must-have depends on a feature outside the release that is not shipped and has no
      target date on or before the planned date;
    * required checklist tasks are overdue.
    """
    today = today or timezone.localdate()
    health = {r.pk: ReleaseHealth(release=r) for r in releases}
    open_ids = [r.pk for r in releases if r.status in OPEN_STATUSES]
    if not open_ids:
        return health
    settings_row = ReleaseSettings.objects.filter(workspace=workspace).first()
    window = (
        settings_row.risk_window_days
        if settings_row
        else ReleaseSettings._meta.get_field("risk_window_days").default
    )

    items = list(
        ScopeItem.objects.filter(release_id__in=open_ids, is_open=True)
        .select_related("feature")
        .only(
            "release_id",
            "is_must_have",
            "state",
            "position",
            "feature__id",
            "feature__title",
            "feature__team_id",
            "feature__effort",
            "feature__status",
            "feature__planned_start",
            "feature__target_date",
        )
        .order_by("position", "id")
    )
    tasks = list(
        ChecklistTask.objects.filter(release_id__in=open_ids, is_required=True)
        .only("release_id", "title", "state", "due_date", "position")
        .order_by("position", "id")
    )
    must_by_release: dict[int, list[ScopeItem]] = defaultdict(list)
    scope_features: dict[int, set[int]] = defaultdict(set)
    for item in items:
        scope_features[item.release_id].add(item.feature_id)
        if item.is_must_have:
            must_by_release[item.release_id].append(item)
    must_feature_ids = {i.feature_id for i in items if i.is_must_have and i.state != ScopeState.DONE}
    deps: dict[int, list[Feature]] = defaultdict(list)
    for link in (
        FeatureDependency.objects.filter(feature_id__in=must_feature_ids)
        .select_related("depends_on")
        .only(
            "feature_id",
            "depends_on__id",
            "depends_on__title",
            "depends_on__status",
            "depends_on__target_date",
        )
    ):
        deps[link.feature_id].append(link.depends_on)

    planned_dates = [r.planned_date for r in releases if r.pk in open_ids and r.planned_date]
    loads_by_team = defaultdict(list)
    if planned_dates and max(planned_dates) >= today:
        for load in team_capacity_load(workspace=workspace, start=today, end=max(planned_dates)):
            loads_by_team[load.capacity.team_id].append(load)

    for task in tasks:
        h = health[task.release_id]
        h.required_tasks += 1
        if task.is_finished:
            h.required_tasks_done += 1
        else:
            h.missing.append(f"Required task not done: {task.title}")

    for release in releases:
        if release.pk not in open_ids:
            continue
        h = health[release.pk]
        musts = must_by_release.get(release.pk, [])
        remaining = [i for i in musts if i.state != ScopeState.DONE]
        h.must_haves = len(musts)
        h.must_haves_done = len(musts) - len(remaining)
        h.missing[:0] = [f"Must-have not done: {i.feature.title}" for i in remaining]
        planned = release.planned_date

        todo = [i.feature.title for i in remaining if i.state == ScopeState.TODO]
        if planned is not None and todo:
            days_left = (planned - today).days
            if days_left < 0:
                h.risks.append(
                    f"The planned date passed {_days(-days_left)} ago "
                    f"with must-haves to do: {', '.join(todo)}"
                )
            elif days_left <= window:
                h.risks.append(
                    f"Planned in {_days(days_left)} with must-haves not started: {', '.join(todo)}"
                )

        no_effort = [i.feature.title for i in remaining if i.feature.effort is None]
        if no_effort:
            h.risks.append(f"No effort estimate: {', '.join(no_effort)}")
        no_team = [
            i.feature.title for i in remaining if i.feature.effort is not None and i.feature.team_id is None
        ]
        if no_team:
            h.risks.append(f"No team to build it: {', '.join(no_team)}")
        h.remaining_effort = sum(
            (i.feature.effort for i in remaining if i.feature.effort is not None), Decimal(0)
        )
        if planned is not None and remaining and h.remaining_effort > 0:
            h.available_capacity, periods = _available(
                remaining, loads_by_team, start=today, end=planned, in_release=scope_features[release.pk]
            )
            if not periods and any(i.feature.team_id for i in remaining):
                h.risks.append(
                    f"Their teams have no capacity planned before {planned:%Y-%m-%d} "
                    f"for the remaining must-have effort {h.remaining_effort}"
                )
            elif h.remaining_effort > h.available_capacity:
                h.risks.append(
                    f"Remaining must-have effort {h.remaining_effort} exceeds the {h.available_capacity} "
                    f"available to their teams before {planned:%Y-%m-%d}"
                )

        blocking = []
        for item in remaining:
            for dep in deps.get(item.feature_id, []):
                if dep.pk in scope_features[release.pk] or dep.status == FeatureStatus.SHIPPED:
                    continue
                if planned is not None and dep.target_date is not None and dep.target_date <= planned:
                    continue
                blocking.append(f"{item.feature.title} needs {dep.title}")
        if blocking:
            h.risks.append(f"Depends on unshipped work outside the release: {'; '.join(blocking)}")

        overdue = [
            t.title
            for t in tasks
            if t.release_id == release.pk and not t.is_finished and t.due_date and t.due_date < today
        ]
        if overdue:
            h.risks.append(f"Required tasks overdue: {', '.join(overdue)}")
    return health


def _available(
    remaining: list[ScopeItem], loads_by_team: dict, *, start: date, end: date, in_release: set[int]
) -> tuple[Decimal, int]:
    """Capacity of the remaining must-haves' teams from ``start`` to ``end``, and how many
    capacity periods it came from: each period by the share of its days inside the window,
    minus the same share of the other work planned in it (features of this release do not
    count against it)."""
    if end < start:
        return Decimal(0), 0
    total = Decimal(0)
    periods = 0
    for team_id in {i.feature.team_id for i in remaining if i.feature.team_id is not None}:
        for load in loads_by_team.get(team_id, []):
            capacity = load.capacity
            first, last = max(capacity.starts_on, start), min(capacity.ends_on, end)
            if last < first:
                continue
            periods += 1
            share = Decimal((last - first).days + 1) / Decimal(
                (capacity.ends_on - capacity.starts_on).days + 1
            )
            other = sum(
                (
                    planned_cost(f, capacity.starts_on, capacity.ends_on) or Decimal(0)
                    for f in load.features
                    if f.pk not in in_release
                ),
                Decimal(0),
            )
            total += max(Decimal(0), (capacity.capacity - other) * share)
    return total.quantize(Decimal("0.01")), periods


def upcoming_releases(*, workspace: Workspace, limit: int = 5) -> list[tuple[Release, ReleaseHealth]]:
    """The next open releases by planned date (undated last), with their health."""
    releases = list(
        release_list(workspace=workspace)
        .filter(status__in=OPEN_STATUSES)
        .order_by(F("planned_date").asc(nulls_last=True), "id")[:limit]
    )
    health = release_health(workspace=workspace, releases=releases)
    return [(r, health[r.pk]) for r in releases]


# --- the public changelog -----------------------------------------------------------------------

#: Entries per feed; releases per changelog page.
FEED_ENTRIES = 50
CHANGELOG_PAGE_SIZE = 10


def changelog_settings(*, workspace: Workspace) -> ChangelogSettings:
    row = ChangelogSettings.objects.filter(workspace=workspace).first()
    return row or ChangelogSettings(workspace=workspace)


def enabled_changelog(*, workspace_slug: str) -> ChangelogSettings | None:
    """The changelog settings of the workspace with this slug, if it opted in."""
    return (
        ChangelogSettings.objects.filter(workspace__slug=workspace_slug, enabled=True)
        .select_related("workspace")
        .first()
    )


def changelog_releases(*, workspace: Workspace, product_id: int | None = None) -> QuerySet[Release]:
    """Shipped public releases with published notes, newest first; only public fields are loaded."""
    releases = Release.objects.filter(
        workspace=workspace, status=ReleaseStatus.RELEASED, is_public=True, notes_published_at__isnull=False
    )
    if product_id is not None:
        releases = releases.filter(product_id=product_id)
    return (
        releases.select_related("product")
        .only(
            "id",
            "public_id",
            "name",
            "version",
            "summary",
            "published_notes",
            "notes_published_at",
            "shipped_at",
            "shipped_on",
            "updated_at",
            "product__id",
            "product__name",
        )
        .order_by("-shipped_at", "-id")
    )


def changelog_products(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, name) of the products with at least one release on the changelog."""
    return list(
        changelog_releases(workspace=workspace)
        .order_by()
        .values_list("product_id", "product__name")
        .distinct()
        .order_by("product__name")
    )


def timeline_release_markers(*, workspace: Workspace, start: date, end: date) -> list[Release]:
    """Releases dated (shipped on, else planned for) between ``start`` and ``end``, for the timeline."""
    releases = (
        release_list(workspace=workspace)
        .exclude(status=ReleaseStatus.CANCELLED)
        .filter(
            Q(shipped_on__range=(start, end)) | Q(shipped_on__isnull=True, planned_date__range=(start, end))
        )
    )
    return list(releases)


def releases_prefetch_scope() -> Prefetch:
    return Prefetch(
        "scope_items",
        queryset=ScopeItem.objects.filter(is_open=True).select_related("feature").order_by("position", "id"),
        to_attr="open_scope",
    )


def days_until(day: date | None, today: date | None = None) -> int | None:
    return None if day is None else (day - (today or timezone.localdate())).days


# --- the team portal's release pages ---------------------------------------------------------


def release_feature_candidates(*, release: Release) -> list[Feature]:
    """Features that can join ``release``: its product's, unmerged, not shipped or declined,
    and in no open release; by rank (unranked last), one query."""
    in_open_release = ScopeItem.objects.filter(feature=OuterRef("pk"), is_open=True)
    return list(
        Feature.objects.filter(
            workspace_id=release.workspace_id,
            product_id=release.product_id,
            merged_into__isnull=True,
        )
        .exclude(status__in=[FeatureStatus.SHIPPED, FeatureStatus.DECLINED])
        .exclude(Exists(in_open_release))
        .select_related("team")
        .order_by(F("priority_rank").asc(nulls_last=True), "title", "id")
    )


def release_move_targets(*, release: Release) -> list[Release]:
    """The product's other open releases: where the release's scope can move."""
    return list(
        Release.objects.filter(product_id=release.product_id, status__in=OPEN_STATUSES)
        .exclude(pk=release.pk)
        .order_by("planned_date", "id")
    )


def release_success_metrics(*, release: Release) -> list[SuccessMetric]:
    """The release's metrics with ``latest_actual`` and their key result, by review date."""
    return list(
        SuccessMetric.objects.filter(release=release)
        .select_related("key_result")
        .annotate(latest_actual=_latest_actual())
        .order_by("review_date", "id")
    )


# --- reads of the API ----------------------------------------------------------------------------


def feature_is_must_have() -> Exists:
    """Whether a feature is a must-have of its open release (what the roadmap called
    ``is_mvp``), to annotate or filter a feature queryset with: one subquery, no N+1."""
    return Exists(ScopeItem.objects.filter(feature=OuterRef("pk"), is_open=True, is_must_have=True))


def release_settings(*, workspace: Workspace) -> ReleaseSettings:
    """The workspace's release settings, or the defaults (unsaved) before anyone changed them."""
    return ReleaseSettings.objects.filter(workspace=workspace).first() or ReleaseSettings(workspace=workspace)


# --- for the board's shipped-release e-mails (appended) ------------------------------------------


def shipped_release_refs(*, release_ids: Iterable[int]) -> dict[int, dict]:
    """Per release id: ``is_public`` and, when the release is on the changelog (shipped,
    public, notes published), its ``public_id`` (else None). One query; a deleted
    release is absent."""
    rows = Release.objects.filter(pk__in=list(release_ids)).values_list(
        "pk", "is_public", "status", "notes_published_at", "public_id"
    )
    return {
        pk: {
            "is_public": is_public,
            "public_id": public_id
            if is_public and status == ReleaseStatus.RELEASED and published is not None
            else None,
        }
        for pk, is_public, status, published, public_id in rows
    }


def metric_actuals(*, metric: SuccessMetric) -> QuerySet[MetricActual]:
    """The metric's recorded actuals with who recorded them, latest first."""
    return MetricActual.objects.filter(metric=metric).select_related("actor").order_by("-recorded_on", "-id")


# --- for the feature page's success metrics (appended) ---------------------------------------------


def feature_success_metrics(*, feature: Feature) -> list[SuccessMetric]:
    """The feature's own metrics with ``latest_actual`` and their key result, by review date
    (one query; a release's metrics are on the release page)."""
    return list(
        SuccessMetric.objects.filter(feature=feature)
        .select_related("key_result")
        .annotate(latest_actual=_latest_actual())
        .order_by("review_date", "id")
    )


# --- for digests: what changed in a window (appended) --------------------------------------------


def _ids(ids: Iterable[int] | QuerySet) -> Iterable[int] | QuerySet:
    return ids if isinstance(ids, QuerySet) else list(ids)


def releases_shipped_between(
    *,
    workspace: Workspace,
    since: datetime,
    until: datetime,
    release_ids: Iterable[int] | QuerySet | None = None,
) -> list[Release]:
    """Releases shipped in [``since``, ``until``), oldest first, with their product and
    ``shipped_items`` (the scope rows that shipped, with their feature, in scope order).
    Two queries."""
    rows = Release.objects.filter(
        workspace=workspace, status=ReleaseStatus.RELEASED, shipped_at__gte=since, shipped_at__lt=until
    )
    if release_ids is not None:
        rows = rows.filter(pk__in=_ids(release_ids))
    shipped = (
        ScopeItem.objects.filter(outcome=ScopeOutcome.SHIPPED)
        .select_related("feature")
        .only(
            "release_id",
            "change_type",
            "is_must_have",
            "position",
            "feature__id",
            "feature__title",
            "feature__public_title",
            "feature__is_public",
        )
        .order_by("position", "id")
    )
    return list(
        rows.select_related("product")
        .prefetch_related(Prefetch("scope_items", queryset=shipped, to_attr="shipped_items"))
        .order_by("shipped_at", "id")
    )


def scope_changes_between(
    *,
    workspace: Workspace,
    since: datetime,
    until: datetime,
    release_ids: Iterable[int] | QuerySet | None = None,
) -> list[ScopeItem]:
    """Scope rows added to, or closed in, a release in [``since``, ``until``) (with the release
    and the feature), oldest first. One query."""
    rows = ScopeItem.objects.filter(workspace=workspace).filter(
        Q(added_at__gte=since, added_at__lt=until) | Q(closed_at__gte=since, closed_at__lt=until)
    )
    if release_ids is not None:
        rows = rows.filter(release_id__in=_ids(release_ids))
    return list(
        rows.select_related("release", "feature")
        .only(
            "is_must_have",
            "is_open",
            "outcome",
            "change_type",
            "added_at",
            "closed_at",
            "release__id",
            "release__name",
            "release__version",
            "release__planned_date",
            "feature__id",
            "feature__title",
        )
        .order_by("added_at", "id")
    )


def release_status_changes_between(
    *,
    workspace: Workspace,
    since: datetime,
    until: datetime,
    release_ids: Iterable[int] | QuerySet | None = None,
) -> list[ReleaseStatusChange]:
    """Release status changes in [``since``, ``until``) (not a release's first status), with the
    release, oldest first. One query."""
    rows = (
        ReleaseStatusChange.objects.filter(workspace=workspace, created_at__gte=since, created_at__lt=until)
        .exclude(from_status="")
        .select_related("release")
    )
    if release_ids is not None:
        rows = rows.filter(release_id__in=_ids(release_ids))
    return list(rows.order_by("created_at", "id"))


def open_releases_with_health(
    *,
    workspace: Workspace,
    release_ids: Iterable[int] | QuerySet | None = None,
    limit: int = 10,
    today: date | None = None,
) -> list[tuple[Release, ReleaseHealth]]:
    """The next ``limit`` open releases (by planned date, undated last) with their readiness and
    risk (:func:`release_health`): a constant number of queries."""
    rows = release_list(workspace=workspace).filter(status__in=OPEN_STATUSES)
    if release_ids is not None:
        rows = rows.filter(pk__in=_ids(release_ids))
    releases = list(rows.order_by(F("planned_date").asc(nulls_last=True), "id")[:limit])
    health = release_health(workspace=workspace, releases=releases, today=today)
    return [(release, health[release.pk]) for release in releases]
