"""Tasks are sent only after commit, and really travel through the configured broker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from productops import services, tasks
from productops.celery import app as celery_app
from productops.models import Heartbeat, Role
from productops.tasking import enqueue_on_commit


def queued_messages() -> int:
    """Messages waiting in our queue on the real broker (Redis or filesystem)."""
    queue = celery_app.conf.task_default_queue
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        return channel.queue_declare(
            queue=queue, passive=False, durable=True, auto_delete=False
        ).message_count


class _Rollback(Exception):
    pass


def in_rolled_back_transaction(work) -> None:
    try:
        with transaction.atomic():
            work()
            raise _Rollback
    except _Rollback:
        pass


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.mark.django_db(transaction=True)
def test_task_enqueued_in_a_rolled_back_transaction_is_never_sent(empty_queue):
    in_rolled_back_transaction(lambda: enqueue_on_commit(tasks.heartbeat, "rolled-back"))

    assert queued_messages() == 0


@pytest.mark.django_db(transaction=True)
def test_task_enqueued_in_a_committed_transaction_is_sent_once(empty_queue):
    with transaction.atomic():
        enqueue_on_commit(tasks.heartbeat, "committed")
        assert queued_messages() == 0  # not before the commit

    assert queued_messages() == 1


@pytest.mark.django_db(transaction=True)
def test_invitation_rollback_sends_no_email_task(empty_queue, workspace, member):
    owner = member(workspace, Role.OWNER).user
    in_rolled_back_transaction(
        lambda: services.invitation_create(
            workspace=workspace, email="a@example.com", role="viewer", actor=owner
        )
    )

    assert queued_messages() == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_round_trip_through_a_real_worker(empty_queue):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert tasks.ping.delay().get(timeout=30) == "pong"
        tasks.heartbeat.delay("round-trip")
        deadline = time.monotonic() + 30
        while not Heartbeat.objects.filter(name="round-trip").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    assert Heartbeat.objects.filter(name="round-trip").exists()
    assert queued_messages() == 0


@pytest.mark.django_db
def test_heartbeat_task_body_is_idempotent():
    tasks.heartbeat("worker")
    tasks.heartbeat("worker")

    assert Heartbeat.objects.filter(name="worker").count() == 1
