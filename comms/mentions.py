"""E-mail to members @mentioned in a feature's internal comment.

``roadmap.services.feature_comment_create`` / ``_update`` record one ``feature.mentioned``
event per comment that names new members (its payload lists the new mentions); the event
consumer (``comms.events``) turns it into one delivery per mentioned member, keyed
``mention:<comment id>:<user id>:<mention id>``, so each mention is told once, whatever the
replays, and an edit that keeps the name tells nothing new (the mention row stays). A name
edited away and back is a new mention row, so a new delivery: the member is told, unless
an earlier mention of them in that comment was already e-mailed (or is being sent); the
earlier delivery, still pending, is suppressed as obsolete at send time.

Whether to e-mail follows the member's e-mail preferences: their member stakeholder row
(made the first time they are mentioned, confirmed, audience engineering, as account owners
get theirs) carries the preference and one-click unsubscribe links; once they have
unsubscribed (``Stakeholder.unsubscribed_at``), the delivery is recorded ``suppressed:
unsubscribed`` and not sent. At send time it is checked again, and a mention whose comment
was deleted, whose member left or that an edit removed is ``suppressed: obsolete``. An
address that bounced is suppressed by the outbox itself.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from comms import links
from comms.models import Audience, Stakeholder, StakeholderKind
from productops.models import AuditEvent, Event, Membership, User, Workspace
from productops.outbox.models import Channel, Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import Message, Suppress
from productops.services import audit_record_many
from roadmap.models import FeatureMention

MENTION_KIND = "comms.mention"
#: Characters of the comment quoted in the e-mail.
EXCERPT = 500


def member_stakeholders(*, workspace: Workspace, users: list[User]) -> dict[int, Stakeholder]:
    """Each member's stakeholder row (their e-mail preferences), made for those who have none:
    a confirmed member stakeholder, audience engineering (a row with their address, of any
    kind, is theirs already)."""
    by_user = {
        s.user_id: s
        for s in Stakeholder.objects.filter(workspace=workspace, kind=StakeholderKind.MEMBER, user__in=users)
    }
    missing = [u for u in users if u.pk not in by_user and u.email]
    if not missing:
        return by_user
    by_email = {
        s.email.lower(): s
        for s in Stakeholder.objects.filter(workspace=workspace).filter(
            Q(*[Q(email__iexact=u.email) for u in missing], _connector=Q.OR)
        )
    }
    new = []
    for user in missing:
        existing = by_email.get(user.email.lower())
        if existing is not None:
            by_user[user.pk] = existing
            continue
        new.append(
            Stakeholder(
                workspace=workspace,
                kind=StakeholderKind.MEMBER,
                user=user,
                email=user.email.lower(),
                name=user.get_full_name() or user.get_username(),
                audience=Audience.ENGINEERING,
                confirmed_at=timezone.now(),
            )
        )
    if new:
        Stakeholder.objects.bulk_create(new, ignore_conflicts=True)
        made = list(
            Stakeholder.objects.filter(
                workspace=workspace, kind=StakeholderKind.MEMBER, user__in=[s.user for s in new]
            )
        )
        audit_record_many(
            workspace=workspace,
            actor=None,
            action=AuditEvent.Action.CREATED,
            targets=made,
            changes={"kind": StakeholderKind.MEMBER, "audience": Audience.ENGINEERING, "via": "mention"},
        )
        by_user.update({s.user_id: s for s in made})
    return by_user


def feature_url(workspace: Workspace, feature_id: int, comment_id: int) -> str:
    """The comment on the team portal's feature page (the portal's route, by name)."""
    path = reverse("portal:feature", kwargs={"workspace_slug": workspace.slug, "feature_id": feature_id})
    return f"{settings.PUBLIC_BASE_URL}{path}#comment-{comment_id}"


def _already_told(*, workspace: Workspace, mentions: list[FeatureMention]) -> set[tuple[int, int]]:
    """The (comment id, user id) pairs whose e-mail went out (or is going out) already, for an
    earlier mention of that member in that comment (one query). Keys before the mention id
    was in them (``mention:<comment>:<user>``) count too."""
    prefixes = {f"mention:{m.comment_id}:" for m in mentions}
    keys = Delivery.objects.filter(
        Q(*[Q(dedupe_key__startswith=prefix) for prefix in prefixes], _connector=Q.OR),
        workspace=workspace,
        kind=MENTION_KIND,
        state__in=[DeliveryState.SENT, DeliveryState.SENDING],
    ).values_list("dedupe_key", flat=True)
    told = set()
    for key in keys:
        _, comment_id, user_id, *_ = key.split(":")
        told.add((int(comment_id), int(user_id)))
    return told


def mention_rows(*, workspace: Workspace, event: Event) -> list[dict[str, Any]]:
    """The deliveries of a ``feature.mentioned`` event: one e-mail per mention that still
    exists and whose member is still in the workspace."""
    payload = event.payload or {}
    ids = [m["id"] for m in payload.get("mentions") or [] if isinstance(m, dict) and "id" in m]
    if not ids:
        return []
    mentions = list(
        FeatureMention.objects.filter(workspace=workspace, pk__in=ids)
        .filter(user__memberships__workspace=workspace)
        .select_related("user", "comment")
        .order_by("id")
    )
    if not mentions:
        return []
    told = _already_told(workspace=workspace, mentions=mentions)
    mentions = [m for m in mentions if (m.comment_id, m.user_id) not in told]
    if not mentions:
        return []
    stakeholders = member_stakeholders(workspace=workspace, users=[m.user for m in mentions])
    feature = payload.get("feature") or {}
    rows = []
    for mention in mentions:
        stakeholder = stakeholders.get(mention.user_id)
        if stakeholder is None:  # no e-mail address
            continue
        rows.append(
            {
                "workspace": workspace,
                "dedupe_key": f"mention:{mention.comment_id}:{mention.user_id}:{mention.pk}",
                "kind": MENTION_KIND,
                "channel": Channel.EMAIL,
                "recipient": stakeholder.email,
                "recipient_ref": f"user:{mention.user_id}",
                "event": event,
                "suppressed_reason": SuppressedReason.UNSUBSCRIBED if stakeholder.unsubscribed_at else "",
                "context": {
                    "stakeholder_id": stakeholder.pk,
                    "mention_id": mention.pk,
                    "workspace_name": workspace.name,
                    "feature_title": feature.get("title", ""),
                    "feature_url": feature_url(workspace, mention.comment.feature_id, mention.comment_id),
                    **links.stakeholder_links(stakeholder),
                },
            }
        )
    return rows


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def mention_render(delivery: Delivery) -> Message:
    """The e-mail, checked again now: still subscribed, the mention (and its comment) still
    there, the member still in the workspace."""
    context = dict(delivery.context or {})
    stakeholder = Stakeholder.objects.filter(
        workspace_id=delivery.workspace_id, pk=context.get("stakeholder_id")
    ).first()
    if stakeholder is None:
        raise Suppress(SuppressedReason.OBSOLETE)
    if stakeholder.unsubscribed_at is not None:
        raise Suppress(SuppressedReason.UNSUBSCRIBED)
    mention = (
        FeatureMention.objects.filter(workspace_id=delivery.workspace_id, pk=context.get("mention_id"))
        .select_related("comment", "comment__author", "comment__feature")
        .first()
    )
    if mention is None:
        raise Suppress(SuppressedReason.OBSOLETE)
    if not Membership.objects.filter(workspace_id=delivery.workspace_id, user_id=mention.user_id).exists():
        raise Suppress(SuppressedReason.OBSOLETE)
    comment, feature = mention.comment, mention.comment.feature
    writer = comment.author
    author = (writer.get_full_name() or writer.get_username()) if writer else "Someone"
    excerpt = comment.body if len(comment.body) <= EXCERPT else comment.body[: EXCERPT - 1].rstrip() + "…"
    subject = _one_line(f"{author} mentioned you on “{feature.title}”")
    values = {**context, "subject": subject, "author": author, "excerpt": excerpt}
    values["feature_title"] = feature.title
    return Message(
        subject=subject,
        text=render_to_string("comms/mention.txt", values),
        html=render_to_string("comms/mention.html", values),
        headers=links.unsubscribe_headers(context["unsubscribe"]) if context.get("unsubscribe") else {},
    )
