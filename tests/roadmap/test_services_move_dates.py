"""``feature_move``: a horizon move that keeps, clears or shifts planned dates outside the
horizon's window (``horizon_window``: this quarter, the next, after that)."""

from __future__ import annotations

from datetime import date

import pytest

from productops.errors import Forbidden, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap import selectors, services
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

#: Q2 2026: now = 1 Apr – 30 Jun, next = 1 Jul – 30 Sep, later = from 1 Oct.
TODAY = date(2026, 5, 10)


def feature(workspace, **fields):
    return FeatureFactory(product=ProductFactory(workspace=workspace), **fields)


def audits(f):
    return list(
        AuditEvent.objects.filter(target_type="roadmap.feature", target_id=str(f.pk)).values_list(
            "changes", flat=True
        )
    )


def test_horizon_windows_are_quarters_from_today():
    now = selectors.horizon_window("now", today=TODAY)
    nxt = selectors.horizon_window("next", today=TODAY)
    later = selectors.horizon_window("later", today=TODAY)
    assert (now.start, now.end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert (nxt.start, nxt.end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert (later.start, later.end) == (date(2026, 10, 1), None)
    assert selectors.horizon_window("", today=TODAY) is None
    # Across a year end.
    december = date(2026, 12, 31)
    assert selectors.horizon_window("next", today=december).start == date(2027, 1, 1)
    assert selectors.horizon_window("later", today=december).start == date(2027, 4, 1)


def test_dates_that_overlap_the_window_are_no_conflict(workspace):
    # Started last quarter, due this one: fine for "now".
    f = feature(workspace, planned_start=date(2026, 3, 1), target_date=date(2026, 4, 15))
    assert selectors.horizon_dates_conflict(f, "now", today=TODAY) is None
    assert selectors.horizon_dates_conflict(f, "", today=TODAY) is None
    undated = feature(workspace)
    assert selectors.horizon_dates_conflict(undated, "later", today=TODAY) is None


def test_a_span_outside_the_window_is_a_conflict_with_its_shift(workspace):
    f = feature(workspace, planned_start=date(2027, 2, 1), target_date=date(2027, 2, 28))
    conflict = selectors.horizon_dates_conflict(f, "next", today=TODAY)
    assert conflict.window.start == date(2026, 7, 1)
    assert (conflict.shifted_start, conflict.shifted_target) == (date(2026, 7, 1), date(2026, 7, 28))
    # For "now" the span starts today, not at the (past) start of the quarter.
    now = selectors.horizon_dates_conflict(f, "now", today=TODAY)
    assert (now.shifted_start, now.shifted_target) == (date(2026, 5, 10), date(2026, 6, 6))


def test_move_keep_changes_only_the_horizon(workspace):
    f = feature(workspace, horizon="later", planned_start=date(2027, 2, 1), target_date=date(2027, 2, 28))

    moved = services.feature_move(feature=f, horizon="now", actor=None, dates="keep", today=TODAY)

    f.refresh_from_db()
    assert moved.pk == f.pk
    assert (f.horizon, f.planned_start, f.target_date) == ("now", date(2027, 2, 1), date(2027, 2, 28))
    assert audits(f) == [{"horizon": ["later", "now"]}]


def test_move_clear_empties_both_dates(workspace):
    f = feature(workspace, horizon="later", planned_start=date(2027, 2, 1), target_date=date(2027, 2, 28))

    services.feature_move(feature=f, horizon="next", actor=None, dates="clear", today=TODAY)

    f.refresh_from_db()
    assert (f.horizon, f.planned_start, f.target_date) == ("next", None, None)
    assert audits(f) == [
        {
            "horizon": ["later", "next"],
            "planned_start": ["2027-02-01", None],
            "target_date": ["2027-02-28", None],
        }
    ]


def test_move_shift_keeps_the_length_and_starts_at_the_window(workspace):
    f = feature(workspace, horizon="now", planned_start=date(2026, 4, 20), target_date=date(2026, 5, 19))

    services.feature_move(feature=f, horizon="later", actor=None, dates="shift", today=TODAY)

    f.refresh_from_db()
    assert (f.horizon, f.planned_start, f.target_date) == ("later", date(2026, 10, 1), date(2026, 10, 30))
    assert audits(f) == [
        {
            "horizon": ["now", "later"],
            "planned_start": ["2026-04-20", "2026-10-01"],
            "target_date": ["2026-05-19", "2026-10-30"],
        }
    ]


def test_move_shift_with_only_a_target_date(workspace):
    f = feature(workspace, horizon="later", target_date=date(2027, 3, 31))

    services.feature_move(feature=f, horizon="next", actor=None, dates="shift", today=TODAY)

    f.refresh_from_db()
    assert (f.planned_start, f.target_date) == (None, date(2026, 7, 1))


def test_agreeing_dates_are_kept_whatever_dates_says(workspace):
    f = feature(workspace, horizon="later", planned_start=date(2026, 7, 5), target_date=date(2026, 8, 1))

    services.feature_move(feature=f, horizon="next", actor=None, dates="clear", today=TODAY)

    f.refresh_from_db()
    assert (f.horizon, f.planned_start, f.target_date) == ("next", date(2026, 7, 5), date(2026, 8, 1))
    assert audits(f) == [{"horizon": ["later", "next"]}]


def test_moving_to_unscheduled_keeps_dates(workspace):
    f = feature(workspace, horizon="now", planned_start=date(2027, 1, 1), target_date=date(2027, 1, 2))
    services.feature_move(feature=f, horizon="", actor=None, dates="shift", today=TODAY)
    f.refresh_from_db()
    assert (f.horizon, f.planned_start) == ("", date(2027, 1, 1))


@pytest.mark.parametrize(
    ("horizon", "dates", "attr"),
    [("someday", "keep", "horizon"), ("now", "move", "dates")],
)
def test_bad_arguments_write_nothing(workspace, horizon, dates, attr):
    f = feature(workspace, horizon="later", planned_start=date(2027, 2, 1))
    with pytest.raises(ValidationFailed) as caught:
        services.feature_move(feature=f, horizon=horizon, actor=None, dates=dates, today=TODAY)
    assert caught.value.attr == attr
    f.refresh_from_db()
    assert (f.horizon, f.planned_start) == ("later", date(2027, 2, 1))
    assert audits(f) == []


def test_a_viewer_cannot_move(workspace, member):
    viewer = member(workspace, Role.VIEWER).user
    f = feature(workspace, horizon="later")
    with pytest.raises(Forbidden):
        services.feature_move(feature=f, horizon="now", actor=viewer, today=TODAY)
    f.refresh_from_db()
    assert f.horizon == "later"
    assert audits(f) == []
