"""Input and output serializers of the roadmap API.

Input serializers only validate shape and types; rules live in ``roadmap.services``.
Related ids are looked up inside the request's workspace only (the view passes it
in the context), so another workspace's id is a field error ``does_not_exist``.

Output serializers are read-only: no related field carries a queryset, so the
browsable API never lists another workspace's rows.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.db.models.manager import BaseManager
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.relations import MANY_RELATION_KWARGS
from rest_framework.settings import api_settings

from api.platform.serializers import UserSummary
from feedback.models import Segment
from productops.api.base import StrictSerializer
from productops.api.fields import BlankAsNullChoiceField, ModelOutput
from productops.models import User, Workspace
from productops.validation import clamp_planning_date
from releases import selectors as release_selectors
from roadmap.models import (
    Competitor,
    EffortUnit,
    Feature,
    FeatureDependency,
    FeatureStatus,
    FeatureStatusChange,
    Goal,
    Horizon,
    Initiative,
    KeyResult,
    PrioritySnapshot,
    Product,
    RoadmapSettings,
    ScorecardCriterion,
    ScoreState,
    ScoringModel,
    Tag,
    Team,
    TeamCapacity,
    VersionScheme,
)
from roadmap.selectors import CAPACITY_LISTED, CapacityFit, feature_relations

#: The largest value of a PostgreSQL integer column, and of a 64-bit id.
MAX_INT = 2**31 - 1
MAX_ID = 2**63 - 1

# --- related ids scoped to the workspace ------------------------------------------


class WorkspaceRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key looked up only among ``model``'s rows of the context's workspace."""

    def __init__(self, model: type, **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("queryset", model.objects.none())  # the schema reads the model from it
        super().__init__(**kwargs)

    def scoped(self, workspace: Workspace) -> QuerySet:
        return self.model.objects.for_workspace(workspace)

    def get_queryset(self) -> QuerySet:
        workspace = self.context.get("workspace")
        if workspace is None:
            return self.model.objects.none()
        return self.scoped(workspace)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except OverflowError:  # an id beyond 64 bits: SQLite cannot even look it up
            self.fail("does_not_exist", pk_value=data)

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> serializers.ManyRelatedField:
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({k: v for k, v in kwargs.items() if k in MANY_RELATION_KWARGS})
        return WorkspaceManyRelatedField(**list_kwargs)


class WorkspaceManyRelatedField(serializers.ManyRelatedField):
    """A list of ``WorkspaceRelatedField`` ids, looked up in one query (DRF's runs one per id).

    Ids it does not find, or cannot read as one, go through the child field one by one, so
    errors stay the child's own."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, str) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not self.allow_empty and len(data) == 0:
            self.fail("empty")
        keys = [_pk_or_none(item) for item in data]
        found = self.child_relation.get_queryset().in_bulk([k for k in keys if k is not None])
        return [
            found[key] if key in found else self.child_relation.to_internal_value(item)
            for key, item in zip(keys, data, strict=True)
        ]


def _pk_or_none(value: Any) -> int | None:
    """``value`` as a 64-bit id when it plainly is one (an int, or digits as a form sends)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
        return value
    return None


class MemberField(WorkspaceRelatedField):
    """A user id, limited to the members of the context's workspace."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(User, **kwargs)

    def scoped(self, workspace: Workspace) -> QuerySet:
        return User.objects.filter(memberships__workspace=workspace)


def _related(model: type, **kwargs: Any) -> WorkspaceRelatedField:
    return WorkspaceRelatedField(model, required=False, allow_null=True, **kwargs)


# --- products ---------------------------------------------------------------------


class ProductOutput(ModelOutput):
    personas = serializers.ListField(child=serializers.CharField(), read_only=True)
    feature_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Product
        fields = [
            "id",
            "name",
            "vision",
            "personas",
            "version_scheme",
            "feature_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    vision = serializers.CharField(required=False, allow_blank=True)
    personas = serializers.ListField(child=serializers.CharField(max_length=120), required=False)
    version_scheme = serializers.ChoiceField(
        choices=VersionScheme.choices,
        required=False,
        help_text="How its releases are numbered (default semver); fixed once it has releases (400 in_use).",
    )


# --- goals and key results --------------------------------------------------------


class KeyResultOutput(ModelOutput):
    progress = serializers.FloatField(read_only=True, help_text="Share of the way from baseline to target.")

    class Meta:
        model = KeyResult
        fields = ["id", "goal", "metric", "unit", "baseline", "target", "current", "progress", "updated_at"]
        read_only_fields = fields


class KeyResultUpdateInput(StrictSerializer):
    metric = serializers.CharField(max_length=200)
    unit = serializers.CharField(max_length=20, required=False, allow_blank=True)
    baseline = serializers.DecimalField(max_digits=16, decimal_places=4)
    target = serializers.DecimalField(max_digits=16, decimal_places=4)
    current = serializers.DecimalField(max_digits=16, decimal_places=4)


class KeyResultCreateInput(KeyResultUpdateInput):
    goal = WorkspaceRelatedField(Goal)


class GoalOutput(ModelOutput):
    key_results = KeyResultOutput(many=True, read_only=True)

    class Meta:
        model = Goal
        fields = [
            "id",
            "title",
            "description",
            "period",
            "product",
            "parent",
            "owner",
            "key_results",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GoalInput(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    period = serializers.CharField(max_length=40)
    product = _related(Product)
    parent = _related(Goal)
    owner = MemberField(required=False, allow_null=True)


# --- initiatives, teams, capacities -----------------------------------------------


class InitiativeOutput(ModelOutput):
    class Meta:
        model = Initiative
        fields = [
            "id",
            "title",
            "description",
            "goal",
            "owner",
            "investment_target_pct",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InitiativeInput(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    goal = _related(Goal)
    owner = MemberField(required=False, allow_null=True)
    investment_target_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)


class TeamOutput(ModelOutput):
    class Meta:
        model = Team
        fields = ["id", "name", "created_at"]
        read_only_fields = fields


class TeamInput(StrictSerializer):
    name = serializers.CharField(max_length=120)


class TeamCapacityOutput(ModelOutput):
    team_name = serializers.CharField(source="team.name", read_only=True)

    class Meta:
        model = TeamCapacity
        fields = ["id", "team", "team_name", "period", "starts_on", "ends_on", "capacity"]
        read_only_fields = fields


class TeamCapacityUpdateInput(StrictSerializer):
    """A period: ``YYYY-Qn``, ``YYYY-Hn`` or ``YYYY-MM`` (its dates may be left out; given,
    they must match), or a name of your own with its dates. A team's periods may not overlap."""

    period = serializers.CharField(max_length=40, help_text="e.g. 2027-Q1, 2027-H2, 2027-03 or Sprint 42.")
    starts_on = serializers.DateField(required=False, help_text="2000-01-01 to 2100-12-31.")
    ends_on = serializers.DateField(required=False, help_text="On or after starts_on.")
    capacity = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)


class TeamCapacityCreateInput(TeamCapacityUpdateInput):
    team = WorkspaceRelatedField(Team)


# --- scorecard criteria, tags, competitors ----------------------------------------


class ScorecardCriterionOutput(ModelOutput):
    class Meta:
        model = ScorecardCriterion
        fields = ["id", "key", "name", "weight", "source", "position"]
        read_only_fields = fields


class ScorecardCriterionUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=80)
    weight = serializers.DecimalField(max_digits=8, decimal_places=3)
    source = serializers.ChoiceField(choices=ScorecardCriterion.Source.choices, required=False)
    position = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)


class ScorecardCriterionCreateInput(ScorecardCriterionUpdateInput):
    key = serializers.SlugField(max_length=40)


class TagOutput(ModelOutput):
    class Meta:
        model = Tag
        fields = ["id", "name"]
        read_only_fields = fields


class CompetitorOutput(ModelOutput):
    class Meta:
        model = Competitor
        fields = ["id", "name"]
        read_only_fields = fields


# --- features -----------------------------------------------------------------------

SCORE_STATE_LABELS = {
    ScoreState.CLEAN: "clean",
    ScoreState.DIRTY: "dirty",
    ScoreState.RECOMPUTING: "recomputing",
}


class FeatureListOutput(serializers.ListSerializer):
    # A list of features: their relations are read for the whole list at once (four queries).
    # (No docstring: the schema would show it.)

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        features = list(data.all() if isinstance(data, BaseManager) else data)
        attach_relations(features)
        return [self.child.to_representation(feature) for feature in features]


def attach_relations(features: list[Feature]) -> None:
    """Set ``api_relations`` (:class:`roadmap.selectors.FeatureRelations`) on the features
    that have none yet: four queries for all of them, none when every one has them."""
    missing = [feature.pk for feature in features if getattr(feature, "api_relations", None) is None]
    if not missing:
        return
    relations = feature_relations(missing)
    for feature in features:
        if getattr(feature, "api_relations", None) is None:
            feature.api_relations = relations[feature.pk]


#: DRF output fields whose ``to_representation`` answers a value of this exact type unchanged
#: (``str(value)``, ``int(value)``…); any other type goes through the field.
_UNCHANGED = {
    serializers.CharField: str,
    serializers.ChoiceField: str,
    serializers.IntegerField: int,
    serializers.BooleanField: bool,
    serializers.FloatField: float,
}


def _iso_output(field: serializers.DateTimeField) -> bool:
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


_RELATIONS = {
    "goals": "goal_ids",
    "tags": "tag_names",
    "competitors": "competitor_names",
    "depends_on": "depends_on_ids",
}


class FeatureOutput(ModelOutput):
    # No docstring: the schema would show it. The declared fields are the contract (and the
    # schema); ``to_representation`` answers exactly what DRF's field-by-field rendering
    # would, faster: a plan built once per process reads each column by its attribute name,
    # copies the values DRF would return unchanged and asks the field only for the others
    # (dates, decimals). The relations come from roadmap.selectors.feature_relations, for
    # a whole list at once (FeatureListOutput) or for the one feature rendered.

    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    competitors = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    depends_on = serializers.SerializerMethodField(help_text="Ids of the features this one depends on.")
    score_state = serializers.SerializerMethodField()
    is_mvp = serializers.SerializerMethodField()

    class Meta:
        model = Feature
        fields = [
            "id",
            "title",
            "description",
            "public_title",
            "release_note",
            "product",
            "initiative",
            "goals",
            "status",
            "status_changed_at",
            "horizon",
            "planned_start",
            "target_date",
            "effort",
            "owner",
            "team",
            "is_mvp",
            "is_public",
            "merged_into",
            "tags",
            "competitors",
            "depends_on",
            "reach",
            "impact",
            "confidence_pct",
            "ice_impact",
            "ice_confidence",
            "ice_ease",
            "business_value",
            "time_criticality",
            "risk_reduction",
            "job_size",
            "value",
            "score_rice",
            "score_ice",
            "score_wsjf",
            "score_value_effort",
            "score_customer_impact",
            "requesting_companies",
            "arr_at_stake",
            "critical_requests",
            "score_scorecard",
            "priority_score",
            "priority_rank",
            "score_state",
            "scores_computed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        list_serializer_class = FeatureListOutput

    _plan: ClassVar[list[tuple[str, str, Any, Any]] | None] = None

    @classmethod
    def plan(cls) -> list[tuple[str, str, Any, Any]]:
        """(output name, how, attribute or relation, field) per field, in the fields' order."""
        if cls._plan is None:
            plan = []
            for name, bound in cls().fields.items():
                if name in _RELATIONS:
                    plan.append((name, "relation", _RELATIONS[name], None))
                elif isinstance(bound, serializers.SerializerMethodField):
                    plan.append((name, "method", bound.method_name, None))
                elif isinstance(bound, serializers.PrimaryKeyRelatedField):
                    plan.append((name, "id", Feature._meta.get_field(bound.source).attname, None))
                elif type(bound) is serializers.DateTimeField and _iso_output(bound):
                    plan.append((name, "datetime", bound.source, bound))
                elif type(bound) is BlankAsNullChoiceField:
                    plan.append((name, "blank_as_null", bound.source, bound))
                else:
                    plan.append((name, "value", bound.source, bound))
            cls._plan = plan
        return cls._plan

    def to_representation(self, feature: Feature) -> dict[str, Any]:
        attach_relations([feature])
        relations = feature.api_relations
        answer: dict[str, Any] = {}
        for name, how, source, bound in self.plan():
            if how == "relation":
                answer[name] = list(getattr(relations, source))
                continue
            if how == "method":
                answer[name] = getattr(self, source)(feature)
                continue
            value = getattr(feature, source)
            if how == "id" or value is None:
                answer[name] = value
            elif how == "blank_as_null" and type(value) is str:
                answer[name] = value or None
            elif how == "datetime" and value.tzinfo is UTC and timezone.get_current_timezone_name() == "UTC":
                # What DateTimeField answers for an aware UTC value in UTC, without its
                # time zone conversion (a third of this method's time).
                text = value.isoformat()
                answer[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
            elif type(value) is _UNCHANGED.get(type(bound)):
                answer[name] = value
            else:
                answer[name] = bound.to_representation(value)
        return answer

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_depends_on(self, feature: Feature) -> list[int]:
        attach_relations([feature])
        return list(feature.api_relations.depends_on_ids)

    @extend_schema_field(serializers.ChoiceField(choices=list(SCORE_STATE_LABELS.values())))
    def get_score_state(self, feature: Feature) -> str:
        return SCORE_STATE_LABELS[ScoreState(feature.score_state)]

    @extend_schema_field(
        {
            "type": "boolean",
            "readOnly": True,
            "deprecated": True,
            "description": "Deprecated (read-only): true when the feature is a must-have of its open "
            "release. Set it on the release's scope item (`scope-items/`, `is_must_have`).",
        }
    )
    def get_is_mvp(self, feature: Feature) -> bool:
        # The list's queryset annotates it (one subquery); a feature rendered without it asks once.
        value = getattr(feature, "is_mvp", None)
        if value is None:
            value = (
                Feature.objects.filter(pk=feature.pk)
                .filter(release_selectors.feature_is_must_have())
                .exists()
            )
        return bool(value)


class FeatureSummary(ModelOutput):
    """A feature on a card: only its own columns, so any queryset renders without joins."""

    class Meta:
        model = Feature
        fields = [
            "id",
            "title",
            "status",
            "horizon",
            "product",
            "team",
            "effort",
            "planned_start",
            "target_date",
            "priority_score",
            "priority_rank",
        ]
        read_only_fields = fields


class FeatureInput(StrictSerializer):
    """Every field of ``services.FEATURE_FIELDS`` plus goals, tags and competitors."""

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    product = WorkspaceRelatedField(Product)
    initiative = _related(Initiative)
    horizon = BlankAsNullChoiceField(
        choices=Horizon.choices, required=False, help_text='null when unscheduled ("" is a deprecated alias).'
    )
    planned_start = serializers.DateField(required=False, allow_null=True)
    target_date = serializers.DateField(required=False, allow_null=True)
    effort = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, allow_null=True)
    owner = MemberField(required=False, allow_null=True)
    team = _related(Team)
    is_public = serializers.BooleanField(required=False)
    public_title = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Customer-facing title (release notes)."
    )
    release_note = serializers.CharField(
        required=False, allow_blank=True, help_text="Customer-facing note for the release notes (Markdown)."
    )
    reach = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False, allow_null=True)
    impact = serializers.DecimalField(max_digits=4, decimal_places=2, required=False, allow_null=True)
    confidence_pct = serializers.IntegerField(min_value=0, max_value=100, required=False, allow_null=True)
    ice_impact = serializers.IntegerField(min_value=1, max_value=10, required=False, allow_null=True)
    ice_confidence = serializers.IntegerField(min_value=1, max_value=10, required=False, allow_null=True)
    ice_ease = serializers.IntegerField(min_value=1, max_value=10, required=False, allow_null=True)
    business_value = serializers.IntegerField(min_value=1, max_value=20, required=False, allow_null=True)
    time_criticality = serializers.IntegerField(min_value=1, max_value=20, required=False, allow_null=True)
    risk_reduction = serializers.IntegerField(min_value=1, max_value=20, required=False, allow_null=True)
    job_size = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, allow_null=True)
    value = serializers.IntegerField(min_value=1, max_value=10, required=False, allow_null=True)
    goals = WorkspaceRelatedField(Goal, many=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    competitors = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=50
    )


class FeatureMergeInput(StrictSerializer):
    into = WorkspaceRelatedField(Feature, help_text="The feature that survives.")


class FeatureStatusInput(StrictSerializer):
    status = serializers.ChoiceField(choices=FeatureStatus.choices)
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Internal: customers never see it."
    )
    customer_message = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Shipped or declined outside a release: what the customers who asked for it are told "
        "(preview it with GET .../features/{id}/loop-preview/).",
    )


class ReleaseReferenceOutput(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    version = serializers.CharField(read_only=True)


class FeatureStatusContextOutput(serializers.Serializer):
    # Not read-only: the schema lists read-only fields as required, and this one is optional.
    release = ReleaseReferenceOutput(
        required=False, help_text="Set when shipping this release changed the status."
    )


class FeatureStatusChangeOutput(ModelOutput):
    # One enum component for the status wherever it appears (ENUM_NAME_OVERRIDES in settings).
    from_status = BlankAsNullChoiceField(
        choices=FeatureStatus.choices, read_only=True, help_text="null for the feature's creation."
    )
    to_status = serializers.ChoiceField(choices=FeatureStatus.choices, read_only=True)
    actor = UserSummary(read_only=True, allow_null=True)
    context = FeatureStatusContextOutput(
        read_only=True, help_text="What made the change when it was not a person's edit; {} when it was."
    )

    class Meta:
        model = FeatureStatusChange
        fields = [
            "id",
            "from_status",
            "to_status",
            "reason",
            "customer_message",
            "actor",
            "context",
            "created_at",
        ]
        read_only_fields = fields


class PrioritySnapshotOutput(ModelOutput):
    class Meta:
        model = PrioritySnapshot
        fields = ["score", "rank", "scoring_model", "computed_at"]
        read_only_fields = fields


class FeatureDependencyInput(StrictSerializer):
    depends_on = WorkspaceRelatedField(Feature)


class FeatureDependencyOutput(ModelOutput):
    class Meta:
        model = FeatureDependency
        fields = ["feature", "depends_on", "created_at"]
        read_only_fields = fields


class CriterionValuesInput(StrictSerializer):
    values = serializers.DictField(
        child=serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True),
        help_text="Criterion key → value 0..10; null clears it.",
    )


class CriterionValuesOutput(serializers.Serializer):
    values = serializers.DictField(
        child=serializers.DecimalField(max_digits=5, decimal_places=2),
        read_only=True,
        help_text="Every manual value the feature now has, by criterion key.",
    )


class RequestingCompanyOutput(serializers.Serializer):
    """Who a customer-impact term is: a company, else a contact or anonymous feedback."""

    company_id = serializers.IntegerField(allow_null=True, help_text="Null for a contact or anonymous.")
    name = serializers.CharField()
    segment = BlankAsNullChoiceField(choices=Segment.choices, allow_null=True)
    arr = serializers.DecimalField(max_digits=14, decimal_places=2)
    arr_currency = serializers.CharField(allow_null=True)


class ScoreTermOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    role = serializers.ChoiceField(choices=["multiplier", "divisor", "addend"])
    contribution = serializers.FloatField(allow_null=True, help_text="Share of the total, additive models.")
    company = RequestingCompanyOutput(
        required=False,
        allow_null=True,
        help_text="Customer impact only: who the term is; null for the summed rest.",
    )
    weight = serializers.FloatField(required=False, help_text="Scorecard only: the criterion's weight.")
    source = serializers.ChoiceField(
        choices=ScorecardCriterion.Source.choices, required=False, help_text="Scorecard only."
    )
    is_set = serializers.BooleanField(
        required=False, help_text="Scorecard only: false for a manual criterion without a value."
    )


class ScoreModelBreakdownOutput(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    formula = serializers.CharField()
    terms = ScoreTermOutput(many=True)
    requesting_companies = serializers.IntegerField(required=False, help_text="Customer impact only.")


class ScoreBreakdownOutput(serializers.Serializer):
    """Documents ``priority.selectors.feature_score_breakdown``; the view returns its dict as is."""

    feature_id = serializers.IntegerField()
    scoring_model = serializers.ChoiceField(choices=ScoringModel.choices)
    score = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)
    computed_at = serializers.DateTimeField(allow_null=True)
    models = serializers.DictField(child=ScoreModelBreakdownOutput(), help_text="By scoring model.")


# --- roadmap settings ---------------------------------------------------------------


class RoadmapSettingsOutput(ModelOutput):
    importance_weights = serializers.DictField(child=serializers.FloatField(), read_only=True)
    segment_weights = serializers.DictField(child=serializers.FloatField(), read_only=True)

    class Meta:
        model = RoadmapSettings
        fields = [
            "scoring_model",
            "effort_unit",
            "importance_weights",
            "segment_weights",
            "vote_weight",
            "recency_half_life_days",
            "customer_impact_scale",
            "last_recomputed_at",
        ]
        read_only_fields = fields


class RoadmapSettingsInput(StrictSerializer):
    scoring_model = serializers.ChoiceField(choices=ScoringModel.choices, required=False)
    effort_unit = serializers.ChoiceField(choices=EffortUnit.choices, required=False)
    # Passed to the service as sent: it parses each weight and names the bad one.
    importance_weights = serializers.DictField(
        required=False, help_text="nice_to_have / important / critical → number 0..1000."
    )
    segment_weights = serializers.DictField(
        required=False, help_text='enterprise / mid_market / smb / "" → number 0..1000.'
    )
    vote_weight = serializers.DecimalField(max_digits=6, decimal_places=3, required=False)
    recency_half_life_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    customer_impact_scale = serializers.DecimalField(max_digits=12, decimal_places=3, required=False)


# --- capacity fit -------------------------------------------------------------------


class CapacityFitQuery(serializers.Serializer):
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="A team capacity id.")


class CapacityOverflowOutput(serializers.Serializer):
    feature = FeatureSummary()
    reason = serializers.CharField()


class CapacityFitItemOutput(FeatureSummary):
    cost = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        read_only=True,
        help_text="Effort this feature puts on the period: its effort × the share of its dates inside it.",
    )

    class Meta(FeatureSummary.Meta):
        fields = [*FeatureSummary.Meta.fields, "cost"]
        read_only_fields = fields


class CapacityFitOutput(serializers.Serializer):
    """Each list holds its first 200 features (``CAPACITY_LISTED``); the ``*_total`` counts are exact."""

    capacity = TeamCapacityOutput()
    used = serializers.DecimalField(max_digits=12, decimal_places=2)
    remaining = serializers.DecimalField(max_digits=12, decimal_places=2)
    fits = serializers.SerializerMethodField()
    fits_total = serializers.SerializerMethodField()
    overflow = serializers.SerializerMethodField()
    overflow_total = serializers.SerializerMethodField()
    unscheduled = serializers.SerializerMethodField(
        help_text="The team's planned work without dates: it counts in no period."
    )
    unscheduled_total = serializers.SerializerMethodField()

    @extend_schema_field(CapacityFitItemOutput(many=True))
    def get_fits(self, fit: CapacityFit) -> list[dict]:
        rows = []
        for feature, cost in fit.fits[:CAPACITY_LISTED]:
            feature.cost = cost
            rows.append(feature)
        return CapacityFitItemOutput(rows, many=True).data

    @extend_schema_field(CapacityOverflowOutput(many=True))
    def get_overflow(self, fit: CapacityFit) -> list[dict]:
        rows = [{"feature": feature, "reason": reason} for feature, reason in fit.overflow[:CAPACITY_LISTED]]
        return CapacityOverflowOutput(rows, many=True).data

    @extend_schema_field(FeatureSummary(many=True))
    def get_unscheduled(self, fit: CapacityFit) -> list[dict]:
        return FeatureSummary(fit.unscheduled[:CAPACITY_LISTED], many=True).data

    @extend_schema_field(serializers.IntegerField())
    def get_fits_total(self, fit: CapacityFit) -> int:
        return len(fit.fits)

    @extend_schema_field(serializers.IntegerField())
    def get_overflow_total(self, fit: CapacityFit) -> int:
        return len(fit.overflow)

    @extend_schema_field(serializers.IntegerField())
    def get_unscheduled_total(self, fit: CapacityFit) -> int:
        return len(fit.unscheduled)


# --- roadmap views --------------------------------------------------------------------

ROADMAP_MAX_MONTHS = 36


class RoadmapQuery(serializers.Serializer):
    """The roadmap's own parameters; the feature filters are read by ``FeatureFilter``."""

    group_by = serializers.ChoiceField(choices=["horizon", "month"], default="horizon")
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["group_by"] != "month":
            return attrs
        missing = {
            name: [serializers.ErrorDetail("Required with group_by=month.", code="required")]
            for name in ("start", "end")
            if name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        # Months outside the planning range show nothing; the view clamps to it.
        start, end = clamp_planning_date(attrs["start"]), clamp_planning_date(attrs["end"])
        attrs["start"], attrs["end"] = start, end
        if end < start:
            raise serializers.ValidationError({"end": ["Must be on or after start."]}, code="invalid")
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        if months > ROADMAP_MAX_MONTHS:
            raise serializers.ValidationError(
                {"end": [f"The range covers {months} months; at most {ROADMAP_MAX_MONTHS}."]},
                code="out_of_range",
            )
        return attrs


ROADMAP_GROUP_LIMIT = 50


class RoadmapGroupOutput(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many features the group has.")
    features = FeatureSummary(many=True, help_text=f"Its first {ROADMAP_GROUP_LIMIT} by rank.")
    more = serializers.URLField(
        allow_null=True, help_text="The feature list of the whole group (paginated); null when all are here."
    )


class RoadmapByHorizonOutput(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=["horizon"])
    now = RoadmapGroupOutput()
    next = RoadmapGroupOutput()
    later = RoadmapGroupOutput()
    unscheduled = RoadmapGroupOutput()


class RoadmapMonthOutput(RoadmapGroupOutput):
    month = serializers.DateField(help_text="First day of the month.")


class RoadmapByMonthOutput(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=["month"])
    months = RoadmapMonthOutput(many=True)
