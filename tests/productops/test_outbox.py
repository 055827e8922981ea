"""The outbox's sender (productops.outbox.services) with Django's locmem e-mail backend: rows
are created once per dedupe key, claimed with a lease, sent once, backed off and failed,
suppressed, rendered once, retried by people with the right role, and one bad row never
stops a batch. Failures of the mail server come from the backends in mail_backends.py."""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from productops.celery import app as celery_app
from productops.errors import Conflict, Forbidden, NotFound
from productops.models import AuditEvent, Role
from productops.outbox import services
from productops.outbox.models import Channel, Delivery, DeliveryState, EmailSuppression, SuppressedReason
from productops.outbox.services import (
    Message,
    Suppress,
    backoff_seconds,
    deliveries_claim,
    deliveries_create,
    deliveries_retry,
    delivery_create,
    delivery_retry,
    email_suppress,
    outbox_send,
)
from tests.productops.factories import WorkspaceFactory
from tests.productops.mail_backends import FlakyEmailBackend

BACKENDS = "tests.productops.mail_backends."
DOWN = BACKENDS + "DownEmailBackend"
REFUSING = BACKENDS + "RefusingEmailBackend"
FLAKY = BACKENDS + "FlakyEmailBackend"

HTML = (
    "<html><head><style>p { color: red } .muted { color: #666 }</style></head>"
    '<body><p>Dark mode shipped.</p><span class="muted">Acme</span></body></html>'
)
INLINED = (
    '<html><head></head><body><p style="color: red;">Dark mode shipped.</p>'
    '<span class="muted" style="color: #666;">Acme</span></body></html>'
)
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://po.example/p/acme/unsubscribe/tok/>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}
RENDERED_KIND = "test.rendered"


def message(**overrides) -> Message:
    fields = {"subject": "Dark mode\n shipped", "text": "Dark mode shipped.", "html": HTML}
    fields.update(overrides)
    fields.setdefault("headers", UNSUBSCRIBE)
    return Message(**fields)


def email(workspace, key: str = "board:1:1", recipient: str = "ann@example.com", **fields):
    fields.setdefault("message", message())
    return delivery_create(
        workspace=workspace,
        dedupe_key=key,
        kind=fields.pop("kind", "board.status"),
        channel=Channel.EMAIL,
        recipient=recipient,
        recipient_ref=fields.pop("recipient_ref", "contact:1"),
        **fields,
    )


def due_now(row: Delivery) -> None:
    """Skip the backoff wait (the sender reads the clock)."""
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


@pytest.fixture
def renderer():
    """``renderer(fn)`` registers ``fn`` for RENDERED_KIND and returns the list of the rows
    it was called for; unregistered afterwards."""
    calls: list[int] = []

    def register(fn):
        def counted(delivery):
            calls.append(delivery.pk)
            return fn(delivery)

        services.renderer_register(RENDERED_KIND, counted)
        return calls

    yield register
    services._renderers.pop(RENDERED_KIND, None)


# --- create -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_email_is_sent_once_with_its_inlined_html_text_part_and_stored_headers(workspace):
    row, created = email(workspace)

    assert created is True
    assert (row.state, row.attempts, row.rendered_at is not None) == (DeliveryState.PENDING, 0, True)
    assert row.subject == "Dark mode shipped"  # one line
    assert row.body_html == INLINED
    assert row.headers == UNSUBSCRIBE

    assert outbox_send() == {DeliveryState.SENT: 1}

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error, row.lease_expires_at) == (
        DeliveryState.SENT,
        1,
        "",
        None,
    )
    assert row.sent_at is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ann@example.com"]
    assert sent.from_email == "productops <noreply@localhost>"
    assert sent.subject == "Dark mode shipped"
    assert sent.body == "Dark mode shipped."
    assert [(a.content, a.mimetype) for a in sent.alternatives] == [(INLINED, "text/html")]
    assert sent.extra_headers["List-Unsubscribe"] == "<https://po.example/p/acme/unsubscribe/tok/>"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.extra_headers["Message-ID"] == row.provider_message_id
    assert row.provider_message_id.startswith("<")
    assert row.provider_message_id.endswith("@localhost>")
    parsed = sent.message()
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    assert outbox_send() == {}  # nothing is due any more
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_html_naming_a_stylesheet_is_not_fetched_or_read_from_disk(workspace, tmp_path):
    sheet = tmp_path / "secret.css"
    sheet.write_text("p { color: red }")
    html = f'<html><head><link rel="stylesheet" href="file://{sheet}"></head><body><p>x</p></body></html>'

    row, _ = email(workspace, message=message(html=html))

    assert row.body_html == "<html><head></head><body><p>x</p></body></html>"


@pytest.mark.django_db
def test_the_same_dedupe_key_twice_is_one_row_and_one_enqueue(workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as first_callbacks:
        first, created = email(workspace)
    with django_capture_on_commit_callbacks() as second_callbacks:
        again, created_again = email(workspace, message=message(subject="Other"), recipient="bob@example.com")

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert (again.subject, again.recipient) == ("Dark mode shipped", "ann@example.com")  # untouched
    assert Delivery.objects.count() == 1
    assert [c.__qualname__ for c in first_callbacks] == ["enqueue productops.tasks.outbox_send"]
    assert second_callbacks == []


@pytest.mark.django_db
def test_a_row_created_suppressed_is_never_sent_nor_enqueued(workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        row, created = email(workspace, suppressed_reason=SuppressedReason.NO_CONSENT)

    assert created is True
    assert (row.state, row.suppressed_reason) == (DeliveryState.SUPPRESSED, SuppressedReason.NO_CONSENT)
    assert callbacks == []
    assert outbox_send() == {}
    assert mail.outbox == []


@pytest.mark.django_db
def test_bad_rows_are_refused_and_nothing_is_written(workspace):
    with pytest.raises(ValueError, match="dedupe_key"):
        email(workspace, key="")
    with pytest.raises(ValueError, match="unknown channel"):
        delivery_create(workspace=workspace, dedupe_key="k", kind="x", channel="fax", recipient="1")

    assert Delivery.objects.count() == 0


@pytest.mark.django_db
def test_dedupe_keys_are_per_workspace_and_rows_without_a_workspace_are_unique_among_themselves(
    workspace, other_workspace
):
    ours, _ = email(workspace, key="invitation:7")
    theirs, created_theirs = email(other_workspace, key="invitation:7")
    global_row, created_global = email(None, key="invitation:7")
    again, created_again = email(None, key="invitation:7")

    assert (created_theirs, created_global, created_again) == (True, True, False)
    assert len({ours.pk, theirs.pk, global_row.pk}) == 3
    assert again.pk == global_row.pk
    assert global_row.workspace_id is None
    assert Delivery.objects.count() == 3


@pytest.mark.django_db
def test_deliveries_create_counts_only_new_rows(
    workspace, other_workspace, django_capture_on_commit_callbacks
):
    def rows(*keys, workspace=workspace):
        return [
            {
                "workspace": workspace,
                "dedupe_key": key,
                "kind": "comms.loop",
                "channel": Channel.EMAIL,
                "recipient": f"{key}@example.com",
                "message": message(),
            }
            for key in keys
        ]

    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries_create(rows("a", "b", "c")) == 3
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries_create(rows("a", "b", "c")) == 0
    assert callbacks == []  # nothing new, nothing to send
    assert deliveries_create(rows("a", "d", "d")) == 1  # a repeated key in one call is one row
    assert deliveries_create(rows("a", workspace=other_workspace)) == 1
    assert deliveries_create(rows("a", workspace=None) + rows("a", workspace=None)) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries_create(rows("e"), send=False) == 1
    assert callbacks == []
    assert deliveries_create([]) == 0

    assert sorted(Delivery.objects.filter(workspace=workspace).values_list("dedupe_key", flat=True)) == [
        "a",
        "b",
        "c",
        "d",
        "e",
    ]
    assert Delivery.objects.count() == 7


@pytest.mark.django_db
def test_the_database_enforces_the_constraints(workspace):
    base = {"kind": "k", "channel": Channel.EMAIL, "recipient": "a@example.com"}
    refused = [
        {"workspace": workspace, "dedupe_key": "s", "state": DeliveryState.SUPPRESSED},  # no reason
        {"workspace": workspace, "dedupe_key": "p", "suppressed_reason": SuppressedReason.BOUNCED},
        {"workspace": workspace, "dedupe_key": ""},
        {"workspace": None, "dedupe_key": ""},
    ]
    for fields in refused:
        with pytest.raises(IntegrityError), transaction.atomic():
            Delivery.objects.create(**base, **fields)

    Delivery.objects.create(**base, workspace=workspace, dedupe_key="same")
    Delivery.objects.create(**base, workspace=None, dedupe_key="same")
    for fields in ({"workspace": workspace, "dedupe_key": "same"}, {"workspace": None, "dedupe_key": "same"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Delivery.objects.create(**base, **fields)
    Delivery.objects.create(
        **base,
        workspace=workspace,
        dedupe_key="ok",
        state=DeliveryState.SUPPRESSED,
        suppressed_reason=SuppressedReason.EMPTY,
    )

    assert Delivery.objects.count() == 3


# --- leases -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_row_whose_lease_has_not_expired_is_not_claimed_and_one_whose_lease_expired_is_sent_once(workspace):
    row, _ = email(workspace)
    now = timezone.now()
    # A worker claims it and dies before sending.
    (claimed,) = deliveries_claim(now=now)
    assert (claimed.pk, claimed.state, claimed.attempts) == (row.pk, DeliveryState.SENDING, 1)
    assert claimed.lease_expires_at == now + timedelta(seconds=300)

    assert deliveries_claim(now=claimed.lease_expires_at - timedelta(seconds=1)) == []
    assert outbox_send() == {}  # the lease still holds
    assert mail.outbox == []

    Delivery.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert outbox_send() == {DeliveryState.SENT: 1}
    assert outbox_send() == {}

    row.refresh_from_db()
    assert (row.state, row.attempts, row.lease_expires_at) == (DeliveryState.SENT, 2, None)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_first_worker_cannot_record_an_outcome_once_its_lease_was_taken_over(workspace):
    row, _ = email(workspace)
    now = timezone.now()
    (stale,) = deliveries_claim(now=now)
    (fresh,) = deliveries_claim(now=now + timedelta(seconds=301))  # the lease ran out; taken over

    assert services.delivery_attempt(fresh) == DeliveryState.SENT
    # The first worker comes back and fails: its result is not recorded over the second's.
    assert services._finish(stale, state=DeliveryState.FAILED, last_error="late") is False
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.SENT, 2, "")


@pytest.mark.django_db
def test_a_row_whose_lease_expires_on_its_last_attempt_is_failed_not_claimed_forever(workspace, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    row, _ = email(workspace)
    now = timezone.now()
    deliveries_claim(now=now)  # attempt 1: the worker dies
    (second,) = deliveries_claim(now=now + timedelta(seconds=301))  # attempt 2: dies too
    assert second.attempts == 2

    assert deliveries_claim(now=now + timedelta(seconds=602)) == []

    row.refresh_from_db()
    assert (row.state, row.attempts, row.lease_expires_at) == (DeliveryState.FAILED, 2, None)
    assert row.last_error == "The sender's lease expired on attempt 2 of 2 (worker died or hung)."
    assert mail.outbox == []


# --- failures and backoff -----------------------------------------------------------------


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_backoff_doubles_from_30_seconds_to_a_6_hour_cap_with_jitter_between_half_and_all():
    bases = {1: 30, 2: 60, 3: 120, 4: 240, 5: 480, 9: 7680, 10: 15360, 11: 21600, 12: 21600, 30: 21600}
    for attempts, base in bases.items():
        assert backoff_seconds(attempts, rng=_Fixed(0.0)) == base / 2
        assert base / 2 < backoff_seconds(attempts, rng=_Fixed(0.999999)) < base
        expected = base * (0.5 + random.Random(attempts).random() / 2)
        assert backoff_seconds(attempts, rng=random.Random(attempts)) == expected

    rng = random.Random(2027)
    waits = [backoff_seconds(4, rng=rng) for _ in range(200)]
    assert all(120 <= wait < 240 for wait in waits)
    assert len(set(waits)) == 200  # spread out, not in lockstep
    assert [backoff_seconds(4, rng=random.Random(7)) for _ in range(2)] == [
        backoff_seconds(4, rng=random.Random(7))
    ] * 2


@pytest.mark.django_db
def test_a_transient_failure_goes_back_to_pending_with_a_backoff_and_fails_after_the_attempt_cap(
    workspace, settings
):
    settings.EMAIL_BACKEND = DOWN
    settings.OUTBOX_MAX_ATTEMPTS = 3
    row, _ = email(workspace)

    for attempt, (low, high) in ((1, (15, 30)), (2, (30, 60))):
        before = timezone.now()
        assert outbox_send() == {DeliveryState.PENDING: 1}
        row.refresh_from_db()
        assert (row.state, row.attempts, row.lease_expires_at) == (DeliveryState.PENDING, attempt, None)
        assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
        wait = (row.next_attempt_at - before).total_seconds()
        assert low <= wait <= high + 1, wait
        assert outbox_send() == {}  # not due before its backoff
        due_now(row)

    assert outbox_send() == {DeliveryState.FAILED: 1}
    row.refresh_from_db()
    assert (row.state, row.attempts, row.sent_at) == (DeliveryState.FAILED, 3, None)
    assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    due_now(row)
    assert outbox_send() == {}  # failed stays failed until someone retries it
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_refused_recipient_fails_at_once(workspace, settings):
    settings.EMAIL_BACKEND = REFUSING
    row, _ = email(workspace)

    assert outbox_send() == {DeliveryState.FAILED: 1}

    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 1)
    assert row.last_error == "recipient refused: {'ann@example.com': (550, b'no such user')}"


@pytest.mark.django_db
def test_the_mail_server_coming_back_sends_the_row_on_its_next_attempt(workspace, settings):
    settings.EMAIL_BACKEND = FLAKY
    FlakyEmailBackend.failures = 1
    row, _ = email(workspace)

    assert outbox_send() == {DeliveryState.PENDING: 1}
    due_now(row)
    assert outbox_send() == {DeliveryState.SENT: 1}

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.SENT, 2, "")
    assert len(mail.outbox) == 1


# --- rendering ----------------------------------------------------------------------------


def _rendered(workspace, key: str = "digest:1:2027-01-04:email", **context):
    return delivery_create(
        workspace=workspace,
        dedupe_key=key,
        kind=RENDERED_KIND,
        channel=Channel.EMAIL,
        recipient="exec@example.com",
        recipient_ref="stakeholder:1",
        context=context,
    )[0]


@pytest.mark.django_db
def test_a_renderer_runs_once_and_a_retry_sends_the_stored_content(workspace, settings, renderer):
    calls = renderer(
        lambda d: Message(
            subject=f"Week {d.context['week']}",
            text=f"Text {d.context['week']}",
            html="<html><head><style>b { font-weight: bold }</style></head>"
            f"<body><b>{d.context['week']}</b></body></html>",
            headers=UNSUBSCRIBE,
        )
    )
    row = _rendered(workspace, week=1)
    assert (row.rendered_at, row.subject, row.body_html) == (None, "", "")
    settings.EMAIL_BACKEND = FLAKY
    FlakyEmailBackend.failures = 1

    assert outbox_send() == {DeliveryState.PENDING: 1}
    row.refresh_from_db()
    assert calls == [row.pk]
    assert row.rendered_at is not None
    assert (row.subject, row.body_text, row.headers) == ("Week 1", "Text 1", UNSUBSCRIBE)
    assert row.body_html == '<html><head></head><body><b style="font-weight: bold;">1</b></body></html>'

    # What the renderer reads changes; the retry still sends what was rendered and stored.
    Delivery.objects.filter(pk=row.pk).update(context={"week": 2})
    due_now(row)
    assert outbox_send() == {DeliveryState.SENT: 1}

    assert calls == [row.pk]
    (sent,) = mail.outbox
    assert (sent.subject, sent.body) == ("Week 1", "Text 1")
    assert sent.alternatives[0].content == row.body_html
    assert sent.extra_headers["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]


@pytest.mark.django_db
def test_a_renderer_that_suppresses_records_the_reason_and_sends_nothing(workspace, renderer):
    def empty(delivery):
        raise Suppress(SuppressedReason.EMPTY)

    renderer(empty)
    row = _rendered(workspace)

    assert outbox_send() == {DeliveryState.SUPPRESSED: 1}

    row.refresh_from_db()
    assert (row.state, row.suppressed_reason, row.rendered_at) == (
        DeliveryState.SUPPRESSED,
        SuppressedReason.EMPTY,
        None,
    )
    assert mail.outbox == []
    assert outbox_send() == {}  # never evaluated again


@pytest.mark.django_db
def test_a_suppression_with_an_unknown_reason_fails_the_row_instead_of_breaking_the_batch(
    workspace, renderer, caplog
):
    def odd(delivery):
        raise Suppress("because")

    renderer(odd)
    row = _rendered(workspace)
    email(workspace)

    with caplog.at_level(logging.ERROR, logger="productops.outbox.services"):
        assert outbox_send() == {DeliveryState.FAILED: 1, DeliveryState.SENT: 1}

    row.refresh_from_db()
    assert (row.state, row.suppressed_reason) == (DeliveryState.FAILED, "")
    assert row.last_error == "Unknown suppression reason 'because'."
    assert f"outbox delivery {row.pk} ({RENDERED_KIND}): unknown suppression 'because'" in caplog.messages
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_row_of_a_kind_nobody_renders_fails_at_once(workspace):
    row, _ = delivery_create(
        workspace=workspace,
        dedupe_key="x",
        kind="nobody.renders",
        channel=Channel.EMAIL,
        recipient="a@b.example",
    )

    assert outbox_send() == {DeliveryState.FAILED: 1}

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == (
        DeliveryState.FAILED,
        1,
        "no renderer for 'nobody.renders'",
    )


@pytest.mark.django_db
def test_one_failing_row_does_not_stop_the_batch_and_is_logged(workspace, renderer, caplog):
    def boom(delivery):
        raise RuntimeError("template exploded")

    renderer(boom)
    email(workspace, key="a", recipient="a@example.com")
    bad = _rendered(workspace, key="b")
    email(workspace, key="c", recipient="c@example.com")

    with caplog.at_level(logging.ERROR, logger="productops.outbox.services"):
        assert outbox_send() == {DeliveryState.SENT: 2, DeliveryState.PENDING: 1}

    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "c@example.com"]
    bad.refresh_from_db()
    assert (bad.state, bad.attempts, bad.last_error, bad.rendered_at) == (
        DeliveryState.PENDING,
        1,
        "template exploded",
        None,
    )
    assert bad.next_attempt_at > timezone.now()
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == f"outbox delivery {bad.pk} ({RENDERED_KIND}) failed"
    assert record.exc_info[0] is RuntimeError


@pytest.mark.django_db
def test_a_transient_send_error_is_logged_as_a_warning(workspace, settings, caplog):
    settings.EMAIL_BACKEND = DOWN
    row, _ = email(workspace)

    with caplog.at_level(logging.WARNING, logger="productops.outbox.services"):
        outbox_send()

    assert caplog.messages == [
        f"outbox delivery {row.pk} (board.status) attempt 1 failed: "
        "SMTPServerDisconnected: Connection unexpectedly closed"
    ]


# --- suppression list ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_address_on_the_suppression_list_is_suppressed_bounced_whatever_its_case(workspace):
    EmailSuppression.objects.create(email="Ann@Example.com", reason=SuppressedReason.BOUNCED)
    row, _ = email(workspace, recipient="ann@example.COM")
    email(workspace, key="other", recipient="bob@example.com")

    assert outbox_send() == {DeliveryState.SUPPRESSED: 1, DeliveryState.SENT: 1}

    row.refresh_from_db()
    assert (row.state, row.suppressed_reason, row.sent_at) == (
        DeliveryState.SUPPRESSED,
        SuppressedReason.BOUNCED,
        None,
    )
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]


@pytest.mark.django_db
def test_email_suppress_suppresses_pending_rows_and_is_idempotent(workspace, other_workspace):
    email(workspace, key="sent")
    outbox_send()
    email(workspace, key="pending", recipient="ANN@example.com")
    elsewhere, _ = email(other_workspace, key="pending")
    delivery_create(
        workspace=workspace,
        dedupe_key="slack",
        kind="comms.digest",
        channel=Channel.SLACK,
        recipient="ann@example.com",
        message=Message(payload={"text": "hi"}),
    )
    email(workspace, key="bob", recipient="bob@example.com")

    row = email_suppress(email=" Ann@Example.com ", reason=SuppressedReason.COMPLAINED, detail="spam report")
    again = email_suppress(email="ann@example.com", reason=SuppressedReason.BOUNCED)

    assert again.pk == row.pk
    assert (row.email, row.reason, row.detail) == (
        "ann@example.com",
        SuppressedReason.COMPLAINED,
        "spam report",
    )
    assert EmailSuppression.objects.count() == 1
    states = dict(Delivery.objects.values_list("dedupe_key", "state").filter(workspace=workspace))
    assert states == {
        "sent": DeliveryState.SENT,
        "pending": DeliveryState.SUPPRESSED,
        "slack": DeliveryState.PENDING,
        "bob": DeliveryState.PENDING,
    }
    elsewhere.refresh_from_db()
    assert (elsewhere.state, elsewhere.suppressed_reason) == (
        DeliveryState.SUPPRESSED,
        SuppressedReason.COMPLAINED,
    )


@pytest.mark.django_db
def test_email_suppress_matches_an_entry_added_in_another_case():
    EmailSuppression.objects.create(email="Ann@Example.com", reason=SuppressedReason.BOUNCED)

    row = email_suppress(email="ann@example.com", reason=SuppressedReason.COMPLAINED)

    assert (row.email, row.reason) == ("Ann@Example.com", SuppressedReason.BOUNCED)
    assert EmailSuppression.objects.count() == 1


@pytest.mark.django_db
def test_email_suppress_refuses_other_reasons_and_writes_nothing(workspace):
    email(workspace)

    with pytest.raises(ValueError, match="unsubscribed"):
        email_suppress(email="ann@example.com", reason=SuppressedReason.UNSUBSCRIBED)

    assert EmailSuppression.objects.count() == 0
    assert Delivery.objects.get().state == DeliveryState.PENDING


# --- retry --------------------------------------------------------------------------------


def _failed(workspace, key: str, recipient: str = "ann@example.com") -> Delivery:
    row, _ = email(workspace, key=key, recipient=recipient)
    Delivery.objects.filter(pk=row.pk).update(state=DeliveryState.FAILED, attempts=8, last_error="SMTP down")
    row.refresh_from_db()
    return row


def _delivery_audits():
    return AuditEvent.objects.filter(target_type="productops.delivery")


@pytest.mark.django_db
def test_deliveries_retry_requeues_failed_rows_of_the_workspace_and_audits_each(
    workspace, other_workspace, member, django_capture_on_commit_callbacks
):
    manager = member(workspace, Role.PRODUCT_MANAGER).user
    one, two = _failed(workspace, "one"), _failed(workspace, "two")
    theirs = _failed(other_workspace, "theirs")
    sent, _ = email(workspace, key="sent", recipient="sent@example.com")
    Delivery.objects.filter(pk=sent.pk).update(state=DeliveryState.SENT)

    with django_capture_on_commit_callbacks() as callbacks:
        count = deliveries_retry(workspace=workspace, ids=[one.pk, two.pk, theirs.pk, sent.pk], actor=manager)

    assert count == 2
    assert len(callbacks) == 1
    for row in (one, two):
        row.refresh_from_db()
        assert (row.state, row.attempts, row.last_error) == (DeliveryState.PENDING, 0, "SMTP down")
        assert row.next_attempt_at <= timezone.now()
    theirs.refresh_from_db()
    sent.refresh_from_db()
    assert (theirs.state, sent.state) == (DeliveryState.FAILED, DeliveryState.SENT)
    audits = list(_delivery_audits().order_by("target_id"))
    assert [(a.target_id, a.actor_id, a.workspace_id, a.action, a.changes) for a in audits] == [
        (str(row.pk), manager.pk, workspace.pk, "updated", {"state": ["failed", "pending"]})
        for row in sorted((one, two), key=lambda r: str(r.pk))
    ]

    assert outbox_send() == {DeliveryState.SENT: 2}
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_a_retried_delivery_is_sent_by_the_next_send(workspace):
    row = _failed(workspace, "one")

    delivery_retry(delivery=row, actor=None)
    assert outbox_send() == {DeliveryState.SENT: 1}

    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.SENT, 1)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR])
def test_retrying_needs_the_product_manager_role_and_writes_nothing_otherwise(workspace, member, role):
    user = member(workspace, role).user
    row = _failed(workspace, "one")

    with pytest.raises(Forbidden):
        deliveries_retry(workspace=workspace, ids=[row.pk], actor=user)
    with pytest.raises(Forbidden):
        delivery_retry(delivery=row, actor=user)

    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 8)
    assert not _delivery_audits().exists()


@pytest.mark.django_db
def test_a_non_member_cannot_retry_and_the_workspace_is_not_revealed(workspace, other_workspace, member):
    outsider = member(other_workspace, Role.OWNER).user
    row = _failed(workspace, "one")

    with pytest.raises(NotFound):
        deliveries_retry(workspace=workspace, ids=[row.pk], actor=outsider)
    with pytest.raises(NotFound):
        delivery_retry(delivery=row, actor=outsider)

    row.refresh_from_db()
    assert row.state == DeliveryState.FAILED
    assert not _delivery_audits().exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "state", [DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.SENT, DeliveryState.SUPPRESSED]
)
def test_retrying_a_delivery_that_has_not_failed_is_a_conflict(workspace, member, state):
    manager = member(workspace, Role.ADMIN).user
    row, _ = email(workspace)
    reason = SuppressedReason.BOUNCED if state == DeliveryState.SUPPRESSED else ""
    Delivery.objects.filter(pk=row.pk).update(state=state, suppressed_reason=reason)
    row.refresh_from_db()

    with pytest.raises(Conflict) as refused:
        delivery_retry(delivery=row, actor=manager)

    assert refused.value.code == "not_failed"
    assert Delivery.objects.get(pk=row.pk).state == state
    assert not _delivery_audits().exists()


@pytest.mark.django_db
def test_retrying_a_stale_copy_of_a_row_that_was_already_retried_is_a_conflict(workspace, member):
    manager = member(workspace, Role.PRODUCT_MANAGER).user
    row = _failed(workspace, "one")
    stale = Delivery.objects.get(pk=row.pk)
    delivery_retry(delivery=row, actor=manager)

    with pytest.raises(Conflict):
        delivery_retry(delivery=stale, actor=manager)

    assert _delivery_audits().count() == 1


@pytest.mark.django_db
def test_the_system_retries_rows_of_every_workspace_and_rows_without_one(workspace, other_workspace):
    ours, theirs = _failed(workspace, "a"), _failed(other_workspace, "b")
    reset, _ = email(None, key="password-reset:1:1")
    Delivery.objects.filter(pk=reset.pk).update(state=DeliveryState.FAILED)

    assert deliveries_retry(workspace=None, ids=[ours.pk, theirs.pk, reset.pk], actor=None) == 3

    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.PENDING}
    assert sorted(_delivery_audits().values_list("workspace_id", "actor_label")) == sorted(
        [(workspace.pk, "system"), (other_workspace.pk, "system")]
    )


# --- a real worker ------------------------------------------------------------------------


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_delivery_committed_in_a_transaction_is_sent_by_a_real_worker(empty_queue):
    workspace = WorkspaceFactory()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        with transaction.atomic():
            row, created = email(workspace)  # enqueues productops.tasks.outbox_send on commit
        assert created
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = Delivery.objects.values_list("state", flat=True).get(pk=row.pk)
            if state == DeliveryState.SENT:
                break
            time.sleep(0.1)

    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.SENT, 1)
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
