"""Log formatters: one JSON object per line in production, readable lines in development.

Settings' ``LOGGING`` picks one with ``LOG_FORMAT`` (``json`` or ``plain``) and puts
``productops.request_id.RequestContextFilter`` on the handler, which supplies the context
fields. A JSON line always has ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``,
``message`` and ``request_id`` (null outside a request or task); where known ``user_id``,
``workspace``, ``workspace_id``, ``task_name``, ``task_id``; ``exception`` (the traceback)
for errors; and whatever the caller passed with ``extra=``. Gunicorn's access lines add
the HTTP fields (:data:`ACCESS_FIELDS`) and take ``request_id`` from the response's
``X-Request-ID``.
"""

from __future__ import annotations

import logging
import logging.config
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

#: Context fields, in the order the plain format shows them.
CONTEXT_FIELDS = ("request_id", "user_id", "workspace", "workspace_id", "task_name", "task_id")

#: Gunicorn access-log atom → JSON field. Gunicorn's logger class (gunicorn.conf.py)
#: has already removed the secrets from the path; the query string is left out.
ACCESS_FIELDS = {
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "h": "remote_addr",
    "a": "user_agent",
}

# Record attributes never written out: the logging machinery's own, the HttpRequest that
# django.request attaches (not JSON, and the filter already took what matters from it),
# and Python 3.12's asyncio task name.
_RESERVED = [*RESERVED_ATTRS, "request", "taskName"]


def configure(config: dict) -> None:
    """Django's ``LOGGING_CONFIG``: ``dictConfig``, and Python's warnings become log lines
    (``py.warnings``) instead of raw text among the JSON lines on stderr."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def utc_timestamp(record: logging.LogRecord) -> str:
    """``2026-05-04T09:12:33.123Z``: ISO 8601, UTC, milliseconds (sorts as text)."""
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter with the project's field names and timestamp."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"})
        kwargs.setdefault("reserved_attrs", _RESERVED)
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*(args or ("%(levelname)s %(name)s %(message)s",)), **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict) -> None:
        log_data["timestamp"] = utc_timestamp(record)
        super().add_fields(log_data, record, message_dict)
        log_data.setdefault("request_id", None)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            _access_fields(log_data, record.args)


def _access_fields(log_data: dict[str, Any], atoms: Mapping[str, Any]) -> None:
    for atom, field in ACCESS_FIELDS.items():
        value = dict.get(atoms, atom)
        if value not in (None, "-"):
            # Gunicorn escapes quotes for its text format; JSON has its own escaping.
            log_data[field] = value.replace('\\"', '"') if isinstance(value, str) else value
    if isinstance(log_data.get("status"), str) and log_data["status"].isdigit():
        log_data["status"] = int(log_data["status"])
    request_id = dict.get(atoms, "{x-request-id}o")
    if request_id:
        log_data["request_id"] = request_id


class PlainFormatter(logging.Formatter):
    """``2026-05-04 09:12:33,123 INFO roadmap.services message [request_id=… workspace=…]``:
    the context fields that are known, after the message (``make run``, ``DEBUG``)."""

    def __init__(self, fmt: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        known = [
            f"{key}={record.__dict__[key]}" for key in CONTEXT_FIELDS if record.__dict__.get(key) is not None
        ]
        return f"{line} [{' '.join(known)}]" if known else line


def gunicorn_logconfig_dict(log_format: str | None = None) -> dict:
    """Gunicorn's ``logconfig_dict``: its master's and workers' own lines (boot, worker
    timeouts, access) in the app's format, on stderr like every other line.

    In a worker, settings' ``LOGGING`` configures the same loggers again once the app has
    loaded; this covers the master and the time before. ``log_format`` defaults to
    ``LOG_FORMAT``, else ``json``.
    """
    chosen = log_format or os.environ.get("LOG_FORMAT") or "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "productops.request_id.RequestContextFilter"}},
        "formatters": {
            "json": {"()": "productops.logs.JsonFormatter"},
            "plain": {"()": "productops.logs.PlainFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": chosen,
                "filters": ["context"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
