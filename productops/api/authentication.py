"""Bearer-token authentication for integrations (``Authorization: Bearer po_…``)."""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from productops import services
from productops.models import ApiToken, User


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Sets ``request.auth`` to the :class:`ApiToken`; ``request.user`` to its user.

    Tokens are bound to one workspace; the workspace permission turns a request
    for any other workspace into a 404.
    """

    keywords = ("bearer", "token")

    # The key is in ``header`` and ``key`` here and in what it calls (a database error in the
    # lookup is a 500 with this frame in its report).
    @sensitive_variables()
    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token = services.api_token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "productops.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A workspace API token."}
