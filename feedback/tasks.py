"""Celery tasks of the feedback app. Each takes ids and calls a service."""

from celery import shared_task

from feedback import services


@shared_task
def find_duplicates(item_ids: list[int]) -> int:
    """Store duplicate suggestions for new items; running it twice adds nothing."""
    for item_id in item_ids:
        services.duplicates_find(item_id=item_id)
    return len(item_ids)


@shared_task
def find_duplicates_pending() -> int:
    """Beat's safety net: items whose detection task was lost (broker down, worker killed)."""
    pending = services.duplicates_pending()
    for item_id in pending:
        services.duplicates_find(item_id=item_id)
    return len(pending)
