"""Scoring settings: the workspace's scoring model and scorecard weights, with a preview of
the ranking under the proposed settings (nothing saved) before saving them.

The page shows what the selected model uses (its formula and inputs; the scorecard's weights
and criteria only for the weighted scorecard); the other models' guides and the unused weights
stay collapsed, labelled as not used by the active model."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.access import require_role, workspace_page
from portal.forms.roadmap import CriterionForm, ScoringForm
from priority import explain
from priority import services as priority_services
from productops.errors import DomainError
from productops.models import Role
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import ScoringModel

PREVIEW_SIZE = 15


def _scoring_form(request: HttpRequest, data: object = None) -> ScoringForm:
    return ScoringForm(
        data,
        settings_row=roadmap_selectors.roadmap_settings(workspace=request.workspace),
        criteria=list(roadmap_selectors.scorecard_criterion_list(workspace=request.workspace)),
    )


def _active_model(form: ScoringForm, settings_row: object) -> str:
    """The model the page explains: the one posted (when it is a model), else the saved one."""
    posted = form.data.get("scoring_model") if form.is_bound else None
    return posted if posted in ScoringModel.values else settings_row.scoring_model


def _render(request: HttpRequest, form: ScoringForm, status: int = 200, **extra: object) -> HttpResponse:
    settings_row = roadmap_selectors.roadmap_settings(workspace=request.workspace)
    active = _active_model(form, settings_row)
    guide, other_guides = explain.model_guide(active)
    context = {
        "form": form,
        "settings": settings_row,
        "active_model": active,
        "active_label": ScoringModel(active).label,
        "uses_scorecard": active == ScoringModel.SCORECARD,
        "guide": guide,
        "other_guides": other_guides,
        "current": roadmap_selectors.feature_rank_list(workspace=request.workspace, limit=PREVIEW_SIZE),
        "criterion_form": extra.pop("criterion_form", None) or CriterionForm(),
        **extra,
    }
    return render(request, "portal/roadmap/scoring.html", context, status=status)


def _add_error(form: object, exc: DomainError) -> None:
    attr = exc.attr or ""
    if attr.startswith("criterion_weights."):
        attr = "weight_" + attr.removeprefix("criterion_weights.")
    form.add_error(attr if attr in form.fields else None, exc.detail)


@workspace_page()
def scoring(request: HttpRequest) -> HttpResponse:
    """See the settings (viewer); save them (product manager, as the API's settings endpoint)."""
    if request.method != "POST":
        return _render(request, _scoring_form(request))
    require_role(request, Role.PRODUCT_MANAGER)
    form = _scoring_form(request, request.POST)
    if form.is_valid():
        try:
            roadmap_services.scoring_settings_apply(
                workspace=request.workspace,
                actor=request.user,
                scoring_model=form.cleaned_data["scoring_model"],
                criterion_weights=form.weights(),
            )
        except DomainError as exc:
            _add_error(form, exc)
        else:
            messages.success(request, "Scoring settings saved; the ranking is being recomputed.")
            return redirect("portal:scoring", request.workspace.slug)
    return _render(request, form, status=400)


@require_POST
@workspace_page()
def preview(request: HttpRequest) -> HttpResponse:
    """The top of the ranking under the posted settings, next to the current one; saves nothing."""
    require_role(request, Role.PRODUCT_MANAGER)
    form = _scoring_form(request, request.POST)
    rows = None
    if form.is_valid():
        try:
            rows = priority_services.ranking_preview(
                workspace=request.workspace,
                actor=request.user,
                scoring_model=form.cleaned_data["scoring_model"],
                criterion_weights=form.weights(),
                limit=PREVIEW_SIZE,
            )
        except DomainError as exc:
            _add_error(form, exc)
    context = {
        "form": form,
        "preview": rows,
        "current": roadmap_selectors.feature_rank_list(workspace=request.workspace, limit=PREVIEW_SIZE),
    }
    if request.htmx:
        return render(request, "portal/roadmap/_scoring_preview.html", context)
    return _render(request, form, status=200 if rows is not None else 400, preview=rows)


@require_POST
@workspace_page()
def criterion_add(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    form = CriterionForm(request.POST)
    if form.is_valid():
        try:
            roadmap_services.scorecard_criterion_create(
                workspace=request.workspace, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.attr if exc.attr in form.fields else None, exc.detail)
        else:
            messages.success(request, f"Criterion “{form.cleaned_data['name']}” added.")
            return redirect("portal:scoring", request.workspace.slug)
    return _render(request, _scoring_form(request), status=400, criterion_form=form)


@require_POST
@workspace_page()
def criterion_delete(request: HttpRequest, criterion_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    criterion = (
        roadmap_selectors.scorecard_criterion_list(workspace=request.workspace)
        .filter(pk=criterion_id)
        .first()
    )
    if criterion is None:
        raise Http404("Criterion not found.")
    try:
        roadmap_services.scorecard_criterion_delete(criterion=criterion, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Criterion “{criterion.name}” removed.")
    return redirect("portal:scoring", request.workspace.slug)
