"""Platform core: users, workspaces (tenants), memberships, invitations, API tokens, audit log.

Every domain model of the other apps subclasses :class:`WorkspaceOwnedModel`, so it
belongs to exactly one workspace and is read through ``.for_workspace(workspace)``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """The login. Email is unique (case-insensitively) so invitations can match it."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                condition=~models.Q(email=""),
            )
        ]


class Role(models.TextChoices):
    """Workspace roles, from most to least powerful."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    PRODUCT_MANAGER = "product_manager", "Product manager"
    CONTRIBUTOR = "contributor", "Contributor"
    VIEWER = "viewer", "Viewer"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return ROLE_RANK[self] >= ROLE_RANK[Role(other)]


ROLE_RANK: dict[str, int] = {
    Role.VIEWER: 10,
    Role.CONTRIBUTOR: 20,
    Role.PRODUCT_MANAGER: 30,
    Role.ADMIN: 40,
    Role.OWNER: 50,
}


class Workspace(models.Model):
    """A tenant: one company's product organisation. Everything else belongs to one."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    # Money (ARR) is added up in this ISO 4217 currency; an amount in another currency
    # counts only through its rate here: code → value of one unit in the reporting currency.
    reporting_currency = models.CharField(max_length=3, default="USD")
    currency_rates = models.JSONField(default=dict, blank=True)
    # Origins ("https://host[:port]") whose pages may show the public board and changelog in a
    # frame: their CSP frame-ancestors (docs/security.md). Empty: no site may frame them.
    # Written through services.workspace_update, which validates each origin.
    embed_origins = models.JSONField(
        default=list,
        # A database default too: rows inserted by code that predates the column (a
        # migration's historical model) still get the empty list.
        db_default=[],
        blank=True,
        help_text="Origins (https://host[:port]) allowed to embed the public board and changelog; "
        "empty: none.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace | int) -> WorkspaceQuerySet:
        workspace_id = workspace if isinstance(workspace, int) else workspace.pk
        return self.filter(workspace_id=workspace_id)


class WorkspaceOwnedModel(models.Model):
    """Base of every domain model: it belongs to exactly one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["workspace_id", "user_id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="membership_updated")]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Invitation(models.Model):
    """An invitation for an email address to join a workspace with a role.

    The invitation link carries a signed token derived from the id, so nothing
    secret is stored. Its e-mail, and whether and when it was sent, is the outbox
    delivery ``invitation:<id>`` (``productops.outbox.models.Delivery``).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="invitation_updated")]
        constraints = [
            models.UniqueConstraint(
                "workspace",
                Lower("email"),
                name="invitation_one_pending_per_email",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
            ),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="invitation_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.workspace}"


class ApiToken(models.Model):
    """A workspace API token acting as its user. Only a SHA-256 of the key is stored."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Not bumped by use (last_used_at): a token changes when it is made or revoked.
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="api_token_updated")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class AuditEvent(models.Model):
    """Append-only record of who changed what, when, in which workspace.

    Written only by services (``productops.services.audit_record``); a database
    trigger refuses UPDATE, so the log cannot be edited after the fact.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        STATE_CHANGED = "state_changed", "State changed"
        MERGED = "merged", "Merged"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, help_text="Who, kept if the user is deleted.")
    action = models.CharField(max_length=20, choices=Action.choices)
    target_type = models.CharField(max_length=100, help_text="app_label.model")
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="audit_workspace_recent"),
            models.Index(fields=["workspace", "target_type", "target_id"], name="audit_target"),
            # Tombstones: a resource's deletions since a time.
            models.Index(
                fields=["workspace", "target_type", "action", "created_at"], name="audit_tombstones"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_type}#{self.target_id}"


class WorkspaceDeletion(models.Model):
    """Marks a workspace being deleted in the current transaction.

    The audit log's DELETE trigger (PostgreSQL) lets a workspace's events go only
    while this marker exists, so the log cannot be trimmed any other way.
    """

    workspace_id = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"deleting workspace {self.workspace_id}"


class Heartbeat(models.Model):
    """Last time a periodic process proved it was alive (beat → worker round trip)."""

    name = models.CharField(max_length=50, unique=True)
    last_seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class IdempotencyKey(models.Model):
    """A write request's ``Idempotency-Key`` and the response it got.

    Stored in the same transaction as the write, so a retry either finds the
    finished response or (while the first is still running) waits on the row.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=100, help_text="The endpoint the key was used on.")
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "scope", "key"], name="idempotency_key_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class Event(models.Model):
    """Append-only record of something that happened in a workspace, for consumers to read.

    Written by domain services in the transaction of the change (``productops.services.
    event_record``); never updated. Consumers (comms, the board) keep their own cursor
    (the last ``id`` they handled), so an event is read once per consumer, in order.
    ``release.shipped`` is recorded at most once per release (a unique constraint).
    """

    class Kind(models.TextChoices):
        RELEASE_SHIPPED = "release.shipped", "Release shipped"
        FEATURE_STATUS_CHANGED = "feature.status_changed", "Feature status changed"
        FEEDBACK_CREATED = "feedback.created", "Feedback created"
        RANK_CHANGED = "priority.rank_changed", "Priority rank changed"
        THRESHOLD_CROSSED = "feature.threshold_crossed", "Feature passed a threshold"
        WEBHOOK_TEST = "webhook.test", "Test event"
        # Members @mentioned in a feature's internal comment (comms e-mails each one once).
        FEATURE_MENTIONED = "feature.mentioned", "Members mentioned in a feature comment"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=60, choices=Kind.choices)
    subject_type = models.CharField(max_length=100, help_text="app_label.model")
    subject_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField()

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["kind", "id"], name="event_kind_cursor"),
            # A consumer reads a workspace's events after its cursor, in id order: without
            # this, each batch read all of the workspace's later events and sorted them
            # (84 ms a batch of 200 after a 100,000-item import).
            models.Index(fields=["workspace", "id"], name="event_workspace_cursor"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"],
                condition=models.Q(kind="release.shipped"),
                name="event_release_shipped_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}#{self.subject_id}"


# The outbox's models live in their own package of the core; imported here so Django finds them.
from productops.outbox.models import Delivery, EmailSuppression  # noqa: E402, F401
