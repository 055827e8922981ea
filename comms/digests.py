"""Update digests: which periods are due, their delivery rows, and their rendering.

**Creating** (:func:`digests_create_due`, beat every few minutes). Active daily and weekly
subscriptions whose ``next_due_at`` (the send instant of their next period, per time zone,
``comms.schedule``) has come are claimed in batches with ``select_for_update(skip_locked=
True)``. For each, the period is the latest one whose send instant is at or before now
(``schedule.current_period``): after an outage of several periods one digest covers
everything since ``digest_through``, not a burst. Its window is [``digest_through`` (or the
previous period's instant for a subscription that never had one), the period's instant). One
``Delivery`` row per period and channel (kind ``comms.digest``, dedupe key
``digest:<subscription>:<period start>:<channel>``), created without content, in bulk; then
``digest_through`` and ``next_due_at`` move on. The dedupe key makes a period exactly once,
even under a duplicated task or two concurrent runs (the second skips the rows the first
holds, or finds their keys taken).

A stakeholder who unsubscribed, or has not confirmed (a changelog subscriber before the
opt-in link), or a customer contact who unsubscribed or whose company is do-not-contact, gets
**no row**: the period is skipped and the subscription moves on, so the log is not filled
with a suppressed row per period for people who asked for nothing (their unsubscription is
itself recorded on the stakeholder and in the audit log).

**Rendering** (:func:`digest_render`, registered with the outbox): the sender calls it once
before the first attempt. It builds the content for the stakeholder's audience
(``comms.digest_content``) and renders the e-mail (subject, text and HTML, with the
preference link, the one-click unsubscribe link and the RFC 8058 headers) or the Slack Block
Kit payload. An empty digest raises ``Suppress("empty")``: the row becomes ``suppressed:
empty`` and is never evaluated again. The number of SQL queries per digest is constant (see
``digest_content``), whatever the workspace's size.

**People**: :func:`digest_preview` (what would be sent now; product manager or higher, since
an executive's digest shows ARR), :func:`digest_preview_for` (any stakeholder and period),
:func:`digest_send_test` (to the requester's own address) and :func:`digest_send_now` (the
admin console's "send this digest now").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from comms import links, schedule
from comms.digest_content import DigestContent, digest_content, local_window
from comms.models import (
    TARGET_FIELDS,
    Cadence,
    Channel,
    CommsSettings,
    Stakeholder,
    StakeholderKind,
    Subscription,
)
from comms.services import subscription_next_due
from productops.errors import ValidationFailed
from productops.models import AuditEvent, Role, User
from productops.outbox.models import Delivery, SuppressedReason
from productops.outbox.services import Message, Suppress, deliveries_create, delivery_create, inline_css
from productops.services import audit_record, require_role

DIGEST_KIND = "comms.digest"
DIGEST_TEST_KIND = "comms.digest_test"
#: Subscriptions claimed per transaction by :func:`digests_create_due`.
CREATE_BATCH = 500
#: Slack refuses a section text over 3,000 characters and more than 50 blocks.
SLACK_TEXT_LIMIT = 2900
SLACK_BLOCK_LIMIT = 50
DIGEST_CADENCES = (Cadence.DAILY, Cadence.WEEKLY)
_TARGETS = ("target_workspace", "product", "goal", "initiative", "feature", "release")


def subscriptions_for_digests():
    """Subscriptions with everything a digest reads about them, in one query."""
    return Subscription.objects.select_related(
        "workspace", "stakeholder", "stakeholder__contact", "stakeholder__contact__company", *_TARGETS
    )


def _not_reachable(stakeholder: Stakeholder) -> str:
    """Why the stakeholder gets no digest ("" when they do)."""
    if stakeholder.unsubscribed_at is not None:
        return SuppressedReason.UNSUBSCRIBED
    if stakeholder.confirmed_at is None:
        return SuppressedReason.NO_CONSENT
    contact = stakeholder.contact if stakeholder.kind == StakeholderKind.CONTACT else None
    if contact is not None:
        if contact.unsubscribed_at is not None:
            return SuppressedReason.UNSUBSCRIBED
        if contact.company is not None and contact.company.do_not_contact:
            return SuppressedReason.DO_NOT_CONTACT
    return ""


def _recipient(subscription: Subscription) -> str:
    return subscription.slack_url if subscription.channel == Channel.SLACK else subscription.stakeholder.email


def _first_since(subscription: Subscription, start, until: datetime) -> datetime:
    """Where the window of a subscription that never had a digest starts."""
    if subscription.cadence in DIGEST_CADENCES:
        return schedule.previous_instant(
            subscription.cadence,
            start,
            time_zone=subscription.time_zone,
            hour=subscription.local_hour,
            weekday=subscription.weekday,
        )
    return until - timedelta(days=7)


def _context(subscription: Subscription, *, since: datetime, until: datetime, period: str) -> dict[str, Any]:
    return {
        "subscription": subscription.pk,
        "stakeholder": subscription.stakeholder_id,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "period_start": period,
        "audience": subscription.stakeholder.audience,
    }


# --- creating the rows --------------------------------------------------------------------


def digests_create_due(*, now: datetime | None = None) -> int:
    """Create the Delivery row of every digest period that has come; returns how many rows
    were added. Safe to run twice or concurrently: a period is created once (its dedupe key),
    and a subscription another run holds is skipped, not waited for."""
    now = now or timezone.now()
    added = 0
    while True:
        with transaction.atomic():
            batch = list(
                subscriptions_for_digests()
                .filter(is_active=True, cadence__in=DIGEST_CADENCES, next_due_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("next_due_at", "id")[:CREATE_BATCH]
            )
            if not batch:
                return added
            rows = []
            for subscription in batch:
                row = _period_row(subscription, now)
                if row is not None:
                    rows.append(row)
            added += deliveries_create(rows)
            _advance(batch)


def _advance(batch: list[Subscription]) -> None:
    """Save each subscription's new ``digest_through`` and ``next_due_at``: one UPDATE per
    distinct pair (subscriptions of one time zone and schedule move together), not one per row."""
    groups: dict[tuple, list[int]] = {}
    for subscription in batch:
        groups.setdefault((subscription.digest_through, subscription.next_due_at), []).append(subscription.pk)
    for (through, due), ids in groups.items():
        Subscription.objects.filter(pk__in=ids).update(digest_through=through, next_due_at=due)


def _period_row(subscription: Subscription, now: datetime) -> dict[str, Any] | None:
    """The Delivery row of the subscription's current period (None: nothing to create), and the
    subscription moved on to its next period (``digest_through``, ``next_due_at``)."""
    start, instant = schedule.current_period(
        subscription.cadence,
        now,
        time_zone=subscription.time_zone,
        hour=subscription.local_hour,
        weekday=subscription.weekday,
    )
    since = subscription.digest_through or _first_since(subscription, start, instant)
    subscription.next_due_at = subscription_next_due(subscription, after=now)
    if since >= instant:  # a digest sent by hand already covered this period
        return None
    subscription.digest_through = instant
    if _not_reachable(subscription.stakeholder):
        return None
    return {
        "workspace": subscription.workspace,
        "dedupe_key": f"digest:{subscription.pk}:{start.isoformat()}:{subscription.channel}",
        "kind": DIGEST_KIND,
        "channel": subscription.channel,
        "recipient": _recipient(subscription),
        "recipient_ref": f"stakeholder:{subscription.stakeholder_id}",
        "context": _context(subscription, since=since, until=instant, period=start.isoformat()),
    }


# --- rendering -------------------------------------------------------------------------------


def _rank_moves(subscription: Subscription) -> int:
    moves = CommsSettings.objects.filter(workspace_id=subscription.workspace_id).values_list(
        "digest_rank_moves", flat=True
    )
    return next(iter(moves), None) or CommsSettings._meta.get_field("digest_rank_moves").default


def _build(subscription: Subscription, since: datetime, until: datetime) -> DigestContent:
    return digest_content(
        subscription=subscription, since=since, until=until, rank_moves=_rank_moves(subscription)
    )


def _subject(content: DigestContent, *, manual: bool = False) -> str:
    cadence = content.subscription.cadence
    word = {Cadence.DAILY: "daily ", Cadence.WEEKLY: "weekly "}.get(cadence, "") if not manual else ""
    subject = f"Your {word}update on {content.scope.label}"
    if content.empty:
        return f"{subject}: nothing new"
    changes = content.news_count
    return f"{subject}: {changes} change{'s' if changes != 1 else ''}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _template_context(
    content: DigestContent,
    *,
    subject: str,
    test_banner: str = "",
    links_override: tuple[str, str] | None = None,
) -> dict[str, Any]:
    subscription = content.subscription
    stakeholder = subscription.stakeholder
    stakeholder.workspace = content.workspace  # the same row, already loaded
    if links_override is not None:
        urls = {"preferences": links_override[0], "unsubscribe": links_override[1]}
    else:
        urls = links.stakeholder_links(stakeholder)
    cadence = {Cadence.DAILY: "daily", Cadence.WEEKLY: "weekly"}.get(subscription.cadence, "")
    audience = stakeholder.get_audience_display().lower()
    return {
        "subject": subject,
        "heading": content.workspace.name
        if content.scope.label == content.workspace.name
        else f"{content.workspace.name}: {content.scope.label}",
        "window": local_window(subscription, content.since, content.until),
        "sections": [section.as_dict() for section in content.sections],
        "test_banner": test_banner,
        "reason": f"You get this {cadence + ' ' if cadence else ''}digest from {content.workspace.name} "
        f"as {_article(audience)} {audience} stakeholder.",
        "preferences_url": urls["preferences"],
        "unsubscribe_url": urls["unsubscribe"],
    }


def _email(
    content: DigestContent,
    *,
    subject: str,
    test_banner: str = "",
    headers: bool = True,
    links_override: tuple[str, str] | None = None,
) -> Message:
    context = _template_context(
        content, subject=subject, test_banner=test_banner, links_override=links_override
    )
    return Message(
        subject=subject,
        text=render_to_string("comms/digests/digest.txt", context).strip() + "\n",
        html=render_to_string("comms/digests/digest.html", context),
        headers=links.unsubscribe_headers(context["unsubscribe_url"]) if headers else {},
    )


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(content: DigestContent, *, subject: str, links_override: tuple[str, str] | None = None) -> Message:
    """Block Kit: a header, the window, one section block per digest section, the links."""
    context = _template_context(content, subject=subject, links_override=links_override)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(context["window"])}]},
    ]
    for section in context["sections"]:
        lines = [f"*{_slack_escape(section['title'])}*"]
        if section["intro"]:
            lines.append(_slack_escape(section["intro"]))
        for item in section["items"]:
            text = _slack_escape(item["text"])
            if item.get("url"):
                text = f"<{item['url']}|{text}>"
            lines.append(
                f"• {text}" + (f"\n    _{_slack_escape(item['detail'])}_" if item.get("detail") else "")
            )
        body = "\n".join(lines)
        if len(body) > SLACK_TEXT_LIMIT:
            body = body[: SLACK_TEXT_LIMIT - 1] + "…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    blocks = blocks[: SLACK_BLOCK_LIMIT - 1]
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"<{context['preferences_url']}|Manage your preferences>"},
            ],
        }
    )
    return Message(subject=subject, payload={"text": subject, "blocks": blocks})


def _message(
    content: DigestContent,
    *,
    channel: str,
    manual: bool = False,
    links_override: tuple[str, str] | None = None,
) -> Message:
    subject = _subject(content, manual=manual)
    if channel == Channel.SLACK:
        return _slack(content, subject=subject, links_override=links_override)
    return _email(content, subject=subject, links_override=links_override)


def _window(context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(context["since"]), datetime.fromisoformat(context["until"])


def digest_message(*, subscription: Subscription, since: datetime, until: datetime) -> Message | None:
    """The message of the subscription's digest for [``since``, ``until``), as the sender would
    render it (None when there is nothing to say). The subscription must be loaded with
    :func:`subscriptions_for_digests` (``digest_send_now`` and the demo's history use it)."""
    content = _build(subscription, since, until)
    return None if content.empty else _message(content, channel=subscription.channel)


#: Stand-ins for what differs between readers of the same digest, replaced per recipient.
_PREFERENCES = "https://productops.invalid/__preferences__"
_UNSUBSCRIBE = "https://productops.invalid/__unsubscribe__"
#: Rendered digests shared by readers of the same scope, audience and window (see
#: :func:`_shared_message`): key -> (expires at, message or None when empty).
_SHARED: dict[tuple, tuple[float, Message | None]] = {}
SHARED_SECONDS = 60
SHARED_MAX = 512


def shared_renderings_clear() -> None:
    """Forget the shared renderings (tests; an operator never needs to: they last a minute)."""
    _SHARED.clear()


def _shared_key(subscription: Subscription, delivery: Delivery, since: datetime, until: datetime) -> tuple:
    stakeholder = subscription.stakeholder
    # A sales member's digest is limited to their own accounts: theirs alone.
    owner = stakeholder.user_id if stakeholder.audience == "sales" else None
    target = tuple(getattr(subscription, f"{name}_id") for name in TARGET_FIELDS)
    return (
        subscription.workspace_id,
        target,
        stakeholder.audience,
        owner,
        subscription.cadence,
        subscription.time_zone,
        delivery.channel,
        ":manual:" in delivery.dedupe_key,
        since,
        until,
    )


def _personalised(message: Message, subscription: Subscription) -> Message:
    urls = links.stakeholder_links(subscription.stakeholder)
    swaps = ((_PREFERENCES, urls["preferences"]), (_UNSUBSCRIBE, urls["unsubscribe"]))

    def swap(text: str) -> str:
        for placeholder, url in swaps:
            text = text.replace(placeholder, url)
        return text

    payload = message.payload
    if payload:
        payload = json.loads(swap(json.dumps(payload)))
    return Message(
        subject=message.subject,
        text=swap(message.text),
        html=swap(message.html),
        headers={key: swap(value) for key, value in message.headers.items()},
        payload=payload,
        html_inlined=True,
    )


def _shared_message(
    subscription: Subscription, delivery: Delivery, since: datetime, until: datetime
) -> Message | None:
    """The digest for this reader, built once per scope, audience, schedule and window within
    :data:`SHARED_SECONDS` and personalised (their preference and unsubscribe links): ten
    thousand readers of a workspace's weekly digest cost one build per time zone and
    audience, not one each. The content is what the database said at the first build."""
    key = _shared_key(subscription, delivery, since, until)
    now = time.monotonic()
    hit = _SHARED.get(key)
    if hit is None or hit[0] < now:
        content = _build(subscription, since, until)
        if content.empty:
            message = None
        else:
            generic = _message(
                content, channel=delivery.channel, manual=key[7], links_override=(_PREFERENCES, _UNSUBSCRIBE)
            )
            message = Message(
                subject=generic.subject,
                text=generic.text,
                html=inline_css(generic.html),
                headers=generic.headers,
                payload=generic.payload,
                html_inlined=True,
            )
        if len(_SHARED) >= SHARED_MAX:
            _SHARED.clear()
        _SHARED[key] = hit = (now + SHARED_SECONDS, message)
    return None if hit[1] is None else _personalised(hit[1], subscription)


_NOT_LOADED = object()


def digest_prefetch(deliveries: list[Delivery]) -> None:
    """The sender's batch hook: the subscriptions of a batch of digest rows in one query."""
    wanted = {(d.workspace_id, (d.context or {}).get("subscription")) for d in deliveries}
    ids = [pk for _, pk in wanted if isinstance(pk, int)]
    loaded = {s.pk: s for s in subscriptions_for_digests().filter(pk__in=ids)}
    for delivery in deliveries:
        subscription = loaded.get((delivery.context or {}).get("subscription"))
        if subscription is not None and subscription.workspace_id != delivery.workspace_id:
            subscription = None
        delivery.prefetched_subscription = subscription


def digest_render(delivery: Delivery) -> Message:
    """The content of a digest row, for the sender (once, before the first attempt).

    Raises ``Suppress``: ``obsolete`` if the subscription is gone, ``disabled`` if it was turned
    off since (a digest sent by hand still goes), the stakeholder's reason if they can no
    longer be reached (unsubscribed since), ``empty`` if nothing changed."""
    context = delivery.context or {}
    subscription = getattr(delivery, "prefetched_subscription", _NOT_LOADED)
    if subscription is _NOT_LOADED:
        subscription = (
            subscriptions_for_digests()
            .filter(pk=context.get("subscription"), workspace_id=delivery.workspace_id)
            .first()
        )
    if subscription is None:
        raise Suppress(SuppressedReason.OBSOLETE)
    manual = ":manual:" in delivery.dedupe_key
    if not subscription.is_active and not manual:
        raise Suppress(SuppressedReason.DISABLED)  # turned off after its period was created
    reason = _not_reachable(subscription.stakeholder)
    if reason:
        raise Suppress(reason)
    since, until = _window(context)
    message = _shared_message(subscription, delivery, since, until)
    if message is None:
        raise Suppress(SuppressedReason.EMPTY)
    return message


# --- previews, tests, sending by hand ------------------------------------------------------------


def _current_since(subscription: Subscription, until: datetime) -> datetime:
    if subscription.digest_through is not None:
        return subscription.digest_through
    cadence = subscription.cadence if subscription.cadence in DIGEST_CADENCES else Cadence.WEEKLY
    _start, instant = schedule.current_period(
        cadence,
        until,
        time_zone=subscription.time_zone,
        hour=subscription.local_hour,
        weekday=subscription.weekday,
    )
    return instant if instant < until else until - timedelta(days=1 if cadence == Cadence.DAILY else 7)


def _loaded(subscription: Subscription) -> Subscription:
    return subscriptions_for_digests().get(pk=subscription.pk)


def _preview(content: DigestContent, *, channel: str) -> dict[str, Any]:
    subject = _subject(content)
    message = _email(content, subject=subject)
    preview = {
        "subject": message.subject,
        "text": message.text,
        "html": inline_css(message.html),
        "sections": [section.as_dict() for section in content.sections],
        "since": content.since,
        "until": content.until,
        "empty": content.empty,
        "channel": channel,
    }
    if channel == Channel.SLACK:
        preview["payload"] = dict(_slack(content, subject=subject).payload)
    return preview


def digest_preview(*, subscription: Subscription, actor: User | None, until: datetime | None = None) -> dict:
    """What the subscription would be sent now (or at ``until``) for its current window
    [``digest_through``, now), without writing anything: ``subject``, ``text``, ``html`` (CSS
    inlined, as stored), ``sections``, ``since``, ``until``, ``empty`` (and the Slack
    ``payload`` for a Slack subscription). Product manager or higher."""
    require_role(workspace=subscription.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    subscription = _loaded(subscription)
    until = until or timezone.now()
    since = _current_since(subscription, until)
    if since >= until:
        since = until
    content = _build(subscription, since, until)
    return _preview(content, channel=subscription.channel)


def digest_preview_for(
    *,
    stakeholder: Stakeholder,
    actor: User | None,
    since: datetime,
    until: datetime,
    subscription: Subscription | None = None,
) -> dict:
    """The digest ``stakeholder`` would get for any period [``since``, ``until``): through
    ``subscription`` (one of theirs), else their first active digest subscription, else as if
    they followed the whole workspace. Product manager or higher; writes nothing."""
    require_role(workspace=stakeholder.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if since >= until:
        raise ValidationFailed("The period must end after it starts.", attr="until", code="invalid_range")
    if subscription is not None and subscription.stakeholder_id != stakeholder.pk:
        raise ValidationFailed("Not a subscription of this stakeholder.", attr="subscription", code="invalid")
    if subscription is None:
        subscription = (
            Subscription.objects.filter(stakeholder=stakeholder, is_active=True)
            .order_by("-cadence", "id")
            .first()
        )
    if subscription is not None:
        subscription = _loaded(subscription)
    else:
        subscription = Subscription(
            workspace=stakeholder.workspace,
            stakeholder=stakeholder,
            target_workspace=stakeholder.workspace,
            cadence=Cadence.WEEKLY,
        )
    return _preview(_build(subscription, since, until), channel=subscription.channel)


def digest_send_test(*, subscription: Subscription, actor: User) -> Delivery:
    """The digest as it would be sent now, e-mailed to the requester (kind ``comms.digest_test``,
    subject marked as a test, a banner naming whose digest it is). Sent even when empty, so
    the layout can be checked. Product manager or higher; the requester needs an e-mail."""
    require_role(workspace=subscription.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    email = (getattr(actor, "email", "") or "").strip()
    if not email:
        raise ValidationFailed(
            "Your account has no e-mail address to send the test to.", attr=None, code="no_email"
        )
    subscription = _loaded(subscription)
    now = timezone.now()
    since = min(_current_since(subscription, now), now)
    content = _build(subscription, since, now)
    subject = f"[Test] {_subject(content)}"
    stakeholder = subscription.stakeholder
    banner = (
        f"Test: the digest {stakeholder.name or stakeholder.email} "
        f"({stakeholder.get_audience_display().lower()}) would get now. Its links act for them."
    )
    delivery, _ = delivery_create(
        workspace=subscription.workspace,
        dedupe_key=f"digest-test:{subscription.pk}:{actor.pk}:{now.isoformat()}",
        kind=DIGEST_TEST_KIND,
        channel=Channel.EMAIL,
        recipient=email,
        recipient_ref=f"user:{actor.pk}",
        message=_email(content, subject=subject, test_banner=banner, headers=False),
        context={**_context(subscription, since=since, until=now, period="test"), "test": True},
        now=now,
    )
    return delivery


@transaction.atomic
def digest_send_now(*, subscription: Subscription, actor: User | None) -> Delivery:
    """Send the subscription's digest for [``digest_through``, now) at once (the admin console's
    action): one row, dedupe ``digest:<subscription>:manual:<now>:<channel>``, rendered by the
    sender like any digest (so an empty one is suppressed), and ``digest_through`` moves to
    now, so the next scheduled digest starts there. A stakeholder who cannot be reached gets a
    suppressed row, with the reason. Product manager or higher (the system passes)."""
    require_role(workspace=subscription.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    locked = subscriptions_for_digests().select_for_update(of=("self",)).get(pk=subscription.pk)
    now = timezone.now()
    since = min(_current_since(locked, now), now)
    delivery, _ = delivery_create(
        workspace=locked.workspace,
        dedupe_key=f"digest:{locked.pk}:manual:{now.isoformat()}:{locked.channel}",
        kind=DIGEST_KIND,
        channel=locked.channel,
        recipient=_recipient(locked),
        recipient_ref=f"stakeholder:{locked.stakeholder_id}",
        context=_context(locked, since=since, until=now, period="manual"),
        suppressed_reason=_not_reachable(locked.stakeholder),
        now=now,
    )
    before = locked.digest_through
    locked.digest_through = now
    locked.save(update_fields=["digest_through", "updated_at"])
    audit_record(
        workspace=locked.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=locked,
        changes={
            "digest_through": [before.isoformat() if before else None, now.isoformat()],
            "via": "send digest now",
            "delivery": delivery.pk,
        },
    )
    subscription.digest_through = now
    return delivery
