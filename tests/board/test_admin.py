"""The public board in the admin console: browsable with constant queries, settings and
comment moderation through the services, the rest read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.utils import timezone

from board.models import BoardContact, BoardSettings, Comment, MagicLink
from productops.models import AuditEvent
from tests.board.factories import BoardContactFactory, BoardSettingsFactory, CommentFactory
from tests.productops.factories import WorkspaceFactory
from tests.productops.test_admin import admin_url, assert_admin_pages_work
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _feature():
    return FeatureFactory(product=ProductFactory(), is_public=True)


def _magic_link(n: int) -> MagicLink:
    return MagicLink.objects.create(
        workspace=WorkspaceFactory(),
        email=f"c{n}@example.com",
        secret=f"very-secret-{n}",
        token_hash=f"token-hash-{n}",
        expires_at=timezone.now() + timedelta(minutes=30),
    )


BOARD_MAKERS = {
    BoardSettings: lambda n: BoardSettingsFactory(),
    BoardContact: lambda n: BoardContactFactory(),
    Comment: lambda n: CommentFactory(feature=_feature()),
    MagicLink: _magic_link,
}


def test_every_model_of_the_app_is_registered():
    models = set(apps.get_app_config("board").get_models())
    assert all(admin.site.is_registered(model) for model in models)
    assert set(BOARD_MAKERS) == models


@pytest.mark.parametrize("model", list(BOARD_MAKERS), ids=lambda m: m.__name__)
def test_changelist_and_change_page(admin_client, model):
    assert_admin_pages_work(admin_client, model, BOARD_MAKERS[model])


def test_settings_change_goes_through_the_service_and_is_audited(admin_client):
    board = BoardSettingsFactory(enabled=False, title="Ideas")
    response = admin_client.post(
        admin_url(BoardSettings, "change", board.pk),
        {"enabled": "on", "anonymous_viewing": "on", "title": "  Acme ideas  ", "intro": ""},
    )
    assert response.status_code == 302
    board.refresh_from_db()
    assert (board.enabled, board.title) == (True, "Acme ideas")
    assert AuditEvent.objects.filter(workspace=board.workspace, target_type="board.boardsettings").exists()


def test_hide_action_hides_through_the_service_and_show_brings_them_back(admin_client):
    comments = [CommentFactory(feature=_feature()) for _ in range(2)]
    ids = [c.pk for c in comments]
    url = admin_url(Comment, "changelist")

    admin_client.post(url, {"action": "hide_comments", "_selected_action": ids})
    assert list(Comment.objects.filter(pk__in=ids).values_list("is_hidden", flat=True)) == [True, True]
    assert (
        AuditEvent.objects.filter(target_type="board.comment", action=AuditEvent.Action.UPDATED).count() == 2
    )

    admin_client.post(url, {"action": "show_comments", "_selected_action": ids})
    assert list(Comment.objects.filter(pk__in=ids).values_list("is_hidden", flat=True)) == [False, False]


def test_magic_links_never_show_their_secret_and_cannot_be_edited(admin_client):
    link = _magic_link(1)
    page = admin_client.get(admin_url(MagicLink, "change", link.pk)).content.decode()
    assert "very-secret-1" not in page
    assert "token-hash-1" not in page
    assert 'name="email"' not in page  # read-only
    assert admin_client.post(admin_url(MagicLink, "delete", link.pk), {"post": "yes"}).status_code == 403
    assert MagicLink.objects.filter(pk=link.pk).exists()


def test_hiding_comments_needs_the_change_permission():
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.productops.factories import UserFactory

    comment = CommentFactory(feature=_feature())
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_comment"))
    client = Client()
    client.force_login(user)
    url = admin_url(Comment, "changelist")
    assert "hide_comments" not in client.get(url).content.decode()
    client.post(url, {"action": "hide_comments", "_selected_action": [comment.pk]})
    comment.refresh_from_db()
    assert comment.is_hidden is False
