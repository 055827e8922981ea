"""The suggestion quality report: what the team dismissed of what was suggested.

Every suggestion stores why it was made (``words``, ``meaning`` or ``both``) and whether it
was dismissed ("Not a duplicate", "Not this feature"); every "Wrong theme" is a
``ThemeDismissal``. This report counts them per reason over a period, so a team sees whether
suggestions by meaning earn their place in its own inbox (Settings → Feedback, beside the
switch that turns them off). The labelled pairs of ``python -m bench duplicate_quality``
measure the same thing before anyone has dismissed anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from feedback.models import DuplicateSuggestion, ThemeDismissal, ThemeMember

#: The report's period, in days.
QUALITY_DAYS = 90
REASONS = ("words", "meaning", "both")


@dataclass(frozen=True)
class ReasonQuality:
    """Suggestions of one reason and kind (``duplicate`` or ``feature``) made in the period."""

    reason: str
    kind: str
    suggested: int
    dismissed: int

    @property
    def dismissed_share(self) -> float | None:
        """Dismissed ÷ suggested (None when nothing was suggested)."""
        return self.dismissed / self.suggested if self.suggested else None


@dataclass(frozen=True)
class SuggestionQuality:
    days: int
    rows: list[ReasonQuality]
    themed_items: int
    wrong_theme: int


def suggestion_quality(*, workspace_id: int, days: int = QUALITY_DAYS) -> SuggestionQuality:
    """Per reason and kind, the suggestions made in the last ``days`` and how many of them
    were dismissed; the items in a theme now and the "wrong theme" dismissals of the period.
    Every reason and kind has a row, zero or not, in ``REASONS`` order. Three queries."""
    since = timezone.now() - timedelta(days=days)
    counted = {
        (row["reason"], "feature" if row["is_feature"] else "duplicate"): row
        for row in DuplicateSuggestion.objects.filter(workspace_id=workspace_id, created_at__gte=since)
        .annotate(is_feature=Q(similar_feature__isnull=False))
        .values("reason", "is_feature")
        .annotate(suggested=Count("id"), dismissed=Count("id", filter=Q(dismissed=True)))
        .order_by()
    }
    rows = []
    for kind in ("duplicate", "feature"):
        for reason in REASONS:
            row = counted.get((reason, kind), {})
            rows.append(
                ReasonQuality(
                    reason=reason,
                    kind=kind,
                    suggested=row.get("suggested", 0),
                    dismissed=row.get("dismissed", 0),
                )
            )
    return SuggestionQuality(
        days=days,
        rows=rows,
        themed_items=ThemeMember.objects.filter(workspace_id=workspace_id)
        .values("item_id")
        .distinct()
        .count(),
        wrong_theme=ThemeDismissal.objects.filter(workspace_id=workspace_id, dismissed_at__gte=since).count(),
    )
