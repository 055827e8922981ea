"""Roadmap: products, goals and key results, initiatives, teams and capacity,
features with their dependencies, and the priority engine's scores and history.

Score columns on :class:`Feature` are written only by the recompute
(``roadmap.scoring.recompute``); everything else goes through ``roadmap.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from productops.models import WorkspaceOwnedModel


class VersionScheme(models.TextChoices):
    SEMVER = "semver", "Semantic versioning (1.4.2)"
    CALVER = "calver", "Calendar versioning (2027.03, 2027.03.1)"


class Product(WorkspaceOwnedModel):
    name = models.CharField(max_length=120)
    version_scheme = models.CharField(
        max_length=10,
        choices=VersionScheme.choices,
        default=VersionScheme.SEMVER,
        help_text="How its releases are numbered and ordered.",
    )
    vision = models.TextField(blank=True)
    personas = models.JSONField(default=list, blank=True, help_text="Target personas, as short names.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="product_updated")]
        constraints = [
            models.UniqueConstraint("workspace", Lower("name"), name="product_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Goal(WorkspaceOwnedModel):
    """An objective for a period; ``parent`` nests a product goal under a company goal."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    period = models.CharField(max_length=40, help_text='e.g. "2027 H1"')
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, null=True, blank=True, related_name="goals"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["period", "title", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="goal_updated")]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("id")), name="goal_not_own_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.period})"


class KeyResult(WorkspaceOwnedModel):
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="key_results")
    metric = models.CharField(max_length=200)
    unit = models.CharField(max_length=20, blank=True)
    baseline = models.DecimalField(max_digits=16, decimal_places=4)
    target = models.DecimalField(max_digits=16, decimal_places=4)
    current = models.DecimalField(max_digits=16, decimal_places=4)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["goal_id", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="key_result_updated")]
        constraints = [
            models.CheckConstraint(condition=~Q(target=F("baseline")), name="key_result_target_differs"),
        ]

    def __str__(self) -> str:
        return self.metric

    @property
    def progress(self) -> float:
        """Share of the way from baseline to target, clamped to 0..1."""
        span = self.target - self.baseline
        return float(max(0, min(1, (self.current - self.baseline) / span)))


class KeyResultValue(WorkspaceOwnedModel):
    """A key result's value from ``recorded_at`` on: one row per change of ``current`` (and the
    first value), so progress since any date is a lookup, not a guess."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="values")
    value = models.DecimalField(max_digits=16, decimal_places=4)
    recorded_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["key_result", "-recorded_at"], name="key_result_value_recent")]

    def __str__(self) -> str:
        return f"{self.key_result_id} = {self.value} @ {self.recorded_at:%Y-%m-%d}"


class Initiative(WorkspaceOwnedModel):
    """A theme grouping features under a goal, with a target share of capacity."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    goal = models.ForeignKey(
        Goal, on_delete=models.SET_NULL, null=True, blank=True, related_name="initiatives"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    investment_target_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Target share of capacity, 0-100."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="initiative_updated")]
        constraints = [
            models.CheckConstraint(
                condition=Q(investment_target_pct__gte=0, investment_target_pct__lte=100),
                name="initiative_investment_pct_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Team(WorkspaceOwnedModel):
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="team_updated")]
        constraints = [models.UniqueConstraint("workspace", Lower("name"), name="team_name_unique")]

    def __str__(self) -> str:
        return self.name


class TeamCapacity(WorkspaceOwnedModel):
    """What a team can build in a period, in the workspace's effort unit."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="capacities")
    period = models.CharField(max_length=40, help_text='e.g. "2027-Q1"')
    starts_on = models.DateField()
    ends_on = models.DateField()
    capacity = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team_id", "starts_on", "id"]
        verbose_name_plural = "team capacities"
        indexes = [models.Index(fields=["workspace", "updated_at"], name="team_capacity_updated")]
        constraints = [
            models.UniqueConstraint(fields=["team", "period"], name="team_capacity_period_unique"),
            models.CheckConstraint(condition=Q(capacity__gte=0), name="team_capacity_non_negative"),
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="team_capacity_dates"),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.period}: {self.capacity}"


class Tag(WorkspaceOwnedModel):
    name = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="tag_updated")]
        constraints = [models.UniqueConstraint("workspace", Lower("name"), name="tag_name_unique")]

    def __str__(self) -> str:
        return self.name


class Competitor(WorkspaceOwnedModel):
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="competitor_updated")]
        constraints = [models.UniqueConstraint("workspace", Lower("name"), name="competitor_name_unique")]

    def __str__(self) -> str:
        return self.name


class ScoringModel(models.TextChoices):
    RICE = "rice", "RICE"
    ICE = "ice", "ICE"
    WSJF = "wsjf", "WSJF"
    VALUE_EFFORT = "value_effort", "Value ÷ effort"
    CUSTOMER_IMPACT = "customer_impact", "Customer impact"
    SCORECARD = "scorecard", "Weighted scorecard"


#: The Feature column holding each model's score (the recompute writes them all).
MODEL_COLUMN = {
    ScoringModel.RICE: "score_rice",
    ScoringModel.ICE: "score_ice",
    ScoringModel.WSJF: "score_wsjf",
    ScoringModel.VALUE_EFFORT: "score_value_effort",
    ScoringModel.CUSTOMER_IMPACT: "score_customer_impact",
    ScoringModel.SCORECARD: "score_scorecard",
}
#: Defaults of the engine's weights (RoadmapSettings), by importance and by segment ("" = unknown).
DEFAULT_IMPORTANCE_WEIGHTS = {"nice_to_have": 1.0, "important": 2.0, "critical": 4.0}
DEFAULT_SEGMENT_WEIGHTS = {"enterprise": 3.0, "mid_market": 2.0, "smb": 1.0, "": 1.0}
#: Request ids a recompute's log line lists at most. ``RoadmapSettings.dirty_request_ids``
#: keeps one more, so the run can tell that the list was cut.
RECOMPUTE_REQUEST_IDS_LOGGED = 20


class EffortUnit(models.TextChoices):
    POINTS = "points", "Points"
    PERSON_WEEKS = "person_weeks", "Person-weeks"


class RoadmapSettings(WorkspaceOwnedModel):
    """Per-workspace knobs of the priority engine. One row per workspace."""

    scoring_model = models.CharField(max_length=20, choices=ScoringModel.choices, default=ScoringModel.RICE)
    effort_unit = models.CharField(max_length=20, choices=EffortUnit.choices, default=EffortUnit.POINTS)
    # Customer impact: signal weight = importance weight × 0.5^(age / half-life);
    # a company counts once per feature (its strongest signal), scaled by
    # segment weight × (1 + log10(1 + ARR / 1000)).
    importance_weights = models.JSONField(default=dict)
    segment_weights = models.JSONField(default=dict)
    vote_weight = models.DecimalField(max_digits=6, decimal_places=3, default=1)
    recency_half_life_days = models.PositiveIntegerField(default=180)
    # Scorecard criteria fed by customer impact map it to 0..10 with
    # 10 × (1 − e^(−impact / scale)), so no workspace-wide maximum is needed.
    customer_impact_scale = models.DecimalField(max_digits=12, decimal_places=3, default=20)
    last_recomputed_at = models.DateTimeField(null=True, blank=True)

    # The engine's bookkeeping (``priority.recompute``), never edited by people.
    # A request: set (after the commit) by every mark-dirty and the daily full recompute,
    # cleared by the run that covered it, i.e. that read this sequence before its claim.
    recompute_requested_at = models.DateTimeField(null=True, blank=True)
    recompute_requested_seq = models.PositiveBigIntegerField(default=0)
    # The request ids of the changes waiting for a run, appended with the request (each once,
    # at most RECOMPUTE_REQUEST_IDS_LOGGED + 1): the run that scores them logs and removes them.
    dirty_request_ids = models.JSONField(default=list, blank=True)
    # The run: its number (stamped on the features it claims) and its lease.
    recompute_run = models.PositiveBigIntegerField(default=0)
    recompute_lease_until = models.DateTimeField(null=True, blank=True)
    recompute_holder_pid = models.PositiveIntegerField(
        null=True, blank=True, help_text="PostgreSQL backend of the running recompute."
    )
    # Failures in a row, the next attempt (exponential backoff) and the last error.
    recompute_failures = models.PositiveIntegerField(default=0)
    recompute_next_attempt_at = models.DateTimeField(null=True, blank=True)
    recompute_last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "roadmap settings"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="roadmap_settings_one_per_workspace"),
            models.CheckConstraint(
                condition=Q(recency_half_life_days__gte=1), name="roadmap_half_life_positive"
            ),
            models.CheckConstraint(
                condition=Q(customer_impact_scale__gt=0), name="roadmap_ci_scale_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Roadmap settings of workspace {self.workspace_id}"


class ScorecardCriterion(WorkspaceOwnedModel):
    """A weighted criterion of the workspace's custom scorecard (values 0..10)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Set per feature"
        CUSTOMER_IMPACT = "customer_impact", "From customer impact"
        COMPETITIVE_GAP = "competitive_gap", "From competitors that have it"

    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=80)
    weight = models.DecimalField(max_digits=8, decimal_places=3)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "scorecard criteria"
        indexes = [models.Index(fields=["workspace", "updated_at"], name="criterion_updated")]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="criterion_key_unique"),
            models.CheckConstraint(condition=Q(weight__gte=0), name="criterion_weight_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ×{self.weight}"


class ScoreState(models.IntegerChoices):
    """Where a feature's scores stand; a recompute claims DIRTY rows as RECOMPUTING.

    A change committed after the claim sets the row back to DIRTY, and the run's
    write skips rows that are no longer RECOMPUTING, so the next run scores it.
    """

    CLEAN = 0, "Up to date"
    DIRTY = 1, "Needs recompute"
    RECOMPUTING = 2, "Being recomputed"


class FeatureStatus(models.TextChoices):
    IDEA = "idea", "Idea"
    UNDER_CONSIDERATION = "under_consideration", "Under consideration"
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    SHIPPED = "shipped", "Shipped"
    DECLINED = "declined", "Declined"


class Horizon(models.TextChoices):
    NOW = "now", "Now"
    NEXT = "next", "Next"
    LATER = "later", "Later"


class Feature(WorkspaceOwnedModel):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # What customers read in release notes and the changelog; the description stays internal.
    public_title = models.CharField(max_length=200, blank=True, help_text="Customer-facing title.")
    release_note = models.TextField(blank=True, help_text="Customer-facing note (Markdown).")
    # RESTRICT, not PROTECT: a product with features cannot be deleted, but a
    # whole workspace (products and features together) can.
    product = models.ForeignKey(Product, on_delete=models.RESTRICT, related_name="features")
    initiative = models.ForeignKey(
        Initiative, on_delete=models.SET_NULL, null=True, blank=True, related_name="features"
    )
    goals = models.ManyToManyField(Goal, blank=True, related_name="features")
    status = models.CharField(max_length=20, choices=FeatureStatus.choices, default=FeatureStatus.IDEA)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    horizon = models.CharField(max_length=10, choices=Horizon.choices, blank=True)
    planned_start = models.DateField(null=True, blank=True)
    target_date = models.DateField(null=True, blank=True)
    effort = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="features")
    is_public = models.BooleanField(default=False, help_text="Shown on the public roadmap.")
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_features"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="features")
    competitors = models.ManyToManyField(
        Competitor, blank=True, related_name="features", help_text="Competitors that already have it."
    )
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependants", through="FeatureDependency"
    )

    # Scoring inputs (each framework's published variables).
    reach = models.PositiveIntegerField(null=True, blank=True, help_text="RICE: people per quarter.")
    impact = models.DecimalField(
        max_digits=4, decimal_places=2, null=True, blank=True, help_text="RICE: 0.25, 0.5, 1, 2 or 3."
    )
    confidence_pct = models.PositiveSmallIntegerField(null=True, blank=True, help_text="RICE: 0-100 %.")
    ice_impact = models.PositiveSmallIntegerField(null=True, blank=True, help_text="ICE: 1-10.")
    ice_confidence = models.PositiveSmallIntegerField(null=True, blank=True, help_text="ICE: 1-10.")
    ice_ease = models.PositiveSmallIntegerField(null=True, blank=True, help_text="ICE: 1-10.")
    business_value = models.PositiveSmallIntegerField(null=True, blank=True, help_text="WSJF: 1-20.")
    time_criticality = models.PositiveSmallIntegerField(null=True, blank=True, help_text="WSJF: 1-20.")
    risk_reduction = models.PositiveSmallIntegerField(null=True, blank=True, help_text="WSJF: 1-20.")
    job_size = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True, help_text="WSJF: defaults to effort."
    )
    value = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Value ÷ effort: 1-10.")

    # Written by the recompute only.
    score_rice = models.FloatField(null=True, blank=True)
    score_ice = models.FloatField(null=True, blank=True)
    score_wsjf = models.FloatField(null=True, blank=True)
    score_value_effort = models.FloatField(null=True, blank=True)
    score_customer_impact = models.FloatField(default=0)
    requesting_companies = models.PositiveIntegerField(default=0)
    score_scorecard = models.FloatField(null=True, blank=True)
    priority_score = models.FloatField(null=True, blank=True)
    priority_rank = models.PositiveIntegerField(null=True, blank=True)
    snapshot_score = models.FloatField(null=True, blank=True, help_text="Last score kept in history.")
    snapshot_rank = models.PositiveIntegerField(null=True, blank=True, help_text="Last rank kept in history.")
    score_state = models.PositiveSmallIntegerField(choices=ScoreState.choices, default=ScoreState.DIRTY)
    # The run that claimed the row (RECOMPUTING); its write applies only while this matches.
    recompute_run = models.PositiveBigIntegerField(default=0)
    scores_computed_at = models.DateTimeField(null=True, blank=True)
    # Demand beside the rank (``priority.demand``): the ARR, in the reporting currency, of the
    # distinct requesting companies (as a history point's ``arr_at_stake``), and the feedback
    # links of importance "critical" (deal-blockers; one per linked item, votes never count).
    arr_at_stake = models.FloatField(default=0.0)
    critical_requests = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority_rank", "id"]
        indexes = [
            models.Index(fields=["workspace", "priority_rank"], name="feature_rank"),
            models.Index(fields=["workspace", "updated_at"], name="feature_updated"),
            models.Index(fields=["workspace", "status"], name="feature_status"),
            models.Index(
                fields=["workspace", "score_state"], condition=Q(score_state__gt=0), name="feature_dirty"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(effort__isnull=True) | Q(effort__gt=0), name="feature_effort_positive"
            ),
            models.CheckConstraint(
                condition=Q(job_size__isnull=True) | Q(job_size__gt=0), name="feature_job_size_positive"
            ),
            models.CheckConstraint(
                condition=Q(planned_start__isnull=True)
                | Q(target_date__isnull=True)
                | Q(target_date__gte=F("planned_start")),
                name="feature_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(confidence_pct__isnull=True) | Q(confidence_pct__lte=100),
                name="feature_confidence_pct_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class FeatureDependency(WorkspaceOwnedModel):
    """``feature`` cannot ship before ``depends_on``. Cycles are refused by the service."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="dependency_links")
    depends_on = models.ForeignKey(Feature, on_delete=models.RESTRICT, related_name="dependant_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "feature dependencies"
        constraints = [
            models.UniqueConstraint(fields=["feature", "depends_on"], name="feature_dependency_unique"),
            models.CheckConstraint(condition=~Q(feature=F("depends_on")), name="feature_not_own_dependency"),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id} → {self.depends_on_id}"


class FeatureCriterionValue(WorkspaceOwnedModel):
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="criterion_values")
    criterion = models.ForeignKey(ScorecardCriterion, on_delete=models.CASCADE, related_name="values")
    value = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feature", "criterion"], name="criterion_value_unique"),
            models.CheckConstraint(condition=Q(value__gte=0, value__lte=10), name="criterion_value_range"),
        ]

    def __str__(self) -> str:
        return f"{self.feature_id}/{self.criterion_id} = {self.value}"


class FeatureStatusChange(WorkspaceOwnedModel):
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=FeatureStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=FeatureStatus.choices)
    reason = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What made the change, when not a person's edit: {"release": {"id", "name", "version"}}
    # for a status set by shipping a release (the roadmap knows no release model).
    context = models.JSONField(default=dict, blank=True)
    customer_message = models.TextField(
        max_length=2_000,
        blank=True,
        help_text="What customers who asked are told (shipped or declined); the reason stays internal.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.feature_id}: {self.from_status} → {self.to_status}"


class PrioritySnapshot(WorkspaceOwnedModel):
    """A feature's score and rank after a recompute that changed either."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="priority_snapshots")
    scoring_model = models.CharField(max_length=20, choices=ScoringModel.choices)
    score = models.FloatField(null=True)
    rank = models.PositiveIntegerField(null=True)
    computed_at = models.DateTimeField()
    # Why, at that moment: each criterion's input or contribution to the active model's score
    # (keys as in the score breakdown's terms), the requesting companies and the ARR they
    # bring (reporting currency), so a rank move's reason is the difference of two snapshots.
    contributions = models.JSONField(default=dict, blank=True)
    requesting_companies = models.PositiveIntegerField(default=0)
    arr_at_stake = models.FloatField(default=0.0)

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["feature", "-computed_at"], name="snapshot_feature_recent")]

    def __str__(self) -> str:
        return f"{self.feature_id} #{self.rank} {self.score}"


# --- saved views and read-only share links (issue 13) ------------------------------


class SavedView(WorkspaceOwnedModel):
    """A named filter of one roadmap page (board, kanban, timeline, matrix): private to its
    owner, or shared with the workspace. ``query`` holds only the page's known filter keys,
    validated by ``roadmap.services.saved_view_query_clean`` (ids of this workspace)."""

    class Kind(models.TextChoices):
        BOARD = "board", "Now / next / later"
        KANBAN = "kanban", "Kanban"
        TIMELINE = "timeline", "Timeline"
        MATRIX = "matrix", "Matrix"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    query = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    shared = models.BooleanField(default=False, help_text="Listed for every member of the workspace.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="saved_view_updated")]
        constraints = [
            models.UniqueConstraint("workspace", "owner", Lower("name"), name="saved_view_name_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["board", "kanban", "timeline", "matrix"]), name="saved_view_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ShareLink(WorkspaceOwnedModel):
    """A read-only link to a saved view for people without an account. Only a SHA-256 of the
    random key is stored (as for API tokens); it stops working at ``expires_at`` or when revoked.
    ``fields`` lists the optional fields the page shows (``SHARE_LINK_FIELDS``); others stay hidden."""

    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="share_links")
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a link.")
    key_hash = models.CharField(max_length=64, unique=True)
    fields = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="share_link_updated")]

    def __str__(self) -> str:
        return f"{self.view_id}: {self.prefix}…"


#: Optional fields a share link may show (value → label); title, product, status and horizon
#: are always shown. Default: team and planned dates; the rest is internal unless ticked.
SHARE_LINK_FIELDS = {
    "team": "Team",
    "dates": "Planned start and target date",
    "owner": "Owner",
    "description": "Internal description",
    "scores": "Rank and score",
    "demand": "Customer demand (requesting companies, ARR)",
}
SHARE_LINK_DEFAULT_FIELDS = ("team", "dates")


# --- internal comments on features, with @mentions (issue 13) ------------------------------

#: A comment's body is at most this long.
COMMENT_MAX_LENGTH = 5_000


class FeatureComment(WorkspaceOwnedModel):
    """An internal comment on a feature (never shown on the public board). Its author or a
    product manager may edit or delete it; ``edited_at`` is set when the body changes. Members
    named ``@username`` in the body are its :class:`FeatureMention` rows."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True, help_text="When the body last changed.")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["feature", "created_at", "id"], name="feature_comment_thread"),
            models.Index(fields=["workspace", "updated_at"], name="feature_comment_updated"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="feature_comment_body_set")]

    def __str__(self) -> str:
        return f"Comment {self.pk} on feature {self.feature_id}"


class FeatureMention(WorkspaceOwnedModel):
    """A member named in a comment: listed on their dashboard until seen, e-mailed once
    (comms, from the ``feature.mentioned`` event), unless their e-mail preferences say no."""

    comment = models.ForeignKey(FeatureComment, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "user", "-created_at"], name="feature_mention_inbox")]
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="feature_mention_unique")]

    def __str__(self) -> str:
        return f"@{self.user_id} in comment {self.comment_id}"
