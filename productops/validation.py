"""Sane ranges for dates, checked at every entry (API, bulk, CSV, e-mail, webhooks, portal,
admin) by the services, which raise ``ValidationFailed`` with the code ``out_of_range`` and
the field's name.

* When feedback was received: from 1970-01-01 to one day after now (a clock a little
  ahead, or a time zone, is fine; next year is not).
* Planning dates (a feature's planned start and target date, a capacity period, a release's
  dates, a metric's review date): from 2000-01-01 to 2100-12-31. Month and quarter views
  clamp their range to the same bounds.

Outside them, arithmetic on dates stops being meaningful (a decay over two thousand years)
or possible (the month after December 9999).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from productops.errors import ValidationFailed

RECEIVED_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
RECEIVED_AHEAD = timedelta(days=1)
PLANNING_EARLIEST = date(2000, 1, 1)
PLANNING_LATEST = date(2100, 12, 31)


def check_received_at(value: datetime, *, attr: str = "received_at", now: datetime | None = None) -> datetime:
    """``value`` in UTC if it lies from 1970-01-01 to a day after ``now``; else out_of_range."""
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationFailed("Date out of range.", attr=attr, code="out_of_range") from None
    latest = (now or timezone.now()) + RECEIVED_AHEAD
    if not RECEIVED_EARLIEST <= value <= latest:
        raise ValidationFailed(
            f"Must be between {RECEIVED_EARLIEST:%Y-%m-%d} and {latest:%Y-%m-%d} (one day from now).",
            attr=attr,
            code="out_of_range",
        )
    return value


def check_planning_date(value: date | None, *, attr: str) -> date | None:
    """A planning date from 2000-01-01 to 2100-12-31 (None passes); else out_of_range."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not PLANNING_EARLIEST <= value <= PLANNING_LATEST:
        raise ValidationFailed(
            f"Must be between {PLANNING_EARLIEST:%Y-%m-%d} and {PLANNING_LATEST:%Y-%m-%d}.",
            attr=attr,
            code="out_of_range",
        )
    return value


def clamp_planning_date(value: date) -> date:
    """``value`` moved into the planning range (what month and quarter views show)."""
    return min(max(value, PLANNING_EARLIEST), PLANNING_LATEST)
