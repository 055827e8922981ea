"""Saved views and read-only share links under /api/v1/workspaces/{workspace_slug}/.

``saved-views/``: a roadmap page's filters under a name (any member; only the owner or a
product manager changes one). ``share-links/``: read-only links for people without an account;
the key is in the 201 answer only (the row keeps its SHA-256); DELETE revokes (the row stays).
Views validate input, call a service or selector and render; ``roadmap.services`` decides.
"""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.platform.serializers import UserSummary
from productops.api.base import StrictSerializer, TombstonesMixin, WorkspaceResourceViewSet
from productops.api.fields import ModelOutput
from productops.api.filters import IdFilter, StrictBooleanFilter, SyncFilterSet
from productops.models import ROLE_RANK, Role, Workspace
from roadmap import selectors, services
from roadmap.models import SHARE_LINK_FIELDS, SavedView, ShareLink

QUERY_HELP = (
    "The page's filters: `product`, `goal`, `initiative`, `team` (ids of this workspace), `tag` "
    "(a tag's name); a timeline also `start` (YYYY-MM) and `months` (1-36), a matrix `model` "
    "(a scoring model). Any other key is a 400 `unknown_filter`."
)


def _everyone(request: Request) -> bool:
    """Product managers see (and manage) every view of the workspace."""
    return ROLE_RANK[request.membership.role] >= ROLE_RANK[Role.PRODUCT_MANAGER]


# --- serializers ------------------------------------------------------------------------


class SavedViewOutput(ModelOutput):
    owner = UserSummary(read_only=True, allow_null=True)
    query = serializers.DictField(read_only=True, help_text=QUERY_HELP)
    active_links = serializers.IntegerField(read_only=True, help_text="Share links not revoked nor expired.")

    class Meta:
        model = SavedView
        fields = [
            "id",
            "name",
            "kind",
            "query",
            "shared",
            "owner",
            "active_links",
            "created_at",
            "updated_at",
        ]


class SavedViewCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=SavedView.Kind.choices)
    query = serializers.DictField(required=False, help_text=QUERY_HELP)
    shared = serializers.BooleanField(required=False, default=False)


class SavedViewUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    query = serializers.DictField(required=False, help_text=QUERY_HELP)
    shared = serializers.BooleanField(required=False)


class ShareLinkOutput(ModelOutput):
    created_by = UserSummary(read_only=True, allow_null=True)
    fields = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SHARE_LINK_FIELDS.items())),
        read_only=True,
        help_text="Optional fields the page shows; title, product, status and horizon always are.",
    )
    state = serializers.SerializerMethodField()

    class Meta:
        model = ShareLink
        fields = [
            "id",
            "view",
            "prefix",
            "fields",
            "state",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "updated_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=["active", "expired", "revoked"]))
    def get_state(self, link: ShareLink) -> str:
        if link.revoked_at is not None:
            return "revoked"
        return "expired" if link.expires_at <= timezone.now() else "active"


class ShareLinkCreatedOutput(ShareLinkOutput):
    key = serializers.CharField(read_only=True, help_text="The link's key. Shown once; store it now.")
    url = serializers.URLField(read_only=True, help_text="The page to send (PUBLIC_BASE_URL/shared/<key>/).")

    class Meta(ShareLinkOutput.Meta):
        fields = [*ShareLinkOutput.Meta.fields, "key", "url"]


@extend_schema_field(OpenApiTypes.INT)
class SavedViewField(serializers.PrimaryKeyRelatedField):
    """A saved view the requester sees, by id (another's private view or workspace: does_not_exist)."""

    def get_queryset(self) -> QuerySet:
        request = self.context["request"]
        return selectors.saved_view_list(
            workspace=request.workspace, user=request.user, everyone=_everyone(request)
        ).select_related("workspace")


class ShareLinkCreateInput(StrictSerializer):
    view = SavedViewField()
    expires_at = serializers.DateTimeField(
        help_text=f"Required; in the future and at most {services.SHARE_LINK_MAX_DAYS} days away."
    )
    fields = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SHARE_LINK_FIELDS.items())),
        required=False,
        help_text="Default: team and dates; the rest stays hidden.",
    )


# --- filters ------------------------------------------------------------------------------


class SavedViewFilter(SyncFilterSet):
    kind = django_filters.ChoiceFilter(choices=SavedView.Kind.choices)
    shared = StrictBooleanFilter()
    owner = IdFilter(field_name="owner_id")

    class Meta:
        model = SavedView
        fields: list[str] = []


class ShareLinkFilter(SyncFilterSet):
    view = IdFilter(field_name="view_id")

    class Meta:
        model = ShareLink
        fields: list[str] = []


# --- views ----------------------------------------------------------------------------------


class SavedViewViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Saved views: yours and the workspace's shared ones (product managers: all). Any member
    saves views; the owner or a product manager renames, shares or deletes one."""

    serializer_class = SavedViewOutput
    write_role = Role.VIEWER
    filterset_class = SavedViewFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.saved_view_list(
            workspace=workspace, user=self.request.user, everyone=_everyone(self.request)
        ).select_related("workspace")

    @extend_schema(request=SavedViewCreateInput, responses={201: SavedViewOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        values = self.validated(SavedViewCreateInput)
        view = services.saved_view_create(workspace=self.workspace, actor=request.user, **values)
        return self.render(view, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=SavedViewUpdateInput, responses=SavedViewOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        view = services.saved_view_update(
            view=self.get_object(),
            actor=request.user,
            data=self.validated(SavedViewUpdateInput, partial=True),
        )
        return self.render(view)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.saved_view_delete(view=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareLinkViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Read-only share links of the saved views you see. Creating one needs the contributor role
    and the view's ownership (or product manager); DELETE revokes it at once (the row stays)."""

    serializer_class = ShareLinkOutput
    # Making and revoking links is a contributor's (the service also asks for the view's
    # owner or a product manager), so a viewer's write is a 403 before its body is read.
    write_role = Role.CONTRIBUTOR
    filterset_class = ShareLinkFilter
    ordering_fields = ["created_at", "expires_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.share_link_visible_list(
            workspace=workspace, user=self.request.user, everyone=_everyone(self.request)
        )

    @extend_schema(request=ShareLinkCreateInput, responses={201: ShareLinkCreatedOutput})
    @sensitive_variables()  # the new key, here and in the serializer below (error reports)
    def create(self, request: Request, workspace_slug: str) -> Response:
        values = self.validated(ShareLinkCreateInput)
        link, key = services.share_link_create(
            view=values["view"],
            actor=request.user,
            expires_at=values["expires_at"],
            fields=values.get("fields"),
        )
        link = self.reloaded(link)
        link.key = key
        link.url = settings.PUBLIC_BASE_URL + reverse("portal:shared-view", args=[key])
        return Response(ShareLinkCreatedOutput(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.share_link_revoke(link=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
