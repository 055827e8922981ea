import hashlib
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from productops import services
from productops.errors import Conflict, Forbidden, NotFound, ValidationFailed
from productops.models import ApiToken, AuditEvent, Invitation, Membership, Role, Workspace, WorkspaceDeletion
from productops.outbox.models import Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import outbox_send
from tests.productops.factories import UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


# --- workspaces ---------------------------------------------------------------


def test_workspace_create_makes_the_creator_owner_and_audits():
    user = UserFactory()

    workspace = services.workspace_create(name="  Initech ", owner=user)

    assert (workspace.name, workspace.slug) == ("Initech", "initech")
    assert list(Membership.objects.filter(workspace=workspace).values_list("user_id", "role")) == [
        (user.pk, Role.OWNER)
    ]
    events = list(
        AuditEvent.objects.filter(workspace=workspace).order_by("id").values_list("action", "target_type")
    )
    assert events == [("created", "productops.workspace"), ("created", "productops.membership")]
    assert AuditEvent.objects.filter(workspace=workspace).first().actor == user


def test_workspace_create_with_taken_slug_is_a_400_and_writes_nothing():
    WorkspaceFactory(slug="initech")
    user = UserFactory()

    with pytest.raises(ValidationFailed) as error:
        services.workspace_create(name="Initech", owner=user)

    assert (error.value.attr, error.value.code) == ("slug", "unique")
    assert Workspace.objects.count() == 1
    assert Membership.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_workspace_update_needs_admin(workspace, member):
    contributor = member(workspace, Role.CONTRIBUTOR).user

    with pytest.raises(Forbidden):
        services.workspace_update(workspace=workspace, actor=contributor, data={"name": "Renamed"})

    workspace.refresh_from_db()
    assert workspace.name == "Acme"


def test_workspace_update_records_old_and_new(workspace, member):
    admin = member(workspace, Role.ADMIN).user

    services.workspace_update(workspace=workspace, actor=admin, data={"name": "Acme Corp"})

    event = AuditEvent.objects.get(workspace=workspace, action="updated")
    assert event.changes == {"name": ["Acme", "Acme Corp"]}
    assert event.actor_label == admin.username


# --- members ------------------------------------------------------------------


def test_last_owner_cannot_be_demoted(workspace, owner):
    membership = Membership.objects.get(user=owner)

    with pytest.raises(Conflict) as error:
        services.membership_change_role(membership=membership, role=Role.ADMIN, actor=owner)

    assert error.value.code == "last_owner"
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    assert AuditEvent.objects.count() == 0


def test_admin_cannot_grant_owner(workspace, member):
    admin = member(workspace, Role.ADMIN).user
    target = member(workspace, Role.VIEWER)

    with pytest.raises(Forbidden):
        services.membership_change_role(membership=target, role=Role.OWNER, actor=admin)

    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_admin_changes_a_role_and_it_is_audited(workspace, member):
    admin = member(workspace, Role.ADMIN).user
    target = member(workspace, Role.VIEWER)

    services.membership_change_role(membership=target, role=Role.PRODUCT_MANAGER, actor=admin)

    target.refresh_from_db()
    assert target.role == Role.PRODUCT_MANAGER
    event = AuditEvent.objects.get(target_type="productops.membership", target_id=str(target.pk))
    assert event.changes == {"role": ["viewer", "product_manager"]}


def test_removing_a_member_revokes_their_tokens(workspace, member, owner):
    leaving = member(workspace, Role.CONTRIBUTOR)
    token, _ = services.api_token_create(
        workspace=workspace, user=leaving.user, name="t", scopes=["read"], actor=None
    )

    services.membership_remove(membership=leaving, actor=owner)

    assert not Membership.objects.filter(pk=leaving.pk).exists()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_non_member_gets_not_found(workspace):
    stranger = UserFactory()

    with pytest.raises(NotFound):
        services.require_role(workspace=workspace, user=stranger, role=Role.VIEWER)


# --- invitations --------------------------------------------------------------


def test_invitation_flow_creates_membership_with_the_role(
    workspace, owner, django_capture_on_commit_callbacks
):
    invitee = UserFactory(email="new@example.com")
    with django_capture_on_commit_callbacks() as callbacks:
        invitation = services.invitation_create(
            workspace=workspace, email="New@Example.com", role=Role.PRODUCT_MANAGER, actor=owner
        )
    assert len(callbacks) == 1  # the email task, sent only after the commit

    membership = services.invitation_accept(token=services.invitation_token(invitation), user=invitee)

    assert (membership.workspace, membership.user, membership.role) == (workspace, invitee, "product_manager")
    invitation.refresh_from_db()
    assert invitation.accepted_by == invitee


def test_invitation_for_another_email_is_refused(workspace, owner):
    invitation = services.invitation_create(
        workspace=workspace, email="a@example.com", role="viewer", actor=owner
    )
    someone_else = UserFactory(email="b@example.com")

    with pytest.raises(Forbidden):
        services.invitation_accept(token=services.invitation_token(invitation), user=someone_else)

    assert not Membership.objects.filter(user=someone_else).exists()


def test_expired_invitation_is_refused(workspace, owner):
    invitation = services.invitation_create(
        workspace=workspace, email="a@example.com", role="viewer", actor=owner
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    invitee = UserFactory(email="a@example.com")

    with pytest.raises(ValidationFailed) as error:
        services.invitation_accept(token=services.invitation_token(invitation), user=invitee)

    assert error.value.code == "expired"
    assert not Membership.objects.filter(user=invitee).exists()


def test_tampered_invitation_token_is_refused(workspace, owner):
    invitation = services.invitation_create(
        workspace=workspace, email="a@example.com", role="viewer", actor=owner
    )
    invitee = UserFactory(email="a@example.com")

    with pytest.raises(ValidationFailed):
        services.invitation_accept(token=services.invitation_token(invitation) + "x", user=invitee)


def test_admin_cannot_invite_an_owner(workspace, member):
    admin = member(workspace, Role.ADMIN).user

    with pytest.raises(Forbidden):
        services.invitation_create(workspace=workspace, email="a@example.com", role=Role.OWNER, actor=admin)

    assert Invitation.objects.count() == 0


def test_invitation_email_is_one_outbox_delivery_sent_once(workspace, owner):
    invitation = services.invitation_create(
        workspace=workspace, email="A@example.com", role="viewer", actor=owner
    )

    delivery = Delivery.objects.get()
    assert (delivery.workspace_id, delivery.dedupe_key, delivery.kind, delivery.state) == (
        workspace.pk,
        f"invitation:{invitation.pk}",
        "workspace.invitation",
        DeliveryState.PENDING,
    )
    assert (delivery.recipient, delivery.recipient_ref) == ("a@example.com", f"invitation:{invitation.pk}")
    assert delivery.subject == "You are invited to Acme on productops"
    assert services.invitation_link(invitation) in delivery.body_text  # rendered when invited

    services.invitation_send_email(invitation_id=invitation.pk)  # the task kept for old messages
    services.invitation_send_email(invitation_id=invitation.pk)
    assert outbox_send() == {}  # the sweeper finds nothing left

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a@example.com"]
    assert mail.outbox[0].body == delivery.body_text
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 1)


def test_the_outbox_sweeper_sends_emails_whose_enqueue_was_lost(workspace, owner):
    # No on_commit callbacks run in this test: as if the broker had been down.
    services.invitation_create(workspace=workspace, email="a@example.com", role="viewer", actor=owner)
    services.invitation_create(workspace=workspace, email="b@example.com", role="viewer", actor=owner)

    assert outbox_send() == {DeliveryState.SENT: 2}
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]


def test_token_is_stored_only_as_a_hash(workspace, owner):
    token, key = services.api_token_create(
        workspace=workspace, user=owner, name="ci", scopes=["write", "read"], actor=owner
    )

    assert key.startswith("po_")
    assert len(key) > 40
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.scopes == ["read", "write"]
    stored = ApiToken.objects.filter(pk=token.pk).values()[0]
    assert key not in {str(value) for value in stored.values()}
    assert token.prefix == key[:10]


def test_token_authenticates_until_revoked(workspace, owner):
    token, key = services.api_token_create(
        workspace=workspace, user=owner, name="ci", scopes=["read"], actor=owner
    )

    assert services.api_token_authenticate(key=key) == token
    services.api_token_revoke(token=token, actor=owner)

    assert services.api_token_authenticate(key=key) is None
    assert services.api_token_authenticate(key=key + "x") is None


def test_expired_token_does_not_authenticate(workspace, owner):
    token, key = services.api_token_create(
        workspace=workspace,
        user=owner,
        name="ci",
        scopes=["read"],
        actor=owner,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.api_token_authenticate(key=key) is None


def test_token_last_used_is_written_at_most_once_a_minute(workspace, owner, django_assert_num_queries):
    token, key = services.api_token_create(
        workspace=workspace, user=owner, name="ci", scopes=["read"], actor=owner
    )

    with django_assert_num_queries(2):  # lookup + last_used update
        services.api_token_authenticate(key=key)
    with django_assert_num_queries(1):  # lookup only
        services.api_token_authenticate(key=key)

    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_with_unknown_scope_is_refused(workspace, owner):
    with pytest.raises(ValidationFailed) as error:
        services.api_token_create(workspace=workspace, user=owner, name="ci", scopes=["admin"], actor=owner)

    assert error.value.attr == "scopes"
    assert ApiToken.objects.count() == 0


def test_member_cannot_create_a_token_for_someone_else(workspace, member):
    contributor = member(workspace, Role.CONTRIBUTOR).user
    other = member(workspace, Role.ADMIN).user

    with pytest.raises(Forbidden):
        services.api_token_create(
            workspace=workspace, user=other, name="x", scopes=["read"], actor=contributor
        )


# --- audit log ----------------------------------------------------------------


def test_audit_events_cannot_be_edited_in_the_database(workspace, owner):
    services.workspace_update(workspace=workspace, actor=None, data={"name": "New"})
    event = AuditEvent.objects.get(workspace=workspace)

    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="deleted")

    event.refresh_from_db()
    assert event.action == "updated"
    assert event.actor_label == "system"


def test_deleting_a_user_keeps_their_audit_events(workspace, member):
    admin = member(workspace, Role.ADMIN).user
    services.workspace_update(workspace=workspace, actor=admin, data={"name": "New"})

    admin.delete()

    event = AuditEvent.objects.get(workspace=workspace, action="updated")
    assert (event.actor, event.actor_label) == (None, admin.username)


# --- hardening (found in review) ------------------------------------------------


def test_removing_an_admin_revokes_the_invitations_they_sent(workspace, owner, member):
    admin = member(workspace, Role.ADMIN)
    invitation = services.invitation_create(
        workspace=workspace, email="second@example.com", role="admin", actor=admin.user
    )

    services.membership_remove(membership=admin, actor=owner)

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


class FailingEmailBackend:
    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("mail server went away")


def test_a_failed_invitation_email_is_retried_later(workspace, owner, settings):
    invitation = services.invitation_create(
        workspace=workspace, email="a@example.com", role="viewer", actor=owner
    )
    settings.EMAIL_BACKEND = "tests.productops.test_services.FailingEmailBackend"

    assert services.invitation_send_email(invitation_id=invitation.pk) == {DeliveryState.PENDING: 1}

    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert "mail server went away" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()  # backed off
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert outbox_send() == {DeliveryState.SENT: 1}
    assert len(mail.outbox) == 1


def test_revoked_invitations_emails_are_not_sent(workspace, owner, member):
    revoked = services.invitation_create(
        workspace=workspace, email="a@example.com", role="viewer", actor=owner
    )
    admin = member(workspace, Role.ADMIN)
    theirs = services.invitation_create(
        workspace=workspace, email="b@example.com", role="viewer", actor=admin.user
    )
    kept = services.invitation_create(workspace=workspace, email="c@example.com", role="viewer", actor=owner)

    services.invitation_revoke(invitation=revoked, actor=owner)
    services.membership_remove(membership=admin, actor=owner)  # revokes what they sent
    assert outbox_send() == {DeliveryState.SENT: 1}

    assert [m.to for m in mail.outbox] == [["c@example.com"]]
    states = dict(Delivery.objects.values_list("dedupe_key", "suppressed_reason"))
    assert states == {
        f"invitation:{revoked.pk}": SuppressedReason.OBSOLETE,
        f"invitation:{theirs.pk}": SuppressedReason.OBSOLETE,
        f"invitation:{kept.pk}": "",
    }


def test_a_broker_failure_after_commit_does_not_fail_the_request(django_capture_on_commit_callbacks, caplog):
    from celery import Task

    from productops.tasking import enqueue_on_commit

    class UnreachableBroker(Task):
        name = "tests.unreachable"

        def apply_async(self, *args, **kwargs):
            raise OSError("connection refused")

    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(UnreachableBroker(), 1)

    assert "enqueue tests.unreachable" in caplog.text


ON_POSTGRES = connection.vendor == "postgresql"


@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="the DELETE guard is a PostgreSQL trigger; SQLite test flushes empty tables with DELETE",
)
def test_audit_events_cannot_be_deleted_on_their_own(workspace, owner):
    services.workspace_update(workspace=workspace, actor=owner, data={"name": "New"})

    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(workspace=workspace).delete()

    assert AuditEvent.objects.filter(workspace=workspace).count() == 1


def test_deleting_a_workspace_takes_its_audit_log_with_it(workspace, owner):
    services.workspace_update(workspace=workspace, actor=owner, data={"name": "New"})

    services.workspace_delete(workspace=workspace, actor=owner)

    assert AuditEvent.objects.filter(workspace_id=workspace.pk).count() == 0
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert WorkspaceDeletion.objects.count() == 0
