"""Writes of the public board. Customers act as a verified ``feedback.Contact`` (never a
User), so the audit log names them "system" with the contact in ``changes``; team actions
(settings, moderation) need the same roles as elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import smtplib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from board.models import (
    COMMENT_MAX_LENGTH,
    BoardContact,
    BoardNotification,
    BoardSettings,
    Comment,
    MagicLink,
)
from feedback.models import Contact, FeedbackItem
from feedback.selectors import contacts_asking_for
from feedback.services import contact_get_or_create, feedback_item_ingest
from productops.errors import Conflict, NotFound, ValidationFailed
from productops.models import AuditEvent, Role, User, Workspace
from productops.services import audit_record, model_update, require_role
from productops.tasking import enqueue_on_commit
from releases import selectors as release_selectors
from roadmap.models import Feature, FeatureStatus, FeatureStatusChange

MAGIC_LINK_SALT = "board.magic-link"
UNSUBSCRIBE_SALT = "board.unsubscribe"
#: Where ideas from the board land in the triage inbox (the source made for it).
IDEA_SOURCE = FeedbackItem.Source.PUBLIC_BOARD
IDEA_MAX_LENGTH = 5_000
SETTINGS_FIELDS = ["enabled", "anonymous_viewing", "title", "intro"]
NOTIFY_BATCH = 500
#: A notification the mail server refused this many times is left unsent (a bad address).
NOTIFY_MAX_ATTEMPTS = 5

logger = logging.getLogger(__name__)


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


@transaction.atomic
def magic_link_request(*, workspace: Workspace, email: str, next_path: str = "") -> MagicLink:
    """Record a sign-in link for ``email`` and mail it after the commit.

    The same happens whether or not the address is a known contact (no enumeration);
    the contact is created only when the link is used.
    """
    from board import tasks

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
    enqueue_on_commit(tasks.magic_link_send, link.pk)
    return link


def magic_link_url(link: MagicLink) -> str:
    return _board_url(link.workspace, "verify", token=_token_for(link))


def magic_link_send_email(*, magic_link_id: int) -> MagicLink | None:
    """Mail the link once: claimed (``email_sent_at``) before the mail server is called,
    released for the sweep if sending fails. Expired or used links are not sent."""
    claimed_at = timezone.now()
    claimed = MagicLink.objects.filter(
        pk=magic_link_id, email_sent_at__isnull=True, used_at__isnull=True, expires_at__gt=claimed_at
    ).update(email_sent_at=claimed_at)
    if not claimed:
        return None
    link = MagicLink.objects.select_related("workspace").get(pk=magic_link_id)
    board = BoardSettings.objects.filter(workspace=link.workspace).first()
    name = (board.title if board else "") or f"{link.workspace.name} feedback"
    try:
        send_mail(
            subject=_one_line(f"Your sign-in link for {name}"),
            message=(
                f"Use this link to sign in to {name}:\n\n{magic_link_url(link)}\n\n"
                f"It works once, for {settings.BOARD_MAGIC_LINK_MINUTES} minutes. "
                "If you did not ask for it, ignore this e-mail."
            ),
            from_email=None,
            recipient_list=[link.email],
        )
    except (smtplib.SMTPException, OSError):
        MagicLink.objects.filter(pk=magic_link_id, email_sent_at=claimed_at).update(email_sent_at=None)
        raise
    return link


def magic_links_send_pending() -> int:
    """The sweep: send links whose task was lost (still valid, never sent)."""
    pending = MagicLink.objects.filter(
        email_sent_at__isnull=True, used_at__isnull=True, expires_at__gt=timezone.now()
    ).values_list("pk", flat=True)
    sent = 0
    for pk in list(pending):
        # One refused address must not hold up the others: it is released and retried next
        # sweep until the link expires.
        try:
            sent += magic_link_send_email(magic_link_id=pk) is not None
        except (smtplib.SMTPException, OSError):
            logger.warning(
                "board sign-in link %s: the mail server refused it; retrying later", pk, exc_info=True
            )
    return sent


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


# --- notifications ---------------------------------------------------------------------


def unsubscribe_token(contact: Contact) -> str:
    return signing.dumps({"w": contact.workspace_id, "c": contact.pk}, salt=UNSUBSCRIBE_SALT)


@transaction.atomic
def notifications_unsubscribe(*, workspace: Workspace, token: str) -> Contact:
    """Stop status e-mails for the contact the (signed, workspace-bound) opt-out token names."""
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
    return board_contact.contact


def _recipients(changes: list[FeatureStatusChange]) -> list[BoardNotification]:
    """(contact, change) pairs: verified board contacts who voted for or requested the feature."""
    feature_ids = {change.feature_id for change in changes}
    subscribed = BoardContact.objects.filter(notifications_enabled=True).values("contact_id")
    by_feature = contacts_asking_for(feature_ids=feature_ids, contact_ids=subscribed)
    return [
        BoardNotification(workspace_id=change.workspace_id, contact_id=contact_id, status_change=change)
        for change in changes
        for contact_id in sorted(by_feature.get(change.feature_id, ()))
    ]


def shipped_in_release(change: FeatureStatusChange) -> dict[str, Any] | None:
    """The release (``{"id", "name", "version"}``) whose shipping made this status change, if one did."""
    release = (change.context or {}).get("release") if change.to_status == FeatureStatus.SHIPPED else None
    if isinstance(release, dict) and isinstance(release.get("id"), int):
        return release
    return None


def _batch(board: BoardSettings) -> list[FeatureStatusChange]:
    """The next changes after the board's cursor. A batch that stops inside the changes one
    release's shipping wrote (in one transaction, so all visible at once) runs on to the
    last of them, so that release's e-mail lists every feature and nothing is skipped."""
    fields = ("id", "workspace_id", "feature_id", "to_status", "context")
    after = FeatureStatusChange.objects.filter(workspace_id=board.workspace_id).order_by("id").only(*fields)
    changes = list(after.filter(id__gt=board.notified_through_id)[:NOTIFY_BATCH])
    release = shipped_in_release(changes[-1]) if len(changes) == NOTIFY_BATCH else None
    if release is not None:
        last = changes[-1].pk
        through = after.filter(id__gt=last, context__release__id=release["id"]).aggregate(m=Max("id"))["m"]
        if through is not None:
            changes += list(after.filter(id__gt=last, id__lte=through))
    return changes


def notifications_collect() -> int:
    """Turn new status changes of public features on enabled boards into notifications.

    Each board keeps a cursor (the last change looked at); rows are unique per contact and
    change, so a second or concurrent run adds nothing. Returns how many rows were added.
    The changes one shipped release made are e-mailed together (:func:`notification_send`).
    """
    added = 0
    for board in BoardSettings.objects.filter(enabled=True).only("id", "workspace_id", "notified_through_id"):
        changes = _batch(board)
        if not changes:
            continue
        public = set(
            Feature.objects.filter(
                pk__in={c.feature_id for c in changes}, is_public=True, merged_into__isnull=True
            ).values_list("pk", flat=True)
        )
        with transaction.atomic():
            rows = _recipients([c for c in changes if c.feature_id in public])
            before = BoardNotification.objects.filter(
                status_change__in=[r.status_change for r in rows]
            ).count()
            BoardNotification.objects.bulk_create(rows, ignore_conflicts=True)
            added += (
                BoardNotification.objects.filter(status_change__in=[r.status_change for r in rows]).count()
                - before
            )
            BoardSettings.objects.filter(pk=board.pk, notified_through_id__lt=changes[-1].pk).update(
                notified_through_id=changes[-1].pk
            )
    return added


def notification_send(*, notification_id: int) -> bool:
    """E-mail one notification exactly once (claimed by stamping ``sent_at`` first).

    A status change made by shipping a release is sent with the contact's other unsent
    notifications of that release, in one e-mail listing the features."""
    claimed_at = timezone.now()
    if not BoardNotification.objects.filter(pk=notification_id, sent_at__isnull=True).update(
        sent_at=claimed_at
    ):
        return False
    row = BoardNotification.objects.select_related(
        "contact", "contact__board", "status_change", "status_change__feature", "workspace"
    ).get(pk=notification_id)
    contact, change, workspace = row.contact, row.status_change, row.workspace
    release = shipped_in_release(change)
    if release is not None:
        return _release_notification_send(row, release, claimed_at)
    board_contact = getattr(contact, "board", None)
    if board_contact is None or not board_contact.notifications_enabled or not change.feature.is_public:
        BoardNotification.objects.filter(pk=row.pk).update(skipped=True)
        return False
    feature = change.feature
    unsubscribe_url = _board_url(workspace, "unsubscribe", token=unsubscribe_token(contact))
    try:
        send_mail(
            subject=_one_line(
                f"Update: {feature.title} is now {FeatureStatus(change.to_status).label.lower()}"
            ),
            message=(
                f"An idea you asked for or voted on changed status.\n\n{feature.title}\n"
                f"Now: {FeatureStatus(change.to_status).label}\n\n"
                f"{_board_url(workspace, 'feature', feature_id=feature.pk)}\n\n"
                f"Stop these e-mails: {unsubscribe_url}"
            ),
            from_email=None,
            recipient_list=[contact.email],
        )
    except (smtplib.SMTPException, OSError):
        BoardNotification.objects.filter(pk=row.pk, sent_at=claimed_at).update(
            sent_at=None, failed_attempts=F("failed_attempts") + 1
        )
        raise
    return True


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _release_notification_send(row: BoardNotification, release: dict[str, Any], claimed_at) -> bool:
    """One e-mail for every unsent notification of ``row``'s contact about ``release``:
    they are claimed together (``sent_at`` = this claim) and released together if the mail
    server refuses. The release is named only if it is public, and linked to on the
    changelog when it is there."""
    contact, workspace = row.contact, row.workspace
    BoardNotification.objects.filter(
        workspace_id=row.workspace_id,
        contact_id=contact.pk,
        sent_at__isnull=True,
        failed_attempts__lt=NOTIFY_MAX_ATTEMPTS,
        status_change__to_status=FeatureStatus.SHIPPED,
        status_change__context__release__id=release["id"],
    ).update(sent_at=claimed_at)
    group = list(
        BoardNotification.objects.filter(contact_id=contact.pk, sent_at=claimed_at)
        .select_related("status_change__feature")
        .order_by("id")
    )
    ids = [n.pk for n in group]
    features: dict[int, Feature] = {}
    for notification in group:
        feature = notification.status_change.feature
        if feature.is_public:
            features.setdefault(feature.pk, feature)
    board_contact = getattr(contact, "board", None)
    if board_contact is None or not board_contact.notifications_enabled or not features:
        BoardNotification.objects.filter(pk__in=ids).update(skipped=True)
        return False
    ref = release_selectors.shipped_release_refs(release_ids=[release["id"]]).get(release["id"])
    name = _one_line(f"{release.get('name', '')} {release.get('version', '')}")
    public = ref is not None and ref["is_public"] and bool(name)
    asked = _plural(len(features), "feature") + " you asked for"
    subject = f"{name} shipped: {asked}" if public else f"Shipped: {asked}"
    intro = f"shipped in {name}:" if public else "shipped:"
    lines = [f"Ideas you asked for or voted on {intro}", ""]
    titled = sorted((_one_line(f.public_title or f.title), f.pk) for f in features.values())
    for title, feature_id in titled:
        lines += [f"- {title}", f"  {_board_url(workspace, 'feature', feature_id=feature_id)}"]
    on_changelog = public and ref["public_id"] is not None
    if on_changelog and release_selectors.changelog_settings(workspace=workspace).enabled:
        notes_url = _board_url(workspace, "changelog-release", public_id=ref["public_id"])
        lines += ["", f"Release notes: {notes_url}"]
    unsubscribe_url = _board_url(workspace, "unsubscribe", token=unsubscribe_token(contact))
    lines += ["", f"Stop these e-mails: {unsubscribe_url}"]
    try:
        send_mail(
            subject=_one_line(subject),
            message="\n".join(lines),
            from_email=None,
            recipient_list=[contact.email],
        )
    except (smtplib.SMTPException, OSError) as exc:
        BoardNotification.objects.filter(pk__in=ids, sent_at=claimed_at).update(
            sent_at=None, failed_attempts=F("failed_attempts") + 1
        )
        exc.notification_ids = ids  # tried once in this sweep, not once per feature
        raise
    return True


def notifications_send_pending(*, limit: int = NOTIFY_BATCH) -> int:
    pending = list(
        BoardNotification.objects.filter(sent_at__isnull=True, failed_attempts__lt=NOTIFY_MAX_ATTEMPTS)
        .order_by("failed_attempts", "id")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    refused: set[int] = set()
    for pk in pending:
        if pk in refused:  # went with a release e-mail the mail server refused just now
            continue
        try:
            sent += notification_send(notification_id=pk)
        except (smtplib.SMTPException, OSError) as exc:
            refused.update(getattr(exc, "notification_ids", ()))
            logger.warning("board notification %s: the mail server refused it", pk, exc_info=True)
    return sent
