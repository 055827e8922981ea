"""Digest periods in the subscriber's time zone (``comms.schedule``): a period is the local
day or ISO week; on a daylight-saving day a missing local hour sends at the next valid hour
and a repeated hour sends once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from comms import digests, schedule
from comms.models import Cadence, Subscription
from comms.services import subscription_next_due
from productops.errors import ValidationFailed
from productops.outbox.models import Delivery
from tests.comms.factories import StakeholderFactory, SubscriptionFactory

PARIS = schedule.zone("Europe/Paris")
NEW_YORK = schedule.zone("America/New_York")


def test_a_normal_day_sends_at_the_local_hour():
    assert schedule.send_instant(date(2027, 3, 1), 9, PARIS) == datetime(2027, 3, 1, 8, tzinfo=UTC)
    assert schedule.send_instant(date(2027, 7, 1), 9, PARIS) == datetime(2027, 7, 1, 7, tzinfo=UTC)


def test_a_missing_hour_sends_at_the_next_valid_hour():
    # 28 March 2027, Paris: 02:00 jumps to 03:00 (CET → CEST).
    assert schedule.send_instant(date(2027, 3, 28), 2, PARIS) == datetime(2027, 3, 28, 1, tzinfo=UTC)
    assert schedule.send_instant(date(2027, 3, 28), 3, PARIS) == datetime(2027, 3, 28, 1, tzinfo=UTC)
    # 14 March 2027, New York: 02:00 jumps to 03:00 (EST → EDT).
    assert schedule.send_instant(date(2027, 3, 14), 2, NEW_YORK) == datetime(2027, 3, 14, 7, tzinfo=UTC)


def test_a_repeated_hour_is_its_first_occurrence():
    # 31 October 2027, Paris: 02:00-03:00 happens twice (CEST, then CET).
    assert schedule.send_instant(date(2027, 10, 31), 2, PARIS) == datetime(2027, 10, 31, 0, tzinfo=UTC)
    # 7 November 2027, New York: 01:00-02:00 happens twice.
    assert schedule.send_instant(date(2027, 11, 7), 1, NEW_YORK) == datetime(2027, 11, 7, 5, tzinfo=UTC)


def test_the_current_period_is_the_latest_whose_instant_has_come():
    kwargs = {"time_zone": "Europe/Paris", "hour": 9, "weekday": 5}
    before = datetime(2027, 3, 5, 7, 59, tzinfo=UTC)  # Friday 08:59 in Paris
    at = datetime(2027, 3, 5, 8, 0, tzinfo=UTC)

    assert schedule.current_period("daily", before, **kwargs) == (
        date(2027, 3, 4),
        datetime(2027, 3, 4, 8, tzinfo=UTC),
    )
    assert schedule.current_period("daily", at, **kwargs) == (date(2027, 3, 5), at)
    # Weekly: the ISO week starting Monday 1 March, sent on its Friday.
    assert schedule.current_period("weekly", at, **kwargs) == (date(2027, 3, 1), at)
    assert schedule.current_period("weekly", before, **kwargs) == (
        date(2027, 2, 22),
        datetime(2027, 2, 26, 8, tzinfo=UTC),
    )
    assert schedule.next_instant("weekly", at, **kwargs) == datetime(2027, 3, 12, 8, tzinfo=UTC)


def test_a_local_day_is_the_subscribers_not_utcs():
    # 23:30 UTC on 1 March is already 2 March in Tokyo (09:00 there is 00:00 UTC).
    start, instant = schedule.current_period(
        "daily", datetime(2027, 3, 2, 0, 30, tzinfo=UTC), time_zone="Asia/Tokyo", hour=9, weekday=1
    )
    assert (start, instant) == (date(2027, 3, 2), datetime(2027, 3, 2, 0, tzinfo=UTC))


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValidationFailed) as error:
        schedule.check_time_zone("Mars/Olympus")
    assert (error.value.code, error.value.attr) == ("invalid_time_zone", "time_zone")
    assert schedule.check_time_zone(" Europe/Paris ") == "Europe/Paris"


# --- through digests_create_due ---------------------------------------------------------------


def _daily(workspace, *, hour: int, time_zone: str, due: datetime, through: datetime) -> Subscription:
    subscription = SubscriptionFactory(
        stakeholder=StakeholderFactory(workspace=workspace),
        cadence=Cadence.DAILY,
        time_zone=time_zone,
        local_hour=hour,
    )
    Subscription.objects.filter(pk=subscription.pk).update(next_due_at=due, digest_through=through)
    subscription.refresh_from_db()
    return subscription


@pytest.mark.django_db
def test_on_the_spring_forward_day_a_2am_digest_goes_at_3am(workspace):
    spring = datetime(2027, 3, 28, 1, tzinfo=UTC)  # 03:00 CEST, the first valid hour from 02:00
    subscription = _daily(
        workspace, hour=2, time_zone="Europe/Paris", due=spring, through=datetime(2027, 3, 27, 1, tzinfo=UTC)
    )
    assert subscription_next_due(subscription, after=datetime(2027, 3, 27, 1, tzinfo=UTC)) == spring

    assert digests.digests_create_due(now=spring - timedelta(seconds=1)) == 0
    assert digests.digests_create_due(now=spring) == 1

    row = Delivery.objects.get()
    assert row.dedupe_key == f"digest:{subscription.pk}:2027-03-28:email"
    assert row.context["until"] == "2027-03-28T01:00:00+00:00"
    subscription.refresh_from_db()
    assert subscription.next_due_at == datetime(2027, 3, 29, 0, tzinfo=UTC)  # 02:00 CEST


@pytest.mark.django_db
def test_on_the_fall_back_day_a_digest_in_the_repeated_hour_goes_once(workspace):
    first = datetime(2027, 10, 31, 0, tzinfo=UTC)  # 02:00 CEST
    second = datetime(2027, 10, 31, 1, tzinfo=UTC)  # 02:00 CET, the same wall-clock hour again
    subscription = _daily(
        workspace, hour=2, time_zone="Europe/Paris", due=first, through=datetime(2027, 10, 30, 0, tzinfo=UTC)
    )

    assert digests.digests_create_due(now=first + timedelta(minutes=5)) == 1
    assert digests.digests_create_due(now=second + timedelta(minutes=5)) == 0
    # Even put back as if the first run had not saved, the period has one row.
    Subscription.objects.filter(pk=subscription.pk).update(
        next_due_at=first, digest_through=datetime(2027, 10, 30, 0, tzinfo=UTC)
    )
    assert digests.digests_create_due(now=second + timedelta(minutes=5)) == 0

    assert list(Delivery.objects.values_list("dedupe_key", flat=True)) == [
        f"digest:{subscription.pk}:2027-10-31:email"
    ]
    subscription.refresh_from_db()
    assert subscription.next_due_at == datetime(2027, 11, 1, 1, tzinfo=UTC)  # 02:00 CET


@pytest.mark.django_db
def test_a_weekly_digest_across_the_change_keeps_its_local_hour(workspace):
    subscription = SubscriptionFactory(
        stakeholder=StakeholderFactory(workspace=workspace),
        cadence=Cadence.WEEKLY,
        time_zone="America/New_York",
        local_hour=9,
        weekday=1,
    )
    # Monday 8 March 09:00 EST (14:00 UTC), then Monday 15 March 09:00 EDT (13:00 UTC).
    monday = datetime(2027, 3, 8, 14, tzinfo=UTC)
    assert subscription_next_due(subscription, after=datetime(2027, 3, 1, 14, 1, tzinfo=UTC)) == monday
    assert subscription_next_due(subscription, after=monday) == datetime(2027, 3, 15, 13, tzinfo=UTC)
