"""The board's e-mails move onto the outbox (``productops.Delivery``).

- Each ``BoardNotification`` becomes a delivery ``board:<contact>:<status change>`` (kind
  ``board.status``, e-mail to the contact, ``recipient_ref`` ``contact:<id>``): a sent one is
  ``sent`` at its ``sent_at`` (no content: the old code did not store what it sent); a
  skipped one (the contact opted out) is ``suppressed`` (``unsubscribed``); an unsent one is
  ``pending`` with its plain-text notice rendered here, so the outbox's sender sends it, or
  ``failed`` with the error if the mail server had refused it as often as the old sweep
  tried (it can be retried from the delivery log).
- A sign-in link not yet e-mailed, unused and unexpired becomes a ``pending`` delivery
  ``magic-link:<id>`` (kind ``board.sign_in``) with its message.

The next migration drops ``BoardNotification`` and ``MagicLink.email_sent_at``. Paths and
labels are written out as they were when this ran, so later renames do not change it.
"""

from django.conf import settings
from django.core import signing
from django.db import migrations
from django.utils import timezone
from django.utils.crypto import salted_hmac

STATUS_KIND = "board.status"
SIGN_IN_KIND = "board.sign_in"
UNSUBSCRIBE_SALT = "board.unsubscribe"
MAGIC_LINK_SALT = "board.magic-link"
#: The old sweep's NOTIFY_MAX_ATTEMPTS: it gave up on a notice refused this often.
GAVE_UP_AFTER = 5
STATUS_LABELS = {
    "idea": "Idea",
    "under_consideration": "Under consideration",
    "planned": "Planned",
    "in_progress": "In progress",
    "shipped": "Shipped",
    "declined": "Declined",
}
MIGRATED = {"migrated_from": "board.BoardNotification"}


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def status_notice(*, slug: str, workspace_id: int, contact_id: int, feature, to_status: str):
    """(subject, text, headers) of the board's status notice, as the board wrote it."""
    label = STATUS_LABELS.get(to_status, to_status)
    token = signing.dumps({"w": workspace_id, "c": contact_id}, salt=UNSUBSCRIBE_SALT)
    unsubscribe_url = f"{_base()}/p/{slug}/unsubscribe/{token}/"
    text = (
        f"An idea you asked for or voted on changed status.\n\n{feature.title}\n"
        f"Now: {label}\n\n"
        f"{_base()}/p/{slug}/features/{feature.pk}/\n\n"
        f"Stop these e-mails: {unsubscribe_url}"
    )
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return _one_line(f"Update: {feature.title} is now {label.lower()}"), text, headers


def _flush(model, rows: list) -> None:
    model.objects.bulk_create(rows, ignore_conflicts=True)
    rows.clear()


def notifications_to_deliveries(apps, schema_editor):
    notification_model = apps.get_model("board", "BoardNotification")
    delivery_model = apps.get_model("productops", "Delivery")
    now = timezone.now()
    rows: list = []
    notifications = (
        notification_model.objects.select_related(
            "workspace", "contact", "status_change", "status_change__feature"
        )
        # Only what the notice needs: the columns of the related tables may change later.
        .only(
            "id",
            "workspace_id",
            "created_at",
            "sent_at",
            "skipped",
            "failed_attempts",
            "workspace__slug",
            "contact__id",
            "contact__email",
            "status_change__id",
            "status_change__to_status",
            "status_change__feature__id",
            "status_change__feature__title",
        )
        .order_by("id")
    )
    for notification in notifications.iterator(chunk_size=1000):
        contact, change = notification.contact, notification.status_change
        row = delivery_model(
            workspace_id=notification.workspace_id,
            dedupe_key=f"board:{contact.pk}:{change.pk}",
            kind=STATUS_KIND,
            channel="email",
            recipient=contact.email,
            recipient_ref=f"contact:{contact.pk}",
            created_at=notification.created_at,
            next_attempt_at=now,
            attempts=notification.failed_attempts,
            context={**MIGRATED, "notification_id": notification.pk},
        )
        if notification.sent_at is not None:
            row.state, row.sent_at = "sent", notification.sent_at
            row.attempts = notification.failed_attempts + 1
        elif notification.skipped:
            row.state, row.suppressed_reason = "suppressed", "unsubscribed"
        else:
            row.subject, row.body_text, row.headers = status_notice(
                slug=notification.workspace.slug,
                workspace_id=notification.workspace_id,
                contact_id=contact.pk,
                feature=change.feature,
                to_status=change.to_status,
            )
            row.rendered_at = now
            if notification.failed_attempts >= GAVE_UP_AFTER:
                row.state = "failed"
                row.last_error = (
                    f"The mail server refused it {notification.failed_attempts} times "
                    "(before the move to the outbox)."
                )
            else:
                row.state = "pending"
        rows.append(row)
        if len(rows) >= 1000:
            _flush(delivery_model, rows)
    _flush(delivery_model, rows)


def deliveries_to_notifications(apps, schema_editor):
    """Back to one ``BoardNotification`` per ``board.status`` delivery whose contact and status
    change still exist; the deliveries are removed."""
    notification_model = apps.get_model("board", "BoardNotification")
    delivery_model = apps.get_model("productops", "Delivery")
    contact_model = apps.get_model("feedback", "Contact")
    change_model = apps.get_model("roadmap", "FeatureStatusChange")
    deliveries = delivery_model.objects.filter(kind=STATUS_KIND)
    parsed = []
    for delivery in deliveries.iterator(chunk_size=1000):
        parts = delivery.dedupe_key.split(":")
        if len(parts) == 3 and parts[1].isdecimal() and parts[2].isdecimal():
            parsed.append((delivery, int(parts[1]), int(parts[2])))
    contacts = set(
        contact_model.objects.filter(pk__in={c for _, c, _ in parsed}).values_list("pk", flat=True)
    )
    changes = set(change_model.objects.filter(pk__in={s for _, _, s in parsed}).values_list("pk", flat=True))
    rows = [
        notification_model(
            workspace_id=delivery.workspace_id,
            contact_id=contact_id,
            status_change_id=change_id,
            sent_at=delivery.sent_at if delivery.state == "sent" else None,
            skipped=delivery.state == "suppressed",
            failed_attempts=min(delivery.attempts, GAVE_UP_AFTER) if delivery.state != "sent" else 0,
        )
        for delivery, contact_id, change_id in parsed
        if contact_id in contacts and change_id in changes
    ]
    notification_model.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    deliveries.delete()


def unsent_links_to_deliveries(apps, schema_editor):
    link_model = apps.get_model("board", "MagicLink")
    delivery_model = apps.get_model("productops", "Delivery")
    board_model = apps.get_model("board", "BoardSettings")
    now = timezone.now()
    minutes = settings.BOARD_MAGIC_LINK_MINUTES
    links = (
        link_model.objects.filter(email_sent_at__isnull=True, used_at__isnull=True, expires_at__gt=now)
        .select_related("workspace")
        .only("id", "workspace_id", "email", "secret", "created_at", "workspace__slug", "workspace__name")
    )
    titles = dict(board_model.objects.values_list("workspace_id", "title"))
    rows = []
    for link in links:
        token = salted_hmac(
            MAGIC_LINK_SALT, f"{link.workspace_id}:{link.secret}", algorithm="sha256"
        ).hexdigest()
        name = titles.get(link.workspace_id) or f"{link.workspace.name} feedback"
        key = f"magic-link:{link.pk}"
        rows.append(
            delivery_model(
                workspace_id=link.workspace_id,
                dedupe_key=key,
                kind=SIGN_IN_KIND,
                channel="email",
                recipient=link.email,
                recipient_ref=key,
                subject=_one_line(f"Your sign-in link for {name}"),
                body_text=(
                    f"Use this link to sign in to {name}:\n\n{_base()}/p/{link.workspace.slug}/verify/{token}/\n\n"
                    f"It works once, for {minutes} minutes. If you did not ask for it, ignore this e-mail."
                ),
                rendered_at=now,
                created_at=link.created_at,
                next_attempt_at=now,
            )
        )
    delivery_model.objects.bulk_create(rows, ignore_conflicts=True)


def sign_in_deliveries_remove(apps, schema_editor):
    """Back to ``MagicLink.email_sent_at``: a link whose delivery left the queue counts as sent
    (so the old sweep does not send it again); the deliveries are removed."""
    link_model = apps.get_model("board", "MagicLink")
    deliveries = apps.get_model("productops", "Delivery").objects.filter(kind=SIGN_IN_KIND)
    for delivery in deliveries.exclude(state="pending").iterator(chunk_size=1000):
        link_id = delivery.dedupe_key.removeprefix("magic-link:")
        if link_id.isdecimal():
            link_model.objects.filter(pk=int(link_id)).update(
                email_sent_at=delivery.sent_at or delivery.updated_at
            )
    deliveries.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("board", "0003_notification_failed_attempts"),
        ("productops", "0010_outbox"),
        ("feedback", "0001_initial"),
        ("roadmap", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(notifications_to_deliveries, deliveries_to_notifications),
        migrations.RunPython(unsent_links_to_deliveries, sign_in_deliveries_remove),
    ]
