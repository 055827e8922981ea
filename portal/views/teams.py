"""Teams and their capacity periods: the team list (each with its periods), a team's page
(rename, its periods with the effort planned in each, add a period), a period's page (edit),
and the deletes. Product managers write, as in the REST API; see ``portal.views.planning``."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.planning import CapacityForm, TeamForm
from portal.views.planning import delete_or_explain, get_one, paginate
from productops.errors import DomainError
from productops.models import Role
from productops.validation import PLANNING_EARLIEST, PLANNING_LATEST
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Team, TeamCapacity


def _team(request: HttpRequest, team_id: int) -> Team:
    return get_one(roadmap_selectors.team_overview_list(workspace=request.workspace), team_id, "Team")


def _capacity(request: HttpRequest, capacity_id: int) -> TeamCapacity:
    return get_one(roadmap_selectors.team_capacity_list(workspace=request.workspace), capacity_id, "Period")


def _team_url(request: HttpRequest, team_id: int, section: str = "") -> str:
    url = reverse("portal:plan-team", args=[request.workspace.slug, team_id])
    return f"{url}#{section}" if section else url


def _render_list(request: HttpRequest, form: TeamForm | None = None, status: int = 200) -> HttpResponse:
    page = paginate(request, roadmap_selectors.team_overview_list(workspace=request.workspace))
    return render(
        request,
        "portal/planning/teams.html",
        {
            "page": page,
            "rows": list(page.object_list),
            "form": form
            or (
                TeamForm(auto_id="new-team-%s")
                if has_role(request.membership, Role.PRODUCT_MANAGER)
                else None
            ),
            "settings": roadmap_selectors.roadmap_settings(workspace=request.workspace),
        },
        status=status,
    )


@require_http_methods(["GET"])
@workspace_page()
def team_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@require_POST
@workspace_page()
def team_create(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    form = TeamForm(request.POST, auto_id="new-team-%s")
    if form.is_valid():
        try:
            team = roadmap_services.team_create(
                workspace=request.workspace, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Team “{team.name}” created: now give it its capacity per period.")
            return redirect(_team_url(request, team.pk, "new-period"))
    return _render_list(request, form, status=400)


def _render_team(
    request: HttpRequest,
    team: Team,
    form: TeamForm | None = None,
    capacity_form: CapacityForm | None = None,
    status: int = 200,
) -> HttpResponse:
    manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    loads = roadmap_selectors.team_capacity_load(
        workspace=request.workspace, start=PLANNING_EARLIEST, end=PLANNING_LATEST, team=team
    )
    return render(
        request,
        "portal/planning/team.html",
        {
            "team": team,
            "loads": loads,
            "today": date.today(),
            "settings": roadmap_selectors.roadmap_settings(workspace=request.workspace),
            "form": form or (TeamForm(initial={"name": team.name}) if manage else None),
            "capacity_form": capacity_form or (CapacityForm(auto_id="new-period-%s") if manage else None),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@workspace_page()
def team_detail(request: HttpRequest, team_id: int) -> HttpResponse:
    team = _team(request, team_id)
    if request.method != "POST":
        return _render_team(request, team)
    require_role(request, Role.PRODUCT_MANAGER)
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = roadmap_services.team_update(team=team, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Team “{team.name}” saved.")
            return redirect(_team_url(request, team.pk))
    return _render_team(request, _team(request, team_id), form=form, status=400)


@require_POST
@workspace_page()
def team_delete(request: HttpRequest, team_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    team = _team(request, team_id)
    deleted = delete_or_explain(
        request,
        lambda: roadmap_services.team_delete(team=team, actor=request.user),
        f"Team “{team.name}” and its capacity periods deleted.",
    )
    if deleted:
        return redirect("portal:plan-teams", request.workspace.slug)
    return redirect(_team_url(request, team.pk))


# --- capacity periods -------------------------------------------------------------------------


@require_POST
@workspace_page()
def capacity_create(request: HttpRequest, team_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    team = _team(request, team_id)
    form = CapacityForm(request.POST, auto_id="new-period-%s")
    if form.is_valid():
        try:
            capacity = roadmap_services.team_capacity_create(
                workspace=request.workspace, actor=request.user, data={"team": team, **form.capacity_data()}
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{team.name}: period {capacity.period} added.")
            return redirect(_team_url(request, team.pk, "periods"))
    return _render_team(request, team, capacity_form=form, status=400)


@require_http_methods(["GET", "POST"])
@workspace_page()
def capacity_detail(request: HttpRequest, capacity_id: int) -> HttpResponse:
    """A capacity period's edit form (product managers; everyone else sees it on the team page)."""
    capacity = _capacity(request, capacity_id)
    if request.method != "POST":
        if not has_role(request.membership, Role.PRODUCT_MANAGER):
            return redirect(_team_url(request, capacity.team_id, "periods"))
        return render(
            request,
            "portal/planning/capacity.html",
            {"capacity": capacity, "form": CapacityForm(capacity=capacity)},
        )
    require_role(request, Role.PRODUCT_MANAGER)
    form = CapacityForm(request.POST, capacity=capacity)
    if form.is_valid():
        try:
            capacity = roadmap_services.team_capacity_update(
                capacity=capacity, actor=request.user, data=form.capacity_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{capacity.team.name}: period {capacity.period} saved.")
            return redirect(_team_url(request, capacity.team_id, "periods"))
    return render(
        request,
        "portal/planning/capacity.html",
        {"capacity": _capacity(request, capacity_id), "form": form},
        status=400,
    )


@require_POST
@workspace_page()
def capacity_delete(request: HttpRequest, capacity_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    capacity = _capacity(request, capacity_id)
    delete_or_explain(
        request,
        lambda: roadmap_services.team_capacity_delete(capacity=capacity, actor=request.user),
        f"{capacity.team.name}: period {capacity.period} deleted.",
    )
    return redirect(_team_url(request, capacity.team_id, "periods"))
