"""Periodic tasks live in the database (django-celery-beat) so operators can edit
them in the admin console. Apps add theirs with a data migration that calls
:func:`ensure_interval_task`; an operator's later edits are never overwritten.
"""

from __future__ import annotations

from typing import Any


def ensure_interval_task(apps: Any, *, name: str, task: str, every_seconds: int) -> None:
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = interval_model.objects.get_or_create(every=every_seconds, period="seconds")
    task_model.objects.get_or_create(name=name, defaults={"task": task, "interval": interval})


def remove_task(apps: Any, *, name: str) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()
