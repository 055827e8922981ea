"""The API under load, against the floor of its own stack.

    .venv/bin/python -m bench api_load                 # full: scale 10, 16 clients, about 2 min
    .venv/bin/python -m bench api_load --size small    # CI: under 45 s, stack start and stop included

What it does:

1. Copies the benchmark database (``seed_demo``'s demo workspace, slug ``demo``) into a
   database of its own (``productops_fault_api_load``, dropped at the end), so the writes
   of the mix never change the suite's dataset.
2. Serves it as in production (``tests.faults.stack.Stack``): gunicorn with
   ``gunicorn.conf.py`` and its documented worker count (2 × cores + 1, capped at 8),
   ``DEBUG`` off, PostgreSQL, its own Redis, one Celery worker (concurrency 1), on loopback
   ports 8720-8729. Two differences, both stated: ``GUNICORN_MAX_REQUESTS=0`` (a worker
   restarting in the middle of a 10 s phase would cost that phase alone a second of CPU),
   and the settings module ``bench.floor_settings``: the production settings with the
   floors added (``bench/floor_urls.py``).
3. Throttles out of the way: one contributor and API token per client (the API throttles
   per user, so each client has its own bucket) and ``API_THROTTLE_USER`` (and ``_ANON``)
   at 1,000,000/minute, far above what 16 clients send. A 429 would be an error.
4. Runs locust headless in its own process (pinned to the last core with ``taskset``),
   16 clients without think time, ``ApiLoadClient`` of ``bench/load/locustfile.py`` (the
   soak's client with this benchmark's schedule): a warm-up, the mix (features by priority
   with filters, feature detail, its score breakdown, feedback search, create feedback,
   vote, link, roadmap by horizon, the public board's home page), then 3 × (the features
   page of the app, the floor's same page) alternately.

Rows: per endpoint of the mix, requests/s, p50/p95/p99 and errors (p95 < 50 ms for reads,
< 100 ms for writes is a target of the full run only); the features list's requests/s ÷
the floor's (medians of the interleaved phases, target ≥ 0.5×); errors over the whole run
(target 0). It raises only when the stack is broken (it does not start, locust crashes, the
floor's page is not the app's page, or one side never answered a request).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import runpy
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.results import Row, SuiteContext

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
PORTS = range(8720, 8730)
CLIENTS = 16
SLUG = "demo"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/productops_bench"
APP_PAGE = f"/api/v1/workspaces/{SLUG}/features/?ordering=priority_rank&page_size=50"
FLOOR_PAGE = f"/bench/floor/{SLUG}/features/?page_size=50"

#: Seconds of each phase: warm-up, mix, and the app's and the floor's features page, ``rounds`` times.
SIZES: dict[str, dict[str, float]] = {
    "small": {"warm": 2, "mix": 5, "app": 2, "floor": 2, "rounds": 3},
    "full": {"warm": 5, "mix": 45, "app": 10, "floor": 10, "rounds": 3},
}
#: Mix request names (locustfile) → what the table prints, and whether it is a write.
ENDPOINTS = {
    "features?ordering=priority": ("GET features/?ordering=priority… (filters)", False),
    "features/{id}": ("GET features/{id}/", False),
    "features/{id}/score": ("GET features/{id}/score/", False),
    "feedback?search": ("GET feedback/?search=…", False),
    "roadmap?group_by=horizon": ("GET roadmap/?group_by=horizon", False),
    "board home": ("GET /p/demo/ (public board)", False),
    "feedback (create)": ("POST feedback/", True),
    "votes (create)": ("POST votes/", True),
    "feedback/{id}/links (create)": ("POST feedback/{id}/links/", True),
}
READ_P95_MS, WRITE_P95_MS = 50.0, 100.0
RATIO_TARGET = 0.5


def schedule(size: str) -> str:
    sizes = SIZES[size]
    phases = [f"warm:{sizes['warm']}", f"mix:{sizes['mix']}"]
    for _ in range(int(sizes["rounds"])):
        phases += [f"app:{sizes['app']}", f"floor:{sizes['floor']}"]
    return ",".join(phases)


def documented_workers() -> int:
    """gunicorn.conf.py's own worker count (WEB_CONCURRENCY, else 2 × cores + 1, capped)."""
    return int(runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


# --- the stack ---------------------------------------------------------------------------------


def _stack_class() -> Any:
    sys.path.insert(0, str(ROOT))
    from bench.soak import SEED_CODE
    from tests.faults.stack import Stack

    class LoadStack(Stack):
        """The fault scripts' stack; its seed step (run while the processes start) makes one
        contributor with a read/write token per client in the copied demo workspace."""

        def seed_basic(self, **kwargs: Any) -> Any:
            self.tokens = self.django(SEED_CODE.format(users=CLIENTS), timeout=120)
            return self.tokens

    return LoadStack


@contextlib.contextmanager
def serving(database_url: str, *, quiet: bool) -> Any:
    """A stack serving a copy of ``database_url``; stopped (and the copy dropped) on exit."""
    from tests.faults import stack as stack_module

    source = database_url.rsplit("/", 1)[1]
    saved = stack_module.PORT_RANGE, stack_module._template_db
    stack_module.PORT_RANGE = PORTS
    # The copy's template is the benchmark database itself (it must have no other session
    # while it is copied: the suite's own Django connection is closed first).
    stack_module._template_db = lambda env: source
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.floor_settings",
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_MAX_REQUESTS_JITTER": "0",
        # Nothing is left to finish at the stop: a long grace only delays the teardown.
        "GUNICORN_GRACEFUL_TIMEOUT": "1",
        "API_THROTTLE_USER": "1000000/minute",
        "API_THROTTLE_ANON": "1000000/minute",
        # One JSON line per request on the access log, as in production: it stays on.
    }
    try:
        load_stack = _stack_class()
        with load_stack(
            "api_load", web_workers=documented_workers(), worker_concurrency=1, beat=False,
            seed=True, env=env, quiet=quiet,
        ) as stack:  # fmt: skip
            yield stack
    finally:
        stack_module.PORT_RANGE, stack_module._template_db = saved


def check_same_page(stack: Any, token: str) -> int:
    """The floor's page must be the app's page (same ids, same order); answers its length."""
    app = stack.api("GET", APP_PAGE, token=token)
    floor = stack.api("GET", FLOOR_PAGE, token="")
    if app.status != 200 or floor.status != 200:
        raise RuntimeError(f"features page: app {app.status}, floor {floor.status} {floor.text[:300]}")
    app_ids = [row["id"] for row in app.json["results"]]
    floor_ids = [row["id"] for row in floor.json["results"]]
    if app_ids != floor_ids or not app_ids:
        raise RuntimeError(f"the floor's page is not the app's: {floor_ids[:10]}… vs {app_ids[:10]}…")
    return len(app_ids)


def run_locust(stack: Any, size: str, tokens: list[str], out: Path) -> dict[str, Any]:
    phases = schedule(size)
    total = sum(float(p.split(":")[1]) for p in phases.split(","))
    config = out / "load-config.json"
    config.write_text(
        json.dumps(
            {"run": f"bench{int(time.time()) % 100000:05d}", "workspace": SLUG, "tokens": tokens,
             "ratio_app": APP_PAGE, "ratio_floor": FLOOR_PAGE}
        )
    )  # fmt: skip
    request_log = out / "requests.json"
    argv = [
        str(ROOT / ".venv" / "bin" / "locust"), "-f", str(LOCUSTFILE), "ApiLoadClient", "--headless",
        "-u", str(CLIENTS), "-r", "100", "-t", f"{math.ceil(total)}s", "--host", stack.base_url,
        "--only-summary", "--stop-timeout", "3", "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pinned = bool(shutil.which("taskset") and len(cpus) > 1)
    if pinned:
        argv = ["taskset", "-c", str(cpus[-1]), *argv]
    env = {
        **os.environ, "LOAD_PROFILE": "api_load", "LOAD_PHASES": phases, "LOAD_CONFIG": str(config),
        "LOAD_REQUEST_LOG": str(request_log),
    }  # fmt: skip
    with open(out / "locust.log", "wb") as log:
        locust = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
        try:
            locust.wait(timeout=total + 60)
        finally:
            if locust.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(locust.pid, 9)
                locust.wait(timeout=10)
    if not request_log.exists():
        tail = (out / "locust.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"locust wrote no request log (exit {locust.returncode}):\n{tail}")
    data = json.loads(request_log.read_text())
    data["pinned"] = f"taskset -c {cpus[-1]}" if pinned else "not pinned"
    data["failures"] = (out / "locust.log").read_text(errors="replace")[-2000:]
    return data


# --- figures ---------------------------------------------------------------------------------


def endpoint_rows(data: dict[str, Any], size: str) -> list[Row]:
    (mix_start, mix_end) = next((s, e) for name, s, e in data["phases"] if name.startswith("mix"))
    seconds = mix_end - mix_start
    rows = []
    for name, (label, write) in ENDPOINTS.items():
        done = [r for r in data["requests"] if r[0] == name and mix_start <= r[1] < mix_end]
        times = [r[2] for r in done]
        errors = sum(1 for r in done if not r[3])
        p50, p95, p99 = (percentile(times, q) for q in (0.5, 0.95, 0.99))
        limit = WRITE_P95_MS if write else READ_P95_MS
        full = size == "full"
        rows.append(
            Row(
                benchmark=f"api load: {label}",
                figure=(
                    f"{len(done) / seconds:,.1f} req/s, p50 {_ms(p50)} / p95 {_ms(p95)} / p99 {_ms(p99)} ms, "
                    f"{errors} errors"
                ),
                value=p95 if p95 is not None else float("nan"),
                unit="ms p95",
                target=f"p95 < {limit:g} ms" if full else "",
                met=(p95 is not None and p95 < limit) if full else None,
                details={
                    "requests": len(done),
                    "requests_per_s": len(done) / seconds,
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "p99_ms": p99,
                    "errors": errors,
                    "seconds": seconds,
                    "p95_target_ms (full run only)": limit,
                },
            )
        )
    return rows


def phase_figures(data: dict[str, Any], kind: str) -> list[dict[str, float]]:
    """Requests/s of each ``kind`` phase ("app" or "floor"), counting the requests that ended
    in it after its first fifth (at most 1 s: the other side's last requests and the switch)."""
    figures = []
    for name, start, end in data["phases"]:
        if not name.startswith(kind):
            continue
        settle = min(1.0, (end - start) / 5)
        done = [r for r in data["requests"] if r[0] == f"ratio {name}" and start + settle <= r[1] < end]
        ok = [r for r in done if r[3]]
        rps = len(ok) / (end - start - settle)
        p50 = percentile([r[2] for r in ok], 0.5)
        figures.append({"phase": name, "rps": rps, "p50_ms": p50, "errors": len(done) - len(ok)})
    return figures


def ratio_row(data: dict[str, Any]) -> Row:
    app, floor = phase_figures(data, "app"), phase_figures(data, "floor")
    if not any(p["rps"] for p in app) or not any(p["rps"] for p in floor):
        errors = sorted(data.get("errors", {}).items(), key=lambda kv: -kv[1])[:5]
        raise RuntimeError(f"a side answered nothing: app {app}, floor {floor}; errors {errors}")
    app_rps = statistics.median(p["rps"] for p in app)
    floor_rps = statistics.median(p["rps"] for p in floor)
    ratio = app_rps / floor_rps
    p50 = statistics.median(p["p50_ms"] or 0 for p in app), statistics.median(p["p50_ms"] or 0 for p in floor)
    return Row(
        benchmark=f"api load: features list by priority ÷ floor, req/s at {CLIENTS} clients",
        figure=(
            f"{ratio:.2f}× ({app_rps:,.1f} vs {floor_rps:,.1f} req/s; p50 {p50[0]:,.1f} vs {p50[1]:,.1f} ms; "
            f"{len(app)}×2 phases interleaved)"
        ),
        value=ratio,
        unit="×",
        target=f"≥ {RATIO_TARGET:g}× floor",
        met=ratio >= RATIO_TARGET,
        details={"app": app, "floor": floor, "pairs": [a["rps"] / f["rps"] if f["rps"] else None
                                                       for a, f in zip(app, floor, strict=True)]},
    )  # fmt: skip


def errors_row(data: dict[str, Any]) -> Row:
    failed = [r for r in data["requests"] if not r[3]]
    by_name: dict[str, int] = {}
    for r in failed:
        by_name[r[0]] = by_name.get(r[0], 0) + 1
    return Row(
        benchmark="api load: errors (whole run, warm-up and set-up included)",
        figure=f"{len(failed)} of {len(data['requests']):,} requests",
        value=len(failed),
        unit="errors",
        target="0",
        met=not failed,
        details={"by_name": by_name, "kinds": data.get("errors", {})},
    )


def run(size: str, database_url: str, *, quiet: bool = False) -> list[Row]:
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="api_load_") as tmp, serving(database_url, quiet=quiet) as stack:
        up_s = time.monotonic() - started
        tokens = stack.tokens["tokens"]
        page = check_same_page(stack, tokens[0])
        data = run_locust(stack, size, tokens, Path(tmp))
        load_s = time.monotonic() - started - up_s
        # Inside the stack's block: if the figures show a broken stack, its logs are kept.
        rows = [*endpoint_rows(data, size), ratio_row(data), errors_row(data)]
    info = {
        "size": size, "clients": CLIENTS, "gunicorn_workers": documented_workers(), "page_size": page,
        "schedule": schedule(size), "locust": data["pinned"], "stack_up_s": round(up_s, 1),
        "load_s": round(load_s, 1), "total_s": round(time.monotonic() - started, 1),
    }  # fmt: skip
    for row in rows:
        row.details["run"] = info
    return rows


def suite(ctx: SuiteContext) -> list[Row]:
    return run(ctx.size, ctx.database_url, quiet=True)


def _ensure_dataset(database_url: str, scale: int) -> None:
    """The demo workspace in ``database_url`` (seeded at ``scale`` with the suite's seed if absent)."""
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with contextlib.suppress(psycopg.Error), psycopg.connect(database_url) as conn:
        if conn.execute("SELECT 1 FROM productops_workspace WHERE slug = %s", [SLUG]).fetchone():
            return
    env = {**os.environ, "DATABASE_URL": database_url, "DB_LONG_RUNNING": "1"}
    seed = ["seed_demo", "--scale", str(scale), "--seed", "2027", "--force"]
    for command in (["migrate", "--noinput"], seed):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)  # noqa: S603


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench api_load", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument(
        "--scale", type=int, help="seed_demo scale if the dataset is missing (small 1, full 10)."
    )
    args = parser.parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE)
    _ensure_dataset(database_url, args.scale or (10 if args.size == "full" else 1))
    rows = run(args.size, database_url)
    width = max(len(row.benchmark) for row in rows)
    for row in rows:
        met = {True: "met", False: "NOT MET", None: ""}[row.met]
        print(f"{row.benchmark:<{width}}  {row.figure}  {row.target}  {met}")
    print(json.dumps(rows[-1].details["run"]))


if __name__ == "__main__":
    main(sys.argv[1:])
