"""The demo inbox's three natural themes (``feedback.demo.INBOX_THEMES``), as found by the
themes its ``seed_demo`` computed: by their members, not their labels, which are made from
the members' words and move with them."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from feedback.demo import INBOX_THEMES
from feedback.models import FeedbackItem, Theme

PERIOD_DAYS = 30


def natural_themes(workspace) -> dict[str, Theme | None]:
    """For each natural theme, the 30-day theme holding most of its items of the period, if
    that is at least three of them and they are most of the theme's members; else None."""
    texts = {name: {request[1] for request in requests} for name, requests in INBOX_THEMES.items()}
    since = timezone.now() - timedelta(days=PERIOD_DAYS)
    recent = dict(
        FeedbackItem.objects.filter(workspace=workspace, received_at__gte=since).values_list("pk", "text")
    )
    themes = list(
        Theme.objects.filter(workspace=workspace, period_days=PERIOD_DAYS).prefetch_related("members")
    )
    found: dict[str, Theme | None] = {}
    for name, wanted in texts.items():
        best, best_count = None, 0
        for theme in themes:
            members = [m.item_id for m in theme.members.all()]
            count = sum(1 for pk in members if recent.get(pk) in wanted)
            if count > best_count and 2 * count > len(members):
                best, best_count = theme, count
        found[name] = best if best_count >= 3 else None
    return found
