"""The public feedback board: its per-workspace settings, customers' comments, magic-link
sign-in and which contacts verified (and whether they want e-mail).

Customers are ``feedback.Contact`` rows; votes are ``feedback.Vote`` and submitted ideas
``feedback.FeedbackItem``: the board only adds what the team's side has no place for. Every
e-mail the board sends (sign-in links, status-change notices) is a row of the outbox's
delivery log (``productops.outbox.models.Delivery``), not a table of the board.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from productops.models import WorkspaceOwnedModel

COMMENT_MAX_LENGTH = 5_000


class BoardSettings(WorkspaceOwnedModel):
    """One per workspace. The public pages answer 404 until ``enabled``."""

    enabled = models.BooleanField(default=False)
    anonymous_viewing = models.BooleanField(
        default=True, help_text="Visitors who have not signed in may browse the board and roadmap."
    )
    title = models.CharField(max_length=120, blank=True)
    intro = models.TextField(max_length=2_000, blank=True)
    # Status changes up to this FeatureStatusChange id have been turned into deliveries.
    notified_through_id = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "board settings"
        constraints = [models.UniqueConstraint(fields=["workspace"], name="board_settings_one_per_workspace")]

    def __str__(self) -> str:
        return f"Public board of workspace {self.workspace_id}"


class BoardContact(WorkspaceOwnedModel):
    """A contact who proved their e-mail address on the board, and their e-mail preference."""

    contact = models.OneToOneField("feedback.Contact", on_delete=models.CASCADE, related_name="board")
    verified_at = models.DateTimeField()
    notifications_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"Board contact {self.contact_id}"


class Comment(WorkspaceOwnedModel):
    feature = models.ForeignKey("roadmap.Feature", on_delete=models.CASCADE, related_name="board_comments")
    contact = models.ForeignKey("feedback.Contact", on_delete=models.CASCADE, related_name="board_comments")
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    is_hidden = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["feature", "created_at"], name="board_comment_feature")]

    def __str__(self) -> str:
        return self.body[:60]


class MagicLink(WorkspaceOwnedModel):
    """A single-use sign-in link for an e-mail address, valid for ``BOARD_MAGIC_LINK_MINUTES``.

    The link's token is an HMAC (keyed with ``SECRET_KEY``) of the random ``secret``; only
    the token's SHA-256 is stored here for the lookup. The e-mail carrying it is the outbox
    delivery ``magic-link:<id>`` (kind ``board.sign_in``), rendered when the link is asked
    for; like every delivery it stores exactly what was sent, so the delivery log holds the
    link until it is used or expires.
    """

    email = models.EmailField()
    secret = models.CharField(max_length=64, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    next_path = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Sign-in link #{self.pk}"
