"""Roadmap views: now / next / later board, timeline (with release markers), kanban by status,
priority matrix.

Every view takes the same GET filters (``RoadmapFilterForm``), so a view is shareable by
URL; moving a card (horizon or status) posts to a small endpoint that calls the service the
REST API uses and answers htmx with the updated card, a plain form with a redirect.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal import charts
from portal.access import require_role, workspace_page
from portal.forms.roadmap import (
    HORIZON_CHOICES,
    SCORE_COLUMNS,
    ClosedFilterForm,
    MatrixFilterForm,
    MoveDatesForm,
    RoadmapFilterForm,
    StatusForm,
    TimelineFilterForm,
)
from portal.views import comms as comms_views
from productops.errors import DomainError
from productops.models import Role
from productops.safe_redirect import safe_next
from releases import selectors as release_selectors
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureStatus, ScoringModel
from roadmap.selectors import FeatureGroup

BOARD_STATUSES = (*roadmap_selectors.OPEN_STATUSES, FeatureStatus.SHIPPED)
OPEN_STATUSES = roadmap_selectors.OPEN_STATUSES
#: Shipped and declined features shown on the board and kanban (most recent first); the
#: rest are on the closed list (``roadmap/closed/``).
CLOSED_LIMIT = 20
CLOSED_PAGE_SIZE = 50


def _status_legend(statuses: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """(value, label) of the statuses a page draws, in workflow order (the shared legend)."""
    return [(v, label) for v, label in FeatureStatus.choices if statuses is None or v in statuses]


def _card_context(feature: Feature, **extra: object) -> dict:
    return {"f": feature, **extra}


def _safe_next(request: HttpRequest, fallback: str) -> str:
    """Back to the workspace page the form came from, never elsewhere."""
    return safe_next(
        request, request.POST.get("next"), fallback=fallback, within=f"/w/{request.workspace.slug}/"
    )


#: Cards rendered per board column unless ``?all=1``: a column of hundreds is read by its top
#: cards, and each card costs about a millisecond to render.
COLUMN_CARD_LIMIT = 50


def _card_limit(request: HttpRequest) -> int | None:
    return None if request.GET.get("all") == "1" else COLUMN_CARD_LIMIT


def _columns(request: HttpRequest, groups: list[tuple[str, str, list[Feature] | FeatureGroup]]) -> list[dict]:
    """Board columns, each with its top ``COLUMN_CARD_LIMIT`` features (in rank order) and its total."""
    limit = _card_limit(request)
    columns = []
    for key, label, group in groups:
        if not isinstance(group, FeatureGroup):
            group = FeatureGroup(count=len(group), features=group)
        shown = group.features[:limit]
        columns.append(
            {
                "key": key,
                "label": label,
                "features": shown,
                "total": group.count,
                "hidden": group.count - len(shown),
            }
        )
    return columns


def _window_label(key: str, today: date) -> str:
    window = roadmap_selectors.horizon_window(key, today=today)
    if window is None:
        return ""
    if window.end is None:
        return f"from {window.start:%b %Y}"
    return f"{window.start:%b} – {window.end:%b %Y}"


def _closed_url(request: HttpRequest, status: str) -> str:
    """The full closed list for ``status``, with the page's filters."""
    query = request.GET.copy()
    for name in ("all", "page", "status"):
        query.pop(name, None)
    query["status"] = status
    return f"{reverse('portal:roadmap-closed', args=[request.workspace.slug])}?{query.urlencode()}"


def _closed_groups(request: HttpRequest, filters: dict) -> list[dict]:
    """Shipped and declined, each its most recent ``CLOSED_LIMIT`` and its count."""
    groups = []
    for status in roadmap_selectors.CLOSED_STATUSES:
        group = roadmap_selectors.feature_closed_group(
            workspace=request.workspace, status=status, limit=CLOSED_LIMIT, **filters
        )
        groups.append(
            {
                "key": status,
                "label": FeatureStatus(status).label,
                "features": group.features,
                "total": group.count,
                "hidden": group.count - len(group.features),
                "more_url": _closed_url(request, status),
                "collapsed": True,
            }
        )
    return groups


@workspace_page()
def board(request: HttpRequest) -> HttpResponse:
    """Open work by horizon; shipped and declined work in collapsed lists of their own."""
    form = RoadmapFilterForm(request.GET, workspace=request.workspace)
    filters = form.filters()
    features = roadmap_selectors.feature_board_list(
        workspace=request.workspace, statuses=OPEN_STATUSES, **filters
    )
    groups = roadmap_selectors.roadmap_by_horizon(features=features, limit=_card_limit(request))
    columns = _columns(request, [(key, label, groups[key]) for key, label in HORIZON_CHOICES])
    today = timezone.localdate()
    for column in columns:
        column["window"] = _window_label(column["key"], today)
    return render(
        request,
        "portal/roadmap/board.html",
        {
            "form": form,
            "columns": columns,
            "closed": _closed_groups(request, filters),
            "horizon_choices": HORIZON_CHOICES,
            "status_legend": _status_legend(OPEN_STATUSES),
            "next": request.get_full_path(),
        },
    )


def _move_message(feature: Feature, dates: str) -> str:
    where = feature.get_horizon_display() or "Unscheduled"
    if dates == "clear":
        return f"Moved “{feature.title}” to {where} and cleared its dates."
    if dates == "shift":
        first = feature.planned_start or feature.target_date
        last = feature.target_date or feature.planned_start
        span = f"{first:%-d %b %Y}" if first == last else f"{first:%-d %b %Y} – {last:%-d %b %Y}"
        return f"Moved “{feature.title}” to {where}; its dates are now {span}."
    return f"Moved “{feature.title}” to {where}."


@require_POST
@workspace_page()
def move(request: HttpRequest, feature_id: int) -> HttpResponse:
    """Change a feature's horizon (contributor, as the API's partial update).

    When the feature's planned dates lie outside the new horizon's window (this quarter,
    the next, after that) and the form does not say what to do with them, nothing is
    written: the answer asks to clear, shift or keep them (a second post with ``dates``)."""
    require_role(request, Role.CONTRIBUTOR)
    feature = _feature_or_404(request, feature_id)
    form = MoveDatesForm(request.POST)
    error = ""
    dates = "keep"
    next_url = _safe_next(request, reverse("portal:roadmap-board", args=[request.workspace.slug]))
    if form.is_valid():
        horizon = form.horizon_value()
        dates = form.cleaned_data["dates"]
        if not dates:
            conflict = roadmap_selectors.horizon_dates_conflict(feature, horizon, today=timezone.localdate())
            if conflict is not None:
                context = {
                    "f": feature,
                    "conflict": conflict,
                    "horizon": form.cleaned_data["horizon"],
                    "horizon_label": dict(HORIZON_CHOICES)[form.cleaned_data["horizon"]],
                    "next": next_url,
                }
                template = (
                    "portal/roadmap/_move_dates.html" if request.htmx else "portal/roadmap/move_dates.html"
                )
                return render(request, template, context)
            dates = "keep"
        try:
            feature = roadmap_services.feature_move(
                feature=feature, horizon=horizon, dates=dates, actor=request.user
            )
        except DomainError as exc:
            error = exc.detail
    else:
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    if request.htmx:
        return render(
            request,
            "portal/roadmap/_card.html",
            _card_context(
                feature, error=error, mode="horizon", next=next_url, horizon_choices=HORIZON_CHOICES
            ),
        )
    if error:
        messages.error(request, f"{feature.title}: {error}")
    else:
        messages.success(request, _move_message(feature, dates))
    return redirect(next_url)


@workspace_page()
def kanban(request: HttpRequest) -> HttpResponse:
    """Open work by status; the shipped and declined columns are collapsed, most recent first."""
    form = RoadmapFilterForm(request.GET, workspace=request.workspace)
    filters = form.filters()
    features = roadmap_selectors.feature_board_list(
        workspace=request.workspace, statuses=OPEN_STATUSES, **filters
    )
    by_status: dict[str, list[Feature]] = {value: [] for value in OPEN_STATUSES}
    for feature in features:
        by_status[feature.status].append(feature)
    columns = _columns(
        request,
        [(value, label, by_status[value]) for value, label in FeatureStatus.choices if value in by_status],
    )
    columns += _closed_groups(request, filters)
    return render(
        request,
        "portal/roadmap/kanban.html",
        {
            "form": form,
            "columns": columns,
            "status_choices": FeatureStatus.choices,
            "status_legend": _status_legend(),
            "next": request.get_full_path(),
        },
    )


@workspace_page()
def closed(request: HttpRequest) -> HttpResponse:
    """Every shipped (or declined) feature, most recently closed first, a page at a time."""
    form = ClosedFilterForm(request.GET, workspace=request.workspace)
    status = form.closed_status()
    filters = form.filters()
    features = roadmap_selectors.feature_closed_list(workspace=request.workspace, status=status, **filters)
    page = Paginator(features, CLOSED_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/roadmap/closed.html",
        {"form": form, "status": status, "status_label": FeatureStatus(status).label, "page": page},
    )


@require_POST
@workspace_page()
def change_status(request: HttpRequest, feature_id: int) -> HttpResponse:
    """Move a feature along the workflow (product manager, as the API's status action)."""
    require_role(request, Role.PRODUCT_MANAGER)
    feature = _feature_or_404(request, feature_id)
    form = StatusForm(request.POST)
    error = ""
    if form.is_valid():
        # The feature page's form previews the close-the-loop notice before it is sent.
        preview = comms_views.feature_status_preview(request, feature, form)
        if preview is not None:
            return preview
        try:
            feature = roadmap_services.feature_change_status(
                feature=feature,
                to_status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                customer_message=form.cleaned_data["customer_message"],
                actor=request.user,
            )
        except DomainError as exc:
            error = exc.detail
    else:
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    next_url = _safe_next(request, reverse("portal:roadmap-kanban", args=[request.workspace.slug]))
    if request.htmx:
        feature = _feature_or_404(request, feature_id)
        return render(
            request,
            "portal/roadmap/_card.html",
            _card_context(
                feature,
                error=error,
                mode="status",
                next=next_url,
                status_choices=FeatureStatus.choices,
            ),
        )
    if error:
        messages.error(request, f"{feature.title}: {error}")
    else:
        messages.success(request, f"“{feature.title}” is now {feature.get_status_display()}.")
    return redirect(next_url)


def _feature_or_404(request: HttpRequest, feature_id: int) -> Feature:
    return get_object_or_404(roadmap_selectors.feature_board_list(workspace=request.workspace), pk=feature_id)


# --- timeline ---------------------------------------------------------------------

ROW_HEIGHT = 26
LABEL_WIDTH = 200
MONTH_WIDTH = 64
#: Two header rows (years, then months) and a footer row for the "today" label.
HEAD_HEIGHT = 40
FOOT_HEIGHT = 18
#: Months shown before the current one by default, so recent shipped work is in view.
TIMELINE_PAST_MONTHS = 2


def _month_header(months: list[dict]) -> tuple[list[dict], list[dict]]:
    """Month labels once per column (``Jan``) and the years above them, one label per run."""
    marks, years = [], []
    for i, bucket in enumerate(months):
        month = bucket["month"]
        x = LABEL_WIDTH + i * MONTH_WIDTH
        marks.append(
            {
                "x": x,
                "label": month.strftime("%b"),
                "full": month.strftime("%B %Y"),
                "count": len(bucket["features"]) + len(bucket.get("shipped", [])),
                "year_start": i == 0 or month.month == 1,
            }
        )
        if not years or years[-1]["year"] != month.year:
            years.append({"year": month.year, "x": x, "width": 0})
        years[-1]["width"] += MONTH_WIDTH
    return marks, years


def _gantt(
    months: list[dict],
    start: date,
    end: date,
    workspace_slug: str,
    releases: list | None = None,
    shipped: list[Feature] | None = None,
) -> dict:
    """Bars of the features over the months, arrows from each prerequisite's end to its
    dependant's start (both on the chart), and a marker at each release's date (shipped on,
    else planned for). Shipped features come first, drawn in the past up to their ship date
    (from their planned start when it is earlier). Geometry only; the template draws it."""
    shipped = shipped or []
    features: list[Feature] = list(shipped)
    seen: set[int] = {f.pk for f in shipped}
    for bucket in months:
        for feature in bucket["features"]:
            if feature.pk not in seen:
                seen.add(feature.pk)
                features.append(feature)
    total_days = (end - start).days + 1
    plot_width = MONTH_WIDTH * len(months)
    day_width = plot_width / total_days

    def x_of(day: date) -> float:
        day = min(max(day, start), end)
        return LABEL_WIDTH + plot_width * (day - start).days / total_days

    bars = []
    position: dict[int, dict] = {}
    for row, feature in enumerate(features):
        ship_date = None
        if feature.status == FeatureStatus.SHIPPED and feature.status_changed_at:
            ship_date = timezone.localdate(feature.status_changed_at)
            planned = feature.planned_start
            first = planned if planned and planned <= ship_date else ship_date
            last = ship_date
        else:
            first = feature.planned_start or feature.target_date
            last = feature.target_date or feature.planned_start
        x1 = x_of(first)
        x2 = max(x_of(last) + day_width, x1 + 6)
        bar = {
            "feature": feature,
            "x": x1,
            "y": HEAD_HEIGHT + row * ROW_HEIGHT + 4,
            "width": x2 - x1,
            "height": ROW_HEIGHT - 8,
            "label_y": HEAD_HEIGHT + row * ROW_HEIGHT + ROW_HEIGHT / 2 + 4,
            "href": reverse("portal:feature", args=[workspace_slug, feature.pk]),
            "first": first,
            "last": last,
            "shipped_on": ship_date,
            "depends_on": [link.depends_on for link in feature.dependency_links.all()],
        }
        bars.append(bar)
        position[feature.pk] = bar
    arrows = []
    for bar in bars:
        for prerequisite in bar["depends_on"]:
            source = position.get(prerequisite.pk)
            if source is None:
                continue
            x1, y1 = source["x"] + source["width"], source["y"] + source["height"] / 2
            x2, y2 = bar["x"], bar["y"] + bar["height"] / 2
            mid = max(x1 + 8, x2 - 8) if x2 - 8 > x1 + 8 else x1 + 8
            late = x2 < x1  # starts before its prerequisite ends
            arrows.append(
                {
                    "path": f"M{x1:.1f},{y1:.1f} H{mid:.1f} V{y2:.1f} H{x2 - 2:.1f}",
                    "late": late,
                    "title": f"{bar['feature'].title} depends on {prerequisite.title}",
                }
            )
    month_marks, years = _month_header(months)
    markers = []
    for release in releases or []:
        day = release.shipped_on or release.planned_date
        x = x_of(day) + day_width / 2
        markers.append(
            {
                "release": release,
                "day": day,
                "x": x,
                "head": f"M{x:.1f},{HEAD_HEIGHT - 8} l5,5 l-5,5 l-5,-5 z",
                "href": reverse("portal:release", args=[workspace_slug, release.pk]),
            }
        )
    plot_bottom = HEAD_HEIGHT + max(1, len(bars)) * ROW_HEIGHT + 4
    today = timezone.localdate()
    today_x = x_of(today) + day_width / 2 if start <= today <= end else None
    width = LABEL_WIDTH + plot_width + 8
    return {
        "width": width,
        "height": plot_bottom + FOOT_HEIGHT,
        "plot_bottom": plot_bottom,
        "bars": bars,
        "releases": markers,
        "arrows": arrows,
        "months": month_marks,
        "years": years,
        "label_width": LABEL_WIDTH,
        "month_width": MONTH_WIDTH,
        "text_x": LABEL_WIDTH - 8,
        "today": today,
        "today_x": today_x,
        # The label sits right of the line, or left of it near the chart's right edge.
        "today_anchor": "end" if today_x is not None and today_x > width - 90 else "start",
        "today_label_x": (today_x - 4 if today_x > width - 90 else today_x + 4)
        if today_x is not None
        else None,
        "today_label_y": plot_bottom + 13,
        "month_y": HEAD_HEIGHT - 10,
        "year_y": 14,
    }


def _month_list(months: list[dict], shipped: list[Feature]) -> list[dict]:
    """The "by month" list: each month with its planned and shipped features, and each run
    of empty months as one row."""
    by_month: dict[date, list[Feature]] = {}
    for feature in shipped:
        by_month.setdefault(timezone.localdate(feature.status_changed_at).replace(day=1), []).append(feature)
    rows: list[dict] = []
    for bucket in months:
        done = by_month.get(bucket["month"], [])
        if not bucket["features"] and not done:
            if rows and rows[-1]["empty"]:
                rows[-1]["last"] = bucket["month"]
            else:
                rows.append({"empty": True, "first": bucket["month"], "last": bucket["month"]})
            continue
        rows.append(
            {
                "empty": False,
                "month": bucket["month"],
                "features": bucket["features"],
                "shipped": done,
                "count": len(bucket["features"]) + len(done),
            }
        )
    return rows


def _default_timeline_start(today: date) -> date:
    month = today.replace(day=1)
    for _ in range(TIMELINE_PAST_MONTHS):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


@workspace_page()
def timeline(request: HttpRequest) -> HttpResponse:
    """Open work over its planned dates, shipped work in the past at its ship date, the
    releases, today, and each team's capacity over the period."""
    form = TimelineFilterForm(request.GET, workspace=request.workspace)
    filters = form.filters()
    features = roadmap_selectors.feature_board_list(
        workspace=request.workspace,
        statuses=OPEN_STATUSES,
        with_dependencies=True,
        **filters,
    )
    start, end, _ = form.span(default_start=_default_timeline_start(timezone.localdate()))
    months = roadmap_selectors.roadmap_by_month(features=features, start=start, end=end)
    shipped = roadmap_selectors.feature_shipped_between(
        workspace=request.workspace, start=start, end=end, **filters
    )
    capacity = roadmap_selectors.team_capacity_load(
        workspace=request.workspace, start=start, end=end, team=filters["team"]
    )
    releases = release_selectors.timeline_release_markers(workspace=request.workspace, start=start, end=end)
    if filters["product"] is not None:
        releases = [r for r in releases if r.product_id == filters["product"].pk]
    month_rows = _month_list(months, shipped)
    return render(
        request,
        "portal/roadmap/timeline.html",
        {
            "form": form,
            "months": months,
            "month_rows": month_rows,
            "month_feature_count": len({f.pk for b in months for f in b["features"]}) + len(shipped),
            "gantt": _gantt(months, start, end, request.workspace.slug, releases, shipped),
            "releases": releases,
            "capacity": capacity,
            "start": start,
            "end": end,
            "settings": roadmap_selectors.roadmap_settings(workspace=request.workspace),
            "status_legend": _status_legend((*OPEN_STATUSES, FeatureStatus.SHIPPED)),
        },
    )


# --- priority matrix -----------------------------------------------------------------


@workspace_page()
def matrix(request: HttpRequest) -> HttpResponse:
    """Score against effort: axes scaled to the data (log scores on request), quadrants split
    at the medians and named, each dot numbered like its table row."""
    workspace = request.workspace
    settings_row = roadmap_selectors.roadmap_settings(workspace=workspace)
    filter_form = MatrixFilterForm(request.GET, workspace=workspace)
    model = filter_form.scoring_model(default=settings_row.scoring_model)
    log_scale = filter_form.log_scale()
    column = SCORE_COLUMNS[ScoringModel(model)]
    features = list(
        roadmap_selectors.feature_matrix_list(
            workspace=workspace, score_column=column, **filter_form.filters()
        )
    )
    label = ScoringModel(model).label
    # One reverse for all dots (a page may plot hundreds).
    feature_url = reverse("portal:feature", args=[workspace.slug, 0]).replace("/0/", "/{}/")
    # Table order (highest score first) numbers the dots, so a dot's number is its row.
    rows = sorted(features, key=lambda f: (-getattr(f, column), f.effort, f.pk))
    points = [
        {
            "x": float(f.effort),
            "y": getattr(f, column),
            "label": f.title,
            "href": feature_url.format(f.pk),
            "css": f"status-{f.status}",
            "ref": n,
        }
        for n, f in enumerate(rows, start=1)
    ]
    chart = charts.scatter(
        points,
        title=f"Value ({label} score) against effort",
        x_label=f"Effort ({settings_row.get_effort_unit_display().lower()})",
        y_label=f"{label} score",
        y_log=log_scale,
        quadrants=charts.VALUE_EFFORT_QUADRANTS,
    )
    for n, (f, mark) in enumerate(zip(rows, chart["marks"], strict=True), start=1):
        f.matrix_value = getattr(f, column)
        f.url = feature_url.format(f.pk)
        f.matrix_ref = n
        f.quadrant = mark.quadrant
    # The chart plots every feature; the table lists the top ones unless asked for all.
    shown = rows if request.GET.get("all") == "1" else rows[:COLUMN_CARD_LIMIT]
    return render(
        request,
        "portal/roadmap/matrix.html",
        {
            "form": filter_form,
            "model": model,
            "model_label": label,
            "model_choices": ScoringModel.choices,
            "chart": chart,
            "log_scale": log_scale,
            "rows": shown,
            "hidden_rows": len(rows) - len(shown),
            "total_rows": len(rows),
            "settings": settings_row,
            "status_legend": _status_legend(OPEN_STATUSES),
        },
    )
