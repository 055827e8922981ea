"""Celery tasks of comms. Each takes ids (or nothing) and calls a service."""

from celery import shared_task

from comms import digests


@shared_task
def digests_create_due() -> int:
    """Beat (every minute): the Delivery rows of every subscription whose digest period
    has come, per time zone; the outbox's sender renders and sends them."""
    return digests.digests_create_due()
