"""The client's address for rate limits, the same way the API's throttles find it.

Behind ``NUM_PROXIES`` trusted proxies (``REST_FRAMEWORK["NUM_PROXIES"]``), the
address is the one those proxies appended to ``X-Forwarded-For``; with none, it
is ``REMOTE_ADDR`` and a client-sent ``X-Forwarded-For`` is ignored (it could be
forged to dodge a limit).
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    return BaseThrottle().get_ident(request)
