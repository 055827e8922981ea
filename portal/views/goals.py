"""Goals and key results: the goal tree (top-level goals paginated, each with its nested goals
and key results), a goal's page (edit, key results with their history of values, nested goals,
initiatives), a key result's page, and the one-click update of a key result's current value
(htmx swaps the key result's row; without JavaScript the form posts and comes back).

Goals and key results are created and deleted by product managers; a key result is updated by
contributors too, as in the REST API. See ``portal.views.planning`` for the shared rules.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.planning import GoalForm, KeyResultCurrentForm, KeyResultForm
from portal.views.planning import delete_or_explain, get_one, paginate
from productops.errors import DomainError
from productops.models import Role
from productops.safe_redirect import safe_next
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import Goal, KeyResult

GOAL_HISTORY = 10
KEY_RESULT_HISTORY = 50


def _goal(request: HttpRequest, goal_id: int) -> Goal:
    return get_one(roadmap_selectors.goal_list(workspace=request.workspace), goal_id, "Goal")


def _key_result(request: HttpRequest, key_result_id: int) -> KeyResult:
    return get_one(
        roadmap_selectors.key_result_list(workspace=request.workspace), key_result_id, "Key result"
    )


def _with_current_forms(request: HttpRequest, key_results: list[KeyResult]) -> list[KeyResult]:
    """Each key result with its one-click "current" form (for contributors and up)."""
    if has_role(request.membership, Role.CONTRIBUTOR):
        for kr in key_results:
            kr.current_form = KeyResultCurrentForm(
                initial={"current": kr.current.normalize()}, auto_id=f"kr-{kr.pk}-%s"
            )
    return key_results


# --- the goal tree ----------------------------------------------------------------------------


@require_http_methods(["GET"])
@workspace_page()
def goal_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, roadmap_selectors.goal_roots(workspace=request.workspace))
    roots = list(page.object_list)
    nested = roadmap_selectors.goal_descendants(workspace=request.workspace, goal_ids=[g.pk for g in roots])
    children: dict[int, list[Goal]] = defaultdict(list)
    for goal in nested:
        children[goal.parent_id].append(goal)
    for goal in [*roots, *nested]:
        goal.subgoals = children.get(goal.pk, [])
        goal.krs = _with_current_forms(request, list(goal.key_results.all()))
    return render(request, "portal/planning/goals.html", {"page": page, "rows": roots})


@require_http_methods(["GET", "POST"])
@workspace_page()
def goal_new(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    initial = {}
    if request.method == "GET" and request.GET.get("parent", "").isdigit():
        initial["parent"] = request.GET["parent"]
    if request.method == "GET" and request.GET.get("product", "").isdigit():
        initial["product"] = request.GET["product"]
    form = GoalForm(
        request.POST if request.method == "POST" else None, workspace=request.workspace, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            goal = roadmap_services.goal_create(
                workspace=request.workspace, actor=request.user, data=form.goal_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Goal “{goal.title}” created: now add its key results.")
            return redirect(
                reverse("portal:plan-goal", args=[request.workspace.slug, goal.pk]) + "#key-results"
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/planning/goal_new.html", {"form": form}, status=status)


def _render_goal(
    request: HttpRequest, goal: Goal, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    bound = bound or {}
    key_results = _with_current_forms(request, list(goal.key_results.all()))
    history = roadmap_selectors.key_result_history(
        key_result_ids=[kr.pk for kr in key_results], limit=GOAL_HISTORY
    )
    for kr in key_results:
        kr.history = history.get(kr.pk, [])
    manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    context = {
        "goal": goal,
        "key_results": key_results,
        "children": list(
            roadmap_selectors.goal_list(workspace=request.workspace)
            .filter(parent=goal)
            .select_related(None)
            .prefetch_related(None)
            .only("title", "period")
        ),
        "initiatives": list(
            roadmap_selectors.initiative_list(workspace=request.workspace)
            .filter(goal=goal)
            .select_related(None)
            .only("title", "investment_target_pct")
        ),
        "form": bound.get("goal") or (GoalForm(workspace=request.workspace, goal=goal) if manage else None),
        "kr_form": bound.get("kr") or (KeyResultForm(auto_id="new-kr-%s") if manage else None),
        "open_sections": set(bound),
    }
    return render(request, "portal/planning/goal.html", context, status=status)


@require_http_methods(["GET", "POST"])
@workspace_page()
def goal_detail(request: HttpRequest, goal_id: int) -> HttpResponse:
    goal = _goal(request, goal_id)
    if request.method != "POST":
        return _render_goal(request, goal)
    require_role(request, Role.PRODUCT_MANAGER)
    form = GoalForm(request.POST, workspace=request.workspace, goal=goal)
    if form.is_valid():
        try:
            goal = roadmap_services.goal_update(goal=goal, actor=request.user, data=form.goal_data())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Goal “{goal.title}” saved.")
            return redirect("portal:plan-goal", request.workspace.slug, goal.pk)
    return _render_goal(request, _goal(request, goal_id), {"goal": form}, status=400)


@require_POST
@workspace_page()
def goal_delete(request: HttpRequest, goal_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    goal = _goal(request, goal_id)
    deleted = delete_or_explain(
        request,
        lambda: roadmap_services.goal_delete(goal=goal, actor=request.user),
        f"Goal “{goal.title}” and its key results deleted.",
    )
    if deleted:
        return redirect("portal:plan-goals", request.workspace.slug)
    return redirect("portal:plan-goal", request.workspace.slug, goal.pk)


# --- key results ------------------------------------------------------------------------------


@require_POST
@workspace_page()
def key_result_create(request: HttpRequest, goal_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    goal = _goal(request, goal_id)
    form = KeyResultForm(request.POST, auto_id="new-kr-%s")
    if form.is_valid():
        try:
            key_result = roadmap_services.key_result_create(
                workspace=request.workspace, actor=request.user, data={"goal": goal, **form.key_result_data()}
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Key result “{key_result.metric}” added.")
            return redirect(
                reverse("portal:plan-goal", args=[request.workspace.slug, goal.pk]) + "#key-results"
            )
    return _render_goal(request, goal, {"kr": form}, status=400)


def _render_key_result(
    request: HttpRequest,
    key_result: KeyResult,
    form: KeyResultForm | None = None,
    current_form: KeyResultCurrentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    contribute = has_role(request.membership, Role.CONTRIBUTOR)
    history = roadmap_selectors.key_result_history(key_result_ids=[key_result.pk], limit=KEY_RESULT_HISTORY)
    return render(
        request,
        "portal/planning/key_result.html",
        {
            "kr": key_result,
            "form": form or (KeyResultForm(key_result=key_result) if contribute else None),
            "current_form": current_form,
            "history": history.get(key_result.pk, []),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@workspace_page()
def key_result_detail(request: HttpRequest, key_result_id: int) -> HttpResponse:
    """A key result with its history of values; its edit form (contributors, as the API)."""
    key_result = _key_result(request, key_result_id)
    if request.method != "POST":
        return _render_key_result(request, key_result)
    require_role(request, Role.CONTRIBUTOR)
    form = KeyResultForm(request.POST, key_result=key_result)
    if form.is_valid():
        try:
            key_result = roadmap_services.key_result_update(
                key_result=key_result, actor=request.user, data=form.key_result_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Key result “{key_result.metric}” saved.")
            return redirect("portal:plan-key-result", request.workspace.slug, key_result.pk)
    return _render_key_result(request, _key_result(request, key_result_id), form=form, status=400)


@require_POST
@workspace_page()
def key_result_current(request: HttpRequest, key_result_id: int) -> HttpResponse:
    """Set the current value (one click): htmx gets the key result's row; otherwise back to
    ``next`` (the page the form was on)."""
    require_role(request, Role.CONTRIBUTOR)
    key_result = _key_result(request, key_result_id)
    form = KeyResultCurrentForm(request.POST, auto_id=f"kr-{key_result.pk}-%s")
    saved = False
    if form.is_valid():
        try:
            key_result = roadmap_services.key_result_update(
                key_result=key_result, actor=request.user, data={"current": form.cleaned_data["current"]}
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            saved = True
    if request.htmx:
        if saved:
            key_result = _key_result(request, key_result_id)
            key_result.current_form = KeyResultCurrentForm(
                initial={"current": key_result.current.normalize()}, auto_id=f"kr-{key_result.pk}-%s"
            )
        else:
            key_result.current_form = form
        return render(
            request,
            "portal/planning/_key_result_row.html",
            {"kr": key_result, "saved": saved, "next": request.POST.get("next", "")},
        )
    if saved:
        value = format(key_result.current.normalize(), "f")
        messages.success(request, f"“{key_result.metric}” is now {value}{key_result.unit}.")
        fallback = reverse("portal:plan-goal", args=[request.workspace.slug, key_result.goal_id])
        within = reverse("portal:dashboard", args=[request.workspace.slug])
        return redirect(safe_next(request, request.POST.get("next"), fallback=fallback, within=within))
    return _render_key_result(request, _key_result(request, key_result_id), current_form=form, status=400)


@require_POST
@workspace_page()
def key_result_delete(request: HttpRequest, key_result_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    key_result = _key_result(request, key_result_id)
    deleted = delete_or_explain(
        request,
        lambda: roadmap_services.key_result_delete(key_result=key_result, actor=request.user),
        f"Key result “{key_result.metric}” deleted.",
    )
    if deleted:
        return redirect(
            reverse("portal:plan-goal", args=[request.workspace.slug, key_result.goal_id]) + "#key-results"
        )
    return redirect("portal:plan-key-result", request.workspace.slug, key_result.pk)
