"""Throttles that read their rate at request time, so settings overrides apply.

If the cache (Redis) is unreachable, requests are let through and the failure
logged: an outage of the rate limiter must not take the API down with it.
"""

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

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
