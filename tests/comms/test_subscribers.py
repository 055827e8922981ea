"""What people do from public pages and e-mail links: subscribe to the changelog with
double opt-in, confirm, and unsubscribe as a contact. Tampered or foreign tokens write
nothing."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.utils import timezone

from comms import subscribers, tokens
from comms.models import Audience, Stakeholder, StakeholderKind, Subscription
from feedback.models import Contact
from productops.errors import NotFound, ValidationFailed
from productops.models import AuditEvent
from productops.outbox.models import Channel, Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import Message, deliveries_create, outbox_send
from releases.models import ChangelogSettings
from tests.comms.factories import StakeholderFactory, SubscriptionFactory
from tests.feedback.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _audits(model_label: str) -> list[tuple[str, dict]]:
    return list(
        AuditEvent.objects.filter(target_type=model_label).order_by("id").values_list("action", "changes")
    )


# --- the changelog's double opt-in ---------------------------------------------------------


def test_subscribing_makes_an_unconfirmed_customer_and_emails_a_confirmation(workspace):
    ChangelogSettings.objects.create(workspace=workspace, enabled=True, title="Acme changelog")

    stakeholder = subscribers.changelog_subscribe(workspace=workspace, email=" Pat@Example.com ")

    stakeholder.refresh_from_db()
    assert (stakeholder.kind, stakeholder.audience, stakeholder.email) == (
        StakeholderKind.EXTERNAL,
        Audience.CUSTOMER,
        "pat@example.com",
    )
    assert (stakeholder.confirmed_at, stakeholder.unsubscribed_at) == (None, None)
    subscription = Subscription.objects.get()
    assert (subscription.stakeholder_id, subscription.target_workspace_id) == (stakeholder.pk, workspace.pk)
    assert (subscription.channel, subscription.cadence, subscription.is_active) == (
        "email",
        "immediate",
        True,
    )
    delivery = Delivery.objects.get()
    assert (delivery.workspace_id, delivery.kind, delivery.dedupe_key) == (
        workspace.pk,
        "comms.changelog_confirm",
        f"confirm:{stakeholder.pk}:1",
    )
    assert (delivery.recipient, delivery.recipient_ref) == (
        "pat@example.com",
        f"stakeholder:{stakeholder.pk}",
    )
    assert delivery.subject == "Confirm your subscription to Acme changelog"
    url_start = f"http://localhost:8000/p/{workspace.slug}/changelog/confirm/"
    link = next(word for word in delivery.body_text.split() if word.startswith(url_start))
    token = link.removeprefix(url_start).rstrip("/")
    assert tokens.stakeholder_from_confirm_token(token, workspace_id=workspace.pk) == (
        workspace.pk,
        stakeholder.pk,
    )
    assert [action for action, _ in _audits("comms.stakeholder")] == ["created"]
    assert outbox_send() == {DeliveryState.SENT: 1}


def test_asking_again_before_confirming_reuses_the_stakeholder_and_sends_a_new_link(workspace):
    first = subscribers.changelog_subscribe(workspace=workspace, email="pat@example.com")
    second = subscribers.changelog_subscribe(workspace=workspace, email="PAT@example.com")

    assert first.pk == second.pk
    assert (Stakeholder.objects.count(), Subscription.objects.count()) == (1, 1)
    assert sorted(Delivery.objects.values_list("dedupe_key", flat=True)) == [
        f"confirm:{first.pk}:1",
        f"confirm:{first.pk}:2",
    ]


def test_a_confirmed_active_subscriber_gets_nothing_more(workspace):
    subscription = SubscriptionFactory(
        stakeholder=StakeholderFactory(workspace=workspace, email="pat@example.com", audience="customer"),
        cadence="immediate",
    )

    again = subscribers.changelog_subscribe(workspace=workspace, email="pat@example.com")

    assert again.pk == subscription.stakeholder_id
    assert Delivery.objects.count() == 0
    assert Subscription.objects.count() == 1


def test_a_team_made_stakeholder_follows_the_changelog_only_once_they_confirm(workspace):
    stakeholder = StakeholderFactory(workspace=workspace, email="exec@example.com")

    subscribers.changelog_subscribe(workspace=workspace, email="exec@example.com")
    assert Subscription.objects.count() == 0  # anyone can type an address: consent first
    assert Delivery.objects.get().dedupe_key == f"confirm:{stakeholder.pk}:1"

    subscribers.changelog_confirm(workspace=workspace, token=tokens.confirm_token(stakeholder))
    subscription = Subscription.objects.get()
    assert (subscription.target_workspace_id, subscription.cadence) == (workspace.pk, "immediate")


def test_an_invalid_address_writes_nothing(workspace):
    for email in ("", "not-an-email"):
        with pytest.raises(ValidationFailed) as error:
            subscribers.changelog_subscribe(workspace=workspace, email=email)
        assert error.value.attr == "email"
    assert (Stakeholder.objects.count(), Subscription.objects.count(), Delivery.objects.count()) == (0, 0, 0)


def test_confirming_sets_confirmed_at_once_and_turns_the_subscription_back_on(workspace):
    stakeholder = subscribers.changelog_subscribe(workspace=workspace, email="pat@example.com")
    Subscription.objects.update(is_active=False)
    Stakeholder.objects.filter(pk=stakeholder.pk).update(unsubscribed_at=timezone.now())
    token = tokens.confirm_token(stakeholder)

    confirmed = subscribers.changelog_confirm(workspace=workspace, token=token)
    first_time = confirmed.confirmed_at
    again = subscribers.changelog_confirm(workspace=workspace, token=token)

    assert first_time is not None
    assert again.confirmed_at == first_time
    assert again.unsubscribed_at is None
    assert Subscription.objects.get().is_active is True
    updates = [changes for action, changes in _audits("comms.stakeholder") if action == "updated"]
    assert len(updates) == 1
    assert set(updates[0]) == {"confirmed_at", "unsubscribed_at", "via"}


def test_confirming_refuses_tampered_foreign_and_expired_tokens(workspace, other_workspace, monkeypatch):
    stakeholder = subscribers.changelog_subscribe(workspace=workspace, email="pat@example.com")
    token = tokens.confirm_token(stakeholder)
    other = subscribers.changelog_subscribe(workspace=other_workspace, email="pat@example.com")
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 8 * 24 * 60 * 60)
    expired = tokens.confirm_token(stakeholder)
    monkeypatch.setattr(signing.time, "time", real_time)

    for bad in (token + "x", "nonsense", tokens.stakeholder_token(stakeholder), expired):
        with pytest.raises(NotFound):
            subscribers.changelog_confirm(workspace=workspace, token=bad)
    with pytest.raises(NotFound):  # a valid token, under another workspace
        subscribers.changelog_confirm(workspace=other_workspace, token=token)

    assert set(Stakeholder.objects.values_list("confirmed_at", flat=True)) == {None}
    assert other.pk != stakeholder.pk
    assert [a for a, _ in _audits("comms.stakeholder")] == ["created", "created"]


# --- a contact's unsubscribe ------------------------------------------------------------------


def _pending(workspace, contact, kind: str, n: int) -> dict:
    return {
        "workspace": workspace,
        "dedupe_key": f"{kind}:{contact.pk}:{n}",
        "kind": kind,
        "channel": Channel.EMAIL,
        "recipient": contact.email,
        "recipient_ref": f"contact:{contact.pk}",
        "message": Message(subject="Hello", text="Hello."),
    }


def test_a_contact_unsubscribes_once_and_their_waiting_emails_are_suppressed(workspace):
    contact = ContactFactory(workspace=workspace, email="c@example.com")
    other = ContactFactory(workspace=workspace, email="o@example.com")
    deliveries_create(
        [
            _pending(workspace, contact, "board.status", 1),
            _pending(workspace, contact, "comms.loop", 2),
            _pending(workspace, other, "comms.loop", 3),
        ],
        send=False,
    )
    token = tokens.contact_token(contact)

    subscribers.contact_unsubscribe(workspace=workspace, token=token)
    first = Contact.objects.get(pk=contact.pk).unsubscribed_at
    subscribers.contact_unsubscribe(workspace=workspace, token=token)

    assert first is not None
    assert Contact.objects.get(pk=contact.pk).unsubscribed_at == first
    assert Contact.objects.get(pk=other.pk).unsubscribed_at is None
    rows = dict(
        Delivery.objects.values_list("recipient_ref", "state").filter(recipient_ref=f"contact:{other.pk}")
    )
    assert rows == {f"contact:{other.pk}": DeliveryState.PENDING}
    assert set(
        Delivery.objects.filter(recipient_ref=f"contact:{contact.pk}").values_list(
            "state", "suppressed_reason"
        )
    ) == {(DeliveryState.SUPPRESSED, SuppressedReason.UNSUBSCRIBED)}
    assert _audits("feedback.contact") == [
        ("updated", {"unsubscribed_at": [None, first.isoformat()], "via": "link"})
    ]


def test_a_contact_unsubscribe_refuses_tampered_and_foreign_tokens(workspace, other_workspace):
    contact = ContactFactory(workspace=workspace)
    theirs = ContactFactory(workspace=other_workspace)
    for bad_workspace, bad_token in (
        (workspace, tokens.contact_token(contact)[:-2]),
        (workspace, tokens.contact_token(theirs)),
        (other_workspace, tokens.contact_token(contact)),
        (workspace, tokens.stakeholder_token(StakeholderFactory(workspace=workspace))),
    ):
        with pytest.raises(NotFound):
            subscribers.contact_unsubscribe(workspace=bad_workspace, token=bad_token)
    assert set(Contact.objects.values_list("unsubscribed_at", flat=True)) == {None}
    assert _audits("feedback.contact") == []


def test_a_deleted_contacts_token_is_refused(workspace):
    contact = ContactFactory(workspace=workspace)
    token = tokens.contact_token(contact)
    contact.delete()
    with pytest.raises(NotFound):
        subscribers.contact_unsubscribe(workspace=workspace, token=token)
    assert _audits("feedback.contact") == []
