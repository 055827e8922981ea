"""Members, roles and invitations (``/w/<slug>/settings/members/``).

Everyone sees the member list; admins change roles, remove members, invite and
revoke invitations (as in the REST API); anyone may leave. The services hold the
rules (the last owner, only owners grant the owner role) and their errors are shown.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.access import has_role, require_role, workspace_page
from portal.forms import add_domain_error
from portal.forms.workspace import InvitationForm, RoleForm
from productops import selectors, services
from productops.errors import DomainError
from productops.models import Role


def _role_choices(request: HttpRequest) -> list[tuple[str, str]]:
    """Roles the requester may hand out: only owners grant the owner role."""
    if has_role(request.membership, Role.OWNER):
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if value != Role.OWNER]


def _page(request: HttpRequest, invite_form: InvitationForm | None = None, status: int = 200) -> HttpResponse:
    workspace = request.workspace
    is_admin = has_role(request.membership, Role.ADMIN)
    invitations = []
    if is_admin:
        invitations = list(
            selectors.invitation_list(workspace=workspace).filter(
                accepted_at__isnull=True, revoked_at__isnull=True
            )
        )
        if invite_form is None:
            invite_form = InvitationForm()
            invite_form.fields["role"].choices = _role_choices(request)
    return render(
        request,
        "portal/settings/members.html",
        {
            "members": list(selectors.membership_list(workspace=workspace)),
            "invitations": invitations,
            "invite_form": invite_form,
            "role_choices": _role_choices(request),
            "now": timezone.now(),
        },
        status=status,
    )


@workspace_page()
def members(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _membership(request: HttpRequest, membership_id: int):
    return get_object_or_404(
        selectors.membership_list(workspace=request.workspace).select_related("workspace"), pk=membership_id
    )


@require_POST
@workspace_page()
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    require_role(request, Role.ADMIN)
    membership = _membership(request, membership_id)
    form = RoleForm(request.POST)
    error = saved = None
    if not form.is_valid():
        error = "Pick a role."
    else:
        try:
            membership = services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
        except DomainError as exc:
            error = exc.detail
        else:
            saved = f"{membership.user.get_username()} is now {membership.get_role_display()}."
    if request.htmx:
        return render(
            request,
            "portal/settings/member_row.html",
            {"m": membership, "row_error": error, "row_saved": saved, "role_choices": _role_choices(request)},
            status=200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, saved)
    return redirect("portal:members", request.workspace.slug)


@require_POST
@workspace_page()
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership(request, membership_id)
    leaving = membership.user_id == request.user.pk
    if not leaving:
        require_role(request, Role.ADMIN)
    username = membership.user.get_username()
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("portal:members", request.workspace.slug)
    if leaving:
        messages.success(request, f"You left {request.workspace.name}.")
        return redirect("portal:home")
    messages.success(request, f"{username} was removed from the workspace.")
    return redirect("portal:members", request.workspace.slug)


@require_POST
@workspace_page()
def invitation_create(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ADMIN)
    form = InvitationForm(request.POST)
    form.fields["role"].choices = _role_choices(request)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                workspace=request.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("portal:members", request.workspace.slug)
    return _page(request, invite_form=form, status=400)


@require_POST
@workspace_page()
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    require_role(request, Role.ADMIN)
    invitation = get_object_or_404(
        selectors.invitation_list(workspace=request.workspace).select_related("workspace"), pk=invitation_id
    )
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return redirect("portal:members", request.workspace.slug)
