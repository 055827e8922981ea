"""Release pages: the list with readiness and risk, one release (plan, scope, launch checklist,
notes, success metrics), the ship confirmation, and the release settings.

Every action is a plain form post that calls the service the REST API uses, then redirects
back to the section it came from (POST-redirect-GET); a refusal re-renders the page with the
service's ``detail`` on the form, and nothing is written. htmx adds the notes preview (a
fragment rendered by ``releases.notes.render``) and the generated draft; without JavaScript
the same buttons post and render the whole page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.releases import (
    ActualForm,
    CancelForm,
    MetricForm,
    NotesForm,
    ReleaseFilterForm,
    ReleaseForm,
    ReleaseSettingsForm,
    ScopeAddForm,
    ScopeItemForm,
    ScopeMoveForm,
    ShipForm,
    StatusForm,
    TaskForm,
    TaskTickForm,
    TaskUpdateForm,
    TemplateItemForm,
)
from portal.views import comms as comms_views
from productops import selectors as productops_selectors
from productops.errors import DomainError
from productops.models import Role
from releases import notes as release_notes
from releases import selectors, services
from releases.models import (
    OPEN_STATUSES,
    Release,
    ReleaseStatus,
    ScopeOutcome,
)
from roadmap import selectors as roadmap_selectors
from roadmap.models import FeatureStatus

PAGE_SIZE = 50
STATUS_HISTORY = 20
#: Features offered to drag into a release: the roadmap's planned work.
PLANNED = (FeatureStatus.PLANNED, FeatureStatus.IN_PROGRESS)


# --- helpers ----------------------------------------------------------------------------------


def _release(request: HttpRequest, release_id: int) -> Release:
    release = selectors.release_detail(workspace=request.workspace, release_id=release_id)
    if release is None:
        raise Http404("Release not found.")
    return release


def _members(request: HttpRequest) -> list:
    return [m.user for m in productops_selectors.membership_list(workspace=request.workspace)]


def _release_url(request: HttpRequest, release: Release, section: str = "") -> str:
    url = reverse("portal:release", args=[request.workspace.slug, release.pk])
    return f"{url}#{section}" if section else url


def _share(value: Decimal | None, baseline: Decimal, target: Decimal) -> int:
    """How far ``value`` went from ``baseline`` to ``target``, 0-100 (targets may go down)."""
    if value is None or target == baseline:
        return 0
    share = (value - baseline) / (target - baseline)
    return int(max(Decimal(0), min(Decimal(1), share)) * 100)


def _metric_rows(metrics: list, today: Any) -> list[dict]:
    rows = []
    for metric in metrics:
        actual = selectors.metric_actual(metric)
        rows.append(
            {
                "metric": metric,
                "actual": actual,
                "share": _share(actual, metric.baseline, metric.target),
                "due": metric.reviewed_at is None and metric.review_date <= today,
            }
        )
    return rows


def metric_section_context(
    request: HttpRequest, metrics: list, bound: dict[str, Any], *, today: Any = None
) -> dict[str, Any]:
    """The success metrics section of a release page or a feature page: a row per metric with
    its actual, progress, "Record an actual" form and (product managers) edit form, and the
    "Add a metric" form; ``bound`` forms (``metric``, ``metricedit-<id>``, ``actual-<id>``)
    replace the blank ones. Two queries at most whatever the rows (the key results once)."""
    today = today or timezone.localdate()
    can_manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    rows = _metric_rows(metrics, today)
    key_results = list(roadmap_selectors.key_result_list(workspace=request.workspace)) if can_manage else []
    for row in rows:
        metric = row["metric"]
        key = f"actual-{metric.pk}"
        row["form"] = bound.get(key) or ActualForm(initial={"recorded_on": today}, auto_id=f"{key}-%s")
        if can_manage:
            row["edit_form"] = bound.get(f"metricedit-{metric.pk}") or MetricForm(
                key_results=key_results,
                initial={
                    "name": metric.name,
                    "unit": metric.unit,
                    "baseline": format(metric.baseline.normalize(), "f"),
                    "target": format(metric.target.normalize(), "f"),
                    "review_date": metric.review_date,
                    "key_result": metric.key_result_id,
                },
                auto_id=f"metricedit-{metric.pk}-%s",
            )
    context: dict[str, Any] = {"metric_rows": rows}
    if can_manage:
        context["metric_form"] = bound.get("metric") or MetricForm(
            key_results=key_results, auto_id="metric-%s"
        )
    return context


# --- the list ---------------------------------------------------------------------------------


def _render_list(request: HttpRequest, create_form: ReleaseForm | None = None, status: int = 200):
    workspace = request.workspace
    filter_form = ReleaseFilterForm(request.GET, workspace=workspace)
    filters = filter_form.filters()
    releases = selectors.release_list(workspace=workspace).order_by(
        F("planned_date").asc(nulls_last=True), "id"
    )
    if filters["product"] is not None:
        releases = releases.filter(product=filters["product"])
    if filters["status"] == ReleaseFilterForm.OPEN:
        releases = releases.filter(status__in=OPEN_STATUSES)
    elif filters["status"]:
        releases = releases.filter(status=filters["status"])
    page = Paginator(releases, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    health = selectors.release_health(workspace=workspace, releases=rows)
    if create_form is None and has_role(request.membership, Role.PRODUCT_MANAGER):
        create_form = ReleaseForm(
            members=_members(request),
            products=list(roadmap_selectors.product_list(workspace=workspace)),
            initial={"is_public": True, "owner": request.user.pk},
            auto_id="new-%s",
        )
    return render(
        request,
        "portal/releases/list.html",
        {
            "filter_form": filter_form,
            "rows": [(release, health[release.pk]) for release in rows],
            "page": page,
            "create_form": create_form,
        },
        status=status,
    )


@require_GET
@workspace_page()
def release_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@require_POST
@workspace_page()
def release_create(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    form = ReleaseForm(
        request.POST,
        members=_members(request),
        products=list(roadmap_selectors.product_list(workspace=request.workspace)),
        auto_id="new-%s",
    )
    if form.is_valid():
        try:
            release = services.release_create(
                workspace=request.workspace, actor=request.user, data=form.release_data()
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Release “{release}” planned.")
            return redirect(_release_url(request, release))
    return _render_list(request, form, status=400)


# --- one release --------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, release: Release, bound: dict[str, Any]) -> dict:
    """Everything the release page shows, with ``bound`` forms (keyed as the page names them)
    in place of the blank ones; a constant number of queries whatever the rows."""
    workspace = request.workspace
    can_manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    can_contribute = has_role(request.membership, Role.CONTRIBUTOR)
    today = timezone.localdate()
    health = selectors.release_health(workspace=workspace, releases=[release])[release.pk]
    items = selectors.release_scope(release=release, include_closed=True)
    open_items = [i for i in items if i.is_open]
    closed_items = [i for i in items if not i.is_open]
    members = _members(request) if can_contribute else []
    move_targets = selectors.release_move_targets(release=release) if can_manage else []
    candidates = selectors.release_feature_candidates(release=release) if can_manage else []

    scope_rows = []
    for item in open_items:
        scope_rows.append(
            {
                "item": item,
                "form": bound.get(f"scope-{item.pk}")
                or ScopeItemForm(
                    initial={
                        "is_must_have": item.is_must_have,
                        "state": item.state,
                        "change_type": item.change_type,
                    },
                    planning=can_manage,
                    auto_id=f"scope-{item.pk}-%s",
                ),
                "move_form": bound.get(f"move-{item.pk}")
                or ScopeMoveForm(releases=move_targets, auto_id=f"move-{item.pk}-%s"),
            }
        )
    # Where the rows that moved out are now (one query).
    moved_ids = [i.feature_id for i in closed_items if i.outcome == ScopeOutcome.MOVED]
    now_in = selectors.open_release_of_features(feature_ids=moved_ids) if moved_ids else {}
    history = [{"item": i, "now_in": now_in.get(i.feature_id)} for i in closed_items]

    tasks = list(selectors.checklist_task_list(workspace=workspace).filter(release=release))
    task_rows = [
        {
            "task": task,
            "overdue": not task.is_finished and task.due_date is not None and task.due_date < today,
            "form": bound.get(f"task-{task.pk}")
            or TaskUpdateForm(
                initial={
                    "title": task.title,
                    "category": task.category,
                    "is_required": task.is_required,
                    "owner": task.owner_id,
                    "due_date": task.due_date,
                    "state": task.state,
                },
                members=members,
                planning=can_manage,
                auto_id=f"task-{task.pk}-%s",
            ),
        }
        for task in tasks
    ]

    metric_section = metric_section_context(
        request, selectors.release_success_metrics(release=release), bound, today=today
    )
    notes_form = bound.get("notes") or _notes_form(request, release, initial={"notes": release.notes})
    draft = notes_form["notes"].value() or ""
    context = {
        "release": release,
        "health": health,
        "scope_rows": scope_rows,
        "history": history,
        "candidates": candidates,
        "planned_candidates": [f for f in candidates if f.status in PLANNED],
        "move_targets": move_targets,
        "task_rows": task_rows,
        "tasks_done": sum(1 for t in tasks if t.is_finished),
        **metric_section,
        "notes_form": notes_form,
        "notes_preview": release_notes.render(draft),
        "published_html": release_notes.render(release.published_notes),
        "notes_differ": draft.strip() != release.published_notes.strip(),
        "status_history": list(selectors.release_status_history(release=release)[:STATUS_HISTORY]),
        "is_open": release.status in OPEN_STATUSES,
        "can_delete": release.status != ReleaseStatus.RELEASED,
        "manual_statuses": [s for s in StatusForm.base_fields["status"].choices if s[0] != release.status],
        "open_sections": {key.split("-")[0] for key in bound},
    }
    if can_manage:
        context.update(
            {
                "edit_form": bound.get("edit")
                or ReleaseForm(
                    members=members,
                    initial={
                        "name": release.name,
                        "version": release.version,
                        "planned_date": release.planned_date,
                        "owner": release.owner_id,
                        "summary": release.summary,
                        "is_public": release.is_public,
                    },
                    auto_id="edit-%s",
                ),
                "status_form": bound.get("status") or StatusForm(auto_id="status-%s"),
                "cancel_form": bound.get("cancel") or CancelForm(auto_id="cancel-%s"),
                "scope_add_form": bound.get("add")
                or ScopeAddForm(workspace=workspace, features=candidates, auto_id="add-%s"),
                "task_form": bound.get("newtask") or TaskForm(members=members, auto_id="newtask-%s"),
            }
        )
    return context


def _render_detail(
    request: HttpRequest, release: Release, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request, "portal/releases/detail.html", _detail_context(request, release, bound or {}), status=status
    )


@require_GET
@workspace_page()
def release_detail(request: HttpRequest, release_id: int) -> HttpResponse:
    return _render_detail(request, _release(request, release_id))


@require_POST
@workspace_page()
def release_edit(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = ReleaseForm(request.POST, members=_members(request), auto_id="edit-%s")
    if form.is_valid():
        try:
            release = services.release_update(release=release, actor=request.user, data=form.release_data())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Release plan saved.")
            return redirect(_release_url(request, release))
    return _render_detail(request, _release(request, release_id), {"edit": form}, status=400)


@require_POST
@workspace_page()
def release_status(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = StatusForm(request.POST, auto_id="status-%s")
    if form.is_valid():
        try:
            release = services.release_change_status(
                release=release,
                to_status=form.cleaned_data["status"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{release}” is now {release.get_status_display().lower()}.")
            return redirect(_release_url(request, release))
    return _render_detail(request, release, {"status": form}, status=400)


@require_POST
@workspace_page()
def release_cancel(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = CancelForm(request.POST, auto_id="cancel-%s")
    if form.is_valid():
        try:
            release = services.release_cancel(
                release=release, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{release}” is cancelled; its features can join another release.")
            return redirect(_release_url(request, release))
    return _render_detail(request, release, {"cancel": form}, status=400)


@require_POST
@workspace_page()
def release_delete(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    try:
        services.release_delete(release=release, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect(_release_url(request, release))
    messages.success(request, f"Release “{release}” deleted.")
    return redirect("portal:releases", request.workspace.slug)


# --- scope -------------------------------------------------------------------------------------


def _scope_item(request: HttpRequest, release: Release, item_id: int):
    item = selectors.scope_item_list(workspace=request.workspace).filter(release=release, pk=item_id).first()
    if item is None:
        raise Http404("Not in this release.")
    return item


@require_POST
@workspace_page()
def scope_add(request: HttpRequest, release_id: int) -> HttpResponse:
    """Add a feature (the picker, or a card dropped on the scope: the same form)."""
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = ScopeAddForm(
        request.POST,
        workspace=request.workspace,
        features=selectors.release_feature_candidates(release=release),
        auto_id="add-%s",
    )
    if form.is_valid():
        feature = form.cleaned_data["feature"]
        try:
            services.scope_add(
                release=release,
                feature=feature,
                actor=request.user,
                data={
                    "is_must_have": form.cleaned_data["is_must_have"],
                    "change_type": form.cleaned_data["change_type"],
                },
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{feature.title}” added to {release}.")
            return redirect(_release_url(request, release, "scope"))
    return _render_detail(request, release, {"add": form}, status=400)


@require_POST
@workspace_page()
def scope_update(request: HttpRequest, release_id: int, item_id: int) -> HttpResponse:
    """A scope row's state (contributors), must-have and change type (product managers)."""
    require_role(request, Role.CONTRIBUTOR)
    release = _release(request, release_id)
    item = _scope_item(request, release, item_id)
    planning = has_role(request.membership, Role.PRODUCT_MANAGER)
    form = ScopeItemForm(request.POST, planning=planning, auto_id=f"scope-{item.pk}-%s")
    if form.is_valid():
        try:
            services.scope_update(item=item, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{item.feature.title}” saved.")
            return redirect(_release_url(request, release, "scope"))
    return _render_detail(request, release, {f"scope-{item.pk}": form}, status=400)


@require_POST
@workspace_page()
def scope_remove(request: HttpRequest, release_id: int, item_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    item = _scope_item(request, release, item_id)
    try:
        services.scope_remove(item=item, actor=request.user)
    except DomainError as exc:
        messages.error(request, f"{item.feature.title}: {exc.detail}")
    else:
        messages.success(request, f"“{item.feature.title}” taken out of {release}.")
    return redirect(_release_url(request, release, "scope"))


@require_POST
@workspace_page()
def scope_move(request: HttpRequest, release_id: int, item_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    item = _scope_item(request, release, item_id)
    form = ScopeMoveForm(
        request.POST, releases=selectors.release_move_targets(release=release), auto_id=f"move-{item.pk}-%s"
    )
    if form.is_valid():
        target = form.cleaned_data["to_release"]
        try:
            services.scope_move(item=item, to_release=target, actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc, {"release": "to_release"})
        else:
            messages.success(request, f"“{item.feature.title}” moved to {target}.")
            return redirect(_release_url(request, release, "scope"))
    return _render_detail(request, release, {f"move-{item.pk}": form}, status=400)


# --- launch checklist ----------------------------------------------------------------------------


def _task(request: HttpRequest, release: Release, task_id: int):
    task = (
        selectors.checklist_task_list(workspace=request.workspace).filter(release=release, pk=task_id).first()
    )
    if task is None:
        raise Http404("Not in this release's checklist.")
    return task


@require_POST
@workspace_page()
def task_add(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = TaskForm(request.POST, members=_members(request), auto_id="newtask-%s")
    if form.is_valid():
        try:
            task = services.checklist_task_create(release=release, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Task “{task.title}” added.")
            return redirect(_release_url(request, release, "checklist"))
    return _render_detail(request, release, {"newtask": form}, status=400)


@require_POST
@workspace_page()
def task_update(request: HttpRequest, release_id: int, task_id: int) -> HttpResponse:
    """A task's owner, due date and state (contributors), its title, category and whether it
    is required (product managers: a contributor's form has no such fields, so a posted title
    is ignored); ``tick`` posts only the state."""
    require_role(request, Role.CONTRIBUTOR)
    release = _release(request, release_id)
    task = _task(request, release, task_id)
    if request.POST.get("tick"):
        form = TaskTickForm(request.POST, auto_id=f"task-{task.pk}-%s")
    else:
        form = TaskUpdateForm(
            request.POST,
            members=_members(request),
            planning=has_role(request.membership, Role.PRODUCT_MANAGER),
            auto_id=f"task-{task.pk}-%s",
        )
    if form.is_valid():
        try:
            task = services.checklist_task_update(task=task, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{task.title}”: {task.get_state_display().lower()}.")
            return redirect(_release_url(request, release, "checklist"))
    if isinstance(form, TaskTickForm):
        messages.error(
            request, f"{task.title}: " + "; ".join(e for errs in form.errors.values() for e in errs)
        )
        return redirect(_release_url(request, release, "checklist"))
    return _render_detail(request, release, {f"task-{task.pk}": form}, status=400)


@require_POST
@workspace_page()
def task_delete(request: HttpRequest, release_id: int, task_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    task = _task(request, release, task_id)
    try:
        services.checklist_task_delete(task=task, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Task “{task.title}” removed.")
    return redirect(_release_url(request, release, "checklist"))


# --- notes -------------------------------------------------------------------------------------


def _notes_form(request: HttpRequest, release: Release, data: object = None, **kwargs: Any) -> NotesForm:
    preview = reverse("portal:release-notes-preview", args=[request.workspace.slug, release.pk])
    return NotesForm(data, preview_url=preview, **kwargs)


@require_POST
@workspace_page()
def notes_save(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = _notes_form(request, release, request.POST)
    if form.is_valid():
        try:
            services.release_notes_update(
                release=release, actor=request.user, notes=form.cleaned_data["notes"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Notes draft saved.")
            return redirect(_release_url(request, release, "notes"))
    return _render_detail(request, release, {"notes": form}, status=400)


@require_POST
@workspace_page()
def notes_publish(request: HttpRequest, release_id: int) -> HttpResponse:
    """Save the draft as posted and publish it (or, with none, the generated notes)."""
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = _notes_form(request, release, request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                release = services.release_notes_update(
                    release=release, actor=request.user, notes=form.cleaned_data["notes"]
                )
                services.release_notes_publish(release=release, actor=request.user)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Notes published: the changelog shows them once the release ships.")
            return redirect(_release_url(request, release, "notes"))
    return _render_detail(request, _release(request, release_id), {"notes": form}, status=400)


@require_POST
@workspace_page()
def notes_preview(request: HttpRequest, release_id: int) -> HttpResponse:
    """The posted draft rendered as the changelog will show it (sanitised); saves nothing."""
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = _notes_form(request, release, request.POST)
    if request.htmx:
        text = (request.POST.get("notes") or "")[: services.MAX_NOTES]
        return render(
            request, "portal/releases/_notes_preview.html", {"notes_preview": release_notes.render(text)}
        )
    form.is_valid()
    return _render_detail(request, release, {"notes": form})


@require_POST
@workspace_page()
def notes_generate(request: HttpRequest, release_id: int) -> HttpResponse:
    """Fill the editor with notes generated from the scope; saves nothing (Save does)."""
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    text = services.notes_generate(release=release)
    form = _notes_form(request, release, {"notes": text})
    form.is_valid()
    if request.htmx:
        return render(
            request,
            "portal/releases/_notes_editor.html",
            {
                "release": release,
                "notes_form": form,
                "notes_preview": release_notes.render(text),
                "generated": True,
            },
        )
    messages.info(request, "Notes generated from the scope: review them, then save or publish.")
    return _render_detail(request, release, {"notes": form})


# --- success metrics ------------------------------------------------------------------------------


def _metric(request: HttpRequest, release: Release, metric_id: int):
    metric = (
        selectors.success_metric_list(workspace=request.workspace)
        .filter(release=release, pk=metric_id)
        .first()
    )
    if metric is None:
        raise Http404("Not a metric of this release.")
    return metric


@require_POST
@workspace_page()
def metric_add(request: HttpRequest, release_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    form = MetricForm(
        request.POST,
        key_results=list(roadmap_selectors.key_result_list(workspace=request.workspace)),
        auto_id="metric-%s",
    )
    if form.is_valid():
        try:
            metric = services.success_metric_create(
                workspace=request.workspace,
                actor=request.user,
                data={"release": release, **form.cleaned_data},
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Metric “{metric.name}” added.")
            return redirect(_release_url(request, release, "metrics"))
    return _render_detail(request, release, {"metric": form}, status=400)


@require_POST
@workspace_page()
def metric_edit(request: HttpRequest, release_id: int, metric_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    metric = _metric(request, release, metric_id)
    form = MetricForm(
        request.POST,
        key_results=list(roadmap_selectors.key_result_list(workspace=request.workspace)),
        auto_id=f"metricedit-{metric.pk}-%s",
    )
    if form.is_valid():
        try:
            metric = services.success_metric_update(metric=metric, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Metric “{metric.name}” saved.")
            return redirect(_release_url(request, release, "metrics"))
    return _render_detail(request, release, {f"metricedit-{metric.pk}": form}, status=400)


@require_POST
@workspace_page()
def metric_actual(request: HttpRequest, release_id: int, metric_id: int) -> HttpResponse:
    require_role(request, Role.CONTRIBUTOR)
    release = _release(request, release_id)
    metric = _metric(request, release, metric_id)
    form = ActualForm(request.POST, auto_id=f"actual-{metric.pk}-%s")
    if form.is_valid():
        try:
            services.metric_actual_record(metric=metric, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            value = format(form.cleaned_data["value"].normalize(), "f")
            messages.success(request, f"“{metric.name}”: {value} recorded.")
            return redirect(_release_url(request, release, "metrics"))
    return _render_detail(request, release, {f"actual-{metric.pk}": form}, status=400)


@require_POST
@workspace_page()
def metric_review(request: HttpRequest, release_id: int, metric_id: int) -> HttpResponse:
    """Mark the metric reviewed (``reviewed=0`` reopens it)."""
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    metric = _metric(request, release, metric_id)
    reviewed = request.POST.get("reviewed", "1") != "0"
    try:
        services.success_metric_update(metric=metric, actor=request.user, data={"reviewed": reviewed})
    except DomainError as exc:
        messages.error(request, f"{metric.name}: {exc.detail}")
    else:
        messages.success(request, f"“{metric.name}” {'reviewed' if reviewed else 'is due for review again'}.")
    return redirect(_release_url(request, release, "metrics"))


@require_POST
@workspace_page()
def metric_delete(request: HttpRequest, release_id: int, metric_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    release = _release(request, release_id)
    metric = _metric(request, release, metric_id)
    try:
        services.success_metric_delete(metric=metric, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Metric “{metric.name}” removed.")
    return redirect(_release_url(request, release, "metrics"))


# --- shipping --------------------------------------------------------------------------------------


def _ship_page(request: HttpRequest, release: Release, form: ShipForm | None = None, status: int = 200):
    targets = selectors.release_move_targets(release=release)
    plan = services.ship_plan(release=release) if release.status in OPEN_STATUSES else None
    health = selectors.release_health(workspace=request.workspace, releases=[release])[release.pk]
    return render(
        request,
        "portal/releases/ship.html",
        {
            "release": release,
            "plan": plan,
            "health": health,
            # Who shipping tells (the customers who asked, by consent), for product managers.
            "told": comms_views.release_loop_preview(request, release) if plan else None,
            "form": form or ShipForm(releases=targets),
            "move_targets": targets,
            "blocked": bool(plan and (plan["must_haves_unfinished"] or plan["dependencies_unshipped"])),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@workspace_page()
def release_ship(request: HttpRequest, release_id: int) -> HttpResponse:
    """GET: what shipping would do now (``services.ship_plan``); POST: ship it."""
    release = _release(request, release_id)
    if request.method != "POST":
        return _ship_page(request, release)
    require_role(request, Role.PRODUCT_MANAGER)
    form = ShipForm(request.POST, releases=selectors.release_move_targets(release=release))
    if form.is_valid():
        if form.cleaned_data["force"]:
            require_role(request, Role.ADMIN)
        try:
            result = services.release_ship(
                release=release,
                actor=request.user,
                force=form.cleaned_data["force"],
                reason=form.cleaned_data["reason"],
                move_unfinished_to=form.cleaned_data["move_unfinished_to"],
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if not result.changed:
                messages.info(request, f"“{release}” had already shipped; nothing was done.")
            else:
                messages.success(request, _ship_summary(result))
            return redirect(_release_url(request, release, "result"))
    return _ship_page(request, _release(request, release_id), form, status=400)


def _ship_summary(result: services.ShipResult) -> str:
    parts = [f"{result.release} shipped."]
    if result.shipped:
        parts.append("Marked shipped: " + ", ".join(f.title for f in result.shipped) + ".")
    moved = [f"{feature.title} → {target or 'the backlog'}" for feature, target in result.moved]
    if moved:
        parts.append("Moved out: " + "; ".join(moved) + ".")
    if result.notes_generated:
        parts.append("The notes were generated from the scope and published.")
    return " ".join(parts)


# --- settings --------------------------------------------------------------------------------------


def _render_settings(request: HttpRequest, status: int = 200, **bound: Any) -> HttpResponse:
    workspace = request.workspace
    can_manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    members = _members(request) if can_manage else []
    # The template a workspace starts with is the default checklist (seeded once, then theirs).
    services.checklist_template_ensure(workspace=workspace)
    items = list(selectors.checklist_template(workspace=workspace))
    settings_row = selectors.release_settings(workspace=workspace)
    rows = [
        {
            "item": item,
            "due": services.format_relative_due(item.due_offset_days),
            "form": bound.get(f"item-{item.pk}")
            or TemplateItemForm(
                initial={
                    "title": item.title,
                    "category": item.category,
                    "relative_due": services.format_relative_due(item.due_offset_days),
                    "is_required": item.is_required,
                    "default_owner": item.default_owner_id,
                },
                members=members,
                auto_id=f"item-{item.pk}-%s",
            ),
        }
        for item in items
    ]
    return render(
        request,
        "portal/settings/releases.html",
        {
            "rows": rows,
            "settings_row": settings_row,
            "item_form": bound.get("new") or TemplateItemForm(members=members, auto_id="new-%s"),
            "settings_form": bound.get("window")
            or ReleaseSettingsForm(initial={"risk_window_days": settings_row.risk_window_days}),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@workspace_page()
def release_settings(request: HttpRequest) -> HttpResponse:
    """See the launch checklist template and the risk window; an admin sets the window."""
    if request.method != "POST":
        return _render_settings(request)
    require_role(request, Role.ADMIN)
    form = ReleaseSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.release_settings_update(
                workspace=request.workspace, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Risk window saved.")
            return redirect("portal:settings-releases", request.workspace.slug)
    return _render_settings(request, status=400, window=form)


def _template_item(request: HttpRequest, item_id: int):
    item = selectors.checklist_template(workspace=request.workspace).filter(pk=item_id).first()
    if item is None:
        raise Http404("Not in this workspace's checklist template.")
    return item


def _settings_url(request: HttpRequest) -> str:
    return reverse("portal:settings-releases", args=[request.workspace.slug]) + "#template"


@require_POST
@workspace_page()
def template_item_add(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    form = TemplateItemForm(request.POST, members=_members(request), auto_id="new-%s")
    if form.is_valid():
        try:
            item = services.checklist_template_item_create(
                workspace=request.workspace, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{item.title}” added to the launch checklist template.")
            return redirect(_settings_url(request))
    return _render_settings(request, status=400, new=form)


@require_POST
@workspace_page()
def template_item_edit(request: HttpRequest, item_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    item = _template_item(request, item_id)
    form = TemplateItemForm(request.POST, members=_members(request), auto_id=f"item-{item.pk}-%s")
    if form.is_valid():
        try:
            item = services.checklist_template_item_update(
                item=item, actor=request.user, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"“{item.title}” saved.")
            return redirect(_settings_url(request))
    return _render_settings(request, status=400, **{f"item-{item.pk}": form})


@require_POST
@workspace_page()
def template_item_delete(request: HttpRequest, item_id: int) -> HttpResponse:
    require_role(request, Role.PRODUCT_MANAGER)
    item = _template_item(request, item_id)
    try:
        services.checklist_template_item_delete(item=item, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"“{item.title}” removed from the template.")
    return redirect(_settings_url(request))
