"""The portal's shell: sign-in, the front door, workspace access by role, the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productops.models import Membership, Role, Workspace
from productops.outbox.models import Delivery, DeliveryState
from productops.outbox.services import outbox_send
from tests.feedback.factories import FeedbackItemFactory
from tests.productops.factories import UserFactory
from tests.roadmap.factories import FeatureFactory, GoalFactory, KeyResultFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_workspace_pages_send_anonymous_visitors_to_sign_in(workspace):
    response = Client().get(f"/w/{workspace.slug}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/w/{workspace.slug}/"


def test_sign_in_with_the_form_lands_on_the_workspace(workspace, member):
    membership = member(workspace, Role.VIEWER)
    membership.user.set_password("correct horse")
    membership.user.save()
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content

    wrong = client.post("/accounts/login/", {"username": membership.user.username, "password": "nope"})
    assert wrong.status_code == 200
    assert b"Please enter a correct username and password" in wrong.content

    response = client.post(
        "/accounts/login/", {"username": membership.user.username, "password": "correct horse"}
    )
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == f"/w/{workspace.slug}/"


def test_sign_out_is_a_post(portal_client, workspace):
    client, _ = portal_client(workspace)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert client.get(f"/w/{workspace.slug}/").status_code == 302


def test_password_reset_mails_a_link_that_sets_a_new_password(workspace, member, settings):
    settings.PUBLIC_BASE_URL = "https://po.example.com"
    user = member(workspace).user
    user.email = "pm@example.com"
    user.save()
    client = Client()
    response = client.post("/accounts/password-reset/", {"email": "pm@example.com"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []  # recorded in the outbox; its sender sends it
    delivery = Delivery.objects.get()
    assert (delivery.workspace_id, delivery.kind, delivery.recipient, delivery.recipient_ref) == (
        None,
        "auth.password_reset",
        "pm@example.com",
        f"user:{user.pk}",
    )
    assert delivery.dedupe_key.startswith(f"password-reset:{user.pk}:")
    assert delivery.subject == "Reset your productops password"
    assert outbox_send() == {DeliveryState.SENT: 1}
    assert len(mail.outbox) == 1
    assert (mail.outbox[0].subject, mail.outbox[0].body) == (delivery.subject, delivery.body_text)
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    assert link.startswith("Choose a new password: https://po.example.com/accounts/reset/")
    path = link[link.index("/accounts/reset/") :]
    form = client.get(path, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "a-new-pass-2026", "new_password2": "a-new-pass-2026"}
    )
    assert done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password("a-new-pass-2026")


def test_another_workspace_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace)
    assert client.get(f"/w/{other_workspace.slug}/").status_code == 404
    assert client.get("/w/no-such-workspace/").status_code == 404


def test_front_door_without_workspace_offers_to_create_one():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    page = client.get("/")
    assert page.status_code == 200
    assert b"Create your first workspace" in page.content

    assert client.post("/", {"name": ""}).status_code == 400
    symbols = client.post("/", {"name": "!!!"})
    assert symbols.status_code == 400
    assert Workspace.objects.count() == 0
    taken = Workspace.objects.create(name="Acme Product", slug="acme-product")
    duplicate = client.post("/", {"name": "Acme Product"})
    assert duplicate.status_code == 400
    assert Workspace.objects.count() == 1
    taken.delete()

    response = client.post("/", {"name": "Acme Product"})
    workspace = Workspace.objects.get()
    assert response["Location"] == f"/w/{workspace.slug}/"
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.OWNER


def test_switcher_lists_only_the_users_workspaces(portal_client, workspace, other_workspace, member):
    client, membership = portal_client(workspace)
    third = Workspace.objects.create(name="Zeta", slug="zeta")
    Membership.objects.create(workspace=third, user=membership.user, role=Role.VIEWER)
    content = client.get(f"/w/{workspace.slug}/").content.decode()
    assert f'href="/w/{third.slug}/"' in content
    assert f'href="/w/{other_workspace.slug}/"' not in content


def test_dashboard_shows_priorities_volume_and_key_results(portal_client, workspace):
    client, _ = portal_client(workspace)
    ranked = FeatureFactory(
        product=ProductFactory(workspace=workspace),
        title="Single sign-on",
        priority_rank=1,
        priority_score=42.0,
    )
    FeatureFactory(product=ProductFactory(workspace=workspace), title="Unranked idea", priority_rank=None)
    FeedbackItemFactory(workspace=workspace, received_at=timezone.now() - timedelta(days=1))
    KeyResultFactory(
        goal=GoalFactory(workspace=workspace),
        metric="Weekly active teams",
        baseline=0,
        target=200,
        current=50,
    )

    response = client.get(f"/w/{workspace.slug}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'<a href="/w/{workspace.slug}/features/{ranked.pk}/">Single sign-on</a>' in content
    assert "Unranked idea" not in content
    assert "1 items in 12 weeks" in content
    assert '<progress class="kr-bar" max="100" value="25"' in content  # 50 of 200 from 0
    assert "Feedback received per week, last 12 weeks" in content


def test_dashboard_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace)
    FeatureFactory(product=ProductFactory(workspace=workspace), priority_rank=1, priority_score=1.0)
    KeyResultFactory(goal=GoalFactory(workspace=workspace))
    client.get(f"/w/{workspace.slug}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/w/{workspace.slug}/")
    for rank in range(2, 12):
        FeatureFactory(product=ProductFactory(workspace=workspace), priority_rank=rank, priority_score=1.0)
        KeyResultFactory(goal=GoalFactory(workspace=workspace))
        FeedbackItemFactory(workspace=workspace)
    with CaptureQueriesContext(connection) as many:
        client.get(f"/w/{workspace.slug}/")
    assert len(many) == len(few)


def test_an_htmx_request_after_the_session_ended_sends_the_page_to_sign_in(workspace):
    response = Client().get(
        f"/w/{workspace.slug}/feedback/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/w/{workspace.slug}/feedback/?state=new",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/accounts/login/?next=/w/{workspace.slug}/feedback/%3Fstate%3Dnew"


def test_password_reset_requests_are_limited_per_address(workspace, member):
    user = member(workspace).user
    user.email = "pm@example.com"
    user.save()
    client = Client()
    answers = [
        client.post("/accounts/password-reset/", {"email": "PM@example.com"}).status_code for _ in range(4)
    ]
    assert answers == [302, 302, 302, 429]
    assert Delivery.objects.filter(kind="auth.password_reset").count() == 3
    assert outbox_send() == {DeliveryState.SENT: 3}
    assert len(mail.outbox) == 3
