"""Writes of the public board. Customers act as a verified ``feedback.Contact`` (never a
User), so the audit log names them "system" with the contact in ``changes``; team actions
(settings, moderation) need the same roles as elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from board.models import COMMENT_MAX_LENGTH, BoardContact, BoardSettings, Comment, MagicLink
from comms.links import unsubscribe_headers
from comms.subscribers import contact_opt_out
from feedback.models import Contact, FeedbackItem
from feedback.selectors import contacts_asking_for
from feedback.services import contact_get_or_create, feedback_item_ingest
from productops.errors import Conflict, NotFound, ValidationFailed
from productops.models import AuditEvent, Role, User, Workspace
from productops.outbox.models import Channel, Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import Message, deliveries_create, delivery_create, outbox_send
from productops.services import audit_record, model_update, require_role
from roadmap.models import Feature, FeatureStatus, FeatureStatusChange

MAGIC_LINK_SALT = "board.magic-link"
UNSUBSCRIBE_SALT = "board.unsubscribe"
#: Where ideas from the board land in the triage inbox (the source made for it).
IDEA_SOURCE = FeedbackItem.Source.PUBLIC_BOARD
IDEA_MAX_LENGTH = 5_000
SETTINGS_FIELDS = ["enabled", "anonymous_viewing", "title", "intro"]
NOTIFY_BATCH = 500
#: Outbox kinds of the board's e-mails.
SIGN_IN_KIND = "board.sign_in"
STATUS_KIND = "board.status"
#: Status changes the board does not notice: close-the-loop notices (comms) tell them.
NOT_NOTICED = (FeatureStatus.SHIPPED, FeatureStatus.DECLINED)


def _one_line(text: str) -> str:
    """An e-mail subject: a title with a line break would make the header invalid."""
    return " ".join(text.split())


def _board_url(workspace: Workspace, name: str, **kwargs: Any) -> str:
    return settings.PUBLIC_BASE_URL + reverse(
        f"board:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs}
    )


def _check_public_feature(workspace: Workspace, feature: Feature) -> None:
    if feature.workspace_id != workspace.pk or not feature.is_public or feature.merged_into_id is not None:
        raise NotFound("Not found.")


# --- settings (team side) ----------------------------------------------------------


@transaction.atomic
def board_settings_update(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> BoardSettings:
    """Turn the public board on or off and edit its texts (admin)."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    row, _ = BoardSettings.objects.select_for_update().get_or_create(workspace=workspace)
    values = {k: v for k, v in data.items() if k in SETTINGS_FIELDS}
    for key in ("title", "intro"):
        if key in values:
            values[key] = (values[key] or "").strip()
    was_enabled = row.enabled
    try:
        row, changes = model_update(instance=row, fields=SETTINGS_FIELDS, data=values)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationFailed(messages[0], attr=None if field == "__all__" else field) from None
    if row.enabled and not was_enabled:
        # Notify about status changes from now on, not about the feature's whole history.
        latest = FeatureStatusChange.objects.filter(workspace=workspace).aggregate(m=Max("id"))["m"] or 0
        row.notified_through_id = max(row.notified_through_id, latest)
        row.save(update_fields=["notified_through_id"])
    if changes:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=row,
            changes={k: [str(v[0]), str(v[1])] for k, v in changes.items()},
        )
    return row


# --- magic-link sign-in ----------------------------------------------------------------


def _token_for(link: MagicLink) -> str:
    return salted_hmac(MAGIC_LINK_SALT, f"{link.workspace_id}:{link.secret}", algorithm="sha256").hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("Enter a valid e-mail address.", attr="email", code="invalid") from None
    return email


def _magic_link_key(link_id: int) -> str:
    return f"magic-link:{link_id}"


def _magic_link_message(link: MagicLink) -> Message:
    board = BoardSettings.objects.filter(workspace=link.workspace).only("title").first()
    name = (board.title if board else "") or f"{link.workspace.name} feedback"
    return Message(
        subject=_one_line(f"Your sign-in link for {name}"),
        text=(
            f"Use this link to sign in to {name}:\n\n{magic_link_url(link)}\n\n"
            f"It works once, for {settings.BOARD_MAGIC_LINK_MINUTES} minutes. "
            "If you did not ask for it, ignore this e-mail."
        ),
    )


@transaction.atomic
def magic_link_request(*, workspace: Workspace, email: str, next_path: str = "") -> MagicLink:
    """Record a sign-in link for ``email`` and, in the same transaction, its e-mail: the
    outbox delivery ``magic-link:<id>`` (kind ``board.sign_in``), sent after the commit.

    The same happens whether or not the address is a known contact (no enumeration);
    the contact is created only when the link is used.
    """
    email = _clean_email(email)
    link = MagicLink(
        workspace=workspace,
        email=email,
        secret=secrets.token_hex(32),
        next_path=next_path[:300],
        expires_at=timezone.now() + timedelta(minutes=settings.BOARD_MAGIC_LINK_MINUTES),
    )
    link.token_hash = _hash(_token_for(link))
    link.save()
    delivery_create(
        workspace=workspace,
        dedupe_key=_magic_link_key(link.pk),
        kind=SIGN_IN_KIND,
        channel=Channel.EMAIL,
        recipient=email,
        recipient_ref=_magic_link_key(link.pk),
        message=_magic_link_message(link),
        now=link.created_at,
    )
    return link


def magic_link_url(link: MagicLink) -> str:
    return _board_url(link.workspace, "verify", token=_token_for(link))


def magic_link_send_email(*, magic_link_id: int) -> dict[str, int]:
    """Send the link's delivery now if it is due (the outbox's sender does the work and
    records it; a sent row is not sent again). Kept for ``board.tasks.magic_link_send``
    messages queued before the outbox; new links enqueue the outbox's own task."""
    ids = list(
        Delivery.objects.filter(dedupe_key=_magic_link_key(magic_link_id), kind=SIGN_IN_KIND).values_list(
            "pk", flat=True
        )
    )
    return outbox_send(ids=ids) if ids else {}


def magic_links_expire_pending(*, now: datetime | None = None) -> int:
    """Sign-in e-mails still unsent when their link expires are not sent: they are
    ``suppressed`` (``obsolete``). A link's delivery is created with the link, so it is
    past its validity when it is older than ``BOARD_MAGIC_LINK_MINUTES``. Rows a sender
    holds (``sending``) are left to it. Returns how many were suppressed."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.BOARD_MAGIC_LINK_MINUTES)
    return Delivery.objects.filter(
        kind=SIGN_IN_KIND, state=DeliveryState.PENDING, created_at__lte=cutoff
    ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=SuppressedReason.OBSOLETE)


@transaction.atomic
def magic_link_verify(*, workspace: Workspace, token: str) -> tuple[Contact, MagicLink]:
    """Use a sign-in link: once, before it expires, in its own workspace only.

    Verifies the contact with the link's e-mail, creating them (in the company whose domain
    matches the e-mail, if one exists) when new.
    """
    link = (
        MagicLink.objects.select_for_update()
        .filter(workspace=workspace, token_hash=_hash(token or ""))
        .first()
    )
    if link is None or not hmac.compare_digest(_token_for(link), token):
        raise NotFound("This sign-in link is not valid.", code="invalid_link")
    now = timezone.now()
    if link.used_at is not None:
        raise Conflict("This sign-in link was already used. Ask for a new one.", code="link_used")
    if link.expires_at <= now:
        raise Conflict("This sign-in link has expired. Ask for a new one.", code="link_expired")
    if not MagicLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now):
        raise Conflict("This sign-in link was already used. Ask for a new one.", code="link_used")
    contact = contact_get_or_create(workspace=workspace, email=link.email)
    board_contact, created = BoardContact.objects.get_or_create(
        contact=contact, defaults={"workspace": workspace, "verified_at": now}
    )
    if not created:
        board_contact.verified_at = now
        board_contact.save(update_fields=["verified_at"])
    audit_record(
        workspace=workspace,
        actor=None,
        action=AuditEvent.Action.UPDATED if not created else AuditEvent.Action.CREATED,
        target=board_contact,
        changes={"contact": contact.pk, "verified_by": "magic link"},
    )
    return contact, link


# --- ideas, votes, comments -------------------------------------------------------------


@transaction.atomic
def idea_submit(*, workspace: Workspace, contact: Contact, text: str, submission_id: UUID) -> FeedbackItem:
    """File a customer's idea in the team's triage inbox (idempotent per submission id)."""
    if contact.workspace_id != workspace.pk:
        raise NotFound("Not found.")
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("Describe your idea.", attr="text", code="required")
    if len(text) > IDEA_MAX_LENGTH:
        raise ValidationFailed(f"At most {IDEA_MAX_LENGTH} characters.", attr="text", code="max_length")
    item, _ = feedback_item_ingest(
        workspace=workspace,
        actor=None,
        data={
            "text": text,
            "contact": contact,
            "source": IDEA_SOURCE,
            "source_ref": f"board-{contact.pk}-{submission_id}",
            "kind": FeedbackItem.Kind.REQUEST,
        },
    )
    return item


@transaction.atomic
def comment_create(*, workspace: Workspace, contact: Contact, feature: Feature, body: str) -> Comment:
    if contact.workspace_id != workspace.pk:
        raise NotFound("Not found.")
    _check_public_feature(workspace, feature)
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("Write a comment.", attr="body", code="required")
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(f"At most {COMMENT_MAX_LENGTH} characters.", attr="body", code="max_length")
    comment = Comment.objects.create(workspace=workspace, feature=feature, contact=contact, body=body)
    audit_record(
        workspace=workspace,
        actor=None,
        action=AuditEvent.Action.CREATED,
        target=comment,
        changes={"contact": contact.pk, "feature": feature.pk},
    )
    return comment


@transaction.atomic
def comment_hide(*, comment: Comment, actor: User | None, hidden: bool = True) -> Comment:
    """Hide a comment from the public board (or show it again); product manager or higher."""
    require_role(workspace=comment.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if comment.is_hidden == hidden:
        return comment
    comment.is_hidden = hidden
    comment.hidden_at = timezone.now() if hidden else None
    comment.hidden_by = actor if hidden else None
    comment.save(update_fields=["is_hidden", "hidden_at", "hidden_by"])
    audit_record(
        workspace=comment.workspace,
        actor=actor,
        action=AuditEvent.Action.UPDATED,
        target=comment,
        changes={"is_hidden": [not hidden, hidden]},
    )
    return comment


# --- status-change notices -----------------------------------------------------------


def unsubscribe_token(contact: Contact) -> str:
    return signing.dumps({"w": contact.workspace_id, "c": contact.pk}, salt=UNSUBSCRIBE_SALT)


def _suppress_pending_notices(*, workspace: Workspace, contact_id: int) -> int:
    """The contact's status notices not yet sent are not sent (``suppressed``, unsubscribed)."""
    return Delivery.objects.filter(
        workspace=workspace,
        kind=STATUS_KIND,
        recipient_ref=f"contact:{contact_id}",
        state=DeliveryState.PENDING,
    ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=SuppressedReason.UNSUBSCRIBED)


@transaction.atomic
def notifications_unsubscribe(*, workspace: Workspace, token: str) -> Contact:
    """Stop status e-mails for the contact the (signed, workspace-bound) opt-out token names;
    the notices already recorded for them and not yet sent are suppressed too."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise NotFound("This link is not valid.", code="invalid_link") from None
    if not isinstance(data, dict) or data.get("w") != workspace.pk:
        raise NotFound("This link is not valid.", code="invalid_link")
    board_contact = (
        BoardContact.objects.select_related("contact")
        .filter(workspace=workspace, contact_id=data.get("c"))
        .first()
    )
    if board_contact is None:
        raise NotFound("This link is not valid.", code="invalid_link")
    if board_contact.notifications_enabled:
        board_contact.notifications_enabled = False
        board_contact.save(update_fields=["notifications_enabled"])
        audit_record(
            workspace=workspace,
            actor=None,
            action=AuditEvent.Action.UPDATED,
            target=board_contact,
            changes={"notifications_enabled": [True, False]},
        )
    _suppress_pending_notices(workspace=workspace, contact_id=board_contact.contact_id)
    # "Stop these e-mails" covers every notice about what they asked for, the
    # close-the-loop notices included, so it is the contact's opt-out too.
    contact_opt_out(contact=board_contact.contact, via="board unsubscribe link")
    return board_contact.contact


def status_notice_message(
    *, workspace: Workspace, contact: Contact, feature: Feature, to_status: str
) -> Message:
    """The board's plain-text notice of one status change, with its one-click unsubscribe
    headers (RFC 8058) pointing at the board's own unsubscribe page."""
    label = FeatureStatus(to_status).label
    unsubscribe_url = _board_url(workspace, "unsubscribe", token=unsubscribe_token(contact))
    return Message(
        subject=_one_line(f"Update: {feature.title} is now {label.lower()}"),
        text=(
            f"An idea you asked for or voted on changed status.\n\n{feature.title}\n"
            f"Now: {label}\n\n"
            f"{_board_url(workspace, 'feature', feature_id=feature.pk)}\n\n"
            f"Stop these e-mails: {unsubscribe_url}"
        ),
        headers=unsubscribe_headers(unsubscribe_url),
    )


def _suppressed_reason(contact: Contact) -> str:
    board_contact = getattr(contact, "board", None)
    opted_in = board_contact is not None and board_contact.notifications_enabled
    if contact.unsubscribed_at is not None or not opted_in:
        return SuppressedReason.UNSUBSCRIBED
    if contact.company_id is not None and contact.company.do_not_contact:
        return SuppressedReason.DO_NOT_CONTACT
    return ""


def _notices(board: BoardSettings, changes: list[FeatureStatusChange]) -> list[dict[str, Any]]:
    """One delivery (as ``deliveries_create`` rows) per change and verified board contact who
    voted for or requested the feature; opted-out contacts' rows are ``suppressed``."""
    workspace = board.workspace
    noticed = [c for c in changes if c.to_status not in NOT_NOTICED]
    features = {
        f.pk: f
        for f in Feature.objects.filter(
            workspace=workspace,
            pk__in={c.feature_id for c in noticed},
            is_public=True,
            merged_into__isnull=True,
        ).only("id", "workspace_id", "title")
    }
    verified = BoardContact.objects.filter(workspace=workspace).values("contact_id")
    by_feature = contacts_asking_for(feature_ids=set(features), contact_ids=verified)
    contact_ids = set().union(*by_feature.values()) if by_feature else set()
    contacts = {
        c.pk: c
        for c in Contact.objects.filter(pk__in=contact_ids)
        .select_related("board", "company")
        .only(
            "id",
            "workspace_id",
            "email",
            "unsubscribed_at",
            "company_id",
            "company__do_not_contact",
            "board__id",
            "board__notifications_enabled",
        )
    }
    rows = []
    for change in noticed:
        feature = features.get(change.feature_id)
        if feature is None:
            continue
        for contact_id in sorted(by_feature.get(change.feature_id, ())):
            contact = contacts[contact_id]
            rows.append(
                {
                    "workspace": workspace,
                    "dedupe_key": f"board:{contact.pk}:{change.pk}",
                    "kind": STATUS_KIND,
                    "channel": Channel.EMAIL,
                    "recipient": contact.email,
                    "recipient_ref": f"contact:{contact.pk}",
                    "message": status_notice_message(
                        workspace=workspace, contact=contact, feature=feature, to_status=change.to_status
                    ),
                    "suppressed_reason": _suppressed_reason(contact),
                }
            )
    return rows


def notifications_collect() -> int:
    """Turn new status changes of public features on enabled boards into outbox deliveries
    (kind ``board.status``, dedupe key ``board:<contact>:<status change>``), rendered now.

    Changes to shipped or declined are not noticed by the board: close-the-loop notices
    (``comms``) tell those, so nobody hears twice. Each board keeps a cursor (the last
    change looked at); deliveries are unique per contact and change, so a second or
    concurrent run adds nothing. Returns how many rows were added.
    """
    added = 0
    boards = BoardSettings.objects.filter(enabled=True).select_related("workspace")
    for board in boards.only("id", "workspace_id", "notified_through_id", "workspace__slug"):
        changes = list(
            FeatureStatusChange.objects.filter(
                workspace_id=board.workspace_id, id__gt=board.notified_through_id
            )
            .order_by("id")
            .only("id", "workspace_id", "feature_id", "to_status")[:NOTIFY_BATCH]
        )
        if not changes:
            continue
        with transaction.atomic():
            added += deliveries_create(_notices(board, changes))
            BoardSettings.objects.filter(pk=board.pk, notified_through_id__lt=changes[-1].pk).update(
                notified_through_id=changes[-1].pk
            )
    return added
