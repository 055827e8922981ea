"""Internal comments on a feature: ``/features/{feature_id}/comments/`` (list, post) and
``/features/{feature_id}/comments/{id}/`` (read, edit, delete).

Members named ``@username`` in a body are mentioned (``roadmap.services.mention_usernames``):
listed on their dashboard and e-mailed once (comms). Viewers read; contributors post; the
author or a product manager edits and deletes (others: 403). Views validate, call a service
or selector and render; nothing else.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from api.platform.serializers import UserSummary
from productops.api.base import StrictSerializer, WorkspaceResourceViewSet
from productops.api.fields import ModelOutput
from productops.api.filters import StableOrderingFilter
from productops.models import Role, Workspace
from roadmap import selectors, services
from roadmap.models import COMMENT_MAX_LENGTH, Feature, FeatureComment, FeatureMention


class FeatureMentionOutput(ModelOutput):
    user = UserSummary(read_only=True)

    class Meta:
        model = FeatureMention
        fields = ["id", "user", "created_at"]
        read_only_fields = fields


class FeatureCommentOutput(ModelOutput):
    author = UserSummary(read_only=True, allow_null=True, help_text="null once its author's account is gone.")
    mentions = FeatureMentionOutput(many=True, read_only=True, help_text="The members the body @mentions.")

    class Meta:
        model = FeatureComment
        fields = ["id", "feature", "author", "body", "mentions", "created_at", "updated_at", "edited_at"]
        read_only_fields = fields


class FeatureCommentInput(StrictSerializer):
    body = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH,
        help_text="Internal text (at most 5,000 characters); @username mentions a member of the workspace.",
    )


FEATURE_ID = OpenApiParameter(
    "feature_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The feature's id."
)
COMMENT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The comment's id.")


@extend_schema_view(
    list=extend_schema(summary="List a feature's comments", parameters=[FEATURE_ID]),
    retrieve=extend_schema(summary="Read a feature's comment", parameters=[FEATURE_ID, COMMENT_ID]),
)
class FeatureCommentViewSet(WorkspaceResourceViewSet):
    """A feature's internal comments, oldest first (``?ordering=-created_at`` for newest first)."""

    serializer_class = FeatureCommentOutput
    write_role = Role.CONTRIBUTOR
    conflict_actions = {"create"}  # a merged feature takes no comments
    filter_backends = [StableOrderingFilter]
    ordering_fields = ["created_at", "updated_at"]

    @property
    def feature(self) -> Feature:
        if not hasattr(self, "_feature"):
            self._feature = get_object_or_404(
                selectors.feature_list(workspace=self.workspace), pk=self.kwargs["feature_id"]
            )
            self._feature.workspace = self.workspace
        return self._feature

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.feature_comment_list(feature=self.feature)

    def get_object(self) -> FeatureComment:
        comment = super().get_object()
        comment.workspace = self.workspace
        comment.feature = self.feature
        return comment

    @extend_schema(
        summary="Comment on a feature",
        parameters=[FEATURE_ID],
        request=FeatureCommentInput,
        responses={201: FeatureCommentOutput},
    )
    def create(self, request: Request, workspace_slug: str, feature_id: str) -> Response:
        body = self.validated(FeatureCommentInput)["body"]
        comment = services.feature_comment_create(feature=self.feature, actor=request.user, body=body)
        return self.render(comment, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a feature's comment",
        parameters=[FEATURE_ID, COMMENT_ID],
        request=FeatureCommentInput,
        responses=FeatureCommentOutput,
    )
    def partial_update(self, request: Request, workspace_slug: str, feature_id: str, pk: str) -> Response:
        comment = self.get_object()
        body = self.validated(FeatureCommentInput)["body"]
        comment = services.feature_comment_update(comment=comment, actor=request.user, body=body)
        return self.render(comment)

    @extend_schema(
        summary="Delete a feature's comment", parameters=[FEATURE_ID, COMMENT_ID], responses={204: None}
    )
    def destroy(self, request: Request, workspace_slug: str, feature_id: str, pk: str) -> Response:
        services.feature_comment_delete(comment=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
