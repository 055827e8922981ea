"""Helpers for the few raw SQL statements that must run on PostgreSQL and SQLite alike."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection


def now_utc_text(now: datetime) -> str:
    """A datetime as SQLite stores it: naive UTC text."""
    return now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def sql_datetime(value: datetime) -> datetime | str:
    """A datetime parameter for raw SQL: as is on PostgreSQL, SQLite's stored text otherwise."""
    return value if connection.vendor == "postgresql" else now_utc_text(value)


def sql_least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def sql_greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if connection.vendor == "postgresql" else f"MAX({a}, {b})"


def sql_distinct(a: str, b: str) -> str:
    """``a`` and ``b`` differ, NULLs compared as values."""
    if connection.vendor == "postgresql":
        return f"{a} IS DISTINCT FROM {b}"
    return f"{a} IS NOT {b}"
