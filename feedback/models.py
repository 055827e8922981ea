"""Feedback: companies and contacts, feedback items, their links to features, votes.

The priority engine reads demand from here through ``feedback.selectors``;
every write goes through ``feedback.services`` and marks features dirty.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from feedback.matching import MATCH_TEXT_LENGTH
from productops.models import Workspace, WorkspaceOwnedModel


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
    account_owners = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="Workspace members who own the account (sales, support); told about it.",
    )
    do_not_contact = models.BooleanField(
        default=False, help_text="Never e-mail this company's contacts (close-the-loop notices included)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"
        indexes = [models.Index(fields=["workspace", "updated_at"], name="company_updated")]
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("domain"), name="company_domain_unique", condition=~Q(domain="")
            ),
            # Create-or-update by the CRM's id needs it to name one company.
            models.UniqueConstraint(
                fields=["workspace", "crm_external_id"],
                name="company_crm_external_id_unique",
                condition=~Q(crm_external_id=""),
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
    crm_external_id = models.CharField(max_length=100, blank=True)
    unsubscribed_at = models.DateTimeField(
        null=True, blank=True, help_text="Asked for no more e-mail from this workspace."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["email", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="contact_updated")]
        constraints = [
            models.UniqueConstraint("workspace", Lower("email"), name="contact_email_unique"),
            models.UniqueConstraint(
                fields=["workspace", "crm_external_id"],
                name="contact_crm_external_id_unique",
                condition=~Q(crm_external_id=""),
            ),
        ]

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
    # Indexed only where set (Meta.indexes): an index of every row could answer
    # ``merged_into_id IS NULL``, and a planner without statistics would pick it for the
    # duplicate lookup and compare every row (feedback.similarity).
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_items",
        db_index=False,
    )
    received_at = models.DateTimeField()
    # The text's first content words, lower-cased (feedback.matching.match_text):
    # what duplicate detection compares (a trigram GIN index on PostgreSQL, migration 0004).
    match_text = models.CharField(max_length=MATCH_TEXT_LENGTH, blank=True, editable=False)
    # NULL until the worker has looked for duplicates: the sweep catches up on
    # anything a lost task missed.
    duplicates_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "state", "-received_at"], name="feedback_inbox"),
            models.Index(fields=["workspace", "updated_at"], name="feedback_item_updated"),
            models.Index(
                fields=["workspace", "id"],
                name="feedback_duplicates_pending",
                condition=Q(duplicates_checked_at__isnull=True),
            ),
            models.Index(
                fields=["merged_into"],
                name="feedback_item_merged_into",
                condition=Q(merged_into__isnull=False),
            ),
        ]
        constraints = [
            # A retried delivery (webhook, CSV row, e-mail, bulk item) is stored once.
            models.UniqueConstraint(
                fields=["workspace", "source", "source_ref"],
                name="feedback_source_ref_unique",
                condition=~Q(source_ref=""),
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="feedback_not_merged_into_itself"
            ),
        ]

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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "feature"], name="feedback_link_unique")]
        indexes = [
            models.Index(fields=["feature", "item"], name="feedback_link_feature"),
            models.Index(fields=["workspace", "updated_at"], name="feedback_link_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} → {self.feature_id}"


class Vote(WorkspaceOwnedModel):
    """One per contact per feature; voting again changes nothing."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="votes")
    feature = models.ForeignKey("roadmap.Feature", on_delete=models.CASCADE, related_name="votes")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "feature"], name="vote_unique")]
        indexes = [
            models.Index(fields=["feature", "contact"], name="vote_feature"),
            models.Index(fields=["workspace", "updated_at"], name="vote_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} ↑ {self.feature_id}"


class DuplicateSuggestion(WorkspaceOwnedModel):
    """A likely duplicate of a feedback item: another open item, or an existing feature.

    A pair of items is stored once, the lower id as ``item`` (a check constraint), and read
    from both sides: it is each item's suggestion, and dismissing it dismisses the pair.
    """

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="duplicate_suggestions")
    similar_item = models.ForeignKey(
        FeedbackItem, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    similar_feature = models.ForeignKey(
        "roadmap.Feature", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Reason(models.TextChoices):
        WORDS = "words", "Same words"
        MEANING = "meaning", "Same meaning"
        BOTH = "both", "Same words and meaning"

    # The one combined score (feedback.similarity.combined_score): the stronger of the two
    # signals, the meaning's cosine put on the words' scale; suggested from ITEM_THRESHOLD.
    similarity = models.FloatField()
    # The two signals behind it: trigram similarity of the content words, and the cosine of
    # the embeddings (None when the pair was found by words alone: semantic off, no vector).
    word_similarity = models.FloatField(null=True, blank=True)
    meaning_similarity = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.WORDS)
    dismissed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-similarity", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(similar_item__isnull=True) ^ Q(similar_feature__isnull=True),
                name="duplicate_suggestion_one_target",
            ),
            models.UniqueConstraint(fields=["item", "similar_item"], name="duplicate_suggestion_item_unique"),
            models.CheckConstraint(
                condition=Q(similar_item__isnull=True) | Q(item__lt=models.F("similar_item")),
                name="duplicate_suggestion_pair_ordered",
            ),
            models.UniqueConstraint(
                fields=["item", "similar_feature"], name="duplicate_suggestion_feature_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} ≈ {self.similar_item_id or self.similar_feature_id}"

    def other_item(self, item_id: int) -> FeedbackItem | None:
        """The pair's other item, seen from ``item_id`` (None for a feature suggestion)."""
        if self.similar_item_id is None:
            return None
        return self.item if self.similar_item_id == item_id else self.similar_item


class FeedbackSettings(WorkspaceOwnedModel):
    """Per-workspace knobs of feedback intelligence. One row per workspace (absent: defaults)."""

    semantic_suggestions = models.BooleanField(
        default=True,
        help_text="Suggest duplicates and features by meaning (embeddings), not only by shared words.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "feedback settings"
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="feedback_settings_one_per_workspace")
        ]

    def __str__(self) -> str:
        return f"Feedback settings of {self.workspace_id}"


class TextVector(WorkspaceOwnedModel):
    """A text's embedding, quantised (feedback.embeddings): never shown, only compared.

    ``int8`` holds the unit vector as signed bytes (value × ``scale``), ``bits`` its signs
    (the prefilter of large workspaces). ``model`` names the model and version that made
    it: the sweep re-embeds a vector whose model is not the current one. ``text_hash``
    tells whether the text changed since. A text that cannot be embedded (empty, only a
    URL) has empty vectors and a ``skip_reason``.
    """

    # No index of its own: (workspace, id) serves every lookup by workspace. With one, the
    # planner, whose statistics an import leaves behind (autovacuum off, or not yet run),
    # took it for the index's "what is new since id N" read and filtered every row of the
    # workspace: 30 ms a refresh at 100,000 vectors, once per batch of a duplicate check.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    model = models.CharField(max_length=80)
    text_hash = models.CharField(max_length=40)
    scale = models.FloatField(default=0.0)
    int8 = models.BinaryField(default=bytes)
    bits = models.BinaryField(default=bytes)
    skip_reason = models.CharField(max_length=40, blank=True)
    embedded_at = models.DateTimeField()

    class Meta:
        abstract = True


class FeedbackVector(TextVector):
    """The embedding of a feedback item's text. Replaced, never updated, so its id orders
    the vectors a worker's in-memory index has not read yet (feedback.vector_index)."""

    item = models.OneToOneField(FeedbackItem, on_delete=models.CASCADE, related_name="vector")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "id"], name="feedback_vector_new"),
            models.Index(fields=["model"], name="feedback_vector_model"),
        ]

    def __str__(self) -> str:
        return f"vector of item {self.item_id}"


class FeatureVector(TextVector):
    """The embedding of a feature's title, customer-facing text and description."""

    feature = models.OneToOneField("roadmap.Feature", on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "id"], name="feature_vector_new"),
            models.Index(fields=["model"], name="feature_vector_model"),
        ]

    def __str__(self) -> str:
        return f"vector of feature {self.feature_id}"


class InboundWebhook(WorkspaceOwnedModel):
    """An endpoint a tool posts feedback to, signed with this workspace's secret.

    The URL carries ``public_id``; the body is authenticated with HMAC-SHA256
    under ``secret`` (which must be kept readable: HMAC needs it).
    """

    class Provider(models.TextChoices):
        SLACK = "slack", "Slack"
        INTERCOM = "intercom", "Intercom"
        ZENDESK = "zendesk", "Zendesk"
        GENERIC = "generic", "Generic JSON"

    provider = models.CharField(max_length=20, choices=Provider.choices)
    name = models.CharField(max_length=120, blank=True)
    public_id = models.CharField(max_length=32, unique=True, editable=False)
    secret = models.CharField(max_length=128, editable=False)
    is_active = models.BooleanField(default=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="inbound_webhook_updated")]

    def __str__(self) -> str:
        return self.name or self.get_provider_display()


# Themes of unlinked feedback live in their own module (feedback.theme_models).
from feedback.theme_models import Theme, ThemeDismissal, ThemeMember, ThemeRun  # noqa: E402, F401
