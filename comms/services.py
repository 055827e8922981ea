"""Writes of comms: stakeholders, subscriptions and the workspace's comms settings.

Digests (``comms.digests``), close-the-loop notices (``comms.loop``) and outgoing webhooks
(``comms.webhooks``) have their own modules; every message goes through the outbox
(``productops.outbox``). Team-side writes need product manager or higher (settings: admin).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from comms import schedule
from comms.models import (
    TARGET_FIELDS,
    Audience,
    Cadence,
    Channel,
    CommsSettings,
    Stakeholder,
    StakeholderKind,
    Subscription,
)
from productops.errors import NotFound, ValidationFailed
from productops.models import AuditEvent, Role, User, Workspace
from productops.outbox.http import check_url
from productops.services import (
    audit_deletion,
    audit_record,
    check_member,
    check_same_workspace,
    constraint_errors_register,
    integrity_error,
    model_update,
    require_role,
)

constraint_errors_register(
    {
        "stakeholder_email_unique": (
            "email",
            "unique",
            "A stakeholder with this e-mail address already exists.",
        ),
        "subscription_one_target": (None, "one_target", "Follow exactly one thing."),
        "subscription_hour_range": ("local_hour", "out_of_range", "Ensure this value is between 0 and 23."),
        "subscription_weekday_range": ("weekday", "out_of_range", "Ensure this value is between 1 and 7."),
        "subscription_slack_has_url": ("slack_url", "required", "A Slack subscription needs a Slack URL."),
    }
)

SETTINGS_FIELDS = ["notify_imported_contacts", "digest_rank_moves"]
SUBSCRIPTION_FIELDS = ["channel", "slack_url", "cadence", "time_zone", "local_hour", "weekday", "is_active"]


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _save(instance) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        error = integrity_error(exc)
        if error is None:
            raise
        raise error from None


def _clean_email(email: Any, *, attr: str = "email") -> str:
    email = str(email or "").strip().lower()
    if not email:
        raise ValidationFailed("This field is required.", attr=attr, code="required")
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("Enter a valid e-mail address.", attr=attr, code="invalid") from None
    return email


def _choice(value: Any, choices: type, attr: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(f"{value!r} is not a valid choice.", attr=attr, code="invalid_choice")
    return value


# --- settings --------------------------------------------------------------------------


def comms_settings_for(workspace: Workspace) -> CommsSettings:
    row, _ = CommsSettings.objects.get_or_create(workspace=workspace)
    return row


@transaction.atomic
def comms_settings_update(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> CommsSettings:
    """Consent for imported contacts and how many rank moves digests explain (admin)."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    comms_settings_for(workspace)
    row = CommsSettings.objects.select_for_update().get(workspace=workspace)
    values = {k: v for k, v in data.items() if k in SETTINGS_FIELDS}
    if "digest_rank_moves" in values:
        moves = values["digest_rank_moves"]
        if not isinstance(moves, int) or isinstance(moves, bool) or not 1 <= moves <= 50:
            raise ValidationFailed(
                "Ensure this value is between 1 and 50.", attr="digest_rank_moves", code="out_of_range"
            )
    try:
        row, changes = model_update(instance=row, fields=SETTINGS_FIELDS, data=values)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=None if field == "__all__" else field) from None
    if changes:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=row,
            changes={k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items()},
        )
    return row


# --- stakeholders ----------------------------------------------------------------------


@transaction.atomic
def stakeholder_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Stakeholder:
    """A stakeholder: ``kind`` member (``user``, a member of the workspace), contact
    (``contact``, a customer contact of the workspace) or external (``email``), with an
    ``audience``. Made by the team, so confirmed at once."""
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    kind = _choice(data.get("kind") or StakeholderKind.EXTERNAL, StakeholderKind, "kind")
    audience = _choice(data.get("audience"), Audience, "audience")
    user, contact = data.get("user"), data.get("contact")
    if kind == StakeholderKind.MEMBER:
        if user is None:
            raise ValidationFailed("This field is required.", attr="user", code="required")
        check_member(workspace, "user", user)
        email = _clean_email(user.email, attr="user")
        contact = None
    elif kind == StakeholderKind.CONTACT:
        if contact is None:
            raise ValidationFailed("This field is required.", attr="contact", code="required")
        check_same_workspace(workspace, contact=contact)
        email = _clean_email(contact.email, attr="contact")
        user = None
    else:
        email = _clean_email(data.get("email"))
        user = contact = None
    name = str(data.get("name") or "").strip()[:200]
    if not name:
        name = (user.get_full_name() or user.get_username()) if user else (contact.name if contact else "")
    stakeholder = Stakeholder(
        workspace=workspace,
        kind=kind,
        user=user,
        contact=contact,
        email=email,
        name=name,
        audience=audience,
        confirmed_at=timezone.now(),
    )
    if Stakeholder.objects.filter(workspace=workspace, email__iexact=email).exists():
        raise ValidationFailed(
            "A stakeholder with this e-mail address already exists.", attr="email", code="unique"
        )
    _save(stakeholder)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=stakeholder,
        changes={"kind": kind, "audience": audience, "email": email},
    )
    return stakeholder


@transaction.atomic
def stakeholder_update(
    *, stakeholder: Stakeholder, actor: User | None, data: Mapping[str, Any]
) -> Stakeholder:
    """Rename, change the audience, the address of an external stakeholder, or resubscribe
    (``unsubscribed``: false) one who unsubscribed."""
    require_role(workspace=stakeholder.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = str(data["name"] or "").strip()[:200]
    if "audience" in data:
        values["audience"] = _choice(data["audience"], Audience, "audience")
    if "email" in data:
        if stakeholder.kind != StakeholderKind.EXTERNAL:
            raise ValidationFailed(
                "A member's or contact's address is theirs; edit it there.", attr="email", code="read_only"
            )
        values["email"] = _clean_email(data["email"])
        if (
            Stakeholder.objects.filter(workspace_id=stakeholder.workspace_id, email__iexact=values["email"])
            .exclude(pk=stakeholder.pk)
            .exists()
        ):
            raise ValidationFailed(
                "A stakeholder with this e-mail address already exists.", attr="email", code="unique"
            )
    if data.get("unsubscribed") is False and stakeholder.unsubscribed_at is not None:
        values["unsubscribed_at"] = None
    stakeholder, changes = model_update(
        instance=stakeholder, fields=["name", "audience", "email", "unsubscribed_at"], data=values
    )
    if changes:
        audit_record(
            workspace=stakeholder.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=stakeholder,
            changes={k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items()},
        )
    return stakeholder


@transaction.atomic
def stakeholder_delete(*, stakeholder: Stakeholder, actor: User | None) -> None:
    require_role(workspace=stakeholder.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    audit_deletion(workspace=stakeholder.workspace, actor=actor, instance=stakeholder)
    stakeholder.delete()


@transaction.atomic
def stakeholder_unsubscribe(*, stakeholder: Stakeholder, at: datetime | None = None) -> Stakeholder:
    """The stakeholder's own one-click unsubscribe (from a signed link): nothing more is
    e-mailed to them; idempotent."""
    if stakeholder.unsubscribed_at is None:
        stakeholder.unsubscribed_at = at or timezone.now()
        stakeholder.save(update_fields=["unsubscribed_at", "updated_at"])
        audit_record(
            workspace=stakeholder.workspace,
            actor=None,
            action=AuditEvent.Action.UPDATED,
            target=stakeholder,
            changes={"unsubscribed_at": [None, stakeholder.unsubscribed_at.isoformat()], "via": "link"},
        )
    return stakeholder


# --- subscriptions ---------------------------------------------------------------------


def _target(workspace: Workspace, data: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly one of :data:`TARGET_FIELDS`; another workspace's object is not found (404)."""
    given = {name: data.get(name) for name in TARGET_FIELDS if data.get(name) is not None}
    if len(given) != 1:
        raise ValidationFailed(
            "Follow exactly one of: " + ", ".join(TARGET_FIELDS) + ".", attr=None, code="one_target"
        )
    ((name, obj),) = given.items()
    owner = obj.pk if name == "target_workspace" else getattr(obj, "workspace_id", None)
    if owner != workspace.pk:
        raise NotFound("Not found.", attr=name, code="not_found")
    return {field: (given.get(field)) for field in TARGET_FIELDS}


def _schedule_values(data: Mapping[str, Any], current: Subscription | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "channel" in data or current is None:
        values["channel"] = _choice(data.get("channel") or Channel.EMAIL, Channel, "channel")
    if "cadence" in data or current is None:
        values["cadence"] = _choice(data.get("cadence") or Cadence.WEEKLY, Cadence, "cadence")
    if "time_zone" in data or current is None:
        values["time_zone"] = schedule.check_time_zone(data.get("time_zone") or "UTC")
    for attr, low, high, default in (("local_hour", 0, 23, 9), ("weekday", 1, 7, 1)):
        if attr in data or current is None:
            value = data.get(attr, default)
            if value is None:
                value = default
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValidationFailed(
                    f"Ensure this value is between {low} and {high}.", attr=attr, code="out_of_range"
                )
            values[attr] = value
    if "is_active" in data:
        values["is_active"] = bool(data["is_active"])
    channel = values.get("channel", current.channel if current else Channel.EMAIL)
    if "slack_url" in data or "channel" in values:
        url = str(data.get("slack_url", current.slack_url if current else "") or "").strip()
        if channel == Channel.SLACK:
            if not url:
                raise ValidationFailed(
                    "A Slack subscription needs a Slack URL.", attr="slack_url", code="required"
                )
            url = check_url(url, attr="slack_url", slack=True)
        else:
            url = ""
        values["slack_url"] = url
    return values


def subscription_next_due(subscription: Subscription, *, after: datetime) -> datetime | None:
    """The next digest instant after ``after`` (None for immediate or inactive subscriptions)."""
    if not subscription.is_active or subscription.cadence == Cadence.IMMEDIATE:
        return None
    return schedule.next_instant(
        subscription.cadence,
        after,
        time_zone=subscription.time_zone,
        hour=subscription.local_hour,
        weekday=subscription.weekday,
    )


@transaction.atomic
def subscription_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Subscription:
    """``stakeholder`` follows exactly one thing through ``channel`` at ``cadence``; digests
    at ``local_hour`` (0–23) in ``time_zone`` (IANA), weekly on ISO ``weekday`` (1–7)."""
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    stakeholder = data.get("stakeholder")
    if stakeholder is None:
        raise ValidationFailed("This field is required.", attr="stakeholder", code="required")
    if stakeholder.workspace_id != workspace.pk:
        raise NotFound("Not found.", attr="stakeholder", code="not_found")
    return _subscription_create(workspace=workspace, actor=actor, stakeholder=stakeholder, data=data)


def _subscription_create(
    *, workspace: Workspace, actor: User | None, stakeholder: Stakeholder, data: Mapping[str, Any]
) -> Subscription:
    targets = _target(workspace, data)
    values = _schedule_values(data)
    now = timezone.now()
    subscription = Subscription(
        workspace=workspace, stakeholder=stakeholder, digest_through=now, **targets, **values
    )
    subscription.next_due_at = subscription_next_due(subscription, after=now)
    _save(subscription)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=subscription,
        changes={
            "stakeholder": stakeholder.pk,
            "follows": subscription.target_label(),
            **{k: _plain(v) for k, v in values.items()},
        },
    )
    return subscription


@transaction.atomic
def subscription_update(
    *, subscription: Subscription, actor: User | None, data: Mapping[str, Any], self_service: bool = False
) -> Subscription:
    """Change the channel, cadence or schedule (the next digest is rescheduled); the target
    is fixed (delete and subscribe again to follow something else)."""
    if not self_service:  # the stakeholder's own preference link carries no user
        require_role(workspace=subscription.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    values = _schedule_values(data, current=subscription)
    subscription, changes = model_update(instance=subscription, fields=SUBSCRIPTION_FIELDS, data=values)
    if changes:
        due = subscription_next_due(subscription, after=timezone.now())
        if due != subscription.next_due_at:
            subscription.next_due_at = due
            subscription.save(update_fields=["next_due_at"])
        audit_record(
            workspace=subscription.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=subscription,
            changes={k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items()},
        )
    return subscription


@transaction.atomic
def subscription_delete(*, subscription: Subscription, actor: User | None) -> None:
    require_role(workspace=subscription.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    audit_deletion(workspace=subscription.workspace, actor=actor, instance=subscription)
    subscription.delete()


# --- the stakeholder's own preference page (signed link, no login) ------------------------


@transaction.atomic
def preferences_update(*, stakeholder: Stakeholder, data: Mapping[str, Any]) -> Stakeholder:
    """What a stakeholder changes from their e-mail's preference link: the cadence of each
    of their subscriptions (``cadences``: {subscription id: cadence}; "off" deactivates it)
    and whether they get e-mail at all (``unsubscribed``). Only their own subscriptions."""
    cadences = data.get("cadences") or {}
    own = {s.pk: s for s in Subscription.objects.filter(stakeholder=stakeholder).select_related("workspace")}
    for raw_id, cadence in cadences.items():
        subscription = own.get(int(raw_id))
        if subscription is None:
            raise NotFound("Not found.", attr="cadences", code="not_found")
        if cadence == "off":
            values: dict[str, Any] = {"is_active": False}
        else:
            values = {"cadence": _choice(cadence, Cadence, "cadences"), "is_active": True}
        subscription_update(subscription=subscription, actor=None, data=values, self_service=True)
    if data.get("unsubscribed") is True:
        stakeholder_unsubscribe(stakeholder=stakeholder)
    elif data.get("unsubscribed") is False and stakeholder.unsubscribed_at is not None:
        stakeholder.unsubscribed_at = None
        stakeholder.save(update_fields=["unsubscribed_at", "updated_at"])
        audit_record(
            workspace=stakeholder.workspace,
            actor=None,
            action=AuditEvent.Action.UPDATED,
            target=stakeholder,
            changes={"unsubscribed_at": ["set", None], "via": "preferences link"},
        )
    return stakeholder
