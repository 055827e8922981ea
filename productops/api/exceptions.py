"""The one error path of the API.

Every handled error renders as::

    {"type": "validation_error" | "client_error",
     "errors": [{"code": "...", "detail": "...", "attr": "field.path" | null}]}

with its HTTP status (400, 401, 403, 404, 405, 409, 415, 429). Anything not
listed here is a bug: it is not caught, so it surfaces as a real 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from productops.errors import DomainError


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


def error_body(error_type: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": error_type, "errors": errors}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(
            error_body(
                exc.error_type, [{"code": exc.code, "detail": exc.detail, "attr": exc.attr, **exc.extra}]
            ),
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
        return None

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
    return Response(error_body(error_type, errors), status=exc.status_code, headers=headers)


def handler404(request, exception=None):
    """Project 404: unknown /api/ URLs answer in the API's error body, others as HTML."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("client_error", [{"code": "not_found", "detail": "Not found.", "attr": None}]),
            status=status.HTTP_404_NOT_FOUND,
        )
    return page_not_found(request, exception)
