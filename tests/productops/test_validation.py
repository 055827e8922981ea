from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from productops.errors import ValidationFailed
from productops.validation import check_planning_date, check_received_at, clamp_planning_date

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1899, 12, 30, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        NOW + timedelta(days=1, seconds=1),
        datetime(9999, 12, 31, tzinfo=UTC),
    ],
)
def test_received_at_outside_1970_to_tomorrow_is_out_of_range(value):
    with pytest.raises(ValidationFailed) as refused:
        check_received_at(value, now=NOW)
    assert (refused.value.code, refused.value.attr) == ("out_of_range", "received_at")


def test_received_at_inside_the_range_is_returned_in_utc():
    odd_offset = timezone(timedelta(hours=17, minutes=19))  # beyond what PostgreSQL accepts
    value = datetime(2026, 1, 1, 17, 19, tzinfo=odd_offset)

    assert check_received_at(value, now=NOW) == datetime(2026, 1, 1, tzinfo=UTC)
    assert check_received_at(datetime(1970, 1, 1, tzinfo=UTC), now=NOW).year == 1970
    assert check_received_at(NOW + timedelta(hours=23), now=NOW) == NOW + timedelta(hours=23)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (date(1999, 12, 31), False),
        (date(2000, 1, 1), True),
        (date(2100, 12, 31), True),
        (date(2101, 1, 1), False),
    ],
)
def test_planning_dates_run_from_2000_to_2100(value, ok):
    if ok:
        assert check_planning_date(value, attr="target_date") == value
    else:
        with pytest.raises(ValidationFailed) as refused:
            check_planning_date(value, attr="target_date")
        assert (refused.value.code, refused.value.attr) == ("out_of_range", "target_date")
    assert check_planning_date(None, attr="target_date") is None


def test_views_clamp_to_the_planning_range():
    assert clamp_planning_date(date(9999, 12, 1)) == date(2100, 12, 31)
    assert clamp_planning_date(date(1, 1, 1)) == date(2000, 1, 1)
    assert clamp_planning_date(date(2027, 4, 1)) == date(2027, 4, 1)
