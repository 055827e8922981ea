"""Throttles that read their rate at request time, so settings overrides apply.

If the cache (Redis) is unreachable, requests are let through and the failure
logged: an outage of the rate limiter must not take the API down with it.

Each throttle records on the request the limit it counted the request against (the
tightest one wins); ``RateLimitHeadersMiddleware`` turns it into ``RateLimit-*`` headers.
"""

import hashlib
import logging
import math

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _RateFromSettings:
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            allowed = super().allow_request(request, view)
        except (RedisConnectionError, RedisTimeoutError):
            logger.warning("Rate limiting skipped: cache unreachable.")
            return True
        self._record(request)
        return allowed

    def _record(self, request) -> None:
        if self.rate is None or getattr(self, "key", None) is None:
            return
        history = getattr(self, "history", [])
        remaining = self.num_requests - len(history)
        oldest = history[-1] if history else self.now
        reset = math.ceil(self.duration - (self.now - oldest))
        django_request = getattr(request, "_request", request)
        current = getattr(django_request, "rate_limit", None)
        if current is None or remaining < current[1]:
            django_request.rate_limit = (self.num_requests, remaining, reset)


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Per user (token and session alike)."""


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Per client IP for unauthenticated requests."""


class InboundWebhookThrottle(_RateFromSettings, SimpleRateThrottle):
    """Per webhook and client IP, for the inbound-webhook endpoint, which has no user.

    Keyed by both, so a flood at one webhook's URL neither spends another's budget
    nor, from one address, the budget of the provider's other senders.
    """

    scope = "inbound_webhook"

    def get_cache_key(self, request, view) -> str:
        # Hashed: the public id comes from the URL and may hold anything a cache key may not.
        raw = f"{view.kwargs.get('public_id', '')}:{self.get_ident(request)}"
        ident = hashlib.sha256(raw.encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
