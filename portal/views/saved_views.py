"""Saved views (``/w/<slug>/views/``): any roadmap page's filters saved under a name, private or
shared with the workspace; the "Views" menu of the roadmap pages (loaded by htmx when opened,
a plain link to this page without JavaScript); rename, share or unshare, delete (the view's
owner or a product manager). Read-only share links are ``portal.views.share``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import has_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.saved_views import KIND_PAGES, PAGE_KINDS, SavedViewEditForm, SavedViewSaveForm
from productops.errors import DomainError
from productops.models import Role
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import SavedView

#: Service attributes shown above the form (the filters and the kind are hidden inputs).
_ALIASES = {"query": "__all__", "kind": "__all__"}


def view_url(workspace_slug: str, view: SavedView) -> str:
    """The roadmap page of ``view`` with its filters in the query string."""
    url = reverse(KIND_PAGES[view.kind], args=[workspace_slug])
    return f"{url}?{urlencode(view.query)}" if view.query else url


def is_manager(request: HttpRequest) -> bool:
    return has_role(request.membership, Role.PRODUCT_MANAGER)


def can_change(request: HttpRequest, view: SavedView) -> bool:
    """The view's owner or a product manager (the service checks it again)."""
    return view.owner_id == request.user.pk or is_manager(request)


def view_or_404(request: HttpRequest, view_id: int) -> SavedView:
    """A view the requester may see (their own, a shared one, any for a product manager)."""
    view = roadmap_selectors.saved_view_detail(
        workspace=request.workspace, user=request.user, view_id=view_id, everyone=is_manager(request)
    )
    if view is None:
        raise Http404("View not found.")
    return view


def _list_url(request: HttpRequest) -> str:
    return reverse("portal:saved-views", args=[request.workspace.slug])


@workspace_page()
def saved_views(request: HttpRequest) -> HttpResponse:
    """Every view the requester sees, with its page, filters, owner and working share links."""
    views = list(
        roadmap_selectors.saved_view_list(
            workspace=request.workspace, user=request.user, everyone=is_manager(request)
        )
    )
    for view in views:
        view.url = view_url(request.workspace.slug, view)
        view.changeable = can_change(request, view)
    return render(request, "portal/views/list.html", {"views": views})


@require_POST
@workspace_page()
def save(request: HttpRequest) -> HttpResponse:
    """Save the page's current filters (any member). Errors: the form again, inline (400)."""
    form = SavedViewSaveForm(request.POST)
    if form.is_valid():
        try:
            view = roadmap_services.saved_view_create(
                workspace=request.workspace,
                actor=request.user,
                name=form.cleaned_data["name"],
                kind=form.kind(),
                query=form.filters(),
                shared=form.cleaned_data["shared"],
            )
        except DomainError as exc:
            add_domain_error(form, exc, aliases=_ALIASES)
        else:
            where = "shared with the workspace" if view.shared else "private to you"
            messages.success(request, f"Saved the view “{view.name}” ({where}).")
            return redirect(view_url(request.workspace.slug, view))
    return render(request, "portal/views/save.html", {"form": form}, status=400)


@workspace_page()
def menu(request: HttpRequest) -> HttpResponse:
    """The "Views" menu's list for one roadmap page (an htmx fragment); without htmx, the
    management page."""
    kind = PAGE_KINDS.get(request.GET.get("page", ""))
    if kind is None:
        raise Http404("Unknown page.")
    if not request.htmx:
        return redirect(_list_url(request))
    views = list(roadmap_selectors.saved_view_menu(workspace=request.workspace, user=request.user, kind=kind))
    for view in views:
        view.url = view_url(request.workspace.slug, view)
    return render(request, "portal/views/_menu_list.html", {"views": views})


@require_http_methods(["GET", "POST"])
@workspace_page()
def edit(request: HttpRequest, view_id: int) -> HttpResponse:
    """Rename, share or unshare a view (its owner or a product manager; others 403)."""
    view = view_or_404(request, view_id)
    if not can_change(request, view):
        raise PermissionDenied("Only the view's owner or a product manager can change it.")
    form = SavedViewEditForm(
        request.POST if request.method == "POST" else None, initial={"name": view.name, "shared": view.shared}
    )
    if request.method == "POST" and form.is_valid():
        try:
            view = roadmap_services.saved_view_update(view=view, actor=request.user, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc, aliases=_ALIASES)
        else:
            messages.success(request, f"Saved the view “{view.name}”.")
            return redirect(_list_url(request))
    return render(
        request,
        "portal/views/edit.html",
        {"view": view, "form": form, "url": view_url(request.workspace.slug, view)},
        status=400 if form.errors else 200,
    )


@require_POST
@workspace_page()
def delete(request: HttpRequest, view_id: int) -> HttpResponse:
    """Delete a view and its share links (its owner or a product manager)."""
    view = view_or_404(request, view_id)
    if not can_change(request, view):
        raise PermissionDenied("Only the view's owner or a product manager can delete it.")
    try:
        roadmap_services.saved_view_delete(view=view, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Deleted the view “{view.name}” and its share links.")
    return redirect(_list_url(request))
