"""A coalesced recompute's log line names the requests whose changes it scored."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from priority import recompute, tasks
from productops.celery import app as celery_app
from productops.request_id import context_bind, context_reset
from roadmap import services
from roadmap.models import RECOMPUTE_REQUEST_IDS_LOGGED, RoadmapSettings, ScoreState
from roadmap.selectors import settings_for
from tests.feedback.factories import CompanyFactory, ContactFactory
from tests.priority.poison import cure, poison
from tests.productops.json_logs import json_lines_of
from tests.roadmap.factories import FeatureFactory, ProductFactory

RECOMPUTE_TASK = "roadmap.tasks.recompute_priorities"


@pytest.fixture
def recompute_lines() -> Iterator[Callable[[], list[dict]]]:
    """The recompute's own lines, as the production handler writes them."""
    with json_lines_of("priority.recompute") as lines:
        yield lambda: [line for line in lines() if line["message"].startswith("recompute ")]


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def change(feature_ids: list[int], workspace_id: int, request_id: str | None, capture) -> None:
    """Mark features dirty in a request with ``request_id`` (None: outside any request), the
    commit's callbacks running inside it as they do in a real request."""
    bound = context_bind(request_id=request_id)
    try:
        with capture(execute=True):
            services.features_mark_dirty(workspace_id=workspace_id, feature_ids=feature_ids, schedule=False)
    finally:
        context_reset(bound)


def queued_messages() -> list:
    """Every message waiting in our queue on the real broker, taken off it."""
    found = []
    with celery_app.connection_for_write() as broker:
        channel = broker.default_channel
        while (
            message := channel.basic_get(queue=celery_app.conf.task_default_queue, no_ack=True)
        ) is not None:
            found.append(message)
    return found


def stored_ids(workspace_id: int) -> list[str]:
    return RoadmapSettings.objects.get(workspace_id=workspace_id).dirty_request_ids


@pytest.mark.django_db
def test_the_run_logs_one_line_with_the_request_ids_of_the_changes_it_scored(
    recompute_lines, django_capture_on_commit_callbacks
):
    product = ProductFactory(workspace__slug="acme")
    first, second = FeatureFactory(product=product), FeatureFactory(product=product)
    workspace_id = product.workspace_id
    change([first.pk], workspace_id, "req-a", django_capture_on_commit_callbacks)
    change([second.pk], workspace_id, "req-b", django_capture_on_commit_callbacks)
    assert stored_ids(workspace_id) == ["req-a", "req-b"]

    result = recompute.run(workspace_id=workspace_id)

    assert result.recomputed == 2
    [line] = recompute_lines()
    assert line["message"] == 'recompute workspace=acme features=2 request_ids=["req-a", "req-b"]'
    assert line["level"] == "INFO"
    assert line["logger"] == "priority.recompute"
    assert line["workspace"] == "acme"
    assert line["workspace_id"] == workspace_id
    assert line["features"] == 2
    assert line["request_ids"] == ["req-a", "req-b"]
    assert line["request_ids_cut"] is False
    assert line["full"] is False
    assert stored_ids(workspace_id) == []


@pytest.mark.django_db
def test_a_request_that_marks_twice_is_listed_once_and_a_change_outside_requests_adds_none(
    django_capture_on_commit_callbacks,
):
    feature = FeatureFactory()
    change([feature.pk], feature.workspace_id, "req-twice", django_capture_on_commit_callbacks)
    change([feature.pk], feature.workspace_id, "req-twice", django_capture_on_commit_callbacks)
    change([feature.pk], feature.workspace_id, None, django_capture_on_commit_callbacks)

    row = RoadmapSettings.objects.get(workspace_id=feature.workspace_id)
    assert row.dirty_request_ids == ["req-twice"]
    assert row.recompute_requested_seq == 3


@pytest.mark.django_db
def test_at_most_twenty_ids_are_listed_and_the_line_says_the_list_was_cut(
    recompute_lines, django_capture_on_commit_callbacks
):
    feature = FeatureFactory()
    ids = [f"req-{n:02d}" for n in range(25)]
    for request_id in ids:
        change([feature.pk], feature.workspace_id, request_id, django_capture_on_commit_callbacks)
    # One past the cap is kept, so the run can tell that more were recorded.
    assert stored_ids(feature.workspace_id) == ids[: RECOMPUTE_REQUEST_IDS_LOGGED + 1]

    recompute.run(workspace_id=feature.workspace_id)

    [line] = recompute_lines()
    assert RECOMPUTE_REQUEST_IDS_LOGGED == 20
    assert line["request_ids"] == ids[:20]
    assert line["request_ids_cut"] is True
    assert stored_ids(feature.workspace_id) == []


@pytest.mark.django_db
def test_ids_recorded_after_the_run_read_them_stay_for_the_next_run(django_capture_on_commit_callbacks):
    feature = FeatureFactory()
    workspace_id = feature.workspace_id
    change([feature.pk], workspace_id, "before-read", django_capture_on_commit_callbacks)
    row = settings_for(workspace_id)
    # The run has read the settings (one id); a change's request is recorded meanwhile.
    change([feature.pk], workspace_id, "after-read", django_capture_on_commit_callbacks)

    recompute._finish(
        workspace_id, row.recompute_run, row.recompute_requested_seq, timezone.now(), request_ids_covered=1
    )

    row.refresh_from_db()
    assert row.dirty_request_ids == ["after-read"]
    assert row.recompute_requested_at is not None  # the later request is still waiting too


@pytest.mark.django_db
def test_a_failed_run_keeps_the_ids_and_the_run_that_scores_the_changes_lists_them(
    recompute_lines, django_capture_on_commit_callbacks
):
    feature = FeatureFactory(reach=10, impact=1, confidence_pct=100, effort=1)
    recompute.run(workspace_id=feature.workspace_id)
    change([feature.pk], feature.workspace_id, "req-failed", django_capture_on_commit_callbacks)
    poison(feature.workspace_id)

    assert recompute.run(workspace_id=feature.workspace_id).failed is True
    assert stored_ids(feature.workspace_id) == ["req-failed"]

    cure()
    assert recompute.run(workspace_id=feature.workspace_id).failed is False
    assert [line["request_ids"] for line in recompute_lines()] == [[], ["req-failed"]]


@pytest.mark.django_db
def test_the_request_ids_cost_no_query_per_feature(django_capture_on_commit_callbacks):
    def queries_of_a_run(features: int) -> int:
        product = ProductFactory()
        rows = [FeatureFactory(product=product) for _ in range(features)]
        for row in rows:
            change([row.pk], product.workspace_id, f"req-{row.pk}", django_capture_on_commit_callbacks)
        with CaptureQueriesContext(connection) as run:
            recompute.run(workspace_id=product.workspace_id)
        return len(run.captured_queries)

    assert queries_of_a_run(30) == queries_of_a_run(1)


# --- one vote, from the request to the recompute's line ------------------------------------


def _vote_in_a_request(session_client, workspace, owner, request_id: str):
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product)
    contact = ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace))
    recompute.run(workspace_id=workspace.pk)  # the setup's own changes are scored first
    response = session_client(owner).post(
        f"/api/v1/workspaces/{workspace.slug}/votes/",
        {"contact": contact.pk, "feature": feature.pk},
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == request_id
    return feature


@pytest.mark.django_db(transaction=True)
def test_one_vote_is_followed_from_the_request_to_the_recompute_line(
    workspace, owner, session_client, empty_queue, recompute_lines
):
    feature = _vote_in_a_request(session_client, workspace, owner, "follow-me-123")
    # The recompute the request sent, taken off the broker and run as the worker runs it.
    [message] = [m for m in queued_messages() if m.headers["task"] == RECOMPUTE_TASK]
    assert message.headers["request_id"] == "follow-me-123"
    args, kwargs, _ = message.decode()

    tasks.recompute_priorities.apply(
        args=args, kwargs=kwargs, headers=message.headers, task_id=message.headers["id"]
    )

    assert [line["request_ids"] for line in recompute_lines()] == [[], ["follow-me-123"]]
    line = recompute_lines()[-1]
    assert line["request_id"] == "follow-me-123"  # the task's own lines carry it too
    assert (line["task_name"], line["task_id"]) == (RECOMPUTE_TASK, message.headers["id"])
    assert line["message"] == f'recompute workspace={workspace.slug} features=1 request_ids=["follow-me-123"]'
    feature.refresh_from_db()
    assert feature.score_state == ScoreState.CLEAN


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_one_vote_is_followed_through_a_real_worker(
    workspace, owner, session_client, empty_queue, recompute_lines
):
    _vote_in_a_request(session_client, workspace, owner, "follow-me-123")

    def followed() -> list[dict]:
        return [line for line in recompute_lines() if "follow-me-123" in line["request_ids"]]

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 30
        while not followed() and time.monotonic() < deadline:
            time.sleep(0.05)

    [line] = followed()
    assert line["request_ids"] == ["follow-me-123"]
    assert line["request_id"] == "follow-me-123"
    assert line["task_name"] == RECOMPUTE_TASK
    assert line["workspace"] == workspace.slug
    assert line["features"] == 1
