"""Domain errors: one exception hierarchy with stable codes and HTTP statuses.

Services raise these; the single DRF exception handler
(``productops.api.exceptions.exception_handler``) renders them, and portal views
show their ``detail``. Anything else that escapes a view is a real bug and a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class ItemsRefused(ValidationFailed):
    """One request about many items (a bulk edit) refused as a whole, nothing written.

    ``errors`` maps each refused item's id to its own error (a :class:`DomainError` with its
    code, detail and field); the API renders one error object per item, with ``item_id``
    (``productops.api.exceptions``), and the portal shows each message on its item.
    """

    default_code = "items_refused"

    def __init__(
        self,
        detail: str,
        *,
        errors: Mapping[int, DomainError],
        code: str | None = None,
        attr: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail, code=code, attr=attr, extra=extra)
        self.errors = dict(errors)

    def messages(self) -> dict[int, str]:
        """Each refused item's id → its message, for people."""
        return {item_id: error.detail for item_id, error in self.errors.items()}


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
