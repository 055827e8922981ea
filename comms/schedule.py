"""When digests are due: periods are the subscriber's local calendar day or ISO week.

The send instant of a period is ``local_hour``:00 local time on its day (weekly: on the
ISO ``weekday`` of the week). On a daylight-saving day a local hour that does not exist
(clocks jump forward) is replaced by the next valid hour; one that happens twice (clocks
go back) is its first occurrence — and a period has one dedupe key, so it is sent once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from productops.errors import ValidationFailed


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_time_zone(name: str, *, attr: str = "time_zone") -> str:
    name = (name or "").strip()
    if name not in _zone_names():
        raise ValidationFailed(
            f"{name!r} is not a known time zone (IANA name, e.g. Europe/Paris).",
            attr=attr,
            code="invalid_time_zone",
        )
    return name


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _exists(local: datetime) -> bool:
    """Whether a wall-clock time exists in its zone (not skipped by a jump forward)."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def send_instant(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """``hour``:00 on ``day`` in ``tz`` as an aware UTC datetime (DST rules above)."""
    local = datetime.combine(day, time(hour), tzinfo=tz)  # fold=0: the first of a repeated hour
    while not _exists(local):
        local += timedelta(hours=1)  # wall-clock arithmetic: the next local hour
    return local.astimezone(UTC)


def period_start(cadence: str, day: date) -> date:
    """The first day of the period containing ``day``: the day, or the ISO week's Monday."""
    return day if cadence == "daily" else day - timedelta(days=day.isoweekday() - 1)


def _step(cadence: str) -> timedelta:
    return timedelta(days=1 if cadence == "daily" else 7)


def period_instant(cadence: str, start: date, *, hour: int, weekday: int, tz: ZoneInfo) -> datetime:
    day = start if cadence == "daily" else start + timedelta(days=weekday - 1)
    return send_instant(day, hour, tz)


def current_period(
    cadence: str, now: datetime, *, time_zone: str, hour: int, weekday: int
) -> tuple[date, datetime]:
    """The latest period whose send instant is at or before ``now``: (start, instant)."""
    tz = zone(time_zone)
    start = period_start(cadence, now.astimezone(tz).date())
    instant = period_instant(cadence, start, hour=hour, weekday=weekday, tz=tz)
    if instant > now:
        start -= _step(cadence)
        instant = period_instant(cadence, start, hour=hour, weekday=weekday, tz=tz)
    return start, instant


def next_instant(cadence: str, after: datetime, *, time_zone: str, hour: int, weekday: int) -> datetime:
    """The first send instant strictly after ``after``."""
    tz = zone(time_zone)
    start, instant = current_period(cadence, after, time_zone=time_zone, hour=hour, weekday=weekday)
    while instant <= after:
        start += _step(cadence)
        instant = period_instant(cadence, start, hour=hour, weekday=weekday, tz=tz)
    return instant


def previous_instant(cadence: str, start: date, *, time_zone: str, hour: int, weekday: int) -> datetime:
    """The send instant of the period before the one starting on ``start``."""
    return period_instant(cadence, start - _step(cadence), hour=hour, weekday=weekday, tz=zone(time_zone))
