"""A contact who stopped the board's e-mails before the outbox is unsubscribed from customer
e-mail (close-the-loop notices included), as the board's link now does."""

from django.db import migrations
from django.db.models import Subquery
from django.utils import timezone


def forward(apps, schema_editor):
    BoardContact = apps.get_model("board", "BoardContact")
    Contact = apps.get_model("feedback", "Contact")
    opted_out = BoardContact.objects.filter(notifications_enabled=False).values("contact_id")
    Contact.objects.filter(pk__in=Subquery(opted_out), unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("board", "0005_remove_board_notification"),
        ("feedback", "0013_company_owners_consent"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
