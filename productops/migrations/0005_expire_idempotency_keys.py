"""Beat forgets old Idempotency-Keys hourly."""

from django.db import migrations

from productops.periodic import ensure_interval_task, remove_task

NAME = "productops: expire idempotency keys"


def add_schedule(apps, schema_editor):
    ensure_interval_task(apps, name=NAME, task="productops.tasks.idempotency_keys_expire", every_seconds=3600)


def remove_schedule(apps, schema_editor):
    remove_task(apps, name=NAME)


class Migration(migrations.Migration):
    dependencies = [("productops", "0004_idempotency_key")]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
