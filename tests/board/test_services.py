"""Writes of the public board: settings, sign-in links, ideas, comments, moderation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from board import services, tasks
from board.models import BoardContact, BoardSettings, Comment, MagicLink
from feedback.models import Contact, FeedbackItem
from productops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from productops.models import AuditEvent, Role
from roadmap import services as roadmap_services
from tests.board.factories import CommentFactory
from tests.feedback.factories import CompanyFactory, ContactFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_settings_update_needs_admin_and_starts_notifications_from_now(workspace, member):
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    roadmap_services.feature_change_status(feature=feature, to_status="under_consideration", actor=None)
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    with pytest.raises(Forbidden):
        services.board_settings_update(workspace=workspace, actor=pm, data={"enabled": True})
    assert BoardSettings.objects.count() == 0
    admin = member(workspace, Role.ADMIN).user
    row = services.board_settings_update(
        workspace=workspace, actor=admin, data={"enabled": True, "title": " Ideas "}
    )
    assert (row.enabled, row.title) == (True, "Ideas")
    assert row.notified_through_id == feature.status_changes.get().pk
    event = AuditEvent.objects.get(target_type="board.boardsettings")
    assert event.changes == {"enabled": ["False", "True"], "title": ["", "Ideas"]}


def test_magic_link_stores_no_usable_token(workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        link = services.magic_link_request(workspace=workspace, email=" Bob@Example.com ")
    assert len(callbacks) == 1  # the send task, enqueued after the commit
    assert link.email == "bob@example.com"
    token = services._token_for(link)
    assert token not in (link.secret, link.token_hash)
    assert mail.outbox == []
    tasks.magic_link_send.run(link.pk)
    assert len(mail.outbox) == 1
    assert token in mail.outbox[0].body
    assert timedelta(minutes=29, seconds=59) < link.expires_at - link.created_at <= timedelta(minutes=30)


def test_magic_link_refuses_a_bad_email(workspace):
    with pytest.raises(ValidationFailed):
        services.magic_link_request(workspace=workspace, email="not-an-email")
    assert MagicLink.objects.count() == 0


def test_verify_creates_the_contact_in_the_matching_company_once(workspace):
    company = CompanyFactory(workspace=workspace, domain="initech.example")
    link = services.magic_link_request(workspace=workspace, email="ann@initech.example")
    token = services._token_for(link)
    contact, used = services.magic_link_verify(workspace=workspace, token=token)
    assert (contact.email, contact.company_id, used.pk) == ("ann@initech.example", company.pk, link.pk)
    assert BoardContact.objects.get().contact_id == contact.pk
    with pytest.raises(Conflict):
        services.magic_link_verify(workspace=workspace, token=token)
    assert Contact.objects.count() == 1


def test_verify_reuses_a_known_contact(workspace):
    known = ContactFactory(workspace=workspace, email="known@example.com")
    link = services.magic_link_request(workspace=workspace, email="KNOWN@example.com")
    contact, _ = services.magic_link_verify(workspace=workspace, token=services._token_for(link))
    assert contact.pk == known.pk
    assert Contact.objects.count() == 1


def test_verify_refuses_expired_and_unknown_tokens(workspace):
    link = services.magic_link_request(workspace=workspace, email="a@example.com")
    MagicLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict):
        services.magic_link_verify(workspace=workspace, token=services._token_for(link))
    with pytest.raises(NotFound):
        services.magic_link_verify(workspace=workspace, token="nope")
    assert MagicLink.objects.get().used_at is None
    assert Contact.objects.count() == 0


def test_idea_submit_files_a_public_board_item_idempotently(workspace):
    contact = ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace))
    submission = uuid.uuid4()
    item = services.idea_submit(
        workspace=workspace, contact=contact, text="  Dark mode  ", submission_id=submission
    )
    again = services.idea_submit(
        workspace=workspace, contact=contact, text="Dark mode", submission_id=submission
    )
    assert item.pk == again.pk
    assert (item.text, item.source, item.kind, item.company_id) == (
        "Dark mode",
        FeedbackItem.Source.PUBLIC_BOARD,
        FeedbackItem.Kind.REQUEST,
        contact.company_id,
    )
    with pytest.raises(ValidationFailed):
        services.idea_submit(workspace=workspace, contact=contact, text="   ", submission_id=uuid.uuid4())
    assert FeedbackItem.objects.count() == 1


def test_idea_submit_refuses_another_workspaces_contact(workspace, other_workspace):
    contact = ContactFactory(workspace=other_workspace)
    with pytest.raises(NotFound):
        services.idea_submit(workspace=workspace, contact=contact, text="x", submission_id=uuid.uuid4())
    assert FeedbackItem.objects.count() == 0


def test_comment_create_is_audited_and_only_on_public_features(workspace):
    product = ProductFactory(workspace=workspace)
    public = FeatureFactory(product=product, is_public=True)
    private = FeatureFactory(product=product, is_public=False)
    contact = ContactFactory(workspace=workspace)
    comment = services.comment_create(workspace=workspace, contact=contact, feature=public, body=" Nice ")
    assert comment.body == "Nice"
    assert AuditEvent.objects.get(target_type="board.comment").changes == {
        "contact": contact.pk,
        "feature": public.pk,
    }
    with pytest.raises(NotFound):
        services.comment_create(workspace=workspace, contact=contact, feature=private, body="x")
    with pytest.raises(ValidationFailed):
        services.comment_create(workspace=workspace, contact=contact, feature=public, body="x" * 5001)
    assert Comment.objects.count() == 1


def test_comment_hide_needs_a_product_manager(workspace, member):
    comment = CommentFactory(
        feature=FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
    )
    with pytest.raises(Forbidden):
        services.comment_hide(comment=comment, actor=member(workspace, Role.CONTRIBUTOR).user)
    comment.refresh_from_db()
    assert comment.is_hidden is False
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    services.comment_hide(comment=comment, actor=pm)
    comment.refresh_from_db()
    assert (comment.is_hidden, comment.hidden_by_id) == (True, pm.pk)
    assert AuditEvent.objects.get(target_type="board.comment", actor=pm).changes == {
        "is_hidden": [False, True]
    }


def test_unsubscribe_token_is_bound_to_its_workspace(workspace, other_workspace):
    contact = ContactFactory(workspace=workspace)
    BoardContact.objects.create(workspace=workspace, contact=contact, verified_at=timezone.now())
    token = services.unsubscribe_token(contact)
    with pytest.raises(NotFound):
        services.notifications_unsubscribe(workspace=other_workspace, token=token)
    assert BoardContact.objects.get().notifications_enabled is True
    services.notifications_unsubscribe(workspace=workspace, token=token)
    assert BoardContact.objects.get().notifications_enabled is False
