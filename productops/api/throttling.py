"""Throttles that read their rate at request time, so settings overrides apply.

If the cache (Redis) is unreachable, requests are let through and the failure
logged: an outage of the rate limiter must not take the API down with it.
"""

import logging

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
            return super().allow_request(request, view)
        except (RedisConnectionError, RedisTimeoutError):
            logger.warning("Rate limiting skipped: cache unreachable.")
            return True


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
        ident = f"{view.kwargs.get('public_id', '')}:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
