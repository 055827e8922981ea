"""Beat runs the board's sweep: lost sign-in links, status-change notifications (admin-editable)."""

from django.db import migrations

from productops.periodic import ensure_interval_task, remove_task

PERIODIC = [
    ("board: sign-in links and status notifications", "board.tasks.board_sweep", 60),
]


def add_schedule(apps, schema_editor):
    for name, task, every in PERIODIC:
        ensure_interval_task(apps, name=name, task=task, every_seconds=every)


def remove_schedule(apps, schema_editor):
    for name, _, _ in PERIODIC:
        remove_task(apps, name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("board", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
