"""A psycopg connection whose every wait for the server has a deadline.

psycopg 3 runs each operation (a query, a fetch, a commit, setting autocommit) as a
generator that :meth:`psycopg.Connection.wait` drives until the server has answered;
``wait`` takes a ``timeout`` and raises ``psycopg.errors._WaitTimeout`` when it expires.
:class:`DeadlineConnection` passes :func:`productops.db.client_timeout` to every wait that
does not bring its own, and turns the timeout into :class:`DeadlineExceeded`, an
``OperationalError`` (Django re-raises it as ``django.db.OperationalError``).

After a timeout the connection is in an unknown state (a query may still be on its way or
running), so it is closed at once: the error reaches the caller now, Django's next health
check finds the connection unusable and opens a new one. No cancel request is sent: on a
dead link it would wait too, and on a healthy one the server's ``statement_timeout``, which
is shorter than the client's deadline, has already ended the statement.

Connecting is bounded separately, by libpq's ``connect_timeout`` (psycopg enforces it,
at least 2 s).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors

from productops import db


class DeadlineExceeded(psycopg.OperationalError):
    """No answer from the database within the client deadline; the connection was closed."""


class DeadlineConnection(psycopg.Connection):
    def wait(self, gen: Any, interval: float | None = None, timeout: float | None = None) -> Any:
        if timeout is None:
            timeout = db.client_timeout()
        kwargs: dict[str, Any] = {"timeout": timeout}
        if interval is not None:
            kwargs["interval"] = interval
        try:
            return super().wait(gen, **kwargs)
        except errors._WaitTimeout:
            self.pgconn.finish()
            raise DeadlineExceeded(
                f"no answer from the database within {timeout:.3g} s (client deadline); connection closed"
            ) from None


class PsycopgWithDeadlines:
    """The ``psycopg`` module as Django's backend sees it (``DatabaseWrapper.Database``),
    with ``connect()`` making :class:`DeadlineConnection`\\ s. Everything else (the
    exception classes Django maps, ``__version__``...) is psycopg's own."""

    connect = staticmethod(DeadlineConnection.connect)

    def __getattr__(self, name: str) -> Any:
        return getattr(psycopg, name)
