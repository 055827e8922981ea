"""Beat's safety net for duplicate detection, editable in the admin console."""

from django.db import migrations

from productops.periodic import ensure_interval_task, remove_task

PERIODIC = [
    ("feedback: find duplicates of unchecked feedback", "feedback.tasks.find_duplicates_pending", 60),
]


def add_schedule(apps, schema_editor):
    for name, task, every in PERIODIC:
        ensure_interval_task(apps, name=name, task=task, every_seconds=every)


def remove_schedule(apps, schema_editor):
    for name, _, _ in PERIODIC:
        remove_task(apps, name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0004_text_search_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
