"""Feedback channels API: CSV upload, inbound e-mail, signed inbound webhooks and their management.

Views validate input, call a channel service and render; nothing else. The inbound
webhook endpoint is the one route outside a workspace URL: it has no session or
token, the HMAC signature authenticates it, and the webhook decides the workspace.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.feedback.filters import InboundWebhookFilter
from feedback.channels import webhooks
from feedback.channels.csv_import import FIELDS as CSV_FIELDS
from feedback.channels.csv_import import MAX_CSV_BYTES, feedback_csv_import
from feedback.channels.email import MAX_EMAIL_BYTES, feedback_from_email
from feedback.models import InboundWebhook
from productops.api.base import (
    StrictQueryParameters,
    StrictSerializer,
    TombstonesMixin,
    WorkspaceScopedAPIView,
    WorkspaceScopedViewSet,
)
from productops.api.fields import ModelOutput
from productops.api.parsers import RequestTooLarge
from productops.api.throttling import InboundWebhookThrottle
from productops.models import Role, Workspace

# Room for the multipart boundaries and the other form fields around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _check_length(request: Any, limit: int) -> None:
    """Refuse a body announced as larger than ``limit`` before reading any of it."""
    length = request.META.get("CONTENT_LENGTH")
    if length and str(length).isdigit() and int(length) > limit:
        raise RequestTooLarge(f"Request body is larger than {limit} bytes.")


# --- parsers ------------------------------------------------------------------------------


class CsvUploadParser(MultiPartParser):
    """Multipart, bounded by the CSV import's size limit (the file itself is checked again)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        _check_length(parser_context["request"], MAX_CSV_BYTES + MULTIPART_OVERHEAD_BYTES)
        return super().parse(stream, media_type, parser_context)


class RawEmailParser(BaseParser):
    """A raw RFC 822 message, returned as bytes, up to the e-mail channel's size limit."""

    media_type = "message/rfc822"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> bytes:
        _check_length(parser_context["request"], MAX_EMAIL_BYTES)
        # One byte past the limit catches bodies sent without a Content-Length.
        body = stream.read(MAX_EMAIL_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_EMAIL_BYTES:
            raise RequestTooLarge(f"Request body is larger than {MAX_EMAIL_BYTES} bytes.")
        return body


class RawTextEmailParser(RawEmailParser):
    """The same message sent as ``text/plain`` (what many mail services and ``curl`` use)."""

    media_type = "text/plain"


# --- serializers --------------------------------------------------------------------------


class CsvImportInput(StrictSerializer):
    """A CSV upload: the file and optional column mappings."""

    file = serializers.FileField(help_text=f"The CSV file, UTF-8, at most {MAX_CSV_BYTES // 2**20} MB.")
    map = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=(
            "Repeatable `header=field` column mappings, on top of the recognised header names. "
            f"Fields: {', '.join(CSV_FIELDS)}; an empty field ignores the column."
        ),
    )

    def validate_map(self, value: list[str]) -> dict[str, str]:
        mapping = {}
        for entry in value:
            header, separator, field = entry.rpartition("=")
            if not separator or not header.strip():
                raise serializers.ValidationError("Give each mapping as header=field.", code="invalid")
            mapping[header.strip()] = field.strip()
        return mapping


class CsvRowErrorOutput(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line in the file; the header is line 1.")
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    detail = serializers.CharField()


class CsvImportReportOutput(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Rows stored before (by an earlier import of them).")
    errors = CsvRowErrorOutput(many=True, help_text="Rows not stored, and why.")
    ignored_columns = serializers.ListField(child=serializers.CharField())
    companies_created = serializers.IntegerField()
    contacts_created = serializers.IntegerField()


class IngestedOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="The feedback item.")
    created = serializers.BooleanField(help_text="False when this message or delivery was stored before.")


class InboundWebhookOutput(ModelOutput):
    url = serializers.SerializerMethodField(
        help_text="Where the tool (or its relay) posts signed deliveries."
    )

    class Meta:
        model = InboundWebhook
        fields = ["id", "provider", "name", "public_id", "url", "is_active", "last_delivery_at", "created_at"]

    def get_url(self, webhook: InboundWebhook) -> str:
        path = webhooks.inbound_webhook_path(webhook)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class InboundWebhookSecretOutput(InboundWebhookOutput):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret. Shown now only (on create and rotation); store it."
    )

    class Meta(InboundWebhookOutput.Meta):
        fields = [*InboundWebhookOutput.Meta.fields, "secret"]


class InboundWebhookCreateInput(StrictSerializer):
    """A new webhook: which tool's payloads it receives, and a label."""

    provider = serializers.ChoiceField(choices=InboundWebhook.Provider.choices)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)


# --- views --------------------------------------------------------------------------------


class FeedbackCsvImportView(WorkspaceScopedAPIView):
    """Import feedback from a CSV file (multipart, field `file`).

    Valid rows are stored and invalid ones reported by line; re-importing a file
    creates nothing. A file that cannot be read as a whole (not UTF-8, no text
    column, too large, empty) is a 400 and nothing is stored.
    """

    parser_classes = [CsvUploadParser]

    @extend_schema(
        request={"multipart/form-data": CsvImportInput},
        responses={200: CsvImportReportOutput},
    )
    def post(self, request: Request, workspace_slug: str) -> Response:
        data = CsvImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = feedback_csv_import(
            workspace=self.workspace,
            actor=request.user,
            file=data.validated_data["file"],
            mapping=data.validated_data.get("map"),
        )
        return Response(CsvImportReportOutput(report).data)


class FeedbackInboundEmailView(WorkspaceScopedAPIView):
    """Store a raw e-mail (RFC 822) as feedback; a message stored before (same Message-ID) is a 200."""

    parser_classes = [RawEmailParser, RawTextEmailParser]

    @extend_schema(
        request={
            "message/rfc822": OpenApiRequest(OpenApiTypes.BINARY),
            "text/plain": OpenApiRequest(OpenApiTypes.STR),
        },
        responses={201: IngestedOutput, 200: IngestedOutput},
    )
    def post(self, request: Request, workspace_slug: str) -> Response:
        # An empty body never reaches the parser: DRF gives an empty dict.
        raw = request.data if isinstance(request.data, bytes) else b""
        item, created = feedback_from_email(workspace=self.workspace, raw=raw, actor=request.user)
        return Response(
            IngestedOutput({"id": item.pk, "created": created}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class InboundWebhookReceiveView(StrictQueryParameters, APIView):
    """Receive one signed delivery from a tool (see `feedback.channels.webhooks` for the scheme).

    No session or token: the HMAC signature over the raw body authenticates, and the
    webhook it verifies against decides the workspace. 201 for a new item, 200 with the
    same id for a repeated delivery, 401 for a bad signature or stale timestamp.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [InboundWebhookThrottle]

    @extend_schema(
        auth=[],
        parameters=[
            OpenApiParameter("public_id", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter(
                webhooks.SIGNATURE_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="`sha256=<hex>`: HMAC-SHA256 of `<timestamp>.` + the raw body under the secret.",
            ),
            OpenApiParameter(
                webhooks.TIMESTAMP_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Unix seconds when signed; more than five minutes off is refused.",
            ),
        ],
        request={"application/json": OpenApiRequest(OpenApiTypes.OBJECT)},
        responses={201: IngestedOutput, 200: IngestedOutput},
    )
    def post(self, request: Request, public_id: str) -> Response:
        # The raw bytes, not request.data: the signature covers exactly what was sent.
        _check_length(request, webhooks.MAX_WEBHOOK_BODY_BYTES)
        body = request.body
        if len(body) > webhooks.MAX_WEBHOOK_BODY_BYTES:
            raise RequestTooLarge(f"Request body is larger than {webhooks.MAX_WEBHOOK_BODY_BYTES} bytes.")
        item, created = webhooks.inbound_webhook_receive(
            public_id=public_id, body=body, headers=request.headers, now=timezone.now()
        )
        return Response(
            IngestedOutput({"id": item.pk, "created": created}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class InboundWebhookViewSet(
    TombstonesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet
):
    """Inbound webhooks of the workspace (admins). The secret is shown on create and rotation only."""

    serializer_class = InboundWebhookOutput
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filterset_class = InboundWebhookFilter
    search_fields = ["name"]
    ordering_fields = ["created_at", "last_delivery_at"]

    def get_workspace_queryset(self, workspace: Workspace) -> QuerySet:
        return webhooks.inbound_webhook_list(workspace=workspace)

    # The secret is in these frames and in the serializer's below them: error reports hide them.
    @sensitive_variables()
    def _with_secret(self, webhook: InboundWebhook, secret: str, status_code: int) -> Response:
        webhook.secret = secret  # the one place the secret is rendered
        output = InboundWebhookSecretOutput(webhook, context=self.get_serializer_context())
        return Response(output.data, status=status_code)

    @extend_schema(request=InboundWebhookCreateInput, responses={201: InboundWebhookSecretOutput})
    @sensitive_variables()
    def create(self, request: Request, workspace_slug: str) -> Response:
        data = InboundWebhookCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        webhook, secret = webhooks.inbound_webhook_create(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        return self._with_secret(webhook, secret, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InboundWebhookSecretOutput)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @sensitive_variables()
    def rotate_secret(self, request: Request, workspace_slug: str, pk: str) -> Response:
        webhook, secret = webhooks.inbound_webhook_rotate_secret(
            webhook=self.get_object(), actor=request.user
        )
        return self._with_secret(webhook, secret, status.HTTP_200_OK)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, workspace_slug: str, pk: str) -> Response:
        webhooks.inbound_webhook_delete(webhook=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
