"""Writes of the priority engine: recompute runs, beat's sweeps, the scoring preview.

Every sweep isolates workspaces: a run that fails is recorded on its workspace's
settings row (``recompute_failures``, ``recompute_last_error``,
``recompute_next_attempt_at``) and logged, the workspace is skipped until its next
attempt, and the sweep goes on with the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from priority import recompute
from priority.recompute import RecomputeResult
from productops.errors import Conflict
from productops.models import Role, User, Workspace
from productops.services import require_role
from roadmap.models import Feature, RoadmapSettings, ScorecardCriterion, ScoreState
from roadmap.selectors import settings_for
from roadmap.services import features_mark_dirty, recompute_schedule_clear, scoring_proposal

logger = logging.getLogger(__name__)


def _in_backoff(workspace_id: int, now: datetime) -> bool:
    return RoadmapSettings.objects.filter(
        workspace_id=workspace_id, recompute_next_attempt_at__gt=now
    ).exists()


def priorities_recompute(
    *, workspace_id: int, full: bool = False, now: datetime | None = None
) -> RecomputeResult:
    """One run for the workspace (the queued task), unless it is waiting out a failure's
    backoff (then ``skipped``: beat's sweep retries it when its next attempt is due)."""
    now = now or timezone.now()
    recompute_schedule_clear(workspace_id=workspace_id)
    if _in_backoff(workspace_id, now):
        return RecomputeResult(workspace_id=workspace_id, skipped=True)
    return _notify(recompute.run(workspace_id=workspace_id, full=full, now=now))


#: Called after every finished run that recomputed something, with ``workspace_id`` and the
#: run's result (comms evaluates rank moves and thresholds once per run). Registered by the
#: layer above in ``AppConfig.ready``; a listener's failure is logged, never the run's.
_recompute_listeners: list[Any] = []


def recompute_listeners_register(listener: Any) -> None:
    if listener not in _recompute_listeners:
        _recompute_listeners.append(listener)


def _notify(result: RecomputeResult) -> RecomputeResult:
    if result.busy or result.failed or result.skipped or not result.recomputed:
        return result
    for listener in list(_recompute_listeners):
        try:
            listener(workspace_id=result.workspace_id, run=result)
        except Exception:
            logger.exception("recompute listener %r failed for workspace %s", listener, result.workspace_id)
    return result


def workspaces_pending(*, now: datetime | None = None) -> list[int]:
    """Workspaces whose scores are out of date and whose next attempt is due: a recompute
    requested and not covered yet, or features still dirty (or left claimed by a dead run)."""
    now = now or timezone.now()
    waiting = set(
        RoadmapSettings.objects.filter(recompute_next_attempt_at__gt=now).values_list(
            "workspace_id", flat=True
        )
    )
    requested = set(
        RoadmapSettings.objects.filter(recompute_requested_at__isnull=False).values_list(
            "workspace_id", flat=True
        )
    )
    dirty = set(
        Feature.objects.filter(score_state__in=[ScoreState.DIRTY, ScoreState.RECOMPUTING])
        .order_by()
        .values_list("workspace_id", flat=True)
        .distinct()
    )
    return sorted((requested | dirty) - waiting)


def _run_isolated(workspace_id: int, *, full: bool, now: datetime) -> RecomputeResult:
    """A run whose failure, even one outside the run's own guard (the database going away
    while the lease is taken), is logged and returned instead of raised."""
    try:
        return _notify(recompute.run(workspace_id=workspace_id, full=full, now=now))
    except Exception as exc:
        logger.exception("Priority recompute of workspace %s could not start", workspace_id)
        return RecomputeResult(workspace_id=workspace_id, failed=True, error=recompute.describe(exc))


def priorities_recompute_pending(*, now: datetime | None = None) -> list[RecomputeResult]:
    """Beat's sweep: one run per pending workspace (:func:`workspaces_pending`), each isolated."""
    now = now or timezone.now()
    return [_run_isolated(ws, full=False, now=now) for ws in workspaces_pending(now=now)]


def priorities_request_everything() -> list[int]:
    """Mark every feature of every workspace dirty (recency decay moves every score); each
    mark records the workspace's request. Returns the workspaces marked."""
    workspace_ids = sorted(set(Feature.objects.order_by().values_list("workspace_id", flat=True).distinct()))
    marked = []
    for workspace_id in workspace_ids:
        try:
            with transaction.atomic():
                features_mark_dirty(workspace_id=workspace_id, schedule=False)
        except Exception:
            logger.exception("Could not mark workspace %s for its daily recompute", workspace_id)
        else:
            marked.append(workspace_id)
    return marked


def priorities_recompute_everything(*, now: datetime | None = None) -> list[RecomputeResult]:
    """Daily: :func:`priorities_request_everything`, then the sweep runs them. If this task
    dies half way, what it did not reach is still dirty and requested: the next sweep
    (every minute) finishes it."""
    priorities_request_everything()
    return priorities_recompute_pending(now=now)


# --- the scoring preview ----------------------------------------------------------------


def ranking_preview(
    *,
    workspace: Workspace,
    scoring_model: str,
    criterion_weights: Mapping[str, Any],
    actor: User | None = None,
    limit: int = 15,
) -> list[dict]:
    """The top ``limit`` features under proposed settings, with each one's current rank; saves nothing.

    The proposal is applied and the real set-based recompute runs inside a transaction
    that is then rolled back, so the preview uses the same formulas as the ranking itself.
    """
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    criteria, weights = scoring_proposal(workspace, scoring_model, criterion_weights)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # The rolled-back recompute locks the workspace's rows while it runs; a preview
                # waits briefly for a writer, never long enough to stall the page or the API.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
            settings_for(workspace.pk)
            RoadmapSettings.objects.filter(workspace=workspace).update(scoring_model=scoring_model)
            for key, weight in weights.items():
                ScorecardCriterion.objects.filter(pk=criteria[key].pk).update(weight=Decimal(str(weight)))
            recompute.recompute_in_transaction(workspace_id=workspace.pk)
            proposed = list(
                Feature.objects.for_workspace(workspace)
                .filter(priority_rank__isnull=False, merged_into__isnull=True)
                .order_by("priority_rank", "id")
                .values("id", "priority_rank", "priority_score")[:limit]
            )
            transaction.set_rollback(True)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise Conflict("The ranking is being changed; try the preview again.", code="busy") from exc
    current = {
        f.pk: f
        for f in Feature.objects.filter(pk__in=[row["id"] for row in proposed]).select_related("product")
    }
    rows = []
    for row in proposed:
        feature = current[row["id"]]
        old = feature.priority_rank
        rows.append(
            {
                "feature": feature,
                "rank": row["priority_rank"],
                "score": row["priority_score"],
                "current_rank": old,
                "movement": None if old is None else old - row["priority_rank"],
            }
        )
    return rows


def rescore_after_currency_change(*, workspace: Workspace) -> None:
    """The workspace's rates changed: every company's weight may have, so every score."""
    features_mark_dirty(workspace_id=workspace.pk)


def recompute_retry_now(*, workspace_ids: list[int]) -> int:
    """Operators: forget the backoff of failed workspaces so the next sweep tries them at once."""
    return RoadmapSettings.objects.filter(
        Q(workspace_id__in=workspace_ids), Q(recompute_next_attempt_at__isnull=False)
    ).update(recompute_next_attempt_at=None)
