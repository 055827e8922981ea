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


@shared_task
def analyze_after_import(inserted: int) -> list[str]:
    """After a bulk ingest or a CSV import committed ``inserted`` items: refresh the
    planner's statistics if the import changed enough of the table."""
    return services.feedback_tables_analyze(inserted=inserted)
