"""The feature page: description, score breakdown, priority history, demand, dependencies,
releases, status history and audit trail, with an inline (htmx) edit form."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from feedback import selectors as feedback_selectors
from portal import charts
from portal.access import require_role, workspace_page
from portal.forms.roadmap import FeatureEditForm, StatusForm
from priority import selectors as priority_selectors
from productops.errors import DomainError
from productops.models import Role
from releases import selectors as release_selectors
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


def _page_context(request: HttpRequest, feature: Feature, **extra: object) -> dict:
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
