"""Database timeouts: a client-side deadline on every round trip, and the server-side limits.

Two kinds of limit, because each ends a different hang (docs/reliability.md, "Database
timeouts"):

* **Client side** (this package): every wait for the database — connect, query, fetch,
  commit — gives up after :func:`client_timeout` seconds (``DB_CLIENT_TIMEOUT_MS``, by
  default the statement timeout plus one second). Only this ends a link that swallows
  traffic without an error: a blackholing proxy acknowledges what it is sent, so neither
  TCP options nor the server's ``statement_timeout`` (the server never sees the query) can
  fire. The PostgreSQL backend ``productops.db.backends.postgresql`` applies it; a round
  trip past it raises ``OperationalError`` and the connection is closed, so Django opens a
  new one for the next request.
* **Server side** (:mod:`productops.db.roles`): ``statement_timeout``, ``lock_timeout`` and
  ``idle_in_transaction_session_timeout`` as the role's defaults in the database, set by
  ``migrate``; :func:`long_transaction` raises them inside one transaction with
  ``SET LOCAL`` (the priority recompute), which works through PgBouncer in transaction mode.

:func:`long_running` and :func:`deadline` change the client limit for a block of code
(a context variable: per thread, per task). Importing this module does not import psycopg.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

#: Added to a server-side statement timeout to make the client's deadline, so the server's
#: error (which names the statement) normally arrives first on a healthy link.
CLIENT_MARGIN_MS = 1000
#: Django's connection health check (``CONN_HEALTH_CHECKS``): ``SELECT 1`` answers in
#: microseconds on a healthy link, so a persistent connection that takes longer than this
#: is dropped and replaced rather than waited for (a blackholed request then fails in about
#: this plus ``DB_CONNECT_TIMEOUT``, not twice the client timeout).
HEALTH_CHECK_TIMEOUT_MS = 1000

#: Per-round-trip limit in ms for this context (None: the process default); 0 means none.
_per_round_trip_ms: ContextVar[int | None] = ContextVar("db_round_trip_ms", default=None)
#: Absolute ``time.monotonic()`` by which every round trip of this context must be done.
_until: ContextVar[float | None] = ContextVar("db_until", default=None)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def statement_timeout_ms() -> int:
    return _setting("DB_STATEMENT_TIMEOUT_MS", 5000)


def lock_timeout_ms() -> int:
    return _setting("DB_LOCK_TIMEOUT_MS", 3000)


def idle_in_transaction_timeout_ms() -> int:
    return _setting("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60000)


def long_statement_timeout_ms() -> int:
    return _setting("DB_LONG_STATEMENT_TIMEOUT_MS", 600000)


def long_client_timeout_ms() -> int:
    """The client deadline that goes with the long statement timeout (0: none)."""
    long_ms = long_statement_timeout_ms()
    return long_ms + CLIENT_MARGIN_MS if long_ms > 0 else 0


def process_is_long_running() -> bool:
    """``DB_LONG_RUNNING``: this whole process (a benchmark's seeding, a one-off script) runs
    with the long limits, on the client and in its sessions."""
    return bool(getattr(settings, "DB_LONG_RUNNING", False))


def default_client_timeout_ms() -> int:
    if process_is_long_running():
        return long_client_timeout_ms()
    return _setting("DB_CLIENT_TIMEOUT_MS", statement_timeout_ms() + CLIENT_MARGIN_MS)


def client_timeout() -> float | None:
    """Seconds the current context waits for one database round trip; ``None``: no limit.

    The context's limit (:func:`long_running`, :func:`deadline`) or the process default,
    and never past an enclosing :func:`deadline`. Once that has passed, a tiny positive
    value: the next wait fails at once instead of starting a new one.
    """
    ms = _per_round_trip_ms.get()
    if ms is None:
        ms = default_client_timeout_ms()
    seconds = ms / 1000 if ms > 0 else None
    until = _until.get()
    if until is not None:
        left = max(until - time.monotonic(), 0.001)
        seconds = left if seconds is None else min(seconds, left)
    return seconds


@contextmanager
def round_trip_limit(ms: int) -> Iterator[None]:
    """Each database round trip inside waits at most ``ms`` milliseconds (0: no limit)."""
    token = _per_round_trip_ms.set(int(ms))
    try:
        yield
    finally:
        _per_round_trip_ms.reset(token)


@contextmanager
def long_running() -> Iterator[None]:
    """The long client deadline (``DB_LONG_STATEMENT_TIMEOUT_MS`` + 1 s) for the block.

    Client side only: pair it with the server's long limits (:func:`long_transaction`), or
    the server's 5 s ``statement_timeout`` still ends a long statement first.
    """
    with round_trip_limit(long_client_timeout_ms()):
        yield


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every round trip inside must finish within ``seconds`` from now, in total.

    For callers with a budget of their own (``/readyz`` answers within 2 s). A round trip
    cut short closes the connection like any other timeout.
    """
    until = time.monotonic() + max(seconds, 0.0)
    outer = _until.get()
    token = _until.set(until if outer is None else min(outer, until))
    try:
        yield
    finally:
        _until.reset(token)


@contextmanager
def long_transaction(using: str | None = None) -> Iterator[None]:
    """``transaction.atomic()`` for statements that may run long: the recompute's.

    Outermost, the transaction starts with ``SET LOCAL statement_timeout`` to
    ``DB_LONG_STATEMENT_TIMEOUT_MS`` and ``lock_timeout`` to 0 (lock waits are then bounded
    by the statement timeout: the recompute waits for a request's short transaction instead
    of failing), and the client deadline is the long one. ``SET LOCAL`` ends with the
    transaction, so it is safe through PgBouncer in transaction mode.

    Inside a transaction already open (the scoring preview, a test), it is a plain nested
    ``atomic()``: the outer transaction chose its limits (the preview's 2 s lock wait) and
    keeps them.
    """
    alias = using or DEFAULT_DB_ALIAS
    connection = connections[alias]
    if connection.in_atomic_block:
        with transaction.atomic(using=alias):
            yield
        return
    with long_running(), transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', '0', true)",
                    [str(long_statement_timeout_ms())],
                )
        yield
