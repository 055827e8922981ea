"""Writes of releases: keyword-only, transactional, validated, audited.

Roles: product managers plan releases (create, edit, scope, checklist templates, notes,
metrics) and ship them; contributors move the work along (scope states, checklist tasks,
metric actuals); forcing a ship with unfinished must-haves needs an admin and a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone

from productops.errors import Conflict, ValidationFailed
from productops.models import AuditEvent, Event, Role, User, Workspace
from productops.services import (
    audit_deletion,
    audit_record,
    cascade_audited_register,
    constraint_errors_register,
    constraints_check,
    event_record,
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
from productops.validation import check_planning_date
from releases import notes as release_notes
from releases import versions
from releases.models import (
    OPEN_STATUSES,
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
    ScopeOutcome,
    ScopeState,
    SuccessMetric,
)
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureDependency, FeatureStatus, Product

cascade_audited_register(
    "releases.scopeitem", "releases.checklisttask", "releases.successmetric", "releases.metricactual"
)
constraint_errors_register(
    {
        "release_version_unique": (
            "version",
            "unique",
            "This product already has a release with this version.",
        ),
        "scope_feature_one_open": (
            "feature",
            "in_other_release",
            "The feature is already in an open release.",
        ),
        "release_settings_window_range": (
            "risk_window_days",
            "out_of_range",
            "Must be between 1 and 365 days.",
        ),
        "checklist_template_offset_range": (
            "relative_due",
            "out_of_range",
            "Must be within a year of the planned date.",
        ),
        "success_metric_target_differs": ("target", "invalid", "Target must differ from the baseline."),
        "success_metric_subject": ("release", "required", "A metric belongs to a release or a feature."),
    }
)

#: The launch checklist a workspace starts with (its template until someone edits it).
DEFAULT_CHECKLIST = [
    ("Positioning and messaging approved", ChecklistCategory.POSITIONING, -21, True),
    ("Documentation updated", ChecklistCategory.DOCUMENTATION, -7, True),
    ("Sales enablement: deck and demo script", ChecklistCategory.SALES, -7, False),
    ("Support team trained", ChecklistCategory.SUPPORT, -3, True),
    ("Pricing and packaging updated", ChecklistCategory.PRICING, -7, False),
    ("Customer announcement scheduled", ChecklistCategory.ANNOUNCEMENT, 0, True),
    ("Press and analyst briefing", ChecklistCategory.PRESS, -2, False),
]
RELEASE_FIELDS = ["name", "version", "planned_date", "owner", "summary", "is_public"]
RELATIVE_DUE = re.compile(r"^\s*(?P<sign>[+\-−]?)\s*(?P<n>\d{1,3})\s*(?P<unit>d|days?|w|weeks?)\s*$", re.I)


# --- helpers -------------------------------------------------------------------------


def _save(instance: models.Model, **kwargs: Any) -> None:
    """Save, with a constraint a concurrent write violated answered as its field error."""
    try:
        with transaction.atomic():
            instance.save(**kwargs)
    except IntegrityError as exc:
        error = integrity_error(exc)
        if error is None:
            raise
        raise error from None


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def _audit_changes(changes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    return {key: [_plain(old), _plain(new)] for key, (old, new) in changes.items()}


def _update(instance: models.Model, *, actor: User | None, data: Mapping[str, Any], fields: Iterable[str]):
    """Save what changed of ``fields`` (``update_fields``) and audit it; model validation
    errors answer as field errors."""
    try:
        instance, changes = model_update(instance=instance, fields=fields, data=data)
    except DjangoValidationError as exc:
        attr, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=None if attr == "__all__" else attr) from None
    if changes:
        audit_record(
            workspace=instance.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=instance,
            changes=_audit_changes(changes),
        )
    return instance, changes


def _check_open(release: Release) -> None:
    if release.status == ReleaseStatus.RELEASED:
        raise Conflict("The release has shipped; its plan can no longer change.", code="release_shipped")
    if release.status == ReleaseStatus.CANCELLED:
        raise Conflict("The release is cancelled.", code="release_cancelled")


def _released_versions(product: Product, *, exclude: Release | None = None) -> list[str]:
    released = Release.objects.filter(product=product, status=ReleaseStatus.RELEASED)
    if exclude is not None:
        released = released.exclude(pk=exclude.pk)
    return list(released.values_list("version", flat=True))


def check_version(*, product: Product, version: str, release: Release | None = None) -> str:
    """``version`` trimmed if it fits the product's scheme, is unused in the product and is
    greater than the last released version of its line; else a ``version`` field error."""
    try:
        parsed = versions.parse(version, product.version_scheme)
    except versions.InvalidVersion as exc:
        raise ValidationFailed(str(exc), attr="version", code="invalid") from None
    taken = Release.objects.filter(product=product, version=parsed.text)
    if release is not None:
        taken = taken.exclude(pk=release.pk)
    if taken.exists():
        raise ValidationFailed(
            "This product already has a release with this version.", attr="version", code="unique"
        )
    last = versions.last_released_in_line(parsed, _released_versions(product, exclude=release))
    if last is not None and not parsed > last:
        line = f" in the {parsed.line}.x line" if parsed.line is not None else ""
        raise ValidationFailed(
            f"Must be greater than {last.text}, the last released version{line}.",
            attr="version",
            code="not_greater",
        )
    return parsed.text


def product_uses_version_scheme(product: Product) -> str | None:
    """Why the product's version scheme cannot change (it has releases), or None; registered
    with the roadmap at start-up (``ReleasesConfig.ready``)."""
    if Release.objects.filter(product=product).exists():
        return "The product has releases numbered by this scheme; it cannot change."
    return None


def parse_relative_due(value: Any, *, attr: str = "relative_due") -> int:
    """Days from a text such as "−7 days", "-1 week", "+3d" or "0 days" (an int passes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        days = value
    else:
        match = RELATIVE_DUE.match(str(value or ""))
        if match is None:
            raise ValidationFailed(
                'Write it as days or weeks from the planned date, e.g. "-7 days", "-2 weeks" or "+1 day".',
                attr=attr,
                code="invalid",
            )
        days = int(match["n"]) * (7 if match["unit"].lower().startswith("w") else 1)
        if match["sign"] in ("-", "−"):
            days = -days
    if not -365 <= days <= 365:
        raise ValidationFailed("Must be within a year of the planned date.", attr=attr, code="out_of_range")
    return days


def format_relative_due(days: int) -> str:
    """The inverse of :func:`parse_relative_due`: "-7 days", "+1 day", "0 days"."""
    sign = "-" if days < 0 else "+" if days > 0 else ""
    unit = "day" if abs(days) == 1 else "days"
    return f"{sign}{abs(days)} {unit}"


# --- settings ----------------------------------------------------------------------------


def release_settings_for(workspace: Workspace) -> ReleaseSettings:
    settings_row, _ = ReleaseSettings.objects.get_or_create(workspace=workspace)
    return settings_row


@transaction.atomic
def release_settings_update(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> ReleaseSettings:
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    settings_row = release_settings_for(workspace)
    window = data.get("risk_window_days")
    if window is not None and not 1 <= window <= 365:
        raise ValidationFailed(
            "Must be between 1 and 365 days.", attr="risk_window_days", code="out_of_range"
        )
    return _update(settings_row, actor=actor, data=data, fields=["risk_window_days"])[0]


def changelog_settings_for(workspace: Workspace) -> ChangelogSettings:
    settings_row, _ = ChangelogSettings.objects.get_or_create(workspace=workspace)
    return settings_row


@transaction.atomic
def changelog_settings_update(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> ChangelogSettings:
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    settings_row = changelog_settings_for(workspace)
    data = dict(data)
    for attr, limit in (("title", 120), ("intro", 2000)):
        if attr in data:
            data[attr] = (data[attr] or "").strip()
            if len(data[attr]) > limit:
                raise ValidationFailed(f"At most {limit} characters.", attr=attr, code="max_length")
    return _update(settings_row, actor=actor, data=data, fields=["enabled", "title", "intro"])[0]


# --- checklist templates --------------------------------------------------------------------


def checklist_template_ensure(*, workspace: Workspace) -> list[ChecklistTemplateItem]:
    """The workspace's template, seeded with :data:`DEFAULT_CHECKLIST` the first time."""
    items = list(ChecklistTemplateItem.objects.filter(workspace=workspace))
    if items or ReleaseSettings.objects.filter(workspace=workspace, checklist_seeded=True).exists():
        return items
    release_settings_for(workspace)
    with transaction.atomic():
        # The settings row's lock makes two first readers seed the template once.
        settings_row = ReleaseSettings.objects.select_for_update().get(workspace=workspace)
        if settings_row.checklist_seeded:
            return list(ChecklistTemplateItem.objects.filter(workspace=workspace))
        return _seed_template(workspace, settings_row)


def _seed_template(workspace: Workspace, settings_row: ReleaseSettings) -> list[ChecklistTemplateItem]:
    items = ChecklistTemplateItem.objects.bulk_create(
        [
            ChecklistTemplateItem(
                workspace=workspace,
                title=title,
                category=category,
                due_offset_days=offset,
                is_required=required,
                position=index,
            )
            for index, (title, category, offset, required) in enumerate(DEFAULT_CHECKLIST)
        ]
    )
    settings_row.checklist_seeded = True
    settings_row.save(update_fields=["checklist_seeded"])
    return items


def _template_values(workspace: Workspace, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {
        key: data[key]
        for key in ("title", "category", "is_required", "default_owner", "position")
        if key in data
    }
    if "title" in values:
        values["title"] = (values["title"] or "").strip()
        if not values["title"]:
            raise ValidationFailed("This field may not be blank.", attr="title", code="blank")
    if "category" in values and values["category"] not in ChecklistCategory.values:
        raise ValidationFailed("Unknown category.", attr="category", code="invalid_choice")
    if "relative_due" in data:
        values["due_offset_days"] = parse_relative_due(data["relative_due"])
    _check_member(workspace, "default_owner", values.get("default_owner"))
    return values


@transaction.atomic
def checklist_template_item_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> ChecklistTemplateItem:
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    checklist_template_ensure(workspace=workspace)
    values = _template_values(workspace, data)
    if not values.get("title"):
        raise ValidationFailed("This field is required.", attr="title", code="required")
    if "position" not in values:
        last = ChecklistTemplateItem.objects.filter(workspace=workspace).aggregate(m=Max("position"))["m"]
        values["position"] = 0 if last is None else last + 1
    item = ChecklistTemplateItem(workspace=workspace, **values)
    _save(item)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=item,
        changes={k: _plain(v) for k, v in values.items()},
    )
    return item


@transaction.atomic
def checklist_template_item_update(
    *, item: ChecklistTemplateItem, actor: User | None, data: Mapping[str, Any]
) -> ChecklistTemplateItem:
    require_role(workspace=item.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    values = _template_values(item.workspace, data)
    return _update(
        item,
        actor=actor,
        data=values,
        fields=["title", "category", "due_offset_days", "is_required", "default_owner", "position"],
    )[0]


@transaction.atomic
def checklist_template_item_delete(*, item: ChecklistTemplateItem, actor: User | None) -> None:
    require_role(workspace=item.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    audit_deletion(workspace=item.workspace, actor=actor, instance=item)
    item.delete()


# --- releases ------------------------------------------------------------------------------


def _release_values(workspace: Workspace, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {key: data[key] for key in RELEASE_FIELDS if key in data}
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            raise ValidationFailed("This field may not be blank.", attr="name", code="blank")
        if len(values["name"]) > 120:
            raise ValidationFailed("At most 120 characters.", attr="name", code="max_length")
    if "planned_date" in values:
        check_planning_date(values["planned_date"], attr="planned_date")
    _check_member(workspace, "owner", values.get("owner"))
    return values


@transaction.atomic
def release_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Release:
    """A planned release of a product, its launch checklist copied from the template with due
    dates counted from the planned date. The version must fit the product's scheme and be
    greater than the last released one of its line; the planned date may not be past."""
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    product = data.get("product")
    if product is None:
        raise ValidationFailed("This field is required.", attr="product", code="required")
    _check_same_workspace(workspace, product=product)
    values = _release_values(workspace, data)
    if not values.get("name"):
        raise ValidationFailed("This field is required.", attr="name", code="required")
    values["version"] = check_version(product=product, version=data.get("version") or "")
    planned = values.get("planned_date")
    if planned is not None and planned < timezone.localdate():
        raise ValidationFailed(
            "A new release cannot be planned in the past.", attr="planned_date", code="in_past"
        )
    release = Release(workspace=workspace, product=product, status_changed_at=timezone.now(), **values)
    _save(release)
    ReleaseStatusChange.objects.create(
        workspace=workspace, release=release, from_status="", to_status=release.status, actor=actor
    )
    template = checklist_template_ensure(workspace=workspace)
    ChecklistTask.objects.bulk_create(
        [
            ChecklistTask(
                workspace=workspace,
                release=release,
                title=item.title,
                category=item.category,
                owner_id=item.default_owner_id,
                due_date=planned + timedelta(days=item.due_offset_days) if planned else None,
                is_required=item.is_required,
                position=item.position,
            )
            for item in template
        ]
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=release,
        changes={"product": product.pk, **{k: _plain(v) for k, v in values.items()}},
    )
    return release


@transaction.atomic
def release_update(*, release: Release, actor: User | None, data: Mapping[str, Any]) -> Release:
    """Edit a release's plan. The version follows the same rules as at creation and, like the
    planned date, is fixed once shipped. Moving the planned date moves the due dates of the
    checklist tasks still to do by as many days."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    release = Release.objects.select_for_update(of=("self",)).select_related("product").get(pk=release.pk)
    values = _release_values(release.workspace, data)
    if release.status == ReleaseStatus.RELEASED:
        for attr in ("version", "planned_date"):
            if attr in values and values[attr] != getattr(release, attr):
                raise ValidationFailed("Fixed once the release has shipped.", attr=attr, code="read_only")
    if "version" in values and values["version"] != release.version:
        values["version"] = check_version(
            product=release.product, version=values["version"] or "", release=release
        )
    old_planned = release.planned_date
    release, changes = _update(release, actor=actor, data=values, fields=RELEASE_FIELDS)
    if "planned_date" in changes and old_planned and release.planned_date:
        shift = release.planned_date - old_planned
        tasks = ChecklistTask.objects.filter(release=release, due_date__isnull=False).exclude(
            state__in=[ChecklistState.DONE, ChecklistState.SKIPPED]
        )
        for task in tasks:
            task.due_date = check_planning_date(task.due_date + shift, attr="planned_date")
            task.save(update_fields=["due_date", "updated_at"])
    return release


#: Status moves a person makes; RELEASED only through release_ship, CANCELLED through release_cancel.
MANUAL_STATUSES = {ReleaseStatus.PLANNED, ReleaseStatus.IN_PROGRESS, ReleaseStatus.CODE_COMPLETE}


def _record_status(release: Release, to_status: str, *, actor: User | None, reason: str = "") -> None:
    from_status = release.status
    release.status = to_status
    release.status_changed_at = timezone.now()
    ReleaseStatusChange.objects.create(
        workspace_id=release.workspace_id,
        release=release,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        actor=actor,
    )
    audit_record(
        workspace=release.workspace,
        actor=actor,
        action=AuditEvent.Action.STATE_CHANGED,
        target=release,
        changes={"status": [from_status, to_status], "reason": reason},
    )


@transaction.atomic
def release_change_status(
    *, release: Release, to_status: str, actor: User | None, reason: str = ""
) -> Release:
    """Planned, in progress, code complete (either way). Shipping and cancelling have their own
    services, which do what those mean."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if to_status not in ReleaseStatus.values:
        raise ValidationFailed("Unknown status.", attr="status", code="invalid_choice")
    if to_status not in MANUAL_STATUSES:
        raise ValidationFailed(
            "Ship or cancel the release with its own action.", attr="status", code="use_action"
        )
    release = Release.objects.select_for_update().get(pk=release.pk)
    _check_open(release)
    if release.status != to_status:
        _record_status(release, to_status, actor=actor, reason=(reason or "").strip())
        release.save(update_fields=["status", "status_changed_at", "updated_at"])
    return release


def _close_scope(items: Iterable[ScopeItem], outcome: str) -> None:
    now = timezone.now()
    for item in items:
        item.is_open = False
        item.outcome = outcome
        item.closed_at = now
        item.save(update_fields=["is_open", "outcome", "closed_at", "updated_at"])


@transaction.atomic
def release_cancel(*, release: Release, actor: User | None, reason: str = "") -> Release:
    """Cancel a release that has not shipped. Its scope rows close (kept for history); each
    feature keeps its status, horizon and dates, and can join another release."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    release = Release.objects.select_for_update().get(pk=release.pk)
    if release.status == ReleaseStatus.CANCELLED:
        return release
    if release.status == ReleaseStatus.RELEASED:
        raise Conflict("A shipped release cannot be cancelled.", code="release_shipped")
    _close_scope(
        ScopeItem.objects.filter(release=release, is_open=True).select_for_update(), ScopeOutcome.CANCELLED
    )
    _record_status(release, ReleaseStatus.CANCELLED, actor=actor, reason=(reason or "").strip())
    release.save(update_fields=["status", "status_changed_at", "updated_at"])
    return release


@transaction.atomic
def release_delete(*, release: Release, actor: User | None) -> None:
    """Delete a release that has not shipped (a shipped one is history: cancel is for plans)."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    release = Release.objects.select_for_update().get(pk=release.pk)
    if release.status == ReleaseStatus.RELEASED:
        raise Conflict("A shipped release is kept; it cannot be deleted.", code="release_shipped")
    audit_deletion(workspace=release.workspace, actor=actor, instance=release)
    release.delete()


# --- scope ------------------------------------------------------------------------------------


def _scope_values(data: Mapping[str, Any]) -> dict[str, Any]:
    values = {key: data[key] for key in ("is_must_have", "state", "change_type", "position") if key in data}
    if "state" in values and values["state"] not in ScopeState.values:
        raise ValidationFailed("Unknown state.", attr="state", code="invalid_choice")
    if "change_type" in values and values["change_type"] not in ChangeType.values:
        raise ValidationFailed("Unknown change type.", attr="change_type", code="invalid_choice")
    return values


def _open_item_of(feature: Feature) -> ScopeItem | None:
    return ScopeItem.objects.filter(feature=feature, is_open=True).select_related("release").first()


def _check_feature_for(release: Release, feature: Feature) -> None:
    if feature.workspace_id != release.workspace_id:
        raise ValidationFailed("Not found in this workspace.", attr="feature", code="does_not_exist")
    if feature.product_id != release.product_id:
        raise ValidationFailed(
            "The feature belongs to another product.", attr="feature", code="other_product"
        )
    if feature.status in (FeatureStatus.SHIPPED, FeatureStatus.DECLINED):
        raise ValidationFailed(
            f"The feature is {FeatureStatus(feature.status).label.lower()}; it cannot join a release.",
            attr="feature",
            code="feature_closed",
        )
    if feature.merged_into_id is not None:
        raise ValidationFailed(
            "The feature was merged into another one.", attr="feature", code="feature_merged"
        )
    current = _open_item_of(feature)
    if current is not None:
        raise ValidationFailed(
            f"The feature is already in {current.release}.", attr="feature", code="in_other_release"
        )


@transaction.atomic
def scope_add(
    *, release: Release, feature: Feature, actor: User | None, data: Mapping[str, Any] | None = None
) -> ScopeItem:
    """Put ``feature`` (same workspace and product, in no other open release) in the release."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    release = Release.objects.select_for_update().get(pk=release.pk)
    _check_open(release)
    _check_feature_for(release, feature)
    values = _scope_values(data or {})
    if "position" not in values:
        last = ScopeItem.objects.filter(release=release, is_open=True).aggregate(m=Max("position"))["m"]
        values["position"] = 0 if last is None else last + 1
    item = ScopeItem(workspace_id=release.workspace_id, release=release, feature=feature, **values)
    _save(item)
    audit_record(
        workspace=release.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=item,
        changes={"release": release.pk, "feature": feature.pk, **values},
    )
    return item


def _locked_open_item(item: ScopeItem) -> ScopeItem:
    item = (
        ScopeItem.objects.select_for_update(of=("self",)).select_related("release", "feature").get(pk=item.pk)
    )
    if not item.is_open:
        raise Conflict("This scope row is closed; it is kept for history.", code="scope_closed")
    _check_open(item.release)
    return item


@transaction.atomic
def scope_update(*, item: ScopeItem, actor: User | None, data: Mapping[str, Any]) -> ScopeItem:
    """Must-have or nice-to-have and the change type (product managers); the delivery state
    (contributors too)."""
    planning = {"is_must_have", "change_type", "position"} & set(data)
    role = Role.PRODUCT_MANAGER if planning else Role.CONTRIBUTOR
    require_role(workspace=item.workspace, user=actor, role=role)
    item = _locked_open_item(item)
    return _update(
        item,
        actor=actor,
        data=_scope_values(data),
        fields=["is_must_have", "state", "change_type", "position"],
    )[0]


@transaction.atomic
def scope_remove(*, item: ScopeItem, actor: User | None) -> None:
    """Take a feature out of an open release (the row goes; the audit log keeps it)."""
    require_role(workspace=item.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    item = _locked_open_item(item)
    audit_deletion(workspace=item.workspace, actor=actor, instance=item)
    item.delete()


@transaction.atomic
def scope_move(*, item: ScopeItem, to_release: Release, actor: User | None) -> ScopeItem:
    """Move a feature to another open release of the product, keeping its must-have flag,
    state and change type; the old row closes as "moved". Audited."""
    require_role(workspace=item.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    item = _locked_open_item(item)
    if to_release.workspace_id != item.workspace_id:
        raise ValidationFailed("Not found in this workspace.", attr="release", code="does_not_exist")
    to_release = Release.objects.select_for_update().get(pk=to_release.pk)
    if to_release.pk == item.release_id:
        raise ValidationFailed("The feature is already in this release.", attr="release", code="same_release")
    if to_release.product_id != item.release.product_id:
        raise ValidationFailed(
            "The release belongs to another product.", attr="release", code="other_product"
        )
    if to_release.status not in OPEN_STATUSES:
        raise ValidationFailed("The release is not open.", attr="release", code="release_closed")
    return _move(item, to_release, actor=actor)


def _move(item: ScopeItem, to_release: Release | None, *, actor: User | None) -> ScopeItem | None:
    """Close ``item`` as moved (or deferred to the backlog with ``to_release=None``) and open
    its successor; the caller holds the locks."""
    _close_scope([item], ScopeOutcome.MOVED if to_release else ScopeOutcome.DEFERRED)
    moved = None
    if to_release is not None:
        last = ScopeItem.objects.filter(release=to_release, is_open=True).aggregate(m=Max("position"))["m"]
        moved = ScopeItem(
            workspace_id=item.workspace_id,
            release=to_release,
            feature_id=item.feature_id,
            is_must_have=item.is_must_have,
            state=item.state,
            change_type=item.change_type,
            position=0 if last is None else last + 1,
        )
        _save(moved)
    audit_record(
        workspace=item.release.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=item.feature,
        changes={"release": [item.release_id, to_release.pk if to_release else None]},
    )
    return moved


def scope_follow_merge(*, source: Feature, target: Feature, actor: User | None) -> dict[str, int]:
    """The releases' part of merging feature ``source`` into ``target`` (registered with
    ``roadmap.services.feature_merge`` in ``ReleasesConfig.ready``; runs inside the merge's
    transaction): the source's open scope row moves to the target when the target is in no
    open release and belongs to the same product; otherwise it closes as "merged". The
    source's success metrics measure the target from then on."""
    metrics = SuccessMetric.objects.filter(feature=source).update(feature=target, updated_at=timezone.now())
    counts = {"success_metrics_moved": metrics} if metrics else {}
    item = (
        ScopeItem.objects.select_for_update(of=("self",))
        .select_related("release")
        .filter(feature=source, is_open=True)
        .first()
    )
    if item is None:
        return counts
    target_open = ScopeItem.objects.filter(feature=target, is_open=True).exists()
    if not target_open and item.release.product_id == target.product_id:
        item.feature = target
        _save(item, update_fields=["feature", "updated_at"])
        moved = 1
    else:
        _close_scope([item], ScopeOutcome.MERGED)
        moved = 0
    audit_record(
        workspace=item.release.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=item,
        changes={"feature": [source.pk, target.pk] if moved else source.pk, "merged": True},
    )
    return {"scope_moved": moved, **counts}


# --- checklist tasks --------------------------------------------------------------------------


def _task_values(workspace: Workspace, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {
        key: data[key]
        for key in ("title", "category", "owner", "due_date", "state", "is_required", "position")
        if key in data
    }
    if "title" in values:
        values["title"] = (values["title"] or "").strip()
        if not values["title"]:
            raise ValidationFailed("This field may not be blank.", attr="title", code="blank")
    if "category" in values and values["category"] not in ChecklistCategory.values:
        raise ValidationFailed("Unknown category.", attr="category", code="invalid_choice")
    if "state" in values and values["state"] not in ChecklistState.values:
        raise ValidationFailed("Unknown state.", attr="state", code="invalid_choice")
    if "due_date" in values:
        check_planning_date(values["due_date"], attr="due_date")
    _check_member(workspace, "owner", values.get("owner"))
    return values


@transaction.atomic
def checklist_task_create(*, release: Release, actor: User | None, data: Mapping[str, Any]) -> ChecklistTask:
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    release = Release.objects.select_for_update().get(pk=release.pk)
    _check_open(release)
    values = _task_values(release.workspace, data)
    if not values.get("title"):
        raise ValidationFailed("This field is required.", attr="title", code="required")
    if "position" not in values:
        last = ChecklistTask.objects.filter(release=release).aggregate(m=Max("position"))["m"]
        values["position"] = 0 if last is None else last + 1
    if values.get("state") in (ChecklistState.DONE, ChecklistState.SKIPPED):
        values["completed_at"] = timezone.now()
    task = ChecklistTask(workspace_id=release.workspace_id, release=release, **values)
    _save(task)
    audit_record(
        workspace=release.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=task,
        changes={k: _plain(v) for k, v in values.items() if k != "completed_at"},
    )
    return task


@transaction.atomic
def checklist_task_update(
    *, task: ChecklistTask, actor: User | None, data: Mapping[str, Any]
) -> ChecklistTask:
    """The owner, due date and state (contributors); the title, category and whether it is
    required (product managers)."""
    planning = {"title", "category", "is_required", "position"} & set(data)
    require_role(
        workspace=task.workspace, user=actor, role=Role.PRODUCT_MANAGER if planning else Role.CONTRIBUTOR
    )
    task = ChecklistTask.objects.select_for_update().get(pk=task.pk)
    values = _task_values(task.workspace, data)
    if "state" in values and values["state"] != task.state:
        finished = values["state"] in (ChecklistState.DONE, ChecklistState.SKIPPED)
        values["completed_at"] = timezone.now() if finished else None
    return _update(
        task,
        actor=actor,
        data=values,
        fields=["title", "category", "owner", "due_date", "state", "is_required", "position", "completed_at"],
    )[0]


@transaction.atomic
def checklist_task_delete(*, task: ChecklistTask, actor: User | None) -> None:
    """Remove a task from an open release's checklist (a shipped or cancelled one's is history)."""
    require_role(workspace=task.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    _check_open(Release.objects.select_for_update().get(pk=task.release_id))
    audit_deletion(workspace=task.workspace, actor=actor, instance=task)
    task.delete()


# --- notes ---------------------------------------------------------------------------------------


def notes_entries(items: Iterable[ScopeItem]) -> list[tuple[str, str, str]]:
    """(change type, customer-facing title, note) of each scope row with a customer-facing
    title, for the generator. A feature without one is left out: its internal title may
    name what customers must not read (a code name, a customer), and generated notes are
    published without anyone reading them when a release ships with no draft."""
    return [
        (item.change_type, item.feature.public_title, item.feature.release_note)
        for item in items
        if item.feature.public_title.strip()
    ]


def notes_generate(*, release: Release) -> str:
    """Notes from what would ship now, the done rows (a shipped release: the rows it
    shipped), so a draft saved from them names nothing that moves out at the ship."""
    if release.status == ReleaseStatus.RELEASED:
        items = ScopeItem.objects.filter(release=release, outcome=ScopeOutcome.SHIPPED)
    else:
        items = ScopeItem.objects.filter(release=release, is_open=True, state=ScopeState.DONE)
    items = items.select_related("feature").only(
        "change_type", "position", "feature__title", "feature__public_title", "feature__release_note"
    )
    return release_notes.generate(notes_entries(items.order_by("position", "id")))


MAX_NOTES = 50_000


@transaction.atomic
def release_notes_update(*, release: Release, actor: User | None, notes: str) -> Release:
    """Save the notes draft (Markdown, stored as written; rendering makes it inert)."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if len(notes or "") > MAX_NOTES:
        raise ValidationFailed(f"At most {MAX_NOTES} characters.", attr="notes", code="max_length")
    return _update(release, actor=actor, data={"notes": notes or ""}, fields=["notes"])[0]


@transaction.atomic
def release_notes_publish(*, release: Release, actor: User | None) -> Release:
    """Publish the draft (or, with none, the generated notes): the changelog shows what was
    published last. A public release needs notes to publish."""
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    release = Release.objects.select_for_update().get(pk=release.pk)
    return _publish(release, actor=actor)


def _publish(release: Release, *, actor: User | None, generated: str | None = None) -> Release:
    if generated is None:
        generated = notes_generate(release=release)
    text = release.notes.strip() or generated.strip()
    if release.is_public and not text:
        raise ValidationFailed(
            "A public release needs notes: write them or add done features to generate them.",
            attr="notes",
            code="required",
        )
    if text != release.published_notes or release.notes_published_at is None:
        release.published_notes = text
        release.notes_published_at = timezone.now()
        release.save(update_fields=["published_notes", "notes_published_at", "updated_at"])
        audit_record(
            workspace=release.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=release,
            changes={"published_notes": "published"},
        )
    return release


# --- shipping ----------------------------------------------------------------------------------


@dataclass
class ShipResult:
    release: Release
    #: Features marked shipped by this call, in the order they were (dependencies first).
    shipped: list[Feature] = field(default_factory=list)
    #: (feature, release it moved to or None for the backlog) of the unfinished rows.
    moved: list[tuple[Feature, Release | None]] = field(default_factory=list)
    event: Event | None = None
    #: False when the release had already shipped: nothing was done.
    changed: bool = True
    forced: bool = False
    #: True when no draft was written and the published notes were generated from the scope.
    notes_generated: bool = False


def _feature_refs(features: Iterable[Feature]) -> list[dict[str, Any]]:
    return [{"id": f.pk, "title": f.title} for f in features]


def _dependency_order(features: list[Feature]) -> tuple[list[Feature], list[Feature]]:
    """``features`` with their dependencies first, and the unshipped dependencies outside them."""
    by_id = {f.pk: f for f in features}
    links = FeatureDependency.objects.filter(feature_id__in=by_id).select_related("depends_on")
    needs: dict[int, list[int]] = {pk: [] for pk in by_id}
    outside: dict[int, Feature] = {}
    for link in links:
        if link.depends_on_id in by_id:
            needs[link.feature_id].append(link.depends_on_id)
        elif link.depends_on.status != FeatureStatus.SHIPPED:
            outside[link.depends_on_id] = link.depends_on
    ordered: list[Feature] = []
    seen: set[int] = set()

    def visit(pk: int) -> None:  # the service refuses cycles, so plain depth-first is enough
        if pk in seen:
            return
        seen.add(pk)
        for dep in sorted(needs[pk]):
            visit(dep)
        ordered.append(by_id[pk])

    for pk in sorted(by_id, key=lambda pk: (by_id[pk].title.lower(), pk)):
        visit(pk)
    return ordered, sorted(outside.values(), key=lambda f: (f.title.lower(), f.pk))


def ship_plan(*, release: Release) -> dict[str, Any]:
    """What shipping would do now, for the confirmation: the features that ship (in order),
    the unfinished must-haves that block it, the nice-to-haves that move out, the
    dependencies outside that block it, and whether notes would be generated."""
    items = list(
        ScopeItem.objects.filter(release=release, is_open=True)
        .select_related("feature")
        .order_by("position", "id")
    )
    done = [i.feature for i in items if i.state == ScopeState.DONE]
    ordered, outside = _dependency_order(done)
    return {
        "ship": ordered,
        "must_haves_unfinished": [i.feature for i in items if i.is_must_have and i.state != ScopeState.DONE],
        "nice_to_haves_unfinished": [
            i.feature for i in items if not i.is_must_have and i.state != ScopeState.DONE
        ],
        "dependencies_unshipped": outside,
        "notes_generated": not release.notes.strip(),
        # Left out of generated notes (no customer-facing title): the PM sees it before shipping.
        "without_public_title": [f for f in ordered if not f.public_title.strip()],
    }


@transaction.atomic
def release_ship(
    *,
    release: Release,
    actor: User | None,
    force: bool = False,
    reason: str = "",
    move_unfinished_to: Release | None = None,
) -> ShipResult:
    """Ship the release, all or nothing, in one transaction holding the release's row lock.

    The done scope's features are marked shipped through the roadmap's status service, in
    dependency order, with the reason "Shipped in <release>" and the release as context
    (history kept, scores marked dirty). Unfinished rows move to ``move_unfinished_to`` (an
    open release of the product) or back to the backlog. The notes draft, or the generated
    notes, is published; a public release with none is a 400. One ``release.shipped`` event
    is recorded in the platform's event table for consumers (the board, comms).

    Refused: a cancelled release (409 ``release_cancelled``), a version not greater than
    one already released in its line (409 ``version_not_greater``), unfinished must-haves
    (409 ``must_haves_unfinished``, unless an admin forces it with a reason, audited), a
    done feature depending on an unshipped feature outside the done scope (409
    ``dependencies_unshipped``). Shipping a shipped release returns it and does nothing.
    """
    require_role(workspace=release.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    # Only the release's row (``of``): FOR UPDATE on the workspace or product would block every
    # insert that references them (foreign keys take KEY SHARE) for the whole ship.
    release = (
        Release.objects.select_for_update(of=("self",))
        .select_related("product", "workspace")
        .get(pk=release.pk)
    )
    if release.status == ReleaseStatus.RELEASED:
        return ShipResult(
            release=release,
            changed=False,
            event=Event.objects.filter(
                kind=Event.Kind.RELEASE_SHIPPED, subject_type="releases.release", subject_id=str(release.pk)
            ).first(),
        )
    if release.status == ReleaseStatus.CANCELLED:
        raise Conflict("A cancelled release cannot ship.", code="release_cancelled")
    reason = (reason or "").strip()
    if force:
        require_role(workspace=release.workspace, user=actor, role=Role.ADMIN)
        if not reason:
            raise ValidationFailed(
                "Say why the release ships without its must-haves.", attr="reason", code="required"
            )
    if move_unfinished_to is not None:
        if move_unfinished_to.workspace_id != release.workspace_id:
            raise ValidationFailed(
                "Not found in this workspace.", attr="move_unfinished_to", code="does_not_exist"
            )
        # Both releases locked in id order, so two ships moving work into each other's
        # release cannot deadlock.
        locked = {
            r.pk: r
            for r in Release.objects.select_for_update()
            .filter(pk__in=sorted({release.pk, move_unfinished_to.pk}))
            .order_by("pk")
        }
        move_unfinished_to = locked[move_unfinished_to.pk]
        if (
            move_unfinished_to.pk == release.pk
            or move_unfinished_to.product_id != release.product_id
            or move_unfinished_to.status not in OPEN_STATUSES
        ):
            raise ValidationFailed(
                "Choose another open release of the same product.", attr="move_unfinished_to", code="invalid"
            )
    # The product's row (FOR NO KEY UPDATE: inserts referencing it go on) orders concurrent
    # ships of its releases, so two cannot both pass the version check below.
    list(Product.objects.select_for_update(no_key=True).filter(pk=release.product_id).values_list("pk"))
    parsed = versions.parse_or_none(release.version, release.product.version_scheme)
    if parsed is not None:
        last = versions.last_released_in_line(parsed, _released_versions(release.product, exclude=release))
        if last is not None and not parsed > last:
            raise Conflict(
                f"{last.text} is already released; {release.version} is not greater.",
                code="version_not_greater",
                attr="version",
            )

    items = list(
        ScopeItem.objects.filter(release=release, is_open=True)
        .select_for_update()
        .select_related("feature")
        .order_by("position", "id")
    )
    for item in items:
        # Known rows, set rather than joined (a join would lock them FOR UPDATE too): each
        # feature's status change checks its workspace, each move reads the item's release.
        item.release = release
        item.feature.workspace = release.workspace
    done = [i for i in items if i.state == ScopeState.DONE]
    unfinished_must = [i for i in items if i.is_must_have and i.state != ScopeState.DONE]
    if unfinished_must and not force:
        features = [i.feature for i in unfinished_must]
        raise Conflict(
            "Must-haves are not done: " + ", ".join(f.title for f in features) + ".",
            code="must_haves_unfinished",
            extra={"features": _feature_refs(features)},
        )
    ordered, outside = _dependency_order([i.feature for i in done])
    if outside:
        raise Conflict(
            "Depends on unshipped features outside the release: " + ", ".join(f.title for f in outside) + ".",
            code="dependencies_unshipped",
            extra={"features": _feature_refs(outside)},
        )

    # Checked before anything is written: a public release needs notes to ship.
    generated = release_notes.generate(notes_entries(done))
    if release.is_public and not (release.notes.strip() or generated.strip()):
        raise ValidationFailed(
            "A public release needs notes: write them, or finish features to generate them from.",
            attr="notes",
            code="required",
        )
    context = {"release": {"id": release.pk, "name": release.name, "version": release.version}}
    shipped: list[Feature] = []
    for feature in ordered:
        if feature.status == FeatureStatus.SHIPPED:
            continue
        shipped.append(
            roadmap_services.feature_change_status(
                feature=feature,
                to_status=FeatureStatus.SHIPPED,
                actor=actor,
                reason=f"Shipped in {release}",
                context=context,
            )
        )
    _close_scope(done, ScopeOutcome.SHIPPED)
    moved: list[tuple[Feature, Release | None]] = []
    for item in items:
        if item.state != ScopeState.DONE:
            _move(item, move_unfinished_to, actor=actor)
            moved.append((item.feature, move_unfinished_to))

    now = timezone.now()
    notes_generated = not release.notes.strip()
    _publish(release, actor=actor, generated=generated)
    _record_status(release, ReleaseStatus.RELEASED, actor=actor, reason=reason if force else "")
    release.shipped_at = now
    release.shipped_on = timezone.localdate(now)
    release.save(update_fields=["status", "status_changed_at", "shipped_at", "shipped_on", "updated_at"])
    if force:
        audit_record(
            workspace=release.workspace,
            actor=actor,
            action=AuditEvent.Action.STATE_CHANGED,
            target=release,
            changes={
                "forced": True,
                "reason": reason,
                "must_haves_unfinished": _feature_refs(i.feature for i in unfinished_must),
            },
        )
    event, _ = event_record(
        workspace=release.workspace,
        kind=Event.Kind.RELEASE_SHIPPED,
        subject=release,
        occurred_at=now,
        payload={
            "release": {
                "id": release.pk,
                "public_id": str(release.public_id),
                "name": release.name,
                "version": release.version,
                "product": {"id": release.product_id, "name": release.product.name},
                "is_public": release.is_public,
                "shipped_on": release.shipped_on.isoformat(),
            },
            "features": [
                {
                    "id": item.feature_id,
                    "title": item.feature.title,
                    "public_title": item.feature.public_title,
                    "change_type": item.change_type,
                }
                for item in done
            ],
            "moved": [
                {"id": feature.pk, "title": feature.title, "to_release": target.pk if target else None}
                for feature, target in moved
            ],
            "forced": force,
        },
    )
    return ShipResult(
        release=release,
        shipped=shipped,
        moved=moved,
        event=event,
        forced=force,
        notes_generated=notes_generated,
    )


# --- success metrics --------------------------------------------------------------------------------


def _metric_values(workspace: Workspace, data: Mapping[str, Any]) -> dict[str, Any]:
    values = {
        key: data[key]
        for key in ("release", "feature", "name", "unit", "baseline", "target", "review_date", "key_result")
        if key in data
    }
    _check_same_workspace(
        workspace,
        release=values.get("release"),
        feature=values.get("feature"),
        key_result=values.get("key_result"),
    )
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        if not values["name"]:
            raise ValidationFailed("This field may not be blank.", attr="name", code="blank")
    if "review_date" in values:
        if values["review_date"] is None:
            raise ValidationFailed("This field may not be null.", attr="review_date", code="null")
        check_planning_date(values["review_date"], attr="review_date")
    return values


@transaction.atomic
def success_metric_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> SuccessMetric:
    """A metric of a release or a feature: baseline, target and review date."""
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    values = _metric_values(workspace, data)
    for attr in ("name", "baseline", "target", "review_date"):
        if values.get(attr) in (None, ""):
            raise ValidationFailed("This field is required.", attr=attr, code="required")
    if values.get("release") is None and values.get("feature") is None:
        raise ValidationFailed(
            "Name the release or the feature it measures.", attr="release", code="required"
        )
    metric = SuccessMetric(workspace=workspace, **values)
    constraints_check(metric)
    _save(metric)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=metric,
        changes={k: _plain(v) for k, v in values.items()},
    )
    return metric


@transaction.atomic
def success_metric_update(
    *, metric: SuccessMetric, actor: User | None, data: Mapping[str, Any]
) -> SuccessMetric:
    require_role(workspace=metric.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    values = _metric_values(
        metric.workspace, {k: v for k, v in data.items() if k not in ("release", "feature")}
    )
    if "reviewed" in data:
        values["reviewed_at"] = timezone.now() if data["reviewed"] else None
    for attr, value in values.items():
        setattr(metric, attr, value)
    constraints_check(metric)
    metric.refresh_from_db()
    return _update(
        metric,
        actor=actor,
        data=values,
        fields=["name", "unit", "baseline", "target", "review_date", "key_result", "reviewed_at"],
    )[0]


@transaction.atomic
def success_metric_delete(*, metric: SuccessMetric, actor: User | None) -> None:
    require_role(workspace=metric.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    audit_deletion(workspace=metric.workspace, actor=actor, instance=metric)
    metric.delete()


@transaction.atomic
def metric_actual_record(
    *,
    metric: SuccessMetric,
    actor: User | None,
    value: Decimal,
    recorded_on: date | None = None,
    note: str = "",
) -> MetricActual:
    """Record a measured value of the metric (contributors and up)."""
    require_role(workspace=metric.workspace, user=actor, role=Role.CONTRIBUTOR)
    recorded_on = recorded_on or timezone.localdate()
    check_planning_date(recorded_on, attr="recorded_on")
    if recorded_on > timezone.localdate() + timedelta(days=1):
        raise ValidationFailed(
            "An actual cannot be recorded in the future.", attr="recorded_on", code="in_future"
        )
    note = (note or "").strip()
    if len(note) > 200:
        raise ValidationFailed("At most 200 characters.", attr="note", code="max_length")
    actual = MetricActual.objects.create(
        workspace_id=metric.workspace_id,
        metric=metric,
        value=value,
        recorded_on=recorded_on,
        note=note,
        actor=actor,
    )
    audit_record(
        workspace=metric.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=actual,
        changes={"metric": metric.pk, "value": str(value), "recorded_on": recorded_on.isoformat()},
    )
    return actual
