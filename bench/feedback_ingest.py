"""Feedback ingestion through the bulk API, duplicate detection, and lookup latency.

    python -m bench feedback_ingest [--items 100000] [--large 1000000] [--clients 4]

On PostgreSQL (``BENCH_DATABASE_URL``, default ``productops_bench``) and the
configured broker (``REDIS_URL``, else the filesystem one), it:

1. starts gunicorn (``--web-workers``) and POSTs ``--items`` feedback items to
   ``/feedback/bulk/`` in batches of 1,000 from ``--clients`` threads, with no
   Celery worker running: accepted items per second (target >= 2,000/s);
2. starts a Celery worker (``--worker-concurrency``) for ``--dup-seconds`` and
   counts the items it checked for duplicates: suggestions per second;
3. times ``--lookups`` duplicate lookups (``feedback.similarity.similar_items``,
   the ``%`` trigram operator on the GIN index) against the stored items: p50/p95
   (target p95 <= 30 ms);
4. tops the workspace up to ``--large`` items with one SQL statement and times
   the lookups again.

Texts are drawn from a product-feedback vocabulary so near-duplicates exist at a
realistic rate; the same seed gives the same data.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.setup import django_for_bench

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-feedback"

OPENERS = [
    "please add",
    "we need",
    "it would be great to have",
    "our team keeps asking for",
    "can you support",
    "missing",
    "blocker for us:",
    "would love",
    "any plans for",
    "we would pay more for",
    "customers complain about no",
    "still waiting on",
]
# A request is an action on an area: 24 × 30 = 720 distinct requests, so at 100,000
# items each has about 140 near-duplicates, and at 1,000,000 about 1,400.
ACTIONS = [
    "bulk editing",
    "version history",
    "templates",
    "granular permissions",
    "scheduled delivery",
    "threaded comments",
    "full-text search",
    "favourites",
    "custom tagging",
    "public sharing",
    "dark theme",
    "keyboard shortcuts",
    "csv export",
    "audit trail",
    "approval workflow",
    "drag and drop ordering",
    "offline mode",
    "localisation",
    "webhook notifications",
    "usage analytics",
    "single sign-on",
    "custom fields",
    "duplicate detection",
    "undo history",
]
AREAS = [
    "dashboards",
    "charts",
    "reports",
    "alerts",
    "connectors",
    "notebooks",
    "datasets",
    "metrics",
    "workspaces",
    "users",
    "embedded views",
    "pivot tables",
    "funnels",
    "cohorts",
    "forecasts",
    "annotations",
    "goals",
    "filters",
    "data catalog",
    "query editor",
    "api tokens",
    "billing",
    "mobile app",
    "slack app",
    "jira sync",
    "salesforce sync",
    "hubspot sync",
    "warehouse sync",
    "calculated columns",
    "maps",
]
SUBJECTS = [f"{action} for {area}" for action in ACTIONS for area in AREAS]
CONTEXTS = [
    "for our finance team",
    "before the renewal",
    "across all workspaces",
    "on the enterprise plan",
    "for our auditors",
    "in the eu region",
    "for 400 seats",
    "for external clients",
    "in the mobile app",
    "for the board meeting",
    "with okta",
    "with azure ad",
    "per customer",
    "every monday",
    "without an engineer",
    "for large tables",
]


SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de", "fi", "go", "hu", "ja", "pe", "zo"]


def _vocabulary(size: int = 20_000) -> list[str]:
    """Distinct pseudo-words (customer terms, report names, field names), most common first."""
    rng = random.Random(2027)
    words: dict[str, None] = {}
    while len(words) < size:
        words.setdefault("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return list(words)


VOCABULARY = _vocabulary()
# Zipf-like weights: the n-th most common term is used about 1/n as often as the first.
VOCABULARY_CUMULATIVE = list(itertools.accumulate(1 / rank for rank in range(1, len(VOCABULARY) + 1)))


def feedback_text(rng: random.Random, n: int) -> str:
    """A request such as "please add dark theme for dashboards for our auditors, about kalomi
    vosa (#123, asap)": one of 720 common requests, plus two of the customer's own terms."""
    details = " ".join(rng.choices(VOCABULARY, cum_weights=VOCABULARY_CUMULATIVE, k=2))
    return (
        f"{rng.choice(OPENERS)} {rng.choice(SUBJECTS)} {rng.choice(CONTEXTS)}, about {details}"
        f" (#{rng.randint(1, 10**6)}, {rng.choice(['asap', 'soon', 'this quarter', 'eventually'])})"
    )


def prepare(rng: random.Random) -> tuple[int, str]:
    """A fresh workspace with a member and an API token; old bench data is removed."""
    from django.db import connection

    from productops import services
    from productops.models import Role, User, Workspace

    old = Workspace.objects.filter(slug=SLUG).first()
    if old is not None:
        # A million rows are quicker gone in SQL than through Django's deletion collector.
        with connection.cursor() as cursor:
            for table in ("feedback_duplicatesuggestion", "feedback_feedbacklink", "feedback_feedbackitem"):
                cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [old.pk])
        services.workspace_delete(workspace=old, actor=None)  # the audit log goes only this way
    user, _ = User.objects.get_or_create(username="bench-feedback")
    workspace = services.workspace_create(name="Feedback bench", slug=SLUG, owner=user)
    assert services.membership_for(workspace=workspace, user=user).role == Role.OWNER
    _, key = services.api_token_create(
        workspace=workspace, user=user, name="bench", scopes=("read", "write"), actor=None
    )
    return workspace.pk, key


def run_server(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "productops.settings",
        "API_THROTTLE_USER": "100000/minute",
    }
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "productops.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop the main process (it stops its own children), then whatever is left of the group."""
    process.send_signal(sig)
    try:
        process.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def ingest(port: int, key: str, total: int, clients: int, rng: random.Random) -> tuple[float, int]:
    """POST ``total`` items in batches of 1,000 from ``clients`` threads; (seconds, accepted)."""
    batches = []
    for start in range(0, total, 1000):
        items = [
            {
                "text": feedback_text(rng, n),
                "source": "api",
                "source_ref": f"bench-{n}",
                "contact_email": f"user{n % 5000}@customer{n % 800}.example",
            }
            for n in range(start, min(total, start + 1000))
        ]
        batches.append(json.dumps({"items": items}).encode())
    accepted = [0] * clients
    failures: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not batches:
                    return
                body = batches.pop()
            conn.request(
                "POST",
                f"/api/v1/workspaces/{SLUG}/feedback/bulk/",
                body=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {payload[:300]!r}")
                return
            accepted[index] += json.loads(payload)["created"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"bulk ingest failed: {failures[0]}")
    return elapsed, sum(accepted)


def duplicate_rate(workspace_id: int, seconds: float, concurrency: int) -> tuple[float, int, int]:
    """Run a worker for ``seconds``; (seconds, items checked, items still pending)."""
    from feedback.models import FeedbackItem

    pending = FeedbackItem.objects.filter(workspace_id=workspace_id, duplicates_checked_at__isnull=True)
    before = pending.count()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "productops.settings"}
    worker = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "productops",
            "worker",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        # Time from the first item checked, so worker start-up is not counted.
        deadline = time.monotonic() + 60
        while pending.count() == before and time.monotonic() < deadline:
            time.sleep(0.2)
        started, first = time.perf_counter(), pending.count()
        time.sleep(seconds)
        after = pending.count()
        elapsed = time.perf_counter() - started
    finally:
        # Cold shutdown: unacknowledged messages go back to the queue, which is purged next.
        stop(worker, signal.SIGQUIT)
    return elapsed, first - after, after


def lookup_latencies(workspace_id: int, lookups: int, rng: random.Random) -> list[float]:
    from feedback.similarity import similar_items

    times = []
    for n in range(lookups):
        text = feedback_text(rng, n)
        started = time.perf_counter()
        similar_items(workspace_id=workspace_id, text=text)
        times.append(time.perf_counter() - started)
    return times


def top_up(workspace_id: int, total: int, rng: random.Random) -> int:
    """Bring the workspace to ``total`` items with COPY (same vocabulary, same ``match_text``)."""
    from django.db import connection
    from django.utils import timezone

    from feedback.matching import match_text
    from feedback.models import FeedbackItem

    have = FeedbackItem.objects.filter(workspace_id=workspace_id).count()
    now = timezone.now()
    columns = (
        "workspace_id, text, match_text, source, source_ref, source_url, kind, importance, tags, state, "
        "received_at, created_at, updated_at, duplicates_checked_at"
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY feedback_feedbackitem ({columns}) FROM STDIN") as copy,
    ):
        for n in range(have, total):
            text = feedback_text(rng, n)
            copy.write_row(
                (
                    workspace_id,
                    text,
                    match_text(text),
                    "csv",
                    f"copy-{n}",
                    "",
                    "request",
                    "nice_to_have",
                    "[]",
                    "new",
                    now,
                    now,
                    now,
                    now,
                )
            )
    vacuum_analyze()
    return FeedbackItem.objects.filter(workspace_id=workspace_id).count()


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE feedback_feedbackitem")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench feedback_ingest")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000, help="0 skips the large lookup run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--dup-seconds", type=float, default=30.0)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    django_for_bench()
    from django.db import connection

    from productops.celery import app as celery_app

    if connection.vendor != "postgresql":
        print("warning: figures are meant for PostgreSQL (set BENCH_DATABASE_URL)", file=sys.stderr)
    rng = random.Random(args.seed)
    workspace_id, key = prepare(rng)
    celery_app.control.purge()
    connection.close()  # the server processes get their own connections

    server = run_server(args.port, args.web_workers)
    try:
        ingest_s, accepted = ingest(args.port, key, args.items, args.clients, rng)
    finally:
        stop(server)
    dup_s, checked, left = duplicate_rate(workspace_id, args.dup_seconds, args.worker_concurrency)
    celery_app.control.purge()  # the rest would be drained by a production worker
    # What autovacuum does after a big ingest: fresh rows sit in GIN's pending list
    # (scanned on every lookup) until a vacuum merges them into the index.
    vacuum_analyze()
    small = lookup_latencies(workspace_id, args.lookups, rng)
    large: list[float] = []
    large_count = 0
    if args.large:
        large_count = top_up(workspace_id, args.large, rng)
        large = lookup_latencies(workspace_id, args.lookups, rng)

    print()
    print(
        f"bulk API ingest        {accepted} items in {ingest_s:.1f} s = {accepted / ingest_s:,.0f} items/s"
        f"   (target >= 2,000/s; {args.clients} clients, {args.web_workers} gunicorn workers)"
    )
    print(
        f"duplicate suggestions  {checked} items in {dup_s:.1f} s = {checked / dup_s:,.0f} items/s"
        f"   ({args.worker_concurrency} worker processes; {left} left for later)"
    )
    print(
        f"lookup at {args.items:>9,} items  p50 {statistics.median(small) * 1000:6.1f} ms"
        f"   p95 {percentile(small, 95) * 1000:6.1f} ms   (target p95 <= 30 ms)"
    )
    if large:
        print(
            f"lookup at {large_count:>9,} items  p50 {statistics.median(large) * 1000:6.1f} ms"
            f"   p95 {percentile(large, 95) * 1000:6.1f} ms"
        )
