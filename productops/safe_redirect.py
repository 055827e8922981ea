"""Where a ``next`` parameter may send the browser: one rule for every page.

Only a path on this site, under ``within`` (a path prefix such as ``/p/acme/``):
never another host, a scheme-relative ``//host`` or a ``javascript:`` URL, so a
crafted link cannot turn a sign-in or a vote into a redirect elsewhere.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, candidate: str | None, *, fallback: str, within: str = "/") -> str:
    """``candidate`` if it is a local path under ``within``, else ``fallback``."""
    candidate = candidate or ""
    if (
        candidate.startswith(within)
        and not candidate.startswith("//")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=False
        )
    ):
        return candidate
    return fallback
