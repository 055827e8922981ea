"""Enqueueing Celery tasks safely from services.

Tasks are sent only after the surrounding transaction commits (a rollback sends
nothing). If the broker is unreachable at that moment the error is logged and
the request still succeeds: every task that must run has its pending state
recorded in the database, and a periodic sweep picks it up, so an outage only
delays the work.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from django.db import transaction


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    def send() -> None:
        task.apply_async(args=args, kwargs=kwargs)

    # A named function: Django's robust on_commit logs failures by __qualname__.
    send.__qualname__ = f"enqueue {task.name}"
    transaction.on_commit(send, robust=True)
