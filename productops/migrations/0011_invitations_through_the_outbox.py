"""Invitation e-mails move onto the outbox.

Each invitation becomes a ``Delivery`` ``invitation:<id>`` (kind ``workspace.invitation``):
one whose e-mail was sent is recorded ``sent`` at ``email_sent_at`` (no content: what the old
code sent was not stored); one still waiting (not sent, accepted, revoked or expired) is
``pending`` with its message rendered here, so the outbox's sender sends it. The old sweep
``productops.tasks.invitations_send_pending`` leaves beat: the outbox sweeper covers it.
The next migration drops ``Invitation.email_sent_at``.
"""

from django.conf import settings
from django.core import signing
from django.db import migrations
from django.utils import timezone

from productops.periodic import ensure_interval_task, remove_task

SWEEP = ("productops: send pending invitation emails", "productops.tasks.invitations_send_pending", 300)
KIND = "workspace.invitation"
# As productops.services.INVITATION_SALT and Role's labels when this was written.
INVITATION_SALT = "productops.invitation"
ROLE_LABELS = {
    "owner": "Owner",
    "admin": "Admin",
    "product_manager": "Product manager",
    "contributor": "Contributor",
    "viewer": "Viewer",
}


def _message(invitation) -> tuple[str, str]:
    inviter = invitation.invited_by.username if invitation.invited_by_id else "An administrator"
    token = signing.dumps(invitation.pk, salt=INVITATION_SALT)
    link = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/invitations/accept/?token={token}"
    name = invitation.workspace.name
    role = ROLE_LABELS.get(invitation.role, invitation.role)
    return (
        f"You are invited to {name} on productops",
        f"{inviter} invited you to join {name} as {role}.\n\nAccept: {link}\n\n"
        f"The link expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
    )


def invitations_to_deliveries(apps, schema_editor):
    invitation_model = apps.get_model("productops", "Invitation")
    delivery_model = apps.get_model("productops", "Delivery")
    now = timezone.now()
    rows = []
    invitations = invitation_model.objects.select_related("workspace", "invited_by").order_by("id")
    for invitation in invitations.iterator(chunk_size=1000):
        key = f"invitation:{invitation.pk}"
        common = {
            "workspace_id": invitation.workspace_id,
            "dedupe_key": key,
            "kind": KIND,
            "channel": "email",
            "recipient": invitation.email,
            "recipient_ref": key,
            "created_at": invitation.created_at,
            "context": {"migrated_from": "productops.Invitation.email_sent_at"},
        }
        if invitation.email_sent_at is not None:
            rows.append(
                delivery_model(
                    **common,
                    state="sent",
                    attempts=1,
                    sent_at=invitation.email_sent_at,
                    next_attempt_at=invitation.email_sent_at,
                )
            )
        elif invitation.accepted_at is None and invitation.revoked_at is None and invitation.expires_at > now:
            subject, text = _message(invitation)
            rows.append(
                delivery_model(
                    **common,
                    state="pending",
                    subject=subject,
                    body_text=text,
                    rendered_at=now,
                    next_attempt_at=now,
                )
            )
        if len(rows) >= 1000:
            delivery_model.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    delivery_model.objects.bulk_create(rows, ignore_conflicts=True)


def deliveries_to_invitations(apps, schema_editor):
    """Back to ``email_sent_at`` (a delivery that left the queue counts as sent, so the old
    sweep does not send it again); the deliveries are removed."""
    invitation_model = apps.get_model("productops", "Invitation")
    delivery_model = apps.get_model("productops", "Delivery")
    deliveries = delivery_model.objects.filter(kind=KIND)
    for delivery in deliveries.exclude(state="pending").iterator(chunk_size=1000):
        invitation_id = delivery.dedupe_key.removeprefix("invitation:")
        if invitation_id.isdecimal():
            invitation_model.objects.filter(pk=int(invitation_id)).update(
                email_sent_at=delivery.sent_at or delivery.updated_at
            )
    deliveries.delete()


def remove_sweep(apps, schema_editor):
    name, task, _ = SWEEP
    remove_task(apps, name=name)
    # Also a copy an operator renamed: its task no longer exists.
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=task).delete()


def restore_sweep(apps, schema_editor):
    name, task, every = SWEEP
    ensure_interval_task(apps, name=name, task=task, every_seconds=every)


class Migration(migrations.Migration):
    dependencies = [
        ("productops", "0010_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(invitations_to_deliveries, deliveries_to_invitations),
        migrations.RunPython(remove_sweep, restore_sweep),
    ]
