"""Reads of the public board. Everything a customer-facing page shows comes from here,
scoped to one workspace's public features and annotated in one query per list, so no
page can cause an N+1 or load an internal column (scores, ARR, notes, other e-mails).
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from board.models import BoardContact, BoardSettings, Comment
from feedback.models import Contact, FeedbackItem, FeedbackLink, Vote
from feedback.selectors import features_similar_to_text
from productops.models import Workspace
from roadmap.models import Feature, FeatureStatus, Horizon, Product
from roadmap.selectors import public_feature_list

PUBLIC_ROADMAP_HORIZONS = (Horizon.NOW, Horizon.NEXT, Horizon.LATER)
#: Features shown per column of the public roadmap: the page stays bounded however many
#: public features a horizon holds (each feature carries its column's total).
PUBLIC_ROADMAP_COLUMN_LIMIT = 50
#: Shipped features the public roadmap lists below its columns.
PUBLIC_RECENTLY_SHIPPED = 10
#: What a customer sees of their own feedback item's triage state.
PUBLIC_ITEM_STATE = {
    FeedbackItem.State.NEW: "Received",
    FeedbackItem.State.REVIEWED: "Reviewed",
    FeedbackItem.State.LINKED: "Planned into an idea",
    FeedbackItem.State.ARCHIVED: "Closed",
}


def board_settings(*, workspace: Workspace) -> BoardSettings:
    """The workspace's board settings; an unsaved default (disabled) row when none exists yet."""
    return BoardSettings.objects.filter(workspace=workspace).first() or BoardSettings(workspace=workspace)


def enabled_board(*, workspace_slug: str) -> BoardSettings | None:
    """The settings of an enabled board, with its workspace, for the public pages; else None."""
    return (
        BoardSettings.objects.select_related("workspace")
        .filter(workspace__slug=workspace_slug, enabled=True)
        .first()
    )


def verified_contact(*, workspace: Workspace, contact_id: Any) -> Contact | None:
    """The workspace's contact with this id if they verified on the board (else None)."""
    if not isinstance(contact_id, int):
        return None
    return (
        Contact.objects.filter(pk=contact_id, workspace=workspace, board__isnull=False)
        .only("id", "workspace_id", "name", "email")
        .first()
    )


def author_name(name: str) -> str:
    """How a customer is named in public: their first name only, never the e-mail or company."""
    first = (name or "").strip().split(" ")[0]
    return first or "A customer"


def _vote_count() -> Coalesce:
    votes = (
        Vote.objects.filter(feature=OuterRef("pk"))
        .order_by()
        .values("feature")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(votes, output_field=IntegerField()), Value(0))


def _comment_count() -> Coalesce:
    comments = (
        Comment.objects.filter(feature=OuterRef("pk"), is_hidden=False)
        .order_by()
        .values("feature")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(comments, output_field=IntegerField()), Value(0))


def _annotated(features: QuerySet[Feature], contact: Contact | None) -> QuerySet[Feature]:
    voted = (
        Exists(Vote.objects.filter(feature=OuterRef("pk"), contact=contact))
        if contact is not None
        else Value(False, output_field=BooleanField())
    )
    return features.annotate(vote_count=_vote_count(), comment_count=_comment_count(), voted=voted)


BOARD_SORTS = {
    "top": ("-vote_count", "title", "id"),
    "new": ("-id",),
    "area": ("product__name", "title", "id"),
}


def board_feature_list(
    *,
    workspace: Workspace,
    contact: Contact | None = None,
    product_id: int | None = None,
    status: str = "",
    sort: str = "top",
) -> QuerySet[Feature]:
    """Public features with vote and comment counts and whether ``contact`` voted (one query)."""
    features = public_feature_list(workspace=workspace)
    if product_id is not None:
        features = features.filter(product_id=product_id)
    if status in FeatureStatus.values:
        features = features.filter(status=status)
    return _annotated(features, contact).order_by(*BOARD_SORTS.get(sort, BOARD_SORTS["top"]))


def board_feature(*, workspace: Workspace, feature_id: int, contact: Contact | None = None) -> Feature | None:
    """One public feature of the workspace, annotated like the list; None if not public here."""
    return _annotated(public_feature_list(workspace=workspace), contact).filter(pk=feature_id).first()


def board_products(*, workspace: Workspace) -> list[Product]:
    """Product areas that have public features, with how many (for the board's filter)."""
    public = public_feature_list(workspace=workspace)
    return list(
        Product.objects.for_workspace(workspace)
        .filter(features__in=public.values("pk"))
        .annotate(public_count=Count("features"))
        .only("id", "name")
        .order_by("name", "id")
    )


def comment_list(*, feature: Feature) -> list[Comment]:
    """A feature's visible comments, oldest first, each with ``author`` (a first name)."""
    comments = list(
        Comment.objects.filter(feature=feature, workspace_id=feature.workspace_id, is_hidden=False)
        .select_related("contact")
        .only("id", "body", "created_at", "feature_id", "contact__id", "contact__name")
        .order_by("created_at", "id")
    )
    for comment in comments:
        comment.author = author_name(comment.contact.name)
    return comments


def public_roadmap(*, workspace: Workspace) -> dict[str, list[Feature]]:
    """Public features by horizon (now, next, later); shipped ones are not in a horizon any
    more (see :func:`public_recently_shipped`) and declined ones never show.

    At most :data:`PUBLIC_ROADMAP_COLUMN_LIMIT` per horizon, by product and title; each
    feature's ``horizon_total`` is how many its column holds in all (one query)."""
    order = [F("product__name").asc(), F("title").asc(), F("id").asc()]
    features = (
        _annotated(public_feature_list(workspace=workspace), None)
        .filter(horizon__in=PUBLIC_ROADMAP_HORIZONS)
        .exclude(status__in=[FeatureStatus.SHIPPED, FeatureStatus.DECLINED])
        .annotate(
            horizon_position=Window(RowNumber(), partition_by=[F("horizon")], order_by=order),
            horizon_total=Window(Count("id"), partition_by=[F("horizon")]),
        )
        .filter(horizon_position__lte=PUBLIC_ROADMAP_COLUMN_LIMIT)
        .order_by("product__name", "title", "id")
    )
    groups: dict[str, list[Feature]] = {horizon: [] for horizon in PUBLIC_ROADMAP_HORIZONS}
    for feature in features:
        groups[feature.horizon].append(feature)
    return groups


def public_recently_shipped(*, workspace: Workspace) -> list[Feature]:
    """The public roadmap's "Recently shipped": the last :data:`PUBLIC_RECENTLY_SHIPPED`
    public features shipped, whatever their horizon, most recent first (one query)."""
    return list(
        _annotated(public_feature_list(workspace=workspace), None)
        .filter(status=FeatureStatus.SHIPPED)
        .order_by(F("status_changed_at").desc(nulls_last=True), "-id")[:PUBLIC_RECENTLY_SHIPPED]
    )


def similar_public_features(*, workspace: Workspace, text: str, limit: int = 5) -> list[Feature]:
    """Public features most like ``text`` (likely duplicates of an idea being submitted)."""
    if not text.strip():
        return []
    ids = features_similar_to_text(workspace=workspace, text=text, limit=limit, public_only=True)
    by_id = public_feature_list(workspace=workspace).in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def my_feedback(*, contact: Contact) -> dict[str, list]:
    """What the contact asked for on the board (the ideas they submitted there, each with the
    public features it is linked to) and the public features they voted on.

    Only items the customer wrote on the board: feedback the team recorded about them
    (sales calls, support tickets, interviews, imports) is internal, whoever it names."""
    public_links = FeedbackLink.objects.filter(
        feature__in=public_feature_list(workspace=contact.workspace_id).values("pk")
    ).select_related("feature", "feature__product")
    items = list(
        FeedbackItem.objects.filter(
            workspace_id=contact.workspace_id, contact=contact, source=FeedbackItem.Source.PUBLIC_BOARD
        )
        .only("id", "text", "state", "received_at", "workspace_id", "contact_id")
        .prefetch_related(
            Prefetch("links", queryset=public_links.order_by("feature_id"), to_attr="public_links")
        )
        .order_by("-received_at", "-id")
    )
    for item in items:
        item.public_state = PUBLIC_ITEM_STATE.get(item.state, "Received")
    voted = list(
        public_feature_list(workspace=contact.workspace_id)
        .filter(votes__contact=contact)
        .order_by("title", "id")
    )
    return {"items": items, "voted": voted}


def moderation_comment_list(*, workspace: Workspace, limit: int = 50) -> list[Comment]:
    """The most recent comments (hidden ones too) for the team's moderation list."""
    return list(
        Comment.objects.for_workspace(workspace)
        .select_related("feature", "contact")
        .only(
            "id",
            "body",
            "is_hidden",
            "created_at",
            "workspace_id",
            "feature__id",
            "feature__title",
            "contact__id",
            "contact__email",
        )
        .order_by("-created_at", "-id")[:limit]
    )


def board_contact(*, contact: Contact) -> BoardContact | None:
    return BoardContact.objects.filter(contact=contact).first()


# --- the public e-mail pages (preferences, unsubscribe, changelog opt-in) -------------------


def public_workspace(*, workspace_slug: str) -> Workspace | None:
    """The workspace an e-mail link names, whether or not its board is on (the pages that
    answer e-mail links work either way; the link's signed token is what authorises)."""
    return Workspace.objects.filter(slug=workspace_slug).only("id", "slug", "name").first()


def email_page_stakeholder(*, workspace: Workspace, stakeholder_id: int):
    """The stakeholder a preferences or unsubscribe link names, in this workspace only."""
    from comms.models import Stakeholder

    return (
        Stakeholder.objects.for_workspace(workspace)
        .filter(pk=stakeholder_id)
        .only("id", "workspace_id", "name", "email", "confirmed_at", "unsubscribed_at")
        .first()
    )


def email_page_contact(*, workspace: Workspace, contact_id: int) -> Contact | None:
    return (
        Contact.objects.for_workspace(workspace)
        .filter(pk=contact_id)
        .only("id", "workspace_id", "email", "unsubscribed_at")
        .first()
    )


def followed_label(subscription: Any) -> str:
    """What a subscription follows, for its owner's preference page."""
    if subscription.target_workspace_id is not None:
        return f"Everything in {subscription.target_workspace.name}"
    for field, label in (
        ("product", "Product"),
        ("goal", "Goal"),
        ("initiative", "Initiative"),
        ("feature", "Feature"),
        ("release", "Release"),
    ):
        target = getattr(subscription, field)
        if target is not None:
            return f"{label}: {target}"
    return "Nothing"


def stakeholder_subscriptions(*, workspace: Workspace, stakeholder_id: int) -> list[Any]:
    """A stakeholder's subscriptions, oldest first, each with ``label`` (what it follows)."""
    from comms.selectors import subscriptions_list

    rows = list(subscriptions_list(workspace=workspace, stakeholder_id=stakeholder_id))
    for subscription in rows:
        subscription.label = followed_label(subscription)
    return rows


def verified_contact_ids(*, workspace_id: int, contact_ids: set[int]) -> set[int]:
    """The contacts among ``contact_ids`` who verified their address on the board (a lawful
    basis for comms' close-the-loop notices; registered with comms by ``BoardConfig.ready``)."""
    return set(
        BoardContact.objects.filter(workspace_id=workspace_id, contact_id__in=contact_ids).values_list(
            "contact_id", flat=True
        )
    )
