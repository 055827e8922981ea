import os
import subprocess
import sys
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from feedback import services, tasks
from feedback.models import DuplicateSuggestion, FeedbackItem
from productops.celery import app as celery_app


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


@pytest.mark.django_db
def test_the_task_stores_suggestions_and_running_it_twice_adds_nothing(workspace):
    original, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "Export dashboards to PowerPoint please"}
    )
    copy, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "Please export dashboards to PowerPoint"}
    )

    assert tasks.find_duplicates.run([copy.pk]) == 1
    assert tasks.find_duplicates.run([copy.pk]) == 1
    assert tasks.find_duplicates.run([original.pk]) == 1  # the same pair, seen from the other side

    assert list(DuplicateSuggestion.objects.values_list("item_id", "similar_item_id")) == [
        (original.pk, copy.pk)
    ]


@pytest.mark.django_db
def test_the_sweep_catches_up_items_whose_task_was_lost(workspace):
    # No on_commit callback ran: as if the broker had been down at ingestion.
    items = [
        services.feedback_item_ingest(workspace=workspace, actor=None, data={"text": f"Request {n}"})[0]
        for n in range(3)
    ]

    assert tasks.find_duplicates_pending.run() == 3

    assert not FeedbackItem.objects.filter(pk__in=[i.pk for i in items], duplicates_checked_at=None).exists()
    assert tasks.find_duplicates_pending.run() == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_new_item_gets_its_suggestions_through_a_real_worker(workspace, empty_queue):
    original, _ = services.feedback_item_ingest(
        workspace=workspace, actor=None, data={"text": "Slack notifications when a dashboard changes"}
    )
    FeedbackItem.objects.filter(pk=original.pk).update(duplicates_checked_at=None)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        copy, _ = services.feedback_item_ingest(
            workspace=workspace, actor=None, data={"text": "Slack notification when dashboards change"}
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if FeedbackItem.objects.get(pk=copy.pk).duplicates_checked_at is not None:
                break
            time.sleep(0.05)

    assert FeedbackItem.objects.get(pk=copy.pk).duplicates_checked_at is not None
    assert DuplicateSuggestion.objects.filter(item=original, similar_item=copy).exists()


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_ingestion_succeeds_while_the_broker_is_down_and_the_sweep_catches_up(workspace):
    # Another process, the same database, a Redis port nobody listens on.
    script = (
        "import django; django.setup();"
        "from feedback import services; from productops.models import Workspace;"
        "item, created = services.feedback_item_ingest("
        f"workspace=Workspace.objects.get(pk={workspace.pk}), actor=None, data={{'text': 'Gantt charts'}});"
        "print('stored', item.pk, created)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "productops.test_settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=True
    )

    assert result.stdout.strip().splitlines()[-1].startswith("stored ")
    assert "enqueue feedback.tasks.find_duplicates" in result.stderr  # logged, not raised
    item = FeedbackItem.objects.get(workspace=workspace)
    assert item.duplicates_checked_at is None
    assert tasks.find_duplicates_pending.run() == 1
    assert FeedbackItem.objects.get(pk=item.pk).duplicates_checked_at is not None
