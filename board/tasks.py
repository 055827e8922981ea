"""Celery tasks of the public board. Each takes ids and calls a service."""

from celery import shared_task

from board import services


@shared_task
def magic_link_send(magic_link_id: int) -> None:
    services.magic_link_send_email(magic_link_id=magic_link_id)


@shared_task
def board_sweep() -> dict[str, int]:
    """Beat's safety net and notifier: re-send lost sign-in links, turn new status changes
    of public features into notifications, and e-mail every unsent one."""
    links = services.magic_links_send_pending()
    collected = services.notifications_collect()
    sent = services.notifications_send_pending()
    return {"links": links, "collected": collected, "sent": sent}
