"""Roadmap views: now / next / later board, timeline (with release markers), kanban by status,
priority matrix.

Every view takes the same GET filters (``RoadmapFilterForm``), so a view is shareable by
URL; moving a card (horizon or status) posts to a small endpoint that calls the service the
REST API uses and answers htmx with the updated card, a plain form with a redirect.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
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
    MatrixFilterForm,
    MoveForm,
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


@workspace_page()
def board(request: HttpRequest) -> HttpResponse:
    form = RoadmapFilterForm(request.GET, workspace=request.workspace)
    features = roadmap_selectors.feature_board_list(
        workspace=request.workspace, statuses=BOARD_STATUSES, **form.filters()
    )
    groups = roadmap_selectors.roadmap_by_horizon(features=features, limit=_card_limit(request))
    columns = _columns(request, [(key, label, groups[key]) for key, label in HORIZON_CHOICES])
    return render(
        request,
        "portal/roadmap/board.html",
        {
            "form": form,
            "columns": columns,
            "horizon_choices": HORIZON_CHOICES,
            "next": request.get_full_path(),
        },
    )


@require_POST
@workspace_page()
def move(request: HttpRequest, feature_id: int) -> HttpResponse:
    """Change a feature's horizon (contributor, as the API's partial update)."""
    require_role(request, Role.CONTRIBUTOR)
    feature = _feature_or_404(request, feature_id)
    form = MoveForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            feature = roadmap_services.feature_update(
                feature=feature, actor=request.user, data={"horizon": form.horizon_value()}
            )
        except DomainError as exc:
            error = exc.detail
    else:
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    next_url = _safe_next(request, reverse("portal:roadmap-board", args=[request.workspace.slug]))
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
        messages.success(
            request, f"Moved “{feature.title}” to {feature.get_horizon_display() or 'Unscheduled'}."
        )
    return redirect(next_url)


@workspace_page()
def kanban(request: HttpRequest) -> HttpResponse:
    form = RoadmapFilterForm(request.GET, workspace=request.workspace)
    features = roadmap_selectors.feature_board_list(workspace=request.workspace, **form.filters())
    by_status: dict[str, list[Feature]] = {value: [] for value in FeatureStatus.values}
    for feature in features:
        by_status[feature.status].append(feature)
    columns = _columns(request, [(value, label, by_status[value]) for value, label in FeatureStatus.choices])
    return render(
        request,
        "portal/roadmap/kanban.html",
        {
            "form": form,
            "columns": columns,
            "status_choices": FeatureStatus.choices,
            "next": request.get_full_path(),
        },
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
HEAD_HEIGHT = 24


def _gantt(
    months: list[dict], start: date, end: date, workspace_slug: str, releases: list | None = None
) -> dict:
    """Bars of the features over the months, arrows from each prerequisite's end to its
    dependant's start (both on the chart), and a marker at each release's date (shipped on,
    else planned for). Geometry only; the template draws it."""
    features: list[Feature] = []
    seen: set[int] = set()
    for bucket in months:
        for feature in bucket["features"]:
            if feature.pk not in seen:
                seen.add(feature.pk)
                features.append(feature)
    total_days = (end - start).days + 1
    plot_width = MONTH_WIDTH * len(months)

    def x_of(day: date) -> float:
        day = min(max(day, start), end)
        return LABEL_WIDTH + plot_width * (day - start).days / total_days

    bars = []
    position: dict[int, dict] = {}
    for row, feature in enumerate(features):
        first = feature.planned_start or feature.target_date
        last = feature.target_date or feature.planned_start
        x1 = x_of(first)
        x2 = max(x_of(last) + plot_width / total_days, x1 + 6)
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
    month_marks = [
        {
            "x": LABEL_WIDTH + i * MONTH_WIDTH,
            "label": bucket["month"].strftime("%b %Y"),
            "count": len(bucket["features"]),
        }
        for i, bucket in enumerate(months)
    ]
    markers = []
    for release in releases or []:
        day = release.shipped_on or release.planned_date
        x = x_of(day) + plot_width / total_days / 2
        markers.append(
            {
                "release": release,
                "day": day,
                "x": x,
                "head": f"M{x:.1f},{HEAD_HEIGHT - 6} l5,5 l-5,5 l-5,-5 z",
                "href": reverse("portal:release", args=[workspace_slug, release.pk]),
            }
        )
    return {
        "width": LABEL_WIDTH + plot_width + 8,
        "height": HEAD_HEIGHT + max(1, len(bars)) * ROW_HEIGHT + 4,
        "bars": bars,
        "releases": markers,
        "arrows": arrows,
        "months": month_marks,
        "label_width": LABEL_WIDTH,
        "month_width": MONTH_WIDTH,
        "text_x": LABEL_WIDTH - 8,
        "today_x": x_of(timezone.localdate()) if start <= timezone.localdate() <= end else None,
    }


@workspace_page()
def timeline(request: HttpRequest) -> HttpResponse:
    form = TimelineFilterForm(request.GET, workspace=request.workspace)
    filters = form.filters()
    features = roadmap_selectors.feature_board_list(
        workspace=request.workspace,
        statuses=BOARD_STATUSES,
        with_dependencies=True,
        **filters,
    )
    start, end, _ = form.span(default_start=timezone.localdate())
    months = roadmap_selectors.roadmap_by_month(features=features, start=start, end=end)
    capacity = roadmap_selectors.team_capacity_load(
        workspace=request.workspace, start=start, end=end, team=filters["team"]
    )
    releases = release_selectors.timeline_release_markers(workspace=request.workspace, start=start, end=end)
    if filters["product"] is not None:
        releases = [r for r in releases if r.product_id == filters["product"].pk]
    return render(
        request,
        "portal/roadmap/timeline.html",
        {
            "form": form,
            "months": months,
            "gantt": _gantt(months, start, end, request.workspace.slug, releases),
            "releases": releases,
            "capacity": capacity,
            "start": start,
            "end": end,
            "settings": roadmap_selectors.roadmap_settings(workspace=request.workspace),
        },
    )


# --- priority matrix -----------------------------------------------------------------


@workspace_page()
def matrix(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    settings_row = roadmap_selectors.roadmap_settings(workspace=workspace)
    filter_form = MatrixFilterForm(request.GET, workspace=workspace)
    model = filter_form.scoring_model(default=settings_row.scoring_model)
    column = SCORE_COLUMNS[ScoringModel(model)]
    features = list(
        roadmap_selectors.feature_matrix_list(
            workspace=workspace, score_column=column, **filter_form.filters()
        )
    )
    label = ScoringModel(model).label
    # One reverse for all dots (a page may plot hundreds).
    feature_url = reverse("portal:feature", args=[workspace.slug, 0]).replace("/0/", "/{}/")
    points = [
        {
            "x": float(f.effort),
            "y": getattr(f, column),
            "label": f.title,
            "href": feature_url.format(f.pk),
            "css": f"dot-{f.status}",
        }
        for f in features
    ]
    chart = charts.scatter(
        points,
        title=f"Value ({label} score) against effort",
        x_label=f"Effort ({settings_row.get_effort_unit_display().lower()})",
        y_label=f"{label} score",
    )
    rows = sorted(features, key=lambda f: (-getattr(f, column), f.effort, f.pk))
    for f in rows:
        f.matrix_value = getattr(f, column)
        f.url = feature_url.format(f.pk)
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
            "rows": shown,
            "hidden_rows": len(rows) - len(shown),
            "total_rows": len(rows),
            "settings": settings_row,
        },
    )
