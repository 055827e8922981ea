"""@mentions notify through the outbox: one e-mail per mention (keyed by comment, member and
mention row), whatever the replays and the edits that keep it; a mention edited away and back
before its e-mail went out is told again, never twice once told; an unsubscribed member's is
recorded suppressed; at send time a mention that is gone (comment deleted, edited away,
member removed) is suppressed as obsolete."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from comms import events
from comms.mentions import MENTION_KIND
from comms.models import Stakeholder, StakeholderKind
from productops.models import AuditEvent, Membership, Role
from productops.outbox.models import Delivery
from productops.outbox.services import outbox_send
from roadmap import services
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feature(workspace):
    return FeatureFactory(product=ProductFactory(workspace=workspace), title="Single sign-on")


@pytest.fixture
def ann(workspace, member):
    return member(workspace, Role.CONTRIBUTOR, username="ann", first_name="Ann", last_name="Lee").user


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER, username="pat", email="pat@acme.example").user


def deliveries():
    return list(
        Delivery.objects.filter(kind=MENTION_KIND)
        .order_by("id")
        .values_list("dedupe_key", "recipient", "state")
    )


def test_a_mention_is_e_mailed_once_with_preference_links(workspace, feature, ann, pm):
    comment = services.feature_comment_create(
        feature=feature, actor=ann, body="@pat can we ship this?\nThanks"
    )
    events.events_consume()
    events.events_consume()  # nothing new

    mention = comment.mentions.get()
    assert deliveries() == [(f"mention:{comment.pk}:{pm.pk}:{mention.pk}", "pat@acme.example", "pending")]
    stakeholder = Stakeholder.objects.get(user=pm)
    assert (stakeholder.kind, stakeholder.audience, stakeholder.confirmed_at is not None) == (
        StakeholderKind.MEMBER,
        "engineering",
        True,
    )
    assert AuditEvent.objects.filter(target_type="comms.stakeholder", changes__via="mention").count() == 1

    assert outbox_send() == {"sent": 1}
    (message,) = mail.outbox
    assert message.to == ["pat@acme.example"]
    assert message.subject == "Ann Lee mentioned you on “Single sign-on”"
    assert "@pat can we ship this?\nThanks" in message.body
    assert f"/w/{workspace.slug}/features/{feature.pk}/#comment-{comment.pk}" in message.body
    assert "Unsubscribe: http" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_replaying_the_events_and_editing_that_keeps_the_mention_add_nothing(workspace, feature, ann, pm):
    comment = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    from comms.models import CommsSettings

    CommsSettings.objects.filter(workspace=workspace).update(events_through_id=0)
    events.events_consume()
    # Edits that keep the name: the same mention, nothing new.
    services.feature_comment_update(comment=comment, actor=ann, body="@pat, again")
    services.feature_comment_update(comment=comment, actor=ann, body="@PAT and more")
    events.events_consume()
    assert len(deliveries()) == 1
    assert outbox_send() == {"sent": 1}
    services.feature_comment_update(comment=comment, actor=ann, body="@pat once more")
    events.events_consume()
    assert outbox_send() == {}
    assert len(mail.outbox) == 1


def test_a_mention_removed_and_named_again_before_the_send_is_told_once(workspace, feature, ann, pm):
    comment = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    first = comment.mentions.get()
    services.feature_comment_update(comment=comment, actor=ann, body="nobody")
    services.feature_comment_update(comment=comment, actor=ann, body="@pat again")
    events.events_consume()
    second = comment.mentions.get()
    assert second.pk != first.pk
    assert deliveries() == [
        (f"mention:{comment.pk}:{pm.pk}:{first.pk}", "pat@acme.example", "pending"),
        (f"mention:{comment.pk}:{pm.pk}:{second.pk}", "pat@acme.example", "pending"),
    ]
    # The first was edited away (obsolete); the second is the one e-mail.
    assert outbox_send() == {"sent": 1, "suppressed": 1}
    assert [d[2] for d in deliveries()] == ["suppressed", "sent"]
    assert Delivery.objects.get(dedupe_key__endswith=f":{first.pk}").suppressed_reason == "obsolete"
    (message,) = mail.outbox
    assert "@pat again" in message.body
    # Replays add nothing.
    from comms.models import CommsSettings

    CommsSettings.objects.filter(workspace=workspace).update(events_through_id=0)
    events.events_consume()
    assert len(deliveries()) == 2


def test_a_mention_removed_and_named_again_before_the_consumer_ran_is_told_once(workspace, feature, ann, pm):
    comment = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    services.feature_comment_update(comment=comment, actor=ann, body="nobody")
    services.feature_comment_update(comment=comment, actor=ann, body="@pat again")
    events.events_consume()
    mention = comment.mentions.get()
    assert deliveries() == [(f"mention:{comment.pk}:{pm.pk}:{mention.pk}", "pat@acme.example", "pending")]
    assert outbox_send() == {"sent": 1}


@pytest.mark.parametrize("key", ["new", "old"])
def test_a_mention_already_e_mailed_is_not_told_again_when_named_again(
    workspace, member, feature, ann, pm, key
):
    carla = member(workspace, Role.VIEWER, username="carla", email="carla@acme.example").user
    comment = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    if key == "old":  # a delivery keyed before the mention id was in the key
        Delivery.objects.filter(kind=MENTION_KIND).update(dedupe_key=f"mention:{comment.pk}:{pm.pk}")
    assert outbox_send() == {"sent": 1}
    services.feature_comment_update(comment=comment, actor=ann, body="nobody")
    # Named again with another member: only the other one is told.
    services.feature_comment_update(comment=comment, actor=ann, body="@pat and @carla")
    events.events_consume()
    mention = comment.mentions.get(user=carla)
    assert [d[0] for d in deliveries()][1:] == [f"mention:{comment.pk}:{carla.pk}:{mention.pk}"]
    assert outbox_send() == {"sent": 1}
    assert [m.to for m in mail.outbox] == [["pat@acme.example"], ["carla@acme.example"]]


def test_a_second_comment_is_a_second_e_mail(workspace, feature, ann, pm):
    first = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    second = services.feature_comment_create(feature=feature, actor=ann, body="@pat again")
    events.events_consume()
    assert [d[0] for d in deliveries()] == [
        f"mention:{first.pk}:{pm.pk}:{first.mentions.get().pk}",
        f"mention:{second.pk}:{pm.pk}:{second.mentions.get().pk}",
    ]


def test_an_unsubscribed_member_is_not_e_mailed(workspace, feature, ann, pm):
    Stakeholder.objects.create(
        workspace=workspace,
        kind=StakeholderKind.MEMBER,
        user=pm,
        email=pm.email,
        audience="executive",
        confirmed_at=timezone.now(),
        unsubscribed_at=timezone.now(),
    )
    comment = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    mention = comment.mentions.get()
    assert deliveries() == [(f"mention:{comment.pk}:{pm.pk}:{mention.pk}", "pat@acme.example", "suppressed")]
    assert Delivery.objects.get(kind=MENTION_KIND).suppressed_reason == "unsubscribed"
    assert outbox_send() == {}
    assert mail.outbox == []


def test_unsubscribing_before_the_send_suppresses_it(workspace, feature, ann, pm):
    services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    Stakeholder.objects.filter(user=pm).update(unsubscribed_at=timezone.now())
    assert outbox_send() == {"suppressed": 1}
    assert Delivery.objects.get(kind=MENTION_KIND).suppressed_reason == "unsubscribed"


@pytest.mark.parametrize("change", ["deleted", "edited", "left"])
def test_a_mention_gone_before_the_send_is_obsolete(workspace, feature, ann, pm, change):
    comment = services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    if change == "deleted":
        services.feature_comment_delete(comment=comment, actor=ann)
    elif change == "edited":
        services.feature_comment_update(comment=comment, actor=ann, body="never mind")
    else:
        Membership.objects.filter(workspace=workspace, user=pm).delete()
    assert outbox_send() == {"suppressed": 1}
    assert Delivery.objects.get(kind=MENTION_KIND).suppressed_reason == "obsolete"
    assert mail.outbox == []


def test_a_member_who_left_before_the_consumer_ran_gets_nothing(workspace, feature, ann, pm):
    services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    Membership.objects.filter(workspace=workspace, user=pm).delete()
    events.events_consume()
    assert deliveries() == []


def test_an_existing_stakeholder_with_the_address_is_reused(workspace, feature, ann, pm):
    existing = Stakeholder.objects.create(
        workspace=workspace,
        kind=StakeholderKind.EXTERNAL,
        email="PAT@acme.example",
        audience="sales",
        confirmed_at=timezone.now(),
    )
    services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    assert Stakeholder.objects.filter(workspace=workspace).count() == 1
    assert Delivery.objects.get(kind=MENTION_KIND).context["stakeholder_id"] == existing.pk


def test_mentions_are_never_posted_to_webhooks(workspace, feature, ann, pm):
    from tests.comms.factories import WebhookEndpointFactory

    WebhookEndpointFactory(workspace=workspace, event_types=["feature.status_changed"])
    services.feature_comment_create(feature=feature, actor=ann, body="@pat")
    events.events_consume()
    assert list(Delivery.objects.values_list("kind", flat=True)) == [MENTION_KIND]
