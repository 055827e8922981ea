"""Celery tasks of the public board. Each takes ids and calls a service.

The board's e-mails are outbox deliveries: the outbox's sender (``productops.tasks.outbox_send``,
and beat's ``outbox_sweep``) sends them.
"""

from celery import shared_task

from board import services


@shared_task
def magic_link_send(magic_link_id: int) -> None:
    """Send one sign-in link's delivery now. New links enqueue the outbox's task instead;
    this name stays so messages queued before the outbox still work."""
    services.magic_link_send_email(magic_link_id=magic_link_id)


@shared_task
def board_sweep() -> dict[str, int]:
    """Beat's notifier (every 60 s): turn new status changes of public features into
    deliveries, and suppress sign-in e-mails whose link expired before they were sent."""
    expired = services.magic_links_expire_pending()
    collected = services.notifications_collect()
    return {"expired_links": expired, "collected": collected}
