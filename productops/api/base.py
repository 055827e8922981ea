"""The shared tenancy mechanism of the API.

Every workspace resource view subclasses :class:`WorkspaceScopedViewSet` (or
:class:`WorkspaceScopedAPIView`) and implements ``get_workspace_queryset``.
The permission resolves the workspace from the URL for the authenticated user:

* not authenticated → 401;
* not a member, or a token bound to another workspace → 404 (existence is not revealed);
* a role below the view's requirement, or a token without the needed scope → 403.

Objects are looked up only inside the workspace's queryset, so another
workspace's object is a 404. A test walks every API route and checks each
workspace route uses this base.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from productops.api.filters import StableOrderingFilter
from productops.models import ROLE_RANK, ApiToken, Membership, Role, Workspace

WORKSPACE_SLUG_PARAMETER = OpenApiParameter(
    "workspace_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The workspace's slug."
)


def request_token(request: Request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def resolve_membership(request: Request, workspace_slug: str) -> Membership:
    """The requester's membership of the workspace in the URL, or a 404."""
    token = request_token(request)
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace__slug=workspace_slug, user=request.user)
        .first()
    )
    if membership is None or (token is not None and token.workspace_id != membership.workspace_id):
        raise exceptions.NotFound("Workspace not found.")
    return membership


def check_role(request: Request, membership: Membership, required: Role) -> None:
    if ROLE_RANK[membership.role] < ROLE_RANK[required]:
        raise exceptions.PermissionDenied(f"This needs the {Role(required).label} role or higher.")
    token = request_token(request)
    if token is not None:
        scope = ApiToken.Scope.READ if request.method in permissions.SAFE_METHODS else ApiToken.Scope.WRITE
        if not token.has_scope(scope):
            raise exceptions.PermissionDenied(f"This token lacks the '{scope}' scope.")


class IsWorkspaceMember(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        membership = resolve_membership(request, view.kwargs["workspace_slug"])
        request.workspace = membership.workspace
        request.membership = membership
        check_role(request, membership, view.required_role(request))
        return True


class _WorkspaceScoped:
    """Role requirements and the scoped queryset hook, shared by viewsets and views."""

    permission_classes: ClassVar[list] = [IsWorkspaceMember]
    read_role: ClassVar[Role] = Role.VIEWER
    write_role: ClassVar[Role] = Role.CONTRIBUTOR
    #: Per-action overrides, e.g. ``{"destroy": Role.ADMIN}``.
    action_roles: ClassVar[Mapping[str, Role]] = {}

    def required_role(self, request: Request) -> Role:
        action = getattr(self, "action", None)
        if action in self.action_roles:
            return self.action_roles[action]
        return self.read_role if request.method in permissions.SAFE_METHODS else self.write_role

    @property
    def workspace(self) -> Workspace:
        return self.request.workspace

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        """Return the selector's queryset for ``workspace``. Subclasses must implement."""
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no workspace; the model is all it needs.
            return self.get_serializer_class().Meta.model.objects.none()
        return self.get_workspace_queryset(self.request.workspace)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["workspace"] = getattr(self.request, "workspace", None)
        return context


@extend_schema(parameters=[WORKSPACE_SLUG_PARAMETER])
class WorkspaceScopedViewSet(_WorkspaceScoped, viewsets.GenericViewSet):
    """Base of every workspace resource viewset; add the mixins you need."""


@extend_schema(parameters=[WORKSPACE_SLUG_PARAMETER])
class WorkspaceScopedAPIView(_WorkspaceScoped, APIView):
    """Base of non-resource workspace endpoints (reports, actions)."""


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know or that are read-only, instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail("Unknown or read-only field.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class WorkspaceResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """A domain resource: list and retrieve through the selector, writes through services.

    Write actions validate with an input serializer (:meth:`validated`), call a
    service, and answer with the row as the list renders it (:meth:`render`).
    """

    filter_backends: ClassVar[list] = [DjangoFilterBackend, SearchFilter, StableOrderingFilter]

    def validated(
        self, serializer_class: type[serializers.Serializer], *, partial: bool = False
    ) -> dict[str, Any]:
        data = serializer_class(
            data=self.request.data, partial=partial, context=self.get_serializer_context()
        )
        data.is_valid(raise_exception=True)
        return data.validated_data

    def reloaded(self, instance: Any) -> Any:
        """The written row as the list renders it (the selector's annotations and prefetches)."""
        return self.get_workspace_queryset(self.workspace).get(pk=instance.pk)

    def render(self, instance: Any, *, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.reloaded(instance)).data, status=status_code)
