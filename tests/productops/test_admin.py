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
from productops.outbox.models import Channel, Delivery, DeliveryState, EmailSuppression, SuppressedReason
from productops.outbox.services import Message, delivery_create
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


def _delivery(n: int, workspace: Workspace | None = None, **fields) -> Delivery:
    return delivery_create(
        workspace=workspace or WorkspaceFactory(),
        dedupe_key=f"board:{n}:1",
        kind=fields.pop("kind", "board.status"),
        channel=fields.pop("channel", Channel.EMAIL),
        recipient=fields.pop("recipient", f"contact{n}@example.com"),
        recipient_ref=f"contact:{n}",
        message=Message(subject=f"Update {n}", text=f"Text {n}", html=f"<p>Html {n}</p>"),
        **fields,
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
    Delivery: _delivery,
    EmailSuppression: lambda n: EmailSuppression.objects.create(
        email=f"bounced{n}@example.com", reason=SuppressedReason.BOUNCED
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
    assert PeriodicTask.objects.filter(name="productops: send due deliveries (outbox sweeper)").exists()

    listing = admin_client.get(admin_url(PeriodicTask, "changelist"))

    assert listing.status_code == 200
    assert "productops: send due deliveries (outbox sweeper)" in listing.content.decode()
    task = PeriodicTask.objects.get(name="productops: send due deliveries (outbox sweeper)")
    assert admin_client.get(admin_url(PeriodicTask, "change", task.pk)).status_code == 200


def test_admin_pages_carry_the_product_icon(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in page
    assert "productops admin console" in page  # Django's own layout, branded (issue 13)


# --- the outbox ---------------------------------------------------------------------------


def _failed(n: int, workspace: Workspace | None = None) -> Delivery:
    row = _delivery(n, workspace)
    Delivery.objects.filter(pk=row.pk).update(state=DeliveryState.FAILED, attempts=8, last_error="SMTP down")
    row.refresh_from_db()
    return row


def _retry(client: Client, rows) -> list[tuple[str, str]]:
    response = client.post(
        admin_url(Delivery, "changelist"),
        {"action": "retry", "_selected_action": [row.pk for row in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_deliveries_are_read_only_and_their_page_shows_what_was_stored(admin_client):
    row = _failed(1)
    Delivery.objects.filter(pk=row.pk).update(payload={"blocks": [{"type": "section"}]})

    page = admin_client.get(admin_url(Delivery, "change", row.pk))

    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("Update 1", "Text 1", "&lt;p&gt;Html 1&lt;/p&gt;", "SMTP down", "board:1:1", "section"):
        assert shown in text, shown
    assert 'name="subject"' not in text  # nothing is a form field
    assert admin_client.get(admin_url(Delivery, "add")).status_code == 403
    change = admin_client.post(admin_url(Delivery, "change", row.pk), {"subject": "Forged", "state": "sent"})
    assert change.status_code == 403
    assert admin_client.post(admin_url(Delivery, "delete", row.pk), {"post": "yes"}).status_code == 403
    row.refresh_from_db()
    assert (row.subject, row.state) == ("Update 1", DeliveryState.FAILED)


def test_the_delivery_list_filters_searches_and_does_not_load_the_stored_bodies(admin_client):
    workspace = WorkspaceFactory()
    wanted = _failed(1, workspace)
    Delivery.objects.filter(pk=wanted.pk).update(provider_message_id="<abc@mail.example>")
    _delivery(
        2, kind="comms.digest", channel=Channel.SLACK, recipient="https://hooks.slack.com/services/T/B/x"
    )
    url = admin_url(Delivery, "changelist")

    for query in (
        "?state__exact=failed",
        "?channel__exact=email",
        "?kind=board.status",
        f"?workspace__id__exact={workspace.pk}",
        "?q=contact1@example.com",
        "?q=board:1:1",
        "?q=contact:1",
        "?q=abc@mail.example",
    ):
        response = admin_client.get(url + query)
        assert [r.pk for r in response.context["cl"].result_list] == [wanted.pk], query

    with CaptureQueriesContext(connection) as queries:
        admin_client.get(url)
    listing = [
        q["sql"] for q in queries if 'FROM "productops_delivery"' in q["sql"] and "COUNT" not in q["sql"]
    ]
    assert listing
    assert all('"body_html"' not in sql and '"body_text"' not in sql for sql in listing), listing


def test_retry_failed_deliveries_requeues_them_audited_as_the_operator(
    admin_client, django_capture_on_commit_callbacks
):
    workspace = WorkspaceFactory()
    first, second = _failed(1, workspace), _failed(2, WorkspaceFactory())
    sent = _delivery(3, workspace)
    Delivery.objects.filter(pk=sent.pk).update(state=DeliveryState.SENT)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notes = _retry(admin_client, [first, second, sent])

    assert notes == [
        ("success", "2 failed deliveries queued again."),
        ("warning", "1 of the selected was not failed; left alone."),
    ]
    assert [c.__qualname__ for c in callbacks] == ["enqueue productops.tasks.outbox_send"]
    for row in (first, second):
        row.refresh_from_db()
        assert (row.state, row.attempts) == (DeliveryState.PENDING, 0)
    sent.refresh_from_db()
    assert sent.state == DeliveryState.SENT
    audits = AuditEvent.objects.filter(target_type="productops.delivery").order_by("id")
    assert sorted((a.target_id, a.workspace_id, a.actor_label) for a in audits) == sorted(
        [
            (str(first.pk), first.workspace_id, "operator:admin"),
            (str(second.pk), second.workspace_id, "operator:admin"),
        ]
    )


def test_retrying_nothing_failed_changes_nothing(admin_client):
    row = _delivery(1)

    assert _retry(admin_client, [row]) == [("warning", "1 of the selected was not failed; left alone.")]

    row.refresh_from_db()
    assert row.state == DeliveryState.PENDING
    assert not AuditEvent.objects.filter(target_type="productops.delivery").exists()


def test_staff_without_the_change_permission_cannot_retry(client):
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(staff)
    row = _failed(1)

    page = client.get(admin_url(Delivery, "changelist"))
    assert page.status_code == 200
    assert "Retry failed deliveries" not in page.content.decode()
    client.post(admin_url(Delivery, "changelist"), {"action": "retry", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert row.state == DeliveryState.FAILED


def test_adding_a_suppressed_address_goes_through_the_service_and_deleting_it_unsuppresses(admin_client):
    pending = _delivery(1, recipient="Bounce@Example.com")

    response = admin_client.post(
        admin_url(EmailSuppression, "add"),
        {"email": "bounce@example.com", "reason": SuppressedReason.COMPLAINED, "detail": "phoned us"},
    )

    assert response.status_code == 302
    entry = EmailSuppression.objects.get()
    assert (entry.email, entry.reason, entry.detail) == ("bounce@example.com", "complained", "phoned us")
    pending.refresh_from_db()
    assert (pending.state, pending.suppressed_reason) == (DeliveryState.SUPPRESSED, "complained")

    assert admin_client.get(admin_url(EmailSuppression, "change", entry.pk)).status_code == 200
    edit = admin_client.post(admin_url(EmailSuppression, "change", entry.pk), {"email": "x@example.com"})
    assert edit.status_code == 403
    deleted = admin_client.post(admin_url(EmailSuppression, "delete", entry.pk), {"post": "yes"})
    assert deleted.status_code == 302
    assert not EmailSuppression.objects.exists()


def test_the_suppression_form_offers_only_provider_reasons(admin_client):
    response = admin_client.post(
        admin_url(EmailSuppression, "add"), {"email": "a@example.com", "reason": SuppressedReason.NO_CONSENT}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "reason": ["Select a valid choice. no_consent is not one of the available choices."]
    }
    assert not EmailSuppression.objects.exists()
