"""The board's sign-in e-mails through the outbox: one delivery per link, sent once by the
outbox's sender; a link that expired before it was sent is suppressed, not sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from board import services, tasks
from board.models import MagicLink
from productops.outbox.models import Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import outbox_send
from tests.board.factories import BoardSettingsFactory

pytestmark = pytest.mark.django_db


def test_a_sign_in_link_is_one_delivery_sent_once(workspace, django_capture_on_commit_callbacks):
    BoardSettingsFactory(workspace=workspace, title="Acme ideas")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        link = services.magic_link_request(workspace=workspace, email="a@example.com")
    assert len(callbacks) == 1  # the outbox's send task, after the commit

    delivery = Delivery.objects.get()
    assert (delivery.workspace_id, delivery.dedupe_key, delivery.kind, delivery.state) == (
        workspace.pk,
        f"magic-link:{link.pk}",
        "board.sign_in",
        DeliveryState.PENDING,
    )
    assert (delivery.recipient, delivery.recipient_ref) == ("a@example.com", f"magic-link:{link.pk}")
    assert delivery.subject == "Your sign-in link for Acme ideas"
    assert services.magic_link_url(link) in delivery.body_text
    assert delivery.rendered_at is not None

    assert outbox_send() == {DeliveryState.SENT: 1}
    assert outbox_send() == {}
    tasks.magic_link_send.run(link.pk)  # a message queued before the outbox: nothing more
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    assert mail.outbox[0].body == delivery.body_text
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 1)


def test_the_old_task_sends_a_link_whose_outbox_task_was_lost(workspace):
    link = services.magic_link_request(workspace=workspace, email="a@example.com")
    tasks.magic_link_send.run(link.pk)
    tasks.magic_link_send.run(link.pk)
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    assert mail.outbox[0].subject == "Your sign-in link for Acme feedback"  # no board title


def test_a_link_that_expired_before_it_was_sent_is_suppressed_by_the_sweep(workspace):
    fresh = services.magic_link_request(workspace=workspace, email="fresh@example.com")
    stale = services.magic_link_request(workspace=workspace, email="stale@example.com")
    past = timezone.now() - timedelta(minutes=31)
    MagicLink.objects.filter(pk=stale.pk).update(expires_at=past + timedelta(minutes=30))
    Delivery.objects.filter(dedupe_key=f"magic-link:{stale.pk}").update(created_at=past)

    assert tasks.board_sweep.run() == {"expired_links": 1, "collected": 0}
    assert tasks.board_sweep.run() == {"expired_links": 0, "collected": 0}
    assert outbox_send() == {DeliveryState.SENT: 1}

    assert [m.to for m in mail.outbox] == [["fresh@example.com"]]
    rows = dict(Delivery.objects.values_list("dedupe_key", "state"))
    assert rows == {
        f"magic-link:{fresh.pk}": DeliveryState.SENT,
        f"magic-link:{stale.pk}": DeliveryState.SUPPRESSED,
    }
    assert Delivery.objects.get(dedupe_key=f"magic-link:{stale.pk}").suppressed_reason == (
        SuppressedReason.OBSOLETE
    )


def test_a_refused_address_fails_its_link_and_does_not_hold_up_the_others(workspace, settings):
    settings.EMAIL_BACKEND = "tests.board.mail_backends.RefusingEmailBackend"
    services.magic_link_request(workspace=workspace, email="bounce@refused.example")
    services.magic_link_request(workspace=workspace, email="ok@example.com")

    assert outbox_send() == {DeliveryState.FAILED: 1, DeliveryState.SENT: 1}

    assert [m.to for m in mail.outbox] == [["ok@example.com"]]
    refused = Delivery.objects.get(recipient="bounce@refused.example")
    assert refused.state == DeliveryState.FAILED
    assert "recipient refused" in refused.last_error
