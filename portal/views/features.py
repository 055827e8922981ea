"""The feature page: description, score breakdown, priority history, demand, dependencies,
releases, success metrics, status history and audit trail, with an inline (htmx) edit form.

The feature's success metrics are managed as on the release page (the same forms, partial and
services): each action is a plain form post, then a redirect back to ``#metrics``; a refusal
re-renders the page with the service's ``detail`` on the form, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from feedback import selectors as feedback_selectors
from portal import charts
from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.releases import ActualForm, MetricForm
from portal.forms.roadmap import FeatureEditForm, StatusForm
from portal.views.releases import metric_section_context
from priority import selectors as priority_selectors
from productops.errors import DomainError
from productops.models import Role
from releases import selectors as release_selectors
from releases import services as release_services
from releases.models import SuccessMetric
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureStatus, ScoringModel

HISTORY_POINTS = 60


def _feature(request: HttpRequest, feature_id: int) -> Feature:
    feature = roadmap_selectors.feature_detail(workspace=request.workspace, feature_id=feature_id)
    if feature is None:
        raise Http404("Feature not found.")
    return feature


def _edit_form(request: HttpRequest, feature: Feature, data: object = None) -> FeatureEditForm:
    settings_row = roadmap_selectors.roadmap_settings(workspace=request.workspace)
    criteria = []
    if settings_row.scoring_model == ScoringModel.SCORECARD:
        criteria = list(roadmap_selectors.scorecard_criterion_list(workspace=request.workspace))
    return FeatureEditForm(data, feature=feature, scoring_model=settings_row.scoring_model, criteria=criteria)


@workspace_page()
def feature(request: HttpRequest, feature_id: int) -> HttpResponse:
    feature = _feature(request, feature_id)
    if feature.merged_into_id is not None:
        return redirect("portal:feature", request.workspace.slug, feature.merged_into_id)
    return render(request, "portal/roadmap/feature.html", _page_context(request, feature))


def _page_context(
    request: HttpRequest, feature: Feature, bound: dict[str, Any] | None = None, **extra: object
) -> dict:
    bound = bound or {}
    breakdown = priority_selectors.feature_score_breakdown(feature=feature)
    active = breakdown["models"][breakdown["scoring_model"]]
    model_label = ScoringModel(breakdown["scoring_model"]).label
    bars = [
        (
            f"{term['label']}{' ÷' if term['role'] == 'divisor' else ''}",
            term["contribution"] if term["contribution"] is not None else (term["value"] or 0),
        )
        for term in active["terms"]
    ]
    breakdown_chart = charts.horizontal_bars(
        bars, title=f"{model_label} score of {feature.title}, by criterion"
    )
    snapshots = list(priority_selectors.feature_priority_history(feature=feature)[:HISTORY_POINTS])
    snapshots.reverse()
    rank_chart = charts.line(
        [(s.computed_at.strftime("%d %b %Y"), s.rank) for s in snapshots],
        title=f"Priority rank of {feature.title} over time",
        invert=True,
        y_label="rank",
    )
    score_chart = charts.line(
        [(s.computed_at.strftime("%d %b %Y"), s.score) for s in snapshots],
        title=f"Priority score of {feature.title} over time",
        y_label="score",
    )
    return {
        "f": feature,
        "breakdown": breakdown,
        "active": active,
        "model_label": model_label,
        "breakdown_chart": breakdown_chart,
        "additive": any(term["contribution"] is not None for term in active["terms"]),
        "snapshots": snapshots,
        "rank_chart": rank_chart,
        "score_chart": score_chart,
        "demand": feedback_selectors.feature_linked_feedback(feature=feature),
        "dependencies": roadmap_selectors.feature_dependencies(feature=feature),
        "releases": release_selectors.feature_releases(feature=feature),
        **metric_section_context(request, release_selectors.feature_success_metrics(feature=feature), bound),
        "open_sections": {key.split("-")[0] for key in bound},
        "status_history": list(roadmap_selectors.feature_status_history(feature=feature)[:50]),
        "audit": [
            {
                "event": event,
                "changes": [(key, _describe(value)) for key, value in sorted(event.changes.items())],
            }
            for event in roadmap_selectors.feature_audit_trail(feature=feature)
        ],
        "status_form": StatusForm(initial={"status": feature.status}),
        "status_choices": FeatureStatus.choices,
        **extra,
    }


def _describe(value: object) -> str:
    """An audit change for people: ``[old, new]`` as "old → new", mappings as "key: value"."""
    if isinstance(value, list) and len(value) == 2 and not all(isinstance(v, int) for v in value):
        return f"{_describe(value[0])} → {_describe(value[1])}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_describe(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_describe(v) for v in value) or "none"
    return "—" if value in ("", None) else str(value)


@workspace_page()
def edit(request: HttpRequest, feature_id: int) -> HttpResponse:
    """The inline edit form (htmx: the form partial; otherwise a page). Saving needs contributor."""
    feature = _feature(request, feature_id)
    if feature.merged_into_id is not None:
        return redirect("portal:feature", request.workspace.slug, feature.merged_into_id)
    require_role(request, Role.CONTRIBUTOR)
    if request.method != "POST":
        return _render_edit(request, feature, _edit_form(request, feature))
    form = _edit_form(request, feature, request.POST)
    if form.is_valid():
        try:
            feature = roadmap_services.feature_edit(
                feature=feature,
                actor=request.user,
                data=form.feature_data(),
                criterion_values=form.criterion_values(),
            )
        except DomainError as exc:
            attr = exc.attr.removeprefix("values.") if exc.attr else None
            if attr and f"criterion_{attr}" in form.fields:
                attr = f"criterion_{attr}"
            form.add_error(attr if attr in form.fields else None, exc.detail)
        else:
            if request.htmx:
                feature = _feature(request, feature_id)
                return render(request, "portal/roadmap/_feature_details.html", {"f": feature, "saved": True})
            messages.success(request, "Saved.")
            return redirect("portal:feature", request.workspace.slug, feature.pk)
    return _render_edit(request, feature, form, status=200 if request.htmx else 400)


def _render_edit(
    request: HttpRequest, feature: Feature, form: FeatureEditForm, status: int = 200
) -> HttpResponse:
    template = "portal/roadmap/_feature_form.html" if request.htmx else "portal/roadmap/feature_edit.html"
    return render(request, template, {"f": feature, "form": form}, status=status)


@workspace_page()
def details(request: HttpRequest, feature_id: int) -> HttpResponse:
    """The details section alone (htmx "Cancel" of the edit form)."""
    feature = _feature(request, feature_id)
    if not request.htmx:
        return redirect("portal:feature", request.workspace.slug, feature.pk)
    return render(request, "portal/roadmap/_feature_details.html", {"f": feature})


# --- success metrics ------------------------------------------------------------------------------


def _live_feature(request: HttpRequest, feature_id: int) -> Feature:
    """The feature a metric action is about; a merged one takes none (its page shows the survivor)."""
    feature = _feature(request, feature_id)
    if feature.merged_into_id is not None:
        raise Http404("This feature was merged into another.")
    return feature


def _metric(request: HttpRequest, feature: Feature, metric_id: int) -> SuccessMetric:
    metric = (
        release_selectors.success_metric_list(workspace=request.workspace)
        .filter(feature=feature, pk=metric_id)
        .first()
    )
    if metric is None:
        raise Http404("Not a metric of this feature.")
    return metric


def _metrics_url(request: HttpRequest, feature: Feature) -> str:
    return reverse("portal:feature", args=[request.workspace.slug, feature.pk]) + "#metrics"


def _render_page(request: HttpRequest, feature: Feature, bound: dict[str, Any]) -> HttpResponse:
    return render(request, "portal/roadmap/feature.html", _page_context(request, feature, bound), status=400)


def _key_results(request: HttpRequest) -> list:
    return list(roadmap_selectors.key_result_list(workspace=request.workspace))


@require_POST
@workspace_page()
def metric_add(request: HttpRequest, feature_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    feature = _live_feature(request, feature_id)
    form = MetricForm(request.POST, key_results=_key_results(request), auto_id="metric-%s")
    if form.is_valid():
        try:
            metric = release_services.success_metric_create(
                workspace=request.workspace,
                actor=request.user,
                data={"feature": feature, **form.cleaned_data},
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Metric “{metric.name}” added.")
            return redirect(_metrics_url(request, feature))
    return _render_page(request, feature, {"metric": form})


@require_POST
@workspace_page()
def metric_edit(request: HttpRequest, feature_id: int, metric_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    feature = _live_feature(request, feature_id)
    metric = _metric(request, feature, metric_id)
    form = MetricForm(request.POST, key_results=_key_results(request), auto_id=f"metricedit-{metric.pk}-%s")
    if form.is_valid():
        try:
            metric = release_services.success_metric_update(
                metric=metric, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Metric “{metric.name}” saved.")
            return redirect(_metrics_url(request, feature))
    return _render_page(request, feature, {f"metricedit-{metric.pk}": form})


@require_POST
@workspace_page()
def metric_actual(request: HttpRequest, feature_id: int, metric_id: int) -> HttpResponse:
    require_role(request, Role.CONTRIBUTOR)
    feature = _live_feature(request, feature_id)
    metric = _metric(request, feature, metric_id)
    form = ActualForm(request.POST, auto_id=f"actual-{metric.pk}-%s")
    if form.is_valid():
        try:
            release_services.metric_actual_record(metric=metric, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            value = format(form.cleaned_data["value"].normalize(), "f")
            messages.success(request, f"“{metric.name}”: {value} recorded.")
            return redirect(_metrics_url(request, feature))
    return _render_page(request, feature, {f"actual-{metric.pk}": form})


@require_POST
@workspace_page()
def metric_review(request: HttpRequest, feature_id: int, metric_id: int) -> HttpResponse:
    """Mark the metric reviewed (``reviewed=0`` reopens it)."""
    require_role(request, Role.PRODUCT_MANAGER)
    feature = _live_feature(request, feature_id)
    metric = _metric(request, feature, metric_id)
    reviewed = request.POST.get("reviewed", "1") != "0"
    try:
        release_services.success_metric_update(metric=metric, actor=request.user, data={"reviewed": reviewed})
    except DomainError as exc:
        messages.error(request, f"{metric.name}: {exc.detail}")
    else:
        messages.success(request, f"“{metric.name}” {'reviewed' if reviewed else 'is due for review again'}.")
    return redirect(_metrics_url(request, feature))


@require_POST
@workspace_page()
def metric_delete(request: HttpRequest, feature_id: int, metric_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    feature = _live_feature(request, feature_id)
    metric = _metric(request, feature, metric_id)
    try:
        release_services.success_metric_delete(metric=metric, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Metric “{metric.name}” removed.")
    return redirect(_metrics_url(request, feature))
