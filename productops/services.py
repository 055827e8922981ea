"""Writes of the platform core. Every function is keyword-only, transactional,
validating and audited, and returns the model it wrote.

Other apps use :func:`audit_record`, :func:`model_update` and :func:`require_role`
from here rather than re-implementing them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, router, transaction
from django.db.models import OuterRef, Subquery
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from productops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from productops.models import (
    ROLE_RANK,
    ApiToken,
    AuditEvent,
    Event,
    Heartbeat,
    Invitation,
    Membership,
    Role,
    User,
    Workspace,
    WorkspaceDeletion,
)
from productops.tasking import enqueue_on_commit

logger = logging.getLogger(__name__)

INVITATION_SALT = "productops.invitation"
TOKEN_PREFIX = "po_"  # noqa: S105 (a public prefix, not a secret)
# A token's last-used time is written at most this often, so authenticated
# requests do not each cost a write.
TOKEN_LAST_USED_RESOLUTION_SECONDS = 60


# --- Shared building blocks -------------------------------------------------


#: Who "the system" is for writes made with ``actor=None``: the system itself, or a staff
#: operator working in the admin console (set per request by ``audit_as_operator``).
_system_actor_label: ContextVar[str] = ContextVar("audit_system_actor_label", default="system")


@contextmanager
def audit_as_operator(user: User) -> Iterator[None]:
    """Inside the block, writes made as the system are audited as this staff operator
    (``operator:<username>``), so the log says who used the admin console."""
    token = _system_actor_label.set(f"operator:{user.get_username()}"[:150])
    try:
        yield
    finally:
        _system_actor_label.reset(token)


def _actor_label(actor: User | None) -> str:
    if actor is None:
        return _system_actor_label.get()
    return actor.get_username()


def audit_record(
    *,
    workspace: Workspace,
    actor: User | None,
    action: str,
    target: models.Model,
    changes: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call inside the service's transaction."""
    meta = target._meta
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=actor,
        actor_label=_actor_label(actor),
        action=action,
        target_type=f"{meta.app_label}.{meta.model_name}",
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        changes=dict(changes or {}),
    )


def event_record(
    *,
    workspace: Workspace,
    kind: str,
    subject: models.Model,
    payload: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> tuple[Event, bool]:
    """Append one event in the caller's transaction; (event, created).

    A kind recorded once per subject (``release.shipped``) that is already there returns
    the existing row and ``created=False``, in a savepoint, so a concurrent second
    recorder never aborts the caller's transaction.
    """
    if kind not in Event.Kind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    meta = subject._meta
    fields = {
        "kind": kind,
        "subject_type": f"{meta.app_label}.{meta.model_name}",
        "subject_id": str(subject.pk),
    }
    try:
        with transaction.atomic():
            event = Event.objects.create(
                workspace=workspace,
                payload=dict(payload or {}),
                occurred_at=occurred_at or timezone.now(),
                **fields,
            )
    except IntegrityError:
        existing = Event.objects.filter(workspace=workspace, **fields).first()
        if existing is None:
            raise
        return existing, False
    _dispatch_events_on_commit()
    return event, True


def events_record_many(
    *, workspace: Workspace, kind: str, rows: Iterable[tuple[models.Model, Mapping[str, Any]]]
) -> int:
    """Append one event per ``(subject, payload)`` in one ``INSERT`` (bulk ingestion), in the
    caller's transaction; for kinds without a once-per-subject constraint. Returns how many."""
    if kind not in Event.Kind.values or kind == Event.Kind.RELEASE_SHIPPED:
        raise ValueError(f"kind {kind!r} cannot be recorded in bulk")
    now = timezone.now()
    events = [
        Event(
            workspace=workspace,
            kind=kind,
            subject_type=f"{subject._meta.app_label}.{subject._meta.model_name}",
            subject_id=str(subject.pk),
            payload=dict(payload),
            occurred_at=now,
        )
        for subject, payload in rows
    ]
    if events:
        Event.objects.bulk_create(events, batch_size=500)
        _dispatch_events_on_commit()
    return len(events)


#: Consumers of the event table (comms registers one in ``AppConfig.ready``). Each keeps
#: its own cursor and is safe to call twice; beat's sweep calls them too.
_event_consumers: list[Any] = []


def event_consumers_register(consumer: Any) -> None:
    if consumer not in _event_consumers:
        _event_consumers.append(consumer)


def events_dispatch() -> dict[str, int]:
    """Run every registered consumer over the events it has not handled; one consumer's
    failure is logged and does not stop the others."""
    results: dict[str, int] = {}
    for consumer in list(_event_consumers):
        name = getattr(consumer, "__qualname__", repr(consumer))
        try:
            results[name] = consumer() or 0
        except Exception:
            logger.exception("event consumer %s failed; beat's sweep retries it", name)
    return results


def _dispatch_events_on_commit() -> None:
    """One dispatch task per transaction, however many events it records."""
    from productops import tasks

    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        enqueue_on_commit(tasks.events_dispatch)
        return
    marker = "_productops_events_dispatch"
    pending = getattr(connection, marker, None)
    if pending is not None and any(pending is hook for _, hook, _ in connection.run_on_commit):
        return

    def send() -> None:
        tasks.events_dispatch.apply_async()

    send.__qualname__ = "enqueue productops.tasks.events_dispatch"
    setattr(connection, marker, send)
    transaction.on_commit(send, robust=True)


def audit_record_many(
    *,
    workspace: Workspace,
    actor: User | None,
    action: str,
    targets: Iterable[models.Model],
    changes: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit event per target in a single INSERT (bulk writes)."""
    label = _actor_label(actor)
    events = [
        AuditEvent(
            workspace=workspace,
            actor=actor,
            actor_label=label,
            action=action,
            target_type=f"{target._meta.app_label}.{target._meta.model_name}",
            target_id=str(target.pk),
            target_repr=str(target)[:200],
            changes=dict(changes or {}),
        )
        for target in targets
    ]
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    return len(events)


#: Models (``app_label.model_name``) whose rows other deletions cascade to and which the API
#: lists, so their deletions must be in the audit log too (the tombstones read it). Apps
#: register theirs with :func:`cascade_audited_register`.
CASCADE_AUDITED: set[str] = set()


def cascade_audited_register(*labels: str) -> None:
    CASCADE_AUDITED.update(labels)


def _label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _whole(rows: list[models.Model]) -> list[models.Model]:
    """``rows`` (in their order) loaded whole with their parents, one query per model: the
    collector loads cascaded rows with only the columns a delete needs, so each row's
    ``__str__`` (the audit's ``target_repr``) would otherwise load its fields and parent
    row by row."""
    pks_by_model: dict[type[models.Model], list[Any]] = {}
    for row in rows:
        pks_by_model.setdefault(type(row), []).append(row.pk)
    loaded: dict[tuple[type[models.Model], Any], models.Model] = {}
    for model, pks in pks_by_model.items():
        parents = [field.name for field in model._meta.concrete_fields if field.many_to_one]
        for row in model._base_manager.filter(pk__in=pks).select_related(*parents):
            loaded[(model, row.pk)] = row
    return [loaded.get((type(row), row.pk), row) for row in rows]


def audit_deletion(
    *,
    workspace: Workspace,
    actor: User | None,
    instance: models.Model,
    changes: Mapping[str, Any] | None = None,
) -> int:
    """Audit the deletion of ``instance`` and of the rows of ``CASCADE_AUDITED`` models the
    delete will cascade to. Call right before deleting, in the same transaction; returns
    the number of cascaded rows recorded."""
    audit_record(
        workspace=workspace, actor=actor, action=AuditEvent.Action.DELETED, target=instance, changes=changes
    )
    collector = Collector(using=router.db_for_write(type(instance)))
    collector.collect([instance])
    cascaded: list[models.Model] = []
    for model, rows in collector.data.items():
        if _label(model) in CASCADE_AUDITED and model is not type(instance):
            cascaded.extend(rows)
    for queryset in collector.fast_deletes:
        if _label(queryset.model) in CASCADE_AUDITED:
            cascaded.extend(queryset.iterator())
    if cascaded:
        audit_record_many(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.DELETED,
            targets=_whole(cascaded),
            changes={"deleted_with": f"{_label(type(instance))}#{instance.pk}"},
        )
    return len(cascaded)


#: Constraint name → (field, code, message) of the field error a violation of it is, so a
#: uniqueness or range constraint never answers with its own name. Apps add theirs with
#: :func:`constraint_errors_register`; an unregistered one is a non-field ``invalid``.
CONSTRAINT_ERRORS: dict[str, tuple[str | None, str, str]] = {}


def constraint_errors_register(errors: Mapping[str, tuple[str | None, str, str]]) -> None:
    CONSTRAINT_ERRORS.update(errors)


def constraint_error(name: str, default_detail: str) -> ValidationFailed:
    attr, code, detail = CONSTRAINT_ERRORS.get(name, (None, "invalid", default_detail))
    return ValidationFailed(detail, attr=attr, code=code)


def constraints_check(instance: models.Model, *, exclude: Iterable[str] | None = None) -> None:
    """The model's unique and check constraints, one at a time; the first one violated is a
    ``ValidationFailed`` naming its field (``CONSTRAINT_ERRORS``)."""
    exclude = set(exclude or ())
    for constraint in instance._meta.constraints:
        try:
            constraint.validate(type(instance), instance, exclude=exclude)
        except DjangoValidationError as exc:
            raise constraint_error(constraint.name, exc.messages[0]) from None


def integrity_error(exc: IntegrityError) -> ValidationFailed | None:
    """The field error for a constraint a concurrent write violated, if it is a registered one."""
    message = str(exc)
    for name in CONSTRAINT_ERRORS:
        if name in message:
            return constraint_error(name, message)
    return None


def model_update(
    *, instance: models.Model, fields: Iterable[str], data: Mapping[str, Any]
) -> tuple[models.Model, dict[str, list[Any]]]:
    """Set the given ``fields`` present in ``data`` and save only what changed.

    Returns the instance and ``{field: [old, new]}`` of what changed, for the audit log.
    """
    changes: dict[str, list[Any]] = {}
    for field in fields:
        if field not in data:
            continue
        old = getattr(instance, field)
        new = data[field]
        if old != new:
            setattr(instance, field, new)
            changes[field] = [old, new]
    if changes:
        update_fields = list(changes)
        if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
            update_fields.append("updated_at")
        # Field checks for what changed; unique and check constraints in full,
        # since one spanning a changed and an unchanged field must hold too.
        instance.full_clean(
            exclude=[f.name for f in instance._meta.fields if f.name not in changes],
            validate_unique=False,
            validate_constraints=False,
        )
        instance.validate_unique()
        constraints_check(instance)
        try:
            with transaction.atomic():
                instance.save(update_fields=update_fields)
        except IntegrityError as exc:  # a concurrent write took the name first
            error = integrity_error(exc)
            if error is None:
                raise
            raise error from None
    return instance, changes


def membership_for(*, workspace: Workspace, user: User) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(workspace=workspace, user=user).first()


def check_same_workspace(workspace: Workspace, **related: models.Model | None) -> None:
    """Each given related object (None passes) belongs to ``workspace``; else a field error
    ``does_not_exist`` naming it (another workspace's object is not found)."""
    for attr, obj in related.items():
        if obj is not None and getattr(obj, "workspace_id", None) != workspace.pk:
            raise ValidationFailed("Not found in this workspace.", attr=attr, code="does_not_exist")


def check_member(workspace: Workspace, attr: str, user: User | None) -> None:
    """``user`` (None passes) is a member of ``workspace``; else a field error on ``attr``."""
    if user is not None and not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationFailed("Not a member of this workspace.", attr=attr, code="does_not_exist")


def require_role(*, workspace: Workspace, user: User | None, role: Role) -> Membership | None:
    """Check that ``user`` holds at least ``role`` in ``workspace``.

    ``user=None`` is the system (management commands, tasks) and always passes.
    A non-member gets NotFound, so the workspace's existence is not revealed.
    """
    if user is None:
        return None
    membership = membership_for(workspace=workspace, user=user)
    if membership is None:
        raise NotFound("Workspace not found.")
    if ROLE_RANK[membership.role] < ROLE_RANK[role]:
        raise Forbidden(f"This needs the {Role(role).label} role or higher.")
    return membership


# --- Workspaces -------------------------------------------------------------


@transaction.atomic
def workspace_create(*, name: str, owner: User, slug: str = "") -> Workspace:
    """Create a workspace with ``owner`` as its first owner."""
    name = name.strip()
    if not name:
        raise ValidationFailed("Name is required.", attr="name", code="required")
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationFailed("Slug must contain letters or digits.", attr="slug")
    try:
        # A savepoint, so a lost race on the unique slug leaves the outer
        # transaction usable and becomes a 400 rather than a 500.
        with transaction.atomic():
            workspace = Workspace.objects.create(name=name, slug=slug)
    except IntegrityError:
        raise ValidationFailed(f"The slug {slug!r} is taken.", attr="slug", code="unique") from None
    membership = Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    audit_record(
        workspace=workspace,
        actor=owner,
        action=AuditEvent.Action.CREATED,
        target=workspace,
        changes={"name": name, "slug": slug},
    )
    audit_record(
        workspace=workspace,
        actor=owner,
        action=AuditEvent.Action.CREATED,
        target=membership,
        changes={"role": Role.OWNER},
    )
    return workspace


@transaction.atomic
def workspace_update(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Workspace:
    """Rename the workspace, set the currency money is added up in and the rates of the
    others, or the origins that may embed its public board and changelog (admins). A
    currency some companies' ARR is in keeps a rate: removing it is a 400. A currency
    change tells the registered listeners (the priority engine re-scores). The embed
    origins are checked by :func:`embed_origins_clean`; on any error nothing is written."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    values = dict(data)
    if "name" in values and not str(values["name"]).strip():
        raise ValidationFailed("Name is required.", attr="name", code="required")
    if "embed_origins" in values:
        values["embed_origins"] = embed_origins_clean(values["embed_origins"])
    if "reporting_currency" in values:
        values["reporting_currency"] = _currency_code(values["reporting_currency"], attr="reporting_currency")
    if "currency_rates" in values:
        values["currency_rates"] = _currency_rates(values["currency_rates"])
    if {"reporting_currency", "currency_rates"} & set(values):
        reporting = values.get("reporting_currency", workspace.reporting_currency)
        rates = values.get("currency_rates", workspace.currency_rates or {})
        rates = {code: rate for code, rate in rates.items() if code != reporting}
        values["currency_rates"] = rates
        in_use: set[str] = set()
        for provider in CURRENCY_USERS:
            in_use |= provider(workspace=workspace)
        missing = sorted(in_use - set(rates) - {reporting})
        if missing:
            raise ValidationFailed(
                f"Companies have ARR in {', '.join(missing)}: give {'its' if len(missing) == 1 else 'their'} "
                f"rate to {reporting}.",
                attr=f"currency_rates.{missing[0]}",
                code="currency_rate_missing",
            )
    workspace, changes = model_update(
        instance=workspace,
        fields=["name", "reporting_currency", "currency_rates", "embed_origins"],
        data=values,
    )
    if changes:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=workspace,
            changes=changes,
        )
    if {"reporting_currency", "currency_rates"} & set(changes):
        for listener in CURRENCY_LISTENERS:
            listener(workspace=workspace)
    return workspace


#: Callables ``(workspace=) -> set of currency codes`` in use by an app (feedback: ARR).
CURRENCY_USERS: list[Any] = []
#: Callables ``(workspace=)`` run in the transaction of a currency change (the engine re-scores).
CURRENCY_LISTENERS: list[Any] = []
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_RATE = Decimal(1_000_000_000)


#: At most this many origins may embed a workspace's public pages.
EMBED_ORIGINS_MAX = 20
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EMBED_ORIGIN = re.compile(
    rf"(?P<scheme>https?)://(?P<host>{_HOST_LABEL}(?:\.{_HOST_LABEL})*)(?::(?P<port>[0-9]{{1,5}}))?/?"
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})


def embed_origins_clean(value: Any) -> list[str]:
    """The origins allowed to frame the public board and changelog, normalised: a list of
    at most ``EMBED_ORIGINS_MAX`` strings ``https://host[:port]`` (case folded, a trailing
    ``/`` dropped, duplicates dropped), else ``ValidationFailed`` naming the item
    (``embed_origins.<index>``).

    Strict, because each one becomes a CSP ``frame-ancestors`` source: no path, query,
    user name, wildcard, IPv6 literal or non-ASCII name (give the punycode form), and
    ``http`` only for ``localhost``/``127.0.0.1`` while ``DEBUG`` is on."""
    if not isinstance(value, list | tuple):
        raise ValidationFailed("A list of origins such as https://example.com.", attr="embed_origins")
    if len(value) > EMBED_ORIGINS_MAX:
        raise ValidationFailed(
            f"At most {EMBED_ORIGINS_MAX} origins.", attr="embed_origins", code="max_length"
        )
    origins: list[str] = []
    for index, raw in enumerate(value):
        attr = f"embed_origins.{index}"
        if not isinstance(raw, str):
            raise ValidationFailed("Must be a string.", attr=attr, code="not_a_string")
        text = raw.strip().lower()
        match = _EMBED_ORIGIN.fullmatch(text) if len(text) <= 300 else None
        if match is None:
            raise ValidationFailed(
                "An origin is https://host or https://host:port, with no path or wildcard.", attr=attr
            )
        scheme, host, port = match["scheme"], match["host"], match["port"]
        if host.replace(".", "").isdigit():
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValidationFailed("Not a valid IPv4 address.", attr=attr) from None
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValidationFailed("A port is 1 to 65535.", attr=attr, code="out_of_range")
        if scheme == "http" and not (settings.DEBUG and host in _LOOPBACK_HOSTS):
            raise ValidationFailed(
                "Only an https:// origin may embed the public pages.", attr=attr, code="https_required"
            )
        origin = f"{scheme}://{host}" + (f":{int(port)}" if port is not None else "")
        if origin not in origins:
            origins.append(origin)
    return origins


def currency_users_register(provider: Any) -> None:
    if provider not in CURRENCY_USERS:
        CURRENCY_USERS.append(provider)


def currency_listeners_register(listener: Any) -> None:
    if listener not in CURRENCY_LISTENERS:
        CURRENCY_LISTENERS.append(listener)


def _currency_code(value: Any, *, attr: str) -> str:
    code = str(value or "").strip().upper()
    if not _CURRENCY.match(code):
        raise ValidationFailed("An ISO 4217 code such as USD.", attr=attr, code="invalid")
    return code


def _currency_rates(value: Any) -> dict[str, str]:
    """``{code: rate}``: one unit of ``code`` is worth ``rate`` of the reporting currency."""
    if not isinstance(value, Mapping):
        raise ValidationFailed("An object of currency code → rate.", attr="currency_rates", code="invalid")
    rates = {}
    for raw_code, raw_rate in value.items():
        code = _currency_code(raw_code, attr=f"currency_rates.{raw_code}")
        try:
            rate = Decimal(str(raw_rate))
        except (InvalidOperation, ValueError):
            raise ValidationFailed(
                "Must be a number.", attr=f"currency_rates.{code}", code="invalid"
            ) from None
        if not rate.is_finite() or not Decimal(0) < rate <= MAX_RATE:
            raise ValidationFailed(
                f"Must be above 0 and at most {MAX_RATE}.", attr=f"currency_rates.{code}", code="out_of_range"
            )
        rates[code] = str(rate.normalize())
    return rates


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor: User | None) -> None:
    """Delete a workspace and everything in it, its audit log included (owners only).

    The audit log goes with the workspace, so the deletion itself is logged to
    the application log for operators.
    """
    require_role(workspace=workspace, user=actor, role=Role.OWNER)
    WorkspaceDeletion.objects.create(workspace_id=workspace.pk)
    logger.warning("Workspace %s (%s) deleted by %s", workspace.pk, workspace.slug, _actor_label(actor))
    workspace_id = workspace.pk
    workspace.delete()
    WorkspaceDeletion.objects.filter(workspace_id=workspace_id).delete()


# --- Members ----------------------------------------------------------------


@transaction.atomic
def membership_add(*, workspace: Workspace, user: User, role: str, actor: User | None) -> Membership:
    """Add an existing user directly (operators, demo data); people join through invitations."""
    if role not in Role.values:
        raise ValidationFailed(f"{role!r} is not a role.", attr="role", code="invalid_choice")
    actor_membership = require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    if role == Role.OWNER and actor_membership is not None and actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can add an owner.")
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Conflict(f"{user.get_username()} is already a member.", code="already_member")
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=membership,
        changes={"user": user.get_username(), "role": role},
    )
    return membership


def _lock_owner_count(workspace: Workspace) -> int:
    # Locking the owners' rows serialises concurrent demotions, so two admins
    # cannot each remove "one of two" owners and leave none.
    return len(
        list(
            Membership.objects.select_for_update()
            .filter(workspace=workspace, role=Role.OWNER)
            .values_list("id", flat=True)
        )
    )


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: User | None) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(f"{role!r} is not a role.", attr="role", code="invalid_choice")
    workspace = membership.workspace
    actor_membership = require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    needs_owner = Role.OWNER in (role, membership.role)
    if needs_owner and actor_membership is not None and actor_membership.role != Role.OWNER:
        raise Forbidden("Only an owner can grant or take away the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _lock_owner_count(workspace) <= 1:
        raise Conflict("A workspace needs at least one owner.", code="last_owner")
    old = membership.role
    membership, changes = model_update(instance=membership, fields=["role"], data={"role": role})
    if changes:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=membership,
            changes={"role": [old, role]},
        )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User | None) -> None:
    """Remove a member; members may remove themselves, admins anyone but owners."""
    workspace = membership.workspace
    if actor is None or actor.pk != membership.user_id:
        actor_membership = require_role(workspace=workspace, user=actor, role=Role.ADMIN)
        if (
            membership.role == Role.OWNER
            and actor_membership is not None
            and actor_membership.role != Role.OWNER
        ):
            raise Forbidden("Only an owner can remove an owner.")
    if membership.role == Role.OWNER and _lock_owner_count(workspace) <= 1:
        raise Conflict("A workspace needs at least one owner.", code="last_owner")
    # Tokens act as their user: leaving the workspace revokes them, and the
    # invitations they sent stop being redeemable.
    now = timezone.now()
    ApiToken.objects.filter(workspace=workspace, user_id=membership.user_id, revoked_at__isnull=True).update(
        revoked_at=now
    )
    revoked = Invitation.objects.filter(
        workspace=workspace,
        invited_by_id=membership.user_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    )
    revoked_ids = list(revoked.values_list("pk", flat=True))
    _invitation_emails_obsolete(workspace=workspace, invitation_ids=revoked_ids)
    revoked.update(revoked_at=now)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.DELETED,
        target=membership,
        changes={"user": membership.user.get_username(), "role": membership.role},
    )
    membership.delete()


# --- Invitations ------------------------------------------------------------


INVITATION_KIND = "workspace.invitation"


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def invitation_link(invitation: Invitation) -> str:
    return f"{settings.PUBLIC_BASE_URL}/invitations/accept/?token={invitation_token(invitation)}"


def invitation_delivery_key(invitation_id: int) -> str:
    """The outbox dedupe key (and ``recipient_ref``) of an invitation's e-mail."""
    return f"invitation:{invitation_id}"


def _invitation_message(invitation: Invitation) -> Any:
    from productops.outbox.services import Message

    inviter = invitation.invited_by.get_username() if invitation.invited_by else "An administrator"
    return Message(
        subject=f"You are invited to {invitation.workspace.name} on productops",
        text=(
            f"{inviter} invited you to join {invitation.workspace.name} as "
            f"{Role(invitation.role).label}.\n\nAccept: {invitation_link(invitation)}\n\n"
            f"The link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
    )


@transaction.atomic
def invitation_create(*, workspace: Workspace, email: str, role: str, actor: User | None) -> Invitation:
    """Invite ``email`` with ``role``. Its e-mail is the outbox delivery ``invitation:<id>``
    (kind ``workspace.invitation``), recorded in this transaction and sent after the commit;
    the outbox's sweeper sends it if that enqueue is lost."""
    from productops.outbox.models import Channel
    from productops.outbox.services import delivery_create

    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationFailed(f"{role!r} is not a role.", attr="role", code="invalid_choice")
    actor_membership = require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    if actor_membership is not None and ROLE_RANK[role] > ROLE_RANK[actor_membership.role]:
        raise Forbidden("You cannot invite someone to a role above your own.")
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member.", code="already_member")
    if Invitation.objects.filter(
        workspace=workspace, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).exists():
        raise Conflict(f"{email} already has a pending invitation.", code="already_invited")
    invitation = Invitation(
        workspace=workspace,
        email=email,
        role=role,
        invited_by=actor,
        expires_at=timezone.now() + settings.INVITATION_MAX_AGE,
    )
    try:
        invitation.full_clean(validate_constraints=False)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=field) from None
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        # Lost a race with an identical invitation.
        raise Conflict(f"{email} already has a pending invitation.", code="already_invited") from None
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=invitation,
        changes={"email": email, "role": role},
    )
    key = invitation_delivery_key(invitation.pk)
    delivery_create(
        workspace=workspace,
        dedupe_key=key,
        kind=INVITATION_KIND,
        channel=Channel.EMAIL,
        recipient=email,
        recipient_ref=key,
        message=_invitation_message(invitation),
    )
    return invitation


def invitation_send_email(*, invitation_id: int) -> dict[str, int]:
    """Send the invitation's delivery now if it is due; the outbox's sender sends it once
    and records the outcome (a sent row is not sent again). Kept for
    ``productops.tasks.invitation_send_email`` messages queued before the outbox."""
    from productops.outbox.models import Delivery
    from productops.outbox.services import outbox_send

    ids = list(
        Delivery.objects.filter(
            dedupe_key=invitation_delivery_key(invitation_id), kind=INVITATION_KIND
        ).values_list("pk", flat=True)
    )
    return outbox_send(ids=ids) if ids else {}


def _invitation_emails_obsolete(*, workspace: Workspace, invitation_ids: Iterable[int]) -> int:
    """Invitations revoked before their e-mail went out: it is not sent (``suppressed``,
    ``obsolete``). A row a sender already holds is left to it."""
    from productops.outbox.models import Delivery, DeliveryState, SuppressedReason

    keys = [invitation_delivery_key(pk) for pk in invitation_ids]
    if not keys:
        return 0
    return Delivery.objects.filter(
        workspace=workspace, kind=INVITATION_KIND, dedupe_key__in=keys, state=DeliveryState.PENDING
    ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=SuppressedReason.OBSOLETE)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None) -> Invitation:
    require_role(workspace=invitation.workspace, user=actor, role=Role.ADMIN)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.", code="already_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _invitation_emails_obsolete(workspace=invitation.workspace, invitation_ids=[invitation.pk])
        audit_record(
            workspace=invitation.workspace,
            actor=actor,
            action=AuditEvent.Action.STATE_CHANGED,
            target=invitation,
            changes={"state": ["pending", "revoked"]},
        )
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Accept an invitation addressed to ``user``'s email; returns the new membership."""
    try:
        invitation_id = signing.loads(token, salt=INVITATION_SALT, max_age=settings.INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationFailed("This invitation has expired.", attr="token", code="expired") from None
    except signing.BadSignature:
        raise ValidationFailed("This invitation link is not valid.", attr="token") from None
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("workspace")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or invitation.revoked_at is not None:
        raise ValidationFailed("This invitation is no longer valid.", attr="token", code="revoked")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted.", code="already_accepted")
    if invitation.expires_at <= timezone.now():
        raise ValidationFailed("This invitation has expired.", attr="token", code="expired")
    if invitation.email.lower() != (user.email or "").lower():
        raise Forbidden("This invitation was sent to another email address.")
    if Membership.objects.filter(workspace=invitation.workspace, user=user).exists():
        raise Conflict("You are already a member of this workspace.", code="already_member")
    membership = Membership.objects.create(workspace=invitation.workspace, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        workspace=invitation.workspace,
        actor=user,
        action=AuditEvent.Action.STATE_CHANGED,
        target=invitation,
        changes={"state": ["pending", "accepted"]},
    )
    audit_record(
        workspace=invitation.workspace,
        actor=user,
        action=AuditEvent.Action.CREATED,
        target=membership,
        changes={"role": invitation.role},
    )
    return membership


@transaction.atomic
def user_create(*, username: str, email: str, password: str) -> User:
    """Create a person's login, checking the username, the e-mail and Django's password validators."""
    from django.contrib.auth.password_validation import validate_password

    username = (username or "").strip()
    email = (email or "").strip().lower()
    user = User(username=username, email=email)
    try:
        user.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=field) from None
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("This username is taken.", attr="username", code="unique")
    if email and User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this e-mail address exists; sign in instead.", code="email_taken")
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), attr="password", code="password_invalid") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationFailed("This username is taken.", attr="username", code="unique") from None
    return user


@transaction.atomic
@sensitive_variables()  # the invitation token and the new password, in every frame below
def invitation_sign_up(*, token: str, username: str, password: str) -> Membership:
    """A visitor without an account accepts an invitation: the login is made for the invited
    address and joins the workspace, both or neither."""
    from productops.selectors import invitation_from_token

    invitation = invitation_from_token(token=token)
    if invitation is None:
        raise ValidationFailed("This invitation link is not valid.", attr="token")
    user = user_create(username=username, email=invitation.email, password=password)
    return invitation_accept(token=token, user=user)


# --- API tokens -------------------------------------------------------------


def token_hash(key: str) -> str:
    # The key carries 256 random bits, so a fast hash is safe here (no
    # dictionary to attack) and keeps the per-request lookup cheap.
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
@sensitive_variables()  # the new key, here and in every frame below (an error report hides them)
def api_token_create(
    *,
    workspace: Workspace,
    user: User,
    name: str,
    scopes: Iterable[str],
    actor: User | None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token acting as ``user`` in ``workspace``.

    Returns the token row and the plain key; the key is not stored and cannot be
    shown again. People create tokens for themselves only; operators create
    them for anyone (``actor=None``, the create_api_token command).
    """
    name = name.strip()
    if not name:
        raise ValidationFailed("Name is required.", attr="name", code="required")
    scopes = sorted(set(scopes))
    if not scopes:
        raise ValidationFailed("Pick at least one scope.", attr="scopes", code="required")
    unknown = [s for s in scopes if s not in ApiToken.Scope.values]
    if unknown:
        raise ValidationFailed(
            f"Unknown scope(s): {', '.join(unknown)}.", attr="scopes", code="invalid_choice"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("Expiry must be in the future.", attr="expires_at")
    if actor is not None and actor.pk != user.pk:
        # A token acts as its user with that user's role; minting one for
        # someone else would let an admin act as an owner.
        raise Forbidden("A token can only be created for yourself.")
    if membership_for(workspace=workspace, user=user) is None:
        raise ValidationFailed("The token's user must be a member of the workspace.", attr="user")
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        workspace=workspace,
        user=user,
        name=name,
        prefix=key[:10],
        key_hash=token_hash(key),
        scopes=scopes,
        expires_at=expires_at,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=token,
        changes={"name": name, "user": user.get_username(), "scopes": scopes},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    if actor is not None and actor.pk != token.user_id:
        require_role(workspace=token.workspace, user=actor, role=Role.ADMIN)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            workspace=token.workspace,
            actor=actor,
            action=AuditEvent.Action.STATE_CHANGED,
            target=token,
            changes={"state": ["active", "revoked"]},
        )
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The active token for ``key`` with its user and workspace, or None.

    Marks the token used (at most once a minute).
    """
    if not key.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    # The member's role in the token's workspace comes in the same statement (two
    # correlated subqueries on the membership's unique key): the API's workspace permission
    # then needs no query of its own (``api_token_membership``).
    membership = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user_id=OuterRef("user_id"))
    token = (
        ApiToken.objects.select_related("user", "workspace")
        .annotate(
            membership_pk=Subquery(membership.values("pk")[:1]),
            membership_role=Subquery(membership.values("role")[:1]),
        )
        .filter(key_hash=token_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or (token.expires_at is not None and token.expires_at <= now):
        return None
    stale_before = now - timedelta(seconds=TOKEN_LAST_USED_RESOLUTION_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale_before:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_membership(token: ApiToken) -> Membership | None:
    """The token's membership of its workspace, from what :func:`api_token_authenticate`
    read (no query), or None when the user is no longer a member. Its other fields
    (``created_at``…) are deferred: reading one loads it."""
    pk = getattr(token, "membership_pk", None)
    if pk is None:
        return None
    membership = Membership.from_db(
        token._state.db,
        ["id", "workspace_id", "user_id", "role"],
        [pk, token.workspace_id, token.user_id, token.membership_role],
    )
    membership.workspace = token.workspace
    membership.user = token.user
    return membership


# --- Operations -------------------------------------------------------------


def heartbeat_record(*, name: str) -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(name=name, defaults={"last_seen_at": timezone.now()})
    return heartbeat
