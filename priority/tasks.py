"""Celery tasks of the priority engine. Each takes ids and calls a service.

The task names are the ones the queue and beat's schedule have always used
(``roadmap.tasks.*``); ``roadmap.services.RECOMPUTE_TASK`` sends the first by name.
"""

from celery import shared_task

from priority import services
from roadmap.services import RECOMPUTE_TASK


@shared_task(bind=True, max_retries=None, name=RECOMPUTE_TASK)
def recompute_priorities(self, workspace_id: int, full: bool = False) -> dict:
    """Recompute the workspace's dirty features; if another run holds it, retry shortly.

    A workspace waiting out a failure's backoff is left to beat's sweep."""
    result = services.priorities_recompute(workspace_id=workspace_id, full=full)
    if result.busy:
        raise self.retry(countdown=1)
    return {
        "recomputed": result.recomputed,
        "snapshots": result.snapshots,
        "failed": result.failed,
        "skipped": result.skipped,
    }


@shared_task(name="roadmap.tasks.recompute_dirty_everywhere")
def recompute_dirty_everywhere() -> int:
    """Beat's sweep (every minute): every workspace with a recompute requested or dirty features."""
    return len(services.priorities_recompute_pending())


@shared_task(name="roadmap.tasks.recompute_everything")
def recompute_everything() -> int:
    """Daily full recompute, so recency decay reaches every score."""
    return len(services.priorities_recompute_everything())
