"""``Idempotency-Key`` for write endpoints: the same key returns the same response.

The key is inserted in the same transaction as the write. A retry that arrives
while the first request is still running waits on the unique index, then finds
the stored response; a retry after a failed request (nothing committed) runs
again. The same key with a different body is refused (422), as Stripe does.
Keys are kept for ``IDEMPOTENCY_KEY_TTL_HOURS`` (default 24).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from productops.errors import DomainError, ValidationFailed
from productops.models import IdempotencyKey, Workspace

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    status_code = 422
    default_code = "idempotency_key_reused"
    error_type = "client_error"


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, cls=DjangoJSONEncoder).encode()).hexdigest()


def run_idempotent(
    *,
    workspace: Workspace,
    key: str | None,
    scope: str,
    body: Any,
    handler: Callable[[], tuple[int, Any]],
) -> tuple[int, Any, bool]:
    """Run ``handler`` (→ status, JSON-able data) at most once per key; ``(status, data, replayed)``.

    Without a key the handler simply runs. ``handler`` must do its writes in the
    caller's database (it runs inside this function's transaction).
    """
    if not key:
        status, data = handler()
        return status, data, False
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.", attr=HEADER, code="invalid"
        )
    fingerprint = request_fingerprint(body)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    workspace=workspace,
                    key=key,
                    scope=scope,
                    request_hash=fingerprint,
                    status_code=0,
                    response_body={},
                )
        except IntegrityError:
            stored = IdempotencyKey.objects.get(workspace=workspace, scope=scope, key=key)
            if stored.request_hash != fingerprint:
                raise IdempotencyKeyReused(
                    f"This {HEADER} was used with a different request body.", attr=HEADER
                ) from None
            return stored.status_code, stored.response_body, True
        status, data = handler()
        record.status_code = status
        record.response_body = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
        record.save(update_fields=["status_code", "response_body"])
    return status, data, False


def idempotency_keys_expire() -> int:
    """Delete keys past the retention window; returns how many."""
    hours = settings.IDEMPOTENCY_KEY_TTL_HOURS
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - timedelta(hours=hours)
    ).delete()
    return deleted
