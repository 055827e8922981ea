"""The comms consumer of the event table: cursor per workspace, replays add nothing, one
workspace's bad event does not stop another's, old events are skipped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from comms import events, loop
from comms.models import CommsSettings
from productops.models import Event, Role
from productops.outbox.models import Delivery
from productops.services import event_record
from releases.models import ScopeState
from releases.services import release_ship
from tests.comms.factories import WebhookEndpointFactory
from tests.feedback.factories import ContactFactory, VoteFactory
from tests.productops.factories import WorkspaceFactory
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db


def shipped_release(workspace, member, voters=2):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    release = ReleaseFactory(product=ProductFactory(workspace=workspace))
    item = ScopeItemFactory(release=release, state=ScopeState.DONE)
    for _ in range(voters):
        VoteFactory(contact=ContactFactory(workspace=workspace), feature=item.feature)
    release_ship(release=release, actor=pm)
    return release


def rows(workspace=None):
    qs = Delivery.objects.all() if workspace is None else Delivery.objects.filter(workspace=workspace)
    return sorted(qs.values_list("dedupe_key", "state", "kind"))


def test_a_workspace_gets_a_settings_row_at_cursor_zero_and_the_cursor_follows_the_events(workspace, member):
    shipped_release(workspace, member)
    assert not CommsSettings.objects.exists()

    assert events.events_consume() == 2  # the feature's status change and the release

    settings = CommsSettings.objects.get(workspace=workspace)
    assert settings.events_through_id == Event.objects.latest("id").pk
    assert [kind for _, _, kind in rows()] == [loop.LOOP_KIND, loop.LOOP_KIND]
    assert events.events_consume() == 0


def test_running_the_consumer_again_from_the_start_adds_nothing(workspace, member):
    WebhookEndpointFactory(workspace=workspace)
    shipped_release(workspace, member, voters=3)
    events.events_consume()
    first = rows()
    assert len(first) == 5  # three notices, two webhook calls

    # A crash after the deliveries but before the cursor (or a concurrent consumer) replays.
    CommsSettings.objects.filter(workspace=workspace).update(events_through_id=0)
    assert events.events_consume() == 2
    assert events.events_consume() == 0
    assert rows() == first


def test_one_workspace_bad_event_does_not_stop_another(workspace, other_workspace, member):
    good = event_record(workspace=workspace, kind=Event.Kind.WEBHOOK_TEST, subject=workspace, payload={})[0]
    # A payload no handler can read (the release id is not a number): its workspace stops there.
    bad = event_record(
        workspace=workspace,
        kind=Event.Kind.RELEASE_SHIPPED,
        subject=workspace,
        payload={"release": {"id": "x"}},
    )[0]
    event_record(workspace=workspace, kind=Event.Kind.WEBHOOK_TEST, subject=other_workspace, payload={})
    shipped_release(other_workspace, member)

    # After the bad one, an event that makes nothing: never passed over the failure by id.
    event_record(workspace=workspace, kind=Event.Kind.FEEDBACK_CREATED, subject=workspace, payload={})

    events.events_consume()

    assert CommsSettings.objects.get(workspace=workspace).events_through_id == good.pk
    other = CommsSettings.objects.get(workspace=other_workspace)
    assert other.events_through_id == Event.objects.filter(workspace=other_workspace).latest("id").pk
    assert len(rows(other_workspace)) == 2
    # Retried on the next run, and still stuck on the same event (nothing skipped).
    events.events_consume()
    assert CommsSettings.objects.get(workspace=workspace).events_through_id == good.pk < bad.pk


def test_events_older_than_the_maximum_age_are_skipped(workspace, member, settings):
    settings.COMMS_EVENT_MAX_AGE_DAYS = 7
    endpoint = WebhookEndpointFactory(workspace=workspace)
    old = event_record(
        workspace=workspace,
        kind=Event.Kind.FEEDBACK_CREATED,
        subject=workspace,
        payload={"feedback": {"id": 1}},
        occurred_at=timezone.now() - timedelta(days=8),
    )[0]
    fresh = event_record(
        workspace=workspace,
        kind=Event.Kind.FEEDBACK_CREATED,
        subject=workspace,
        payload={"feedback": {"id": 2}},
    )[0]

    assert events.events_consume() == 2

    assert rows() == [(f"webhook:{endpoint.pk}:{fresh.pk}", "pending", "webhook.event")]
    assert CommsSettings.objects.get(workspace=workspace).events_through_id == fresh.pk > old.pk


def test_batches_follow_each_other_until_the_end(workspace, monkeypatch):
    monkeypatch.setattr(events, "BATCH", 3)
    endpoint = WebhookEndpointFactory(workspace=workspace)
    recorded = [
        event_record(
            workspace=workspace, kind=Event.Kind.FEEDBACK_CREATED, subject=workspace, payload={"n": n}
        )[0]
        for n in range(7)
    ]

    assert events.events_consume() == 7

    assert len(rows()) == 7
    assert CommsSettings.objects.get(workspace=workspace).events_through_id == recorded[-1].pk
    assert Delivery.objects.filter(recipient_ref=f"endpoint:{endpoint.pk}").count() == 7


def test_without_webhooks_events_that_make_nothing_are_passed_by_id(
    workspace, member, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(events, "SCAN", 5)
    recorded = [
        event_record(
            workspace=workspace, kind=Event.Kind.FEEDBACK_CREATED, subject=workspace, payload={"n": n}
        )[0]
        for n in range(12)
    ]
    events.events_consume()  # the settings row, and the cursor at the end
    CommsSettings.objects.filter(workspace=workspace).update(events_through_id=recorded[1].pk)

    # Three to find the workspace; ten events in two scans of five, each: its savepoint and
    # release, the locked cursor, the endpoints, the ids and kinds, the cursor moved (no
    # event read whole); then a scan that finds none (the same, but the cursor's update).
    with django_assert_num_queries(3 + 2 * 6 + 5):
        assert events.events_consume() == 10

    assert CommsSettings.objects.get(workspace=workspace).events_through_id == recorded[-1].pk
    assert rows() == []


def test_a_batch_cuts_after_batch_events_to_read_whole():
    heads = [(1, "feedback.created"), (2, "release.shipped"), (3, "feedback.created"), (4, "release.shipped")]

    assert events._batch(heads, every_kind=False) == heads
    assert events._batch(heads, every_kind=True) == heads

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events, "BATCH", 1)
        assert events._batch(heads, every_kind=False) == heads[:2]
        assert events._batch(heads, every_kind=True) == heads[:1]


def test_without_webhooks_one_event_read_whole_a_batch_still_handles_them_all(workspace, member, monkeypatch):
    monkeypatch.setattr(events, "BATCH", 1)
    event_record(workspace=workspace, kind=Event.Kind.FEEDBACK_CREATED, subject=workspace, payload={})
    shipped_release(workspace, member)

    # The feedback event and the feature's status change, then the release: two batches.
    assert events.events_consume() == 3

    assert CommsSettings.objects.get(workspace=workspace).events_through_id == Event.objects.latest("id").pk
    assert [kind for _, _, kind in rows()] == [loop.LOOP_KIND, loop.LOOP_KIND]


def test_a_new_workspace_without_events_needs_no_settings_row():
    WorkspaceFactory()
    assert events.events_consume() == 0
    assert not CommsSettings.objects.exists()


def test_every_new_feedback_item_records_one_feedback_created_event(workspace, member):
    from feedback.services import feedback_item_ingest, feedback_items_ingest_bulk

    user = member(workspace, Role.CONTRIBUTOR).user
    item, _ = feedback_item_ingest(
        workspace=workspace, actor=user, data={"text": "Dark mode", "source": "api", "source_ref": "t-1"}
    )
    feedback_item_ingest(  # the same delivery again: stored once, recorded once
        workspace=workspace, actor=user, data={"text": "Dark mode", "source": "api", "source_ref": "t-1"}
    )
    results = feedback_items_ingest_bulk(
        workspace=workspace,
        actor=user,
        items=[
            {"text": "Export", "source": "csv", "source_ref": "r-1", "contact_email": "ada@example.com"},
            {"text": "Export", "source": "csv", "source_ref": "r-1"},
            {"text": "Alerts", "source": "csv", "source_ref": "r-2"},
        ],
    )

    created = Event.objects.filter(kind="feedback.created").order_by("id")
    assert [e.subject_id for e in created] == [str(item.pk), str(results[0].id), str(results[2].id)]
    assert created[1].payload["feedback"]["contact"]["email"] == "ada@example.com"
    assert created[1].payload["feedback"]["source"] == "csv"
