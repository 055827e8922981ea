"""What a digest says: the changes in what a subscription follows within a window, written
for the stakeholder's audience.

A subscription follows one thing (:func:`scope_of`); its scope is the features, releases and
goals under it, as id subqueries (no query of their own). Each audience reads a different
selection of sections:

============  ==========================================================================
executive     goal and key-result progress (value at ``since`` → at ``until``), what
              shipped, revenue at stake (ARR of the companies waiting on the top
              features), releases at risk
sales         what shipped and what is coming that *their* companies asked for (the
              companies whose account owners include the stakeholder's user; for an
              external stakeholder, every company that asked)
support       fixes shipped and new problem reports, with the customers affected
engineering   scope changes of releases, status changes, new dependencies, and the
              dependency risks of open releases
marketing     shipped releases (with their changelog page), release status changes,
              upcoming releases with their readiness, the public changelog
customer      shipped public releases and public features that moved on the roadmap (no
              ARR, no companies, no ranking)
============  ==========================================================================

Every audience but customers also gets what moved in the priority ranking and why
(``priority.selectors.rank_moves_explained``, limited to the scope and to
``CommsSettings.digest_rank_moves``).

A section is *news* (something happened in the window) or *context* (how things stand:
revenue at stake, releases at risk, upcoming releases, the changelog link). A digest with no
news is empty and is not sent, so standing context alone never makes a digest.

The number of queries is constant per audience (at most about twenty), whatever the data's
size: every read is one set-based selector call over the scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from comms import links, schedule
from comms.models import Audience, Subscription
from feedback.selectors import company_ids_owned_by, problem_reports_between
from priority.selectors import (
    demand_companies_by_feature,
    format_money,
    format_number,
    rank_moves_explained,
    window_words,
)
from productops.models import Workspace
from releases.models import Release, ReleaseStatus, ScopeOutcome
from releases.selectors import (
    changelog_settings,
    open_release_of_features,
    open_releases_with_health,
    release_status_changes_between,
    releases_shipped_between,
    scope_changes_between,
)
from roadmap.models import Feature, FeatureStatus, Goal
from roadmap.selectors import (
    dependencies_added_between,
    feature_status_changes_between,
    key_result_values_at,
    key_results_of_goals,
    top_open_features,
)

#: Companies named one by one on a line; the rest are counted.
NAMED_COMPANIES = 3
#: Features whose revenue at stake an executive sees; open releases a digest looks at.
TOP_FEATURES = 5
OPEN_RELEASES = 10
COMING_STATUSES = (FeatureStatus.PLANNED, FeatureStatus.IN_PROGRESS)


@dataclass
class Section:
    key: str
    title: str
    items: list[dict[str, str]] = field(default_factory=list)
    #: News happened in the window; context is how things stand (never makes a digest).
    news: bool = True
    intro: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "intro": self.intro,
            "news": self.news,
            "items": [dict(item) for item in self.items],
        }


@dataclass
class Scope:
    """What a subscription follows, as id subqueries (None: the whole workspace)."""

    label: str
    features: QuerySet | None = None
    releases: QuerySet | None = None
    goals: QuerySet | None = None


@dataclass
class DigestContent:
    subscription: Subscription
    workspace: Workspace
    audience: str
    since: datetime
    until: datetime
    scope: Scope
    sections: list[Section]

    @property
    def empty(self) -> bool:
        return not any(section.news and section.items for section in self.sections)

    @property
    def news_count(self) -> int:
        return sum(len(section.items) for section in self.sections if section.news)


def scope_of(subscription: Subscription) -> Scope:
    """The features, releases and goals under what the subscription follows (the target
    objects are expected loaded with the subscription)."""
    workspace_id = subscription.workspace_id
    features = Feature.objects.filter(workspace_id=workspace_id)
    releases = Release.objects.filter(workspace_id=workspace_id)
    goals = Goal.objects.filter(workspace_id=workspace_id)

    def ids(rows: QuerySet) -> QuerySet:
        return rows.values("id")

    if subscription.product_id is not None:
        product_id = subscription.product_id
        return Scope(
            label=subscription.product.name,
            features=ids(features.filter(product_id=product_id)),
            releases=ids(releases.filter(product_id=product_id)),
            goals=ids(goals.filter(Q(product_id=product_id) | Q(features__product_id=product_id))),
        )
    if subscription.goal_id is not None:
        goal_id = subscription.goal_id
        in_goal = features.filter(Q(goals__id=goal_id) | Q(initiative__goal_id=goal_id))
        return Scope(
            label=subscription.goal.title,
            features=ids(in_goal),
            releases=ids(releases.filter(scope_items__feature__in=ids(in_goal))),
            goals=ids(goals.filter(Q(pk=goal_id) | Q(parent_id=goal_id))),
        )
    if subscription.initiative_id is not None:
        initiative_id = subscription.initiative_id
        in_initiative = features.filter(initiative_id=initiative_id)
        return Scope(
            label=subscription.initiative.title,
            features=ids(in_initiative),
            releases=ids(releases.filter(scope_items__feature__in=ids(in_initiative))),
            goals=ids(goals.filter(initiatives__id=initiative_id)),
        )
    if subscription.feature_id is not None:
        feature_id = subscription.feature_id
        # Features merged into it brought their demand along; their history is its history.
        followed = features.filter(Q(pk=feature_id) | Q(merged_into_id=feature_id))
        return Scope(
            label=subscription.feature.title,
            features=ids(followed),
            releases=ids(releases.filter(scope_items__feature_id=feature_id)),
            goals=ids(goals.filter(Q(features__id=feature_id) | Q(initiatives__features__id=feature_id))),
        )
    if subscription.release_id is not None:
        release = subscription.release
        return Scope(
            label=f"{release.name} {release.version}",
            features=ids(features.filter(scope_items__release_id=release.pk)),
            releases=ids(releases.filter(pk=release.pk)),
            goals=ids(goals.filter(features__scope_items__release_id=release.pk)),
        )
    return Scope(label=subscription.workspace.name)


# --- wording ---------------------------------------------------------------------------------


def _local(subscription: Subscription, at: datetime) -> datetime:
    return at.astimezone(schedule.zone(subscription.time_zone))


def _day(at: datetime | Any) -> str:
    return f"{at:%b} {at.day}, {at:%Y}"


def _companies_words(companies: list[dict], limit: int = NAMED_COMPANIES) -> str:
    names = [company["name"] for company in companies[:limit]]
    rest = len(companies) - len(names)
    return ", ".join(names) + (f" and {rest} more" if rest > 0 else "")


def _feature_name(feature: Feature, *, public: bool) -> str:
    """What a feature is called: customers read its customer-facing title (or its title when
    it is on the public roadmap); the team reads its title."""
    if public:
        return feature.public_title or (feature.title if feature.is_public else "")
    return feature.title


def _status(value: str) -> str:
    return FeatureStatus(value).label.lower() if value in FeatureStatus.values else value


def _release_status(value: str) -> str:
    return ReleaseStatus(value).label.lower() if value in ReleaseStatus.values else value


def _decimal(value: Decimal | None, unit: str = "") -> str:
    if value is None:
        return "–"
    text = format_number(float(value))
    if not unit:
        return text
    return f"{text} {unit}" if unit.isalpha() and len(unit) > 2 else f"{text}{unit}"


# --- the reads (each memoised per digest) ---------------------------------------------------


class _Reads:
    def __init__(self, subscription: Subscription, since: datetime, until: datetime, rank_moves: int) -> None:
        self.subscription = subscription
        self.workspace = subscription.workspace
        self.stakeholder = subscription.stakeholder
        self.since, self.until = since, until
        self.scope = scope_of(subscription)
        self.rank_moves_limit = rank_moves
        self.currency = self.workspace.reporting_currency
        self.when = window_words(since, until)
        self._cache: dict[str, Any] = {}

    def _memo(self, key: str, read: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def status_moves(self) -> list[dict]:
        """Per feature, its net status change in the window (first from → last to), oldest first;
        a feature that ended where it started is left out."""

        def read() -> list[dict]:
            changes = feature_status_changes_between(
                workspace=self.workspace, since=self.since, until=self.until, feature_ids=self.scope.features
            )
            net: dict[int, dict] = {}
            for change in changes:
                row = net.setdefault(
                    change.feature_id,
                    {"feature": change.feature, "from": change.from_status, "reason": "", "release": None},
                )
                row["to"] = change.to_status
                row["reason"] = change.reason or row["reason"]
                release = (change.context or {}).get("release")
                if release:
                    row["release"] = release
            return [row for row in net.values() if row["from"] != row["to"]]

        return self._memo("status_moves", read)

    def shipped_releases(self) -> list[Release]:
        return self._memo(
            "shipped",
            lambda: releases_shipped_between(
                workspace=self.workspace, since=self.since, until=self.until, release_ids=self.scope.releases
            ),
        )

    def open_releases(self) -> list:
        return self._memo(
            "open_releases",
            lambda: open_releases_with_health(
                workspace=self.workspace,
                release_ids=self.scope.releases,
                limit=OPEN_RELEASES,
                today=_local(self.subscription, self.until).date(),
            ),
        )

    def changelog(self):
        return self._memo("changelog", lambda: changelog_settings(workspace=self.workspace))

    def demand(self, feature_ids: set[int]) -> dict[int, list[dict]]:
        if not feature_ids:
            return {}
        return demand_companies_by_feature(workspace=self.workspace, feature_ids=sorted(feature_ids))

    def changelog_url(self, release: Release) -> str:
        """The release's public changelog page, when it is on the changelog."""
        if not (release.is_public and release.notes_published_at and self.changelog().enabled):
            return ""
        return links.public_url(self.workspace, "changelog-release", public_id=release.public_id)


# --- sections ----------------------------------------------------------------------------------


def _rank_moves(reads: _Reads) -> list[Section]:
    moves = rank_moves_explained(
        workspace=reads.workspace,
        since=reads.since,
        until=reads.until,
        limit=reads.rank_moves_limit,
        feature_ids=reads.scope.features,
    )
    items = []
    for move in moves:
        detail = ""
        if move["new_rank"] is not None and move["requesting_companies"]:
            detail = (
                f"{move['requesting_companies']} requesting compan"
                f"{'y' if move['requesting_companies'] == 1 else 'ies'}, "
                f"ARR {format_money(move['arr_at_stake'], reads.currency)} at stake"
            )
        items.append({"text": move["reason"], "detail": detail})
    return [Section("rank_moves", "What moved in the priority ranking, and why", items)]


def _share(kr, value: Decimal) -> int:
    """How far from the baseline to the target ``value`` is, in whole percent (0..100)."""
    done = (value - kr.baseline) / (kr.target - kr.baseline)
    return round(float(max(Decimal(0), min(Decimal(1), done))) * 100)


def _companies_count(n: int) -> str:
    return f"{n} compan{'y' if n == 1 else 'ies'}"


def _key_results(reads: _Reads) -> list[Section]:
    if reads.scope.goals is None:
        goal_ids = Goal.objects.filter(workspace=reads.workspace).values("id")
    else:
        goal_ids = reads.scope.goals
    key_results = key_results_of_goals(workspace=reads.workspace, goal_ids=goal_ids)
    if not key_results:
        return []
    ids = [kr.pk for kr in key_results]
    before = key_result_values_at(key_result_ids=ids, at=reads.since)
    after = key_result_values_at(key_result_ids=ids, at=reads.until)
    items = []
    for kr in key_results:
        old, new = before.get(kr.pk), after.get(kr.pk)
        if new is None or old == new:
            continue
        target = _decimal(kr.target, kr.unit)
        if old is None:
            text = f"{kr.metric}: {_decimal(new, kr.unit)} ({_share(kr, new)}% of the way to {target})"
        else:
            text = (
                f"{kr.metric}: {_decimal(old, kr.unit)} → {_decimal(new, kr.unit)} "
                f"({_share(kr, old)}% → {_share(kr, new)}% of the way to {target})"
            )
        items.append({"text": text, "detail": kr.goal.title})
    return [Section("key_results", "Goals and key results", items)]


def _shipped_summary(reads: _Reads, *, public: bool = False) -> list[Section]:
    items = []
    for release in reads.shipped_releases():
        if public and not release.is_public:
            continue
        names = [n for n in (_feature_name(i.feature, public=public) for i in release.shipped_items) if n]
        if public and not names:
            continue
        items.append(
            {
                "text": f"{release.name} {release.version} shipped on {_day(release.shipped_on)}",
                "detail": ", ".join(names),
                "url": reads.changelog_url(release),
            }
        )
    title = "Shipped" if not public else "New releases"
    return [Section("shipped", title, items)]


def _revenue_at_stake(reads: _Reads) -> list[Section]:
    top = top_open_features(workspace=reads.workspace, feature_ids=reads.scope.features, limit=TOP_FEATURES)
    if not top:
        return []
    demand = reads.demand({f.pk for f in top})
    companies: dict[int, float] = {}
    items = []
    for feature in top:
        asked = demand.get(feature.pk, [])
        for company in asked:
            companies[company["company_id"]] = company["arr"]
        arr = sum(c["arr"] for c in asked)
        if asked:
            detail = f"{_companies_count(len(asked))}, ARR {format_money(arr, reads.currency)}"
        else:
            detail = "no customer has asked yet"
        items.append({"text": f"#{feature.priority_rank} {feature.title}", "detail": detail})
    intro = (
        f"{format_money(sum(companies.values()), reads.currency)} of ARR from {len(companies)} "
        f"compan{'y' if len(companies) == 1 else 'ies'} waits on the top {len(top)} features."
    )
    return [Section("revenue_at_stake", "Revenue at stake", items, news=False, intro=intro)]


def _releases_at_risk(reads: _Reads) -> list[Section]:
    items = [
        {
            "text": f"{release.name} {release.version}"
            + (f" (planned {_day(release.planned_date)})" if release.planned_date else ""),
            "detail": "; ".join(health.risks),
        }
        for release, health in reads.open_releases()
        if health.at_risk
    ]
    return [Section("releases_at_risk", "Releases at risk", items, news=False)]


def _sales(reads: _Reads) -> list[Section]:
    """Shipped and coming, limited to what the stakeholder's companies asked for."""
    user_id = reads.stakeholder.user_id
    owned = set(company_ids_owned_by(workspace=reads.workspace, user_id=user_id)) if user_id else None
    shipped = [m for m in reads.status_moves() if m["to"] == FeatureStatus.SHIPPED]
    coming = {m["feature"].pk: m for m in reads.status_moves() if m["to"] in COMING_STATUSES}
    added = [
        row
        for row in scope_changes_between(
            workspace=reads.workspace, since=reads.since, until=reads.until, release_ids=reads.scope.releases
        )
        if row.is_open and reads.since <= row.added_at < reads.until
    ]
    scheduled = {row.feature_id: row for row in added}
    releases = open_release_of_features(feature_ids=set(coming) - set(scheduled))
    releases.update(scheduled)
    wanted = {m["feature"].pk for m in shipped} | set(coming) | set(scheduled)
    demand = reads.demand(wanted)

    def theirs(feature_id: int) -> list[dict]:
        asked = demand.get(feature_id, [])
        return [c for c in asked if owned is None or c["company_id"] in owned]

    whose = "your accounts" if owned is not None else "customers"
    shipped_items = []
    for move in shipped:
        asked = theirs(move["feature"].pk)
        if asked:
            release = move["release"]
            where = f" in {release.get('name', '')} {release.get('version', '')}".rstrip() if release else ""
            shipped_items.append(
                {
                    "text": f"{move['feature'].title} shipped{where}",
                    "detail": f"Asked for by {_companies_words(asked)}",
                }
            )
    coming_items = []
    for feature_id in [*coming, *[f for f in scheduled if f not in coming]]:
        asked = theirs(feature_id)
        if not asked:
            continue
        move = coming.get(feature_id)
        scope_row = releases.get(feature_id)
        title = move["feature"].title if move else scope_row.feature.title
        parts = [f"now {_status(move['to'])}"] if move else []
        if scope_row is not None:
            release = scope_row.release
            when = f", planned {_day(release.planned_date)}" if release.planned_date else ""
            parts.append(f"in {release.name} {release.version}{when}")
        coming_items.append(
            {"text": f"{title}: {', '.join(parts)}", "detail": f"Asked for by {_companies_words(asked)}"}
        )
    return [
        Section("shipped_for_accounts", f"Shipped for {whose}", shipped_items),
        Section("coming_for_accounts", f"Coming for {whose}", coming_items),
    ]


def _support(reads: _Reads) -> list[Section]:
    fixes = [
        (release, item)
        for release in reads.shipped_releases()
        for item in release.shipped_items
        if item.change_type == "fixed"
    ]
    reports = [
        row
        for row in problem_reports_between(
            workspace=reads.workspace,
            feature_ids=reads.scope.features
            if reads.scope.features is not None
            else Feature.objects.filter(workspace=reads.workspace).values("id"),
            since=reads.since,
            until=reads.until,
        )
        if row["status"] not in (FeatureStatus.SHIPPED, FeatureStatus.DECLINED)
    ]
    demand = reads.demand({item.feature_id for _, item in fixes} | {row["feature_id"] for row in reports})

    def affected(feature_id: int) -> str:
        asked = demand.get(feature_id, [])
        return f"Customers affected: {_companies_words(asked)}" if asked else "No customer reported it"

    fix_items = [
        {
            "text": f"{item.feature.title} (fixed in {release.name} {release.version}, "
            f"{_day(release.shipped_on)})",
            "detail": affected(item.feature_id),
        }
        for release, item in fixes
    ]
    issue_items = [
        {
            "text": f"{row['title']}: {row['reports']} new problem report"
            f"{'s' if row['reports'] != 1 else ''} {reads.when} (still {_status(row['status'])})",
            "detail": affected(row["feature_id"]),
        }
        for row in reports
    ]
    return [
        Section("fixes_shipped", "Fixes shipped", fix_items),
        Section("known_issues", "Known issues", issue_items),
    ]


_OUTCOME_WORDS = {
    ScopeOutcome.SHIPPED: "Shipped in",
    ScopeOutcome.MOVED: "Moved out of",
    ScopeOutcome.DEFERRED: "Back to the backlog from",
    ScopeOutcome.CANCELLED: "Cancelled with",
    ScopeOutcome.MERGED: "Merged away from",
}


def _engineering(reads: _Reads) -> list[Section]:
    scope_items = []
    for row in scope_changes_between(
        workspace=reads.workspace, since=reads.since, until=reads.until, release_ids=reads.scope.releases
    ):
        release = f"{row.release.name} {row.release.version}"
        if reads.since <= row.added_at < reads.until:
            scope_items.append(
                {
                    "text": f"Added to {release}: {row.feature.title}",
                    "detail": "must-have" if row.is_must_have else "nice-to-have",
                }
            )
        if row.closed_at is not None and reads.since <= row.closed_at < reads.until:
            scope_items.append(
                {
                    "text": f"{_OUTCOME_WORDS.get(row.outcome, 'Closed in')} {release}: {row.feature.title}",
                    "detail": "",
                }
            )
    status_items = [
        {
            "text": f"{move['feature'].title}: {_status(move['from'])} → {_status(move['to'])}",
            "detail": move["reason"],
        }
        for move in reads.status_moves()
    ]
    dependency_items = [
        {
            "text": f"{dep.feature.title} now depends on {dep.depends_on.title}",
            "detail": f"{dep.depends_on.title} is {_status(dep.depends_on.status)}",
        }
        for dep in dependencies_added_between(
            workspace=reads.workspace, since=reads.since, until=reads.until, feature_ids=reads.scope.features
        )
    ]
    risks = [
        {"text": f"{release.name} {release.version}", "detail": risk}
        for release, health in reads.open_releases()
        for risk in health.risks
        if risk.startswith("Depends on")
    ]
    return [
        Section("scope_changes", "Scope changes", scope_items),
        Section("status_changes", "Status changes", status_items),
        Section("dependencies", "New dependencies", dependency_items),
        Section("dependency_risks", "Blocked by unshipped work", risks, news=False),
    ]


def _marketing(reads: _Reads) -> list[Section]:
    updates = [
        {
            "text": f"{change.release.name} {change.release.version}: "
            f"{_release_status(change.from_status)} → {_release_status(change.to_status)}",
            "detail": change.reason,
        }
        for change in release_status_changes_between(
            workspace=reads.workspace, since=reads.since, until=reads.until, release_ids=reads.scope.releases
        )
        if change.to_status != ReleaseStatus.RELEASED  # said in "Shipped"
    ]
    upcoming = [
        {
            "text": f"{release.name} {release.version}"
            + (f", planned {_day(release.planned_date)}" if release.planned_date else ", not dated yet"),
            "detail": f"{health.readiness_pct}% ready" + (", at risk" if health.at_risk else ""),
        }
        for release, health in reads.open_releases()
    ]
    sections = [
        *_shipped_summary(reads),
        Section("release_updates", "Release updates", updates),
        Section("upcoming_releases", "Coming up", upcoming, news=False),
    ]
    if reads.changelog().enabled:
        url = links.public_url(reads.workspace, "changelog")
        sections.append(
            Section(
                "changelog", "Public changelog", [{"text": "What customers read", "url": url}], news=False
            )
        )
    return sections


def _customer(reads: _Reads) -> list[Section]:
    roadmap_items = []
    for move in reads.status_moves():
        name = _feature_name(move["feature"], public=True)
        if not name:
            continue
        if move["to"] in (*COMING_STATUSES, FeatureStatus.SHIPPED):
            roadmap_items.append({"text": f"{name} is now {_status(move['to'])}", "detail": ""})
    return [*_shipped_summary(reads, public=True), Section("roadmap", "On the roadmap", roadmap_items)]


AUDIENCE_SECTIONS = {
    Audience.EXECUTIVE: [_key_results, _shipped_summary, _rank_moves, _revenue_at_stake, _releases_at_risk],
    Audience.SALES: [_sales, _rank_moves],
    Audience.SUPPORT: [_support, _rank_moves],
    Audience.ENGINEERING: [_engineering, _rank_moves],
    Audience.MARKETING: [_marketing, _rank_moves],
    Audience.CUSTOMER: [_customer],
}


def digest_content(
    *, subscription: Subscription, since: datetime, until: datetime, rank_moves: int = 5
) -> DigestContent:
    """The sections of the subscription's digest for [``since``, ``until``), for its
    stakeholder's audience. The subscription must come with its workspace, stakeholder and
    target loaded (``comms.digests`` loads them in one query). Sections without items are
    dropped."""
    reads = _Reads(subscription, since, until, rank_moves)
    audience = subscription.stakeholder.audience
    sections: list[Section] = []
    for build in AUDIENCE_SECTIONS.get(audience, AUDIENCE_SECTIONS[Audience.EXECUTIVE]):
        sections.extend(build(reads))
    return DigestContent(
        subscription=subscription,
        workspace=reads.workspace,
        audience=audience,
        since=since,
        until=until,
        scope=reads.scope,
        sections=[section for section in sections if section.items],
    )


def local_window(subscription: Subscription, since: datetime, until: datetime) -> str:
    """ "Jan 5 – Jan 12, 2027" in the subscriber's time zone."""
    start, end = _local(subscription, since), _local(subscription, until)
    if start.date() == end.date():
        return _day(end)
    head = f"{start:%b} {start.day}" + (f", {start:%Y}" if start.year != end.year else "")
    return f"{head} – {_day(end)}"
