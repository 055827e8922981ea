"""Enqueueing Celery tasks safely from services.

Tasks are sent only after the surrounding transaction commits (a rollback sends
nothing). If the broker is unreachable at that moment the error is logged and
the request still succeeds: every task that must run has its pending state
recorded in the database, and a periodic sweep picks it up, so an outage only
delays the work.
"""

from __future__ import annotations

import functools
from typing import Any

from celery import Task
from django.db import transaction


def enqueue_on_commit(task: Task, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(functools.partial(task.apply_async, args=args, kwargs=kwargs), robust=True)
