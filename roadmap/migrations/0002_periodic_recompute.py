"""Beat's safety net for the priority engine, editable in the admin console."""

from django.db import migrations

from productops.periodic import ensure_interval_task, remove_task

PERIODIC = [
    ("roadmap: recompute dirty priorities", "roadmap.tasks.recompute_dirty_everywhere", 60),
    ("roadmap: full priority recompute", "roadmap.tasks.recompute_everything", 24 * 60 * 60),
]


def add_schedule(apps, schema_editor):
    for name, task, every in PERIODIC:
        ensure_interval_task(apps, name=name, task=task, every_seconds=every)


def remove_schedule(apps, schema_editor):
    for name, _, _ in PERIODIC:
        remove_task(apps, name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("roadmap", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
