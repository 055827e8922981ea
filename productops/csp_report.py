"""Where browsers report Content-Security-Policy violations (``POST /csp-report/``, the
policy's ``report-uri``; docs/security.md).

Each violation is one warning on the logger ``productops.csp``: the directive, what was
blocked and where. Nothing else is kept. Public pages carry tokens in their paths (magic
links, unsubscribe links), so a same-origin URL is logged as its route pattern
(``/p/<slug:workspace_slug>/verify/<str:token>/``), another origin's as its origin only,
and never a query string or the blocked code's sample.

The endpoint takes the ``report-uri`` body (``application/csp-report``) and the Reporting
API's (``application/reports+json``, a list). It is CSRF-exempt (browsers send reports
without a token or cookies), counts ``CSP_VIOLATION_REPORTS_PER_MINUTE`` requests per client
address and drops the rest unread (a 204, nothing logged), so it cannot be used to flood the
logs, and refuses a body over ``CSP_VIOLATION_REPORT_MAX_BYTES`` with a 413 before reading it
whole.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from productops.client_address import client_address
from productops.rate_limit import rate_limit_hit

logger = logging.getLogger("productops.csp")

#: Reports logged from one request at most (a Reporting API batch may hold several).
MAX_REPORTS_PER_REQUEST = 10
_FIELD_CHARS = 200


@csrf_exempt
@require_POST
def csp_report(request: HttpRequest) -> HttpResponse:
    """Log the violations in the body; 204 whatever they say (a browser reads no answer)."""
    limit = {f"csp-reports:ip:{client_address(request)}": settings.CSP_VIOLATION_REPORTS_PER_MINUTE}
    if not rate_limit_hit(limit, window=60):
        # Dropped quietly: a 429 would itself be a warning line (django.request) per request.
        return HttpResponse(status=204)
    cap = settings.CSP_VIOLATION_REPORT_MAX_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return HttpResponse(status=400)
    if declared > cap:
        return HttpResponse(status=413)
    body = request.read(cap + 1)
    if len(body) > cap:
        return HttpResponse(status=413)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return HttpResponse(status=400)
    reports = _reports(payload)
    if reports is None:
        return HttpResponse(status=400)
    host = request.get_host()
    for report in reports[:MAX_REPORTS_PER_REQUEST]:
        _log(report, host=host)
    return HttpResponse(status=204)


def _reports(payload: Any) -> list[dict[str, Any]] | None:
    """The violations in either format, as ``report-uri`` names their keys; None if neither."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        reports = []
        for entry in payload:
            if not isinstance(entry, dict) or not isinstance(entry.get("body"), dict):
                return None
            if entry.get("type") != "csp-violation":
                continue
            body = entry["body"]
            reports.append(
                {
                    "document-uri": body.get("documentURL") or entry.get("url"),
                    "effective-directive": body.get("effectiveDirective"),
                    "blocked-uri": body.get("blockedURL"),
                    "source-file": body.get("sourceFile"),
                    "line-number": body.get("lineNumber"),
                    "column-number": body.get("columnNumber"),
                    "disposition": body.get("disposition"),
                }
            )
        return reports
    return None


def _log(report: dict[str, Any], *, host: str) -> None:
    directive = _text(report.get("effective-directive") or report.get("violated-directive"))
    document = _where(report.get("document-uri"), host=host)
    blocked = _where(report.get("blocked-uri"), host=host)
    source = _where(report.get("source-file"), host=host)
    line, column = _number(report.get("line-number")), _number(report.get("column-number"))
    logger.warning(
        "CSP violation: %s blocked %s on %s (source %s:%s:%s)",
        directive,
        blocked,
        document,
        source,
        line,
        column,
        extra={
            "csp_directive": directive,
            "csp_blocked": blocked,
            "csp_document": document,
            "csp_source": source,
            "csp_line": line,
            "csp_column": column,
            "csp_disposition": _text(report.get("disposition")),
        },
    )


def _where(value: Any, *, host: str) -> str:
    """A URL without what could be secret: this site's path as its route, another's origin.
    A keyword (``inline``, ``eval``, ``data``) stays as it is."""
    text = _text(value)
    if not text:
        return "-"
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        return text.split("?", 1)[0][:40]  # "inline", "eval", "data", "blob", ...
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.netloc != host:
        return origin[:_FIELD_CHARS]
    try:
        path = "/" + resolve(parts.path or "/").route
    except Resolver404:
        # Static files carry no token; any other unknown path might.
        static = "/" + settings.STATIC_URL.lstrip("/")
        path = parts.path if parts.path.startswith(static) else "/<unknown path>"
    return (origin + path)[:_FIELD_CHARS]


def _text(value: Any) -> str:
    return value[:_FIELD_CHARS] if isinstance(value, str) else ""


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
