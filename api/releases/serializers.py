"""Input and output serializers of the releases API.

Input serializers only validate shape and types; the rules (versions, dates, scope,
shipping, roles) live in ``releases.services``. Related ids are looked up inside the
request's workspace only, so another workspace's id is a field error ``does_not_exist``.
Output serializers are read-only; decimals are strings, as everywhere in the API.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.platform.serializers import UserSummary
from api.roadmap.serializers import MAX_INT, MemberField, WorkspaceRelatedField
from productops.api.base import StrictSerializer
from productops.api.fields import BlankAsNullChoiceField, ModelOutput
from releases import selectors, services
from releases.models import (
    ChangelogSettings,
    ChangeType,
    ChecklistCategory,
    ChecklistState,
    ChecklistTask,
    ChecklistTemplateItem,
    MetricActual,
    Release,
    ReleaseSettings,
    ReleaseStatus,
    ReleaseStatusChange,
    ScopeItem,
    ScopeState,
    SuccessMetric,
)
from roadmap.models import Feature, KeyResult, Product

#: The statuses ``POST .../status/`` moves a release to; shipping and cancelling have their
#: own actions. Named in ``ENUM_NAME_OVERRIDES`` (``ReleaseManualStatusEnum``).
MANUAL_STATUS_CHOICES = [(s.value, s.label) for s in ReleaseStatus if s in services.MANUAL_STATUSES]
DECIMAL = {"max_digits": 16, "decimal_places": 4}

# --- readiness and risk ---------------------------------------------------------------------


READY_HELP = "Every must-have and every required checklist task is done (or not needed)."
READINESS_HELP = "Share (0-100) of the must-haves and required checklist tasks done."
MISSING_HELP = "What is not done yet."
RISKS_HELP = "Why it is at risk (empty: it is not)."


class ReleaseHealthOutput(serializers.Serializer):
    """Readiness (what is missing) and risk (why) of a release."""

    is_ready = serializers.BooleanField(help_text=READY_HELP)
    readiness_pct = serializers.IntegerField(help_text=READINESS_HELP)
    missing = serializers.ListField(child=serializers.CharField(), help_text=MISSING_HELP)
    at_risk = serializers.BooleanField()
    risks = serializers.ListField(child=serializers.CharField(), help_text=RISKS_HELP)


class ReleaseReadinessOutput(ReleaseHealthOutput):
    must_haves = serializers.IntegerField()
    must_haves_done = serializers.IntegerField()
    required_tasks = serializers.IntegerField()
    required_tasks_done = serializers.IntegerField()
    remaining_effort = serializers.DecimalField(
        max_digits=20, decimal_places=2, help_text="Effort of the must-haves not done."
    )
    available_capacity = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        allow_null=True,
        help_text="What their teams can still build before the planned date; null when not computed.",
    )


# --- releases ---------------------------------------------------------------------------------

HEALTH_FIELDS = ["is_ready", "readiness_pct", "missing", "at_risk", "risks"]


class ReleaseOutput(ModelOutput):
    """A release with its readiness (what is missing) and risk (why)."""

    # The list view computes the health of its whole page at once and passes it in the
    # context (``health``: release id → ``ReleaseHealth``); one release alone is computed here.

    is_ready = serializers.SerializerMethodField()
    readiness_pct = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()
    at_risk = serializers.SerializerMethodField()
    risks = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "public_id",
            "product",
            "name",
            "version",
            "status",
            "status_changed_at",
            "planned_date",
            "shipped_on",
            "shipped_at",
            "owner",
            "summary",
            "is_public",
            "notes_published_at",
            "created_at",
            "updated_at",
            *HEALTH_FIELDS,
        ]
        read_only_fields = fields

    def _health(self, release: Release) -> selectors.ReleaseHealth:
        health = self.context.get("health")
        if health is None or release.pk not in health:
            # Rendered outside a view that computed it (one release): compute it now.
            workspace = self.context.get("workspace") or release.workspace
            health = selectors.release_health(workspace=workspace, releases=[release])
            self.context["health"] = {**(self.context.get("health") or {}), **health}
        return self.context["health"][release.pk]

    @extend_schema_field(serializers.BooleanField(help_text=READY_HELP))
    def get_is_ready(self, release: Release) -> bool:
        return self._health(release).is_ready

    @extend_schema_field(serializers.IntegerField(help_text=READINESS_HELP))
    def get_readiness_pct(self, release: Release) -> int:
        return self._health(release).readiness_pct

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), help_text=MISSING_HELP))
    def get_missing(self, release: Release) -> list[str]:
        return list(self._health(release).missing)

    @extend_schema_field(serializers.BooleanField())
    def get_at_risk(self, release: Release) -> bool:
        return self._health(release).at_risk

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), help_text=RISKS_HELP))
    def get_risks(self, release: Release) -> list[str]:
        return list(self._health(release).risks)


class ReleaseUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    version = serializers.CharField(
        max_length=64,
        help_text="By the product's scheme (1.4.2, or 2027.03); unique in the product and greater than "
        "its last released version (of the same major line, for SemVer).",
    )
    planned_date = serializers.DateField(
        required=False, allow_null=True, help_text="Not in the past when the release is created."
    )
    owner = MemberField(required=False, allow_null=True)
    summary = serializers.CharField(
        required=False, allow_blank=True, help_text="Customer-facing, plain text."
    )
    is_public = serializers.BooleanField(
        required=False, help_text="On the public changelog once shipped (default true)."
    )


class ReleaseCreateInput(ReleaseUpdateInput):
    product = WorkspaceRelatedField(Product)


class ReleaseStatusInput(StrictSerializer):
    status = serializers.ChoiceField(
        choices=MANUAL_STATUS_CHOICES, help_text="Ship and cancel with their own actions."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReleaseCancelInput(StrictSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ReleaseShipInput(StrictSerializer):
    force = serializers.BooleanField(
        default=False, help_text="Ship with unfinished must-haves (admins, with a reason; audited)."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    move_unfinished_to = WorkspaceRelatedField(
        Release,
        required=False,
        allow_null=True,
        help_text="Another open release of the product for the unfinished scope; null: back to the backlog.",
    )


class ReleaseStatusChangeOutput(ModelOutput):
    from_status = BlankAsNullChoiceField(
        choices=ReleaseStatus.choices, read_only=True, help_text="null for the release's creation."
    )
    to_status = serializers.ChoiceField(choices=ReleaseStatus.choices, read_only=True)
    actor = UserSummary(read_only=True, allow_null=True)

    class Meta:
        model = ReleaseStatusChange
        fields = ["id", "from_status", "to_status", "reason", "actor", "created_at"]
        read_only_fields = fields


class FeatureReferenceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class MovedFeatureOutput(FeatureReferenceOutput):
    to_release = serializers.IntegerField(
        allow_null=True, help_text="The release it moved to; null: back to the backlog."
    )


class ShipPlanOutput(serializers.Serializer):
    """What shipping the release would do now."""

    ship = FeatureReferenceOutput(many=True, help_text="The done features that ship, dependencies first.")
    must_haves_unfinished = FeatureReferenceOutput(
        many=True, help_text="They block shipping (unless an admin forces it)."
    )
    nice_to_haves_unfinished = FeatureReferenceOutput(many=True, help_text="They move out when it ships.")
    dependencies_unshipped = FeatureReferenceOutput(
        many=True, help_text="Unshipped features outside the release the done ones depend on: they block it."
    )
    notes_generated = serializers.BooleanField(
        help_text="No notes draft: the notes published are generated from the scope."
    )
    without_public_title = FeatureReferenceOutput(
        many=True,
        help_text="Shipping features with no customer-facing title: generated notes leave them out.",
    )


class ShipOutput(serializers.Serializer):
    release = ReleaseOutput()
    shipped = FeatureReferenceOutput(many=True, help_text="The features the release shipped.")
    moved = MovedFeatureOutput(many=True, help_text="The unfinished features, and where they went.")
    notes_generated = serializers.BooleanField()
    event = serializers.IntegerField(allow_null=True, help_text="The release.shipped event's id.")
    changed = serializers.BooleanField(help_text="False when the release had already shipped.")


# --- notes ------------------------------------------------------------------------------------


class ReleaseNotesOutput(serializers.Serializer):
    notes = serializers.CharField(help_text="The draft (Markdown).")
    published_notes = serializers.CharField(help_text="What the changelog shows (Markdown).")
    notes_html = serializers.CharField(help_text="The draft rendered to sanitised HTML.")
    published_html = serializers.CharField(help_text="The published notes rendered to sanitised HTML.")
    notes_published_at = serializers.DateTimeField(allow_null=True)
    generated = serializers.CharField(help_text="Notes generated from the scope now (Markdown).")


class ReleaseNotesInput(StrictSerializer):
    notes = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"Markdown, at most {services.MAX_NOTES} characters.",
    )


class ReleaseNotesGenerateInput(StrictSerializer):
    save = serializers.BooleanField(default=False, help_text="Also save them as the draft.")


class ReleaseNotesGeneratedOutput(serializers.Serializer):
    notes = serializers.CharField(help_text="Generated from the scope (Markdown).")
    saved = serializers.BooleanField()


class ReleaseNotesPreviewInput(StrictSerializer):
    notes = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=services.MAX_NOTES)


class ReleaseNotesPreviewOutput(serializers.Serializer):
    html = serializers.CharField(help_text="Sanitised HTML, as the changelog renders it.")


# --- scope ------------------------------------------------------------------------------------


class ScopeItemOutput(ModelOutput):
    feature_title = serializers.CharField(source="feature.title", read_only=True)

    class Meta:
        model = ScopeItem
        fields = [
            "id",
            "release",
            "feature",
            "feature_title",
            "is_must_have",
            "state",
            "change_type",
            "is_open",
            "outcome",
            "position",
            "added_at",
            "closed_at",
            "updated_at",
        ]
        read_only_fields = fields


class ScopeItemUpdateInput(StrictSerializer):
    """The delivery state (contributors); must-have, change type and position (product managers)."""

    is_must_have = serializers.BooleanField(required=False, help_text="The release does not ship without it.")
    state = serializers.ChoiceField(choices=ScopeState.choices, required=False)
    change_type = serializers.ChoiceField(choices=ChangeType.choices, required=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)


class ScopeItemCreateInput(ScopeItemUpdateInput):
    release = WorkspaceRelatedField(Release)
    feature = WorkspaceRelatedField(
        Feature, help_text="Of the release's product, unmerged, and in no other open release."
    )


class ScopeItemMoveInput(StrictSerializer):
    release = WorkspaceRelatedField(Release, help_text="Another open release of the same product.")


# --- checklists ---------------------------------------------------------------------------------


class ChecklistTaskOutput(ModelOutput):
    class Meta:
        model = ChecklistTask
        fields = [
            "id",
            "release",
            "title",
            "category",
            "owner",
            "due_date",
            "state",
            "is_required",
            "position",
            "completed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ChecklistTaskUpdateInput(StrictSerializer):
    """Owner, due date and state (contributors); title, category, required, position (product managers)."""

    title = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=ChecklistCategory.choices, required=False)
    owner = MemberField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    state = serializers.ChoiceField(choices=ChecklistState.choices, required=False)
    is_required = serializers.BooleanField(required=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)


class ChecklistTaskCreateInput(ChecklistTaskUpdateInput):
    release = WorkspaceRelatedField(Release)


class ChecklistTemplateItemOutput(ModelOutput):
    relative_due = serializers.SerializerMethodField(
        help_text='Due relative to the planned date, e.g. "-7 days", "+1 day", "0 days".'
    )

    class Meta:
        model = ChecklistTemplateItem
        fields = [
            "id",
            "title",
            "category",
            "relative_due",
            "is_required",
            "default_owner",
            "position",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_relative_due(self, item: ChecklistTemplateItem) -> str:
        return services.format_relative_due(item.due_offset_days)


class ChecklistTemplateItemInput(StrictSerializer):
    title = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=ChecklistCategory.choices, required=False)
    relative_due = serializers.CharField(
        max_length=40,
        required=False,
        help_text='Days or weeks from the planned date, within a year: "-7 days", "-2 weeks", "+1 day".',
    )
    is_required = serializers.BooleanField(required=False)
    default_owner = MemberField(required=False, allow_null=True)
    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)


# --- success metrics ------------------------------------------------------------------------------


class SuccessMetricOutput(ModelOutput):
    actual = serializers.SerializerMethodField()
    reviewed = serializers.SerializerMethodField()

    class Meta:
        model = SuccessMetric
        fields = [
            "id",
            "release",
            "feature",
            "name",
            "unit",
            "baseline",
            "target",
            "actual",
            "review_date",
            "key_result",
            "reviewed",
            "reviewed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.DecimalField(
            **DECIMAL,
            allow_null=True,
            help_text="Its key result's current value when it reads one, else the last recorded actual.",
        )
    )
    def get_actual(self, metric: SuccessMetric) -> str | None:
        value = selectors.metric_actual(metric)
        if value is None:
            return None
        return serializers.DecimalField(**DECIMAL).to_representation(Decimal(value))

    @extend_schema_field(serializers.BooleanField())
    def get_reviewed(self, metric: SuccessMetric) -> bool:
        return metric.reviewed_at is not None


class SuccessMetricUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    baseline = serializers.DecimalField(**DECIMAL)
    target = serializers.DecimalField(**DECIMAL, help_text="Differs from the baseline.")
    review_date = serializers.DateField()
    key_result = WorkspaceRelatedField(
        KeyResult, required=False, allow_null=True, help_text="Read the actual from its current value."
    )
    reviewed = serializers.BooleanField(required=False, help_text="Mark the review done (or not).")


class SuccessMetricCreateInput(StrictSerializer):
    release = WorkspaceRelatedField(Release, required=False, allow_null=True)
    feature = WorkspaceRelatedField(Feature, required=False, allow_null=True)
    name = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    baseline = serializers.DecimalField(**DECIMAL)
    target = serializers.DecimalField(**DECIMAL, help_text="Differs from the baseline.")
    review_date = serializers.DateField()
    key_result = WorkspaceRelatedField(
        KeyResult, required=False, allow_null=True, help_text="Read the actual from its current value."
    )


class MetricActualOutput(ModelOutput):
    actor = UserSummary(read_only=True, allow_null=True)

    class Meta:
        model = MetricActual
        fields = ["id", "metric", "value", "recorded_on", "note", "actor", "created_at"]
        read_only_fields = fields


class MetricActualInput(StrictSerializer):
    value = serializers.DecimalField(**DECIMAL)
    recorded_on = serializers.DateField(required=False, help_text="Default today; not in the future.")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


# --- settings ---------------------------------------------------------------------------------------


class ReleaseSettingsOutput(ModelOutput):
    class Meta:
        model = ReleaseSettings
        fields = ["risk_window_days"]
        read_only_fields = fields


class ReleaseSettingsInput(StrictSerializer):
    risk_window_days = serializers.IntegerField(
        required=False, help_text="1 to 365: a release this close with must-haves to do is at risk."
    )


class ChangelogSettingsOutput(ModelOutput):
    class Meta:
        model = ChangelogSettings
        fields = ["enabled", "title", "intro"]
        read_only_fields = fields


class ChangelogSettingsInput(StrictSerializer):
    enabled = serializers.BooleanField(required=False, help_text="Publish the workspace's public changelog.")
    title = serializers.CharField(
        required=False, allow_blank=True, help_text="At most 120 characters; blank: “<workspace> changelog”."
    )
    intro = serializers.CharField(
        required=False, allow_blank=True, help_text="Plain text above the releases, at most 2000 characters."
    )
