"""Reads of the platform core. Selectors own scoping, joins and ordering."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from productops.models import (
    ROLE_RANK,
    ApiToken,
    AuditEvent,
    Event,
    Invitation,
    Membership,
    Role,
    User,
    Workspace,
)


def workspace_list_for_user(*, user: User, token: ApiToken | None = None) -> QuerySet[Workspace]:
    """Workspaces the user belongs to; a token sees only its own workspace."""
    workspaces = Workspace.objects.filter(memberships__user=user)
    if token is not None:
        workspaces = workspaces.filter(pk=token.workspace_id)
    return workspaces.order_by("name", "id")


def membership_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user").order_by("user__username", "id")


def invitation_list(*, workspace: Workspace) -> QuerySet[Invitation]:
    return (
        Invitation.objects.for_workspace(workspace)
        .select_related("invited_by", "accepted_by")
        .order_by("-created_at", "-id")
    )


def api_token_list(*, workspace: Workspace, membership: Membership) -> QuerySet[ApiToken]:
    """Admins see every token of the workspace; everyone else only their own."""
    tokens = ApiToken.objects.for_workspace(workspace).select_related("user")
    if ROLE_RANK[membership.role] < ROLE_RANK[Role.ADMIN]:
        tokens = tokens.filter(user_id=membership.user_id)
    return tokens.order_by("-created_at", "-id")


def audit_event_list(*, workspace: Workspace) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.for_workspace(workspace).select_related("actor").order_by("-id")


def tombstone_list(
    *, workspace: Workspace, target_type: str, since: datetime | None = None
) -> QuerySet[AuditEvent]:
    """Deletions of one kind of row (``app_label.model_name``) since ``since``, oldest first,
    from the audit log (the append-only record of every deletion)."""
    events = AuditEvent.objects.for_workspace(workspace).filter(
        target_type=target_type, action=AuditEvent.Action.DELETED
    )
    if since is not None:
        events = events.filter(created_at__gte=since)
    return events.only("id", "target_id", "created_at").order_by("created_at", "id")


def invitation_from_token(*, token: str) -> Invitation | None:
    """The invitation a link's token names, if the signature holds (expiry is checked on accept)."""
    from django.core import signing

    from productops.services import INVITATION_SALT

    try:
        invitation_id = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("workspace").filter(pk=invitation_id).first()


def event_id_for(*, workspace_id: int, kind: str, subject_type: str, subject_id: object) -> int | None:
    """The id of the first event of ``kind`` about one subject (``release.shipped`` is
    recorded once per release), or None."""
    return (
        Event.objects.for_workspace(workspace_id)
        .filter(kind=kind, subject_type=subject_type, subject_id=str(subject_id))
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def workspace_embed_origins(*, workspace_slug: str) -> list[str]:
    """The origins allowed to frame the public pages of the workspace with this slug (one
    column, one query); empty if there is none or no such workspace."""
    origins = Workspace.objects.filter(slug=workspace_slug).values_list("embed_origins", flat=True).first()
    return list(origins or [])
