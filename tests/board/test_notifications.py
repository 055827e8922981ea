"""The board's e-mail per shipped release: the status changes one release's shipping made
reach each contact as one e-mail listing the features they asked for; other status changes
keep their own e-mail; the cursor loses nothing and sends nothing twice."""

from __future__ import annotations

import pytest
from django.core import mail

from board import services, tasks
from board.models import BoardContact, BoardNotification, BoardSettings
from releases import services as release_services
from releases.models import ChangelogSettings, ScopeState
from roadmap import services as roadmap_services
from roadmap.models import FeatureStatusChange
from tests.board.factories import BoardContactFactory, BoardSettingsFactory
from tests.feedback.factories import ContactFactory, FeedbackItemFactory, FeedbackLinkFactory, VoteFactory
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _verified(workspace, email):
    contact = ContactFactory(workspace=workspace, email=email)
    BoardContactFactory(contact=contact)
    return contact


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Insights")


def _release(product, titles, *, name="Spring", version="2.4.0", **fields):
    """A release whose scope (public features, all done) has these titles."""
    release = ReleaseFactory(product=product, name=name, version=version, **fields)
    features = [
        FeatureFactory(product=product, title=title, public_title=title, is_public=True) for title in titles
    ]
    for feature in features:
        ScopeItemFactory(release=release, feature=feature, state=ScopeState.DONE)
    return release, features


def _ship(release):
    return release_services.release_ship(release=release, actor=None)


def test_one_email_per_contact_per_release_listing_the_features(workspace, product):
    BoardSettingsFactory(workspace=workspace)
    release, (sso, export, dark) = _release(product, ["SSO", "PDF export", "Dark mode"])
    asker = _verified(workspace, "asker@example.com")
    other = _verified(workspace, "other@example.com")
    VoteFactory(feature=sso, contact=asker)
    VoteFactory(feature=export, contact=asker)
    FeedbackLinkFactory(feature=dark, item=FeedbackItemFactory(workspace=workspace, contact=asker))
    VoteFactory(feature=dark, contact=other)

    _ship(release)
    first = tasks.board_sweep.run()
    second = tasks.board_sweep.run()

    assert (first["collected"], first["sent"]) == (4, 2)
    assert (second["collected"], second["sent"]) == (0, 0)
    by_to = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_to) == ["asker@example.com", "other@example.com"]
    message = by_to["asker@example.com"]
    assert message.subject == "Spring 2.4.0 shipped: 3 features you asked for"
    for feature in (sso, export, dark):
        assert f"- {feature.title}\n" in message.body
        assert f"/p/{workspace.slug}/features/{feature.pk}/" in message.body
    assert f"/p/{workspace.slug}/unsubscribe/" in message.body
    assert by_to["other@example.com"].subject == "Spring 2.4.0 shipped: 1 feature you asked for"
    assert "SSO" not in by_to["other@example.com"].body
    assert BoardNotification.objects.count() == 4
    assert not BoardNotification.objects.filter(sent_at__isnull=True).exists()
    board = BoardSettings.objects.get(workspace=workspace)
    assert board.notified_through_id == FeatureStatusChange.objects.latest("id").pk
    # Running collect and send again, even with the cursor moved back, sends nothing more.
    BoardSettings.objects.update(notified_through_id=0)
    assert services.notifications_collect() == 0
    assert services.notifications_send_pending() == 0
    assert len(mail.outbox) == 2


def test_other_status_changes_keep_their_own_email(workspace, product):
    BoardSettingsFactory(workspace=workspace)
    release, (sso, export) = _release(product, ["SSO", "PDF export"])
    planned = FeatureFactory(product=product, title="Row-level security", is_public=True)
    contact = _verified(workspace, "c@example.com")
    for feature in (sso, export, planned):
        VoteFactory(feature=feature, contact=contact)
    roadmap_services.feature_change_status(feature=sso, to_status="under_consideration", actor=None)
    roadmap_services.feature_change_status(feature=planned, to_status="under_consideration", actor=None)
    _ship(release)

    assert tasks.board_sweep.run()["sent"] == 3
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == [
        "Spring 2.4.0 shipped: 2 features you asked for",
        "Update: Row-level security is now under consideration",
        "Update: SSO is now under consideration",
    ]


def test_a_private_release_is_not_named_and_a_public_one_links_to_its_notes(workspace, product):
    BoardSettingsFactory(workspace=workspace)
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)
    secret, (one,) = _release(product, ["Audit log"], name="Project Falcon", version="3.0.0", is_public=False)
    public, (two,) = _release(product, ["Webhooks"], name="Autumn", version="3.1.0")
    contact = _verified(workspace, "c@example.com")
    VoteFactory(feature=one, contact=contact)
    VoteFactory(feature=two, contact=contact)
    _ship(secret)
    _ship(public)

    tasks.board_sweep.run()

    by_subject = {m.subject: m for m in mail.outbox}
    assert set(by_subject) == {
        "Shipped: 1 feature you asked for",
        "Autumn 3.1.0 shipped: 1 feature you asked for",
    }
    hidden = by_subject["Shipped: 1 feature you asked for"]
    assert "Falcon" not in hidden.body
    assert "changelog" not in hidden.body
    public.refresh_from_db()
    shown = by_subject["Autumn 3.1.0 shipped: 1 feature you asked for"]
    assert f"/p/{workspace.slug}/changelog/releases/{public.public_id}/" in shown.body


def test_no_changelog_link_while_the_changelog_is_off(workspace, product):
    BoardSettingsFactory(workspace=workspace)
    release, (feature,) = _release(product, ["Webhooks"])
    VoteFactory(feature=feature, contact=_verified(workspace, "c@example.com"))
    _ship(release)
    tasks.board_sweep.run()
    assert [m.subject for m in mail.outbox] == ["Spring 2.4.0 shipped: 1 feature you asked for"]
    assert "changelog" not in mail.outbox[0].body


def test_a_release_cut_by_the_batch_is_still_one_email_and_nothing_is_skipped(
    workspace, product, monkeypatch
):
    BoardSettingsFactory(workspace=workspace)
    monkeypatch.setattr(services, "NOTIFY_BATCH", 2)
    release, features = _release(product, ["A", "B", "C", "D"])
    contact = _verified(workspace, "c@example.com")
    for feature in features:
        VoteFactory(feature=feature, contact=contact)
    _ship(release)
    after = FeatureFactory(product=product, title="Later", is_public=True)
    VoteFactory(feature=after, contact=contact)
    roadmap_services.feature_change_status(feature=after, to_status="under_consideration", actor=None)

    assert services.notifications_collect() == 4  # the batch ran on to the release's last change
    assert services.notifications_send_pending() == 1
    assert services.notifications_collect() == 1  # then the change after it
    assert services.notifications_send_pending() == 1
    assert services.notifications_collect() == 0
    assert [m.subject for m in mail.outbox] == [
        "Spring 2.4.0 shipped: 4 features you asked for",
        "Update: Later is now under consideration",
    ]


def test_a_refused_release_email_is_retried_whole(workspace, product, settings):
    BoardSettingsFactory(workspace=workspace)
    release, features = _release(product, ["A", "B"])
    contact = _verified(workspace, "bounce@refused.example")
    for feature in features:
        VoteFactory(feature=feature, contact=contact)
    _ship(release)
    settings.EMAIL_BACKEND = "tests.board.mail_backends.RefusingEmailBackend"

    assert tasks.board_sweep.run()["sent"] == 0
    rows = BoardNotification.objects.order_by("id")
    assert [(r.sent_at, r.failed_attempts) for r in rows] == [(None, 1), (None, 1)]

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert tasks.board_sweep.run()["sent"] == 1
    assert [m.subject for m in mail.outbox] == ["Spring 2.4.0 shipped: 2 features you asked for"]
    assert not BoardNotification.objects.filter(sent_at__isnull=True).exists()


def test_opting_out_after_collection_skips_the_release_email(workspace, product):
    BoardSettingsFactory(workspace=workspace)
    release, features = _release(product, ["A", "B"])
    contact = _verified(workspace, "c@example.com")
    for feature in features:
        VoteFactory(feature=feature, contact=contact)
    _ship(release)
    assert services.notifications_collect() == 2
    BoardContact.objects.filter(contact=contact).update(notifications_enabled=False)
    assert services.notifications_send_pending() == 0
    assert mail.outbox == []
    assert BoardNotification.objects.filter(skipped=True).count() == 2
