"""Workspace settings pages: members and roles, invitations (and accepting one), API tokens."""

from __future__ import annotations

import pytest
from django.core import mail, signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from productops import services
from productops.models import ApiToken, AuditEvent, Invitation, Membership, Role, User
from productops.tasks import invitation_send_email
from tests.productops.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def members_url(ws):
    return f"/w/{ws.slug}/settings/members/"


def tokens_url(ws):
    return f"/w/{ws.slug}/settings/tokens/"


# --- members -----------------------------------------------------------------------------


def test_member_list_shows_everyone_to_a_viewer_without_admin_controls(portal_client, workspace, member):
    colleague = member(workspace, Role.PRODUCT_MANAGER, first_name="Ada", last_name="Lovelace").user
    client, me = portal_client(workspace, Role.VIEWER)

    response = client.get(members_url(workspace))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<td>{colleague.username}</td>" in html
    assert "<td>Ada Lovelace</td>" in html
    assert f"<td>{colleague.email}</td>" in html
    assert '<span class="badge badge-role-product_manager">Product manager</span>' in html
    assert f"{me.user.username} <span" in html
    assert "Send invitation" not in html
    assert "Pending invitations" not in html
    assert 'name="role"' not in html
    assert "Leave this workspace" in html


def test_admin_sees_role_selects_invite_form_and_pending_invitations(portal_client, workspace, owner):
    client, admin = portal_client(workspace, Role.ADMIN)
    services.invitation_create(workspace=workspace, email="new@example.com", role=Role.VIEWER, actor=owner)

    html = client.get(members_url(workspace)).content.decode()

    assert f'<select name="role" id="role-{admin.pk}">' in html
    assert '<label for="id_email">E-mail' in html
    assert "<td>new@example.com</td>" in html
    # Only owners hand out the owner role.
    assert '<option value="owner">' not in html


def test_admin_changes_a_role(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    target = MembershipFactory(workspace=workspace, role=Role.VIEWER)

    response = client.post(f"{members_url(workspace)}{target.pk}/role/", {"role": Role.PRODUCT_MANAGER})

    assert response.status_code == 302
    assert response["Location"] == members_url(workspace)
    target.refresh_from_db()
    assert target.role == Role.PRODUCT_MANAGER
    event = AuditEvent.objects.get(target_type="productops.membership", target_id=str(target.pk))
    assert event.changes == {"role": ["viewer", "product_manager"]}


def test_role_change_through_htmx_returns_the_row(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    target = MembershipFactory(workspace=workspace, role=Role.VIEWER)

    response = client.post(
        f"{members_url(workspace)}{target.pk}/role/", {"role": Role.CONTRIBUTOR}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="member-{target.pk}">')
    assert f"{target.user.username} is now Contributor." in html
    assert '<option value="contributor" selected>' in html


def test_contributor_cannot_change_a_role(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    target = MembershipFactory(workspace=workspace, role=Role.VIEWER)
    events = AuditEvent.objects.count()

    response = client.post(f"{members_url(workspace)}{target.pk}/role/", {"role": Role.ADMIN})

    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.VIEWER
    assert AuditEvent.objects.count() == events


def test_demoting_the_last_owner_shows_the_error_and_writes_nothing(portal_client, workspace, owner):
    client, _ = portal_client(workspace, Role.OWNER)
    Membership.objects.filter(workspace=workspace, user=owner).delete()
    me = Membership.objects.get(workspace=workspace, role=Role.OWNER)
    events = AuditEvent.objects.count()

    response = client.post(f"{members_url(workspace)}{me.pk}/role/", {"role": Role.ADMIN}, follow=True)

    assert response.status_code == 200
    assert "A workspace needs at least one owner." in response.content.decode()
    me.refresh_from_db()
    assert me.role == Role.OWNER
    assert AuditEvent.objects.count() == events


def test_removing_the_last_owner_shows_the_error_and_writes_nothing(portal_client, workspace, owner):
    client, _ = portal_client(workspace, Role.ADMIN)
    sole_owner = Membership.objects.get(workspace=workspace, user=owner)
    events = AuditEvent.objects.count()

    # An admin may not remove an owner at all; the owner leaving alone is the last-owner rule.
    response = client.post(f"{members_url(workspace)}{sole_owner.pk}/remove/", follow=True)
    assert "Only an owner can remove an owner." in response.content.decode()

    owner_client = Client()
    owner_client.force_login(owner)
    response = owner_client.post(f"{members_url(workspace)}{sole_owner.pk}/remove/", follow=True)

    assert response.status_code == 200
    assert "A workspace needs at least one owner." in response.content.decode()
    assert Membership.objects.filter(pk=sole_owner.pk).exists()
    assert AuditEvent.objects.count() == events


def test_admin_removes_a_member_and_their_tokens_are_revoked(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    target = MembershipFactory(workspace=workspace, role=Role.CONTRIBUTOR)
    token, _ = services.api_token_create(
        workspace=workspace, user=target.user, name="ci", scopes=["read"], actor=None
    )

    response = client.post(f"{members_url(workspace)}{target.pk}/remove/", follow=True)

    assert response.status_code == 200
    assert f"{target.user.username} was removed from the workspace." in response.content.decode()
    assert not Membership.objects.filter(pk=target.pk).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_contributor_cannot_remove_someone_else_but_can_leave(portal_client, workspace):
    client, me = portal_client(workspace, Role.CONTRIBUTOR)
    other = MembershipFactory(workspace=workspace, role=Role.VIEWER)

    assert client.post(f"{members_url(workspace)}{other.pk}/remove/").status_code == 403
    assert Membership.objects.filter(pk=other.pk).exists()

    response = client.post(f"{members_url(workspace)}{me.pk}/remove/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not Membership.objects.filter(pk=me.pk).exists()


def test_another_workspaces_membership_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    foreign = MembershipFactory(workspace=other_workspace, role=Role.VIEWER)

    assert client.post(f"{members_url(workspace)}{foreign.pk}/role/", {"role": "admin"}).status_code == 404
    assert client.post(f"{members_url(workspace)}{foreign.pk}/remove/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == Role.VIEWER


def test_member_page_query_count_does_not_grow_with_members(portal_client, workspace, owner):
    client, _ = portal_client(workspace, Role.ADMIN)
    services.invitation_create(workspace=workspace, email="a@example.com", role=Role.VIEWER, actor=owner)
    client.get(members_url(workspace))  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(members_url(workspace)).status_code == 200
    for n in range(12):
        MembershipFactory(workspace=workspace, role=Role.VIEWER)
        services.invitation_create(
            workspace=workspace, email=f"p{n}@example.com", role=Role.VIEWER, actor=owner
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(members_url(workspace))
    assert response.content.decode().count('<tr id="member-') == 14
    assert len(many) == len(few)


# --- invitations -------------------------------------------------------------------------


def test_admin_invites_and_the_email_goes_out_after_the_commit(
    portal_client, workspace, django_capture_on_commit_callbacks
):
    client, admin = portal_client(workspace, Role.ADMIN)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"{members_url(workspace)}invite/", {"email": "New@Example.com", "role": Role.CONTRIBUTOR}
        )
    assert mail.outbox == []  # nothing is sent inside the request's transaction

    assert response.status_code == 302
    invitation = Invitation.objects.get(workspace=workspace)
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new@example.com",
        Role.CONTRIBUTOR,
        admin.user,
    )
    assert len(callbacks) == 1
    invitation_send_email.run(invitation.pk)  # the task the callback enqueues
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    assert services.invitation_link(invitation) in mail.outbox[0].body


def test_invite_errors_show_inline_and_write_nothing(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.ADMIN)
    existing = member(workspace, Role.VIEWER).user

    bad_email = client.post(f"{members_url(workspace)}invite/", {"email": "not-an-email", "role": "viewer"})
    assert bad_email.status_code == 400
    assert "Enter a valid email address." in bad_email.content.decode()

    already = client.post(f"{members_url(workspace)}invite/", {"email": existing.email, "role": "viewer"})
    assert already.status_code == 400
    assert f"{existing.email} is already a member." in already.content.decode()

    as_owner = client.post(f"{members_url(workspace)}invite/", {"email": "x@example.com", "role": "owner"})
    assert as_owner.status_code == 400
    assert "Select a valid choice." in as_owner.content.decode()
    assert Invitation.objects.count() == 0


def test_contributor_cannot_invite(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(f"{members_url(workspace)}invite/", {"email": "x@example.com", "role": "viewer"})

    assert response.status_code == 403
    assert Invitation.objects.count() == 0


def test_admin_revokes_an_invitation(portal_client, workspace, owner, other_workspace, member):
    client, _ = portal_client(workspace, Role.ADMIN)
    invitation = services.invitation_create(
        workspace=workspace, email="a@example.com", role="viewer", actor=owner
    )
    foreign_owner = member(other_workspace, Role.OWNER).user
    foreign = services.invitation_create(
        workspace=other_workspace, email="b@example.com", role="viewer", actor=foreign_owner
    )

    assert client.post(f"/w/{workspace.slug}/settings/invitations/{foreign.pk}/revoke/").status_code == 404
    response = client.post(f"/w/{workspace.slug}/settings/invitations/{invitation.pk}/revoke/", follow=True)

    assert "The invitation to a@example.com was revoked." in response.content.decode()
    invitation.refresh_from_db()
    foreign.refresh_from_db()
    assert invitation.revoked_at is not None
    assert foreign.revoked_at is None
    assert "<td>a@example.com</td>" not in response.content.decode()


def test_signed_in_invitee_accepts_and_lands_on_the_dashboard(workspace, owner):
    invitee = UserFactory(email="joiner@example.com")
    invitation = services.invitation_create(
        workspace=workspace, email="joiner@example.com", role=Role.CONTRIBUTOR, actor=owner
    )
    token = services.invitation_token(invitation)
    client = Client()
    client.force_login(invitee)

    page = client.get(f"/invitations/accept/?token={token}")
    assert page.status_code == 200
    assert (
        "You are invited to <strong>Acme</strong> as <strong>Contributor</strong>." in page.content.decode()
    )

    response = client.post("/invitations/accept/", {"token": token})

    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/"
    assert Membership.objects.get(workspace=workspace, user=invitee).role == Role.CONTRIBUTOR


def test_visitor_signs_up_and_joins_in_one_step(workspace, owner):
    invitation = services.invitation_create(
        workspace=workspace, email="fresh@example.com", role=Role.VIEWER, actor=owner
    )
    token = services.invitation_token(invitation)
    client = Client()

    page = client.get(f"/invitations/accept/?token={token}")
    assert page.status_code == 200
    assert 'value="fresh@example.com" readonly' in page.content.decode()
    assert '<label for="id_password2">Password again' in page.content.decode()

    response = client.post(
        "/invitations/accept/",
        {
            "token": token,
            "username": "fresh",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/"
    user = User.objects.get(username="fresh")
    assert user.email == "fresh@example.com"
    assert user.check_password("a-long-passphrase-9")
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.VIEWER
    assert client.get(response["Location"]).status_code == 200  # signed in


def test_sign_up_with_a_bad_password_shows_the_error_and_creates_nobody(workspace, owner):
    invitation = services.invitation_create(
        workspace=workspace, email="fresh@example.com", role=Role.VIEWER, actor=owner
    )
    token = services.invitation_token(invitation)
    users = User.objects.count()

    too_short = Client().post(
        "/invitations/accept/", {"token": token, "username": "fresh", "password1": "abc", "password2": "abc"}
    )
    differ = Client().post(
        "/invitations/accept/",
        {
            "token": token,
            "username": "fresh",
            "password1": "a-long-passphrase-9",
            "password2": "another-one-9",
        },
    )

    assert too_short.status_code == 400
    assert "This password is too short." in too_short.content.decode()
    assert differ.status_code == 400
    assert "The two passwords differ." in differ.content.decode()
    assert User.objects.count() == users
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_bad_revoked_and_expired_invitation_links_show_a_clear_error(workspace, owner):
    client = Client()
    bad = client.get("/invitations/accept/?token=nonsense")
    assert bad.status_code == 400
    assert "This invitation link is not valid." in bad.content.decode()

    revoked = services.invitation_create(
        workspace=workspace, email="r@example.com", role="viewer", actor=owner
    )
    services.invitation_revoke(invitation=revoked, actor=owner)
    page = client.get(f"/invitations/accept/?token={services.invitation_token(revoked)}")
    assert page.status_code == 400
    assert "This invitation was revoked." in page.content.decode()

    expired = services.invitation_create(
        workspace=workspace, email="e@example.com", role="viewer", actor=owner
    )
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    shown = client.get(
        f"/invitations/accept/?token={signing.dumps(expired.pk, salt=services.INVITATION_SALT)}"
    )
    assert shown.status_code == 400
    assert "This invitation has expired. Ask for a new invitation." in shown.content.decode()
    assert 'name="password1"' not in shown.content.decode()  # no sign-up form for a dead link
    users = User.objects.count()
    response = client.post(
        "/invitations/accept/",
        {
            "token": signing.dumps(expired.pk, salt=services.INVITATION_SALT),
            "username": "late",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert response.status_code == 400
    assert "This invitation has expired." in response.content.decode()
    assert User.objects.count() == users


# --- API tokens --------------------------------------------------------------------------


def test_token_key_is_shown_once(portal_client, workspace):
    client, me = portal_client(workspace, Role.VIEWER)

    posted = client.post(tokens_url(workspace), {"name": "CI export", "scopes": ["read"]})
    assert posted.status_code == 302
    assert posted["Location"] == f"{tokens_url(workspace)}created/"
    created = client.get(posted["Location"])

    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(workspace=workspace, user=me.user)
    key = created.context["key"]
    assert key.startswith(token.prefix)
    assert created.content.decode().count(key) == 1
    assert (token.name, token.scopes, token.expires_at) == ("CI export", ["read"], None)
    assert services.api_token_authenticate(key=key) == token

    listing = client.get(tokens_url(workspace))
    assert listing.status_code == 200
    assert "CI export" in listing.content.decode()
    assert f"<code>{token.prefix}…</code>" in listing.content.decode()
    assert key not in listing.content.decode()
    again = client.get(posted["Location"])  # a reload: the key is gone, and no second token
    assert again["Location"] == tokens_url(workspace)
    assert ApiToken.objects.filter(workspace=workspace).count() == 1


def test_token_with_an_expiry_and_both_scopes(portal_client, workspace):
    client, me = portal_client(workspace, Role.CONTRIBUTOR)
    day = timezone.localdate() + timezone.timedelta(days=30)

    response = client.post(
        tokens_url(workspace), {"name": "sync", "scopes": ["read", "write"], "expires_on": day.isoformat()}
    )

    assert response.status_code == 302
    token = ApiToken.objects.get(user=me.user)
    assert token.scopes == ["read", "write"]
    assert timezone.localtime(token.expires_at).date() == day + timezone.timedelta(days=1)


def test_token_form_errors_are_inline_and_create_nothing(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)

    response = client.post(tokens_url(workspace), {"name": "", "expires_on": "2000-01-01"})

    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("This field is required.") == 2
    assert "Pick today or a later day." in html
    assert ApiToken.objects.count() == 0


def test_member_revokes_own_token(portal_client, workspace):
    client, me = portal_client(workspace, Role.VIEWER)
    token, _ = services.api_token_create(
        workspace=workspace, user=me.user, name="mine", scopes=["read"], actor=None
    )

    response = client.post(f"{tokens_url(workspace)}{token.pk}/revoke/", follow=True)

    assert "The token “mine” was revoked." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_contributor_cannot_revoke_someone_elses_token_but_an_admin_can(portal_client, workspace, member):
    other = member(workspace, Role.CONTRIBUTOR).user
    token, _ = services.api_token_create(
        workspace=workspace, user=other, name="theirs", scopes=["read"], actor=None
    )
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    assert "theirs" not in client.get(tokens_url(workspace)).content.decode()
    assert client.post(f"{tokens_url(workspace)}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    admin_client, _ = portal_client(workspace, Role.ADMIN)
    assert "theirs" in admin_client.get(tokens_url(workspace)).content.decode()
    assert admin_client.post(f"{tokens_url(workspace)}{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_another_workspaces_token_is_a_404(portal_client, workspace, other_workspace, member):
    client, _ = portal_client(workspace, Role.OWNER)
    stranger = member(other_workspace, Role.OWNER).user
    token, _ = services.api_token_create(
        workspace=other_workspace, user=stranger, name="far", scopes=["read"], actor=None
    )

    assert client.post(f"{tokens_url(workspace)}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_tokens_page_query_count_does_not_grow_with_tokens(portal_client, workspace, member):
    client, me = portal_client(workspace, Role.ADMIN)
    services.api_token_create(workspace=workspace, user=me.user, name="t", scopes=["read"], actor=None)
    client.get(tokens_url(workspace))
    with CaptureQueriesContext(connection) as few:
        assert client.get(tokens_url(workspace)).status_code == 200
    for n in range(12):
        user = member(workspace, Role.VIEWER).user
        services.api_token_create(workspace=workspace, user=user, name=f"t{n}", scopes=["read"], actor=None)
    with CaptureQueriesContext(connection) as many:
        response = client.get(tokens_url(workspace))
    assert response.content.decode().count("Revoke the token") == 13
    assert len(many) == len(few)


def test_settings_pages_need_sign_in(workspace):
    response = Client().get(tokens_url(workspace))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={tokens_url(workspace)}"


# --- the workspace: name, reporting currency, rates -------------------------------------------


def _rates(*rows, extra=2):
    data = {"rates-TOTAL_FORMS": str(len(rows) + extra), "rates-INITIAL_FORMS": str(len(rows))}
    for i, (code, rate) in enumerate(rows):
        data[f"rates-{i}-code"], data[f"rates-{i}-rate"] = code, rate
    return data


def test_an_admin_renames_the_workspace_and_sets_its_currencies(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    page = client.get("/w/acme/settings/workspace/")

    saved = client.post(
        "/w/acme/settings/workspace/",
        {"name": "Acme Inc", "reporting_currency": "eur", **_rates(("usd", "0.92"))},
    )

    assert page.status_code == 200
    assert 'name="reporting_currency"' in page.content.decode()
    assert saved.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.name, workspace.reporting_currency, workspace.currency_rates) == (
        "Acme Inc",
        "EUR",
        {"USD": "0.92"},
    )
    assert AuditEvent.objects.filter(target_type="productops.workspace", action="updated").count() == 1


def test_a_rate_a_company_needs_cannot_go_and_nothing_is_written(portal_client, workspace):
    from tests.feedback.factories import CompanyFactory

    client, _ = portal_client(workspace, Role.ADMIN)
    workspace.currency_rates = {"EUR": "1.08"}
    workspace.save()
    CompanyFactory(workspace=workspace, arr_currency="EUR")

    response = client.post(
        "/w/acme/settings/workspace/", {"name": "Renamed", "reporting_currency": "USD", **_rates()}
    )
    half_row = client.post(
        "/w/acme/settings/workspace/", {"name": "Renamed", "reporting_currency": "USD", **_rates(("GBP", ""))}
    )

    assert response.status_code == 400
    assert "Companies have ARR in EUR" in response.content.decode()
    assert half_row.status_code == 400
    assert "Give both the currency and its rate, or neither." in half_row.content.decode()
    workspace.refresh_from_db()
    assert (workspace.name, workspace.currency_rates) == ("Acme", {"EUR": "1.08"})


def test_only_admins_reach_the_workspace_settings(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)

    assert client.get("/w/acme/settings/workspace/").status_code == 403
    assert client.post("/w/acme/settings/workspace/", {"name": "Hijacked"}).status_code == 403
    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_the_page_names_currencies_companies_use_without_a_rate(portal_client, workspace):
    from feedback.models import Company
    from tests.feedback.factories import CompanyFactory

    client, _ = portal_client(workspace, Role.ADMIN)
    # Stored before rates were required (an upgraded install), so around the service.
    company = CompanyFactory(workspace=workspace, arr_currency="USD")
    Company.objects.filter(pk=company.pk).update(arr_currency="GBP")

    page = client.get("/w/acme/settings/workspace/").content.decode()

    assert "No rate for GBP: the ARR of companies in it counts 0" in page
