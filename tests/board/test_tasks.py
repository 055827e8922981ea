"""The board's sweep: lost sign-in links are sent, status changes notify each contact once."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from board import services, tasks
from board.models import BoardContact, BoardNotification, MagicLink
from roadmap import services as roadmap_services
from tests.board.factories import BoardContactFactory, BoardSettingsFactory
from tests.feedback.factories import ContactFactory, FeedbackItemFactory, FeedbackLinkFactory, VoteFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_sweep_sends_a_lost_sign_in_link_once(workspace):
    link = services.magic_link_request(workspace=workspace, email="a@example.com")  # its task never ran
    expired = services.magic_link_request(workspace=workspace, email="b@example.com")
    MagicLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    assert tasks.board_sweep.run()["links"] == 1
    assert tasks.board_sweep.run()["links"] == 0
    assert [m.to for m in mail.outbox] == [["a@example.com"]]
    tasks.magic_link_send.run(link.pk)
    assert len(mail.outbox) == 1


def _verified(workspace, email):
    contact = ContactFactory(workspace=workspace, email=email)
    BoardContactFactory(contact=contact)
    return contact


def test_status_change_notifies_voters_and_requesters_exactly_once(workspace):
    BoardSettingsFactory(workspace=workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Dark mode", is_public=True)
    voter = _verified(workspace, "voter@example.com")
    requester = _verified(workspace, "asker@example.com")
    VoteFactory(feature=feature, contact=voter)
    VoteFactory(feature=feature, contact=requester)  # voted and requested: still one e-mail
    FeedbackLinkFactory(feature=feature, item=FeedbackItemFactory(workspace=workspace, contact=requester))
    VoteFactory(feature=feature)  # never verified on the board: no e-mail
    roadmap_services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)

    first = tasks.board_sweep.run()
    second = tasks.board_sweep.run()
    assert (first["collected"], first["sent"], second["collected"], second["sent"]) == (2, 2, 0, 0)
    assert sorted(m.to[0] for m in mail.outbox) == ["asker@example.com", "voter@example.com"]
    assert mail.outbox[0].subject == "Update: Dark mode is now under consideration"
    assert f"/p/{workspace.slug}/features/{feature.pk}/" in mail.outbox[0].body
    assert f"/p/{workspace.slug}/unsubscribe/" in mail.outbox[0].body
    assert BoardNotification.objects.filter(sent_at__isnull=False).count() == 2


def test_collect_twice_concurrently_adds_each_row_once(workspace):
    BoardSettingsFactory(workspace=workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    VoteFactory(feature=feature, contact=_verified(workspace, "v@example.com"))
    roadmap_services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)
    assert services.notifications_collect() == 1
    # A second run that read the same changes (its cursor not yet moved) adds nothing.
    from board.models import BoardSettings

    BoardSettings.objects.update(notified_through_id=0)
    assert services.notifications_collect() == 0
    assert BoardNotification.objects.count() == 1


def test_no_notification_for_private_features_disabled_boards_or_opted_out(workspace, other_workspace):
    BoardSettingsFactory(workspace=workspace)
    BoardSettingsFactory(workspace=other_workspace, enabled=False)
    private = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=False)
    public = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    theirs = FeatureFactory(product=ProductFactory(workspace=other_workspace), is_public=True)
    contact = _verified(workspace, "v@example.com")
    VoteFactory(feature=private, contact=contact)
    VoteFactory(feature=theirs, contact=_verified(other_workspace, "o@example.com"))
    opted_out = _verified(workspace, "out@example.com")
    BoardContact.objects.filter(contact=opted_out).update(notifications_enabled=False)
    VoteFactory(feature=public, contact=opted_out)
    for feature in (private, public, theirs):
        roadmap_services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)
    assert tasks.board_sweep.run() == {"links": 0, "collected": 0, "sent": 0}
    assert mail.outbox == []


def test_opting_out_after_collection_skips_the_email(workspace):
    BoardSettingsFactory(workspace=workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    contact = _verified(workspace, "v@example.com")
    VoteFactory(feature=feature, contact=contact)
    roadmap_services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)
    assert services.notifications_collect() == 1
    services.notifications_unsubscribe(workspace=workspace, token=services.unsubscribe_token(contact))
    assert services.notifications_send_pending() == 0
    assert mail.outbox == []
    assert BoardNotification.objects.get().skipped is True


def test_a_refused_address_does_not_hold_up_the_others_and_is_given_up(workspace, settings):
    settings.EMAIL_BACKEND = "tests.board.mail_backends.RefusingEmailBackend"
    BoardSettingsFactory(workspace=workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="SSO\nnow", is_public=True)
    VoteFactory(feature=feature, contact=_verified(workspace, "bounce@refused.example"))  # the lower id
    VoteFactory(feature=feature, contact=_verified(workspace, "fine@example.com"))
    services.magic_link_request(workspace=workspace, email="bounce@refused.example")
    services.magic_link_request(workspace=workspace, email="ok@example.com")
    roadmap_services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)

    result = tasks.board_sweep.run()

    assert (result["links"], result["collected"], result["sent"]) == (1, 2, 1)
    assert sorted(m.to[0] for m in mail.outbox) == ["fine@example.com", "ok@example.com"]
    assert "Update: SSO now is now under consideration" in [m.subject for m in mail.outbox]
    refused = BoardNotification.objects.get(contact__email="bounce@refused.example")
    assert (refused.sent_at, refused.failed_attempts) == (None, 1)
    for _ in range(services.NOTIFY_MAX_ATTEMPTS):
        tasks.board_sweep.run()
    refused.refresh_from_db()
    assert (refused.sent_at, refused.failed_attempts) == (None, services.NOTIFY_MAX_ATTEMPTS)
    assert len(mail.outbox) == 2
