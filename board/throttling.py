"""Rate limits of the public board's writes, counted in the cache (like ``productops.login_throttle``).

Every write (sign-in link request, idea, vote, comment) counts once against the client
address and, when known, the verified contact and the e-mail address asked for. Past a
limit in ``BOARD_THROTTLE_WINDOW`` seconds the write is refused with a 429 page.
Similar-idea lookups (typed as the customer writes) have their own, larger budget per
contact, ``BOARD_THROTTLE_LOOKUPS_PER_CONTACT``.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from productops.client_address import client_address
from productops.rate_limit import rate_limit_hit


def _keys(request: HttpRequest, contact_id: int | None, email: str | None) -> dict[str, int]:
    keys = {f"board-throttle:ip:{client_address(request)}": settings.BOARD_THROTTLE_PER_IP}
    if contact_id is not None:
        keys[f"board-throttle:contact:{contact_id}"] = settings.BOARD_THROTTLE_PER_CONTACT
    if email:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        keys[f"board-throttle:email:{digest}"] = settings.BOARD_THROTTLE_PER_EMAIL
    return keys


def throttle_hit(request: HttpRequest, *, contact_id: int | None = None, email: str | None = None) -> bool:
    """Count one write; False (and nothing counted) when any of its limits is already reached."""
    return _count(_keys(request, contact_id, email))


def lookup_hit(*, contact_id: int) -> bool:
    """Count one similar-idea lookup of a verified contact; False past its budget."""
    return _count({f"board-throttle:lookup:{contact_id}": settings.BOARD_THROTTLE_LOOKUPS_PER_CONTACT})


def _count(keys: dict[str, int]) -> bool:
    return rate_limit_hit(keys, window=settings.BOARD_THROTTLE_WINDOW)


def throttled_response(request: HttpRequest, context: dict) -> HttpResponse:
    response = HttpResponse(render_to_string("board/throttled.html", context, request=request), status=429)
    response["Retry-After"] = str(settings.BOARD_THROTTLE_WINDOW)
    return response
