"""Outgoing webhooks: endpoints, their signing secrets, the deliveries of events to them, and
the events comms raises itself after a priority recompute (rank changes, thresholds).

Payloads follow the Standard Webhooks specification::

    {"id": "evt_<event id>", "type": "<kind>", "timestamp": "<occurred_at, ISO 8601>", "data": {...}}

``id`` is stable (the same event is the same id on every retry and every endpoint) and is
also the ``webhook-id`` header receivers deduplicate on; the outbox signs each attempt
(``webhook-timestamp``, ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over
``"{id}.{timestamp}.{body}"`` keyed with the base64-decoded secret after ``whsec_``, one
signature per valid secret). A Slack endpoint gets a Block Kit message instead (Slack does
not verify signatures). One delivery per (endpoint, event): ``webhook:<endpoint>:<event id>``.

Writes need the admin role (endpoints hold credentials; thresholds raise their events).
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from comms.models import Threshold, ThresholdMetric, ThresholdState, WebhookEndpoint, WebhookFormat
from feedback.selectors import arr_at_stake_by_feature
from productops.errors import Conflict, ValidationFailed
from productops.models import AuditEvent, Event, Role, User, Workspace
from productops.outbox.http import check_url
from productops.outbox.models import Channel, Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import Message, delivery_create
from productops.services import audit_deletion, audit_record, event_record, model_update, require_role
from roadmap.models import Feature, FeatureStatus

logger = logging.getLogger(__name__)

WEBHOOK_KIND = "webhook.event"
#: The events an endpoint may subscribe to (``webhook.test`` is sent on demand only).
EVENT_TYPES = (
    Event.Kind.RELEASE_SHIPPED,
    Event.Kind.FEATURE_STATUS_CHANGED,
    Event.Kind.FEEDBACK_CREATED,
    Event.Kind.RANK_CHANGED,
    Event.Kind.THRESHOLD_CROSSED,
)
#: Events that go to one endpoint only, the one named as their subject.
PER_ENDPOINT = (Event.Kind.RANK_CHANGED, Event.Kind.WEBHOOK_TEST)
#: After a rotation the previous secret keeps signing (a second signature) this long.
ROTATION_GRACE = timedelta(hours=24)
#: A threshold re-arms once the value has stayed below it this long.
REARM_AFTER = timedelta(days=1)
ENDPOINT_FIELDS = ["name", "url", "format", "event_types", "rank_top_n", "is_active"]


def new_secret() -> str:
    """``whsec_`` + base64 of 24 random bytes (Standard Webhooks' format)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# --- reads --------------------------------------------------------------------------------------


def webhook_endpoints_list(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return (
        WebhookEndpoint.objects.for_workspace(workspace).select_related("created_by").order_by("name", "id")
    )


def thresholds_list(*, workspace: Workspace) -> QuerySet[Threshold]:
    return Threshold.objects.for_workspace(workspace).order_by("metric", "value", "id")


def endpoint_secrets(delivery: Delivery) -> list[str]:
    """The secrets that sign a delivery to the endpoint its ``recipient_ref`` names
    (``endpoint:<id>``): the current one, and the previous one until its grace period ends.
    Registered with the outbox's webhook transport; empty for anything else."""
    ref = delivery.recipient_ref or ""
    if not ref.startswith("endpoint:") or not ref[len("endpoint:") :].isdigit():
        return []
    endpoint = (
        WebhookEndpoint.objects.filter(workspace_id=delivery.workspace_id, pk=int(ref[len("endpoint:") :]))
        .only("secret", "previous_secret", "previous_secret_expires_at")
        .first()
    )
    if endpoint is None or not endpoint.secret:
        return []
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > timezone.now():
        found.append(endpoint.previous_secret)
    return found


# --- endpoints ----------------------------------------------------------------------------------


def _clean_endpoint(data: Mapping[str, Any], current: WebhookEndpoint | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in data or current is None:
        name = " ".join(str(data.get("name") or "").split())
        if not name:
            raise ValidationFailed("This field is required.", attr="name", code="required")
        if len(name) > 120:
            raise ValidationFailed(
                "Ensure this field has no more than 120 characters.", attr="name", code="max_length"
            )
        values["name"] = name
    if "format" in data or current is None:
        fmt = data.get("format") or WebhookFormat.STANDARD
        if fmt not in WebhookFormat.values:
            raise ValidationFailed(f"{fmt!r} is not a valid choice.", attr="format", code="invalid_choice")
        values["format"] = fmt
    fmt = values.get("format", current.format if current else WebhookFormat.STANDARD)
    if "url" in data or current is None or "format" in values:
        url = data.get("url", current.url if current else "")
        if not str(url or "").strip():
            raise ValidationFailed("This field is required.", attr="url", code="required")
        values["url"] = check_url(str(url), attr="url", slack=fmt == WebhookFormat.SLACK)
    if "event_types" in data or current is None:
        kinds = data.get("event_types") or []
        if not isinstance(kinds, (list, tuple)) or not all(isinstance(k, str) for k in kinds):
            raise ValidationFailed("A list of event types.", attr="event_types", code="invalid")
        unknown = [k for k in kinds if k not in EVENT_TYPES]
        if unknown:
            raise ValidationFailed(
                f"{unknown[0]!r} is not an event an endpoint can receive.",
                attr="event_types",
                code="invalid_choice",
            )
        values["event_types"] = [k for k in EVENT_TYPES if k in kinds]  # ordered, once each
    if "rank_top_n" in data or current is None:
        top_n = data.get("rank_top_n", 10)
        if top_n is None:
            top_n = 10
        if not isinstance(top_n, int) or isinstance(top_n, bool) or not 1 <= top_n <= 100:
            raise ValidationFailed(
                "Ensure this value is between 1 and 100.", attr="rank_top_n", code="out_of_range"
            )
        values["rank_top_n"] = top_n
    if "is_active" in data:
        values["is_active"] = bool(data["is_active"])
    return values


def _top_ids(workspace_id: int, n: int) -> list[int]:
    return list(
        Feature.objects.filter(
            workspace_id=workspace_id, priority_rank__isnull=False, merged_into__isnull=True
        )
        .order_by("priority_rank", "id")
        .values_list("pk", flat=True)[:n]
    )


@transaction.atomic
@sensitive_variables()  # the new secret, here and in every frame below (an error report hides them)
def webhook_endpoint_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint (admin): ``name``, ``url`` (https; Slack: on hooks.slack.com; never a
    private address), ``format`` (standard | slack), ``event_types`` (a subset of
    :data:`EVENT_TYPES`), ``rank_top_n`` (1-100), ``is_active``. Returns the endpoint and its
    signing secret, which is shown this once. The endpoint's top N starts at the current
    ranking, so its first ``priority.rank_changed`` is a real change."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    values = _clean_endpoint(data)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        workspace=workspace,
        secret=secret,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        last_top_ids=_top_ids(workspace.pk, values["rank_top_n"]),
        **values,
    )
    endpoint.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=endpoint,
        changes=dict(values),
    )
    return endpoint, secret


def _suppress_pending(endpoint: WebhookEndpoint) -> int:
    """Pending deliveries to an endpoint that stopped (deactivated, deleted) are not sent."""
    return Delivery.objects.filter(
        workspace_id=endpoint.workspace_id,
        recipient_ref=f"endpoint:{endpoint.pk}",
        state=DeliveryState.PENDING,
    ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=SuppressedReason.DISABLED)


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, actor: User | None, data: Mapping[str, Any]
) -> WebhookEndpoint:
    """Change an endpoint (admin); the fields of :func:`webhook_endpoint_create`. Switching
    rank changes on, or changing N, restarts its top N from the current ranking;
    deactivating it suppresses what is still pending for it (reason ``disabled``)."""
    require_role(workspace=endpoint.workspace, user=actor, role=Role.ADMIN)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    values = _clean_endpoint(data, current=endpoint)
    rank_before = (Event.Kind.RANK_CHANGED in endpoint.event_types, endpoint.rank_top_n)
    endpoint, changes = model_update(instance=endpoint, fields=ENDPOINT_FIELDS, data=values)
    if not changes:
        return endpoint
    rank_after = (Event.Kind.RANK_CHANGED in endpoint.event_types, endpoint.rank_top_n)
    if rank_after[0] and rank_after != rank_before:
        endpoint.last_top_ids = _top_ids(endpoint.workspace_id, endpoint.rank_top_n)
        endpoint.save(update_fields=["last_top_ids", "updated_at"])
    if "is_active" in changes and not endpoint.is_active:
        _suppress_pending(endpoint)
    audit_record(
        workspace=endpoint.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=endpoint,
        changes={k: [v[0], v[1]] for k, v in changes.items()},
    )
    return endpoint


@transaction.atomic
@sensitive_variables()  # the new and the previous secret, in every frame below
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: User | None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (admin), shown this once; the old one keeps signing as a second
    signature for 24 hours (``previous_secret_expires_at``), so receivers can switch over."""
    require_role(workspace=endpoint.workspace, user=actor, role=Role.ADMIN)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    audit_record(
        workspace=endpoint.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=endpoint,
        changes={
            "secret": "rotated",
            "previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat(),
        },
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Delete an endpoint (admin); what is pending for it is suppressed, its log stays."""
    require_role(workspace=endpoint.workspace, user=actor, role=Role.ADMIN)
    _suppress_pending(endpoint)
    audit_deletion(workspace=endpoint.workspace, actor=actor, instance=endpoint)
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint, actor: User | None) -> Delivery:
    """Record a ``webhook.test`` event and its delivery to this endpoint only (admin); sent
    through the outbox, signed like any other. An inactive endpoint is a 409 ``endpoint_inactive``."""
    require_role(workspace=endpoint.workspace, user=actor, role=Role.ADMIN)
    endpoint = (
        WebhookEndpoint.objects.select_for_update(of=("self",))
        .select_related("workspace")
        .get(pk=endpoint.pk)
    )
    if not endpoint.is_active:
        raise Conflict("The endpoint is not active; activate it to send a test.", code="endpoint_inactive")
    event, _ = event_record(
        workspace=endpoint.workspace,
        kind=Event.Kind.WEBHOOK_TEST,
        subject=endpoint,
        payload={
            "endpoint": {"id": endpoint.pk, "name": endpoint.name},
            "message": "A test event from productops.",
        },
    )
    delivery, _ = delivery_create(**delivery_row(endpoint=endpoint, event=event))
    return delivery


# --- the deliveries of an event -------------------------------------------------------------------


def envelope(event: Event) -> dict[str, Any]:
    """The Standard Webhooks body of an event."""
    return {
        "id": f"evt_{event.pk}",
        "type": event.kind,
        "timestamp": event.occurred_at.isoformat(),
        "data": dict(event.payload or {}),
    }


def _slack_escape(text: Any) -> str:
    return str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(event: Event) -> dict[str, Any]:
    """A Block Kit rendering of an event for a Slack incoming webhook."""
    data = event.payload or {}
    kind = event.kind
    if kind == Event.Kind.RELEASE_SHIPPED:
        release = data.get("release") or {}
        product = (release.get("product") or {}).get("name", "")
        titles = [f.get("title", "") for f in data.get("features") or [] if isinstance(f, dict)]
        headline = f"{product} {release.get('name', '')} {release.get('version', '')} shipped"
        body = "\n".join(f"• {_slack_escape(t)}" for t in titles) or "No features."
    elif kind == Event.Kind.FEATURE_STATUS_CHANGED:
        feature = data.get("feature") or {}
        labels = dict(FeatureStatus.choices)
        headline = f"{feature.get('title', '')}: {labels.get(data.get('to'), data.get('to', ''))}"
        body = f"From {labels.get(data.get('from'), data.get('from') or 'nothing')}"
        if data.get("release"):
            body += f", in release {(data['release'] or {}).get('name', '')}"
        body = _slack_escape(body)
    elif kind == Event.Kind.FEEDBACK_CREATED:
        item = data.get("feedback") or {}
        who = (item.get("company") or {}).get("name") or (item.get("contact") or {}).get("email") or "someone"
        headline = f"New feedback from {who} ({item.get('source', '')})"
        body = "> " + _slack_escape(" ".join(str(item.get("text", "")).split())[:500])
    elif kind == Event.Kind.RANK_CHANGED:
        headline = f"Top {data.get('top_n', '')} changed"
        entered = ", ".join(f"#{f.get('rank')} {f.get('title', '')}" for f in data.get("entered") or [])
        left = ", ".join(str(f.get("title", "")) for f in data.get("left") or [])
        body = _slack_escape(f"Entered: {entered or 'none'}\nLeft: {left or 'none'}")
    elif kind == Event.Kind.THRESHOLD_CROSSED:
        feature = data.get("feature") or {}
        headline = f"{feature.get('title', '')} passed {(data.get('threshold') or {}).get('rule', '')}"
        body = _slack_escape(f"Now {data.get('value')}")
    else:
        headline = "Test event from productops"
        body = _slack_escape((data.get("endpoint") or {}).get("name", ""))
    headline = _slack_escape(" ".join(headline.split()))
    return {
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*\n{body}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{kind} · evt_{event.pk}"}]},
        ],
    }


def delivery_row(*, endpoint: WebhookEndpoint, event: Event) -> dict[str, Any]:
    """The delivery of ``event`` to ``endpoint`` (for ``delivery_create``/``deliveries_create``)."""
    slack = endpoint.format == WebhookFormat.SLACK
    payload = slack_message(event) if slack else envelope(event)
    return {
        "workspace": endpoint.workspace,
        "dedupe_key": f"webhook:{endpoint.pk}:{event.pk}",
        "kind": WEBHOOK_KIND,
        "channel": Channel.SLACK if slack else Channel.WEBHOOK,
        "recipient": endpoint.url,
        "recipient_ref": f"endpoint:{endpoint.pk}",
        "event": event,
        # Slack: the envelope's id too, so the log links the message to its event.
        "message": Message(payload=payload),
        "context": {"event_id": f"evt_{event.pk}"},
    }


def webhook_rows(*, event: Event, endpoints: list[WebhookEndpoint]) -> list[dict[str, Any]]:
    """The deliveries of an event: every active endpoint subscribed to its kind, or, for a
    rank change or a test, the one endpoint it is about (if still active)."""
    if event.kind in PER_ENDPOINT:
        subject = str(event.subject_id)
        return [
            delivery_row(endpoint=e, event=event)
            for e in endpoints
            if e.is_active
            and str(e.pk) == subject
            and event.subject_type == "comms.webhookendpoint"
            and (event.kind == Event.Kind.WEBHOOK_TEST or event.kind in e.event_types)
        ]
    return [
        delivery_row(endpoint=e, event=event)
        for e in endpoints
        if e.is_active and event.kind in e.event_types
    ]


# --- thresholds --------------------------------------------------------------------------------------

_RULE = re.compile(
    r"^\s*(?P<metric>companies|arr)\s*(?:>=|≥|=>)\s*\$?\s*(?P<number>\d[\d_,]*(?:\.\d+)?)\s*(?P<suffix>[km])?\s*$",
    re.IGNORECASE,
)
_SUFFIX = {"": Decimal(1), "k": Decimal(1_000), "m": Decimal(1_000_000)}
MAX_THRESHOLD = Decimal("99999999999999.99")


def parse_rule(rule: str) -> tuple[str, Decimal]:
    """``companies >= 5`` / ``arr >= 250k`` / ``arr >= 2.5M`` / ``arr >= $250,000`` → (metric,
    value). Anything else is a 400 ``invalid_rule`` on ``rule``."""
    match = _RULE.match(rule or "")
    invalid = ValidationFailed(
        'Write a rule like "companies >= 5" or "arr >= 250k".', attr="rule", code="invalid_rule"
    )
    if match is None:
        raise invalid
    metric = match["metric"].lower()
    try:
        value = (
            Decimal(match["number"].replace(",", "").replace("_", ""))
            * _SUFFIX[(match["suffix"] or "").lower()]
        )
    except InvalidOperation:
        raise invalid from None
    if value <= 0 or value > MAX_THRESHOLD:
        raise invalid
    if metric == ThresholdMetric.COMPANIES and value != value.to_integral_value():
        raise invalid
    return metric, value.quantize(Decimal("0.01"))


def rule_text(threshold: Threshold) -> str:
    value = threshold.value.normalize()
    return f"{threshold.metric} >= {value:f}"


def _open_features(workspace_id: int) -> QuerySet[Feature]:
    return Feature.objects.filter(workspace_id=workspace_id, merged_into__isnull=True).exclude(
        status__in=[FeatureStatus.SHIPPED, FeatureStatus.DECLINED]
    )


def _metric_values(workspace: Workspace, metrics: set[str]) -> dict[str, dict[int, tuple[str, float]]]:
    """Per metric, per open feature: (title, value). Requesting companies are the engine's
    column (``Feature.requesting_companies``, written by every recompute); ARR at stake is
    computed now with the top-features rule (distinct requesting companies, reporting
    currency), since history snapshots are written only when a rank or score moves."""
    rows = list(_open_features(workspace.pk).values_list("pk", "title", "requesting_companies"))
    values: dict[str, dict[int, tuple[str, float]]] = {}
    if ThresholdMetric.COMPANIES in metrics:
        values[ThresholdMetric.COMPANIES] = {pk: (title, float(n)) for pk, title, n in rows}
    if ThresholdMetric.ARR in metrics:
        arr = arr_at_stake_by_feature(workspace=workspace)
        values[ThresholdMetric.ARR] = {pk: (title, round(arr.get(pk, 0.0), 2)) for pk, title, _ in rows}
    return values


@transaction.atomic
def threshold_create(*, workspace: Workspace, actor: User | None, rule: str) -> Threshold:
    """A threshold rule (admin): ``companies >= N`` (requesting companies) or ``arr >= X``
    (ARR at stake in the reporting currency; ``k``/``M`` suffixes). Features already at or
    above it start disarmed, so only a crossing made from now on fires."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    metric, value = parse_rule(rule)
    if Threshold.objects.filter(workspace=workspace, metric=metric, value=value).exists():
        raise ValidationFailed("This rule exists already.", attr="rule", code="unique")
    threshold = Threshold(workspace=workspace, metric=metric, value=value)
    try:
        with transaction.atomic():
            threshold.save()
    except IntegrityError:
        raise ValidationFailed("This rule exists already.", attr="rule", code="unique") from None
    current = _metric_values(workspace, {metric})[metric]
    ThresholdState.objects.bulk_create(
        [
            ThresholdState(workspace=workspace, threshold=threshold, feature_id=pk, armed=False)
            for pk, (_, amount) in current.items()
            if amount >= float(value)
        ]
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=threshold,
        changes={"rule": rule_text(threshold)},
    )
    return threshold


@transaction.atomic
def threshold_delete(*, threshold: Threshold, actor: User | None) -> None:
    require_role(workspace=threshold.workspace, user=actor, role=Role.ADMIN)
    audit_deletion(
        workspace=threshold.workspace, actor=actor, instance=threshold, changes={"rule": rule_text(threshold)}
    )
    threshold.delete()


def thresholds_evaluate(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Fire ``feature.threshold_crossed`` for each open feature whose value went from below a
    threshold to at or above it while armed; a firing disarms, and the threshold re-arms for
    that feature only once its value has stayed below for a full day (``below_since``). A
    value back above within the day does not fire and restarts the day. Returns the number
    of events."""
    now = now or timezone.now()
    thresholds = list(Threshold.objects.filter(workspace=workspace, is_active=True).order_by("id"))
    if not thresholds:
        return 0
    fired = 0
    with transaction.atomic():
        # Serialised per workspace on the thresholds' rows, so two listeners never both fire.
        list(Threshold.objects.select_for_update().filter(pk__in=[t.pk for t in thresholds]).order_by("id"))
        values = _metric_values(workspace, {t.metric for t in thresholds})
        states = {
            (s.threshold_id, s.feature_id): s for s in ThresholdState.objects.filter(threshold__in=thresholds)
        }
        new: list[ThresholdState] = []
        changed: list[ThresholdState] = []
        for threshold in thresholds:
            limit = float(threshold.value)
            for feature_id, (title, value) in values[threshold.metric].items():
                state = states.get((threshold.pk, feature_id))
                if value >= limit:
                    rearmed = (
                        state is not None
                        and not state.armed
                        and state.below_since is not None
                        and now - state.below_since >= REARM_AFTER
                    )
                    if state is None or state.armed or rearmed:
                        event_record(
                            workspace=workspace,
                            kind=Event.Kind.THRESHOLD_CROSSED,
                            subject=Feature(pk=feature_id),
                            occurred_at=now,
                            payload={
                                "feature": {"id": feature_id, "title": title},
                                "threshold": {
                                    "id": threshold.pk,
                                    "metric": threshold.metric,
                                    "value": float(threshold.value),
                                    "rule": rule_text(threshold),
                                },
                                "value": value,
                            },
                        )
                        fired += 1
                        if state is None:
                            new.append(
                                ThresholdState(
                                    workspace=workspace,
                                    threshold=threshold,
                                    feature_id=feature_id,
                                    armed=False,
                                    fired_at=now,
                                )
                            )
                            continue
                        state.armed, state.fired_at, state.below_since = False, now, None
                        changed.append(state)
                    elif state.below_since is not None:
                        state.below_since = None  # back above within the day: the day restarts
                        changed.append(state)
                elif state is not None and not state.armed:
                    if state.below_since is None:
                        state.below_since = now
                        changed.append(state)
                    elif now - state.below_since >= REARM_AFTER:
                        state.armed, state.below_since = True, None
                        changed.append(state)
        if new:
            ThresholdState.objects.bulk_create(new, ignore_conflicts=True)
        if changed:
            ThresholdState.objects.bulk_update(changed, ["armed", "fired_at", "below_since"])
    return fired


# --- rank changes --------------------------------------------------------------------------------------


def rank_changes_evaluate(*, workspace: Workspace, now: datetime | None = None) -> int:
    """For each active endpoint subscribed to ``priority.rank_changed``: its top N now against
    the top N of its last event (``last_top_ids``); when the set changed (a feature entered
    or left), one event about the endpoint with what entered, what left and the new top N.
    A rank that flaps between runs and ends where it started sends nothing. Returns the
    number of events."""
    now = now or timezone.now()
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(workspace=workspace, is_active=True).order_by("id")
        if Event.Kind.RANK_CHANGED in (e.event_types or [])
    ]
    if not endpoints:
        return 0
    deepest = max(e.rank_top_n for e in endpoints)
    ranked = list(
        Feature.objects.filter(workspace=workspace, priority_rank__isnull=False, merged_into__isnull=True)
        .order_by("priority_rank", "id")
        .values_list("pk", "title", "priority_rank")[:deepest]
    )
    fired = 0
    with transaction.atomic():
        locked = (
            WebhookEndpoint.objects.select_for_update()
            .filter(pk__in=[e.pk for e in endpoints])
            .order_by("id")
        )
        for endpoint in locked:
            if not endpoint.is_active or Event.Kind.RANK_CHANGED not in (endpoint.event_types or []):
                continue
            top = ranked[: endpoint.rank_top_n]
            top_ids = [pk for pk, _, _ in top]
            last = [int(pk) for pk in endpoint.last_top_ids or []]
            if set(top_ids) == set(last):
                continue
            entered = [pk for pk in top_ids if pk not in set(last)]
            left = [pk for pk in last if pk not in set(top_ids)]
            gone = {
                pk: (title, rank)
                for pk, title, rank in Feature.objects.filter(workspace=workspace, pk__in=left).values_list(
                    "pk", "title", "priority_rank"
                )
            }
            rows = {pk: (title, rank) for pk, title, rank in top}
            event_record(
                workspace=workspace,
                kind=Event.Kind.RANK_CHANGED,
                subject=endpoint,
                occurred_at=now,
                payload={
                    "endpoint": {"id": endpoint.pk},
                    "top_n": endpoint.rank_top_n,
                    "entered": [{"id": pk, "title": rows[pk][0], "rank": rows[pk][1]} for pk in entered],
                    "left": [
                        {"id": pk, "title": gone.get(pk, ("", None))[0], "rank": gone.get(pk, ("", None))[1]}
                        for pk in left
                    ],
                    "top": [{"id": pk, "title": title, "rank": rank} for pk, title, rank in top],
                },
            )
            endpoint.last_top_ids = top_ids
            endpoint.save(update_fields=["last_top_ids", "updated_at"])
            fired += 1
    return fired


def after_recompute(*, workspace_id: int, run: Any = None) -> None:
    """The engine's listener, once per recompute run that recomputed something: rank changes
    for the endpoints that want them, then thresholds. Each is isolated (a failure is logged)."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    now = timezone.now()
    for step in (rank_changes_evaluate, thresholds_evaluate):
        try:
            step(workspace=workspace, now=now)
        except Exception:
            logger.exception("comms %s failed for workspace %s", step.__name__, workspace_id)
