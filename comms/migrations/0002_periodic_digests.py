from django.db import migrations

from productops.periodic import ensure_interval_task, remove_task

NAME = "comms: create due digests"


def add_schedule(apps, schema_editor):
    ensure_interval_task(apps, name=NAME, task="comms.tasks.digests_create_due", every_seconds=60)


def remove_schedule(apps, schema_editor):
    remove_task(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
