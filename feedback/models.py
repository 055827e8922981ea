"""Feedback: companies and contacts, feedback items, their links to features, votes.

The priority engine reads demand from here through ``feedback.selectors``;
every write goes through ``feedback.services`` and marks features dirty.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from productops.models import WorkspaceOwnedModel


class Segment(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    MID_MARKET = "mid_market", "Mid-market"
    SMB = "smb", "SMB"


class Importance(models.TextChoices):
    NICE_TO_HAVE = "nice_to_have", "Nice to have"
    IMPORTANT = "important", "Important"
    CRITICAL = "critical", "Critical / deal-blocker"


class Company(WorkspaceOwnedModel):
    class Lifecycle(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        CHURNED = "churned", "Churned"

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, blank=True)
    segment = models.CharField(max_length=20, choices=Segment.choices, blank=True)
    plan = models.CharField(max_length=60, blank=True)
    arr = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    arr_currency = models.CharField(max_length=3, default="USD")
    lifecycle_stage = models.CharField(max_length=20, choices=Lifecycle.choices, default=Lifecycle.ACTIVE)
    crm_external_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("domain"), name="company_domain_unique", condition=~Q(domain="")
            ),
            models.CheckConstraint(condition=Q(arr__gte=0), name="company_arr_non_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(WorkspaceOwnedModel):
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email", "id"]
        constraints = [models.UniqueConstraint("workspace", Lower("email"), name="contact_email_unique")]

    def __str__(self) -> str:
        return self.name or self.email


class FeedbackItem(WorkspaceOwnedModel):
    class Source(models.TextChoices):
        PORTAL = "portal", "Portal"
        API = "api", "API"
        EMAIL = "email", "Email"
        CSV = "csv", "CSV import"
        SLACK = "slack", "Slack"
        INTERCOM = "intercom", "Intercom"
        ZENDESK = "zendesk", "Zendesk"
        SALES_CALL = "sales_call", "Sales call"
        SUPPORT_TICKET = "support_ticket", "Support ticket"
        INTERVIEW = "interview", "Interview"
        PUBLIC_BOARD = "public_board", "Public board"

    class Kind(models.TextChoices):
        REQUEST = "request", "Request"
        PROBLEM = "problem", "Problem"
        PRAISE = "praise", "Praise"
        QUESTION = "question", "Question"

    class State(models.TextChoices):
        NEW = "new", "New"
        REVIEWED = "reviewed", "Reviewed"
        LINKED = "linked", "Linked"
        ARCHIVED = "archived", "Archived"

    text = models.TextField()
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback"
    )
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback"
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.API)
    source_ref = models.CharField(max_length=200, blank=True, help_text="External id at the source.")
    source_url = models.URLField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.REQUEST)
    importance = models.CharField(max_length=20, choices=Importance.choices, default=Importance.NICE_TO_HAVE)
    deal_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_items"
    )
    received_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["workspace", "state", "-received_at"], name="feedback_inbox")]

    def __str__(self) -> str:
        return self.text[:60]


class FeedbackLink(WorkspaceOwnedModel):
    """Feedback item → feature, with the importance this request was given.

    What the customer-impact score counts.
    """

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="links")
    feature = models.ForeignKey("roadmap.Feature", on_delete=models.CASCADE, related_name="feedback_links")
    importance = models.CharField(max_length=20, choices=Importance.choices, default=Importance.NICE_TO_HAVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "feature"], name="feedback_link_unique")]
        indexes = [models.Index(fields=["feature", "item"], name="feedback_link_feature")]

    def __str__(self) -> str:
        return f"{self.item_id} → {self.feature_id}"


class Vote(WorkspaceOwnedModel):
    """One per contact per feature; voting again changes nothing."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="votes")
    feature = models.ForeignKey("roadmap.Feature", on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "feature"], name="vote_unique")]
        indexes = [models.Index(fields=["feature", "contact"], name="vote_feature")]

    def __str__(self) -> str:
        return f"{self.contact_id} ↑ {self.feature_id}"
