"""Input and output serializers of the platform core API.

Input serializers only validate shape and types; rules live in the services.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from productops.api.base import StrictSerializer
from productops.api.fields import ModelOutput
from productops.models import ApiToken, AuditEvent, Invitation, Membership, Role, Workspace


class UserSummary(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)


class WorkspaceOutput(ModelOutput):
    currency_rates = serializers.DictField(
        child=serializers.DecimalField(
            max_digits=20, decimal_places=10, coerce_to_string=True, normalize_output=True
        ),
        read_only=True,
        help_text="Currency → the value of one unit in the reporting currency.",
    )
    embed_origins = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Origins allowed to embed the public board and changelog in a frame (their "
        "Content-Security-Policy frame-ancestors); empty: none.",
    )

    class Meta:
        model = Workspace
        fields = [
            "id",
            "name",
            "slug",
            "reporting_currency",
            "currency_rates",
            "embed_origins",
            "created_at",
            "updated_at",
        ]


class WorkspaceCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True)


class WorkspaceUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    reporting_currency = serializers.RegexField(
        r"^[A-Z]{3}$", required=False, help_text="ISO 4217: the currency money (ARR) is added up in."
    )
    currency_rates = serializers.DictField(
        child=serializers.DecimalField(max_digits=20, decimal_places=10, min_value=0),
        required=False,
        help_text='Currency → the value of one unit in the reporting currency, e.g. {"EUR": "1.08"}. '
        "Every currency a company's ARR is in needs one.",
    )
    embed_origins = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        help_text="Origins allowed to embed the public board and changelog in a frame, at most 20, "
        'each "https://host" or "https://host:port" (no path, no wildcard); [] for none. '
        "The whole list is replaced.",
    )


class MembershipOutput(ModelOutput):
    user = UserSummary(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at", "updated_at"]


class MembershipUpdateInput(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationOutput(ModelOutput):
    invited_by = UserSummary(read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "state",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]

    def get_state(self, invitation: Invitation) -> str:
        if invitation.accepted_at:
            return "accepted"
        if invitation.revoked_at:
            return "revoked"
        if invitation.expires_at <= timezone.now():
            return "expired"
        return "pending"


class InvitationCreateInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationAcceptInput(StrictSerializer):
    token = serializers.CharField(max_length=500)


class ApiTokenOutput(ModelOutput):
    user = UserSummary(read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiToken.Scope.choices))

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]


class ApiTokenCreatedOutput(ApiTokenOutput):
    key = serializers.CharField(read_only=True, help_text="The token. Shown once; store it now.")

    class Meta(ApiTokenOutput.Meta):
        fields = [*ApiTokenOutput.Meta.fields, "key"]


class ApiTokenCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiToken.Scope.choices), allow_empty=False, max_length=2
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class AuditEventOutput(ModelOutput):
    actor = UserSummary(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "actor",
            "actor_label",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "changes",
            "created_at",
        ]
