"""The admin console of the platform core: every model browsable with a constant number of
queries, the audit log read-only, writes through the services, staff only, beat schedule editable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from productops import services
from productops.models import (
    ApiToken,
    AuditEvent,
    Event,
    Heartbeat,
    IdempotencyKey,
    Invitation,
    Membership,
    Role,
    User,
    Workspace,
    WorkspaceDeletion,
)
from tests.productops.factories import MembershipFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def assert_admin_pages_work(client: Client, model, make: Callable[[int], object]) -> None:
    """Changelist and change page answer 200, and the changelist's query count stays the
    same from a couple of rows to a dozen more (nothing is loaded per row)."""
    first = [make(n) for n in range(2)]
    url = admin_url(model, "changelist")
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    assert response.status_code == 200
    for n in range(2, 14):
        make(n)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == model.objects.count() >= 14
    assert len(many) == len(few), [q["sql"] for q in many]
    assert client.get(admin_url(model, "change", first[0].pk)).status_code == 200


def _workspace(n: int) -> Workspace:
    return WorkspaceFactory()


def _membership(n: int) -> Membership:
    return MembershipFactory(workspace=WorkspaceFactory())


def _invitation(n: int) -> Invitation:
    membership = MembershipFactory(role=Role.OWNER)
    return services.invitation_create(
        workspace=membership.workspace, email=f"i{n}@example.com", role=Role.VIEWER, actor=membership.user
    )


def _token(n: int) -> ApiToken:
    membership = MembershipFactory()
    return services.api_token_create(
        workspace=membership.workspace, user=membership.user, name=f"t{n}", scopes=["read"], actor=None
    )[0]


def _audit_event(n: int) -> AuditEvent:
    workspace = WorkspaceFactory()
    return services.audit_record(workspace=workspace, actor=None, action="created", target=workspace)


def _event(n: int) -> Event:
    workspace = WorkspaceFactory()
    return services.event_record(
        workspace=workspace, kind=Event.Kind.RELEASE_SHIPPED, subject=workspace, payload={"n": n}
    )[0]


PRODUCTOPS_MAKERS = {
    User: lambda n: UserFactory(),
    Workspace: _workspace,
    Membership: _membership,
    Invitation: _invitation,
    ApiToken: _token,
    AuditEvent: _audit_event,
    Event: _event,
    Heartbeat: lambda n: Heartbeat.objects.create(name=f"hb{n}", last_seen_at=timezone.now()),
    WorkspaceDeletion: lambda n: WorkspaceDeletion.objects.create(workspace_id=10_000 + n),
    IdempotencyKey: lambda n: IdempotencyKey.objects.create(
        workspace=WorkspaceFactory(),
        key=f"k{n}",
        scope="test",
        request_hash="x",
        status_code=201,
        response_body={},
    ),
}


def test_every_model_of_the_app_is_registered():
    from django.apps import apps

    for model in apps.get_app_config("productops").get_models():
        assert admin.site.is_registered(model), model
    assert set(PRODUCTOPS_MAKERS) == set(apps.get_app_config("productops").get_models())


@pytest.mark.parametrize("model", list(PRODUCTOPS_MAKERS), ids=lambda m: m.__name__)
def test_changelist_and_change_page(admin_client, model):
    assert_admin_pages_work(admin_client, model, PRODUCTOPS_MAKERS[model])


def test_audit_log_cannot_be_added_changed_or_deleted(admin_client):
    event = _audit_event(0)

    assert admin_client.get(admin_url(AuditEvent, "add")).status_code == 403
    assert admin_client.post(admin_url(AuditEvent, "add"), {"action": "created"}).status_code == 403
    change = admin_client.post(admin_url(AuditEvent, "change", event.pk), {"action": "deleted"})
    assert change.status_code == 403
    assert admin_client.post(admin_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        admin_url(AuditEvent, "changelist"), {"action": "delete_selected", "_selected_action": [event.pk]}
    )
    assert bulk.status_code == 200  # the action is not offered
    event.refresh_from_db()
    assert event.action == "created"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_events_cannot_be_added_changed_or_deleted(admin_client):
    event = _event(0)

    assert admin_client.get(admin_url(Event, "changelist")).status_code == 200
    assert admin_client.get(admin_url(Event, "change", event.pk)).status_code == 200  # viewable
    assert admin_client.get(admin_url(Event, "add")).status_code == 403
    change = admin_client.post(admin_url(Event, "change", event.pk), {"kind": "other", "subject_id": "9"})
    assert change.status_code == 403
    assert admin_client.post(admin_url(Event, "delete", event.pk), {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        admin_url(Event, "changelist"), {"action": "delete_selected", "_selected_action": [event.pk]}
    )
    assert bulk.status_code == 200  # the action is not offered
    event.refresh_from_db()
    assert (event.kind, event.payload) == (Event.Kind.RELEASE_SHIPPED, {"n": 0})


def test_membership_role_change_goes_through_the_service(admin_client, workspace, owner):
    sole_owner = Membership.objects.get(workspace=workspace, user=owner)

    response = admin_client.post(
        admin_url(Membership, "change", sole_owner.pk), {"role": Role.ADMIN}, follow=True
    )

    assert "A workspace needs at least one owner." in response.content.decode()
    sole_owner.refresh_from_db()
    assert sole_owner.role == Role.OWNER


def test_non_staff_cannot_reach_the_admin(workspace, member):
    client = Client()
    client.force_login(member(workspace, Role.OWNER).user)

    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(admin_url(Membership, "changelist")).status_code == 302
    assert Client().get(admin_url(AuditEvent, "changelist")).status_code == 302


def test_beat_schedule_is_editable_in_the_admin(admin_client):
    assert PeriodicTask.objects.filter(name="productops: send pending invitation emails").exists()

    listing = admin_client.get(admin_url(PeriodicTask, "changelist"))

    assert listing.status_code == 200
    assert "productops: send pending invitation emails" in listing.content.decode()
    task = PeriodicTask.objects.get(name="productops: send pending invitation emails")
    assert admin_client.get(admin_url(PeriodicTask, "change", task.pk)).status_code == 200


def test_admin_pages_carry_the_product_icon(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in page
    assert "Django administration" in page  # still Django's own layout around it
