"""Celery tasks of the roadmap. Each takes ids and calls a service."""

from celery import shared_task

from roadmap import services


@shared_task(bind=True, max_retries=None)
def recompute_priorities(self, workspace_id: int, full: bool = False) -> dict:
    """Recompute the workspace's dirty features; if another run holds the lock, retry shortly."""
    result = services.priorities_recompute(workspace_id=workspace_id, full=full)
    if result.busy:
        raise self.retry(countdown=1)
    return {"recomputed": result.recomputed, "snapshots": result.snapshots}


@shared_task
def recompute_dirty_everywhere() -> int:
    """Beat's safety net: catches up whatever a lost enqueue or a dead worker left dirty."""
    return len(services.priorities_recompute_all_dirty())


@shared_task
def recompute_everything() -> int:
    """Daily full recompute, so recency decay reaches every score."""
    return len(services.priorities_recompute_everything())
