"""Releases: plans per product, their scope, launch checklists, notes, success metrics,
shipping and the public changelog.

Every write goes through ``releases.services``; the models hold the invariants the
database can keep (one open release per feature, one version per product, ranges).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from productops.models import WorkspaceOwnedModel


class ReleaseStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    CODE_COMPLETE = "code_complete", "Code complete"
    RELEASED = "released", "Released"
    CANCELLED = "cancelled", "Cancelled"


#: Statuses of a release still to ship.
OPEN_STATUSES = (ReleaseStatus.PLANNED, ReleaseStatus.IN_PROGRESS, ReleaseStatus.CODE_COMPLETE)


class ReleaseSettings(WorkspaceOwnedModel):
    """Per-workspace knobs of release planning. One row per workspace."""

    risk_window_days = models.PositiveSmallIntegerField(
        default=14, help_text="A release this close to its planned date with must-haves to do is at risk."
    )
    # Set once the default launch checklist was copied into the template, so a workspace
    # that deletes every template item is not given the defaults again.
    checklist_seeded = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "release settings"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="release_settings_one_per_workspace"),
            models.CheckConstraint(
                condition=Q(risk_window_days__gte=1, risk_window_days__lte=365),
                name="release_settings_window_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Release settings of workspace {self.workspace_id}"


class ChangelogSettings(WorkspaceOwnedModel):
    """The public changelog of a workspace: off until an admin opts in."""

    enabled = models.BooleanField(default=False)
    title = models.CharField(max_length=120, blank=True, help_text="Defaults to “<workspace> changelog”.")
    intro = models.TextField(blank=True, help_text="Shown above the releases (plain text).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "changelog settings"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="changelog_settings_one_per_workspace"),
        ]

    def __str__(self) -> str:
        return f"Changelog settings of workspace {self.workspace_id}"


class Release(WorkspaceOwnedModel):
    # The feed GUID (urn:uuid:...) and the public changelog's anchor: stable across edits.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # RESTRICT: a product with releases cannot be deleted, a whole workspace can.
    product = models.ForeignKey("roadmap.Product", on_delete=models.RESTRICT, related_name="releases")
    name = models.CharField(max_length=120)
    version = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.PLANNED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    planned_date = models.DateField(null=True, blank=True)
    shipped_on = models.DateField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    summary = models.TextField(blank=True, help_text="Customer-facing summary (plain text).")
    is_public = models.BooleanField(default=True, help_text="Appears on the public changelog once shipped.")
    # Notes: the draft being edited, and what was published (the changelog shows the latter).
    notes = models.TextField(blank=True, help_text="Release notes draft (Markdown).")
    published_notes = models.TextField(blank=True)
    notes_published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["planned_date", "id"]
        indexes = [
            models.Index(fields=["workspace", "updated_at"], name="release_updated"),
            models.Index(fields=["workspace", "status", "planned_date"], name="release_status_date"),
            models.Index(
                fields=["workspace", "-shipped_at"],
                condition=Q(status="released", is_public=True),
                name="release_changelog",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["product", "version"], name="release_version_unique"),
            models.CheckConstraint(
                condition=Q(status="released") | Q(shipped_at__isnull=True),
                name="release_shipped_only_when_released",
            ),
            models.CheckConstraint(
                condition=~Q(status="released") | Q(shipped_at__isnull=False, shipped_on__isnull=False),
                name="release_released_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReleaseStatusChange(WorkspaceOwnedModel):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=ReleaseStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ReleaseStatus.choices)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.release_id}: {self.from_status} → {self.to_status}"


class ScopeState(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class ChangeType(models.TextChoices):
    NEW = "new", "New"
    IMPROVED = "improved", "Improved"
    FIXED = "fixed", "Fixed"


class ScopeOutcome(models.TextChoices):
    """Why a scope row closed (empty while it is open)."""

    SHIPPED = "shipped", "Shipped"
    MOVED = "moved", "Moved to another release"
    DEFERRED = "deferred", "Back to the backlog"
    CANCELLED = "cancelled", "Release cancelled"
    MERGED = "merged", "Merged into another feature"


class ScopeItem(WorkspaceOwnedModel):
    """A feature in a release. A feature is in at most one open release (``is_open``)."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="scope_items")
    feature = models.ForeignKey("roadmap.Feature", on_delete=models.CASCADE, related_name="scope_items")
    is_must_have = models.BooleanField(default=True, help_text="MVP: the release does not ship without it.")
    state = models.CharField(max_length=20, choices=ScopeState.choices, default=ScopeState.TODO)
    change_type = models.CharField(max_length=20, choices=ChangeType.choices, default=ChangeType.NEW)
    is_open = models.BooleanField(default=True)
    outcome = models.CharField(max_length=20, choices=ScopeOutcome.choices, blank=True)
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["release_id", "position", "id"]
        indexes = [
            models.Index(fields=["workspace", "updated_at"], name="scope_item_updated"),
            models.Index(fields=["release", "is_open"], name="scope_item_release_open"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["feature"], condition=Q(is_open=True), name="scope_feature_one_open"
            ),
            models.CheckConstraint(
                condition=Q(is_open=True, outcome="") | Q(is_open=False) & ~Q(outcome=""),
                name="scope_outcome_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id} in {self.release_id}"


class ChecklistState(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Not needed"


class ChecklistCategory(models.TextChoices):
    POSITIONING = "positioning", "Positioning and messaging"
    DOCUMENTATION = "documentation", "Documentation"
    SALES = "sales_enablement", "Sales enablement"
    SUPPORT = "support_training", "Support training"
    PRICING = "pricing", "Pricing update"
    ANNOUNCEMENT = "announcement", "Customer announcement"
    PRESS = "press", "Press and analyst briefing"
    OTHER = "other", "Other"


class ChecklistTemplateItem(WorkspaceOwnedModel):
    """A task every new release's launch checklist starts with, due relative to its planned date."""

    title = models.CharField(max_length=200)
    category = models.CharField(
        max_length=30, choices=ChecklistCategory.choices, default=ChecklistCategory.OTHER
    )
    due_offset_days = models.SmallIntegerField(
        default=0, help_text="Days from the planned date: −7 is a week before."
    )
    is_required = models.BooleanField(default=True)
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="checklist_template_updated")]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_offset_days__gte=-365, due_offset_days__lte=365),
                name="checklist_template_offset_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ChecklistTask(WorkspaceOwnedModel):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="checklist_tasks")
    title = models.CharField(max_length=200)
    category = models.CharField(
        max_length=30, choices=ChecklistCategory.choices, default=ChecklistCategory.OTHER
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=ChecklistState.choices, default=ChecklistState.TODO)
    is_required = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["release_id", "position", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="checklist_task_updated")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.state in (ChecklistState.DONE, ChecklistState.SKIPPED)


class SuccessMetric(WorkspaceOwnedModel):
    """What a launch should move: a baseline, a target and a review date, for a release or a
    feature; actuals are recorded over time, or read from a key result."""

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, null=True, blank=True, related_name="success_metrics"
    )
    feature = models.ForeignKey(
        "roadmap.Feature", on_delete=models.CASCADE, null=True, blank=True, related_name="success_metrics"
    )
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=20, blank=True)
    baseline = models.DecimalField(max_digits=16, decimal_places=4)
    target = models.DecimalField(max_digits=16, decimal_places=4)
    review_date = models.DateField()
    key_result = models.ForeignKey(
        "roadmap.KeyResult",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Read the actual from this key result's current value.",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["review_date", "id"]
        indexes = [
            models.Index(fields=["workspace", "updated_at"], name="success_metric_updated"),
            models.Index(fields=["workspace", "review_date"], name="success_metric_review"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(release__isnull=False) | Q(feature__isnull=False), name="success_metric_subject"
            ),
            models.CheckConstraint(condition=~Q(target=F("baseline")), name="success_metric_target_differs"),
        ]

    def __str__(self) -> str:
        return self.name


class MetricActual(WorkspaceOwnedModel):
    metric = models.ForeignKey(SuccessMetric, on_delete=models.CASCADE, related_name="actuals")
    value = models.DecimalField(max_digits=16, decimal_places=4)
    recorded_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["metric_id", "-recorded_on", "-id"]

    def __str__(self) -> str:
        return f"{self.metric_id}: {self.value} on {self.recorded_on}"
