"""Themes of unlinked feedback (feedback.themes clusters them, feedback.theme_services
stores them). Imported by ``feedback.models``, so they are models of the feedback app.

A theme keeps its id from run to run while it keeps most of its members (Jaccard ≥ 0.5
with the new cluster): links, bookmarks and "wrong theme" dismissals stay meaningful.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from productops.models import WorkspaceOwnedModel

PERIOD_CHOICES = [(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")]
DEFAULT_PERIOD = 30


class ThemeRun(WorkspaceOwnedModel):
    """The last clustering of one workspace and period: when, over how many items, and
    every centroid k-means ended with (raw float32 rows), where the next run starts."""

    period_days = models.PositiveSmallIntegerField(choices=PERIOD_CHOICES, default=DEFAULT_PERIOD)
    number = models.PositiveIntegerField(default=0, help_text="How many runs so far.")
    computed_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(default=0, help_text="Unlinked items clustered.")
    candidate_count = models.PositiveIntegerField(
        default=0, help_text="Unlinked items of the period (more than clustered when sampled)."
    )
    sampled = models.BooleanField(default=False, help_text="Only the most recent items were clustered.")
    theme_count = models.PositiveIntegerField(default=0)
    centroids = models.BinaryField(default=bytes, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "period_days"], name="theme_run_one_per_period")
        ]

    def __str__(self) -> str:
        return f"Themes of {self.period_days} days, run {self.number}"


class Theme(WorkspaceOwnedModel):
    """A cluster of unlinked feedback of a period, with what it weighs."""

    period_days = models.PositiveSmallIntegerField(choices=PERIOD_CHOICES, default=DEFAULT_PERIOD)
    label = models.CharField(max_length=200, help_text="Its most distinctive words.")
    words = models.JSONField(default=list, blank=True)
    centroid = models.BinaryField(editable=False, help_text="Unit vector, raw float32 (256 × 4 bytes).")
    cohesion = models.FloatField(default=0.0, help_text="Mean cosine of the members to the centroid.")
    size = models.PositiveIntegerField(default=0)
    company_count = models.PositiveIntegerField(default=0)
    arr = models.DecimalField(
        max_digits=16, decimal_places=2, default=0, help_text="Distinct companies' ARR, reporting currency."
    )
    arr_currency = models.CharField(max_length=3, default="USD")
    trend_current = models.PositiveIntegerField(default=0, help_text="Open feedback of the period.")
    trend_previous = models.PositiveIntegerField(default=0, help_text="Same, the period before.")
    run_number = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-size", "id"]
        indexes = [models.Index(fields=["workspace", "period_days", "-size"], name="theme_list")]

    def __str__(self) -> str:
        return self.label or f"Theme {self.pk}"

    @property
    def trend_delta(self) -> int:
        return self.trend_current - self.trend_previous


class ThemeMember(WorkspaceOwnedModel):
    """An item of a theme; ``rank`` 0 is the most typical (closest to the centroid)."""

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="members")
    item = models.ForeignKey("feedback.FeedbackItem", on_delete=models.CASCADE, related_name="+")
    similarity = models.FloatField(help_text="Cosine to the theme's centroid.")
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [models.UniqueConstraint(fields=["theme", "item"], name="theme_member_unique")]
        indexes = [
            models.Index(fields=["theme", "rank"], name="theme_member_rank"),
            models.Index(fields=["item"], name="theme_member_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} in theme {self.theme_id}"


class ThemeDismissal(WorkspaceOwnedModel):
    """ "Wrong theme": the item is taken out of the theme and never put back in it."""

    theme = models.ForeignKey(Theme, on_delete=models.CASCADE, related_name="dismissals")
    item = models.ForeignKey("feedback.FeedbackItem", on_delete=models.CASCADE, related_name="+")
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-dismissed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["theme", "item"], name="theme_dismissal_unique")]

    def __str__(self) -> str:
        return f"{self.item_id} not in theme {self.theme_id}"
