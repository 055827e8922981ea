"""Duplicate detection under concurrency (PostgreSQL): four clients ingest near-identical
feedback at once and four workers run each item's ``find_duplicates`` task at once, round
after round. No check may deadlock, and every pair (and every item's feature suggestion)
ends stored exactly once. SQLite serialises every writer, so these need PostgreSQL.

Before the fix each check held ``FOR UPDATE`` on its item while inserting the pair
``(min, max)``; the pair's foreign-key check takes ``FOR KEY SHARE`` on the *other* item,
which ``FOR UPDATE`` blocks, so two checks of similar items waited on each other.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection

from feedback import services, tasks, vectors
from feedback.matching import match_text, trigram_similarity
from feedback.models import DuplicateSuggestion, FeedbackItem
from feedback.similarity import ITEM_THRESHOLD
from productops.celery import app as celery_app
from tests.feedback.factories import FeedbackItemFactory
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs real concurrent transactions and row locks; SQLite serialises every writer",
    ),
    pytest.mark.django_db(transaction=True),
]

CLIENTS = 4
ROUNDS = 20
# Near-identical requests, each above the item threshold with every other. Six at most: a
# check suggests its five most similar items, so every pair is then found.
TEXTS = [
    "Export dashboards to PowerPoint slides",
    "Please export dashboards to PowerPoint slides",
    "Export dashboard to PowerPoint slides",
    "We need to export dashboards into PowerPoint slides",
    "Export dashboards to PowerPoint slide decks",
    "Could you export dashboards as PowerPoint slides?",
]


@pytest.fixture
def empty_queue():
    # Each ingest enqueues its real task on commit; nothing consumes it here.
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def test_the_texts_are_near_duplicates_of_each_other():
    # The premise of the test below: every text is a suggestion for every other.
    for a, b in itertools.combinations(TEXTS, 2):
        assert trigram_similarity(match_text(a), match_text(b)) >= ITEM_THRESHOLD, (a, b)


def test_concurrent_ingests_of_similar_feedback_never_deadlock_and_store_each_pair_once(empty_queue):
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(workspace, text: str, ingested: threading.Barrier, ids: list[int], n: int) -> None:
        try:
            # Ingest at the same time as the other clients, then (once every item is
            # committed) run this item's duplicate task, as four workers would.
            ingested.wait(10)
            item, _ = services.feedback_item_ingest(workspace=workspace, actor=None, data={"text": text})
            ids[n] = item.pk
            ingested.wait(10)
            tasks.find_duplicates.run([item.pk])
        except BaseException as exc:  # asserted by the test (a deadlock is an OperationalError)
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    workspaces = []
    for _ in range(ROUNDS):
        workspace = WorkspaceFactory()
        feature = FeatureFactory(
            workspace=workspace, product=ProductFactory(workspace=workspace), title="Export to PowerPoint"
        )
        workspaces.append((workspace, feature))
        ingested = threading.Barrier(CLIENTS)
        ids = [0] * CLIENTS
        threads = [
            threading.Thread(target=client, args=(workspace, TEXTS[n], ingested, ids, n))
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)

    assert [repr(e) for e in errors] == []
    for workspace, feature in workspaces:
        items = sorted(FeedbackItem.objects.filter(workspace=workspace).values_list("pk", flat=True))
        assert len(items) == CLIENTS
        pairs = list(
            DuplicateSuggestion.objects.filter(workspace=workspace, similar_item__isnull=False)
            .order_by("item_id", "similar_item_id")
            .values_list("item_id", "similar_item_id")
        )
        assert pairs == list(itertools.combinations(items, 2))  # every pair, each once
        features = sorted(
            DuplicateSuggestion.objects.filter(workspace=workspace, similar_feature=feature).values_list(
                "item_id", flat=True
            )
        )
        assert features == items  # one feature suggestion per item
        assert not FeedbackItem.objects.filter(workspace=workspace, duplicates_checked_at=None).exists()


def test_checks_of_every_item_in_opposite_orders_beside_the_sweep_never_deadlock():
    # The task for every item, in different orders, beside the beat sweep, many times over:
    # checks of one item wait for each other (the item's lock); checks of different items
    # never wait in a cycle.
    workspace = WorkspaceFactory()
    ids = [FeedbackItemFactory(workspace=workspace, text=text).pk for text in TEXTS]
    start = threading.Barrier(CLIENTS)
    errors: list[BaseException] = []

    def sweep() -> None:
        # What the sweep does for items of an outdated model: mark them, then check them.
        vectors.items_mark_unchecked(item_ids=ids)
        tasks.find_duplicates_pending.run()

    def worker(run) -> None:
        try:
            start.wait(10)
            for _ in range(ROUNDS):
                run()
        except BaseException as exc:  # asserted by the test
            errors.append(exc)
        finally:
            connection.close()

    runs = [
        lambda: tasks.find_duplicates.run(ids),
        lambda: tasks.find_duplicates.run(ids[::-1]),
        lambda: tasks.find_duplicates.run(ids[1::2] + ids[::2]),
        sweep,
    ]
    threads = [threading.Thread(target=worker, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert not any(thread.is_alive() for thread in threads)
    assert [repr(e) for e in errors] == []
    pairs = list(
        DuplicateSuggestion.objects.filter(workspace=workspace)
        .order_by("item_id", "similar_item_id")
        .values_list("item_id", "similar_item_id")
    )
    assert pairs == list(itertools.combinations(sorted(ids), 2))  # every pair, each once
