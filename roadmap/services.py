"""Writes of the roadmap: keyword-only, transactional, validated, audited.

Any change to a scoring input marks the affected features DIRTY in the same
transaction and schedules a coalesced recompute after the commit.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from celery import current_app
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q, QuerySet, RestrictedError
from django.db.models.expressions import RawSQL
from django.utils import timezone

from productops.errors import Conflict, DomainError, Forbidden, ItemsRefused, NotFound, ValidationFailed
from productops.models import ROLE_RANK, AuditEvent, Event, Membership, Role, User, Workspace
from productops.request_id import current_request_id
from productops.services import (
    audit_deletion,
    audit_record,
    cascade_audited_register,
    constraint_errors_register,
    constraints_check,
    integrity_error,
    model_update,
    require_role,
)
from productops.services import (
    check_member as _check_member,
)
from productops.services import (
    check_same_workspace as _check_same_workspace,
)
from productops.services import (
    event_record as _event_record,
)
from productops.validation import check_planning_date
from roadmap.models import (
    COMMENT_MAX_LENGTH,
    RECOMPUTE_REQUEST_IDS_LOGGED,
    Competitor,
    Feature,
    FeatureComment,
    FeatureCriterionValue,
    FeatureDependency,
    FeatureMention,
    FeatureStatus,
    FeatureStatusChange,
    Goal,
    Horizon,
    Initiative,
    KeyResult,
    KeyResultValue,
    Product,
    RoadmapSettings,
    SavedView,
    ScorecardCriterion,
    ScoreState,
    ScoringModel,
    ShareLink,
    Tag,
    Team,
    TeamCapacity,
)
from roadmap.selectors import horizon_dates_conflict, settings_for

# A queued recompute waits this long, so a burst of triggers lands in one run.
RECOMPUTE_GATHER_SECONDS = 0.2
# How long a "recompute queued" marker may outlive a task that never ran.
RECOMPUTE_MARKER_TTL_SECONDS = 60

# Moving along the workflow one step either way needs no reason; anything else does.
STATUS_FLOW = [
    FeatureStatus.IDEA,
    FeatureStatus.UNDER_CONSIDERATION,
    FeatureStatus.PLANNED,
    FeatureStatus.IN_PROGRESS,
    FeatureStatus.SHIPPED,
]
FREE_TRANSITIONS: dict[str, set[str]] = {
    FeatureStatus.IDEA: {FeatureStatus.UNDER_CONSIDERATION, FeatureStatus.DECLINED},
    FeatureStatus.UNDER_CONSIDERATION: {FeatureStatus.IDEA, FeatureStatus.PLANNED, FeatureStatus.DECLINED},
    FeatureStatus.PLANNED: {
        FeatureStatus.UNDER_CONSIDERATION,
        FeatureStatus.IN_PROGRESS,
        FeatureStatus.DECLINED,
    },
    FeatureStatus.IN_PROGRESS: {FeatureStatus.PLANNED, FeatureStatus.SHIPPED},
    FeatureStatus.SHIPPED: set(),
    FeatureStatus.DECLINED: set(),
}
SCORING_INPUTS = {
    "effort",
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
    "status",
}
RICE_IMPACTS = {Decimal("0.25"), Decimal("0.5"), Decimal("1"), Decimal("2"), Decimal("3")}
#: Allowed (low, high) of each bounded scoring input; forms show the same bounds.
SCORE_INPUT_RANGES = {
    "confidence_pct": (0, 100),
    "ice_impact": (1, 10),
    "ice_confidence": (1, 10),
    "ice_ease": (1, 10),
    "business_value": (1, 20),
    "time_criticality": (1, 20),
    "risk_reduction": (1, 20),
    "value": (1, 10),
}


# --- shared helpers -----------------------------------------------------------


# A product's goals, a goal's key results, a team's capacities, a feature's votes and links
# go with it: audited, so the tombstones of each list see them.
cascade_audited_register(
    "roadmap.goal", "roadmap.keyresult", "roadmap.teamcapacity", "roadmap.featuredependency"
)
constraint_errors_register(
    {
        "product_name_unique": ("name", "unique", "A product with this name exists."),
        "team_name_unique": ("name", "unique", "A team with this name exists."),
        "team_capacity_period_unique": ("period", "unique", "The team already has this period."),
        "team_capacity_non_negative": ("capacity", "out_of_range", "Must be 0 or more."),
        "team_capacity_dates": ("ends_on", "invalid", "The period must end on or after its start."),
        "criterion_key_unique": ("key", "unique", "A criterion with this key exists."),
        "criterion_weight_non_negative": ("weight", "out_of_range", "Must be 0 or more."),
        "criterion_value_range": ("value", "out_of_range", "Must be between 0 and 10."),
        "roadmap_half_life_positive": ("recency_half_life_days", "out_of_range", "Must be at least 1 day."),
        "roadmap_ci_scale_positive": ("customer_impact_scale", "out_of_range", "Must be greater than 0."),
        "initiative_investment_pct_range": (
            "investment_target_pct",
            "out_of_range",
            "Must be between 0 and 100.",
        ),
        "key_result_target_differs": ("target", "invalid", "Target must differ from the baseline."),
        "goal_not_own_parent": ("parent", "cycle", "A goal cannot be nested under itself."),
        "feature_effort_positive": ("effort", "min_value", "Must be greater than zero."),
        "feature_job_size_positive": ("job_size", "min_value", "Must be greater than zero."),
        "feature_dates_ordered": ("target_date", "invalid", "The target date is before the planned start."),
        "feature_confidence_pct_range": ("confidence_pct", "out_of_range", "Must be between 0 and 100."),
        "tag_name_unique": ("tags", "unique", "A tag with this name exists."),
        "competitor_name_unique": ("competitors", "unique", "A competitor with this name exists."),
    }
)


def _full_clean(instance: models.Model, exclude: Iterable[str] = ()) -> None:
    """Model validation as a domain error naming the field: the first message of the first
    field, then each constraint (``CONSTRAINT_ERRORS``), never a constraint's name."""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=True, validate_constraints=False)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=None if field == "__all__" else field) from None
    constraints_check(instance, exclude=exclude)


def _create(*, model: type[models.Model], workspace: Workspace, actor: User | None, data: Mapping[str, Any]):
    instance = model(workspace=workspace, **data)
    # The workspace is validated too: the unique constraints are per workspace.
    _full_clean(instance)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:  # a concurrent write took the name first
        error = integrity_error(exc)
        if error is None:
            raise
        raise error from None
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=instance,
        changes={k: v for k, v in data.items() if not isinstance(v, models.Model)},
    )
    return instance


def _update(*, instance: models.Model, actor: User | None, data: Mapping[str, Any], fields: Iterable[str]):
    try:
        instance, changes = model_update(instance=instance, fields=fields, data=data)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=None if field == "__all__" else field) from None
    if changes:
        audit_record(
            workspace=instance.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=instance,
            changes={k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items()},
        )
    return instance, changes


def _plain(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


def _delete(*, instance: models.Model, actor: User | None) -> None:
    audit_deletion(workspace=instance.workspace, actor=actor, instance=instance)
    instance.delete()


# --- dirty flags and the coalesced recompute ----------------------------------

#: The priority engine's task (``priority.tasks.recompute_priorities``), sent by name: the
#: engine sits above the roadmap, which only records that scores are out of date.
RECOMPUTE_TASK = "roadmap.tasks.recompute_priorities"


def features_mark_dirty(
    *,
    workspace_id: int,
    feature_ids: Iterable[int] | QuerySet | None = None,
    schedule: bool = True,
) -> int:
    """Mark features DIRTY in the current transaction; after the commit, record that the
    workspace needs a run and (with ``schedule``) send a coalesced recompute.

    ``feature_ids=None`` marks every feature of the workspace (model or weights changed).
    The flag is written even on rows that read DIRTY: a recompute that has claimed a row
    has set it to RECOMPUTING, and only this write keeps the run from marking it CLEAN
    without the change (the run's write skips rows that are no longer RECOMPUTING).

    The request (``RoadmapSettings.recompute_requested_at`` and ``recompute_requested_seq``)
    is written right after the commit, outside the caller's transaction, so writers of a
    workspace never queue on its settings row. The dirty flags are the durable record:
    if the process dies before the request is written, beat's sweep still finds the
    features by their flag.
    """
    features = Feature.objects.filter(workspace_id=workspace_id)
    if feature_ids is not None:
        features = features.filter(pk__in=feature_ids)
    if connection.vendor == "postgresql" and (feature_ids is None or not _single(feature_ids)):
        # Several rows: take their locks in id order, as the recompute's claim does, so
        # the two never deadlock.
        list(features.order_by("id").select_for_update().values_list("id", flat=True))
    marked = features.update(score_state=ScoreState.DIRTY)

    def after_commit() -> None:
        recompute_request(workspace_id=workspace_id)
        if schedule:
            recompute_schedule(workspace_id=workspace_id)

    after_commit.__qualname__ = f"request a recompute of workspace {workspace_id}"
    transaction.on_commit(after_commit, robust=True)
    return marked


def recompute_request(*, workspace_id: int) -> None:
    """Record that the workspace needs a recompute (its own short statement).

    The run reads ``recompute_requested_seq`` before it claims features and clears
    ``recompute_requested_at`` only if the sequence has not moved since: a request
    recorded after the claim keeps the workspace requested.

    The same statement appends the current request id (``productops.request_id``) to
    ``dirty_request_ids``, once, while the list is not full, so the run that scores the
    change can name the requests it covers in its log line (``priority.recompute``).
    """
    settings_for(workspace_id)
    changes: dict[str, Any] = {
        "recompute_requested_at": timezone.now(),
        "recompute_requested_seq": F("recompute_requested_seq") + 1,
    }
    request_id = current_request_id()
    if request_id is not None:
        changes["dirty_request_ids"] = _request_id_appended(request_id)
    RoadmapSettings.objects.filter(workspace_id=workspace_id).update(**changes)


def _request_id_appended(request_id: str) -> RawSQL:
    """``dirty_request_ids`` with ``request_id`` at its end, unless it is there already or the
    list holds more than RECOMPUTE_REQUEST_IDS_LOGGED (the one past the cap says "cut")."""
    cap = RECOMPUTE_REQUEST_IDS_LOGGED
    if connection.vendor == "postgresql":
        sql = (
            "CASE WHEN jsonb_array_length(dirty_request_ids) > %s"
            " OR dirty_request_ids @> jsonb_build_array(%s::text) THEN dirty_request_ids"
            " ELSE dirty_request_ids || jsonb_build_array(%s::text) END"
        )
    else:
        sql = (
            "CASE WHEN json_array_length(dirty_request_ids) > %s OR EXISTS (SELECT 1 FROM"
            " json_each(roadmap_roadmapsettings.dirty_request_ids) WHERE value = %s)"
            " THEN dirty_request_ids ELSE json_insert(dirty_request_ids, '$[#]', %s) END"
        )
    # Constant SQL; the id and the cap are parameters.
    return RawSQL(sql, [cap, request_id, request_id], output_field=models.JSONField())  # noqa: S611


def _single(feature_ids: Iterable[int] | QuerySet) -> bool:
    return isinstance(feature_ids, list | tuple | set) and len(feature_ids) <= 1


def _schedule_key(workspace_id: int) -> str:
    return f"roadmap:recompute-scheduled:{workspace_id}"


def recompute_schedule(*, workspace_id: int) -> bool:
    """Send a recompute unless one is already queued for the workspace; True if this call sent it.

    The queued task clears the marker when it starts, before it claims dirty
    rows: a change committed before that is in its run, one committed after
    finds no marker and queues the next run. So a burst of any size costs one
    run, and nothing is left waiting. If the cache or broker is down, the dirty
    rows wait for beat's sweep; the marker expires on its own after a minute.
    """
    if not cache.add(_schedule_key(workspace_id), 1, timeout=RECOMPUTE_MARKER_TTL_SECONDS):
        return False
    current_app.send_task(RECOMPUTE_TASK, args=(workspace_id,), countdown=RECOMPUTE_GATHER_SECONDS)
    return True


def recompute_schedule_clear(*, workspace_id: int) -> None:
    """The queued recompute has started: the next change queues another one."""
    cache.delete(_schedule_key(workspace_id))


# --- settings and scorecards --------------------------------------------------


def parse_weights(value: Any, *, attr: str, keys: Iterable[str]) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValidationFailed("Must be an object of name → number.", attr=attr, code="invalid")
    allowed = set(keys)
    parsed: dict[str, float] = {}
    for key, weight in value.items():
        if key not in allowed:
            raise ValidationFailed(f"Unknown key {key!r}.", attr=f"{attr}.{key}", code="invalid_choice")
        try:
            number = float(Decimal(str(weight)))
        except (InvalidOperation, ValueError):
            raise ValidationFailed("Must be a number.", attr=f"{attr}.{key}", code="invalid") from None
        if not math.isfinite(number):
            raise ValidationFailed("Must be a finite number.", attr=f"{attr}.{key}", code="invalid")
        if number < 0 or number > 1000:
            raise ValidationFailed("Must be between 0 and 1000.", attr=f"{attr}.{key}", code="out_of_range")
        parsed[key] = number
    return parsed


#: Sane ranges of the engine's numeric settings (the form and the API show the same bounds).
SETTINGS_RANGES = {
    "recency_half_life_days": (1, 3650),
    "vote_weight": (Decimal(0), Decimal(100)),
    "customer_impact_scale": (Decimal("0.001"), Decimal(1_000_000)),
}


@transaction.atomic
def roadmap_settings_update(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> RoadmapSettings:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    settings_row = settings_for(workspace.pk)
    values = dict(data)
    if "scoring_model" in values and values["scoring_model"] not in ScoringModel.values:
        raise ValidationFailed("Unknown scoring model.", attr="scoring_model", code="invalid_choice")
    if "importance_weights" in values:
        values["importance_weights"] = {
            **settings_row.importance_weights,
            **parse_weights(
                values["importance_weights"],
                attr="importance_weights",
                keys=["nice_to_have", "important", "critical"],
            ),
        }
    if "segment_weights" in values:
        values["segment_weights"] = {
            **settings_row.segment_weights,
            **parse_weights(
                values["segment_weights"],
                attr="segment_weights",
                keys=["enterprise", "mid_market", "smb", ""],
            ),
        }
    for attr, (low, high) in SETTINGS_RANGES.items():
        if values.get(attr) is not None and not (low <= values[attr] <= high):
            raise ValidationFailed(f"Must be between {low} and {high}.", attr=attr, code="out_of_range")
    settings_row, changes = _update(
        instance=settings_row,
        actor=actor,
        data=values,
        fields=[
            "scoring_model",
            "effort_unit",
            "importance_weights",
            "segment_weights",
            "vote_weight",
            "recency_half_life_days",
            "customer_impact_scale",
        ],
    )
    if set(changes) - {"effort_unit"}:
        features_mark_dirty(workspace_id=workspace.pk)
    return settings_row


@transaction.atomic
def scorecard_criterion_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> ScorecardCriterion:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    criterion = _create(model=ScorecardCriterion, workspace=workspace, actor=actor, data=data)
    features_mark_dirty(workspace_id=workspace.pk)
    return criterion


@transaction.atomic
def scorecard_criterion_update(
    *, criterion: ScorecardCriterion, actor: User | None, data: Mapping[str, Any]
) -> ScorecardCriterion:
    require_role(workspace=criterion.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    criterion, changes = _update(
        instance=criterion, actor=actor, data=data, fields=["name", "weight", "source", "position"]
    )
    if {"weight", "source"} & set(changes):
        features_mark_dirty(workspace_id=criterion.workspace_id)
    return criterion


@transaction.atomic
def scorecard_criterion_delete(*, criterion: ScorecardCriterion, actor: User | None) -> None:
    require_role(workspace=criterion.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    workspace_id = criterion.workspace_id
    _delete(instance=criterion, actor=actor)
    features_mark_dirty(workspace_id=workspace_id)


@transaction.atomic
def feature_set_criterion_values(
    *, feature: Feature, values: Mapping[str, Any], actor: User | None
) -> list[FeatureCriterionValue]:
    """Set manual scorecard values by criterion key (0..10; ``None`` clears one)."""
    require_role(workspace=feature.workspace, user=actor, role=Role.CONTRIBUTOR)
    criteria = {c.key: c for c in ScorecardCriterion.objects.for_workspace(feature.workspace_id)}
    cleaned: dict[str, Decimal | None] = {}
    for key, raw in values.items():
        criterion = criteria.get(key)
        if criterion is None:
            raise ValidationFailed("Unknown criterion.", attr=f"values.{key}", code="invalid_choice")
        if criterion.source != ScorecardCriterion.Source.MANUAL:
            raise ValidationFailed(
                "This criterion is computed, not set.", attr=f"values.{key}", code="read_only"
            )
        if raw is None:
            cleaned[key] = None
            continue
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise ValidationFailed("Must be a number.", attr=f"values.{key}", code="invalid") from None
        if not (0 <= number <= 10):
            raise ValidationFailed("Must be between 0 and 10.", attr=f"values.{key}", code="out_of_range")
        cleaned[key] = number
    for key, number in cleaned.items():
        if number is None:
            FeatureCriterionValue.objects.filter(feature=feature, criterion=criteria[key]).delete()
        else:
            FeatureCriterionValue.objects.update_or_create(
                feature=feature,
                criterion=criteria[key],
                defaults={"value": number, "workspace_id": feature.workspace_id},
            )
    if cleaned:
        audit_record(
            workspace=feature.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=feature,
            changes={"criterion_values": {k: None if v is None else str(v) for k, v in cleaned.items()}},
        )
        features_mark_dirty(workspace_id=feature.workspace_id, feature_ids=[feature.pk])
    return list(FeatureCriterionValue.objects.filter(feature=feature).select_related("criterion"))


# --- products, goals, key results, initiatives, teams -------------------------


@transaction.atomic
def product_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Product:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    return _create(model=Product, workspace=workspace, actor=actor, data=data)


#: Callables (product) -> reason or None, registered by apps above the roadmap that number
#: things by the product's version scheme (releases): the scheme is fixed once one does.
_VERSION_SCHEME_USERS: list[Callable[[Product], str | None]] = []


def product_version_scheme_users_register(check: Callable[[Product], str | None]) -> None:
    _VERSION_SCHEME_USERS.append(check)


@transaction.atomic
def product_update(*, product: Product, actor: User | None, data: Mapping[str, Any]) -> Product:
    require_role(workspace=product.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if "version_scheme" in data and data["version_scheme"] != product.version_scheme:
        for check in _VERSION_SCHEME_USERS:
            reason = check(product)
            if reason:
                raise ValidationFailed(reason, attr="version_scheme", code="in_use")
    return _update(
        instance=product, actor=actor, data=data, fields=["name", "vision", "personas", "version_scheme"]
    )[0]


@transaction.atomic
def product_delete(*, product: Product, actor: User | None) -> None:
    require_role(workspace=product.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    count = Feature.objects.filter(product=product).count()
    if count:
        raise Conflict(f"The product still has {count} feature(s).", code="has_features")
    try:
        _delete(instance=product, actor=actor)
    except RestrictedError:  # rows of an app above the roadmap (its releases) still name it
        raise Conflict("The product still has releases.", code="has_releases") from None


def _check_goal_parent(goal: Goal | None, parent: Goal | None) -> None:
    seen = set()
    node = parent
    while node is not None:
        if goal is not None and node.pk == goal.pk:
            raise ValidationFailed("A goal cannot be nested under itself.", attr="parent", code="cycle")
        if node.pk in seen:
            break
        seen.add(node.pk)
        node = node.parent


@transaction.atomic
def goal_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Goal:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(workspace, product=data.get("product"), parent=data.get("parent"))
    _check_member(workspace, "owner", data.get("owner"))
    return _create(model=Goal, workspace=workspace, actor=actor, data=data)


@transaction.atomic
def goal_update(*, goal: Goal, actor: User | None, data: Mapping[str, Any]) -> Goal:
    require_role(workspace=goal.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(goal.workspace, product=data.get("product"), parent=data.get("parent"))
    _check_member(goal.workspace, "owner", data.get("owner"))
    if "parent" in data:
        _check_goal_parent(goal, data["parent"])
    fields = ["title", "description", "period", "product", "parent", "owner"]
    return _update(instance=goal, actor=actor, data=data, fields=fields)[0]


@transaction.atomic
def goal_delete(*, goal: Goal, actor: User | None) -> None:
    require_role(workspace=goal.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _delete(instance=goal, actor=actor)


def _check_key_result_values(data: Mapping[str, Any], instance: KeyResult | None = None) -> None:
    baseline = data.get("baseline", instance.baseline if instance else None)
    target = data.get("target", instance.target if instance else None)
    if baseline is not None and target is not None and baseline == target:
        raise ValidationFailed("Target must differ from the baseline.", attr="target", code="invalid")


@transaction.atomic
def key_result_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> KeyResult:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(workspace, goal=data.get("goal"))
    _check_key_result_values(data)
    key_result = _create(model=KeyResult, workspace=workspace, actor=actor, data=data)
    _key_result_value_record(key_result, actor)
    return key_result


def _key_result_value_record(key_result: KeyResult, actor: User | None) -> KeyResultValue:
    """A history point for the key result's current value (progress over time, digests)."""
    return KeyResultValue.objects.create(
        workspace_id=key_result.workspace_id,
        key_result=key_result,
        value=key_result.current,
        recorded_at=timezone.now(),
        actor=actor,
    )


@transaction.atomic
def key_result_update(*, key_result: KeyResult, actor: User | None, data: Mapping[str, Any]) -> KeyResult:
    require_role(workspace=key_result.workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_key_result_values(data, key_result)
    fields = ["metric", "unit", "baseline", "target", "current"]
    key_result, changes = _update(instance=key_result, actor=actor, data=data, fields=fields)
    if "current" in changes:
        _key_result_value_record(key_result, actor)
    return key_result


@transaction.atomic
def key_result_delete(*, key_result: KeyResult, actor: User | None) -> None:
    require_role(workspace=key_result.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _delete(instance=key_result, actor=actor)


@transaction.atomic
def initiative_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Initiative:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(workspace, goal=data.get("goal"))
    _check_member(workspace, "owner", data.get("owner"))
    return _create(model=Initiative, workspace=workspace, actor=actor, data=data)


@transaction.atomic
def initiative_update(*, initiative: Initiative, actor: User | None, data: Mapping[str, Any]) -> Initiative:
    require_role(workspace=initiative.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(initiative.workspace, goal=data.get("goal"))
    _check_member(initiative.workspace, "owner", data.get("owner"))
    fields = ["title", "description", "goal", "owner", "investment_target_pct"]
    return _update(instance=initiative, actor=actor, data=data, fields=fields)[0]


@transaction.atomic
def initiative_delete(*, initiative: Initiative, actor: User | None) -> None:
    require_role(workspace=initiative.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _delete(instance=initiative, actor=actor)


@transaction.atomic
def team_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Team:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    return _create(model=Team, workspace=workspace, actor=actor, data=data)


@transaction.atomic
def team_update(*, team: Team, actor: User | None, data: Mapping[str, Any]) -> Team:
    require_role(workspace=team.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    return _update(instance=team, actor=actor, data=data, fields=["name"])[0]


@transaction.atomic
def team_delete(*, team: Team, actor: User | None) -> None:
    require_role(workspace=team.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _delete(instance=team, actor=actor)


_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_HALF = re.compile(r"^(\d{4})-H([12])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
#: Labels that look like a period but are none (2027-Q5, 2027-H3, 2027-13).
_PERIOD_LIKE = re.compile(r"^\d{4}-([QH]\d+|\d{1,2})$", re.IGNORECASE)
PERIOD_MAX_LENGTH = 40


def _last_day(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def period_dates(label: str) -> tuple[str, date, date] | None:
    """A period label's normal form and dates: ``YYYY-Qn``, ``YYYY-Hn`` or ``YYYY-MM``; None
    for a free label (which needs its dates given). A label shaped like one of those but
    naming no period is refused."""
    if match := _QUARTER.match(label):
        year, quarter = int(match[1]), int(match[2])
        return f"{year}-Q{quarter}", date(year, 3 * quarter - 2, 1), _last_day(year, 3 * quarter)
    if match := _HALF.match(label):
        year, half = int(match[1]), int(match[2])
        return f"{year}-H{half}", date(year, 6 * half - 5, 1), _last_day(year, 6 * half)
    if match := _MONTH.match(label):
        year, month = int(match[1]), int(match[2])
        return f"{year}-{month:02d}", date(year, month, 1), _last_day(year, month)
    if _PERIOD_LIKE.match(label):
        raise ValidationFailed(
            "Not a period: use YYYY-Qn (n 1 to 4), YYYY-Hn (n 1 or 2), YYYY-MM, or a name of your own.",
            attr="period",
            code="invalid",
        )
    return None


def _capacity_values(
    workspace: Workspace, data: Mapping[str, Any], instance: TeamCapacity | None = None
) -> dict[str, Any]:
    """The capacity's checked values: the period's label matches its dates (a ``YYYY-Qn``,
    ``YYYY-Hn`` or ``YYYY-MM`` label gives them when they are left out; a free label needs
    them), the dates lie in the planning range, and the team has no other period
    overlapping this one."""
    values = dict(data)
    team = values.get("team", instance.team if instance else None)
    label = str(values.get("period", instance.period if instance else "") or "").strip()
    if not label:
        raise ValidationFailed("Name the period.", attr="period", code="required")
    if len(label) > PERIOD_MAX_LENGTH:
        raise ValidationFailed(f"At most {PERIOD_MAX_LENGTH} characters.", attr="period", code="max_length")
    derived = period_dates(label)
    for attr in ("starts_on", "ends_on"):
        check_planning_date(values.get(attr), attr=attr)
    if derived is not None:
        label, first, last = derived
        check_planning_date(first, attr="period")
        relabelled = instance is None or ("period" in values and label != instance.period)
        for attr, expected in (("starts_on", first), ("ends_on", last)):
            given = values.get(attr)
            if given is None and relabelled:
                values[attr] = expected  # the label says when
            elif given is not None and given != expected:
                raise ValidationFailed(
                    f"{label} runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}.",
                    attr=attr,
                    code="period_mismatch",
                )
    if "period" in values or instance is None:
        values["period"] = label
    starts = values.get("starts_on", instance.starts_on if instance else None)
    ends = values.get("ends_on", instance.ends_on if instance else None)
    for attr, value in (("starts_on", starts), ("ends_on", ends)):
        if value is None:
            raise ValidationFailed(
                "Give the dates of a period with a name of its own (or name it YYYY-Qn, YYYY-Hn or YYYY-MM).",
                attr=attr,
                code="required",
            )
    if ends < starts:
        raise ValidationFailed("The period must end on or after its start.", attr="ends_on", code="invalid")
    if team is not None:
        others = TeamCapacity.objects.filter(team=team).exclude(pk=instance.pk if instance else None)
        if others.filter(period__iexact=label).exists():
            raise ValidationFailed(f"{team.name} already has a period {label}.", attr="period", code="unique")
        overlapping = others.filter(starts_on__lte=ends, ends_on__gte=starts).order_by("starts_on").first()
        if overlapping is not None:
            raise ValidationFailed(
                f"Overlaps {overlapping.period} ({overlapping.starts_on:%Y-%m-%d} to "
                f"{overlapping.ends_on:%Y-%m-%d}) of {team.name}: a team's periods may not overlap.",
                attr="starts_on",
                code="overlap",
            )
    return values


def _save_capacity(save: Callable[[], TeamCapacity]) -> TeamCapacity:
    """Run ``save``; a concurrent overlapping period refused by PostgreSQL's exclusion
    constraint (``team_capacity_no_overlap``) is the same field error as the check's."""
    try:
        with transaction.atomic():
            return save()
    except IntegrityError as exc:
        if "team_capacity_no_overlap" in str(exc) or "team_capacity_period_unique" in str(exc):
            raise ValidationFailed(
                "Another period of this team was saved meanwhile and overlaps this one.",
                attr="starts_on",
                code="overlap",
            ) from None
        raise


@transaction.atomic
def team_capacity_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> TeamCapacity:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(workspace, team=data.get("team"))
    values = _capacity_values(workspace, data)
    return _save_capacity(lambda: _create(model=TeamCapacity, workspace=workspace, actor=actor, data=values))


@transaction.atomic
def team_capacity_update(
    *, capacity: TeamCapacity, actor: User | None, data: Mapping[str, Any]
) -> TeamCapacity:
    require_role(workspace=capacity.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    values = _capacity_values(capacity.workspace, data, capacity)
    fields = ["period", "starts_on", "ends_on", "capacity"]
    return _save_capacity(lambda: _update(instance=capacity, actor=actor, data=values, fields=fields)[0])


@transaction.atomic
def team_capacity_delete(*, capacity: TeamCapacity, actor: User | None) -> None:
    require_role(workspace=capacity.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _delete(instance=capacity, actor=actor)


# --- features -------------------------------------------------------------------

FEATURE_FIELDS = [
    "title",
    "description",
    "product",
    "initiative",
    "horizon",
    "planned_start",
    "target_date",
    "effort",
    "owner",
    "team",
    "is_public",
    "public_title",
    "release_note",
    *sorted(SCORING_INPUTS - {"status", "effort"}),
]


def _check_feature_values(
    workspace: Workspace, data: Mapping[str, Any], instance: Feature | None = None
) -> None:
    _check_same_workspace(
        workspace, product=data.get("product"), initiative=data.get("initiative"), team=data.get("team")
    )
    _check_member(workspace, "owner", data.get("owner"))
    for goal in data.get("goals") or []:
        _check_same_workspace(workspace, goals=goal)
    for field in ("effort", "job_size"):
        if data.get(field) is not None and data[field] <= 0:
            raise ValidationFailed("Must be greater than zero.", attr=field, code="min_value")
    for attr in ("planned_start", "target_date"):
        check_planning_date(data.get(attr), attr=attr)
    start = data.get("planned_start", instance.planned_start if instance else None)
    target = data.get("target_date", instance.target_date if instance else None)
    if start and target and target < start:
        raise ValidationFailed(
            "The target date is before the planned start.", attr="target_date", code="invalid"
        )
    if data.get("impact") is not None and Decimal(str(data["impact"])) not in RICE_IMPACTS:
        raise ValidationFailed(
            "RICE impact is one of 0.25, 0.5, 1, 2, 3.", attr="impact", code="invalid_choice"
        )
    for field, (low, high) in SCORE_INPUT_RANGES.items():
        if data.get(field) is not None and not (low <= data[field] <= high):
            raise ValidationFailed(f"Must be between {low} and {high}.", attr=field, code="out_of_range")


def _distinct_names(names: Iterable[str], max_length: int) -> list[str]:
    """Trimmed, truncated names without case-insensitive repeats; the first spelling wins."""
    seen: dict[str, str] = {}
    for raw in names:
        name = (raw or "").strip()[:max_length]
        if name and name.casefold() not in seen:
            seen[name.casefold()] = name
    return list(seen.values())


def _named_rows(
    model: type[Tag] | type[Competitor], workspace: Workspace, names: Iterable[str], max_length: int
):
    # One query for the names that exist and one insert for the new ones, whatever their
    # number (a lookup per name made a feature's write grow with its tags).
    wanted = _distinct_names(names, max_length)
    if not wanted:
        return []
    match = Q()
    for name in wanted:
        match |= Q(name__iexact=name)
    found: dict[str, Tag | Competitor] = {}
    for row in model.objects.filter(match, workspace=workspace).order_by("pk"):
        found.setdefault(row.name.casefold(), row)
    missing = [model(workspace=workspace, name=n) for n in wanted if n.casefold() not in found]
    created = {row.name.casefold(): row for row in model.objects.bulk_create(missing)}
    return [found.get(n.casefold()) or created[n.casefold()] for n in wanted]


def _tags(workspace: Workspace, names: Iterable[str]) -> list[Tag]:
    return _named_rows(Tag, workspace, names, Tag._meta.get_field("name").max_length)


def _competitors(workspace: Workspace, names: Iterable[str]) -> list[Competitor]:
    return _named_rows(Competitor, workspace, names, Competitor._meta.get_field("name").max_length)


def _set_relations(feature: Feature, data: Mapping[str, Any]) -> dict[str, list]:
    changes: dict[str, list] = {}
    if "goals" in data:
        feature.goals.set(data["goals"])
        changes["goals"] = sorted(g.pk for g in data["goals"])
    if "tags" in data:
        tags = _tags(feature.workspace, data["tags"])
        feature.tags.set(tags)
        changes["tags"] = sorted(t.name for t in tags)
    if "competitors" in data:
        competitors = _competitors(feature.workspace, data["competitors"])
        feature.competitors.set(competitors)
        changes["competitors"] = sorted(c.name for c in competitors)
    return changes


@transaction.atomic
def feature_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Feature:
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_feature_values(workspace, data)
    scalar = {k: v for k, v in data.items() if k in FEATURE_FIELDS}
    feature = _create(model=Feature, workspace=workspace, actor=actor, data=scalar)
    FeatureStatusChange.objects.create(
        workspace=workspace, feature=feature, from_status="", to_status=feature.status, actor=actor
    )
    relation_changes = _set_relations(feature, data)
    if relation_changes:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=feature,
            changes=relation_changes,
        )
    features_mark_dirty(workspace_id=workspace.pk, feature_ids=[feature.pk])
    return feature


@transaction.atomic
def feature_update(*, feature: Feature, actor: User | None, data: Mapping[str, Any]) -> Feature:
    require_role(workspace=feature.workspace, user=actor, role=Role.CONTRIBUTOR)
    if "status" in data:
        raise ValidationFailed("Change the status with the status action.", attr="status", code="read_only")
    _check_feature_values(feature.workspace, data, feature)
    feature, changes = _update(instance=feature, actor=actor, data=data, fields=FEATURE_FIELDS)
    relation_changes = _set_relations(feature, data)
    if relation_changes:
        audit_record(
            workspace=feature.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=feature,
            changes=relation_changes,
        )
    if SCORING_INPUTS & set(changes) or "competitors" in relation_changes:
        features_mark_dirty(workspace_id=feature.workspace_id, feature_ids=[feature.pk])
    return feature


#: What a horizon move does with planned dates that disagree with the horizon's window.
MOVE_DATES = ("keep", "clear", "shift")


@transaction.atomic
def feature_move(
    *, feature: Feature, horizon: str, actor: User | None, dates: str = "keep", today: date | None = None
) -> Feature:
    """Move ``feature`` to ``horizon`` (``now``, ``next``, ``later`` or ``""`` unscheduled).

    When its planned span lies outside the horizon's window (``selectors.horizon_window``:
    this quarter, the next, after that), ``dates`` says what happens to its dates: ``keep``
    them, ``clear`` both, or ``shift`` both by the same number of days so the span starts at
    the window (today for ``now``). Dates that agree are kept whatever ``dates`` says. One
    audit event with every changed field (via :func:`feature_update`)."""
    if horizon not in ("", *Horizon.values):
        raise ValidationFailed("Select a valid choice.", attr="horizon", code="invalid_choice")
    if dates not in MOVE_DATES:
        raise ValidationFailed("Keep, clear or shift the dates.", attr="dates", code="invalid_choice")
    data: dict[str, Any] = {"horizon": horizon}
    conflict = horizon_dates_conflict(feature, horizon, today=today or timezone.localdate())
    if conflict is not None and dates == "clear":
        data.update(planned_start=None, target_date=None)
    elif conflict is not None and dates == "shift":
        data.update(planned_start=conflict.shifted_start, target_date=conflict.shifted_target)
    return feature_update(feature=feature, actor=actor, data=data)


#: What customers who asked are told about a status change (``customer_message``).
MAX_CUSTOMER_MESSAGE = 2_000


@transaction.atomic
def feature_change_status(
    *,
    feature: Feature,
    to_status: str,
    actor: User | None,
    reason: str = "",
    context: Mapping[str, Any] | None = None,
    customer_message: str = "",
) -> Feature:
    """Move a feature along the workflow; skipping steps or leaving a final state needs a reason.

    ``context`` says what made the change when it is not a person's edit (a shipped
    release: ``{"release": {...}}``); it is kept on the history row and in the audit.
    ``customer_message`` (at most 2,000 characters) is what the customers who asked are
    told when it ships or is declined outside a release; ``reason`` stays internal. One
    ``feature.status_changed`` event is recorded in the same transaction (comms closes the
    loop and posts webhooks from it)."""
    require_role(workspace=feature.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if to_status not in FeatureStatus.values:
        raise ValidationFailed("Unknown status.", attr="status", code="invalid_choice")
    customer_message = (customer_message or "").strip()
    if len(customer_message) > MAX_CUSTOMER_MESSAGE:
        raise ValidationFailed(
            f"Ensure this field has no more than {MAX_CUSTOMER_MESSAGE} characters.",
            attr="customer_message",
            code="max_length",
        )
    feature = Feature.objects.select_for_update().get(pk=feature.pk)
    from_status = feature.status
    if to_status == from_status:
        return feature
    reason = (reason or "").strip()
    if to_status not in FREE_TRANSITIONS[from_status] and not reason:
        raise ValidationFailed(
            f"Moving from {FeatureStatus(from_status).label} to {FeatureStatus(to_status).label} "
            "skips the workflow; give a reason.",
            attr="reason",
            code="reason_required",
        )
    if to_status == FeatureStatus.SHIPPED:
        blocking = list(
            feature.depends_on.exclude(status=FeatureStatus.SHIPPED).values_list("title", flat=True)
        )
        if blocking:
            raise Conflict(f"Depends on unshipped: {', '.join(blocking)}.", code="dependencies_unshipped")
    feature.status = to_status
    feature.status_changed_at = timezone.now()
    feature.save(update_fields=["status", "status_changed_at", "updated_at"])
    change = FeatureStatusChange.objects.create(
        workspace_id=feature.workspace_id,
        feature=feature,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        actor=actor,
        context=dict(context or {}),
        customer_message=customer_message,
    )
    audit_record(
        workspace=feature.workspace,
        actor=actor,
        action=AuditEvent.Action.STATE_CHANGED,
        target=feature,
        changes={"status": [from_status, to_status], "reason": reason, **dict(context or {})},
    )
    # The internal reason is not in the event: webhooks and customer notices read it.
    _event_record(
        workspace=feature.workspace,
        kind=Event.Kind.FEATURE_STATUS_CHANGED,
        subject=feature,
        occurred_at=feature.status_changed_at,
        payload={
            "feature": {
                "id": feature.pk,
                "title": feature.title,
                "public_title": feature.public_title,
                "product_id": feature.product_id,
                "is_public": feature.is_public,
            },
            "from": from_status,
            "to": to_status,
            "release": (context or {}).get("release"),
            "customer_message": customer_message,
            "status_change_id": change.pk,
        },
    )
    features_mark_dirty(workspace_id=feature.workspace_id, feature_ids=[feature.pk])
    return feature


@transaction.atomic
def feature_delete(*, feature: Feature, actor: User | None) -> None:
    require_role(workspace=feature.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    dependants = list(
        FeatureDependency.objects.filter(depends_on=feature)
        .select_related("feature")
        .order_by("feature_id")
        .values_list("feature_id", "feature__title")
    )
    if dependants:
        raise Conflict(
            "Other features depend on this one: "
            + ", ".join(f"#{pk} {title}" for pk, title in dependants)
            + ".",
            code="has_dependants",
            extra={"dependants": [{"id": pk, "title": title} for pk, title in dependants]},
        )
    workspace_id, rank = feature.workspace_id, feature.priority_rank
    _delete(instance=feature, actor=actor)
    if rank is not None:
        # Removing a feature moves every feature ranked below it up one place.
        below = Feature.objects.filter(workspace_id=workspace_id, priority_rank__gt=rank).values("pk")
        features_mark_dirty(workspace_id=workspace_id, feature_ids=below)


def _reaches(start_id: int, target_id: int) -> bool:
    """Whether ``target`` is reachable from ``start`` following depends_on edges."""
    frontier = {start_id}
    seen: set[int] = set()
    while frontier:
        if target_id in frontier:
            return True
        seen |= frontier
        frontier = (
            set(
                FeatureDependency.objects.filter(feature_id__in=frontier).values_list(
                    "depends_on_id", flat=True
                )
            )
            - seen
        )
    return False


@transaction.atomic
def feature_add_dependency(*, feature: Feature, depends_on: Feature, actor: User | None) -> FeatureDependency:
    require_role(workspace=feature.workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_same_workspace(feature.workspace, depends_on=depends_on)
    if depends_on.pk == feature.pk:
        raise ValidationFailed("A feature cannot depend on itself.", attr="depends_on", code="cycle")
    # Serialise dependency edits in the workspace so two concurrent edges cannot close a cycle.
    RoadmapSettings.objects.select_for_update().filter(workspace_id=feature.workspace_id).first()
    existing = FeatureDependency.objects.filter(feature=feature, depends_on=depends_on).first()
    if existing:
        return existing
    if _reaches(depends_on.pk, feature.pk):
        raise ValidationFailed(
            f"{depends_on.title!r} already depends on {feature.title!r}, directly or indirectly: "
            "this would make a cycle.",
            attr="depends_on",
            code="cycle",
        )
    dependency = FeatureDependency.objects.create(
        workspace_id=feature.workspace_id, feature=feature, depends_on=depends_on
    )
    audit_record(
        workspace=feature.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=dependency,
        changes={"feature": feature.pk, "depends_on": depends_on.pk},
    )
    return dependency


@transaction.atomic
def feature_remove_dependency(*, feature: Feature, depends_on: Feature, actor: User | None) -> None:
    require_role(workspace=feature.workspace, user=actor, role=Role.CONTRIBUTOR)
    dependency = FeatureDependency.objects.filter(feature=feature, depends_on=depends_on).first()
    if dependency is not None:
        _delete(instance=dependency, actor=actor)


@transaction.atomic
def feature_retire_into(*, feature: Feature, into: Feature, actor: User | None) -> Feature:
    """The roadmap half of merging ``feature`` into ``into`` (``feedback.services.feature_merge``
    moves the demand): tags, competitors and dependencies move to ``into``, and ``feature``
    is declined with a reason and points at ``into`` from then on.
    """
    require_role(workspace=feature.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_same_workspace(feature.workspace, into=into)
    into.tags.add(*feature.tags.all())
    into.competitors.add(*feature.competitors.all())
    # Who waited on the merged feature now waits on the survivor, unless that closes a cycle.
    for link in FeatureDependency.objects.filter(depends_on=feature).select_related("feature"):
        dependant = link.feature
        link.delete()
        if dependant.pk != into.pk and not _reaches(into.pk, dependant.pk):
            FeatureDependency.objects.get_or_create(
                feature=dependant, depends_on=into, defaults={"workspace_id": into.workspace_id}
            )
    for link in FeatureDependency.objects.filter(feature=feature).select_related("depends_on"):
        prerequisite = link.depends_on
        link.delete()
        if prerequisite.pk != into.pk and not _reaches(prerequisite.pk, into.pk):
            FeatureDependency.objects.get_or_create(
                feature=into, depends_on=prerequisite, defaults={"workspace_id": into.workspace_id}
            )
    if feature.status != FeatureStatus.DECLINED:
        feature = feature_change_status(
            feature=feature,
            to_status=FeatureStatus.DECLINED,
            actor=actor,
            reason=f"Merged into #{into.pk} {into.title}",
        )
    feature.merged_into = into
    feature.save(update_fields=["merged_into", "updated_at"])
    # Features merged into this one before now point at the survivor: redirects never chain.
    Feature.objects.filter(merged_into=feature).update(merged_into=into)
    features_mark_dirty(workspace_id=feature.workspace_id, feature_ids=[feature.pk, into.pk])
    return feature


#: Apps above the roadmap whose rows point at features (feedback: votes and links) move
#: them when a feature is merged. Each is ``(source, target, actor) -> {counter: n}`` and
#: runs inside :func:`feature_merge`'s transaction; apps register in ``AppConfig.ready``.
FEATURE_MERGE_PARTICIPANTS: list[Callable[..., Mapping[str, int]]] = []


def feature_merge_participant_register(participant: Callable[..., Mapping[str, int]]) -> None:
    if participant not in FEATURE_MERGE_PARTICIPANTS:
        FEATURE_MERGE_PARTICIPANTS.append(participant)


@transaction.atomic
def feature_merge(*, source: Feature, target: Feature, actor: User | None) -> Feature:
    """Merge feature ``source`` into ``target`` (product managers): whatever points at
    ``source`` moves to ``target`` (the registered participants: votes and feedback links),
    tags, competitors and dependencies follow, and ``source`` is declined and redirects
    to ``target`` from then on."""
    require_role(workspace=target.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if source.workspace_id != target.workspace_id:
        raise ValidationFailed("Not found in this workspace.", attr="into", code="does_not_exist")
    if source.pk == target.pk:
        raise ValidationFailed("A feature cannot be merged into itself.", attr="into", code="same_feature")
    locked = {
        f.pk: f
        for f in Feature.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("id")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id is not None:
        raise Conflict(f"Already merged into #{source.merged_into_id}.", code="feature_merged")
    if target.merged_into_id is not None:
        raise Conflict(
            f"The target was merged into #{target.merged_into_id}; use that one.",
            code="feature_merged",
            extra={"merged_into": target.merged_into_id},
        )
    if target.status == FeatureStatus.DECLINED:
        raise Conflict("The target was declined; merge into another feature.", code="feature_declined")
    if source.status == FeatureStatus.SHIPPED:
        raise Conflict("A shipped feature cannot be merged away.", code="feature_shipped")
    counts: dict[str, int] = {}
    for participant in FEATURE_MERGE_PARTICIPANTS:
        counts.update(participant(source=source, target=target, actor=actor))
    feature_retire_into(feature=source, into=target, actor=actor)
    audit_record(
        workspace=target.workspace,
        actor=actor,
        action=AuditEvent.Action.MERGED,
        target=target,
        changes={"source": source.pk, "target": target.pk, **counts},
    )
    return target


# --- portal: one edit form, scoring settings and their preview ----------------------


@transaction.atomic
def feature_edit(
    *,
    feature: Feature,
    actor: User | None,
    data: Mapping[str, Any],
    criterion_values: Mapping[str, Any] | None = None,
) -> Feature:
    """The feature page's edit form: fields (:func:`feature_update`) and manual scorecard
    values (:func:`feature_set_criterion_values`) together, all or nothing."""
    feature = feature_update(feature=feature, actor=actor, data=data)
    if criterion_values:
        feature_set_criterion_values(feature=feature, values=criterion_values, actor=actor)
    return feature


@transaction.atomic
def feature_create_with_values(
    *,
    workspace: Workspace,
    actor: User | None,
    data: Mapping[str, Any],
    criterion_values: Mapping[str, Any] | None = None,
) -> Feature:
    """The portal's new-feature form: :func:`feature_create` and the manual scorecard values
    (:func:`feature_set_criterion_values`, unset ones left out) together, all or nothing."""
    feature = feature_create(workspace=workspace, actor=actor, data=data)
    values = {key: value for key, value in (criterion_values or {}).items() if value is not None}
    if values:
        feature_set_criterion_values(feature=feature, values=values, actor=actor)
    return feature


def scoring_proposal(
    workspace: Workspace, scoring_model: str, criterion_weights: Mapping[str, Any]
) -> tuple[dict[str, ScorecardCriterion], dict[str, float]]:
    if scoring_model not in ScoringModel.values:
        raise ValidationFailed("Unknown scoring model.", attr="scoring_model", code="invalid_choice")
    criteria = {c.key: c for c in ScorecardCriterion.objects.for_workspace(workspace)}
    for criterion in criteria.values():
        criterion.workspace = workspace  # known: each update checks it (not one query per criterion)
    weights = parse_weights(criterion_weights, attr="criterion_weights", keys=criteria)
    return criteria, weights


@transaction.atomic
def scoring_settings_apply(
    *, workspace: Workspace, actor: User | None, scoring_model: str, criterion_weights: Mapping[str, Any]
) -> RoadmapSettings:
    """Set the scoring model and the scorecard weights (by criterion key) in one transaction;
    the services it calls mark the features dirty, which queues the recompute after commit."""
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    criteria, weights = scoring_proposal(workspace, scoring_model, criterion_weights)
    settings_row = roadmap_settings_update(
        workspace=workspace, actor=actor, data={"scoring_model": scoring_model}
    )
    for key, weight in weights.items():
        scorecard_criterion_update(
            criterion=criteria[key],
            actor=actor,
            data={"weight": Decimal(str(weight)).quantize(Decimal("0.001"))},
        )
    return settings_row


# --- saved views and read-only share links (issue 13) --------------------------------

#: The filter keys each roadmap page reads (its filter form's GET query); nothing else is stored.
SAVED_VIEW_COMMON_KEYS = ("product", "goal", "initiative", "team", "tag")
SAVED_VIEW_KEYS: dict[str, tuple[str, ...]] = {
    SavedView.Kind.BOARD: SAVED_VIEW_COMMON_KEYS,
    SavedView.Kind.KANBAN: SAVED_VIEW_COMMON_KEYS,
    SavedView.Kind.TIMELINE: (*SAVED_VIEW_COMMON_KEYS, "start", "months"),
    SavedView.Kind.MATRIX: ("model", *SAVED_VIEW_COMMON_KEYS),
}
_SAVED_VIEW_ID_KEYS = {"product": Product, "goal": Goal, "initiative": Initiative, "team": Team}
#: A share link lives at most this long; the portal offers this default.
SHARE_LINK_MAX_DAYS = 90
SHARE_LINK_DEFAULT_DAYS = 30
#: Share link keys start with this, so a key found in a log or chat reads as one.
SHARE_LINK_PREFIX = "sv_"

constraint_errors_register(
    {"saved_view_name_unique": ("name", "unique", "You already have a view with this name.")}
)
# A view's share links go with it, audited (so the API's tombstones list them).
cascade_audited_register("roadmap.sharelink")


def _query_error(detail: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(detail, attr="query", code=code)


def saved_view_query_clean(*, workspace: Workspace, kind: str, query: Any) -> dict[str, Any]:
    """``query`` as stored: only ``kind``'s known filter keys, empty ones dropped, ids of this
    workspace (``{"product": 12, "tag": "mobile", "start": "2027-01", "months": 6}``)."""
    if kind not in SAVED_VIEW_KEYS:
        raise ValidationFailed("Unknown kind of view.", attr="kind", code="invalid_choice")
    if query is None:
        return {}
    if not isinstance(query, Mapping):
        raise _query_error("The filters must be an object of filter names and values.")
    unknown = sorted(str(key) for key in query if key not in SAVED_VIEW_KEYS[kind])
    if unknown:
        raise _query_error(f"Unknown filter for this view: {', '.join(unknown)}.", code="unknown_filter")
    cleaned: dict[str, Any] = {}
    for key in SAVED_VIEW_KEYS[kind]:
        value = query.get(key)
        if value is None or value == "":
            continue
        if key in _SAVED_VIEW_ID_KEYS:
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.isdigit())
            ):
                raise _query_error(f"{key}: expected an id.")
            pk = int(value)
            if not _SAVED_VIEW_ID_KEYS[key].objects.for_workspace(workspace).filter(pk=pk).exists():
                raise _query_error(f"{key}: not found in this workspace.", code="does_not_exist")
            cleaned[key] = pk
        elif key == "tag":
            tag = Tag.objects.for_workspace(workspace).filter(name=str(value)).only("name").first()
            if tag is None:
                raise _query_error("tag: not found in this workspace.", code="does_not_exist")
            cleaned[key] = tag.name
        elif key == "start":
            match = re.fullmatch(r"(\d{4})-(\d{2})", str(value))
            if match is None or not (2000 <= int(match[1]) <= 2100 and 1 <= int(match[2]) <= 12):
                raise _query_error("start: expected a month YYYY-MM between 2000-01 and 2100-12.")
            cleaned[key] = str(value)
        elif key == "months":
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and value.isdigit())
            ):
                raise _query_error("months: expected a number of months (1-36).")
            if not 1 <= int(value) <= 36:
                raise _query_error("months: expected a number of months (1-36).", code="out_of_range")
            cleaned[key] = int(value)
        elif key == "model":
            if value not in ScoringModel.values:
                raise _query_error("model: unknown scoring model.", code="invalid_choice")
            cleaned[key] = value
    return cleaned


def _saved_view_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("Name is required.", attr="name", code="required")
    name = name.strip()
    if len(name) > 100:
        raise ValidationFailed("At most 100 characters.", attr="name", code="max_length")
    return name


def _check_view_manager(view: SavedView, actor: User | None, *, role: Role = Role.VIEWER) -> None:
    """The view's owner (with ``role``) or a product manager; another member's private view is
    not found."""
    if actor is None:
        return
    membership = require_role(workspace=view.workspace, user=actor, role=role)
    if view.owner_id == actor.pk:
        return
    manager = Role(membership.role).at_least(Role.PRODUCT_MANAGER)
    if not manager:
        if not view.shared:
            raise NotFound("View not found.")
        raise Forbidden("Only the view's owner or a product manager can change it.")


@transaction.atomic
def saved_view_create(
    *,
    workspace: Workspace,
    actor: User | None,
    name: str,
    kind: str,
    query: Mapping[str, Any] | None = None,
    shared: bool = False,
) -> SavedView:
    """Save a roadmap page's filters under ``name``, owned by ``actor`` (any member)."""
    require_role(workspace=workspace, user=actor, role=Role.VIEWER)
    data = {
        "name": _saved_view_name(name),
        "kind": kind,
        "query": saved_view_query_clean(workspace=workspace, kind=kind, query=query),
        "shared": bool(shared),
        "owner": actor,
    }
    return _create(model=SavedView, workspace=workspace, actor=actor, data=data)


@transaction.atomic
def saved_view_update(*, view: SavedView, actor: User | None, data: Mapping[str, Any]) -> SavedView:
    """Rename, share or unshare a view, or change its filters (its owner or a product manager)."""
    _check_view_manager(view, actor)
    unknown = sorted(set(data) - {"name", "shared", "query"})
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(unknown)}.", attr=unknown[0])
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = _saved_view_name(data["name"])
    if "shared" in data:
        values["shared"] = bool(data["shared"])
    if "query" in data:
        values["query"] = saved_view_query_clean(
            workspace=view.workspace, kind=view.kind, query=data["query"]
        )
    view, _ = _update(instance=view, actor=actor, data=values, fields=["name", "shared", "query"])
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, actor: User | None) -> None:
    """Delete a view and its share links (which stop working at once)."""
    _check_view_manager(view, actor)
    _delete(instance=view, actor=actor)


def share_link_latest_expiry() -> datetime:
    """The latest a new link may expire: the end of the day ``SHARE_LINK_MAX_DAYS`` from today."""
    last_day = timezone.localdate() + timedelta(days=SHARE_LINK_MAX_DAYS)
    return timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min))


def _share_link_fields(fields: Iterable[str] | None, kind: str) -> list[str]:
    """The fields a link shows, in their order; a timeline is drawn by its dates, so a
    timeline link always shows them."""
    from roadmap.models import SHARE_LINK_DEFAULT_FIELDS, SHARE_LINK_FIELDS

    if fields is None:
        return list(SHARE_LINK_DEFAULT_FIELDS)
    if kind == SavedView.Kind.TIMELINE and not isinstance(fields, str) and isinstance(fields, Iterable):
        fields = [*fields, "dates"]
    if isinstance(fields, str) or not isinstance(fields, Iterable):
        raise ValidationFailed("Expected a list of field names.", attr="fields")
    chosen = set(fields)
    unknown = sorted(str(name) for name in chosen if name not in SHARE_LINK_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"Unknown field(s): {', '.join(unknown)}.", attr="fields", code="invalid_choice"
        )
    return [name for name in SHARE_LINK_FIELDS if name in chosen]


@transaction.atomic
def share_link_create(
    *,
    view: SavedView,
    actor: User | None,
    expires_at: datetime | None,
    fields: Iterable[str] | None = None,
) -> tuple[ShareLink, str]:
    """A read-only link to ``view`` for people without an account (the view's owner, a
    contributor or higher, or a product manager). Returns the row and the key, which is not
    stored (only its SHA-256, like an API token's) and cannot be shown again."""
    from productops.services import token_hash

    _check_view_manager(view, actor, role=Role.CONTRIBUTOR)
    if expires_at is None:
        raise ValidationFailed("Pick an expiry date.", attr="expires_at", code="required")
    if expires_at <= timezone.now():
        raise ValidationFailed("The expiry must be in the future.", attr="expires_at")
    if expires_at > share_link_latest_expiry():
        raise ValidationFailed(
            f"A link lasts at most {SHARE_LINK_MAX_DAYS} days.", attr="expires_at", code="out_of_range"
        )
    shown = _share_link_fields(fields, view.kind)
    key = SHARE_LINK_PREFIX + secrets.token_urlsafe(32)
    link = ShareLink.objects.create(
        workspace=view.workspace,
        view=view,
        prefix=key[:10],
        key_hash=token_hash(key),
        fields=shown,
        created_by=actor,
        expires_at=expires_at,
    )
    audit_record(
        workspace=view.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=link,
        changes={"view": view.pk, "expires_at": expires_at.isoformat(), "fields": shown},
    )
    return link, key


@transaction.atomic
def share_link_revoke(*, link: ShareLink, actor: User | None) -> ShareLink:
    """Stop a link at once (its creator, the view's owner or a product manager); idempotent."""
    if actor is not None and link.created_by_id != actor.pk:
        _check_view_manager(link.view, actor, role=Role.CONTRIBUTOR)
    elif actor is not None:
        require_role(workspace=link.workspace, user=actor, role=Role.VIEWER)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            workspace=link.workspace,
            actor=actor,
            action=AuditEvent.Action.STATE_CHANGED,
            target=link,
            changes={"state": ["active", "revoked"]},
        )
    return link


# --- bulk edit of the roadmap's cards (issue 13) --------------------------------------------

# A feature's comments go with it: audited, so the tombstones of comments see them.
cascade_audited_register("roadmap.featurecomment")

#: Cards one bulk edit may change at most.
BULK_MAX_FEATURES = 100
#: What a bulk edit may set: ``horizon`` ("" = unscheduled), ``team`` (a Team or None),
#: ``product`` (a Product), ``status`` (with ``reason``), ``add_tag`` (a tag's name).
BULK_CHANGES = ("horizon", "team", "product", "status", "reason", "add_tag")


def _bulk_ids(feature_ids: Iterable[Any]) -> list[int]:
    ids: list[int] = []
    for raw in feature_ids:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValidationFailed("Feature ids are numbers.", attr="feature_ids", code="invalid") from None
        if value not in ids:
            ids.append(value)
    if not ids:
        raise ValidationFailed("Select at least one feature.", attr="feature_ids", code="required")
    if len(ids) > BULK_MAX_FEATURES:
        raise ValidationFailed(
            f"At most {BULK_MAX_FEATURES} features at once ({len(ids)} selected).",
            attr="feature_ids",
            code="too_many",
        )
    return ids


def _bulk_changes(workspace: Workspace, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(BULK_CHANGES))
    if unknown:
        raise ValidationFailed("Not a change a bulk edit makes.", attr=unknown[0], code="unknown_field")
    values = dict(changes)
    if "reason" in values and "status" not in values:
        raise ValidationFailed("A reason goes with a status change.", attr="reason", code="invalid")
    if not set(values) - {"reason"}:
        raise ValidationFailed("Choose at least one change.", attr=None, code="required")
    if "horizon" in values:
        values["horizon"] = values["horizon"] or ""
        if values["horizon"] not in ("", *Horizon.values):
            raise ValidationFailed("Unknown horizon.", attr="horizon", code="invalid_choice")
    if "product" in values and values["product"] is None:
        raise ValidationFailed("Every feature needs a product.", attr="product", code="required")
    _check_same_workspace(workspace, product=values.get("product"), team=values.get("team"))
    if "status" in values and values["status"] not in FeatureStatus.values:
        raise ValidationFailed("Unknown status.", attr="status", code="invalid_choice")
    if "add_tag" in values:
        names = _distinct_names([values["add_tag"] or ""], Tag._meta.get_field("name").max_length)
        if not names:
            raise ValidationFailed("Name the tag to add.", attr="add_tag", code="required")
        values["add_tag"] = names[0]
    return values


def _bulk_apply(feature: Feature, values: Mapping[str, Any], tag: Tag | None, actor: User | None) -> Feature:
    """One card's changes, through the services a single edit uses (their rules and audit)."""
    fields = {k: values[k] for k in ("horizon", "team", "product") if k in values}
    if fields:
        feature = feature_update(feature=feature, actor=actor, data=fields)
    if tag is not None and tag.pk not in {t.pk for t in feature.tags.all()}:
        names = sorted([*(t.name for t in feature.tags.all()), tag.name])
        feature.tags.add(tag)
        audit_record(
            workspace=feature.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=feature,
            changes={"tags": names, "via": "bulk edit"},
        )
    if "status" in values:
        feature = feature_change_status(
            feature=feature, to_status=values["status"], reason=values.get("reason") or "", actor=actor
        )
    return feature


def _bulk_features(workspace: Workspace, ids: list[int]) -> dict[int, Feature]:
    if not ids:
        return {}
    rows = (
        Feature.objects.for_workspace(workspace)
        .filter(pk__in=ids)
        .select_related("workspace", "product", "team")
        .prefetch_related("tags")
    )
    return {f.pk: f for f in rows}


@transaction.atomic
def features_bulk_update(
    *, workspace: Workspace, actor: User | None, feature_ids: Iterable[Any], changes: Mapping[str, Any]
) -> list[Feature]:
    """Set the horizon, team, product or status (with ``reason``) of up to
    :data:`BULK_MAX_FEATURES` features, or add a tag to each, all or nothing.

    Each card goes through the service a single edit uses (:func:`feature_update`,
    :func:`feature_change_status`), so the same rules hold (a skipped step needs the reason,
    shipping needs its dependencies shipped) and each feature gets its own audit events.
    Cards are tried in the order given, and one refused only because it depends on another
    selected card is tried again after it (shipping a feature and its prerequisite together
    works). If any card is refused, nothing is written: :class:`~productops.errors.ItemsRefused`
    carries each refused card's error by id. Contributors may edit; a status change needs a
    product manager, as on a single card. Returns the features, in the order given."""
    require_role(
        workspace=workspace,
        user=actor,
        role=Role.PRODUCT_MANAGER if "status" in changes else Role.CONTRIBUTOR,
    )
    ids = _bulk_ids(feature_ids)
    values = _bulk_changes(workspace, changes)
    found = _bulk_features(workspace, ids)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationFailed(
            "Not found in this workspace: " + ", ".join(f"#{pk}" for pk in missing) + ".",
            attr="feature_ids",
            code="does_not_exist",
        )
    errors: dict[int, DomainError] = {}
    for pk in ids:
        if found[pk].merged_into_id is not None:
            errors[pk] = Conflict("Merged into another feature.", code="feature_merged")
    tag = _tags(workspace, [values["add_tag"]])[0] if "add_tag" in values else None
    done: dict[int, Feature] = {}
    pending = [pk for pk in ids if pk not in errors]
    while pending:
        waiting: dict[int, DomainError] = {}
        for pk in pending:
            try:
                with transaction.atomic():
                    done[pk] = _bulk_apply(found[pk], values, tag, actor)
            except DomainError as exc:
                waiting[pk] = exc
        progressed = len(waiting) < len(pending)
        retry = [pk for pk, exc in waiting.items() if progressed and exc.code == "dependencies_unshipped"]
        errors.update({pk: exc for pk, exc in waiting.items() if pk not in retry})
        # Rolled back to its savepoint: read again, the row in memory may hold unsaved values.
        found.update(_bulk_features(workspace, retry))
        pending = retry
    if errors:
        count = len(errors)
        raise ItemsRefused(
            f"Nothing was changed: {count} of {len(ids)} feature{'s' if len(ids) != 1 else ''} "
            f"{'was' if count == 1 else 'were'} refused.",
            errors={pk: errors[pk] for pk in ids if pk in errors},
            attr="feature_ids",
        )
    return [done[pk] for pk in ids]


# --- internal comments and @mentions (issue 13) ----------------------------------------------

#: ``@`` not glued to a word or an address (``ann@example.com`` names nobody), then the
#: characters of a username but ``@``; trailing ``.``, ``-`` and ``+`` are punctuation.
MENTION_PATTERN = re.compile(r"(?<![\w@.+-])@([\w.+-]{1,150})")
#: Members one comment may mention at most.
MENTIONS_MAX = 25


def mention_usernames(body: str) -> list[str]:
    """The usernames ``body`` mentions, case-folded, in order, once each.

    The rule (docs/portal.md): ``@`` followed by a workspace member's username, matched
    case-insensitively, at the start of the text or after a character that is not a letter,
    digit, ``_``, ``.``, ``+``, ``-`` or ``@``; trailing ``.``, ``-`` and ``+`` are not part of it.
    Usernames that contain ``@`` (an e-mail used as username) cannot be mentioned."""
    names: dict[str, None] = {}
    for match in MENTION_PATTERN.finditer(body or ""):
        name = match.group(1).rstrip(".+-")
        if name:
            names.setdefault(name.casefold(), None)
    return list(names)


def _mentioned_users(workspace: Workspace, body: str, author: User | None) -> list[User]:
    names = mention_usernames(body)
    if not names:
        return []
    memberships = (
        Membership.objects.filter(workspace=workspace)
        .filter(Q(*[Q(user__username__iexact=name) for name in names], _connector=Q.OR))
        .select_related("user")
    )
    by_name = {m.user.username.casefold(): m.user for m in memberships}
    users = [by_name[name] for name in names if name in by_name]
    users = [u for u in users if author is None or u.pk != author.pk]
    if len(users) > MENTIONS_MAX:
        raise ValidationFailed(
            f"Mention at most {MENTIONS_MAX} members in one comment.", attr="body", code="too_many_mentions"
        )
    return users


def _comment_body(body: Any) -> str:
    if not isinstance(body, str):
        raise ValidationFailed("Must be a string.", attr="body", code="not_a_string")
    body = body.strip()
    if not body:
        raise ValidationFailed("Write something.", attr="body", code="blank")
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            f"Ensure this field has no more than {COMMENT_MAX_LENGTH:,} characters (it has {len(body):,}).",
            attr="body",
            code="max_length",
        )
    return body


def _mentions_sync(comment: FeatureComment, actor: User | None) -> list[FeatureMention]:
    """The comment's mentions follow its body: new ones are created (and announced in one
    ``feature.mentioned`` event), ones no longer named are removed. Returns the new ones."""
    users = _mentioned_users(comment.workspace, comment.body, comment.author)
    wanted = {u.pk for u in users}
    existing = set(comment.mentions.values_list("user_id", flat=True))
    gone = existing - wanted
    if gone:
        comment.mentions.filter(user_id__in=gone).delete()
    new = FeatureMention.objects.bulk_create(
        [
            FeatureMention(workspace_id=comment.workspace_id, comment=comment, user=u)
            for u in users
            if u.pk not in existing
        ]
    )
    if new:
        # Ids for the event (bulk_create sets them on PostgreSQL and SQLite alike).
        feature = comment.feature
        _event_record(
            workspace=comment.workspace,
            kind=Event.Kind.FEATURE_MENTIONED,
            subject=comment,
            payload={
                "comment_id": comment.pk,
                "feature": {"id": feature.pk, "title": feature.title},
                "author_id": comment.author_id,
                "mentions": [{"id": m.pk, "user_id": m.user_id} for m in new],
            },
        )
    return new


def _check_comment_editor(comment: FeatureComment, actor: User | None) -> None:
    """Its author (a contributor or more) or a product manager."""
    if actor is None:
        return
    membership = require_role(workspace=comment.workspace, user=actor, role=Role.CONTRIBUTOR)
    if comment.author_id != actor.pk and ROLE_RANK[membership.role] < ROLE_RANK[Role.PRODUCT_MANAGER]:
        raise Forbidden("Only its author or a product manager may change this comment.")


@transaction.atomic
def feature_comment_create(*, feature: Feature, actor: User | None, body: Any) -> FeatureComment:
    """An internal comment by ``actor`` (contributors and up). Members named ``@username``
    (:func:`mention_usernames`) are mentioned: listed on their dashboard, e-mailed once."""
    require_role(workspace=feature.workspace, user=actor, role=Role.CONTRIBUTOR)
    if feature.merged_into_id is not None:
        raise Conflict(
            "This feature was merged into another; comment there.",
            code="feature_merged",
            extra={"merged_into": feature.merged_into_id},
        )
    comment = FeatureComment(
        workspace_id=feature.workspace_id, feature=feature, author=actor, body=_comment_body(body)
    )
    comment.workspace = feature.workspace
    comment.save()
    new = _mentions_sync(comment, actor)
    audit_record(
        workspace=feature.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=comment,
        changes={"feature": feature.pk, "mentions": sorted(m.user_id for m in new)},
    )
    return comment


@transaction.atomic
def feature_comment_update(*, comment: FeatureComment, actor: User | None, body: Any) -> FeatureComment:
    """Change a comment's body (its author or a product manager); members newly named are
    mentioned, those no longer named are not listed any more (an e-mail sent stays sent)."""
    _check_comment_editor(comment, actor)
    body = _comment_body(body)
    if body == comment.body:
        return comment
    old = comment.body
    comment.body = body
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body", "edited_at", "updated_at"])
    new = _mentions_sync(comment, actor)
    audit_record(
        workspace=comment.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=comment,
        changes={"body": [len(old), len(body)], "mentions_added": sorted(m.user_id for m in new)},
    )
    return comment


@transaction.atomic
def feature_comment_delete(*, comment: FeatureComment, actor: User | None) -> None:
    """Delete a comment and its mentions (its author or a product manager)."""
    _check_comment_editor(comment, actor)
    _delete(instance=comment, actor=actor)


@transaction.atomic
def mentions_mark_seen(*, workspace: Workspace, user: User, mention_ids: Iterable[int] | None = None) -> int:
    """Mark the user's unseen mentions in the workspace (or only ``mention_ids``) as seen;
    returns how many. Only their own: another member's ids are ignored."""
    require_role(workspace=workspace, user=user, role=Role.VIEWER)
    mentions = FeatureMention.objects.for_workspace(workspace).filter(user=user, seen_at__isnull=True)
    if mention_ids is not None:
        mentions = mentions.filter(pk__in=list(mention_ids))
    return mentions.update(seen_at=timezone.now())
