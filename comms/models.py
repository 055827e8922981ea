"""Stakeholder comms: who is told (stakeholders), about what and how often (subscriptions),
the workspace's consent and webhook settings, outgoing webhook endpoints and the threshold
rules that raise events. What was sent, to whom and when lives in the outbox's delivery log
(``productops.outbox.models.Delivery``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from productops.models import WorkspaceOwnedModel

#: The six things a subscription can follow; exactly one is set.
TARGET_FIELDS = ("target_workspace", "product", "goal", "initiative", "feature", "release")


class Audience(models.TextChoices):
    EXECUTIVE = "executive", "Executive"
    SALES = "sales", "Sales"
    SUPPORT = "support", "Support"
    MARKETING = "marketing", "Marketing"
    ENGINEERING = "engineering", "Engineering"
    CUSTOMER = "customer", "Customer"


class StakeholderKind(models.TextChoices):
    MEMBER = "member", "Workspace member"
    EXTERNAL = "external", "External address"
    CONTACT = "contact", "Customer contact"


class Stakeholder(WorkspaceOwnedModel):
    """Someone who is told: a workspace member, an external address or a customer contact.

    ``email`` is where e-mail goes (a member's or contact's address, copied when the
    stakeholder is made). A changelog subscriber from the public board is an external
    customer stakeholder that is not ``confirmed_at`` until they click the opt-in link.
    """

    kind = models.CharField(max_length=10, choices=StakeholderKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    contact = models.ForeignKey(
        "feedback.Contact", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()
    audience = models.CharField(max_length=12, choices=Audience.choices)
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set at once for team-made stakeholders; by the opt-in link otherwise.",
    )
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "email", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="member") & Q(user__isnull=False) & Q(contact__isnull=True))
                | (Q(kind="contact") & Q(contact__isnull=False) & Q(user__isnull=True))
                | (Q(kind="external") & Q(user__isnull=True) & Q(contact__isnull=True)),
                name="stakeholder_kind_matches_link",
            ),
            models.UniqueConstraint("workspace", Lower("email"), name="stakeholder_email_unique"),
        ]
        indexes = [models.Index(fields=["workspace", "audience"], name="stakeholder_audience")]

    def __str__(self) -> str:
        return self.name or self.email


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"


class Cadence(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DAILY = "daily", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"


class Subscription(WorkspaceOwnedModel):
    """A stakeholder follows one thing (exactly one of :data:`TARGET_FIELDS`), through a
    channel, at a cadence. Digests go out at ``local_hour`` in ``time_zone`` (weekly: on ISO
    ``weekday``, 1 = Monday); ``next_due_at`` is that instant for the next period, in UTC."""

    stakeholder = models.ForeignKey(Stakeholder, on_delete=models.CASCADE, related_name="subscriptions")
    target_workspace = models.ForeignKey(
        "productops.Workspace", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    product = models.ForeignKey(
        "roadmap.Product", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    goal = models.ForeignKey(
        "roadmap.Goal", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    initiative = models.ForeignKey(
        "roadmap.Initiative", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    feature = models.ForeignKey(
        "roadmap.Feature", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    release = models.ForeignKey(
        "releases.Release", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    slack_url = models.URLField(max_length=500, blank=True)
    cadence = models.CharField(max_length=10, choices=Cadence.choices, default=Cadence.WEEKLY)
    time_zone = models.CharField(max_length=64, default="UTC")
    local_hour = models.PositiveSmallIntegerField(
        default=9, validators=[MinValueValidator(0), MaxValueValidator(23)]
    )
    weekday = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(7)],
        help_text="ISO weekday, 1 = Monday.",
    )
    is_active = models.BooleanField(default=True)
    next_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The end of the last digest's window: the next digest reports from here.
    digest_through = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        target_workspace__isnull=False,
                        product__isnull=True,
                        goal__isnull=True,
                        initiative__isnull=True,
                        feature__isnull=True,
                        release__isnull=True,
                    )
                    | Q(
                        target_workspace__isnull=True,
                        product__isnull=False,
                        goal__isnull=True,
                        initiative__isnull=True,
                        feature__isnull=True,
                        release__isnull=True,
                    )
                    | Q(
                        target_workspace__isnull=True,
                        product__isnull=True,
                        goal__isnull=False,
                        initiative__isnull=True,
                        feature__isnull=True,
                        release__isnull=True,
                    )
                    | Q(
                        target_workspace__isnull=True,
                        product__isnull=True,
                        goal__isnull=True,
                        initiative__isnull=False,
                        feature__isnull=True,
                        release__isnull=True,
                    )
                    | Q(
                        target_workspace__isnull=True,
                        product__isnull=True,
                        goal__isnull=True,
                        initiative__isnull=True,
                        feature__isnull=False,
                        release__isnull=True,
                    )
                    | Q(
                        target_workspace__isnull=True,
                        product__isnull=True,
                        goal__isnull=True,
                        initiative__isnull=True,
                        feature__isnull=True,
                        release__isnull=False,
                    )
                ),
                name="subscription_one_target",
            ),
            models.CheckConstraint(
                condition=Q(local_hour__gte=0, local_hour__lte=23), name="subscription_hour_range"
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=1, weekday__lte=7), name="subscription_weekday_range"
            ),
            models.CheckConstraint(
                condition=Q(channel="email") | ~Q(slack_url=""), name="subscription_slack_has_url"
            ),
        ]
        indexes = [
            models.Index(fields=["next_due_at"], name="subscription_due", condition=Q(is_active=True)),
        ]

    def __str__(self) -> str:
        return f"{self.stakeholder_id} follows {self.target_label()}"

    def target_label(self) -> str:
        for name in TARGET_FIELDS:
            if getattr(self, f"{name}_id") is not None:
                return f"{name.removeprefix('target_')} #{getattr(self, f'{name}_id')}"
        return "nothing"


class CommsSettings(WorkspaceOwnedModel):
    """One per workspace: consent for imported contacts and the event consumer's cursor."""

    notify_imported_contacts = models.BooleanField(
        default=False,
        help_text="Also e-mail contacts known only from imports (CSV, support tickets, webhooks).",
    )
    digest_rank_moves = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Rank moves a digest explains.",
    )
    # Events up to this id have been handled by comms (close the loop, webhooks).
    events_through_id = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "comms settings"
        constraints = [models.UniqueConstraint(fields=["workspace"], name="comms_settings_one_per_workspace")]

    def __str__(self) -> str:
        return f"Comms settings of workspace {self.workspace_id}"


class WebhookFormat(models.TextChoices):
    STANDARD = "standard", "Standard Webhooks (signed JSON)"
    SLACK = "slack", "Slack incoming webhook"


class WebhookEndpoint(WorkspaceOwnedModel):
    """Where events are posted. ``event_types`` filters (empty = none). Secrets are
    ``whsec_`` + base64, shown once; after a rotation the previous one still signs (as a
    second signature) until ``previous_secret_expires_at``."""

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    format = models.CharField(max_length=10, choices=WebhookFormat.choices, default=WebhookFormat.STANDARD)
    event_types = models.JSONField(default=list, blank=True)
    rank_top_n = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="priority.rank_changed: a feature entered or left the top N.",
    )
    last_top_ids = models.JSONField(default=list, blank=True, editable=False)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ThresholdMetric(models.TextChoices):
    COMPANIES = "companies", "Requesting companies"
    ARR = "arr", "ARR at stake"


class Threshold(WorkspaceOwnedModel):
    """ "A feature passes N requesting companies / X ARR at stake" (rule text ``companies >= 5``
    or ``arr >= 250k``). Fires ``feature.threshold_crossed`` when a feature's value goes from
    below to at or above ``value``; re-arms after a full day below."""

    metric = models.CharField(max_length=10, choices=ThresholdMetric.choices)
    value = models.DecimalField(max_digits=16, decimal_places=2, validators=[MinValueValidator(0)])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["metric", "value", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "metric", "value"], name="threshold_unique"),
            models.CheckConstraint(condition=Q(value__gte=0), name="threshold_value_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} >= {self.value}"


class ThresholdState(WorkspaceOwnedModel):
    """Per feature and threshold: whether it is above (fired), and since when it is below."""

    threshold = models.ForeignKey(Threshold, on_delete=models.CASCADE, related_name="states")
    feature = models.ForeignKey("roadmap.Feature", on_delete=models.CASCADE, related_name="+")
    armed = models.BooleanField(default=True, help_text="The next crossing fires.")
    below_since = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["threshold", "feature"], name="threshold_state_unique")
        ]

    def __str__(self) -> str:
        return f"{self.threshold_id}/{self.feature_id} armed={self.armed}"
