"""A request id on every request: the client's ``X-Request-ID`` when it is sane, else a UUID4.

It is returned in the ``X-Request-ID`` response header and in every API error body
(``request_id``), so a report of a failure can be matched to its log line.
``current_request_id()`` gives it to code that has no request (logging, tasks).

Every log line carries it: :class:`RequestContextFilter` (installed on the handlers in
settings' ``LOGGING``) writes ``request_id`` on every record, and where known the user,
the workspace and the Celery task. ``productops.task_context`` carries the id into every
task a request enqueues and binds it with :func:`context_bind` while the task runs.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

HEADER = "X-Request-ID"
#: URL arguments that are secrets (sign-in, unsubscribe and confirmation links carry their
#: token in the path): their values are replaced in the lines logged about the request.
SECRET_URL_KWARGS = frozenset({"token", "key", "secret", "signature", "uidb64"})
REDACTED = "REDACTED"
_ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)
# The request being answered (its user and workspace, for the log filter) and the fields a
# running task adds (task_name, task_id, workspace_id).
_request: ContextVar[HttpRequest | None] = ContextVar("request", default=None)
_fields: ContextVar[Mapping[str, object] | None] = ContextVar("log_fields", default=None)


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


@dataclass(frozen=True)
class Bound:
    """What :func:`context_bind` set, for :func:`context_reset`."""

    request_id: Token
    fields: Token


def context_bind(*, request_id: str | None, **fields: object) -> Bound:
    """Make ``request_id`` current (and ``fields`` part of every log line) until
    :func:`context_reset`; used by tasks, which have no request."""
    return Bound(request_id=_current.set(request_id), fields=_fields.set(fields or None))


def context_reset(bound: Bound) -> None:
    _fields.reset(bound.fields)
    _current.reset(bound.request_id)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = _choose(request.headers.get(HEADER, ""))
        token = _current.set(request.request_id)
        request_token = _request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(request_token)
            _current.reset(token)
        response[HEADER] = request.request_id
        return response


class RequestContextFilter(logging.Filter):
    """Writes ``request_id`` on every record (None outside a request or task), and where
    known ``user_id``, ``workspace`` (slug), ``workspace_id``, ``task_name`` and ``task_id``.

    Never drops a record, never queries the database (a user not loaded yet is left out),
    and never replaces a value the caller passed with ``extra=``. ``django.request`` logs a
    4xx/5xx answer after the middleware has returned; its record carries the request, which
    gives the id then. The values of the request's secret URL arguments
    (:data:`SECRET_URL_KWARGS`) are replaced in the line's message ("Not Found: <path>").
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        request_id = _current.get()
        if request is None:
            logged = record.__dict__.get("request")
            if isinstance(logged, HttpRequest):
                request = logged
                request_id = request_id or getattr(logged, "request_id", None)
        record.__dict__.setdefault("request_id", request_id)
        if request is not None:
            _from_request(record, request)
        for key, value in (_fields.get() or {}).items():
            _default(record, key, value)
        return True


def _default(record: logging.LogRecord, key: str, value: object) -> None:
    if value is not None and key not in record.__dict__:
        record.__dict__[key] = value


def _redact(record: logging.LogRecord, request: HttpRequest) -> None:
    match = request.__dict__.get("resolver_match")
    if match is None:
        return
    secrets = [
        value
        for key, value in match.kwargs.items()
        if key in SECRET_URL_KWARGS and isinstance(value, str) and len(value) >= 8
    ]
    if not secrets:
        return

    def scrub(value: object) -> object:
        if isinstance(value, str):
            for secret in secrets:
                value = value.replace(secret, REDACTED)
        return value

    record.msg = scrub(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(scrub(arg) for arg in record.args)


def _from_request(record: logging.LogRecord, request: HttpRequest) -> None:
    _redact(record, request)
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        # Only a user already loaded: evaluating it here would query inside logging.
        user = user._wrapped if user._wrapped is not empty else None
    if user is not None and getattr(user, "is_authenticated", False):
        _default(record, "user_id", user.pk)
    workspace = request.__dict__.get("workspace")
    if workspace is not None:
        _default(record, "workspace", getattr(workspace, "slug", None))
        _default(record, "workspace_id", getattr(workspace, "pk", None))
    else:
        match = request.__dict__.get("resolver_match")
        if match is not None:
            _default(record, "workspace", match.kwargs.get("workspace_slug"))
