"""HTTP conveniences of the API that apply to every view: weak ETags with 304, rate-limit headers.

* ``ETagMiddleware``: a ``200`` JSON answer to a ``GET``/``HEAD`` under ``/api/`` carries a
  weak ``ETag`` (a hash of the rendered body, so a change made by the recompute alone is
  seen too); a request whose ``If-None-Match`` names it gets ``304 Not Modified``.
* ``RateLimitHeadersMiddleware``: the throttles record the tightest limit the request
  counted against; the answer carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
  ``RateLimit-Reset`` (seconds), after draft-ietf-httpapi-ratelimit-headers. A 429 also
  carries ``Retry-After`` (the error handler sets it).
"""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

API_PREFIX = "/api/"


def weak_etag(content: bytes) -> str:
    return f'W/"{hashlib.sha256(content).hexdigest()[:32]}"'


def _matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: ``W/"x"`` and ``"x"`` match ``W/"x"``."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


class ETagMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method not in ("GET", "HEAD")
            or not request.path.startswith(API_PREFIX)
            or response.status_code != 200
            or response.streaming
            or not response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        etag = weak_etag(response.content)
        response["ETag"] = etag
        if _matches(request.headers.get("If-None-Match", ""), etag):
            not_modified = HttpResponseNotModified()
            for header in ("ETag", "Vary", "Cache-Control", "X-Request-ID"):
                if header in response:
                    not_modified[header] = response[header]
            return not_modified
        return response


class RateLimitHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        limit = getattr(request, "rate_limit", None)
        if limit is not None:
            allowed, remaining, reset = limit
            response["RateLimit-Limit"] = str(allowed)
            response["RateLimit-Remaining"] = str(max(0, remaining))
            response["RateLimit-Reset"] = str(max(0, reset))
        return response
