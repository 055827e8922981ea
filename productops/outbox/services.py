"""Writes of the outbox: record deliveries, claim and send them, retry failed ones.

Contract (docs/reliability.md, "The outbox"):

- :func:`delivery_create` / :func:`deliveries_create` insert rows keyed by ``dedupe_key``;
  the same key in the same workspace is never inserted twice.
- :func:`outbox_send` claims due rows (``pending`` whose ``next_attempt_at`` has come, or
  ``sending`` whose lease has expired) with ``select_for_update(skip_locked=True)``, marks
  them ``sending`` with a lease, commits, then renders (once) and sends each outside any
  lock and records the result. A message in flight when its worker dies is sent again
  after the lease: at least once, never zero times.
- A failed attempt backs off exponentially with jitter; after ``OUTBOX_MAX_ATTEMPTS`` (or
  a permanent error) the row is ``failed`` with its error, until someone retries it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import css_inline
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from productops.errors import Conflict
from productops.models import AuditEvent, Event, Role, User, Workspace
from productops.outbox import transports
from productops.outbox.models import Channel, Delivery, DeliveryState, EmailSuppression, SuppressedReason
from productops.services import audit_record_many, require_role
from productops.tasking import enqueue_on_commit

logger = logging.getLogger(__name__)

CLAIM_BATCH = 50

# Never fetch or read stylesheets named by the HTML (<link href>): css-inline would load
# them over the network or from the server's disk, outside the SSRF guard.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


@dataclass(frozen=True)
class Message:
    """Rendered content. E-mail: subject, text, html (CSS is inlined when stored), headers.
    Slack and webhooks: ``payload`` (posted as JSON, stored byte for byte in ``body_text``)."""

    subject: str = ""
    text: str = ""
    html: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: The renderer inlined the CSS already (a shared rendering, personalised afterwards).
    html_inlined: bool = False


class Suppress(Exception):
    """Raised by a renderer: do not send; record the row ``suppressed`` with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: kind -> renderer(delivery) -> Message, for rows created without content (digests).
_renderers: dict[str, Callable[[Delivery], Message]] = {}
#: kind -> prefetch(deliveries) -> None: loads what a claimed batch's renderers read, at once.
_prefetchers: dict[str, Callable[[list[Delivery]], None]] = {}


def renderer_register(
    kind: str,
    renderer: Callable[[Delivery], Message],
    *,
    prefetch: Callable[[list[Delivery]], None] | None = None,
) -> None:
    """An upper layer renders its own kinds (registered in ``AppConfig.ready``); ``prefetch``,
    if given, is called once per claimed batch with the rows of that kind still to render."""
    _renderers[kind] = renderer
    if prefetch is not None:
        _prefetchers[kind] = prefetch


def max_attempts() -> int:
    return int(getattr(settings, "OUTBOX_MAX_ATTEMPTS", 8))


def lease_seconds() -> int:
    return int(getattr(settings, "OUTBOX_LEASE_SECONDS", 300))


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Wait after the ``attempts``-th failed attempt: 30 s × 2^(attempts−1), capped at 6 h,
    times a jitter in [0.5, 1.0) so a burst of failures does not retry in lockstep."""
    base = min(30 * 2 ** max(attempts - 1, 0), 6 * 60 * 60)
    return base * (0.5 + (rng or random).random() / 2)


def inline_css(html: str) -> str:
    """The HTML with its ``<style>`` rules inlined, as the outbox stores it (no remote or
    local stylesheet is ever loaded)."""
    return _INLINER.inline(html) if html else ""


def _json_body(payload: Mapping[str, Any]) -> str:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _content(channel: str, message: Message) -> dict[str, Any]:
    if channel == Channel.EMAIL:
        html = message.html if message.html_inlined or not message.html else _INLINER.inline(message.html)
        return {
            "subject": " ".join(message.subject.split())[:300],
            "body_text": message.text,
            "body_html": html,
            "headers": dict(message.headers),
            "payload": dict(message.payload),
        }
    return {"payload": dict(message.payload), "body_text": _json_body(message.payload), "headers": {}}


def _row(
    *,
    workspace: Workspace | None,
    dedupe_key: str,
    kind: str,
    channel: str,
    recipient: str,
    recipient_ref: str = "",
    event: Event | None = None,
    message: Message | None = None,
    context: Mapping[str, Any] | None = None,
    suppressed_reason: str = "",
    now: datetime | None = None,
    created_at: datetime | None = None,
) -> Delivery:
    if not dedupe_key:
        raise ValueError("a delivery needs a dedupe_key")
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or timezone.now()
    row = Delivery(
        workspace=workspace,
        dedupe_key=dedupe_key[:200],
        kind=kind,
        channel=channel,
        recipient=recipient[:500],
        recipient_ref=recipient_ref,
        event=event,
        context=dict(context or {}),
        next_attempt_at=now,
        created_at=created_at or now,
    )
    if message is not None:
        for key, value in _content(channel, message).items():
            setattr(row, key, value)
        row.rendered_at = now
    if suppressed_reason:
        row.state = DeliveryState.SUPPRESSED
        row.suppressed_reason = suppressed_reason
    return row


def _enqueue_send() -> None:
    from productops import tasks

    enqueue_on_commit(tasks.outbox_send)


def delivery_create(**kwargs: Any) -> tuple[Delivery, bool]:
    """Record one delivery (see :func:`_row` for the fields); (row, created).

    Idempotent on ``(workspace, dedupe_key)``: a second call returns the first row untouched.
    The send is enqueued after the commit; beat's sweep sends it if that enqueue is lost.
    """
    row = _row(**kwargs)
    lookup = {"workspace": row.workspace, "dedupe_key": row.dedupe_key}
    with transaction.atomic():
        existing = Delivery.objects.filter(**lookup).first()
        if existing is not None:
            return existing, False
        Delivery.objects.bulk_create([row], ignore_conflicts=True)
        saved = Delivery.objects.get(**lookup)
    created = (
        saved.created_at == row.created_at and saved.kind == row.kind and saved.recipient == row.recipient
    )
    if created and saved.state == DeliveryState.PENDING:
        _enqueue_send()
    return saved, created


def deliveries_create(rows: Iterable[Mapping[str, Any]], *, send: bool = True) -> int:
    """Record many deliveries at once (digests, close-the-loop); returns how many were new.

    Conflicting dedupe keys are skipped in the database, so running this twice, or
    concurrently, adds each row once. The rows of one call share one ``created_at``
    stamp (unless given), so "new" is counted as the rows that carry this call's stamp,
    which a concurrent call's committed rows do not."""
    stamp = timezone.now()
    built = [_row(**{"now": stamp, **row}) for row in rows]
    if not built:
        return 0
    added = 0
    with transaction.atomic():
        for start in range(0, len(built), 1000):
            chunk = built[start : start + 1000]
            Delivery.objects.bulk_create(chunk, ignore_conflicts=True)
            added += _inserted(chunk)
    if send and added:
        _enqueue_send()
    return added


def _inserted(chunk: Sequence[Delivery]) -> int:
    """How many of ``chunk``'s rows are in the table as proposed (same key and created_at)."""
    proposed = {(r.workspace_id, r.dedupe_key, r.created_at) for r in chunk}
    by_workspace: dict[int | None, list[str]] = {}
    for workspace_id, key, _ in proposed:
        by_workspace.setdefault(workspace_id, []).append(key)
    found = 0
    for workspace_id, names in by_workspace.items():
        scope = Q(workspace__isnull=True) if workspace_id is None else Q(workspace_id=workspace_id)
        for key, created_at in Delivery.objects.filter(scope, dedupe_key__in=names).values_list(
            "dedupe_key", "created_at"
        ):
            found += (workspace_id, key, created_at) in proposed
    return found


# --- sending ---------------------------------------------------------------------------


def _due(now: datetime) -> Q:
    return Q(state=DeliveryState.PENDING, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, lease_expires_at__lt=now
    )


def deliveries_claim(
    *, limit: int = CLAIM_BATCH, ids: Sequence[int] | None = None, now: datetime | None = None
) -> list[Delivery]:
    """Claim up to ``limit`` due rows for this worker: ``sending``, one more attempt, and a
    lease; rows another sender holds are skipped, not waited for."""
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds())
    cap = max_attempts()
    # A row whose lease ran out on its last allowed attempt (its sender died or hung each
    # time: a message that kills its worker) is failed, not claimed again forever.
    exhausted = Q(state=DeliveryState.SENDING, lease_expires_at__lt=now, attempts__gte=cap)
    with transaction.atomic():
        stale = Delivery.objects.filter(exhausted)
        if ids is not None:
            stale = stale.filter(pk__in=list(ids))
        stale_ids = list(
            stale.select_for_update(skip_locked=True).order_by().values_list("pk", flat=True)[:limit]
        )
        if stale_ids:
            Delivery.objects.filter(exhausted, pk__in=stale_ids).update(
                state=DeliveryState.FAILED,
                lease_expires_at=None,
                last_error=f"The sender's lease expired on attempt {cap} of {cap} (worker died or hung).",
            )
        candidates = Delivery.objects.filter(_due(now)).exclude(exhausted)
        if ids is not None:
            candidates = candidates.filter(pk__in=list(ids))
        picked = list(
            candidates.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not picked:
            return []
        # The due condition again: on SQLite (no row locks) a concurrent sender that claimed
        # a row first makes it not match here.
        Delivery.objects.filter(_due(now), pk__in=picked).exclude(exhausted).update(
            state=DeliveryState.SENDING, lease_expires_at=lease_until, attempts=F("attempts") + 1
        )
        return list(
            Delivery.objects.filter(pk__in=picked, state=DeliveryState.SENDING, lease_expires_at=lease_until)
            .select_related("workspace")
            .order_by("next_attempt_at", "id")
        )


def _finish(row: Delivery, **values: Any) -> bool:
    """Record an outcome only if this worker still holds the row's lease."""
    return bool(
        Delivery.objects.filter(
            pk=row.pk, state=DeliveryState.SENDING, lease_expires_at=row.lease_expires_at
        ).update(lease_expires_at=None, **values)
    )


CONTENT_FIELDS = ["subject", "body_text", "body_html", "headers", "payload", "rendered_at"]


def _rendered(row: Delivery) -> dict[str, Any]:
    renderer = _renderers.get(row.kind)
    if renderer is None:
        raise transports.SendError(f"no renderer for {row.kind!r}", permanent=True)
    values = _content(row.channel, renderer(row))
    values["rendered_at"] = timezone.now()
    return values


def _render(row: Delivery) -> None:
    values = _rendered(row)
    Delivery.objects.filter(pk=row.pk, rendered_at__isnull=True).update(**values)
    for key, value in values.items():
        setattr(row, key, value)


def _prepare(batch: list[Delivery]) -> None:
    """Render a claimed batch's rows that have no content yet and store their content in one
    write (before any of them is attempted), and look their addresses up in the suppression
    list in one query. A renderer's refusal or failure is kept on its row for
    :func:`delivery_attempt` to record; the other rows go on."""
    to_render: dict[str, list[Delivery]] = {}
    for row in batch:
        if row.rendered_at is None:
            to_render.setdefault(row.kind, []).append(row)
    rendered: list[Delivery] = []
    for kind, rows in to_render.items():
        prefetch = _prefetchers.get(kind)
        if prefetch is not None:
            try:
                prefetch(rows)
            except Exception:
                logger.exception("outbox prefetch for %s failed; rendering one by one", kind)
        for row in rows:
            try:
                values = _rendered(row)
            except Exception as exc:
                row.render_error = exc
                continue
            for key, value in values.items():
                setattr(row, key, value)
            rendered.append(row)
    if rendered:
        Delivery.objects.bulk_update(rendered, CONTENT_FIELDS)
    emails = {row.recipient.lower() for row in batch if row.channel == Channel.EMAIL}
    suppressed = (
        dict(
            EmailSuppression.objects.annotate(address=Lower("email"))
            .filter(address__in=emails)
            .values_list("address", "reason")
        )
        if emails
        else {}
    )
    for row in batch:
        row.address_suppressed = (
            suppressed.get(row.recipient.lower(), "") if row.channel == Channel.EMAIL else ""
        )


def _suppressed_address(row: Delivery) -> str:
    if row.channel != Channel.EMAIL:
        return ""
    hit = (
        EmailSuppression.objects.filter(email__iexact=row.recipient).values_list("reason", flat=True).first()
    )
    return hit or ""


def delivery_attempt(row: Delivery, *, now: datetime | None = None) -> str:
    """Send one claimed row and record the outcome; returns the state it ended in."""
    try:
        error = getattr(row, "render_error", None)
        if error is not None:
            raise error
        if row.rendered_at is None:
            _render(row)
        reason = getattr(row, "address_suppressed", None)
        if reason is None:
            reason = _suppressed_address(row)
        if reason:
            raise Suppress(reason)
        provider_id = transports.send(row)
    except Suppress as exc:
        if exc.reason not in SuppressedReason.values:
            # Storing it would violate delivery_suppressed_has_reason and stop the batch.
            logger.error("outbox delivery %s (%s): unknown suppression %r", row.pk, row.kind, exc.reason)
            _finish(row, state=DeliveryState.FAILED, last_error=f"Unknown suppression reason {exc.reason!r}.")
            return DeliveryState.FAILED
        _finish(row, state=DeliveryState.SUPPRESSED, suppressed_reason=exc.reason)
        return DeliveryState.SUPPRESSED
    except Exception as exc:  # one bad row must not stop the batch
        permanent = isinstance(exc, transports.SendError) and exc.permanent
        if isinstance(exc, transports.SendError):
            logger.warning(
                "outbox delivery %s (%s) attempt %s failed: %s", row.pk, row.kind, row.attempts, exc
            )
        else:
            logger.exception("outbox delivery %s (%s) failed", row.pk, row.kind)
        error = str(exc)[:2000] or type(exc).__name__
        if permanent or row.attempts >= max_attempts():
            _finish(row, state=DeliveryState.FAILED, last_error=error)
            return DeliveryState.FAILED
        retry_at = (now or timezone.now()) + timedelta(seconds=backoff_seconds(row.attempts))
        _finish(row, state=DeliveryState.PENDING, last_error=error, next_attempt_at=retry_at)
        return DeliveryState.PENDING
    _finish(
        row,
        state=DeliveryState.SENT,
        sent_at=timezone.now(),
        provider_message_id=provider_id or "",
        last_error="",
    )
    return DeliveryState.SENT


def _finish_suppressed(batch: list[Delivery], counts: dict[str, int]) -> list[Delivery]:
    """Record the rows a renderer refused (an empty digest, a contact who unsubscribed) in one
    UPDATE per reason, as :func:`delivery_attempt` would one by one; returns the other rows."""
    by_reason: dict[str, list[Delivery]] = {}
    rest = []
    for row in batch:
        error = getattr(row, "render_error", None)
        if isinstance(error, Suppress) and error.reason in SuppressedReason.values:
            by_reason.setdefault(error.reason, []).append(row)
        else:
            rest.append(row)
    for reason, rows in by_reason.items():
        for lease, group in _by_lease(rows).items():
            done = Delivery.objects.filter(
                pk__in=[row.pk for row in group], state=DeliveryState.SENDING, lease_expires_at=lease
            ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=reason, lease_expires_at=None)
            counts[DeliveryState.SUPPRESSED] = counts.get(DeliveryState.SUPPRESSED, 0) + done
    return rest


def _by_lease(rows: list[Delivery]) -> dict[datetime | None, list[Delivery]]:
    groups: dict[datetime | None, list[Delivery]] = {}
    for row in rows:
        groups.setdefault(row.lease_expires_at, []).append(row)
    return groups


def outbox_send(*, limit: int = 500, ids: Sequence[int] | None = None) -> dict[str, int]:
    """Send due deliveries in batches until ``limit`` are done or none is due; counts by outcome."""
    counts: dict[str, int] = {}
    done = 0
    while done < limit:
        batch = deliveries_claim(limit=min(CLAIM_BATCH, limit - done), ids=ids)
        if not batch:
            break
        _prepare(batch)
        rest = _finish_suppressed(batch, counts)
        for row in rest:
            state = delivery_attempt(row)
            counts[state] = counts.get(state, 0) + 1
        done += len(batch)
    return counts


# --- operators -----------------------------------------------------------------------


@transaction.atomic
def deliveries_retry(*, workspace: Workspace | None, ids: Sequence[int], actor: User | None) -> int:
    """Put failed deliveries back in the queue (fresh attempts, due now); product manager or
    higher for a workspace's rows. Returns how many were requeued; others are left alone."""
    if workspace is not None:
        require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    rows = Delivery.objects.filter(pk__in=list(ids), state=DeliveryState.FAILED).select_related("workspace")
    if workspace is not None:
        rows = rows.filter(workspace=workspace)
    picked = list(rows.select_for_update(of=("self",)))
    if not picked:
        return 0
    Delivery.objects.filter(pk__in=[row.pk for row in picked]).update(
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_expires_at=None
    )
    by_workspace: dict[int, list[Delivery]] = {}
    for row in picked:
        if row.workspace_id is not None:
            by_workspace.setdefault(row.workspace_id, []).append(row)
    for rows_of in by_workspace.values():
        audit_record_many(
            workspace=rows_of[0].workspace if workspace is None else workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            targets=rows_of,
            changes={"state": ["failed", "pending"]},
        )
    _enqueue_send()
    return len(picked)


@transaction.atomic
def delivery_retry(*, delivery: Delivery, actor: User | None) -> Delivery:
    """Retry one failed delivery (product manager or higher; 409 ``not_failed`` for any
    other state, read under the row's lock so a concurrent retry or send is not missed)."""
    if delivery.workspace_id is not None:
        require_role(workspace=delivery.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    state = (
        Delivery.objects.select_for_update().filter(pk=delivery.pk).values_list("state", flat=True).first()
    )
    if state != DeliveryState.FAILED:
        raise Conflict("Only a failed delivery can be retried.", code="not_failed")
    deliveries_retry(workspace=delivery.workspace, ids=[delivery.pk], actor=actor)
    delivery.refresh_from_db()
    return delivery


def email_suppress(*, email: str, reason: str, detail: str = "") -> EmailSuppression:
    """Record a bounced or complaining address (from the provider's webhook) and suppress its
    pending e-mails. Idempotent."""
    if reason not in (SuppressedReason.BOUNCED, SuppressedReason.COMPLAINED):
        raise ValueError(reason)
    email = email.strip().lower()
    with transaction.atomic():
        # Case-insensitive: an operator may have added the address in another case.
        row, _ = EmailSuppression.objects.get_or_create(
            email__iexact=email, defaults={"email": email, "reason": reason, "detail": detail[:300]}
        )
        Delivery.objects.filter(
            channel=Channel.EMAIL, recipient__iexact=email, state=DeliveryState.PENDING
        ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=row.reason)
    return row
