"""Celery tasks of the feedback app. Each takes ids and calls a service."""

import time

from celery import shared_task

from feedback import duplicate_services, services, vectors


@shared_task
def find_duplicates(item_ids: list[int]) -> int:
    """Embed new items and store their duplicate suggestions, as one batch; running it
    twice adds nothing."""
    return duplicate_services.duplicates_find_many(item_ids=item_ids)


#: How long one run of the sweep works before it leaves the rest to the next run.
SWEEP_SECONDS = 45


@shared_task
def find_duplicates_pending() -> int:
    """Beat's safety net and catch-up: items whose detection task was lost (broker down,
    worker killed), items whose vector another model made, features whose text changed.
    Works in batches for at most ``SWEEP_SECONDS``; returns how many items it checked."""
    started = time.monotonic()
    vectors.vectors_outdated_recheck()
    vectors.features_embed_pending()
    checked = 0
    while time.monotonic() - started < SWEEP_SECONDS:
        pending = services.duplicates_pending(limit=SWEEP_BATCH)
        if not pending:
            break
        done = duplicate_services.duplicates_find_many(item_ids=pending)
        checked += done
        if done < len(pending):
            break  # a workspace failed (logged): leave its items to the next run
    return checked


SWEEP_BATCH = 500


@shared_task
def analyze_after_import(inserted: int) -> list[str]:
    """After a bulk ingest or a CSV import committed ``inserted`` items: refresh the
    planner's statistics if the import changed enough of the table."""
    return services.feedback_tables_analyze(inserted=inserted)


@shared_task
def themes_recompute(workspace_id: int, period_days: int = 30) -> int:
    """Recompute one workspace's themes of a period ("Recompute themes"); returns how many."""
    from feedback import theme_services

    return len(theme_services.themes_recompute(workspace_id=workspace_id, period_days=period_days))


@shared_task
def themes_recompute_all() -> int:
    """Beat, every 6 hours: every period's themes of every workspace with feedback to cluster
    (or themes to clear). A workspace that fails does not stop the others."""
    import logging

    from feedback import theme_services

    done = 0
    for workspace_id in theme_services.workspaces_with_themes_to_compute():
        for period_days in theme_services.PERIODS:
            try:
                theme_services.themes_recompute(workspace_id=workspace_id, period_days=period_days)
            except Exception:
                logging.getLogger(__name__).exception(
                    "themes recompute failed",
                    extra={"workspace_id": workspace_id, "period_days": period_days},
                )
            else:
                done += 1
    return done
