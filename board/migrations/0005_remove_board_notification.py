"""``BoardNotification`` and ``MagicLink.email_sent_at`` go: the board's e-mails and whether
they were sent are outbox deliveries now (0004 moved the rows)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("board", "0004_notifications_to_the_outbox"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="magiclink", name="board_magic_link_unsent"),
        migrations.RemoveField(model_name="magiclink", name="email_sent_at"),
        migrations.DeleteModel(name="BoardNotification"),
    ]
