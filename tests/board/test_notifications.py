"""The board's status-change notices on the outbox: one delivery per contact and status
change, rendered when collected and sent once, even under a duplicated task or a concurrent
collect; opted-out contacts are recorded ``suppressed``; changes to shipped or declined are
left to close the loop (comms), so nobody hears twice; and the data migration turned every
old ``BoardNotification`` into a delivery."""

from __future__ import annotations

import importlib
import re
import threading
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.utils import timezone

from board import services, tasks
from board.models import BoardContact, BoardSettings
from productops.outbox.models import Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import outbox_send
from releases import services as release_services
from releases.models import ScopeState
from roadmap import services as roadmap_services
from roadmap.models import FeatureStatusChange
from tests.board.factories import BoardContactFactory, BoardSettingsFactory
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _verified(workspace, email, **fields):
    contact = ContactFactory(workspace=workspace, email=email, **fields)
    BoardContactFactory(contact=contact)
    return contact


def _unsubscribe_token_data(url: str) -> dict:
    return signing.loads(url.rstrip("/").rsplit("/", 1)[-1], salt=services.UNSUBSCRIBE_SALT)


def _untokened(text: str) -> str:
    """The text with its (timestamped) unsubscribe tokens blanked out."""
    return re.sub(r"/unsubscribe/[^/\s>]+/", "/unsubscribe/<token>/", text)


def _consider(feature):
    return roadmap_services.feature_change_status(
        feature=feature, to_status="under_consideration", actor=None
    )


@pytest.fixture
def feature(workspace):
    BoardSettingsFactory(workspace=workspace)
    return FeatureFactory(product=ProductFactory(workspace=workspace), title="Dark mode", is_public=True)


def test_a_status_change_notices_voters_and_requesters_exactly_once(workspace, feature):
    voter = _verified(workspace, "voter@example.com")
    requester = _verified(workspace, "asker@example.com")
    VoteFactory(feature=feature, contact=voter)
    VoteFactory(feature=feature, contact=requester)  # voted and requested: still one e-mail
    FeedbackLinkFactory(feature=feature, item=FeedbackItemFactory(workspace=workspace, contact=requester))
    VoteFactory(feature=feature)  # never verified on the board: no e-mail
    _consider(feature)
    change = FeatureStatusChange.objects.get()

    first, second = tasks.board_sweep.run(), tasks.board_sweep.run()  # a duplicated task
    BoardSettings.objects.update(notified_through_id=0)  # a run that read the same changes
    assert services.notifications_collect() == 0
    assert outbox_send() == {DeliveryState.SENT: 2}
    assert outbox_send() == {}

    assert (first["collected"], second["collected"]) == (2, 0)
    rows = Delivery.objects.order_by("recipient")
    assert [(r.dedupe_key, r.kind, r.recipient_ref, r.state) for r in rows] == [
        (f"board:{requester.pk}:{change.pk}", "board.status", f"contact:{requester.pk}", "sent"),
        (f"board:{voter.pk}:{change.pk}", "board.status", f"contact:{voter.pk}", "sent"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["asker@example.com", "voter@example.com"]
    message = next(m for m in mail.outbox if m.to == ["voter@example.com"])
    assert message.subject == "Update: Dark mode is now under consideration"
    assert f"http://localhost:8000/p/{workspace.slug}/features/{feature.pk}/" in message.body
    unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith(f"http://localhost:8000/p/{workspace.slug}/unsubscribe/")
    assert _unsubscribe_token_data(unsubscribe_url) == {"w": workspace.pk, "c": voter.pk}
    assert message.body.endswith(f"Stop these e-mails: {unsubscribe_url}")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.body == rows.get(recipient="voter@example.com").body_text  # what was stored


def test_the_unsubscribe_header_works_one_click_and_stops_pending_notices(workspace, feature):
    contact = _verified(workspace, "v@example.com")
    VoteFactory(feature=feature, contact=contact)
    _consider(feature)
    assert services.notifications_collect() == 1
    url = Delivery.objects.get().headers["List-Unsubscribe"].strip("<>")

    # The mail client's RFC 8058 POST: no session, no CSRF token.
    client = Client(enforce_csrf_checks=True)
    response = client.post(url.removeprefix("http://localhost:8000"), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert BoardContact.objects.get(contact=contact).notifications_enabled is False
    assert outbox_send() == {}
    assert mail.outbox == []
    row = Delivery.objects.get()
    assert (row.state, row.suppressed_reason) == (DeliveryState.SUPPRESSED, SuppressedReason.UNSUBSCRIBED)


def test_opted_out_contacts_are_recorded_suppressed_not_sent(workspace, feature):
    board_off = _verified(workspace, "board-off@example.com")
    BoardContact.objects.filter(contact=board_off).update(notifications_enabled=False)
    unsubscribed = _verified(workspace, "out@example.com", unsubscribed_at=timezone.now())
    closed = _verified(
        workspace, "dnc@example.com", company=CompanyFactory(workspace=workspace, do_not_contact=True)
    )
    fine = _verified(workspace, "fine@example.com")
    for contact in (board_off, unsubscribed, closed, fine):
        VoteFactory(feature=feature, contact=contact)
    _consider(feature)

    assert services.notifications_collect() == 4
    assert outbox_send() == {DeliveryState.SENT: 1}

    assert [m.to for m in mail.outbox] == [["fine@example.com"]]
    assert dict(Delivery.objects.values_list("recipient", "suppressed_reason")) == {
        "board-off@example.com": SuppressedReason.UNSUBSCRIBED,
        "out@example.com": SuppressedReason.UNSUBSCRIBED,
        "dnc@example.com": SuppressedReason.DO_NOT_CONTACT,
        "fine@example.com": "",
    }


def test_shipped_and_declined_are_not_noticed_by_the_board(workspace, feature):
    contact = _verified(workspace, "c@example.com")
    product = feature.product
    declined = FeatureFactory(product=product, title="Fax support", is_public=True)
    manual = FeatureFactory(product=product, title="SSO", is_public=True, status="in_progress")
    shipped_by_release = FeatureFactory(
        product=product, title="Webhooks", public_title="Webhooks", is_public=True
    )
    release = ReleaseFactory(product=product, name="Spring", version="2.4.0")
    ScopeItemFactory(release=release, feature=shipped_by_release, state=ScopeState.DONE)
    for each in (feature, declined, manual, shipped_by_release):
        VoteFactory(feature=each, contact=contact)
    roadmap_services.feature_change_status(feature=declined, to_status="declined", actor=None)
    roadmap_services.feature_change_status(feature=manual, to_status="shipped", actor=None)
    release_services.release_ship(release=release, actor=None)
    _consider(feature)  # the one change the board tells

    assert services.notifications_collect() == 1
    assert services.notifications_collect() == 0
    assert outbox_send() == {DeliveryState.SENT: 1}

    assert [m.subject for m in mail.outbox] == ["Update: Dark mode is now under consideration"]
    board = BoardSettings.objects.get(workspace=workspace)
    assert board.notified_through_id == FeatureStatusChange.objects.latest("id").pk  # nothing re-read


def test_private_features_and_disabled_boards_are_not_noticed(workspace, other_workspace, feature):
    BoardSettingsFactory(workspace=other_workspace, enabled=False)
    private = FeatureFactory(product=feature.product, is_public=False)
    theirs = FeatureFactory(product=ProductFactory(workspace=other_workspace), is_public=True)
    VoteFactory(feature=private, contact=_verified(workspace, "v@example.com"))
    VoteFactory(feature=theirs, contact=_verified(other_workspace, "o@example.com"))
    for each in (private, theirs):
        _consider(each)

    assert tasks.board_sweep.run() == {"expired_links": 0, "collected": 0}
    assert Delivery.objects.count() == 0


def test_a_refused_address_does_not_hold_up_the_others(workspace, settings):
    settings.EMAIL_BACKEND = "tests.board.mail_backends.RefusingEmailBackend"
    BoardSettingsFactory(workspace=workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="SSO\nnow", is_public=True)
    VoteFactory(feature=feature, contact=_verified(workspace, "bounce@refused.example"))  # the lower id
    VoteFactory(feature=feature, contact=_verified(workspace, "fine@example.com"))
    _consider(feature)

    assert services.notifications_collect() == 2
    assert outbox_send() == {DeliveryState.FAILED: 1, DeliveryState.SENT: 1}

    assert [m.subject for m in mail.outbox] == ["Update: SSO now is now under consideration"]
    refused = Delivery.objects.get(recipient="bounce@refused.example")
    assert refused.state == DeliveryState.FAILED
    assert "recipient refused" in refused.last_error


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs real concurrent transactions; SQLite serialises every writer",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_collects_add_each_notice_once(workspace):
    BoardSettingsFactory(workspace=workspace)
    features = [FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True) for _ in range(3)]
    contacts = [_verified(workspace, f"c{n}@example.com") for n in range(20)]
    for each in features:
        for contact in contacts:
            VoteFactory(feature=each, contact=contact)
        _consider(each)
    start = threading.Barrier(3)
    added: list = []

    def collect() -> None:
        try:
            start.wait(10)
            added.append(services.notifications_collect())
        except Exception as exc:  # asserted below
            added.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=collect) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(added) == 3
    assert all(isinstance(n, int) for n in added), added
    keys = list(Delivery.objects.filter(kind="board.status").values_list("dedupe_key", flat=True))
    assert sorted(keys) == sorted(
        f"board:{contact.pk}:{change.pk}"
        for change in FeatureStatusChange.objects.all()
        for contact in contacts
    )
    assert outbox_send() == {DeliveryState.SENT: 60}
    assert len(mail.outbox) == 60


# --- the data migration (board/0004): BoardNotification rows become deliveries ----------------

MIGRATION = "0004_notifications_to_the_outbox"


@pytest.fixture
def old_notifications():
    """The historical ``BoardNotification`` model just before the move, with its table (gone
    from the current schema) made for the test and dropped after it."""
    state = MigrationLoader(connection).project_state(("board", MIGRATION), at_end=False)
    historical = state.apps
    model = historical.get_model("board", "BoardNotification")
    with connection.schema_editor() as editor:
        editor.create_model(model)
    yield historical, model
    with connection.schema_editor() as editor:
        editor.delete_model(model)


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_every_notification_keeping_what_was_sent(old_notifications):
    historical, notification_model = old_notifications
    migration = importlib.import_module(f"board.migrations.{MIGRATION}")
    BoardSettingsFactory(workspace__slug="acme")
    board = BoardSettings.objects.get()
    workspace = board.workspace
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Dark mode", is_public=True)
    change = _consider(feature).status_changes.get()
    sent_at = timezone.now() - timedelta(days=3)
    sent, skipped, unsent, gave_up = (
        _verified(workspace, f"{name}@example.com") for name in ("sent", "skipped", "unsent", "gave-up")
    )
    rows = {
        "sent": notification_model.objects.create(
            workspace_id=workspace.pk, contact_id=sent.pk, status_change_id=change.pk, sent_at=sent_at
        ),
        "skipped": notification_model.objects.create(
            workspace_id=workspace.pk, contact_id=skipped.pk, status_change_id=change.pk, skipped=True
        ),
        "unsent": notification_model.objects.create(
            workspace_id=workspace.pk, contact_id=unsent.pk, status_change_id=change.pk, failed_attempts=2
        ),
        "gave-up": notification_model.objects.create(
            workspace_id=workspace.pk, contact_id=gave_up.pk, status_change_id=change.pk, failed_attempts=5
        ),
    }

    migration.notifications_to_deliveries(historical, None)
    migration.notifications_to_deliveries(historical, None)  # run twice: nothing doubles

    by_recipient = {d.recipient.split("@")[0]: d for d in Delivery.objects.all()}
    assert sorted(by_recipient) == ["gave-up", "sent", "skipped", "unsent"]
    for name, delivery in by_recipient.items():
        contact_id = rows[name].contact_id
        assert (delivery.workspace_id, delivery.kind, delivery.channel) == (
            workspace.pk,
            "board.status",
            "email",
        )
        assert delivery.dedupe_key == f"board:{contact_id}:{change.pk}"
        assert delivery.recipient_ref == f"contact:{contact_id}"
        assert delivery.created_at == rows[name].created_at
    assert (by_recipient["sent"].state, by_recipient["sent"].sent_at) == (DeliveryState.SENT, sent_at)
    assert (by_recipient["skipped"].state, by_recipient["skipped"].suppressed_reason) == (
        DeliveryState.SUPPRESSED,
        SuppressedReason.UNSUBSCRIBED,
    )
    assert (by_recipient["gave-up"].state, by_recipient["gave-up"].attempts) == (DeliveryState.FAILED, 5)
    pending = by_recipient["unsent"]
    assert (pending.state, pending.attempts) == (DeliveryState.PENDING, 2)
    # Rendered in the migration exactly as the board renders it now.
    expected = services.status_notice_message(
        workspace=workspace, contact=unsent, feature=feature, to_status="under_consideration"
    )
    assert pending.subject == expected.subject
    assert _untokened(pending.body_text) == _untokened(expected.text)
    assert {k: _untokened(v) for k, v in pending.headers.items()} == {
        k: _untokened(v) for k, v in expected.headers.items()
    }
    url = pending.headers["List-Unsubscribe"].strip("<>")
    assert _unsubscribe_token_data(url) == {"w": workspace.pk, "c": unsent.pk}
    assert pending.body_text.endswith(f"Stop these e-mails: {url}")

    assert outbox_send() == {DeliveryState.SENT: 1}  # the pending one, and only it
    assert [m.to for m in mail.outbox] == [["unsent@example.com"]]
    # A later collect does not notice the same change again.
    BoardSettings.objects.update(notified_through_id=0)
    VoteFactory(feature=feature, contact=unsent)
    assert services.notifications_collect() == 0

    # And back: each delivery becomes a notification again, and the deliveries go.
    notification_model.objects.all().delete()
    migration.deliveries_to_notifications(historical, None)
    back = {n.contact_id: n for n in notification_model.objects.all()}
    assert back[sent.pk].sent_at == sent_at
    assert back[unsent.pk].sent_at is not None
    assert (back[skipped.pk].skipped, back[gave_up.pk].sent_at) == (True, None)
    assert Delivery.objects.filter(kind="board.status").count() == 0
