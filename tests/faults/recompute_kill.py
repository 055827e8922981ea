"""Fault script 1: the worker SIGKILLed during the daily full recompute, then restarted.

    .venv/bin/python -m tests.faults.recompute_kill [--features 2000 --companies 6000 --links 40000]

Set-up: one workspace of ``--features`` features, ``--companies`` companies and ``--links``
feedback links (``tests.faults.data``, the benchmark's shapes), fully scored once (every feature ``CLEAN``).

Fault: ``roadmap.tasks.recompute_everything`` is sent to the worker; as soon as the run has
claimed the features (``RECOMPUTING``), the worker's whole process group is SIGKILLed. The
stack's Redis (no persistence) is then restarted, so the task's unacknowledged message is
gone too, as on a Redis restart without an append-only file (defect 4). The worker starts
again.

Checks: the request was recorded on ``RoadmapSettings`` before the kill
(``recompute_requested_at``) and the features were left dirty or claimed, so beat's sweep
(every 60 s) finishes the recompute with no message left; every feature ends ``CLEAN`` with
the request cleared and the lease free; and every stored score equals a clean recompute at
the same instant (``recompute_in_transaction`` with the run's ``now``, rolled back),
compared exactly for counts, ranks and nulls, and to a relative 1e-12 for float scores (the
last bits of a float sum depend on the order PostgreSQL aggregates rows in: two clean
recomputes differ there too, which the script measures and prints).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from tests.faults.data import demand_code
from tests.faults.stack import Report, Stack, wait_until

SCORE_COLUMNS = (
    "priority_score", "score_customer_impact", "requesting_companies", "score_scorecard",
    "score_rice", "score_ice", "score_wsjf", "score_value_effort", "priority_rank",
)  # fmt: skip


#: Relative difference allowed between two float scores: the last bits of a sum depend on
#: the order PostgreSQL aggregates rows in, which no run fixes.
FLOAT_TOLERANCE = 1e-12


def relative_difference(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def stored_scores(stack: Stack, workspace_id: int) -> dict[int, tuple]:
    rows = stack.sql(
        f"SELECT id, scores_computed_at, {', '.join(SCORE_COLUMNS)} FROM roadmap_feature "  # noqa: S608
        "WHERE workspace_id = %s ORDER BY id",
        [workspace_id],
    )
    return {row[0]: row[1:] for row in rows}


def clean_recompute(stack: Stack, workspace_id: int, at: str) -> dict[int, list]:
    """Every feature's scores from a fresh full recompute at ``at``, rolled back."""
    return {
        int(k): v
        for k, v in stack.django(
            f"""
from datetime import datetime
from django.db import transaction
from priority.recompute import recompute_in_transaction
from roadmap.models import Feature

class Rollback(Exception):
    pass

now = datetime.fromisoformat({at!r})
try:
    with transaction.atomic():
        recompute_in_transaction(workspace_id={workspace_id}, now=now)
        result = {{
            row[0]: list(row[1:])
            for row in Feature.objects.filter(workspace_id={workspace_id}).order_by("id")
            .values_list("id", *{list(SCORE_COLUMNS)!r})
        }}
        raise Rollback
except Rollback:
    pass
"""
        ).items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.recompute_kill")
    parser.add_argument("--features", type=int, default=2_000)
    parser.add_argument("--companies", type=int, default=6_000)
    parser.add_argument("--links", type=int, default=40_000)
    parser.add_argument("--kill-after", type=float, default=0.0, help="seconds after the claim")
    args = parser.parse_args(argv)
    report = Report("recompute_kill")
    with Stack("recompute_kill", web=False, seed=True) as stack:
        started = time.monotonic()
        workspace_id = stack.seed.workspace_id
        seeded = stack.django(
            demand_code(
                workspace_id=workspace_id, features=args.features, companies=args.companies, links=args.links
            ),
            timeout=900,
        )
        report.figure("data", f"{args.features} features, {args.companies} companies, {args.links} links")
        report.figure("set-up_s", round(time.monotonic() - started, 1))
        report.figure("clean_full_run_s", round(seeded["run_s"], 2))

        def counts() -> dict[int, int]:
            return dict(
                stack.sql(
                    "SELECT score_state, count(*) FROM roadmap_feature WHERE workspace_id = %s "
                    "GROUP BY score_state",
                    [workspace_id],
                )
            )

        report.check("every feature clean before the fault", counts() == {0: args.features}, counts())

        # --- the fault -------------------------------------------------------------------
        # The watcher polls from before the send: sending (a Django process of its own) can
        # take longer than a small workspace's whole run.
        killed = threading.Event()
        timing: dict[str, float] = {}

        def watch_and_kill() -> None:
            try:
                wait_until(lambda: counts().get(2, 0) > 0, 180, interval=0.01, what="the run's claim")
            except TimeoutError:
                return
            if args.kill_after:
                time.sleep(args.kill_after)
            stack.kill_worker(signal.SIGKILL)
            timing["killed_at"] = time.monotonic()
            killed.set()

        watcher = threading.Thread(target=watch_and_kill, daemon=True)
        watcher.start()
        sent_at = time.monotonic()
        stack.send_task("roadmap.tasks.recompute_everything")
        watcher.join(timeout=200)
        if not report.check("the worker was killed while the full run held the features", killed.is_set()):
            return report.finish()
        killed_at = timing["killed_at"]
        report.figure("killed_after_send_s", round(killed_at - sent_at, 2))
        at_kill = counts()
        settings_row = stack.sql(
            "SELECT recompute_requested_at IS NOT NULL, recompute_lease_until IS NOT NULL, "
            "recompute_holder_pid FROM roadmap_roadmapsettings WHERE workspace_id = %s",
            [workspace_id],
        )[0]
        report.figure(
            "at_kill",
            f"clean {at_kill.get(0, 0)}, dirty {at_kill.get(1, 0)}, recomputing {at_kill.get(2, 0)}",
        )
        report.check("the request is recorded on RoadmapSettings at the kill", settings_row[0])
        report.check(
            "the kill left features to redo (not all clean)", at_kill.get(0, 0) < args.features, at_kill
        )
        # Redis without persistence restarts: the task's unacknowledged message is lost.
        stack.stop_redis(signal.SIGKILL)
        stack.start_redis()
        report.figure("queued_messages_after_redis_restart", stack.redis_cli("DBSIZE"))
        stack.start_worker()
        restarted_at = time.monotonic()

        # --- recovery ------------------------------------------------------------------------
        def recovered() -> bool:
            done = counts() == {0: args.features}
            row = stack.sql(
                "SELECT recompute_requested_at IS NULL AND recompute_lease_until IS NULL "
                "FROM roadmap_roadmapsettings WHERE workspace_id = %s",
                [workspace_id],
            )[0][0]
            return done and row

        try:
            wait_until(recovered, 240, interval=0.5, what="every feature recomputed")
            report.check("every feature recomputed (CLEAN), request cleared, lease free", True)
        except TimeoutError as exc:
            report.check("every feature recomputed (CLEAN), request cleared, lease free", False, exc)
            return report.finish()
        report.figure("recovered_after_worker_restart_s", round(time.monotonic() - restarted_at, 1))
        report.figure("recovered_after_kill_s", round(time.monotonic() - killed_at, 1))

        # --- the scores equal a clean recompute -----------------------------------------
        stored = stored_scores(stack, workspace_id)
        instants = sorted({row[0] for row in stored.values()})
        report.figure("distinct_computation_instants", len(instants))
        mismatched_exact = 0  # integers and ranks: must be equal
        worst_float = 0.0  # largest relative difference of a float score
        examples: list[str] = []
        clean_runs: dict[str, dict[int, list]] = {}
        for instant in instants:
            clean = clean_runs[instant.isoformat()] = clean_recompute(
                stack, workspace_id, instant.isoformat()
            )
            for feature_id, row in stored.items():
                if row[0] != instant:
                    continue
                ours, theirs = list(row[1:]), clean[feature_id]
                for column, mine, other in zip(SCORE_COLUMNS, ours, theirs, strict=True):
                    if column == "priority_rank" and len(instants) > 1:
                        continue  # ranks span the workspace: comparable when one instant scored all
                    if isinstance(mine, float) and isinstance(other, float):
                        worst_float = max(worst_float, relative_difference(mine, other))
                    elif mine != other:
                        mismatched_exact += 1
                        if len(examples) < 3:
                            examples.append(f"feature {feature_id} {column}: stored {mine} clean {other}")
        # The clean recompute against itself: PostgreSQL sums floats in no fixed order (hash and
        # parallel aggregation), so two identical runs can differ in the last bit too.
        first = instants[-1].isoformat()
        again = clean_recompute(stack, workspace_id, first)
        noise = max(
            relative_difference(a, b)
            for feature_id, row in clean_runs[first].items()
            for a, b in zip(row, again[feature_id], strict=True)
            if isinstance(a, float) and isinstance(b, float)
        )
        report.figure("features_compared", len(stored))
        report.figure("max_relative_float_difference_stored_vs_clean", f"{worst_float:.1e}")
        report.figure("max_relative_float_difference_clean_vs_clean", f"{noise:.1e}")
        report.check(
            "every count, rank and null equals a clean recompute at the same instant (exact)",
            mismatched_exact == 0,
            f"{mismatched_exact} differ" + (f": {examples}" if examples else ""),
        )
        report.check(
            f"every float score equals the clean recompute's to {FLOAT_TOLERANCE:.0e} (floating-point "
            "summation order)",
            worst_float <= FLOAT_TOLERANCE,
            f"{worst_float:.1e}",
        )
        report.figure("lost_recomputes", args.features - counts().get(0, 0))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
