"""Domain errors: one exception hierarchy with stable codes and HTTP statuses.

Services raise these; the single DRF exception handler
(``productops.api.exceptions.exception_handler``) renders them, and portal views
show their ``detail``. Anything else that escapes a view is a real bug and a 500.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected, user-facing failure."""

    status_code = 400
    default_code = "invalid"
    error_type = "client_error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        attr: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.attr = attr
        self.extra = extra or {}


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``attr`` names the field when there is one."""

    status_code = 400
    default_code = "invalid"
    error_type = "validation_error"


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    default_code = "permission_denied"


class Conflict(DomainError):
    """The request is valid but the current state forbids it (e.g. the last owner)."""

    status_code = 409
    default_code = "conflict"


class Unauthorized(DomainError):
    """The request's own credentials do not verify, e.g. a webhook signature (401).

    Session and token authentication fail through DRF; this is for endpoints that
    authenticate the body itself.
    """

    status_code = 401
    default_code = "not_authenticated"
    #: Sent as ``WWW-Authenticate``, which a 401 must carry.
    auth_header = 'HMAC-SHA256 realm="api"'
