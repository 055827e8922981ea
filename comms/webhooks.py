"""Outgoing webhooks (placeholder)."""


def endpoint_secrets(delivery) -> list[str]:
    return []


def after_recompute(*, workspace_id: int, run=None) -> None:
    return None
