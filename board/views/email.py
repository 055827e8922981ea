"""The public pages e-mail links open, under ``/p/<workspace_slug>/``: a stakeholder's
preferences and unsubscribe, a contact's unsubscribe, the board's own (older) unsubscribe
link, and the public changelog's e-mail subscription (double opt-in).

They need no login and work whether or not the public board is on: the signed token in
the link is what authorises, and a tampered token, or one of another workspace, is a 404
page that writes nothing. Pages are normal CSRF-protected forms (a GET never writes, so
mail scanners that follow links change nothing); the unsubscribe URLs also take the
RFC 8058 one-click POST a mail client sends (body ``List-Unsubscribe=One-Click``, no CSRF
token), which is why they are CSRF-exempt for that body only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from board import selectors, services
from board.forms import ChangelogSubscribeForm, PreferencesForm
from board.throttling import throttle_hit, throttled_response
from board.views.access import session_contact_id
from board.views.changelog import changelog_or_404, changelog_render
from comms import subscribers, tokens
from comms.services import preferences_update
from comms.services import stakeholder_unsubscribe as unsubscribe_stakeholder
from productops.errors import DomainError, NotFound
from productops.models import Workspace
from releases import selectors as release_selectors

SUBSCRIBE_THANKS = (
    "Thanks. If that address is not subscribed yet, we have sent it a link: "
    "click it to confirm your subscription."
)


def one_click(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """CSRF protection for the page's own form, none for the RFC 8058 one-click POST (a mail
    client cannot send a CSRF token; the link's signed token is the authority)."""
    protected = csrf_protect(view)

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click":
            return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapped)


def _workspace_or_404(workspace_slug: str) -> Workspace:
    workspace = selectors.public_workspace(workspace_slug=workspace_slug)
    if workspace is None:
        raise Http404("No such workspace.")
    return workspace


def _context(request: HttpRequest, workspace: Workspace, **extra: Any) -> dict[str, Any]:
    """What board/base.html needs: the board's navigation when it is on, else none."""
    board = selectors.enabled_board(workspace_slug=workspace.slug)
    contact = None
    if board is not None:
        contact_id = session_contact_id(request, workspace.pk)
        if contact_id is not None:
            contact = selectors.verified_contact(workspace=workspace, contact_id=contact_id)
    return {
        "board": board,
        "board_workspace": workspace,
        "contact": contact,
        "changelog_enabled": release_selectors.changelog_settings(workspace=workspace).enabled,
        **extra,
    }


def _invalid(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return render(request, "board/email_invalid.html", _context(request, workspace), status=404)


def _stakeholder(workspace: Workspace, token: str):
    _, stakeholder_id = tokens.stakeholder_from_token(token, workspace_id=workspace.pk)
    stakeholder = selectors.email_page_stakeholder(workspace=workspace, stakeholder_id=stakeholder_id)
    if stakeholder is None:
        raise NotFound("This link is not valid.", code="invalid_link")
    stakeholder.workspace = workspace
    return stakeholder


# --- stakeholders ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def stakeholder_preferences(request: HttpRequest, workspace_slug: str, token: str) -> HttpResponse:
    workspace = _workspace_or_404(workspace_slug)
    try:
        stakeholder = _stakeholder(workspace, token)
    except NotFound:
        return _invalid(request, workspace)
    subscriptions = selectors.stakeholder_subscriptions(workspace=workspace, stakeholder_id=stakeholder.pk)
    form = PreferencesForm(
        request.POST or None,
        subscriptions=subscriptions,
        initial={"unsubscribed": stakeholder.unsubscribed_at is not None},
    )
    if request.method == "POST" and form.is_valid():
        try:
            preferences_update(stakeholder=stakeholder, data=form.data_for_service())
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "Your e-mail preferences are saved.")
            return redirect(request.path)
    return render(
        request,
        "board/email_preferences.html",
        _context(request, workspace, form=form, stakeholder=stakeholder),
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@one_click
def stakeholder_unsubscribe(request: HttpRequest, workspace_slug: str, token: str) -> HttpResponse:
    """GET: a confirm button. POST (the button, or a mail client's one-click): unsubscribe."""
    workspace = _workspace_or_404(workspace_slug)
    try:
        stakeholder = _stakeholder(workspace, token)
    except NotFound:
        return _invalid(request, workspace)
    done = request.method == "POST"
    if done:
        unsubscribe_stakeholder(stakeholder=stakeholder)
    preferences = reverse(
        "board:stakeholder-preferences", kwargs={"workspace_slug": workspace.slug, "token": token}
    )
    return render(
        request,
        "board/email_unsubscribe.html",
        _context(request, workspace, done=done, who="stakeholder", preferences_url=preferences),
    )


# --- contacts -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@one_click
def contact_unsubscribe(request: HttpRequest, workspace_slug: str, token: str) -> HttpResponse:
    """A customer contact stops e-mail from this workspace (``Contact.unsubscribed_at``)."""
    workspace = _workspace_or_404(workspace_slug)
    try:
        if request.method == "POST":
            subscribers.contact_unsubscribe(workspace=workspace, token=token)
        else:
            _, contact_id = tokens.contact_from_token(token, workspace_id=workspace.pk)
            if selectors.email_page_contact(workspace=workspace, contact_id=contact_id) is None:
                raise NotFound("This link is not valid.", code="invalid_link")
    except NotFound:
        return _invalid(request, workspace)
    return render(
        request,
        "board/email_unsubscribe.html",
        _context(request, workspace, done=request.method == "POST", who="contact"),
    )


@require_http_methods(["GET", "POST"])
@one_click
def board_unsubscribe(request: HttpRequest, workspace_slug: str, token: str) -> HttpResponse:
    """The board's status-notice opt-out (``board:unsubscribe``), as it always was: GET shows
    a button, POST stops the notices; now also one-click, and also while the board is off."""
    workspace = _workspace_or_404(workspace_slug)
    if request.method == "GET":
        return render(request, "board/unsubscribe.html", _context(request, workspace, token=token))
    try:
        services.notifications_unsubscribe(workspace=workspace, token=token)
    except DomainError as exc:
        return render(
            request, "board/unsubscribe.html", _context(request, workspace, error=exc.detail), status=400
        )
    return render(request, "board/unsubscribe.html", _context(request, workspace, done=True))


# --- the changelog's e-mail subscribers ------------------------------------------------------


@require_POST
def changelog_subscribe(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    """The changelog page's subscribe form (404 while the changelog is off). The same answer
    whether or not the address was subscribed; throttled like the board's sign-in."""
    changelog = changelog_or_404(workspace_slug)
    workspace = changelog.workspace
    back = reverse("board:changelog", kwargs={"workspace_slug": workspace.slug})
    form = ChangelogSubscribeForm(request.POST)
    if form.is_spam():
        messages.success(request, SUBSCRIBE_THANKS)
        return redirect(back)
    if form.is_valid():
        email = form.cleaned_data["email"]
        if not throttle_hit(request, email=email):
            return throttled_response(request, _context(request, workspace))
        try:
            subscribers.changelog_subscribe(workspace=workspace, email=email)
        except DomainError as exc:
            form.add_error("email", exc.detail)
        else:
            messages.success(request, SUBSCRIBE_THANKS)
            return redirect(back)
    return changelog_render(request, changelog, subscribe_form=form, status=400)


@require_http_methods(["GET", "POST"])
def changelog_confirm(request: HttpRequest, workspace_slug: str, token: str) -> HttpResponse:
    """GET shows a button (link scanners do not confirm); POST confirms the subscription."""
    workspace = _workspace_or_404(workspace_slug)
    try:
        if request.method == "POST":
            subscribers.changelog_confirm(workspace=workspace, token=token)
        else:
            _, stakeholder_id = tokens.stakeholder_from_confirm_token(token, workspace_id=workspace.pk)
            if selectors.email_page_stakeholder(workspace=workspace, stakeholder_id=stakeholder_id) is None:
                raise NotFound("This link is not valid.", code="invalid_link")
    except NotFound:
        return _invalid(request, workspace)
    return render(
        request,
        "board/changelog_confirm.html",
        _context(request, workspace, done=request.method == "POST"),
    )
