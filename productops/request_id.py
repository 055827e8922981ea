"""A request id on every request: the client's ``X-Request-ID`` when it is sane, else a UUID4.

It is returned in the ``X-Request-ID`` response header and in every API error body
(``request_id``), so a report of a failure can be matched to its log line.
``current_request_id()`` gives it to code that has no request (logging, tasks).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


def request_id_for(request: HttpRequest) -> str:
    """The request's id (made now if the middleware did not run, e.g. in a unit test)."""
    existing = getattr(request, "request_id", None)
    if existing is None:
        existing = _choose(request.headers.get(HEADER, ""))
        request.request_id = existing
    return existing


def _choose(offered: str) -> str:
    return offered if _ACCEPTED.match(offered) else str(uuid.uuid4())


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = _choose(request.headers.get(HEADER, ""))
        token = _current.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request.request_id
        return response
