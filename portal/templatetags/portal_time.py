"""``{{ when|ago }}``: "just now" under a minute (and for a time a little ahead, clock skew),
else Django's ``timesince`` with "ago": "3 minutes ago", "2 hours, 5 minutes ago".

``timesince`` alone reads "0 minutes" for the first minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    if not isinstance(value, datetime):
        return ""
    now = now or timezone.now()
    if now - value < JUST_NOW:
        return "just now"
    return f"{timesince(value, now)} ago"
