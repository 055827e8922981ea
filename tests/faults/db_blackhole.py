"""Fault script 4: PostgreSQL blackholed through a TCP proxy, then refused, then back.

    .venv/bin/python -m tests.faults.db_blackhole [--blackhole 20 --refuse 10 --after 20]

The stack's web, worker and beat reach PostgreSQL through ``tests.faults.proxy.TcpProxy``
(``DATABASE_URL`` names the proxy's port); seeding and checks go direct. The database
settings are the production defaults (``DB_CONNECT_TIMEOUT`` 5 s, statement timeout 5 s,
client deadline ``DB_CLIENT_TIMEOUT_MS`` 6 s), read back from the running settings.

Phases, each with ``--clients`` API clients in a loop (the feature list and feedback
creates) and a ``/readyz`` poller:

1. **forward** (warm-up): every request succeeds.
2. **blackhole** for ``--blackhole`` s: the proxy keeps connections open and passes nothing
   (new ones are accepted and held). Every request must end with the JSON 503
   (``code: database_unavailable``, a ``request_id``, ``Retry-After``) within the client
   deadline plus 1.5 s (a persistent connection's health check, then a fresh connect), and
   never with HTML or a disconnect; ``/readyz`` must answer 503 within 2 s every time;
   gunicorn must not kill a worker (``WORKER TIMEOUT``).
3. **refuse** for ``--refuse`` s: connections are reset and refused. The same JSON 503, fast.
4. **forward** again for ``--after`` s: the app recovers by itself; every request started
   after the link came back succeeds (zero errors), ``/readyz`` is 200 again.
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
from dataclasses import dataclass

from tests.faults.proxy import BLACKHOLE, FORWARD, REFUSE
from tests.faults.stack import Report, Stack, wait_until


@dataclass
class Outcome:
    phase: str
    kind: str
    began: float
    took: float
    status: int
    json_code: str | None
    request_id_ok: bool
    retry_after: str | None
    content_type: str
    error: str


def classify(answer, phase: str, kind: str, began: float) -> Outcome:
    code = None
    request_id_ok = False
    if answer.is_json():
        try:
            body = answer.json
            errors = body.get("errors") or [{}]
            code = errors[0].get("code") if isinstance(body, dict) else None
            request_id_ok = bool(body.get("request_id")) and body.get("request_id") == answer.headers.get(
                "X-Request-ID"
            )
        except (ValueError, AttributeError):
            pass
    return Outcome(
        phase, kind, began, answer.elapsed, answer.status, code, request_id_ok,
        answer.headers.get("Retry-After"), answer.headers.get("content-type", ""), answer.error,
    )  # fmt: skip


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.db_blackhole")
    parser.add_argument("--warmup", type=float, default=8)
    parser.add_argument("--blackhole", type=float, default=20)
    parser.add_argument("--refuse", type=float, default=10)
    parser.add_argument("--after", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    report = Report("db_blackhole")
    with Stack("db_blackhole", db_proxy=True, seed=True) as stack:
        limits = stack.django(
            """
from django.conf import settings
result = {name: getattr(settings, name, None) for name in (
    "DB_CONNECT_TIMEOUT", "DB_STATEMENT_TIMEOUT_MS", "DB_CLIENT_TIMEOUT_MS", "DB_TCP_USER_TIMEOUT_MS")}
""",
            env={"DB_LONG_RUNNING": ""},
        )
        report.figure("database_limits", limits)
        client_deadline = (limits.get("DB_CLIENT_TIMEOUT_MS") or 6000) / 1000
        fail_within = client_deadline + 1.5
        report.figure("requests_must_fail_within_s", fail_within)

        phase = {"name": "warmup", "changed_at": time.monotonic()}
        outcomes: list[Outcome] = []
        readyz: list[Outcome] = []
        lock = threading.Lock()
        stopping = threading.Event()

        def client_loop(index: int) -> None:
            n = 0
            with stack.client() as client:
                while not stopping.is_set():
                    n += 1
                    current = phase["name"]
                    began = time.monotonic()
                    if n % 2:
                        answer = stack.api(
                            "GET", "/api/v1/workspaces/{slug}/features/", client=client, timeout=40
                        )
                        kind = "list"
                    else:
                        answer = stack.api(
                            "POST", "/api/v1/workspaces/{slug}/feedback/",
                            {"text": f"Blackhole test {index}-{n}", "source_ref": f"bh-{index}-{n}"},
                            client=client, timeout=40,
                        )  # fmt: skip
                        kind = "write"
                    # A request counts for the phase it started and ended in; one that straddles
                    # a switch is kept apart (it is still counted in the stored writes).
                    label = current if phase["name"] == current else f"{current}->{phase['name']}"
                    with lock:
                        outcomes.append(classify(answer, label, kind, began))
                    time.sleep(0.05)

        def readyz_loop() -> None:
            with stack.client() as client:
                while not stopping.is_set():
                    current = phase["name"]
                    began = time.monotonic()
                    answer = stack.api("GET", "/readyz", token="", client=client, timeout=40)
                    if phase["name"] == current:
                        with lock:
                            readyz.append(classify(answer, current, "readyz", began))
                    time.sleep(0.25)

        threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(args.clients)]
        threads.append(threading.Thread(target=readyz_loop, daemon=True))
        for thread in threads:
            thread.start()

        def switch(name: str, mode: str) -> None:
            stack.proxy.set_mode(mode)
            phase["name"], phase["changed_at"] = name, time.monotonic()
            stack.log(f"database link: {mode} ({name})")

        time.sleep(args.warmup)
        switch("blackhole", BLACKHOLE)
        time.sleep(args.blackhole)
        switch("refuse", REFUSE)
        time.sleep(args.refuse)
        switch("after", FORWARD)
        back_at = phase["changed_at"]
        time.sleep(args.after)
        stopping.set()
        for thread in threads:
            thread.join(timeout=60)

        by_phase = collections.defaultdict(list)
        for outcome in outcomes:
            by_phase[outcome.phase].append(outcome)
        ready_by_phase = collections.defaultdict(list)
        for outcome in readyz:
            ready_by_phase[outcome.phase].append(outcome)

        def ok(o: Outcome) -> bool:
            return 200 <= o.status < 300

        def proper_503(o: Outcome) -> bool:
            return (
                o.status == 503 and o.content_type.startswith("application/json")
                and o.json_code == "database_unavailable" and o.request_id_ok and bool(o.retry_after)
            )  # fmt: skip

        # warm-up
        warm = by_phase["warmup"]
        report.check(
            "warm-up: every request succeeds", warm and all(ok(o) for o in warm), f"{len(warm)} requests"
        )

        # blackhole
        for name in ("blackhole", "refuse"):
            rows = by_phase[name]
            took = [o.took for o in rows]
            report.figure(f"{name}_requests", len(rows))
            report.figure(f"{name}_latency_p50_s", round(pct(took, 0.5), 2))
            report.figure(f"{name}_latency_max_s", round(max(took, default=0), 2))
            statuses = collections.Counter(o.status for o in rows)
            report.figure(f"{name}_statuses", dict(statuses))
            bad = [o for o in rows if not proper_503(o)]
            report.check(
                f"{name}: every request answers the JSON 503 database_unavailable "
                "with Retry-After and request id",
                rows and not bad,
                [(o.status, o.content_type, o.json_code, o.error[:80]) for o in bad[:3]],
            )
            slow = [o for o in rows if o.took > fail_within]
            report.check(
                f"{name}: every request fails within {fail_within:.1f}s "
                f"(client deadline {client_deadline:g}s + 1.5s)",
                not slow,
                f"{len(slow)} slower, max {max(took, default=0):.2f}s",
            )
            ready = ready_by_phase[name]
            report.figure(f"{name}_readyz_max_s", round(max((o.took for o in ready), default=0), 2))
            report.check(
                f"{name}: /readyz answers 503 within 2 s every time",
                ready and all(o.status == 503 and o.took <= 2.0 for o in ready),
                [(o.status, round(o.took, 2)) for o in ready if not (o.status == 503 and o.took <= 2.0)][:5],
            )

        # recovery
        after = by_phase["after"]
        first_ok = min((o.began + o.took for o in after if ok(o)), default=None)
        report.figure(
            "first_success_after_link_back_s", None if first_ok is None else round(first_ok - back_at, 2)
        )
        errors_after = [o for o in after if not ok(o)]
        report.figure("requests_after_link_back", len(after))
        report.figure("errors_after_link_back", len(errors_after))
        report.check(
            "after: the app recovers by itself, zero errors",
            after and not errors_after,
            [(o.status, o.json_code, o.error[:80]) for o in errors_after[:3]],
        )
        ready_after = ready_by_phase["after"]
        report.check(
            "after: /readyz is 200 again",
            bool(ready_after) and ready_after[-1].status == 200,
            [o.status for o in ready_after][-5:],
        )
        html = [
            o
            for o in outcomes + readyz
            if o.status >= 500 and not o.content_type.startswith("application/json")
        ]
        disconnects = [o for o in outcomes if o.status == 0]
        report.check(
            "no HTML error page and no disconnect anywhere",
            not html and not disconnects,
            [(o.phase, o.status, o.content_type, o.error[:60]) for o in (html + disconnects)[:3]],
        )
        web_log = stack.log_text("web")
        report.figure("gunicorn_worker_timeouts", web_log.count("WORKER TIMEOUT"))
        report.check("gunicorn killed no worker (no WORKER TIMEOUT)", "WORKER TIMEOUT" not in web_log)
        # Writes acknowledged are stored (the direct link, not through the proxy).
        stored = stack.scalar(
            "SELECT count(*) FROM feedback_feedbackitem WHERE workspace_id = %s AND source_ref LIKE 'bh-%%'",
            [stack.seed.workspace_id],
        )
        acknowledged = sum(1 for o in outcomes if o.kind == "write" and o.status == 201)
        report.figure("writes_acknowledged_vs_stored", f"{acknowledged} / {stored}")
        report.check(
            "every acknowledged write is stored", stored >= acknowledged, f"{acknowledged} / {stored}"
        )
        # A commit that reached the server whose answer was lost with the link: stored, yet the
        # client saw a 503. Its retry (same source_ref) is answered 200 with the same item.
        report.figure("writes_stored_though_answered_503", stored - acknowledged)
        report.figure("requests_straddling_a_switch", sum(1 for o in outcomes if "->" in o.phase))
        wait_until(lambda: stack.api("GET", "/readyz", token="").status == 200, 30, what="/readyz 200")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
