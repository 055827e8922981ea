"""Exactly once under concurrency (PostgreSQL): senders claim with
``select_for_update(skip_locked=True)``, so a second sender skips the rows a first one holds
instead of waiting for them, and duplicated send tasks running beside the sweeper send every
row once. SQLite serialises every writer, so these need PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.db import connection, transaction

from productops import tasks
from productops.outbox.models import Channel, Delivery, DeliveryState
from productops.outbox.services import Message, deliveries_claim, deliveries_create, delivery_attempt
from tests.productops.factories import WorkspaceFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs real concurrent transactions and row locks; SQLite serialises every writer",
    ),
    pytest.mark.django_db(transaction=True),
]


def pending_rows(count: int) -> list[Delivery]:
    workspace = WorkspaceFactory()
    deliveries_create(
        [
            {
                "workspace": workspace,
                "dedupe_key": f"loop:{n}:1",
                "kind": "comms.loop",
                "channel": Channel.EMAIL,
                "recipient": f"contact{n}@example.com",
                "message": Message(subject=f"Shipped {n}", text="Shipped."),
            }
            for n in range(count)
        ],
        send=False,
    )
    return list(Delivery.objects.order_by("id"))


def in_thread(target, outcome: dict, name: str) -> threading.Thread:
    """Run ``target`` in a thread with its own database connection; its result (or error)
    lands in ``outcome[name]``."""

    def run() -> None:
        try:
            outcome[name] = target()
        except Exception as exc:  # asserted by the test
            outcome[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_a_second_sender_skips_the_rows_a_first_one_holds_instead_of_waiting():
    rows = pending_rows(6)
    held, release = threading.Event(), threading.Event()
    outcome: dict = {}

    def first() -> list[Delivery]:
        # The claim's transaction stays open (its row locks held) until the test releases it.
        with transaction.atomic():
            claimed = deliveries_claim(limit=3)
            held.set()
            release.wait(30)
        return claimed

    def second() -> tuple[list[Delivery], float]:
        started = time.monotonic()
        claimed = deliveries_claim(limit=10)
        return claimed, time.monotonic() - started

    holder = in_thread(first, outcome, "first")
    try:
        assert held.wait(10)
        in_thread(second, outcome, "second").join(10)
        # The first claim is not committed yet, the second is.
        assert Delivery.objects.filter(state=DeliveryState.SENDING).count() == 3
    finally:
        release.set()
        holder.join(10)

    first_claim = outcome["first"]
    second_claim, waited = outcome["second"]
    assert waited < 1.0  # skipped the locked rows; did not wait the 30 s for them
    first_ids = [row.pk for row in first_claim]
    second_ids = [row.pk for row in second_claim]
    assert first_ids == [row.pk for row in rows[:3]]  # oldest due first
    assert second_ids == [row.pk for row in rows[3:]]
    assert Delivery.objects.filter(state=DeliveryState.SENDING).count() == 6

    for row in first_claim + second_claim:
        assert delivery_attempt(row) == DeliveryState.SENT
    assert sorted(m.to[0] for m in mail.outbox) == sorted(row.recipient for row in rows)
    assert set(Delivery.objects.values_list("state", "attempts")) == {(DeliveryState.SENT, 1)}


def test_duplicated_send_tasks_beside_the_sweeper_send_every_row_exactly_once(settings):
    settings.EMAIL_BACKEND = "tests.productops.mail_backends.SlowEmailBackend"  # so the senders overlap
    rows = pending_rows(150)
    start = threading.Barrier(4)
    outcome: dict = {}

    def after_start(task, *args):
        def run():
            start.wait(10)
            return task(*args)

        return run

    senders = [
        in_thread(after_start(tasks.outbox_send), outcome, "send"),
        in_thread(after_start(tasks.outbox_send), outcome, "send again"),  # the duplicated message
        in_thread(after_start(tasks.outbox_send, rows[-1].pk), outcome, "send one"),
        in_thread(after_start(tasks.outbox_sweep), outcome, "sweep"),
    ]
    for thread in senders:
        thread.join(60)

    errors = [result for result in outcome.values() if isinstance(result, Exception)]
    assert errors == []
    assert sum(result.get(DeliveryState.SENT, 0) for result in outcome.values()) == 150
    assert sum(1 for result in outcome.values() if result) >= 2  # more than one sender did work
    sent_to = sorted(m.to[0] for m in mail.outbox)
    assert sent_to == sorted(row.recipient for row in rows)  # each once: no duplicate, none missing
    assert set(Delivery.objects.values_list("state", "attempts")) == {(DeliveryState.SENT, 1)}
