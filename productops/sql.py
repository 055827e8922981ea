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


def rate_case_sql(column: str, rates: dict[str, float]) -> tuple[str, list]:
    """``CASE column WHEN code THEN rate ... ELSE 0.0 END`` and its parameters: an amount's
    factor to the reporting currency (0 for a currency without a rate)."""
    if not rates:
        return "0.0", []
    whens = " ".join("WHEN %s THEN %s" for _ in rates)
    params: list = []
    for code, rate in sorted(rates.items()):
        params += [code, float(rate)]
    return f"(CASE {column} {whens} ELSE 0.0 END)", params


def workspace_rates(workspace) -> dict[str, float]:
    """Currency → value of one unit in the workspace's reporting currency (which is 1)."""
    rates = {code: float(rate) for code, rate in (workspace.currency_rates or {}).items()}
    rates[workspace.reporting_currency] = 1.0
    return rates


def sql_least(a: str, b: str) -> str:
    return f"LEAST({a}, {b})" if connection.vendor == "postgresql" else f"MIN({a}, {b})"


def sql_greatest(a: str, b: str) -> str:
    return f"GREATEST({a}, {b})" if connection.vendor == "postgresql" else f"MAX({a}, {b})"


def sql_distinct(a: str, b: str) -> str:
    """``a`` and ``b`` differ, NULLs compared as values."""
    if connection.vendor == "postgresql":
        return f"{a} IS DISTINCT FROM {b}"
    return f"{a} IS NOT {b}"
