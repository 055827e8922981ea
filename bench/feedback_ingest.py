"""Feedback ingestion through the bulk API, duplicate detection, and lookup latency and plans.

    python -m bench feedback_ingest [--items 100000] [--large 1000000] [--clients 4]

In the suite (``suite(ctx)``): ``small`` ingests 4,000 items beside a kept 20,000-item
workspace, ``full`` 100,000 beside 1,000,000. On its own, on PostgreSQL
(``BENCH_DATABASE_URL``, default ``productops_bench``) and the configured broker. It:

1. starts gunicorn (``--web-workers``) and POSTs ``--items`` feedback items to
   ``/feedback/bulk/`` in batches of 1,000 from ``--clients`` threads, with no
   Celery worker running, into a fresh workspace: accepted items per second (target
   >= 2,000/s for ``full``);
2. checks the duplicate lookup's plan (``feedback.similarity.similar_items_plan``) for a
   20-item workspace, the ingested one and the large one, on the statistics as they are
   right after the ingest (older than it), then again after ``VACUUM ANALYZE``: one PLAN
   row, met when all six are the intended bitmap scan of the trigram index keyed on the
   workspace;
3. with ``--dup-seconds``, runs a Celery worker that long and counts the items it checked
   for duplicates: suggestions per second (information);
4. times ``--lookups`` duplicate lookups in each of the three workspaces: p50/p95
   (information here: the feedback-intelligence issue owns the target).

The 20-item and the large workspace are kept between runs (built with ``COPY``); the
ingested one is rebuilt each time. Texts are drawn from a product-feedback vocabulary so
near-duplicates exist at a realistic rate; the same seed gives the same data.
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

from bench.results import Row, SuiteContext

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-feedback"
SLUG_TINY = "bench-feedback-tiny"
SLUG_LARGE = "bench-feedback-large"
TINY_ITEMS = 20
SIZES = {
    "small": {"items": 4_000, "large": 20_000, "clients": 2, "web_workers": 2, "lookups": 100},
    "full": {"items": 100_000, "large": 1_000_000, "clients": 4, "web_workers": 3, "lookups": 300},
}
#: Seconds a Celery worker checks duplicates for (0: not measured).
DUP_SECONDS = {"small": 0.0, "full": 30.0}
INGEST_TARGET = 2_000  # items/s, for the full size

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
            for table in (
                "feedback_duplicatesuggestion",
                "feedback_feedbacklink",
                "feedback_thememember",
                "feedback_themedismissal",
                "feedback_feedbackvector",
                "feedback_feedbackitem",
                "feedback_contact",
            ):
                cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [old.pk])
        services.workspace_delete(workspace=old, actor=None)  # the audit log goes only this way
    user, _ = User.objects.get_or_create(username="bench-feedback")
    workspace = services.workspace_create(name="Feedback bench", slug=SLUG, owner=user)
    assert services.membership_for(workspace=workspace, user=user).role == Role.OWNER
    _, key = services.api_token_create(
        workspace=workspace, user=user, name="bench", scopes=("read", "write"), actor=None
    )
    return workspace.pk, key


#: ``ALLOWED_HOSTS`` of the production settings the suite runs with.
HOST = "localhost"


def _env(database_url: str = "", redis_url: str = "") -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "productops.settings"}
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def run_server(port: int, workers: int, *, database_url: str = "", redis_url: str = "") -> subprocess.Popen:
    # The throttle is raised so the benchmark measures ingestion, not the throttle.
    env = {**_env(database_url, redis_url), "API_THROTTLE_USER": "100000/minute"}
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
            conn.request("GET", "/healthz", headers={"Host": HOST})
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    stop(server)
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop the main process (it stops its own children), then whatever is left of the group
    (a worker's pool busy in native code may not answer a cold shutdown in time: it is
    killed, its unacknowledged messages go back to the queue)."""
    process.send_signal(sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        print(f"warning: {process.args[2]} did not stop in 60 s; killed", file=sys.stderr)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Host": HOST},
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


def duplicate_rate(
    workspace_id: int, seconds: float, concurrency: int, *, database_url: str = "", redis_url: str = ""
) -> tuple[float, int, int]:
    """Run a worker for ``seconds``; (seconds, items checked, items still pending)."""
    from feedback.models import FeedbackItem

    pending = FeedbackItem.objects.filter(workspace_id=workspace_id, duplicates_checked_at__isnull=True)
    before = pending.count()
    env = _env(database_url, redis_url)
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


def kept_workspace(slug: str, total: int, rng: random.Random) -> int:
    """The workspace ``slug`` with ``total`` open items (same vocabulary, same ``match_text``),
    kept between runs: built or topped up with COPY only when it has fewer."""
    from django.db import connection
    from django.utils import timezone

    from bench.priority_recompute import left_out_columns
    from feedback.matching import match_text
    from feedback.models import FeedbackItem
    from productops.db import long_transaction
    from productops.models import Workspace

    workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": slug})
    have = FeedbackItem.objects.filter(workspace=workspace).count()
    if have >= total:
        return workspace.pk
    print(f"building {total - have:,} items in workspace {slug!r} ...", flush=True)
    now = timezone.now()
    # The model's own column list (bench.priority_recompute.left_out_columns), so a new
    # NOT NULL column fails here by name instead of as a NotNullViolation.
    given = ["workspace_id", "text", "match_text", "source", "source_ref", "state", "received_at"]
    given += ["duplicates_checked_at"]
    fields = {field.column: field for field in FeedbackItem._meta.concrete_fields}
    rest = {
        column: now if kind == "now" else fields[column].get_db_prep_save(value, connection)
        for column, (kind, value) in left_out_columns(FeedbackItem, given).items()
    }
    columns = ", ".join([*given, *rest])
    with (
        long_transaction(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY feedback_feedbackitem ({columns}) FROM STDIN") as copy,
    ):
        for n in range(have, total):
            text = feedback_text(rng, n)
            copy.write_row(
                [workspace.pk, text, match_text(text), "csv", f"copy-{n}", "new", now, now, *rest.values()]
            )
    return workspace.pk


def kept_vectors(workspace_id: int, seed: int) -> int:
    """A vector for every item of a kept workspace that has none, by COPY: what the worker
    would have stored, without an hour of embedding. The vectors are synthetic, grouped
    around 720 topics (one per common request) with a cosine of about 0.6 inside a topic,
    so each lookup has its ten candidates to score as in a real inbox. Returns how many
    items have a vector."""
    import numpy as np
    from django.db import connection
    from django.utils import timezone

    from bench.priority_recompute import left_out_columns
    from feedback import embeddings
    from feedback.models import FeedbackItem, FeedbackVector
    from productops.db import long_transaction

    model = embeddings.model_id()
    with long_transaction():  # a million rows are read here, past the 5 s statement timeout
        # Vectors of another model are not in the index (and the sweep would re-embed them).
        FeedbackVector.objects.filter(workspace_id=workspace_id).exclude(model=model).delete()
        missing = list(
            FeedbackItem.objects.filter(workspace_id=workspace_id)
            .exclude(pk__in=FeedbackVector.objects.filter(workspace_id=workspace_id).values("item_id"))
            .order_by("id")
            .values_list("pk", flat=True)
        )
    if missing:
        print(f"storing {len(missing):,} synthetic vectors ...", flush=True)
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(720, embeddings.DIMENSIONS)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        now = timezone.now()
        given = ["workspace_id", "item_id", "model", "text_hash", "scale", "int8", "bits", "embedded_at"]
        rest = left_out_columns(FeedbackVector, given)
        columns = ", ".join([*given, *rest])
        with (
            long_transaction(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY feedback_feedbackvector ({columns}) FROM STDIN") as copy,
        ):
            for start in range(0, len(missing), 50_000):
                ids = np.array(missing[start : start + 50_000])
                block = centres[ids % 720] + rng.normal(scale=0.042, size=(len(ids), embeddings.DIMENSIONS))
                block = (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)
                scales = np.abs(block).max(axis=1) / 127.0
                q = np.clip(np.rint(block / scales[:, None]), -127, 127).astype(np.int8)
                bits = np.packbits(block > 0, axis=1)
                extra = [v for _, v in rest.values()]
                for i, pk in enumerate(ids.tolist()):
                    vector = [float(scales[i]), q[i].tobytes(), bits[i].tobytes()]
                    copy.write_row([workspace_id, pk, model, "", *vector, now, *extra])
    return FeedbackVector.objects.filter(workspace_id=workspace_id).count()


def combined_lookup_latencies(workspace_id: int, lookups: int, rng: random.Random) -> list[float]:
    """The full combined suggestion for one item at a time, as the worker computes it
    (``feedback.duplicate_services.suggestions_compute``: the in-memory index, the
    candidates' words and state, the features, the scores), not stored. The index is
    loaded by a first lookup, not timed."""
    from feedback import duplicate_services
    from feedback.models import FeedbackItem

    ids = list(FeedbackItem.objects.filter(workspace_id=workspace_id).values_list("pk", flat=True))
    duplicate_services.suggestions_compute(workspace_id=workspace_id, item_ids=[ids[0]])
    times = []
    for _ in range(lookups):
        pk = rng.choice(ids)
        started = time.perf_counter()
        duplicate_services.suggestions_compute(workspace_id=workspace_id, item_ids=[pk])
        times.append(time.perf_counter() - started)
    return times


def worker_peak_rss(workspace_id: int) -> float:
    """MB: ``bench.worker_memory`` run in a fresh process against the same database."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.worker_memory", str(workspace_id)],
        cwd=ROOT,
        env=_env(os.environ.get("DATABASE_URL", "")),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def embedding_rate(rng: random.Random, texts: int = 2_000) -> float:
    """Feedback items embedded a second by this process (one ONNX Runtime thread)."""
    from feedback import embeddings

    batch = [feedback_text(rng, n) for n in range(texts)]
    embeddings.embed(["warm up"])
    started = time.perf_counter()
    embeddings.embed(batch)
    return texts / (time.perf_counter() - started)


def vacuum_analyze() -> None:
    """What autovacuum (off on the benchmark machines) would do after a big ingest: GIN's
    pending list merged, dead rows of the previous run cleared, statistics fresh."""
    from django.db import connection

    from productops.db import long_running

    with long_running(), connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        try:
            cursor.execute("VACUUM ANALYZE feedback_feedbackitem")
        finally:
            cursor.execute("RESET statement_timeout")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def plan_checks(workspaces: dict[str, int], rng: random.Random, needles: int = 3) -> dict[str, list[str]]:
    """Problems of the lookup's plan per workspace (``feedback.similarity``): empty lists
    when every plan is the intended one."""
    from feedback.similarity import similar_items_plan, similar_items_plan_problems

    texts = [feedback_text(rng, n) for n in range(needles)]
    return {
        name: [
            problem
            for text in texts
            for problem in similar_items_plan_problems(similar_items_plan(workspace_id=pk, text=text))
        ]
        for name, pk in workspaces.items()
    }


def _lookup_row(name: str, times: list[float]) -> Row:
    p50, p95 = statistics.median(times), percentile(times, 95)
    return Row(
        benchmark=f"duplicate lookup p95: {name}",
        figure=f"p95 {p95 * 1000:,.1f} ms (p50 {p50 * 1000:,.1f}, max {max(times) * 1000:,.1f})",
        value=p95 * 1000,
        unit="ms",
        details={"p50_ms": p50 * 1000, "times": times},
    )


def measure(
    *,
    items: int,
    large: int,
    clients: int,
    web_workers: int,
    lookups: int,
    dup_seconds: float = 0.0,
    port: int = 8765,
    seed: int = 7,
    size: str = "full",
    database_url: str = "",
    redis_url: str = "",
) -> list[Row]:
    from django.db import connection

    from productops.celery import app as celery_app

    rng = random.Random(seed)
    tiny_id = kept_workspace(SLUG_TINY, TINY_ITEMS, random.Random(seed + 1))
    large_id = kept_workspace(SLUG_LARGE, large, random.Random(seed + 2)) if large else None
    workspace_id, key = prepare(rng)
    celery_app.control.purge()
    connection.close()  # the server processes get their own connections

    server = run_server(port, web_workers, database_url=database_url, redis_url=redis_url)
    try:
        ingest_s, accepted = ingest(port, key, items, clients, rng)
    finally:
        stop(server)
    if accepted != items:
        raise RuntimeError(f"bulk ingest accepted {accepted} of {items} items")
    rate = accepted / ingest_s
    full = size == "full"
    rows = [
        Row(
            benchmark=f"feedback: bulk API ingest, {items:,} items",
            figure=f"{rate:,.0f} items/s ({ingest_s:.1f} s; {clients} clients, {web_workers} web workers)",
            value=rate,
            unit="items/s",
            target=f"≥ {INGEST_TARGET:,}/s" if full else "",
            met=rate >= INGEST_TARGET if full else None,
            details={"seconds": ingest_s, "items": items},
        )
    ]
    names = {
        f"{TINY_ITEMS} items (beside the others)": tiny_id,
        f"{items:,} items, just ingested": workspace_id,
    }
    if large_id is not None:
        names[f"{large:,} items"] = large_id
    # The statistics as the ingest left them (older than its rows: autovacuum is off).
    stale = plan_checks(names, rng)
    if dup_seconds:
        dup_s, checked, left = duplicate_rate(
            workspace_id, dup_seconds, 2, database_url=database_url, redis_url=redis_url
        )
        rows.append(
            Row(
                benchmark="feedback: duplicate checks by a worker (2 processes)",
                figure=f"{checked / dup_s:,.0f} items/s ({checked:,} in {dup_s:.0f} s; {left:,} left)",
                value=checked / dup_s,
                unit="items/s",
                target=f"≥ {DUPLICATE_RATE_TARGET:,}/s" if full else "",
                met=checked / dup_s >= DUPLICATE_RATE_TARGET if full else None,
            )
        )
        celery_app.control.purge()  # the rest would be drained by a production worker
    vacuum_analyze()
    fresh = plan_checks(names, rng)
    problems = {
        f"{name}, {when}": found
        for when, checks in (("stale statistics", stale), ("after ANALYZE", fresh))
        for name, found in checks.items()
        if found
    }
    checked_plans = 2 * len(names)
    rows.append(
        Row(
            benchmark="PLAN duplicate lookup: trigram index keyed on the workspace",
            figure=f"{checked_plans - len(problems)}/{checked_plans} right"
            + (f" (wrong: {'; '.join(problems)})" if problems else ""),
            value=checked_plans - len(problems),
            unit="plans",
            target=f"{checked_plans}/{checked_plans}",
            met=not problems,
            details={"problems": problems},
        )
    )
    for name, pk in names.items():
        rows.append(_lookup_row(name, lookup_latencies(pk, lookups, rng)))
    rows += semantic_rows(
        {f"{items:,} items": workspace_id, **({f"{large:,} items": large_id} if large_id else {})},
        lookups,
        rng,
        full=full,
    )
    return rows


#: The issue's targets (docs/feedback-intelligence.md, "Speed"), for the full size.
COMBINED_P95_TARGETS_MS = {100_000: 30.0, 1_000_000: 100.0}
DUPLICATE_RATE_TARGET = 1_000  # items/s, two worker processes
WORKER_RSS_TARGET_MB = 1024


def semantic_rows(workspaces: dict[str, int], lookups: int, rng: random.Random, *, full: bool) -> list[Row]:
    """Embedding throughput, the full combined lookup's p95 per workspace (every item with a
    vector) and the peak RSS of a fresh process holding what a worker holds: the model and
    the largest workspace's index."""
    rate = embedding_rate(rng)
    rows = [
        Row(
            benchmark="feedback: embedding, one core",
            figure=f"{rate:,.0f} items/s",
            value=rate,
            unit="items/s",
        )
    ]
    counts = {}
    for name, pk in workspaces.items():
        count = counts[name] = kept_vectors(pk, seed=11)
        times = combined_lookup_latencies(pk, lookups, rng)
        p50, p95 = statistics.median(times), percentile(times, 95)
        target = COMBINED_P95_TARGETS_MS.get(count) if full else None
        rows.append(
            Row(
                benchmark=f"duplicate lookup p95, combined (words + meaning): {name}",
                figure=f"p95 {p95 * 1000:,.1f} ms (p50 {p50 * 1000:,.1f}, max {max(times) * 1000:,.1f})",
                value=p95 * 1000,
                unit="ms",
                target=f"≤ {target:,.0f} ms" if target else "",
                met=p95 * 1000 <= target if target else None,
                details={"p50_ms": p50 * 1000, "vectors": count},
            )
        )
    largest_name, largest = max(workspaces.items(), key=lambda pair: counts[pair[0]])
    peak = worker_peak_rss(largest)
    rows.append(
        Row(
            benchmark=f"feedback: worker peak RSS, model + index of {largest_name}",
            figure=f"{peak:,.0f} MB (a fresh process)",
            value=peak,
            unit="MB",
            target=f"≤ {WORKER_RSS_TARGET_MB:,} MB" if full else "",
            met=peak <= WORKER_RSS_TARGET_MB if full else None,
        )
    )
    return rows


def suite(ctx: SuiteContext) -> list[Row]:
    return measure(
        **SIZES[ctx.size],
        dup_seconds=DUP_SECONDS[ctx.size],
        size=ctx.size,
        database_url=ctx.database_url,
        redis_url=ctx.redis_url,
    )


def main(argv: list[str]) -> None:
    full = SIZES["full"]
    parser = argparse.ArgumentParser(prog="python -m bench feedback_ingest")
    parser.add_argument("--items", type=int, default=full["items"])
    parser.add_argument("--large", type=int, default=full["large"], help="0: no large workspace")
    parser.add_argument("--clients", type=int, default=full["clients"])
    parser.add_argument("--web-workers", type=int, default=full["web_workers"])
    parser.add_argument("--dup-seconds", type=float, default=DUP_SECONDS["full"], help="0: skip")
    parser.add_argument("--lookups", type=int, default=full["lookups"])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", choices=["small", "full"], default="full", help="whose targets apply")
    args = parser.parse_args(argv)

    from bench.pages import production_env
    from bench.setup import django_for_bench

    production_env()
    django_for_bench()
    from django.conf import settings
    from django.db import connection

    from bench.suite import render_table

    if connection.vendor != "postgresql":
        print("warning: figures are meant for PostgreSQL (set BENCH_DATABASE_URL)", file=sys.stderr)
    rows = measure(
        items=args.items,
        large=args.large,
        clients=args.clients,
        web_workers=args.web_workers,
        dup_seconds=args.dup_seconds,
        lookups=args.lookups,
        port=args.port,
        seed=args.seed,
        size=args.size,
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=getattr(settings, "REDIS_URL", ""),
    )
    print(render_table(rows))
