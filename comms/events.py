"""The comms consumer of the platform's event table.

:func:`events_consume` (registered with ``productops.services.events_dispatch``: run after
the commit of every transaction that records an event, and by beat every minute) reads each
workspace's events after its cursor (``CommsSettings.events_through_id``), in id order, in
batches, and turns each into deliveries:

- ``release.shipped``: close the loop for the release (``comms.loop``, and the account
  owners' ``comms.loop_summary``), the announcement to confirmed changelog subscribers
  (``comms.release_announcement``, when the release is on an enabled changelog), immediate
  notices to internal followers (``comms.update``), webhooks;
- ``feature.status_changed``: when not made by a release, close the loop if it is shipped
  or declined, and immediate notices to internal followers; always webhooks;
- ``feature.mentioned``: an e-mail to each member @mentioned in a feature's comment
  (``comms.mentions``; never a webhook);
- ``feedback.created``, ``priority.rank_changed``, ``feature.threshold_crossed``,
  ``webhook.test``: webhooks.

The cursor moves in the same transaction as the deliveries an event made, so a crash
replays the batch, and the dedupe keys make a replay add nothing. An event that fails is
logged; the events before it are kept, the workspace stops at it (it is retried on the next
run, so a transient error heals and nothing is skipped), and the other workspaces go on.

Where the cursor starts: workspaces that existed before comms start at the upgrade
(migration ``comms.0003``: what happened before was told by the board's own notices); a
newer workspace's settings row is created at cursor 0 the first time the consumer sees an
event of it, so every event is handled. Events older than ``COMMS_EVENT_MAX_AGE_DAYS``
(default 30) when they are read are skipped (logged, the cursor moves on): after an outage
longer than that, customers are not told about month-old news; a shorter one loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Exists, F, Min, OuterRef, Subquery
from django.utils import timezone

from comms import loop, mentions, webhooks
from comms.models import CommsSettings, WebhookEndpoint
from productops.models import Event, Workspace
from productops.outbox.services import deliveries_create

logger = logging.getLogger(__name__)

#: Events read whole (and handled, each in its savepoint) per transaction, at most.
BATCH = 200
#: Events' ids and kinds read per transaction, at most.
SCAN = 2_000


def max_age() -> timedelta:
    return timedelta(days=int(getattr(django_settings, "COMMS_EVENT_MAX_AGE_DAYS", 30)))


def _settings_rows_ensure() -> None:
    """A settings row (cursor 0) for every workspace that has events and none yet."""
    missing = Workspace.objects.filter(
        ~Exists(CommsSettings.objects.filter(workspace_id=OuterRef("pk"))),
        Exists(Event.objects.filter(workspace_id=OuterRef("pk"))),
    ).values_list("pk", flat=True)
    rows = [CommsSettings(workspace_id=pk) for pk in missing]
    if rows:
        CommsSettings.objects.bulk_create(rows, ignore_conflicts=True)


def workspaces_pending() -> list[int]:
    """Workspaces with events after their cursor (one range scan from the lowest cursor)."""
    _settings_rows_ensure()
    floor = CommsSettings.objects.aggregate(m=Min("events_through_id"))["m"] or 0
    cursor = CommsSettings.objects.filter(workspace_id=OuterRef("workspace_id")).values("events_through_id")[
        :1
    ]
    return sorted(
        set(
            Event.objects.filter(id__gt=floor)
            .annotate(cursor=Subquery(cursor))
            .filter(id__gt=F("cursor"))
            .order_by()
            .values_list("workspace_id", flat=True)
            .distinct()
        )
    )


class _Context:
    """What one batch of a workspace's events shares: the workspace, its settings, endpoints."""

    def __init__(self, settings: CommsSettings) -> None:
        self.settings = settings
        self.workspace = settings.workspace
        self.skipped = 0
        self.endpoints = list(
            WebhookEndpoint.objects.filter(workspace=self.workspace, is_active=True).order_by("id")
        )
        for endpoint in self.endpoints:
            endpoint.workspace = self.workspace


#: The kinds :func:`deliveries_for` makes rows of besides webhooks.
ROW_MAKING_KINDS = frozenset(
    {Event.Kind.RELEASE_SHIPPED, Event.Kind.FEATURE_STATUS_CHANGED, Event.Kind.FEATURE_MENTIONED}
)


def deliveries_for(event: Event, context: _Context, *, now: datetime) -> list[dict]:
    """The delivery rows one event makes (nothing for an event too old to act on)."""
    if event.occurred_at < now - max_age():
        context.skipped += 1
        return []
    workspace, payload = context.workspace, event.payload or {}
    rows: list[dict] = []
    if event.kind == Event.Kind.RELEASE_SHIPPED:
        rows += loop.release_loop_rows(workspace=workspace, event=event, settings=context.settings)
        rows += loop.announcement_rows(workspace=workspace, event=event)
        rows += loop.update_rows(workspace=workspace, event=event)
    elif event.kind == Event.Kind.FEATURE_STATUS_CHANGED and not payload.get("release"):
        rows += loop.feature_loop_rows(workspace=workspace, event=event, settings=context.settings)
        rows += loop.update_rows(workspace=workspace, event=event)
    elif event.kind == Event.Kind.FEATURE_MENTIONED:
        rows += mentions.mention_rows(workspace=workspace, event=event)
    rows += webhooks.webhook_rows(event=event, endpoints=context.endpoints)
    return rows


def _consume_workspace(workspace_id: int, *, now: datetime) -> int:
    handled = 0
    while True:
        failure: Exception | None = None
        with transaction.atomic():
            # A cursor another consumer holds is left to it: it goes on batch after batch
            # until none is left, and an event it did not reach has its own dispatch (and
            # beat's, every minute). Waiting for it made two dispatch tasks take turns on
            # a 100,000-item import's events, each holding a worker process for seconds.
            settings = (
                CommsSettings.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("workspace")
                .filter(workspace_id=workspace_id)
                .first()
            )
            if settings is None:
                return handled
            # Ids and kinds first: without webhooks most events (an import's 100,000
            # ``feedback.created``) make nothing, and only their ids and kinds are read, up
            # to SCAN a batch (reading each event whole held a worker for 7.5 s of such an
            # import). With webhooks every event is read whole, BATCH at a time.
            context = _Context(settings)
            scan = BATCH if context.endpoints else SCAN
            heads = list(
                Event.objects.filter(workspace_id=workspace_id, id__gt=settings.events_through_id)
                .order_by("id")
                .values_list("id", "kind")[:scan]
            )
            if not heads:
                return handled
            batch = _batch(heads, every_kind=bool(context.endpoints))
            more = len(batch) < len(heads) or len(heads) == scan
            wanted = [pk for pk, kind in batch if context.endpoints or kind in ROW_MAKING_KINDS]
            read = {event.pk: event for event in Event.objects.filter(pk__in=wanted)} if wanted else {}
            through = settings.events_through_id
            for pk, _kind in batch:
                event = read.get(pk)
                if event is None:
                    # Nothing to deliver: no savepoint (two round trips an event made an
                    # import's events hold a worker for minutes).
                    through = pk
                    handled += 1
                    continue
                try:
                    with transaction.atomic():
                        rows = deliveries_for(event, context, now=now)
                        if rows:
                            deliveries_create(_unique(rows))
                except Exception as exc:
                    failure = exc
                    logger.exception(
                        "comms: event %s (%s) of workspace %s failed; retried on the next run",
                        event.pk,
                        event.kind,
                        workspace_id,
                    )
                    break
                through = event.pk
                handled += 1
            if through != settings.events_through_id:
                CommsSettings.objects.filter(pk=settings.pk).update(events_through_id=through)
            if context.skipped:
                logger.warning(
                    "comms: skipped %s events of workspace %s older than %s",
                    context.skipped,
                    workspace_id,
                    max_age(),
                )
        if failure is not None:
            raise failure
        if not more:
            return handled


def _batch(heads: list[tuple[int, str]], *, every_kind: bool) -> list[tuple[int, str]]:
    """The first (id, kind) rows that hold at most ``BATCH`` events to read whole: every
    event when webhooks are on, else those of ``ROW_MAKING_KINDS``."""
    if every_kind:
        return heads[:BATCH]
    read = 0
    for i, (_pk, kind) in enumerate(heads):
        if kind in ROW_MAKING_KINDS:
            read += 1
            if read == BATCH:
                return heads[: i + 1]
    return heads


def _unique(rows: list[dict]) -> list[dict]:
    """One row per dedupe key (two subscriptions can lead to one stakeholder)."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row["dedupe_key"] not in seen:
            seen.add(row["dedupe_key"])
            kept.append(row)
    return kept


def events_consume(*, now: datetime | None = None) -> int:
    """Handle every workspace's new events (see the module docstring); returns how many
    events were handled. One workspace's failure is logged and does not stop the others."""
    now = now or timezone.now()
    handled = 0
    for workspace_id in workspaces_pending():
        try:
            handled += _consume_workspace(workspace_id, now=now)
        except Exception:
            logger.warning("comms: workspace %s stopped at a failing event", workspace_id)
    return handled
