"""Two consumers of one workspace's events at once (PostgreSQL: real row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from comms import events
from comms.models import CommsSettings
from productops.models import Event
from productops.services import event_record
from tests.productops.factories import WorkspaceFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs real concurrent transactions and row locks"
    ),
    pytest.mark.django_db(transaction=True),
]


def test_a_consumer_leaves_a_cursor_another_holds_and_the_holder_handles_every_event():
    workspace = WorkspaceFactory()
    for n in range(3):
        event_record(
            workspace=workspace, kind=Event.Kind.FEEDBACK_CREATED, subject=workspace, payload={"n": n}
        )
    assert events.events_consume() == 3  # the settings row exists; the cursor is at the end
    for n in range(5):
        event_record(
            workspace=workspace, kind=Event.Kind.FEEDBACK_CREATED, subject=workspace, payload={"n": n}
        )
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                CommsSettings.objects.select_for_update().get(workspace=workspace)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    try:
        # Returns at once, without waiting for the lock and without moving the cursor.
        assert events.events_consume() == 0
        assert thread.is_alive()
    finally:
        release.set()
        thread.join(10)

    assert events.events_consume() == 5
    settings = CommsSettings.objects.get(workspace=workspace)
    assert settings.events_through_id == Event.objects.filter(workspace=workspace).latest("id").pk
