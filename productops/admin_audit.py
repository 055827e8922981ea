"""Attribute the admin console's writes to the operator who made them.

The admin calls the services as the system (``actor=None``: operators are staff,
not workspace members, so a workspace role check would refuse them). For requests
to the admin by a signed-in staff user, this middleware makes those writes audited
as ``operator:<username>`` instead of ``system``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from productops.services import audit_as_operator


class AdminOperatorAuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._admin_prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        user = getattr(request, "user", None)
        if request.path.startswith(self._admin_prefix) and user is not None and user.is_staff:
            with audit_as_operator(user):
                return self.get_response(request)
        return self.get_response(request)
