"""Carrying the request id into Celery tasks, so one request can be followed through the worker.

- ``before_task_publish``: a task sent while a request id is current (in a request, or in a
  task that carries one) gets it as the message header ``request_id``. That covers
  ``apply_async``/``delay``, ``send_task`` by name, ``enqueue_on_commit`` (its callback runs
  at the commit, inside the request) and a task's own retries.
- ``task_prerun``: the worker makes the header's id current while the task runs, with the
  task's name and id (and ``workspace_id`` when the task takes one) on every log line. A
  task with no header (sent by beat, or from a shell) uses its own task id, so the tasks it
  sends in turn can still be followed. A task run in-process (``apply``, eager) keeps the
  caller's id.
- ``task_postrun``: the previous context is restored.

Celery is told not to configure logging (``setup_logging``): settings' ``LOGGING``, which
``django.setup()`` applies in the worker and beat as in the web process, is the only
configuration, so their lines have the same format and fields. The worker's ``--loglevel``
is therefore ignored; ``LOG_LEVEL`` sets the level everywhere.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from celery import Task
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from productops.request_id import Bound, context_bind, context_reset, current_request_id

logger = logging.getLogger(__name__)

#: The message header that carries the request id.
HEADER = "request_id"

_bound: dict[str, Bound] = {}
_signatures: dict[str, inspect.Signature | None] = {}


@before_task_publish.connect(dispatch_uid="productops.task_context.publish")
def _carry_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    request_id = current_request_id()
    if request_id is not None and headers is not None and not headers.get(HEADER):
        headers[HEADER] = request_id


def task_request_id(task: Task, task_id: str) -> str:
    """The id a running task logs under: its header's, else the caller's (a task run
    in-process), else its own task id."""
    request = task.request
    carried = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    return carried or current_request_id() or task_id


def _workspace_id(task: Task, args: tuple, kwargs: dict) -> object:
    if task.name not in _signatures:
        try:
            _signatures[task.name] = inspect.signature(task.run)
        except (TypeError, ValueError):
            _signatures[task.name] = None
    signature = _signatures[task.name]
    if signature is None or "workspace_id" not in signature.parameters:
        return None
    try:
        return signature.bind_partial(*(args or ()), **(kwargs or {})).arguments.get("workspace_id")
    except TypeError:
        return None


@task_prerun.connect(dispatch_uid="productops.task_context.prerun")
def _bind(
    task_id: str | None = None,
    task: Task | None = None,
    args: tuple = (),
    kwargs: dict | None = None,
    **_: Any,
) -> None:
    if task is None or task_id is None:
        return
    _bound[task_id] = context_bind(
        request_id=task_request_id(task, task_id),
        task_name=task.name,
        task_id=task_id,
        workspace_id=_workspace_id(task, args, kwargs or {}),
    )


@task_postrun.connect(dispatch_uid="productops.task_context.postrun")
def _unbind(task_id: str | None = None, **_: Any) -> None:
    bound = _bound.pop(task_id, None) if task_id is not None else None
    if bound is None:
        return
    try:
        context_reset(bound)
    except ValueError:
        # Bound in another context (never in Celery's pools): nothing of ours to restore.
        logger.warning("Task %s ended in another context than it started in", task_id)


@setup_logging.connect(dispatch_uid="productops.task_context.logging")
def _keep_django_logging(**kwargs: Any) -> None:
    """Django's LOGGING is the configuration; a connected receiver stops Celery adding its own."""
