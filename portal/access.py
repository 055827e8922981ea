"""Who may see a portal page, and what they may do on it.

Every workspace page is wrapped in :func:`workspace_page`: the workspace comes
from the URL's slug and the signed-in user's membership, exactly as in the API
(``productops.api.base``): not signed in → the sign-in page; not a member →
404 (existence is not revealed); a role below the page's → 403. Actions inside
a page that need a higher role call :func:`require_role`, so the server refuses
what the template hides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from productops.models import ROLE_RANK, Membership, Role


def has_role(membership: Membership, role: Role) -> bool:
    return ROLE_RANK[membership.role] >= ROLE_RANK[role]


def require_role(request: HttpRequest, role: Role) -> None:
    """403 unless the requester's role in the page's workspace is ``role`` or higher."""
    if not has_role(request.membership, role):
        raise PermissionDenied(f"This needs the {Role(role).label} role or higher.")


def workspace_page(role: Role = Role.VIEWER) -> Callable:
    """Resolve ``workspace_slug`` into ``request.workspace`` and ``request.membership``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(
            request: HttpRequest, workspace_slug: str, *args: object, **kwargs: object
        ) -> HttpResponse:
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    # A fragment request whose session ended: send the whole page to sign in,
                    # rather than swapping the sign-in page into a fragment.
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = redirect_to_login(request.htmx.current_url_abs_path or "/")[
                        "Location"
                    ]
                    return response
                return redirect_to_login(request.get_full_path())
            membership = (
                Membership.objects.select_related("workspace")
                .filter(workspace__slug=workspace_slug, user=request.user)
                .first()
            )
            if membership is None:
                raise Http404("Workspace not found.")
            request.membership = membership
            request.workspace = membership.workspace
            require_role(request, role)
            return view(request, *args, **kwargs)

        wrapped.portal_role = role
        return wrapped

    return decorator
