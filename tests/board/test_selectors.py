"""Reads of the public board: only public features, counts in one query, nothing internal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board import selectors
from tests.board.factories import BoardContactFactory, CommentFactory
from tests.feedback.factories import ContactFactory, FeedbackItemFactory, FeedbackLinkFactory, VoteFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_board_feature_list_counts_votes_and_visible_comments(workspace):
    product = ProductFactory(workspace=workspace)
    popular = FeatureFactory(product=product, title="Popular", is_public=True)
    quiet = FeatureFactory(product=product, title="Quiet", is_public=True)
    FeatureFactory(product=product, title="Private", is_public=False)
    FeatureFactory(product=product, title="Merged", is_public=True, merged_into=popular)
    me = ContactFactory(workspace=workspace)
    VoteFactory(feature=popular, contact=me)
    VoteFactory(feature=popular)
    CommentFactory(feature=popular)
    CommentFactory(feature=popular, is_hidden=True)
    with CaptureQueriesContext(connection) as queries:
        rows = [
            (f.title, f.vote_count, f.comment_count, f.voted)
            for f in selectors.board_feature_list(workspace=workspace, contact=me)
        ]
    assert len(queries) == 1
    assert rows == [("Popular", 2, 1, True), ("Quiet", 0, 0, False)]
    assert [f.title for f in selectors.board_feature_list(workspace=workspace, sort="new")] == [
        "Quiet",
        "Popular",
    ]
    assert quiet.pk in {
        f.pk for f in selectors.board_feature_list(workspace=workspace, product_id=product.pk)
    }


def test_board_feature_is_none_for_private_or_foreign_features(workspace, other_workspace):
    private = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=False)
    foreign = FeatureFactory(product=ProductFactory(workspace=other_workspace), is_public=True)
    assert selectors.board_feature(workspace=workspace, feature_id=private.pk) is None
    assert selectors.board_feature(workspace=workspace, feature_id=foreign.pk) is None


def test_public_features_load_no_internal_columns(workspace):
    FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    feature = selectors.board_feature_list(workspace=workspace)[0]
    deferred = feature.get_deferred_fields()
    assert {"description", "priority_score", "score_customer_impact", "effort", "owner_id"} <= deferred


def test_comment_authors_are_first_names_only(workspace):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    CommentFactory(feature=feature, contact=ContactFactory(workspace=workspace, name="Ann Initech"))
    CommentFactory(feature=feature, contact=ContactFactory(workspace=workspace, name=""))
    assert [c.author for c in selectors.comment_list(feature=feature)] == ["Ann", "A customer"]


def test_my_feedback_lists_own_items_with_public_links_and_votes(workspace):
    product = ProductFactory(workspace=workspace)
    public = FeatureFactory(product=product, title="Public", is_public=True)
    private = FeatureFactory(product=product, title="Private", is_public=False)
    me = ContactFactory(workspace=workspace)
    BoardContactFactory(contact=me)
    mine = FeedbackItemFactory(workspace=workspace, contact=me, state="linked", source="public_board")
    FeedbackItemFactory(workspace=workspace, contact=me, source="support_ticket")  # the team's record
    FeedbackLinkFactory(item=mine, feature=public)
    FeedbackLinkFactory(item=mine, feature=private)
    FeedbackItemFactory(workspace=workspace, contact=ContactFactory(workspace=workspace))
    VoteFactory(feature=public, contact=me)
    VoteFactory(feature=private, contact=me)
    result = selectors.my_feedback(contact=me)
    assert [(i.pk, i.public_state) for i in result["items"]] == [(mine.pk, "Planned into an idea")]
    assert [link.feature.title for link in result["items"][0].public_links] == ["Public"]
    assert [f.title for f in result["voted"]] == ["Public"]


def test_public_roadmap_groups_public_features_by_horizon(workspace):
    product = ProductFactory(workspace=workspace)
    FeatureFactory(product=product, title="A", is_public=True, horizon="now")
    FeatureFactory(product=product, title="B", is_public=True, horizon="later")
    FeatureFactory(product=product, title="C", is_public=True, horizon="")
    FeatureFactory(product=product, title="D", is_public=False, horizon="now")
    groups = selectors.public_roadmap(workspace=workspace)
    assert {k: [f.title for f in v] for k, v in groups.items()} == {"now": ["A"], "next": [], "later": ["B"]}


def test_public_roadmap_caps_each_column_and_tells_its_total(
    workspace, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(selectors, "PUBLIC_ROADMAP_COLUMN_LIMIT", 2)
    product = ProductFactory(workspace=workspace)
    for title in ("C", "A", "B"):
        FeatureFactory(product=product, title=title, is_public=True, horizon="now")
    FeatureFactory(product=product, title="L", is_public=True, horizon="later")
    with django_assert_num_queries(1):
        groups = selectors.public_roadmap(workspace=workspace)
    assert {k: [(f.title, f.horizon_total) for f in v] for k, v in groups.items()} == {
        "now": [("A", 3), ("B", 3)],
        "next": [],
        "later": [("L", 1)],
    }


def test_public_roadmap_leaves_shipped_features_out_of_the_horizons(workspace):
    product = ProductFactory(workspace=workspace)
    FeatureFactory(product=product, title="A", is_public=True, horizon="now", status="planned")
    FeatureFactory(product=product, title="S", is_public=True, horizon="now", status="shipped")
    FeatureFactory(product=product, title="X", is_public=True, horizon="next", status="declined")
    groups = selectors.public_roadmap(workspace=workspace)
    assert {k: [f.title for f in v] for k, v in groups.items()} == {"now": ["A"], "next": [], "later": []}


def test_recently_shipped_is_public_shipped_most_recent_first_capped(
    workspace, other_workspace, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(selectors, "PUBLIC_RECENTLY_SHIPPED", 3)
    product = ProductFactory(workspace=workspace)
    now = timezone.now()
    for days, title in ((5, "Old"), (1, "Newest"), (3, "Middle"), (2, "Second"), (9, "Oldest")):
        FeatureFactory(
            product=product,
            title=title,
            is_public=True,
            horizon="now",
            status="shipped",
            status_changed_at=now - timedelta(days=days),
        )
    FeatureFactory(product=product, title="Private", is_public=False, status="shipped", status_changed_at=now)
    FeatureFactory(product=product, title="Planned", is_public=True, status="planned", status_changed_at=now)
    FeatureFactory(product=ProductFactory(workspace=other_workspace), is_public=True, status="shipped")
    with django_assert_num_queries(1):
        shipped = selectors.public_recently_shipped(workspace=workspace)
    assert [f.title for f in shipped] == ["Newest", "Second", "Middle"]
    assert {"description", "priority_score", "score_customer_impact", "effort", "owner_id"} <= (
        shipped[0].get_deferred_fields()
    )


def test_verified_contact_is_scoped_to_the_workspace(workspace, other_workspace):
    contact = ContactFactory(workspace=workspace)
    BoardContactFactory(contact=contact)
    unverified = ContactFactory(workspace=workspace)
    assert selectors.verified_contact(workspace=workspace, contact_id=contact.pk) == contact
    assert selectors.verified_contact(workspace=other_workspace, contact_id=contact.pk) is None
    assert selectors.verified_contact(workspace=workspace, contact_id=unverified.pk) is None
    assert selectors.verified_contact(workspace=workspace, contact_id="1") is None
