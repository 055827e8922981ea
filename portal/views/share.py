"""Read-only share links of saved views.

In the workspace (``/w/<slug>/views/<id>/links/``): a view's links, a new one (the key is shown
once, only its SHA-256 is stored), revoke. Signed out (``/shared/<key>/``): the view's board,
kanban, timeline or matrix, read-only, showing only the fields the link allows, with no link
into the team portal; ``noindex``, ``Referrer-Policy: no-referrer``, not cached. An unknown,
expired or revoked key answers the same 404 page; each address is rate-limited.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.roadmap import (
    HORIZON_CHOICES,
    SCORE_COLUMNS,
    MatrixFilterForm,
    RoadmapFilterForm,
    TimelineFilterForm,
)
from portal.forms.saved_views import ShareLinkForm
from portal.views.saved_views import can_change, view_or_404
from productops.client_address import client_address
from productops.errors import DomainError
from productops.models import Role
from productops.rate_limit import rate_limit_hit
from roadmap import selectors as roadmap_selectors
from roadmap import services as roadmap_services
from roadmap.models import SHARE_LINK_FIELDS, FeatureStatus, SavedView, ScoringModel, ShareLink

_SHOWN_ONCE = "portal-share-link-shown-once"
#: Shared pages one address may open a minute (an unknown key counts too).
SHARED_VIEWS_PER_MINUTE = 120
#: Cards per column (board, kanban) and rows (matrix) a shared page shows.
SHARED_LIMIT = 100
BOARD_STATUSES = (*roadmap_selectors.OPEN_STATUSES, FeatureStatus.SHIPPED)


def share_url(key: str) -> str:
    """The link to send: ``PUBLIC_BASE_URL`` (never the request's Host header) and the key."""
    return settings.PUBLIC_BASE_URL + reverse("portal:shared-view", args=[key])


def _links_url(request: HttpRequest, view: SavedView) -> str:
    return reverse("portal:share-links", args=[request.workspace.slug, view.pk])


def _changeable_view(request: HttpRequest, view_id: int) -> SavedView:
    view = view_or_404(request, view_id)
    if not can_change(request, view):
        raise PermissionDenied("Only the view's owner or a product manager can share it.")
    return view


@require_http_methods(["GET", "POST"])
@workspace_page()
@sensitive_variables()  # the new key (and the session holding it) in an error report
def links(request: HttpRequest, view_id: int) -> HttpResponse:
    """A view's share links and the form for a new one (the view's owner or a product manager;
    making one needs the contributor role)."""
    view = _changeable_view(request, view_id)
    may_create = has_role(request.membership, Role.CONTRIBUTOR)
    form = ShareLinkForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require_role(request, Role.CONTRIBUTOR)
        if form.is_valid():
            try:
                link, key = roadmap_services.share_link_create(
                    view=view,
                    actor=request.user,
                    expires_at=form.expires_at(),
                    fields=form.cleaned_data["show"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, aliases={"expires_at": "expires_on", "fields": "show"})
            else:
                # Post/redirect/get; the key waits in the session for that one page view only.
                request.session[_SHOWN_ONCE] = {"id": link.pk, "key": key}
                return redirect("portal:share-link-created", request.workspace.slug, view.pk)
    return render(
        request,
        "portal/views/links.html",
        {
            "view": view,
            "links": list(roadmap_selectors.share_link_list(view=view)),
            "form": form,
            "may_create": may_create,
            "now": timezone.now(),
            "field_labels": SHARE_LINK_FIELDS,
        },
        status=400 if form.errors else 200,
    )


@workspace_page()
@sensitive_variables()  # the key, here and in the template rendering below
def link_created(request: HttpRequest, view_id: int) -> HttpResponse:
    """The new link, once: the session forgets it as this page is rendered."""
    view = _changeable_view(request, view_id)
    shown = request.session.pop(_SHOWN_ONCE, None)
    link = roadmap_selectors.share_link_list(view=view).filter(pk=shown["id"]).first() if shown else None
    if link is None:
        messages.info(request, "A share link is shown only once, right after it is made.")
        return redirect(_links_url(request, view))
    response = render(
        request,
        "portal/views/link_created.html",
        {"view": view, "link": link, "url": share_url(shown["key"]), "field_labels": SHARE_LINK_FIELDS},
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@workspace_page()
def link_revoke(request: HttpRequest, link_id: int) -> HttpResponse:
    """Stop a link at once (its maker, the view's owner or a product manager)."""
    link = roadmap_selectors.share_link_detail(workspace=request.workspace, link_id=link_id)
    if link is None:
        raise Http404("Link not found.")
    view = view_or_404(request, link.view_id)
    if not (can_change(request, view) or link.created_by_id == request.user.pk):
        raise PermissionDenied("Only the view's owner or a product manager can revoke its links.")
    try:
        roadmap_services.share_link_revoke(link=link, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Revoked the link {link.prefix}…: it no longer opens the view.")
    return redirect(_links_url(request, view))


# --- the signed-out page --------------------------------------------------------------


def _public(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    """One answer for an unknown, expired or revoked key: nothing tells them apart."""
    return _public(render(request, "portal/shared/not_found.html", status=404))


def _columns(groups: list[tuple[str, str, list]]) -> list[dict]:
    columns = []
    for key, label, features in groups:
        shown = features[:SHARED_LIMIT]
        columns.append({"key": key, "label": label, "features": shown, "hidden": len(features) - len(shown)})
    return columns


def _page_context(link: ShareLink) -> dict | None:
    """What the shared page draws for the link's view (filters as saved), or None when a
    saved filter no longer names anything (its team, goal, product, initiative or tag was
    deleted or renamed): the page is never drawn with fewer filters than the view was saved
    with, which would show more of the roadmap than was shared."""
    view, workspace = link.view, link.workspace
    form_class = {
        SavedView.Kind.TIMELINE: TimelineFilterForm,
        SavedView.Kind.MATRIX: MatrixFilterForm,
    }.get(view.kind, RoadmapFilterForm)
    form = form_class({key: str(value) for key, value in view.query.items()}, workspace=workspace)
    filters = form.filters()
    if form.errors or any(key in filters and filters[key] in (None, "") for key in view.query):
        return None
    show = {name: name in link.fields for name in SHARE_LINK_FIELDS}
    context: dict = {"link": link, "view": view, "shared_workspace": workspace, "show": show}
    common = {"workspace": workspace, "fields": link.fields, **filters}
    if view.kind == SavedView.Kind.BOARD:
        # Open work by horizon, as on the team's board (shipped and declined work leaves it).
        features = roadmap_selectors.shared_view_features(statuses=roadmap_selectors.OPEN_STATUSES, **common)
        by_horizon: dict[str, list] = {key: [] for key, _ in HORIZON_CHOICES}
        for feature in features:
            by_horizon[feature.horizon or "unscheduled"].append(feature)
        context["columns"] = _columns([(key, label, by_horizon[key]) for key, label in HORIZON_CHOICES])
    elif view.kind == SavedView.Kind.KANBAN:
        features = roadmap_selectors.shared_view_features(statuses=None, **common)
        by_status: dict[str, list] = {value: [] for value in FeatureStatus.values}
        for feature in features:
            by_status[feature.status].append(feature)
        context["columns"] = _columns([(v, label, by_status[v]) for v, label in FeatureStatus.choices])
    elif view.kind == SavedView.Kind.TIMELINE:
        start, end, _ = form.span(default_start=timezone.localdate())
        features = roadmap_selectors.shared_view_features(statuses=BOARD_STATUSES, **common)
        context.update(
            months=roadmap_selectors.roadmap_by_month(features=features, start=start, end=end),
            start=start,
            end=end,
        )
    else:
        settings_row = roadmap_selectors.roadmap_settings(workspace=workspace)
        model = form.scoring_model(default=settings_row.scoring_model)
        column = SCORE_COLUMNS[ScoringModel(model)]
        rows = list(
            roadmap_selectors.shared_view_features(
                statuses=roadmap_selectors.OPEN_STATUSES, score_column=column, **common
            )[: SHARED_LIMIT + 1]
        )
        if show["scores"]:
            for feature in rows:
                feature.matrix_value = getattr(feature, column)
        context.update(
            rows=rows[:SHARED_LIMIT],
            more_rows=len(rows) > SHARED_LIMIT,
            model_label=ScoringModel(model).label,
        )
    return context


@require_GET
@sensitive_variables("key")
def shared_view(request: HttpRequest, key: str) -> HttpResponse:
    limit = {f"shared-view:ip:{client_address(request)}": SHARED_VIEWS_PER_MINUTE}
    if not rate_limit_hit(limit, window=60):
        response = _public(render(request, "portal/shared/throttled.html", status=429))
        response["Retry-After"] = "60"
        return response
    link = roadmap_selectors.share_link_resolve(key=key)
    if link is None:
        return _not_found(request)
    context = _page_context(link)
    if context is None:
        return _not_found(request)
    return _public(render(request, "portal/shared/view.html", context))
