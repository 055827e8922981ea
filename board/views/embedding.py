"""Framing of the public board and changelog by other sites (docs/security.md, "Embedding").

Every page refuses to be framed (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``).
A page wrapped in :func:`embeddable` lets the origins of its workspace's allow-list
(``Workspace.embed_origins``, set through ``productops.services.workspace_update``) frame
it: its CSP ``frame-ancestors`` becomes that list and it sends no ``X-Frame-Options``
(whose ``DENY`` would still win in browsers that read it). With an empty list, or on any
answer but a 200, the page stays unframeable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from productops.selectors import workspace_embed_origins


def embeddable(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let the workspace's allow-listed origins frame this page (a view under
    ``/p/<workspace_slug>/``). It reads the ``request.workspace`` the view loaded
    (``board_page`` sets it, so do the changelog's views): no query. A view that sets none
    costs one query, for the list by slug."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code != 200:
            return response
        workspace = getattr(request, "workspace", None)
        if workspace is not None:
            origins = list(workspace.embed_origins or [])
        else:
            origins = workspace_embed_origins(workspace_slug=str(kwargs["workspace_slug"]))
        if origins:
            # django-csp's per-response override; X-Frame-Options has no allow-list.
            response._csp_replace = {
                **(getattr(response, "_csp_replace", None) or {}),
                "frame-ancestors": origins,
            }
            response.xframe_options_exempt = True
        return response

    return wrapped
