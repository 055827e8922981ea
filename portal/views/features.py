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
from django_htmx.http import HttpResponseClientRedirect

from feedback import selectors as feedback_selectors
from portal import charts
from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.features import (
    LEGACY_SECTION,
    QUICK_AUTO_ID,
    QUICK_SECTION,
    SECTION_LABELS,
    SECTIONS,
    DependencyForm,
    FeatureForm,
    scoring_display,
    sections_posted,
)
from portal.forms.releases import ActualForm, MetricForm
from portal.forms.roadmap import StatusForm
from portal.score_chart import breakdown_chart as score_breakdown_chart
from portal.views.releases import metric_section_context
from priority import selectors as priority_selectors
from productops.errors import DomainError
from productops.models import Role
from releases import selectors as release_selectors
from releases import services as release_services
from releases.models import SuccessMetric
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureStatus, ScorecardCriterion, ScoringModel

HISTORY_POINTS = 60


def _feature(request: HttpRequest, feature_id: int) -> Feature:
    feature = roadmap_selectors.feature_detail(workspace=request.workspace, feature_id=feature_id)
    if feature is None:
        raise Http404("Feature not found.")
    return feature


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
    breakdown_chart = score_breakdown_chart(breakdown, feature_title=feature.title, model_label=model_label)
    snapshots = list(priority_selectors.feature_priority_history(feature=feature)[:HISTORY_POINTS])
    snapshots.reverse()
    rank_chart = charts.line(
        [(s.computed_at.strftime("%d %b %Y"), s.rank) for s in snapshots],
        title=f"Priority rank of {feature.title} over time",
        invert=True,
        y_label="rank",
        compact=True,
    )
    score_chart = charts.line(
        [(s.computed_at.strftime("%d %b %Y"), s.score) for s in snapshots],
        title=f"Priority score of {feature.title} over time",
        y_label="score",
        compact=True,
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
        # The sections' facts: the scorecard's values as the breakdown read them (no query).
        "scoring_groups": scoring_display(
            feature=feature,
            scoring_model=breakdown["scoring_model"],
            criteria=[
                {"label": t["label"], "value": t["value"] if t["is_set"] else None, "source": t["source"]}
                for t in breakdown["models"][ScoringModel.SCORECARD]["terms"]
            ],
        ),
        "section_labels": SECTION_LABELS,
        "dependency_form": (
            DependencyForm(workspace=request.workspace)
            if has_role(request.membership, Role.CONTRIBUTOR)
            else None
        ),
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


# --- creating and editing -------------------------------------------------------------------


def _scoring(request: HttpRequest, *, with_criteria: bool = True) -> tuple[str, list[ScorecardCriterion]]:
    """The workspace's scoring model and (when asked) its scorecard criteria."""
    scoring_model = roadmap_selectors.roadmap_settings(workspace=request.workspace).scoring_model
    criteria = (
        list(roadmap_selectors.scorecard_criterion_list(workspace=request.workspace)) if with_criteria else []
    )
    return scoring_model, criteria


def _form(
    request: HttpRequest, feature: Feature | None, sections: list[str], data: object = None, **kwargs: Any
) -> FeatureForm:
    scoring_model, criteria = _scoring(
        request, with_criteria="scoring" in sections or LEGACY_SECTION in sections
    )
    return FeatureForm(
        data,
        workspace=request.workspace,
        feature=feature,
        sections=sections,
        scoring_model=scoring_model,
        criteria=criteria,
        **kwargs,
    )


@workspace_page()
def new(request: HttpRequest) -> HttpResponse:
    """``features/new/``: the full new-feature form (contributor). The quick form of the roadmap
    pages (``quick=1``: title and product) posts here too and continues on the edit form."""
    require_role(request, Role.CONTRIBUTOR)
    quick = request.POST.get("quick") == "1"
    if request.method != "POST":
        initial = {"title": request.GET.get("title", "")[:200], "product": request.GET.get("product")}
        return _render_new(request, _form(request, None, list(SECTIONS), initial=initial))
    sections = [QUICK_SECTION] if quick else list(SECTIONS)
    form = _form(request, None, sections, request.POST, auto_id=QUICK_AUTO_ID if quick else "id_%s")
    if form.is_valid():
        try:
            feature = roadmap_services.feature_create_with_values(
                workspace=request.workspace,
                actor=request.user,
                data=form.feature_data(),
                criterion_values=form.criterion_values(),
            )
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            if quick:
                messages.success(request, f"Feature “{feature.title}” created: fill in the rest below.")
                url = reverse("portal:feature-edit", args=[request.workspace.slug, feature.pk])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
            messages.success(request, f"Feature “{feature.title}” created.")
            return redirect("portal:feature", request.workspace.slug, feature.pk)
    if quick and request.htmx:
        return render(request, "portal/roadmap/_new_feature.html", {"quick_form": form, "quick_open": True})
    if quick:  # no JavaScript: the full form, with what was typed and its errors
        full = _form(request, None, list(SECTIONS), request.POST)
        full.is_valid()
        for name, errors in form.errors.items():
            if name in full.fields and name not in full.errors:
                for error in errors:
                    full.add_error(name, error)
        form = full
    return _render_new(request, form, status=400)


def _render_new(request: HttpRequest, form: FeatureForm, status: int = 200) -> HttpResponse:
    return render(request, "portal/roadmap/feature_edit.html", {"f": None, "form": form}, status=status)


def _editable(request: HttpRequest, feature_id: int) -> Feature | HttpResponse:
    feature = _feature(request, feature_id)
    if feature.merged_into_id is not None:
        return redirect("portal:feature", request.workspace.slug, feature.merged_into_id)
    require_role(request, Role.CONTRIBUTOR)
    return feature


def _save(request: HttpRequest, feature: Feature, form: FeatureForm) -> Feature | None:
    """Save the valid form through the service; on a refusal the error is on the form, and
    nothing is written (the service is one transaction)."""
    if not form.is_valid():
        return None
    try:
        return roadmap_services.feature_edit(
            feature=feature,
            actor=request.user,
            data=form.feature_data(),
            criterion_values=form.criterion_values(),
        )
    except DomainError as exc:
        form.add_service_error(exc)
        return None


@workspace_page()
def edit(request: HttpRequest, feature_id: int) -> HttpResponse:
    """The long form of every section (htmx: the form partial, swapped into ``#details``;
    otherwise a page that warns about unsaved changes). Saving needs contributor; a post names
    its sections with ``section`` inputs (none: the fields of the page's former single form)."""
    feature = _editable(request, feature_id)
    if isinstance(feature, HttpResponse):
        return feature
    if request.method != "POST":
        return _render_edit(request, feature, _form(request, feature, list(SECTIONS)))
    sections = sections_posted(request.POST.getlist("section")) or [LEGACY_SECTION]
    form = _form(request, feature, sections, request.POST)
    if _save(request, feature, form) is not None:
        if request.htmx:
            return render(
                request,
                "portal/roadmap/_feature_details.html",
                _details_context(request, feature_id, saved=True),
            )
        messages.success(request, "Saved.")
        return redirect("portal:feature", request.workspace.slug, feature.pk)
    return _render_edit(request, feature, form, status=200 if request.htmx else 400)


def _render_edit(
    request: HttpRequest, feature: Feature, form: FeatureForm, status: int = 200
) -> HttpResponse:
    template = "portal/roadmap/_feature_form.html" if request.htmx else "portal/roadmap/feature_edit.html"
    return render(request, template, {"f": feature, "form": form}, status=status)


@workspace_page()
def edit_section(request: HttpRequest, feature_id: int, section: str) -> HttpResponse:
    """One section's inline form (htmx: swapped into the section; otherwise a page). A saved
    section answers its facts with "Saved." (htmx) or goes back to the feature page."""
    if section not in SECTIONS:
        raise Http404("No such section.")
    feature = _editable(request, feature_id)
    if isinstance(feature, HttpResponse):
        return feature
    if request.method != "POST":
        return _render_section_form(request, feature, section, _form(request, feature, [section]))
    form = _form(request, feature, [section], request.POST)
    if _save(request, feature, form) is not None:
        if request.htmx:
            return render(
                request,
                "portal/roadmap/_feature_section.html",
                _details_context(request, feature_id, saved_section=section, section=section, oob=True),
            )
        messages.success(request, f"{SECTION_LABELS[section]} saved.")
        return redirect(
            reverse("portal:feature", args=[request.workspace.slug, feature.pk]) + f"#section-{section}"
        )
    return _render_section_form(request, feature, section, form, status=200 if request.htmx else 400)


def _render_section_form(
    request: HttpRequest, feature: Feature, section: str, form: FeatureForm, status: int = 200
) -> HttpResponse:
    context = {"f": feature, "form": form, "section": section, "section_label": SECTION_LABELS[section]}
    if request.htmx:
        return render(request, "portal/roadmap/_feature_section_form.html", context, status=status)
    return render(
        request, "portal/roadmap/feature_edit.html", {**context, "single_section": True}, status=status
    )


def _details_context(request: HttpRequest, feature_id: int, **extra: object) -> dict:
    """What ``_feature_details.html`` (all sections) shows, read afresh after a save."""
    feature = _feature(request, feature_id)
    scoring_model, criteria = _scoring(request)
    values = roadmap_selectors.feature_criterion_values(feature=feature) if criteria else {}
    rows = [{"label": c.name, "value": values.get(c.pk), "source": c.source} for c in criteria]
    return {
        "f": feature,
        **extra,
        "scoring_groups": scoring_display(feature=feature, scoring_model=scoring_model, criteria=rows),
        "section_labels": SECTION_LABELS,
    }


@workspace_page()
def details(request: HttpRequest, feature_id: int) -> HttpResponse:
    """The details alone (htmx "Cancel" of the long form), or one section's facts
    (``?section=``: "Cancel" of its inline form)."""
    feature = _feature(request, feature_id)
    if not request.htmx:
        return redirect("portal:feature", request.workspace.slug, feature.pk)
    context = _details_context(request, feature_id)
    section = request.GET.get("section")
    if section in SECTIONS:
        return render(request, "portal/roadmap/_feature_section.html", {**context, "section": section})
    return render(request, "portal/roadmap/_feature_details.html", context)


# --- dependencies -----------------------------------------------------------------------------


def _dependencies_response(
    request: HttpRequest,
    feature: Feature,
    form: DependencyForm | None = None,
    status: int = 200,
    notice: str = "",
) -> HttpResponse:
    context = {
        "f": feature,
        "dependencies": roadmap_selectors.feature_dependencies(feature=feature),
        "dependency_form": form or DependencyForm(workspace=request.workspace),
        "notice": notice,
    }
    return render(request, "portal/roadmap/_feature_dependencies.html", context, status=status)


def _dependencies_url(request: HttpRequest, feature: Feature) -> str:
    return reverse("portal:feature", args=[request.workspace.slug, feature.pk]) + "#dependencies"


@require_POST
@workspace_page()
def dependency_add(request: HttpRequest, feature_id: int) -> HttpResponse:
    """Add "depends on" (contributor); a cycle, or the feature itself, is refused inline."""
    require_role(request, Role.CONTRIBUTOR)
    feature = _live_feature(request, feature_id)
    form = DependencyForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        depends_on = form.cleaned_data["depends_on"]
        try:
            roadmap_services.feature_add_dependency(
                feature=feature, depends_on=depends_on, actor=request.user
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            notice = f"Now depends on “{depends_on.title}”."
            if request.htmx:
                return _dependencies_response(request, feature, notice=notice)
            messages.success(request, notice)
            return redirect(_dependencies_url(request, feature))
    if request.htmx:
        return _dependencies_response(request, feature, form)
    return render(
        request,
        "portal/roadmap/feature.html",
        _page_context(request, feature, dependency_form=form),
        status=400,
    )


@require_POST
@workspace_page()
def dependency_remove(request: HttpRequest, feature_id: int, depends_on_id: int) -> HttpResponse:
    require_role(request, Role.CONTRIBUTOR)
    feature = _live_feature(request, feature_id)
    depends_on = _feature(request, depends_on_id)
    roadmap_services.feature_remove_dependency(feature=feature, depends_on=depends_on, actor=request.user)
    notice = f"No longer depends on “{depends_on.title}”."
    if request.htmx:
        return _dependencies_response(request, feature, notice=notice)
    messages.success(request, notice)
    return redirect(_dependencies_url(request, feature))


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
