"""Limit password guessing on the sign-in pages (admin and API login).

Failures are counted per client address and per username in the cache; past
``LOGIN_FAILURE_LIMIT`` in ``LOGIN_FAILURE_WINDOW`` seconds the page answers 429
until the window passes. A successful sign-in (a redirect) clears the count.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.views.decorators.debug import sensitive_post_parameters

from productops.client_address import client_address


def _keys(request: HttpRequest) -> list[str]:
    address = client_address(request)
    username = (request.POST.get("username") or "").strip().lower()
    digest = hashlib.sha256(username.encode()).hexdigest()[:32]
    return [f"login-failures:ip:{address}", f"login-failures:user:{digest}"]


def throttle_login(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # Marked here, before the cache is read: Django's LoginView marks its POST sensitive only
    # once it runs, so a failure in the throttle (the cache unreachable) would otherwise put
    # the password in the error report.
    @sensitive_post_parameters()
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        keys = _keys(request)
        counts = cache.get_many(keys)
        if any(count >= settings.LOGIN_FAILURE_LIMIT for count in counts.values()):
            response = HttpResponse(
                "Too many failed sign-ins. Try again later.", status=429, content_type="text/plain"
            )
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW)
            return response
        response = view(request, *args, **kwargs)
        if response.status_code == 200:  # the form came back: the credentials were wrong
            for key in keys:
                if not cache.add(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW):
                    cache.incr(key)
        elif response.status_code in (301, 302):
            cache.delete_many(keys)
        return response

    return wrapped
