"""What people do from public pages and e-mail links, without signing in: a customer
subscribes to the public changelog by e-mail (double opt-in) and confirms, and a contact
unsubscribes from customer e-mail. The pages are the board's (``board/views/email.py``);
their tokens are ``comms.tokens``'. Release announcements to confirmed subscribers are
sent by close the loop (``comms.loop``), not here.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from comms import tokens
from comms.links import public_url
from comms.models import Audience, Cadence, Channel, Stakeholder, StakeholderKind, Subscription
from comms.services import _subscription_create, subscription_update
from feedback.models import Contact
from productops.errors import NotFound, ValidationFailed
from productops.models import AuditEvent, Workspace
from productops.outbox.models import Channel as DeliveryChannel
from productops.outbox.models import Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import Message, delivery_create
from productops.services import audit_record
from releases import selectors as release_selectors

CONFIRM_KIND = "comms.changelog_confirm"
#: Outbox kinds a contact's unsubscribe stops (pending rows are suppressed at once).
CONTACT_KINDS = ("board.status", "comms.loop", "comms.release_announcement")


def _clean_email(email: object) -> str:
    email = str(email or "").strip().lower()
    if not email:
        raise ValidationFailed("This field is required.", attr="email", code="required")
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("Enter a valid e-mail address.", attr="email", code="invalid") from None
    return email


# --- contacts ----------------------------------------------------------------------------


@transaction.atomic
def contact_unsubscribe(*, workspace: Workspace, token: str) -> Contact:
    """A contact's one-click unsubscribe (signed ``comms.tokens.contact_token``): sets
    ``Contact.unsubscribed_at`` (audited, once) and suppresses their customer e-mails still
    waiting in the outbox. A tampered token, or another workspace's, is a 404
    ``invalid_link`` and writes nothing. Idempotent."""
    _, contact_id = tokens.contact_from_token(token, workspace_id=workspace.pk)
    contact = Contact.objects.select_for_update().filter(workspace=workspace, pk=contact_id).first()
    if contact is None:
        raise NotFound("This link is not valid.", code="invalid_link")
    return contact_opt_out(contact=contact, via="link")


@transaction.atomic
def contact_opt_out(*, contact: Contact, via: str) -> Contact:
    """No more customer e-mail to ``contact`` from this workspace (close-the-loop notices,
    announcements, board notices): ``unsubscribed_at`` set once (audited) and their pending
    customer e-mails suppressed. Also what the board's old "stop these e-mails" link does."""
    workspace = contact.workspace
    if contact.unsubscribed_at is None:
        contact.unsubscribed_at = timezone.now()
        contact.save(update_fields=["unsubscribed_at", "updated_at"])
        audit_record(
            workspace=workspace,
            actor=None,
            action=AuditEvent.Action.UPDATED,
            target=contact,
            changes={"unsubscribed_at": [None, contact.unsubscribed_at.isoformat()], "via": via},
        )
    Delivery.objects.filter(
        workspace=workspace,
        recipient_ref=f"contact:{contact.pk}",
        kind__in=CONTACT_KINDS,
        state=DeliveryState.PENDING,
    ).update(state=DeliveryState.SUPPRESSED, suppressed_reason=SuppressedReason.UNSUBSCRIBED)
    return contact


# --- the public changelog's e-mail subscribers ----------------------------------------------


def _workspace_subscription(stakeholder: Stakeholder) -> Subscription | None:
    return (
        Subscription.objects.filter(stakeholder=stakeholder, target_workspace_id=stakeholder.workspace_id)
        .order_by("id")
        .first()
    )


def _subscribe(stakeholder: Stakeholder) -> Subscription:
    """The stakeholder follows the whole workspace by e-mail, immediately (made, or turned on)."""
    subscription = _workspace_subscription(stakeholder)
    if subscription is None:
        return _subscription_create(
            workspace=stakeholder.workspace,
            actor=None,
            stakeholder=stakeholder,
            data={
                "target_workspace": stakeholder.workspace,
                "channel": Channel.EMAIL,
                "cadence": Cadence.IMMEDIATE,
            },
        )
    if not subscription.is_active:
        subscription = subscription_update(
            subscription=subscription, actor=None, data={"is_active": True}, self_service=True
        )
    return subscription


def _is_subscribed(stakeholder: Stakeholder) -> bool:
    subscription = _workspace_subscription(stakeholder)
    return (
        stakeholder.confirmed_at is not None
        and stakeholder.unsubscribed_at is None
        and subscription is not None
        and subscription.is_active
    )


def _confirm_message(stakeholder: Stakeholder, workspace: Workspace) -> Message:
    changelog = release_selectors.changelog_settings(workspace=workspace)
    title = changelog.title or f"{workspace.name} changelog"
    url = public_url(workspace, "changelog-confirm", token=tokens.confirm_token(stakeholder))
    return Message(
        subject=f"Confirm your subscription to {title}",
        text=(
            f"Someone, hopefully you, asked to get an e-mail from {title} when something new ships.\n\n"
            f"Confirm your subscription: {url}\n\n"
            "The link works for 7 days. If you did not ask for this, ignore this e-mail: "
            "you will not get any other."
        ),
    )


@transaction.atomic
def changelog_subscribe(*, workspace: Workspace, email: str) -> Stakeholder:
    """Double opt-in, step one: ``email`` asks to follow the workspace's changelog.

    Makes (or reuses, by address) a stakeholder, new ones external, audience customer and
    unconfirmed (``confirmed_at`` None) with an immediate e-mail subscription to the
    workspace, and records a confirmation e-mail (kind ``comms.changelog_confirm``, dedupe
    ``confirm:<stakeholder>:<n>``) with the ``board:changelog-confirm`` link. An address
    that is already a confirmed, active subscriber gets nothing. Nothing is ever sent to an
    unconfirmed stakeholder but the confirmation; the answer to the visitor is the same in
    every case (no enumeration), and the page throttles requests per address and client.
    An invalid address is a 400 ``invalid`` and writes nothing.
    """
    email = _clean_email(email)
    stakeholder = (
        Stakeholder.objects.select_for_update().filter(workspace=workspace, email__iexact=email).first()
    )
    if stakeholder is None:
        stakeholder = Stakeholder(
            workspace=workspace,
            kind=StakeholderKind.EXTERNAL,
            email=email,
            audience=Audience.CUSTOMER,
            confirmed_at=None,
        )
        try:
            with transaction.atomic():
                stakeholder.save()
        except IntegrityError:  # a concurrent request for the same address made it first
            stakeholder = Stakeholder.objects.select_for_update().get(
                workspace=workspace, email__iexact=email
            )
        else:
            audit_record(
                workspace=workspace,
                actor=None,
                action=AuditEvent.Action.CREATED,
                target=stakeholder,
                changes={
                    "kind": stakeholder.kind,
                    "audience": stakeholder.audience,
                    "email": email,
                    "via": "changelog",
                },
            )
    stakeholder.workspace = workspace
    if _is_subscribed(stakeholder):
        return stakeholder
    if stakeholder.confirmed_at is None:
        # Only a confirmed stakeholder is told anything, so the subscription can wait here;
        # a confirmed one (made by the team) is subscribed only when they confirm.
        _subscribe(stakeholder)
    ref = f"stakeholder:{stakeholder.pk}"
    sent_before = Delivery.objects.filter(workspace=workspace, kind=CONFIRM_KIND, recipient_ref=ref).count()
    delivery_create(
        workspace=workspace,
        dedupe_key=f"confirm:{stakeholder.pk}:{sent_before + 1}",
        kind=CONFIRM_KIND,
        channel=DeliveryChannel.EMAIL,
        recipient=stakeholder.email,
        recipient_ref=ref,
        message=_confirm_message(stakeholder, workspace),
    )
    return stakeholder


@transaction.atomic
def changelog_confirm(*, workspace: Workspace, token: str) -> Stakeholder:
    """Double opt-in, step two (the signed ``comms.tokens.confirm_token``, valid 7 days):
    the stakeholder is ``confirmed_at`` now, no longer unsubscribed (they just asked for
    e-mail from their own mailbox), and follows the workspace by e-mail, immediately.
    Audited; confirming twice changes nothing. A tampered, expired or foreign token is a
    404 ``invalid_link`` and writes nothing."""
    _, stakeholder_id = tokens.stakeholder_from_confirm_token(token, workspace_id=workspace.pk)
    stakeholder = (
        Stakeholder.objects.select_for_update()
        .select_related("workspace")
        .filter(workspace=workspace, pk=stakeholder_id)
        .first()
    )
    if stakeholder is None:
        raise NotFound("This link is not valid.", code="invalid_link")
    changes: dict[str, list] = {}
    now = timezone.now()
    if stakeholder.confirmed_at is None:
        stakeholder.confirmed_at = now
        changes["confirmed_at"] = [None, now.isoformat()]
    if stakeholder.unsubscribed_at is not None:
        changes["unsubscribed_at"] = [stakeholder.unsubscribed_at.isoformat(), None]
        stakeholder.unsubscribed_at = None
    if changes:
        stakeholder.save(update_fields=["confirmed_at", "unsubscribed_at", "updated_at"])
        audit_record(
            workspace=workspace,
            actor=None,
            action=AuditEvent.Action.UPDATED,
            target=stakeholder,
            changes={**changes, "via": "changelog confirmation link"},
        )
    _subscribe(stakeholder)
    return stakeholder
