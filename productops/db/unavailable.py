"""The answer when the database is down or too slow: 503 with ``Retry-After``.

``django.db.OperationalError`` and ``InterfaceError`` (a refused or lost connection, the
client deadline of :mod:`productops.db`, the server's statement or lock timeout, a deadlock)
mean "not now", not "this request is wrong": the API answers its JSON error body with
``code: database_unavailable`` (``productops.api.exceptions``), pages the static
``templates/503.html`` (:class:`~productops.db.middleware.DatabaseUnavailableMiddleware`).
Each is logged as one line with the request id, without a traceback: an outage must not
bury the log under identical tracebacks.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine

logger = logging.getLogger("productops.db")

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5
CODE = "database_unavailable"
DETAIL = "The database is unavailable or too slow right now; try again in a few seconds."
#: SQLSTATEs of the limits doing their job on a healthy server (logged as warnings):
#: query_canceled (statement_timeout), lock_not_available (lock_timeout),
#: deadlock_detected, serialization_failure.
TIMEOUT_SQLSTATES = {"57014", "55P03", "40P01", "40001"}


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def describe(exc: BaseException) -> str:
    """The error's class and first line (psycopg's messages name host and port, never a password)."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    lines = str(exc).strip().splitlines()
    return f"{cause.__class__.__name__}: {lines[0][:300] if lines else ''}"


def log_unavailable(exc: BaseException, request: HttpRequest | None, where: str = "") -> None:
    from productops.request_id import request_id_for

    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    level = logging.WARNING if sqlstate in TIMEOUT_SQLSTATES else logging.ERROR
    request_id = request_id_for(request) if request is not None else "-"
    logger.log(
        level,
        "Database unavailable, answered 503 (%s) for %s %s%s (request %s)",
        describe(exc),
        getattr(request, "method", "-"),
        getattr(request, "path", "-"),
        f" in {where}" if where else "",
        request_id,
        extra={"sqlstate": sqlstate, "status_code": 503},
    )


@lru_cache(maxsize=1)
def _engine() -> Engine:
    # A plain engine, not the project's: no context processors, which would query the
    # database (the user, the workspace switcher) that has just failed.
    return Engine(
        dirs=[str(settings.BASE_DIR / "templates")],
        libraries={"static": "django.templatetags.static"},
    )


def html_response() -> HttpResponse:
    """The static 503 page; renders without the database."""
    html = _engine().get_template("503.html").render(Context({"retry_after": RETRY_AFTER_SECONDS}))
    response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
