"""Comms API: stakeholders, subscriptions (with their digest preview and test send),
outgoing webhook endpoints (secret shown once, rotation, test event, recent deliveries),
threshold rules, the delivery log (read-only, with retry), the comms settings, and the
close-the-loop previews of a release or a feature.

Views validate input, call a service or selector and render; nothing else. The rules
(consent, schedules, URLs that may be posted to, roles) are the services'; their errors
render through the one exception handler.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api import examples
from api.comms.filters import (
    DeliveryFilter,
    StakeholderFilter,
    SubscriptionFilter,
    ThresholdFilter,
    WebhookEndpointFilter,
)
from api.comms.serializers import (
    FOLLOWS_FIELDS,
    MAX_PREVIEW_DAYS,
    CommsSettingsInput,
    CommsSettingsOutput,
    DeliveryDetailOutput,
    DeliveryOutput,
    DigestPeriodQuery,
    DigestPreviewOutput,
    FeatureLoopPreviewOutput,
    FeatureLoopPreviewQuery,
    LoopPreviewOutput,
    StakeholderCreateInput,
    StakeholderOutput,
    StakeholderUpdateInput,
    SubscriptionCreateInput,
    SubscriptionOutput,
    SubscriptionUpdateInput,
    ThresholdCreateInput,
    ThresholdOutput,
    WebhookEndpointCreateInput,
    WebhookEndpointOutput,
    WebhookEndpointSecretOutput,
    WebhookEndpointUpdateInput,
)
from comms import digests, loop, selectors, services, webhooks
from comms.models import Stakeholder, WebhookEndpoint
from productops.api.base import (
    TombstonesMixin,
    WorkspaceResourceViewSet,
    WorkspaceScopedAPIView,
    WorkspaceScopedViewSet,
)
from productops.api.schema import ERROR_DESCRIPTIONS, ErrorOutput
from productops.errors import NotFound
from productops.models import Role, Workspace
from productops.outbox import selectors as outbox_selectors
from productops.outbox import services as outbox_services
from productops.outbox.models import Delivery
from releases import selectors as release_selectors
from releases.models import Release
from roadmap import selectors as roadmap_selectors
from roadmap.models import Feature, Goal, Initiative, Product

#: ``follows.type`` → the model whose row of the workspace it names.
FOLLOWS_MODELS: dict[str, type[Model]] = {
    "product": Product,
    "goal": Goal,
    "initiative": Initiative,
    "feature": Feature,
    "release": Release,
}
NOT_FOUND_IN_BODY = OpenApiResponse(
    ErrorOutput,
    description=ERROR_DESCRIPTIONS["404"] + " Also when the body names another workspace's object.",
)


PERIOD_PARAMETERS = [
    OpenApiParameter(
        "since",
        OpenApiTypes.DATETIME,
        description=f"ISO 8601: report from this time (at most {MAX_PREVIEW_DAYS} days before until).",
    ),
    OpenApiParameter(
        "until", OpenApiTypes.DATETIME, description="ISO 8601: report up to this time (default now)."
    ),
]


def _period(request: Request) -> dict[str, Any]:
    query = DigestPeriodQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def _in_workspace(model: type[Model], workspace: Workspace, pk: int, attr: str) -> Any:
    """The row ``pk`` of ``model`` in ``workspace``; anything else is a 404 naming ``attr``."""
    row = model.objects.for_workspace(workspace).filter(pk=pk).first()
    if row is None:
        raise NotFound("Not found.", attr=attr)
    return row


# --- stakeholders ---------------------------------------------------------------------------------


class StakeholderViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Who is told: workspace members, external addresses and customer contacts, each with
    an audience (executive, sales, support, marketing, engineering, customer). Members read
    them; product managers manage them."""

    serializer_class = StakeholderOutput
    # People's addresses and what they follow: product managers and up, as in the portal.
    read_role = Role.PRODUCT_MANAGER
    write_role = Role.PRODUCT_MANAGER
    query_parameters = {"digest_preview": {"since", "until"}}
    filterset_class = StakeholderFilter
    search_fields = ["name", "email"]
    ordering_fields = ["name", "email", "created_at", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.stakeholders_list(workspace=workspace)

    @extend_schema(
        request=StakeholderCreateInput,
        responses={201: StakeholderOutput},
        examples=[examples.STAKEHOLDER_REQUEST, examples.STAKEHOLDER_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Add a stakeholder (confirmed at once: the team made it)."""
        stakeholder = services.stakeholder_create(
            workspace=self.workspace, actor=request.user, data=self.validated(StakeholderCreateInput)
        )
        return self.render(stakeholder, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=StakeholderUpdateInput, responses=StakeholderOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        stakeholder = services.stakeholder_update(
            stakeholder=self.get_object(),
            actor=request.user,
            data=self.validated(StakeholderUpdateInput, partial=True),
        )
        return self.render(stakeholder)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Delete a stakeholder and their subscriptions; the delivery log keeps what they were sent."""
        services.stakeholder_delete(stakeholder=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=DigestPreviewOutput)
    @action(detail=True, methods=["get"], url_path="digest-preview", filter_backends=[])
    def digest_preview(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The digest this stakeholder would get for a period (default: the last seven days),
        through their first active digest subscription, else as if they followed the whole
        workspace; product managers (an executive's digest shows ARR). Nothing is sent or stored."""
        stakeholder = self.get_object()
        period = _period(request)
        until = period.get("until") or timezone.now()
        preview = digests.digest_preview_for(
            stakeholder=stakeholder,
            actor=request.user,
            since=period.get("since") or until - timedelta(days=7),
            until=until,
        )
        return Response(DigestPreviewOutput(preview).data)


# --- subscriptions --------------------------------------------------------------------------------


class SubscriptionViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """What a stakeholder follows (the workspace, a product, goal, initiative, feature or
    release), through which channel (e-mail or Slack) and how often (immediately, daily or
    weekly digests at a local hour). Members read them; product managers manage them, and
    preview digests (an executive's shows ARR)."""

    serializer_class = SubscriptionOutput
    # People's addresses and what they follow: product managers and up, as in the portal.
    read_role = Role.PRODUCT_MANAGER
    write_role = Role.PRODUCT_MANAGER
    query_parameters = {"digest_preview": {"since", "until"}}
    filterset_class = SubscriptionFilter
    ordering_fields = ["created_at", "updated_at", "next_due_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return selectors.subscriptions_list(workspace=workspace)

    def _follows(self, follows: dict[str, Any]) -> dict[str, Any]:
        """The followed object as the service takes it; another workspace's is a 404."""
        kind, pk = follows["type"], follows.get("id")
        if kind == "workspace":
            if pk is not None and pk != self.workspace.pk:
                raise NotFound("Not found.", attr="follows")
            return {FOLLOWS_FIELDS[kind]: self.workspace}
        return {FOLLOWS_FIELDS[kind]: _in_workspace(FOLLOWS_MODELS[kind], self.workspace, pk, "follows")}

    @extend_schema(
        request=SubscriptionCreateInput,
        responses={201: SubscriptionOutput, 404: NOT_FOUND_IN_BODY},
        examples=[examples.SUBSCRIPTION_REQUEST, examples.SUBSCRIPTION_RESPONSE],
    )
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Subscribe a stakeholder to one thing. A stakeholder or followed object of another
        workspace is a 404."""
        values = dict(self.validated(SubscriptionCreateInput))
        stakeholder = _in_workspace(Stakeholder, self.workspace, values.pop("stakeholder"), "stakeholder")
        target = self._follows(values.pop("follows"))
        subscription = services.subscription_create(
            workspace=self.workspace,
            actor=request.user,
            data={**values, "stakeholder": stakeholder, **target},
        )
        return self.render(subscription, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=SubscriptionUpdateInput, responses=SubscriptionOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        subscription = services.subscription_update(
            subscription=self.get_object(),
            actor=request.user,
            data=self.validated(SubscriptionUpdateInput, partial=True),
        )
        return self.render(subscription)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        services.subscription_delete(subscription=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=DigestPreviewOutput)
    @action(detail=True, methods=["get"], url_path="digest-preview", filter_backends=[])
    def digest_preview(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The digest this subscription would get now, for the period since its last one, or
        for any period (``since``, ``until``); product managers (an executive's digest shows
        ARR). Nothing is sent or stored."""
        subscription = self.get_object()
        period = _period(request)
        if "since" in period:
            preview = digests.digest_preview_for(
                stakeholder=subscription.stakeholder,
                subscription=subscription,
                actor=request.user,
                since=period["since"],
                until=period.get("until") or timezone.now(),
            )
        else:
            preview = digests.digest_preview(
                subscription=subscription, actor=request.user, until=period.get("until")
            )
        return Response(DigestPreviewOutput(preview).data)

    @extend_schema(request=None, responses={201: DeliveryDetailOutput})
    @action(detail=True, methods=["post"], url_path="send-test", filter_backends=[])
    def send_test(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Send this subscription's digest, as it would be now, to yourself (by e-mail); the
        delivery is in the log as comms.digest_test."""
        subscription = self.get_object()
        delivery = digests.digest_send_test(subscription=subscription, actor=request.user)
        return Response(DeliveryDetailOutput(delivery).data, status=status.HTTP_201_CREATED)


# --- webhook endpoints ----------------------------------------------------------------------------


class WebhookEndpointViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Where the workspace's events are posted (admins): signed with Standard Webhooks
    headers, or as Slack messages. The secret is shown on create and rotation only."""

    serializer_class = WebhookEndpointOutput
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    conflict_actions = {"send_test"}
    filterset_class = WebhookEndpointFilter
    search_fields = ["name", "url"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return webhooks.webhook_endpoints_list(workspace=workspace)

    # The secret is in these frames and in the serializer's below them: error reports hide them.
    @sensitive_variables()
    def _with_secret(self, endpoint: WebhookEndpoint, secret: str, status_code: int) -> Response:
        endpoint = self.reloaded(endpoint)
        endpoint.secret = secret  # the one place the secret is rendered
        output = WebhookEndpointSecretOutput(endpoint, context=self.get_serializer_context())
        return Response(output.data, status=status_code)

    @extend_schema(
        request=WebhookEndpointCreateInput,
        responses={201: WebhookEndpointSecretOutput},
        examples=[examples.WEBHOOK_ENDPOINT_REQUEST, examples.WEBHOOK_ENDPOINT_RESPONSE],
    )
    @sensitive_variables()
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Add an endpoint; the answer carries its signing secret, shown this once."""
        endpoint, secret = webhooks.webhook_endpoint_create(
            workspace=self.workspace, actor=request.user, data=self.validated(WebhookEndpointCreateInput)
        )
        return self._with_secret(endpoint, secret, status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdateInput, responses=WebhookEndpointOutput)
    def partial_update(self, request: Request, workspace_slug: str, pk: str) -> Response:
        endpoint = webhooks.webhook_endpoint_update(
            endpoint=self.get_object(),
            actor=request.user,
            data=self.validated(WebhookEndpointUpdateInput, partial=True),
        )
        return self.render(endpoint)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Delete an endpoint; nothing more is posted to it (its delivery log stays)."""
        webhooks.webhook_endpoint_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WebhookEndpointSecretOutput)
    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=[])
    @sensitive_variables()
    def rotate_secret(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """A new signing secret, shown this once; the previous one keeps signing too (a second
        signature) until previous_secret_expires_at, so receivers can switch over."""
        endpoint = self.get_object()
        endpoint, secret = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
        return self._with_secret(endpoint, secret, status.HTTP_200_OK)

    @extend_schema(request=None, responses={201: DeliveryDetailOutput})
    @action(detail=True, methods=["post"], url_path="send-test", filter_backends=[])
    def send_test(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Post a webhook.test event to the endpoint (through the outbox, signed as any other);
        an inactive endpoint is a 409 endpoint_inactive."""
        endpoint = self.get_object()
        delivery = webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=request.user)
        return Response(DeliveryDetailOutput(delivery).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=DeliveryOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """The endpoint's deliveries, newest first, paginated (the delivery log's rows for it)."""
        endpoint = self.get_object()
        rows = outbox_selectors.deliveries_for_workspace(
            workspace=self.workspace, recipient_ref=f"endpoint:{endpoint.pk}"
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(DeliveryOutput(page, many=True).data)


# --- thresholds -----------------------------------------------------------------------------------


class ThresholdViewSet(TombstonesMixin, WorkspaceResourceViewSet):
    """Threshold rules (admins): a feature passing N requesting companies or X ARR at stake
    raises a feature.threshold_crossed event, once per crossing (it re-arms after a full day
    below). Rules are created and deleted, never changed."""

    serializer_class = ThresholdOutput
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filterset_class = ThresholdFilter
    ordering_fields = ["metric", "value", "created_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return webhooks.thresholds_list(workspace=workspace)

    @extend_schema(request=ThresholdCreateInput, responses={201: ThresholdOutput})
    def create(self, request: Request, workspace_slug: str) -> Response:
        """Add a rule, e.g. "companies >= 5" or "arr >= 250k"."""
        threshold = webhooks.threshold_create(
            workspace=self.workspace, actor=request.user, rule=self.validated(ThresholdCreateInput)["rule"]
        )
        return self.render(threshold, status_code=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        webhooks.threshold_delete(threshold=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- deliveries -----------------------------------------------------------------------------------


class DeliveryViewSet(WorkspaceResourceViewSet):
    """The delivery log: every message to every recipient through every channel, with its
    state, attempts and error (product managers: bodies can show ARR). The list leaves out
    the stored content; a delivery's detail has exactly what was (or will be) sent."""

    serializer_class = DeliveryOutput
    read_role = Role.PRODUCT_MANAGER
    write_role = Role.PRODUCT_MANAGER
    conflict_actions = {"retry"}
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "sent_at", "next_attempt_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return outbox_selectors.deliveries_for_workspace(workspace=workspace)

    def _detail(self, pk: str) -> Delivery:
        delivery = outbox_selectors.delivery_detail(workspace=self.workspace, delivery_id=_id(pk))
        if delivery is None:
            raise NotFound("Not found.")
        return delivery

    @extend_schema(responses=DeliveryDetailOutput)
    def retrieve(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """A delivery with its stored content: subject, text, HTML, payload and headers."""
        return Response(DeliveryDetailOutput(self._detail(pk)).data)

    @extend_schema(request=None, responses=DeliveryOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def retry(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Send a failed delivery again (its stored content, fresh attempts, due now); any
        other state is a 409 not_failed."""
        delivery = self.get_object()
        delivery = outbox_services.delivery_retry(delivery=delivery, actor=request.user)
        return self.render(delivery)


def _id(pk: str) -> int:
    """A path id as a primary key; anything that cannot be one is not found."""
    if not pk.isascii() or not pk.isdigit() or not 0 < int(pk) < 2**63:
        raise NotFound("Not found.")
    return int(pk)


# --- settings -------------------------------------------------------------------------------------


class CommsSettingsView(WorkspaceScopedAPIView):
    """The workspace's comms settings (one row): consent for imported contacts and how many
    rank moves digests explain. Members read them; admins change them."""

    write_role = Role.ADMIN

    @extend_schema(responses=CommsSettingsOutput)
    def get(self, request: Request, workspace_slug: str) -> Response:
        """Read the comms settings."""
        return Response(CommsSettingsOutput(selectors.comms_settings(workspace=self.workspace)).data)

    @extend_schema(request=CommsSettingsInput, responses=CommsSettingsOutput)
    def patch(self, request: Request, workspace_slug: str) -> Response:
        """Change the comms settings (admins)."""
        data = CommsSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        row = services.comms_settings_update(
            workspace=self.workspace, actor=request.user, data=data.validated_data
        )
        return Response(CommsSettingsOutput(row).data)


# --- close the loop -------------------------------------------------------------------------------


class ReleaseLoopPreviewViewSet(WorkspaceScopedViewSet):
    """Who shipping a release will tell (product managers)."""

    serializer_class = LoopPreviewOutput
    read_role = Role.PRODUCT_MANAGER

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Release.objects.none()
        return super().get_queryset()

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return release_selectors.release_list(workspace=workspace)

    @extend_schema(responses=LoopPreviewOutput)
    @action(detail=True, methods=["get"], url_path="loop-preview", filter_backends=[])
    def loop_preview(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Who will be told when this release ships: each contact who asked for a feature in
        it, once, with what they asked for, and who is left out and why (consent, unsubscribed,
        do-not-contact). Nothing is sent or stored."""
        release = self.get_object()
        preview = loop.loop_preview_for_release(release=release, actor=request.user)
        return Response(LoopPreviewOutput(preview).data)


class FeatureLoopPreviewViewSet(WorkspaceScopedViewSet):
    """Who a feature shipped or declined outside a release will tell (product managers)."""

    serializer_class = FeatureLoopPreviewOutput
    read_role = Role.PRODUCT_MANAGER
    query_parameters = {"loop_preview": {"outcome", "customer_message"}}

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return Feature.objects.none()
        return super().get_queryset()

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return roadmap_selectors.feature_list(workspace=workspace)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "outcome",
                OpenApiTypes.STR,
                enum=["shipped", "declined"],
                default="shipped",
                description="The status change to preview the notice of (default shipped).",
            ),
            OpenApiParameter(
                "customer_message",
                OpenApiTypes.STR,
                description="The customer-facing message (at most 2,000 characters); separate from "
                "the internal status reason.",
            ),
        ],
        responses=FeatureLoopPreviewOutput,
    )
    @action(detail=True, methods=["get"], url_path="loop-preview", filter_backends=[])
    def loop_preview(self, request: Request, workspace_slug: str, pk: str) -> Response:
        """Who will be told when this feature is shipped or declined outside a release, and the
        notice they will read with the customer message. Nothing is sent or stored."""
        feature = self.get_object()
        query = FeatureLoopPreviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        preview = loop.loop_preview_for_feature(
            feature=feature,
            outcome=query.validated_data["outcome"],
            customer_message=query.validated_data.get("customer_message", ""),
            actor=request.user,
        )
        return Response(FeatureLoopPreviewOutput(preview).data)
