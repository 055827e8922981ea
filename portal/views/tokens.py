"""API tokens (``/w/<slug>/settings/tokens/``): the requester's tokens (admins see all of
the workspace's, as in the REST API), create one (the key is shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from portal.access import workspace_page
from portal.forms import add_domain_error
from portal.forms.workspace import ApiTokenForm
from productops import selectors, services
from productops.errors import DomainError

_SHOWN_ONCE = "portal-api-token-shown-once"


def _tokens(request: HttpRequest):
    return selectors.api_token_list(workspace=request.workspace, membership=request.membership)


@require_http_methods(["GET", "POST"])
@workspace_page()
@sensitive_variables()  # the new key (and the session holding it) in an error report
def tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = services.api_token_create(
                workspace=request.workspace,
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
                actor=request.user,
            )
        except DomainError as exc:
            add_domain_error(form, exc, aliases={"expires_at": "expires_on"})
        else:
            # Post/redirect/get, so reloading the result page cannot create a second token; the key
            # waits in the session for that one page view only.
            request.session[_SHOWN_ONCE] = {"id": token.pk, "key": key}
            return redirect("portal:token-created", request.workspace.slug)
    return render(
        request,
        "portal/settings/tokens.html",
        {"tokens": list(_tokens(request)), "form": form, "now": timezone.now()},
        status=400 if form.errors else 200,
    )


@require_POST
@workspace_page()
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    # The list's scope is the permission: a member finds only their own tokens here.
    token = get_object_or_404(_tokens(request).select_related("workspace"), pk=token_id)
    try:
        services.api_token_revoke(token=token, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"The token “{token.name}” was revoked.")
    return redirect("portal:tokens", request.workspace.slug)


@workspace_page()
@sensitive_variables()  # the key, here and in the template rendering below
def token_created(request: HttpRequest) -> HttpResponse:
    """The new token's key, once: the session forgets it as this page is rendered."""
    shown = request.session.pop(_SHOWN_ONCE, None)
    token = _tokens(request).filter(pk=shown["id"]).first() if shown else None
    if token is None:
        messages.info(request, "A token's key is shown only once, right after it is created.")
        return redirect("portal:tokens", request.workspace.slug)
    response = render(request, "portal/settings/token_created.html", {"token": token, "key": shown["key"]})
    response["Cache-Control"] = "no-store"  # the key must not linger in any cache
    return response
