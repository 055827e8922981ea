"""Internal comments on features: who may write, edit and delete; @mentions of members,
recorded once and announced in one ``feature.mentioned`` event."""

from __future__ import annotations

import pytest

from productops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from productops.models import AuditEvent, Event, Role
from roadmap import selectors, services
from roadmap.models import Feature, FeatureComment, FeatureMention
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feature(workspace):
    return FeatureFactory(product=ProductFactory(workspace=workspace), title="Single sign-on")


@pytest.fixture
def people(workspace, member):
    return {
        "ann": member(workspace, Role.CONTRIBUTOR, username="ann").user,
        "bob": member(workspace, Role.VIEWER, username="Bob.Smith").user,
        "pm": member(workspace, Role.PRODUCT_MANAGER, username="pm").user,
        "viewer": member(workspace, Role.VIEWER, username="vic").user,
    }


def mentioned(comment):
    return sorted(FeatureMention.objects.filter(comment=comment).values_list("user__username", flat=True))


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("@ann please look", ["ann"]),
        ("cc @ann, @Bob.Smith.", ["ann", "bob.smith"]),
        ("(@ann) and @ANN again", ["ann"]),
        ("mail ann@example.com or x@ann", []),
        ("@ann- @bob.smith+", ["ann", "bob.smith"]),
        ("no mention", []),
    ],
)
def test_mention_usernames(body, names):
    assert services.mention_usernames(body) == names


def test_a_contributor_comments_and_members_named_are_mentioned_once(workspace, feature, people, member):
    member(workspace.__class__.objects.create(slug="other", name="Other"), Role.OWNER, username="stranger")
    comment = services.feature_comment_create(
        feature=feature, actor=people["ann"], body="  @bob.smith @pm @stranger @ann @nobody, thoughts?  "
    )

    assert FeatureComment.objects.get().body == "@bob.smith @pm @stranger @ann @nobody, thoughts?"
    assert comment.author == people["ann"]
    assert mentioned(comment) == ["Bob.Smith", "pm"]  # members only; not the author herself
    event = Event.objects.get(kind=Event.Kind.FEATURE_MENTIONED)
    mentions = {m.user_id: m.pk for m in FeatureMention.objects.all()}
    assert (event.subject_type, event.subject_id) == ("roadmap.featurecomment", str(comment.pk))
    assert event.payload == {
        "comment_id": comment.pk,
        "feature": {"id": feature.pk, "title": "Single sign-on"},
        "author_id": people["ann"].pk,
        "mentions": [
            {"id": mentions[people["bob"].pk], "user_id": people["bob"].pk},
            {"id": mentions[people["pm"].pk], "user_id": people["pm"].pk},
        ],
    }
    audit = AuditEvent.objects.get(target_type="roadmap.featurecomment")
    assert (audit.action, audit.changes) == (
        AuditEvent.Action.CREATED,
        {"feature": feature.pk, "mentions": sorted([people["bob"].pk, people["pm"].pk])},
    )


def test_a_comment_without_mentions_records_no_event(feature, people):
    services.feature_comment_create(feature=feature, actor=people["ann"], body="Plain note")
    assert not Event.objects.filter(kind=Event.Kind.FEATURE_MENTIONED).exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "blank"), ("   ", "blank"), ("x" * 5001, "max_length"), (12, "not_a_string")],
)
def test_bad_bodies_are_refused_and_nothing_is_written(feature, people, body, code):
    with pytest.raises(ValidationFailed) as error:
        services.feature_comment_create(feature=feature, actor=people["ann"], body=body)
    assert (error.value.code, error.value.attr) == (code, "body")
    assert not FeatureComment.objects.exists()


def test_5000_characters_are_allowed(feature, people):
    services.feature_comment_create(feature=feature, actor=people["ann"], body="x" * 5000)
    assert len(FeatureComment.objects.get().body) == 5000


def test_too_many_mentions(workspace, feature, people, member):
    names = [member(workspace, Role.VIEWER, username=f"m{i}").user.username for i in range(26)]
    with pytest.raises(ValidationFailed) as error:
        services.feature_comment_create(
            feature=feature, actor=people["ann"], body=" ".join(f"@{n}" for n in names)
        )
    assert error.value.code == "too_many_mentions"
    assert not FeatureComment.objects.exists()


def test_viewers_and_outsiders_cannot_comment(feature, people, other_workspace, member):
    with pytest.raises(Forbidden):
        services.feature_comment_create(feature=feature, actor=people["viewer"], body="hi")
    with pytest.raises(NotFound):
        services.feature_comment_create(
            feature=feature, actor=member(other_workspace, Role.OWNER).user, body="hi"
        )
    assert not FeatureComment.objects.exists()


def test_a_merged_feature_takes_no_comments(feature, people):
    survivor = FeatureFactory(product=feature.product)
    Feature.objects.filter(pk=feature.pk).update(merged_into=survivor)
    feature.refresh_from_db()
    with pytest.raises(Conflict) as error:
        services.feature_comment_create(feature=feature, actor=people["ann"], body="hi")
    assert (error.value.code, error.value.extra) == ("feature_merged", {"merged_into": survivor.pk})


def test_editing_follows_the_mentions_and_announces_only_new_ones(feature, people):
    comment = services.feature_comment_create(feature=feature, actor=people["ann"], body="@bob.smith look")
    services.feature_comment_update(comment=comment, actor=people["ann"], body="@pm look instead")

    comment.refresh_from_db()
    assert comment.body == "@pm look instead"
    assert comment.edited_at is not None
    assert mentioned(comment) == ["pm"]
    kinds = list(
        Event.objects.filter(kind=Event.Kind.FEATURE_MENTIONED).values_list("payload__mentions", flat=True)
    )
    assert [[m["user_id"] for m in ms] for ms in kinds] == [[people["bob"].pk], [people["pm"].pk]]
    audit = AuditEvent.objects.filter(
        target_type="roadmap.featurecomment", action=AuditEvent.Action.UPDATED
    ).get()
    assert audit.changes == {"body": [15, 16], "mentions_added": [people["pm"].pk]}


def test_an_unchanged_body_writes_nothing(feature, people):
    comment = services.feature_comment_create(feature=feature, actor=people["ann"], body="same")
    before = AuditEvent.objects.count()
    services.feature_comment_update(comment=comment, actor=people["ann"], body=" same ")
    comment.refresh_from_db()
    assert comment.edited_at is None
    assert AuditEvent.objects.count() == before


def test_only_the_author_or_a_product_manager_edits_or_deletes(workspace, feature, people, member):
    other = member(workspace, Role.CONTRIBUTOR, username="carl").user
    comment = services.feature_comment_create(feature=feature, actor=people["ann"], body="mine")
    comment_id = comment.pk
    for actor in (other, people["viewer"]):
        with pytest.raises(Forbidden):
            services.feature_comment_update(comment=comment, actor=actor, body="theirs")
        with pytest.raises(Forbidden):
            services.feature_comment_delete(comment=comment, actor=actor)
    comment.refresh_from_db()
    assert comment.body == "mine"

    services.feature_comment_update(comment=comment, actor=people["pm"], body="moderated")
    assert FeatureComment.objects.get().body == "moderated"
    services.feature_comment_delete(comment=comment, actor=people["pm"])
    assert not FeatureComment.objects.exists()
    deleted = AuditEvent.objects.get(target_type="roadmap.featurecomment", action=AuditEvent.Action.DELETED)
    assert deleted.target_id == str(comment_id)


def test_deleting_removes_its_mentions(feature, people):
    comment = services.feature_comment_create(feature=feature, actor=people["ann"], body="@pm")
    services.feature_comment_delete(comment=comment, actor=people["ann"])
    assert not FeatureMention.objects.exists()


def test_mentions_for_lists_a_members_mentions_newest_first_and_marks_them_seen(
    workspace, feature, people, other_workspace
):
    first = services.feature_comment_create(feature=feature, actor=people["ann"], body="@pm one")
    second = services.feature_comment_create(feature=feature, actor=people["ann"], body="@pm two")
    services.feature_comment_create(feature=feature, actor=people["ann"], body="@bob.smith not yours")

    listed = selectors.mentions_for(people["pm"], workspace)
    assert [m.comment_id for m in listed] == [second.pk, first.pk]
    assert selectors.mentions_for(people["pm"], other_workspace) == []

    assert (
        services.mentions_mark_seen(workspace=workspace, user=people["pm"], mention_ids=[listed[1].pk]) == 1
    )
    assert [m.seen_at is None for m in selectors.mentions_for(people["pm"], workspace)] == [True, False]
    bobs = FeatureMention.objects.get(user=people["bob"]).pk
    assert services.mentions_mark_seen(workspace=workspace, user=people["pm"], mention_ids=[bobs]) == 0
    assert services.mentions_mark_seen(workspace=workspace, user=people["pm"]) == 1


def test_the_thread_is_the_newest_comments_oldest_first(feature, people):
    for i in range(4):
        services.feature_comment_create(feature=feature, actor=people["ann"], body=f"c{i}")
    comments, more = selectors.feature_comment_thread(feature=feature, limit=3)
    assert ([c.body for c in comments], more) == (["c1", "c2", "c3"], True)
