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
from datetime import UTC
from typing import Any, ClassVar

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from productops import services
from productops.api.filters import StableOrderingFilter
from productops.api.pagination import CursorPagination
from productops.models import ROLE_RANK, ApiToken, Membership, Role, Workspace
from productops.selectors import tombstone_list

WORKSPACE_SLUG_PARAMETER = OpenApiParameter(
    "workspace_slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The workspace's slug."
)


def request_token(request: Request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def resolve_membership(request: Request, workspace_slug: str) -> Membership:
    """The requester's membership of the workspace in the URL, or a 404."""
    token = request_token(request)
    if token is not None:
        # A token belongs to one workspace, and its authentication read the role already.
        membership = services.api_token_membership(token)
        if membership is None or token.workspace.slug != workspace_slug:
            raise exceptions.NotFound("Workspace not found.")
        return membership
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


#: Query parameters every operation accepts (the pagination's, the shared ordering and
#: search, and DRF's format switch); any other must be declared by the operation.
GLOBAL_QUERY_PARAMETERS = frozenset({"page", "page_size", "cursor", "ordering", "search", "format"})


def check_query_parameters(request: Request, allowed: set[str] | frozenset[str]) -> None:
    """A query parameter the operation does not know is a 400 naming it, never ignored."""
    unknown = sorted(set(request.query_params) - set(allowed) - GLOBAL_QUERY_PARAMETERS)
    if unknown:
        raise serializers.ValidationError(
            {
                name: [serializers.ErrorDetail("Unknown query parameter.", code="unknown_parameter")]
                for name in unknown
            }
        )


class StrictQueryParameters:
    """Refuses query parameters the operation does not declare.

    Declared are: the filter set's filters on ``list`` (and on the actions in
    ``filtered_actions``), and ``query_parameters``, a mapping of action (or lower-case
    method, for plain views) to the names it reads. The global ones are always allowed.
    """

    #: Action (or method) → the query parameters it reads besides its filters.
    query_parameters: ClassVar[Mapping[str, set[str]]] = {}
    #: Actions besides ``list`` that apply the view's filter set.
    filtered_actions: ClassVar[set[str]] = set()

    def allowed_query_parameters(self) -> set[str]:
        action = getattr(self, "action", None) or self.request.method.lower()
        allowed = set(self.query_parameters.get(action, set()))
        if action == "list" or action in self.filtered_actions:
            filterset_class = getattr(self, "filterset_class", None)
            if filterset_class is not None:
                allowed |= set(filterset_class.base_filters)
            allowed |= set(getattr(self, "filterset_fields", None) or [])
        return allowed

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication and permissions first
        # A method the route does not have is DRF's 405, whatever the query says.
        if getattr(self, "action_map", None) is not None:
            handled = request.method.lower() in self.action_map
        else:
            handled = getattr(self, request.method.lower(), None) is not None
        if handled and request.method != "OPTIONS":
            check_query_parameters(request, self.allowed_query_parameters())


class _WorkspaceScoped(StrictQueryParameters):
    """Role requirements and the scoped queryset hook, shared by viewsets and views."""

    permission_classes: ClassVar[list] = [IsWorkspaceMember]
    read_role: ClassVar[Role] = Role.VIEWER
    write_role: ClassVar[Role] = Role.CONTRIBUTOR
    #: Per-action overrides, e.g. ``{"destroy": Role.ADMIN}``.
    action_roles: ClassVar[Mapping[str, Role]] = {}
    #: Actions (or lower-case methods of plain views) whose service can refuse with a 409
    #: (``Conflict``); the schema documents 409 for exactly these.
    conflict_actions: ClassVar[set[str]] = set()

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


def _not_text(field: serializers.Field, value: Any) -> bool:
    """A value a text field must refuse: anything but a string (DRF turns numbers into text)."""
    return isinstance(field, serializers.CharField) and value is not None and not isinstance(value, str)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know or that are read-only, instead of ignoring them, and
    text that is not a string (``"title": 12345``). The schema says so:
    ``additionalProperties: false``."""

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
            not_text = {}
            for name, field in self.fields.items():
                if name not in data or field.read_only:
                    continue
                value = data[name]
                child = getattr(field, "child", None)
                if _not_text(field, value) or (
                    isinstance(field, serializers.ListField)
                    and isinstance(value, list)
                    and any(_not_text(child, element) for element in value)
                ):
                    not_text[name] = [serializers.ErrorDetail("Must be a string.", code="not_a_string")]
            try:
                value = super().to_internal_value(data)
            except serializers.ValidationError as exc:
                if not_text and isinstance(exc.detail, dict):
                    raise serializers.ValidationError({**exc.detail, **not_text}) from None
                raise
            if not_text:
                raise serializers.ValidationError(not_text)
            return value
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


class TombstoneOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The id the deleted row had.")
    deleted_at = serializers.DateTimeField()


class TombstonePagination(CursorPagination):
    # The audit log is append-only, so id order is the order of deletion; an integer
    # position is also what the strict cursor accepts (a timestamp is not).
    ordering = "id"
    page_size = 200


class _SinceQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False)

    def validate_since(self, value):
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise serializers.ValidationError("Date out of range.", code="out_of_range") from None


class TombstonesMixin:
    """``GET .../<resource>/deleted/?since=<ISO 8601>``: the ids of the resource's rows deleted
    since then (or ever), oldest first, 200 a page with a cursor, read from the audit log.

    With ``updated_after`` on the list this lets a client keep a copy in sync: what changed,
    and what is gone. The rows a deletion cascades to are audited too (``audit_deletion``).
    """

    #: The model whose deletions are listed (default: the view's serializer's model).
    tombstone_model: ClassVar[type | None] = None

    def allowed_query_parameters(self) -> set[str]:
        allowed = super().allowed_query_parameters()
        if getattr(self, "action", None) == "deleted":
            allowed.add("since")
        return allowed

    def _tombstone_target(self) -> str:
        model = self.tombstone_model or self.get_serializer_class().Meta.model
        return f"{model._meta.app_label}.{model._meta.model_name}"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="ISO 8601; deletions at or after this time."
            )
        ],
        responses=TombstoneOutput(many=True),
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="deleted",
        filter_backends=[],
        pagination_class=TombstonePagination,
    )
    def deleted(self, request: Request, workspace_slug: str) -> Response:
        """Rows of this resource deleted since a time (the ids and when)."""
        query = _SinceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        events = tombstone_list(
            workspace=self.workspace,
            target_type=self._tombstone_target(),
            since=query.validated_data.get("since"),
        )
        page = self.paginate_queryset(events)
        rows = [{"id": int(event.target_id), "deleted_at": event.created_at} for event in page]
        return self.get_paginated_response(TombstoneOutput(rows, many=True).data)
