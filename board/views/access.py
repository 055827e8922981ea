"""Who may see a public board page: the board must be enabled (else 404); when anonymous
viewing is off, or the page writes, the visitor must be a verified contact of this
workspace (else the sign-in page). The verified contact lives in the session per workspace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from board import selectors
from feedback.models import Contact
from productops.safe_redirect import safe_next
from releases import selectors as release_selectors

SESSION_KEY = "board_contacts"


def session_contact_id(request: HttpRequest, workspace_id: int) -> int | None:
    return (request.session.get(SESSION_KEY) or {}).get(str(workspace_id))


def sign_in_session(request: HttpRequest, contact: Contact) -> None:
    contacts = dict(request.session.get(SESSION_KEY) or {})
    request.session.cycle_key()  # no session fixation across a sign-in
    contacts[str(contact.workspace_id)] = contact.pk
    request.session[SESSION_KEY] = contacts


def sign_out_session(request: HttpRequest, workspace_id: int) -> None:
    contacts = dict(request.session.get(SESSION_KEY) or {})
    if contacts.pop(str(workspace_id), None) is not None:
        request.session[SESSION_KEY] = contacts


def sign_in_redirect(request: HttpRequest, next_path: str | None = None) -> HttpResponseRedirect:
    url = reverse("board:sign-in", kwargs={"workspace_slug": request.workspace.slug})
    return HttpResponseRedirect(f"{url}?{urlencode({'next': next_path or request.get_full_path()})}")


def board_page(*, verified: bool = False, sign_in_page: bool = False) -> Callable:
    """Resolve ``workspace_slug`` into ``request.board``, ``request.workspace`` and ``request.contact``.

    ``verified``: the page needs a signed-in contact. ``sign_in_page``: reachable even when
    anonymous viewing is off.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(
            request: HttpRequest, workspace_slug: str, *args: object, **kwargs: object
        ) -> HttpResponse:
            board = selectors.enabled_board(workspace_slug=workspace_slug)
            if board is None:
                raise Http404("No public board here.")
            request.board, request.workspace = board, board.workspace
            contact_id = session_contact_id(request, board.workspace_id)
            request.contact = (
                selectors.verified_contact(workspace=board.workspace, contact_id=contact_id)
                if contact_id is not None
                else None
            )
            if request.contact is None and (verified or not (board.anonymous_viewing or sign_in_page)):
                next_path = request.get_full_path() if request.method == "GET" else None
                if next_path is None:
                    home = f"/p/{workspace_slug}/"
                    next_path = safe_next(request, request.POST.get("next"), fallback=home, within=home)
                response = sign_in_redirect(request, next_path)
                if getattr(request, "htmx", False):
                    # htmx would swap the sign-in page into the fragment: send the browser there.
                    return HttpResponse(status=204, headers={"HX-Redirect": response["Location"]})
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def board_context(request: HttpRequest, **extra: object) -> dict:
    workspace = request.workspace

    def changelog_enabled() -> bool:
        # Called by the template only where the navigation renders (not in htmx fragments).
        return release_selectors.changelog_settings(workspace=workspace).enabled

    return {
        "board": request.board,
        "board_workspace": workspace,
        "contact": request.contact,
        "changelog_enabled": changelog_enabled,
        **extra,
    }
