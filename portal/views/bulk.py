"""Bulk edit of the roadmap board's and kanban's cards: one form (the bulk bar) whose ticked
cards post here together, and one service call (``roadmap.services.features_bulk_update``).

All or nothing: on success a message and a redirect back to the page (PRG); if any card is
refused, nothing is written and the page is rendered again, 400 (200 for htmx, which swaps
the page's main part), with each refused card's error on the card and the cards still
ticked. Without JavaScript it is a plain form post; htmx only swaps ``#main``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.http import require_POST

from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.bulk import BulkEditForm
from portal.templatetags.portal_bulk import BulkState
from portal.views import roadmap as roadmap_views
from productops.errors import DomainError, ItemsRefused
from productops.models import Role
from productops.safe_redirect import safe_next
from roadmap import services as roadmap_services

#: The pages the bulk bar is on, by URL name: the page rendered again after a refusal.
PAGES = {"roadmap-board": roadmap_views.board, "roadmap-kanban": roadmap_views.kanban}


def _next(request: HttpRequest) -> str:
    fallback = reverse("portal:roadmap-board", args=[request.workspace.slug]) + "?select=1"
    return safe_next(
        request, request.POST.get("next"), fallback=fallback, within=f"/w/{request.workspace.slug}/"
    )


def _describe(changes: dict) -> str:
    parts = []
    if "horizon" in changes:
        parts.append(f"horizon {changes['horizon'] or 'unscheduled'}")
    if "status" in changes:
        parts.append(f"status {changes['status'].replace('_', ' ')}")
    if "team" in changes:
        parts.append(f"team {changes['team'].name if changes['team'] else 'none'}")
    if "product" in changes:
        parts.append(f"product {changes['product'].name}")
    if "add_tag" in changes:
        parts.append(f"tag “{changes['add_tag']}” added")
    return ", ".join(parts)


def _page_again(request: HttpRequest, next_url: str, state: BulkState, status: int) -> HttpResponse:
    """The board or kanban the form came from, as a GET of ``next_url``, with the bulk state."""
    parts = urlsplit(next_url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        match = None
    view = PAGES.get(match.url_name) if match is not None else None
    if view is None:
        parts = urlsplit(reverse("portal:roadmap-board", args=[request.workspace.slug]) + "?select=1")
        view, kwargs = PAGES["roadmap-board"], {"workspace_slug": request.workspace.slug}
    else:
        kwargs = match.kwargs
    query = (
        parts.query
        if "select=1" in parts.query.split("&")
        else "&".join(filter(None, [parts.query, "select=1"]))
    )
    request.method = "GET"
    request.GET = QueryDict(query)
    request.path = request.path_info = parts.path
    request.META["QUERY_STRING"] = query
    request._bulk_state = state
    response = view(request, **kwargs)
    response.status_code = status
    return response


@require_POST
@workspace_page()
def bulk(request: HttpRequest) -> HttpResponse:
    """Apply the bulk bar's changes to the ticked cards (contributor; a status: product manager)."""
    require_role(request, Role.CONTRIBUTOR)
    can_manage = has_role(request.membership, Role.PRODUCT_MANAGER)
    if not can_manage and (request.POST.get("status") or request.POST.get("reason")):
        raise PermissionDenied("Changing a status needs the Product manager role or higher.")
    form = BulkEditForm(request.POST, workspace=request.workspace, can_manage=can_manage)
    next_url = _next(request)
    state = BulkState(active=True, form=form)
    try:
        state.selected = set(form.fields["features"].to_python(request.POST.getlist("features")))
    except ValidationError:
        state.selected = set()
    if form.is_valid():
        changes = form.changes()
        ids = form.cleaned_data["features"]
        try:
            roadmap_services.features_bulk_update(
                workspace=request.workspace, actor=request.user, feature_ids=ids, changes=changes
            )
        except ItemsRefused as exc:
            state.errors = exc.messages()
            form.add_error(None, exc.detail + " Each refused card says why.")
        except DomainError as exc:
            add_domain_error(form, exc, aliases={"feature_ids": "features"})
        else:
            count = len(ids)
            messages.success(
                request, f"Changed {count} card{'s' if count != 1 else ''}: {_describe(changes)}."
            )
            return redirect(next_url)
    return _page_again(request, next_url, state, status=200 if request.htmx else 400)
