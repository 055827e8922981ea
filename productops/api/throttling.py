"""Throttles that read their rate at request time, so settings overrides apply."""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _RateFromSettings:
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Per user (token and session alike)."""


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Per client IP for unauthenticated requests."""
