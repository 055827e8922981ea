"""Server-rendered pages of the platform core."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from productops import selectors, services
from productops.errors import DomainError


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest) -> HttpResponse:
    """The page an invitation email links to: confirm, then join the workspace."""
    token = request.POST.get("token") or request.GET.get("token", "")
    invitation = selectors.invitation_from_token(token=token)
    error = None
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except DomainError as exc:
            error = exc.detail
        else:
            return redirect(f"/api/v1/workspaces/{membership.workspace.slug}/")
    elif invitation is None:
        error = "This invitation link is not valid."
    return render(
        request,
        "productops/invitation_accept.html",
        {"invitation": invitation, "token": token, "error": error},
        status=400 if error else 200,
    )
