"""503 instead of a 500 when a view fails because the database is down or too slow."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from productops.db.unavailable import html_response, is_database_unavailable, log_unavailable


def unavailable_response(request: HttpRequest, exc: BaseException, where: str = "") -> HttpResponse:
    """JSON error body under ``/api/`` (the API's views answer it themselves, through the DRF
    handler; this covers Django views mounted there), the static HTML page elsewhere."""
    log_unavailable(exc, request, where)
    if request.path.startswith("/api/"):
        from productops.api.exceptions import database_unavailable_json

        return database_unavailable_json(request)
    return html_response()


class DatabaseUnavailableMiddleware:
    """Portal, board and admin pages: ``process_exception`` turns an ``OperationalError`` or
    ``InterfaceError`` raised by the view into the 503 page with ``Retry-After``.

    Errors raised in other middleware (a session saved on the way out) reach the project's
    ``handler500`` instead, which answers the same 503 (``productops.api.exceptions``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        match = getattr(request, "resolver_match", None)
        return unavailable_response(request, exception, match.view_name if match else "")
