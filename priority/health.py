"""The engine's readiness probe: workspaces whose scores are stuck.

Registered with ``productops.health`` in ``PriorityConfig.ready``. A stuck workspace
is reported in ``/readyz``'s details but never makes it answer 503: one poisoned
workspace must not take the web tier out of the load balancer.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Min, Q
from django.utils import timezone

from roadmap.models import RoadmapSettings

#: A request older than this, not yet covered by a run, counts as stuck.
STUCK_AFTER = timedelta(minutes=10)
LISTED = 20


def stuck_workspaces(*, now=None, limit: int = LISTED) -> dict:
    """Workspaces whose last run failed, or whose requested recompute is older than
    :data:`STUCK_AFTER`: ``{"count": n, "workspaces": [...]}`` (the first ``limit``)."""
    now = now or timezone.now()
    stuck = RoadmapSettings.objects.filter(
        Q(recompute_failures__gt=0) | Q(recompute_requested_at__lt=now - STUCK_AFTER)
    ).select_related("workspace")
    rows = [
        {
            "workspace": row.workspace.slug,
            "failures": row.recompute_failures,
            "last_error": row.recompute_last_error[:300],
            "next_attempt_at": row.recompute_next_attempt_at.isoformat()
            if row.recompute_next_attempt_at
            else None,
            "requested_at": row.recompute_requested_at.isoformat() if row.recompute_requested_at else None,
            "last_recomputed_at": row.last_recomputed_at.isoformat() if row.last_recomputed_at else None,
        }
        for row in stuck.order_by("-recompute_failures", "recompute_requested_at", "id")[:limit]
    ]
    oldest = stuck.aggregate(oldest=Min("recompute_requested_at"))["oldest"]
    return {
        "count": stuck.count(),
        "oldest_request_age_seconds": int((now - oldest).total_seconds()) if oldest else None,
        "workspaces": rows,
    }


def recompute_probe() -> dict:
    """``/readyz`` detail: ``ok`` is False when any workspace is stuck (informational)."""
    report = stuck_workspaces()
    return {"ok": report["count"] == 0, **report}
