"""The page an invitation e-mail links to (outside any workspace, so not under /w/)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from portal.forms import add_domain_error
from portal.forms.workspace import SignUpForm
from productops import selectors, services
from productops.errors import DomainError

SIGN_UP_FIELDS = {"password": "password1"}


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("token", "password1", "password2")
@sensitive_variables()  # the invitation token and the new password, in every frame below
def invitation_accept(request: HttpRequest) -> HttpResponse:
    """The page an invitation email links to: a signed-in person confirms and joins; a
    visitor without an account makes one for the invited address and joins in one step."""
    token = request.POST.get("token") or request.GET.get("token", "")
    invitation = selectors.invitation_from_token(token=token)
    signed_in = request.user.is_authenticated
    form = None if signed_in else SignUpForm(request.POST if request.method == "POST" else None)
    error = None
    if invitation is None:
        error = "This invitation link is not valid. Ask for a new invitation."
    elif request.method == "POST":
        try:
            if signed_in:
                membership = services.invitation_accept(token=token, user=request.user)
            elif form.is_valid():
                membership = services.invitation_sign_up(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
                login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
            else:
                membership = None
        except DomainError as exc:
            if form is not None and (exc.attr in ("username", "password") or exc.code == "email_taken"):
                add_domain_error(form, exc, aliases=SIGN_UP_FIELDS)
            else:
                error = exc.detail
        else:
            if membership is not None:
                return redirect("portal:dashboard", membership.workspace.slug)
    elif invitation.revoked_at is not None:
        error = "This invitation was revoked. Ask for a new invitation."
    elif invitation.accepted_at is not None:
        error = "This invitation was already accepted."
    elif invitation.expires_at <= timezone.now():
        error = "This invitation has expired. Ask for a new invitation."
    next_url = f"{request.path}?{urlencode({'token': token})}"
    status = 200
    if error or (form is not None and form.errors):
        status = 400
    return render(
        request,
        "portal/invitation_accept.html",
        {
            "invitation": invitation if not error else None,
            "invalid_invitation": invitation is None,
            "token": token,
            "error": error,
            "form": form,
            "login_url": f"{reverse('portal:login')}?{urlencode({'next': next_url})}",
        },
        status=status,
    )
