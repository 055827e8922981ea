"""Celery tasks of the platform core. Each takes ids and calls a service."""

from celery import shared_task

from productops import services


@shared_task(ignore_result=False)
def ping() -> str:
    """Round trip through broker, worker and result backend (used by tests and ops)."""
    return "pong"


@shared_task
def heartbeat(name: str = "worker") -> None:
    """Beat schedules this; its timestamp tells operators the worker runs."""
    services.heartbeat_record(name=name)


@shared_task
def invitation_send_email(invitation_id: int) -> None:
    """Send one invitation's outbox delivery now. New invitations enqueue ``outbox_send``
    instead; this name stays so messages queued before the outbox still work. (The old
    ``invitations_send_pending`` sweep is gone: ``outbox_sweep`` covers it.)"""
    services.invitation_send_email(invitation_id=invitation_id)


@shared_task
def idempotency_keys_expire() -> int:
    """Forget Idempotency-Keys older than the retention window."""
    from productops.idempotency import idempotency_keys_expire as expire

    return expire()


@shared_task
def events_dispatch() -> dict:
    """Hand new events to their consumers (comms); sent after the commit that recorded them,
    and by beat every minute as the safety net."""
    return services.events_dispatch()


@shared_task
def outbox_send(delivery_id: int | None = None) -> dict:
    """Send due deliveries (one, or every due one); beat runs it as the sweeper."""
    from productops.outbox.services import outbox_send as send

    return send(ids=[delivery_id] if delivery_id is not None else None)


@shared_task
def outbox_sweep() -> dict:
    """Beat's sweeper: everything due, including rows whose sender died (lease expired)."""
    from productops.outbox.services import outbox_send as send

    return send(limit=5_000)
