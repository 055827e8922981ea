"""Platform core API: workspaces, members, invitations, API tokens, audit log.

Views validate input, call a service or selector and render; nothing else.
"""

from __future__ import annotations

import django_filters
import django_filters.rest_framework
from django.db.models import QuerySet
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.platform.filters import AuditEventFilter, InvitationFilter, MembershipFilter, WorkspaceFilter
from api.platform.serializers import (
    ApiTokenCreatedOutput,
    ApiTokenCreateInput,
    ApiTokenOutput,
    AuditEventOutput,
    InvitationAcceptInput,
    InvitationCreateInput,
    InvitationOutput,
    MembershipOutput,
    MembershipUpdateInput,
    WorkspaceCreateInput,
    WorkspaceOutput,
    WorkspaceUpdateInput,
)
from productops import selectors, services
from productops.api.base import (
    WORKSPACE_SLUG_PARAMETER,
    IsWorkspaceMember,
    StrictQueryParameters,
    TombstonesMixin,
    WorkspaceScopedViewSet,
    _WorkspaceScoped,
    request_token,
)
from productops.api.filters import ApiTokenFilter
from productops.api.pagination import CursorPagination
from productops.models import Membership, Role, Workspace


def _refuse_token(request: Request, what: str) -> None:
    if request_token(request) is not None:
        raise exceptions.PermissionDenied(f"{what} needs a signed-in person, not an API token.")


class WorkspaceViewSet(_WorkspaceScoped, viewsets.GenericViewSet):
    """Workspaces the caller belongs to. Creating one makes the caller its owner."""

    serializer_class = WorkspaceOutput
    lookup_url_kwarg = "workspace_slug"
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_class = WorkspaceFilter
    action_roles = {"partial_update": Role.ADMIN, "destroy": Role.OWNER}
    never_forbidden_actions = {"list"}

    def get_permissions(self) -> list:
        # The collection (and OPTIONS or the browsable API's forms on it) has no workspace yet.
        if self.action in ("list", "create") or "workspace_slug" not in self.kwargs:
            return [permissions.IsAuthenticated()]
        return [IsWorkspaceMember()]

    def get_queryset(self) -> QuerySet[Workspace]:
        if getattr(self, "swagger_fake_view", False):
            return Workspace.objects.none()  # schema generation: no user
        return selectors.workspace_list_for_user(user=self.request.user, token=request_token(self.request))

    def get_object(self) -> Workspace:
        return self.request.workspace

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(WorkspaceOutput(page, many=True).data)

    @extend_schema(request=WorkspaceCreateInput, responses={201: WorkspaceOutput})
    def create(self, request: Request) -> Response:
        _refuse_token(request, "Creating a workspace")
        data = WorkspaceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_create(owner=request.user, **data.validated_data)
        return Response(WorkspaceOutput(workspace).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[WORKSPACE_SLUG_PARAMETER])
    def retrieve(self, request: Request, workspace_slug: str) -> Response:
        return Response(WorkspaceOutput(self.get_object()).data)

    @extend_schema(
        parameters=[WORKSPACE_SLUG_PARAMETER], request=WorkspaceUpdateInput, responses=WorkspaceOutput
    )
    def partial_update(self, request: Request, workspace_slug: str) -> Response:
        data = WorkspaceUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_update(
            workspace=self.get_object(), actor=request.user, data=data.validated_data
        )
        return Response(WorkspaceOutput(workspace).data)

    @extend_schema(parameters=[WORKSPACE_SLUG_PARAMETER], responses={204: None})
    def destroy(self, request: Request, workspace_slug: str) -> Response:
        _refuse_token(request, "Deleting a workspace")
        services.workspace_delete(workspace=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipViewSet(
    TombstonesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet
):
    """Members of the workspace and their roles. Admins change roles; anyone may leave."""

    serializer_class = MembershipOutput
    action_roles = {"partial_update": Role.ADMIN, "destroy": Role.VIEWER}
    conflict_actions = {"partial_update", "destroy"}  # the last owner stays
    filterset_class = MembershipFilter
    search_fields = ["user__username", "user__email"]
    ordering_fields = ["created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet[Membership]:
        return selectors.membership_list(workspace=workspace)

    @extend_schema(request=MembershipUpdateInput, responses=MembershipOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        data = MembershipUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            membership=self.get_object(), role=data.validated_data["role"], actor=request.user
        )
        return Response(MembershipOutput(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.membership_remove(membership=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Invitations to join the workspace (admins)."""

    serializer_class = InvitationOutput
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    conflict_actions = {"create", "revoke"}
    filterset_class = InvitationFilter
    search_fields = ["email"]
    ordering_fields = ["created_at", "expires_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.invitation_list(workspace=workspace)

    @extend_schema(request=InvitationCreateInput, responses={201: InvitationOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        data = InvitationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        return Response(InvitationOutput(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationOutput)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, workspace_slug: str, pk: str) -> Response:
        invitation = services.invitation_revoke(invitation=self.get_object(), actor=request.user)
        return Response(InvitationOutput(invitation).data)


class InvitationAcceptView(StrictQueryParameters, APIView):
    """Accept an invitation sent to the signed-in user's email address."""

    conflict_actions = {"post"}  # accepted already, or a member already

    @extend_schema(request=InvitationAcceptInput, responses={201: MembershipOutput})
    @sensitive_variables()  # the invitation token
    def post(self, request: Request) -> Response:
        _refuse_token(request, "Accepting an invitation")
        data = InvitationAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.invitation_accept(token=data.validated_data["token"], user=request.user)
        return Response(MembershipOutput(membership).data, status=status.HTTP_201_CREATED)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """API tokens. The key is returned once, on creation; DELETE revokes (the row stays).

    A token always acts as the person who created it; tokens for service
    accounts are made by operators with ``manage.py create_api_token``.
    """

    serializer_class = ApiTokenOutput
    write_role = Role.VIEWER
    filterset_class = ApiTokenFilter
    ordering_fields = ["created_at", "last_used_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.api_token_list(workspace=workspace, membership=self.request.membership)

    @extend_schema(request=ApiTokenCreateInput, responses={201: ApiTokenCreatedOutput})
    @sensitive_variables()  # the new key, here and in the serializer below (error reports)
    def create(self, request: Request, workspace_slug: str) -> Response:
        _refuse_token(request, "Creating a token")
        data = ApiTokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        token, key = services.api_token_create(
            workspace=self.workspace,
            user=request.user,
            name=values["name"],
            scopes=values["scopes"],
            expires_at=values.get("expires_at"),
            actor=request.user,
        )
        token.key = key
        return Response(ApiTokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.api_token_revoke(token=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """The workspace's audit log, newest first (admins). Read-only by design."""

    serializer_class = AuditEventOutput
    read_role = Role.ADMIN
    pagination_class = CursorPagination
    filterset_class = AuditEventFilter
    # The cursor fixes the order (newest first); no user ordering or text search.
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.audit_event_list(workspace=workspace)
