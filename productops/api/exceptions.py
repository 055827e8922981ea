"""The one error path of the API.

Every error renders as::

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "...", "detail": "...", "attr": "field.path" | null}],
     "request_id": "..."}

with its HTTP status (400, 401, 403, 404, 405, 409, 415, 422, 429; a body over
``API_MAX_BODY_BYTES`` is a 400 ``request_too_large``). A database that is down or too
slow (``django.db.OperationalError`` / ``InterfaceError``: a refused or lost connection, the
client deadline, a statement or lock timeout) is a 503 ``server_error`` with code
``database_unavailable`` and ``Retry-After``, logged as one line (``productops.db.unavailable``),
always JSON: the browsable API's page would need the database too. Anything
else is a bug: it is logged with its traceback and answered as a real 500 with the
same body (``server_error``), never an HTML page. The request id is the one in the
``X-Request-ID`` header, so a report can be matched to its log line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from productops.db import unavailable
from productops.errors import DomainError, ItemsRefused
from productops.request_id import request_id_for

logger = logging.getLogger("productops.api")


def _flatten(detail: Any, codes: Any, attr: str | None) -> list[dict[str, Any]]:
    """Turn DRF's nested error detail into a flat list of {code, detail, attr}."""
    if isinstance(detail, dict):
        errors = []
        for key, value in detail.items():
            child = None if key in ("non_field_errors", "__all__") else str(key)
            path = child if attr is None else (attr if child is None else f"{attr}.{child}")
            errors.extend(_flatten(value, codes.get(key) if isinstance(codes, dict) else codes, path))
        return errors
    if isinstance(detail, list):
        errors = []
        for index, value in enumerate(detail):
            code = codes[index] if isinstance(codes, list) and index < len(codes) else codes
            if isinstance(value, (dict, list)):
                errors.extend(_flatten(value, code, f"{attr}.{index}" if attr else str(index)))
            else:
                errors.extend(_flatten(value, code, attr))
        return errors
    return [{"code": str(codes or "invalid"), "detail": str(detail), "attr": attr}]


def error_body(error_type: str, errors: list[dict[str, Any]], request=None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": error_type, "errors": errors}
    if request is not None:
        body["request_id"] = request_id_for(getattr(request, "_request", request))
    return body


SERVER_ERROR = {
    "code": "server_error",
    "detail": "Something went wrong on our side. It has been logged; quote the request id.",
    "attr": None,
}


def database_unavailable_json(request) -> JsonResponse:
    """The API's 503: the error body with ``database_unavailable`` and ``Retry-After``."""
    response = JsonResponse(
        error_body(
            "server_error",
            [{"code": unavailable.CODE, "detail": unavailable.DETAIL, "attr": None}],
            request,
        ),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(unavailable.RETRY_AFTER_SECONDS)
    return response


def _domain_errors(exc: DomainError) -> list[dict[str, Any]]:
    """A domain error's items: itself, or (``ItemsRefused``, a bulk edit) one per refused item,
    each with ``item_id``, in id order."""
    if isinstance(exc, ItemsRefused) and exc.errors:
        return [
            {"code": e.code, "detail": e.detail, "attr": e.attr, **e.extra, "item_id": item_id}
            for item_id, e in sorted(exc.errors.items())
        ]
    return [{"code": exc.code, "detail": exc.detail, "attr": exc.attr, **exc.extra}]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | JsonResponse:
    request = context.get("request")
    if unavailable.is_database_unavailable(exc):
        set_rollback()
        view = context.get("view")
        unavailable.log_unavailable(
            exc, getattr(request, "_request", request), view.__class__.__name__ if view is not None else ""
        )
        return database_unavailable_json(request)
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(
            error_body(exc.error_type, _domain_errors(exc), request),
            status=exc.status_code,
            headers={"WWW-Authenticate": exc.auth_header} if getattr(exc, "auth_header", None) else None,
        )
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.ParseError("Request body is too large.", code="request_too_large")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if not isinstance(exc, exceptions.APIException):
        # A bug: logged with its traceback, answered in the error body (not Django's HTML 500).
        set_rollback()
        view = context.get("view")
        logger.error(
            "Unhandled %s in %s (request %s)",
            exc.__class__.__name__,
            view.__class__.__name__ if view is not None else "?",
            request_id_for(request._request) if request is not None else "-",
            exc_info=exc,
        )
        return Response(error_body("server_error", [dict(SERVER_ERROR)], request), status=500)

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, (dict, list)) else [exc.detail]
        errors = _flatten(detail, exc.get_codes(), None)
        error_type = "validation_error"
    else:
        errors = [{"code": str(exc.get_codes()), "detail": str(exc.detail), "attr": None}]
        error_type = "client_error"
    set_rollback()
    return Response(error_body(error_type, errors, request), status=exc.status_code, headers=headers)


def handler404(request, exception=None):
    """Project 404: unknown /api/ URLs answer in the API's error body, others as HTML."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(
                "client_error", [{"code": "not_found", "detail": "Not found.", "attr": None}], request
            ),
            status=status.HTTP_404_NOT_FOUND,
        )
    return page_not_found(request, exception)


def handler500(request):
    """Project 500 (an error outside DRF's views, e.g. in middleware): JSON under /api/,
    Django's page elsewhere. Django has logged the traceback already.

    A database error (raised in a middleware, where ``DatabaseUnavailableMiddleware`` does
    not see it) is the 503 instead, JSON or the static page."""
    exc = sys.exc_info()[1]
    if unavailable.is_database_unavailable(exc):
        from productops.db.middleware import unavailable_response

        return unavailable_response(request, exc, "middleware")
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", [dict(SERVER_ERROR)], request), status=500)
    return server_error(request)
