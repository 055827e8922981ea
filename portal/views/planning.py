"""The planning pages ("Plan"): what the roadmap is built from.

Products live in ``portal.views.products``, goals and key results in ``portal.views.goals``,
teams and their capacity periods in ``portal.views.teams``; this module holds what they share,
the initiatives, and the scorecard criterion's edit page (the scoring settings page adds and
removes criteria).

Everyone in the workspace sees these pages; writing needs what the REST API needs: a product
manager for products, goals, initiatives, teams, capacities and criteria, a contributor to
update a key result. Every form is a plain POST that calls the service the API uses, then
redirects (POST-redirect-GET); an error re-renders the form with the service's ``detail`` on
the field it names (status 400), and nothing is written. A refused delete (409 "used by…") is a
message on the object's page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.planning import CriterionEditForm, InitiativeForm
from productops.errors import DomainError
from productops.models import Role
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services

PAGE_SIZE = 25


# --- shared by the planning pages -----------------------------------------------------------


def paginate(request: HttpRequest, rows: QuerySet | list) -> Page:
    return Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def get_one(rows: QuerySet, pk: int, what: str) -> Any:
    """The row ``pk`` of a selector's (workspace-scoped) rows, or 404."""
    row = rows.filter(pk=pk).first()
    if row is None:
        raise Http404(f"{what} not found.")
    return row


def delete_or_explain(request: HttpRequest, delete: Callable[[], None], done: str) -> bool:
    """Run ``delete``; a refusal (409 "used by…") becomes an error message. True when deleted."""
    try:
        delete()
    except DomainError as exc:
        messages.error(request, f"Not deleted: {exc.detail}")
        return False
    messages.success(request, done)
    return True


# --- initiatives ------------------------------------------------------------------------------


def _initiative(request: HttpRequest, initiative_id: int) -> Any:
    return get_one(
        roadmap_selectors.initiative_overview_list(workspace=request.workspace), initiative_id, "Initiative"
    )


@require_http_methods(["GET"])
@workspace_page()
def initiative_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, roadmap_selectors.initiative_overview_list(workspace=request.workspace))
    return render(request, "portal/planning/initiatives.html", {"page": page, "rows": list(page.object_list)})


@require_http_methods(["GET", "POST"])
@workspace_page()
def initiative_new(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    initial = {}
    if request.method == "GET" and request.GET.get("goal", "").isdigit():
        initial["goal"] = request.GET["goal"]
    form = InitiativeForm(
        request.POST if request.method == "POST" else None, workspace=request.workspace, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            initiative = roadmap_services.initiative_create(
                workspace=request.workspace, actor=request.user, data=form.initiative_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Initiative “{initiative.title}” created.")
            return redirect("portal:plan-initiatives", request.workspace.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/planning/initiative_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@workspace_page()
def initiative_detail(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = _initiative(request, initiative_id)
    if request.method == "POST":
        require_role(request, Role.PRODUCT_MANAGER)
        form = InitiativeForm(request.POST, workspace=request.workspace, initiative=initiative)
        if form.is_valid():
            try:
                initiative = roadmap_services.initiative_update(
                    initiative=initiative, actor=request.user, data=form.initiative_data()
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Initiative “{initiative.title}” saved.")
                return redirect("portal:plan-initiative", request.workspace.slug, initiative.pk)
        status = 400
    else:
        form = InitiativeForm(workspace=request.workspace, initiative=initiative)
        status = 200
    return render(
        request,
        "portal/planning/initiative_form.html",
        {"form": form, "initiative": initiative},
        status=status,
    )


@require_POST
@workspace_page()
def initiative_delete(request: HttpRequest, initiative_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    initiative = _initiative(request, initiative_id)
    deleted = delete_or_explain(
        request,
        lambda: roadmap_services.initiative_delete(initiative=initiative, actor=request.user),
        f"Initiative “{initiative.title}” deleted.",
    )
    if deleted:
        return redirect("portal:plan-initiatives", request.workspace.slug)
    return redirect("portal:plan-initiative", request.workspace.slug, initiative.pk)


# --- scorecard criteria -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@workspace_page()
def criterion_edit(request: HttpRequest, criterion_id: int) -> HttpResponse:
    """A scorecard criterion's name, weight, source and position (product manager)."""
    require_role(request, Role.PRODUCT_MANAGER)
    criterion = get_one(
        roadmap_selectors.scorecard_criterion_list(workspace=request.workspace), criterion_id, "Criterion"
    )
    if request.method == "POST":
        form = CriterionEditForm(request.POST, criterion=criterion)
        if form.is_valid():
            try:
                criterion = roadmap_services.scorecard_criterion_update(
                    criterion=criterion, actor=request.user, data=form.cleaned_data
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Criterion “{criterion.name}” saved.")
                return redirect("portal:scoring", request.workspace.slug)
        status = 400
    else:
        form = CriterionEditForm(criterion=criterion)
        status = 200
    return render(
        request,
        "portal/planning/criterion_form.html",
        {"form": form, "criterion": criterion},
        status=status,
    )
