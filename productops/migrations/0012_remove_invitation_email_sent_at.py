"""Whether and when an invitation's e-mail was sent is its outbox delivery now (0011)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("productops", "0011_invitations_through_the_outbox"),
    ]

    operations = [
        migrations.RemoveField(model_name="invitation", name="email_sent_at"),
    ]
