"""Load soak: 50 clients for 5 minutes on a stack of its own, then count what was lost.

    .venv/bin/python -m bench.soak            # make soak: 50 clients, 300 s
    .venv/bin/python -m bench.soak --smoke    # make soak-smoke (CI): 10 clients, 30 s

What it does:

1. Starts a stack with ``tests.faults.stack.Stack``: its own database
   (``productops_fault_soak``, copied from a migrated template), its own ``redis-server``
   on a private port, gunicorn (``GUNICORN_MAX_REQUESTS=0``: workers are never recycled,
   so their memory can be watched), a Celery worker and beat; ``DEBUG`` off.
2. Seeds the demo workspace (``seed_demo --scale SOAK_SCALE``, run once into a template
   database ``productops_soak_seed_<hash>`` and copied afterwards, see
   :func:`use_seeded_template`) and one contributor per client, each with its own
   read/write API token. The API throttles per user, so every
   client has its own bucket; the rate (``API_THROTTLE_USER``, ``SOAK_THROTTLE``) is set
   far above what a client sends, so a 429 means a throttle bug, and it counts as an error.
3. Runs ``bench/load/locustfile.py`` headless (``-u SOAK_USERS -r SOAK_SPAWN_RATE
   -t SOAK_SECONDS``, CSVs with full history in the output directory) and samples, every
   ``SOAK_RSS_INTERVAL`` seconds, the resident memory (``VmRSS`` in ``/proc/<pid>/status``)
   summed over the gunicorn master and its workers, and over the Celery worker and its
   pool processes.
4. Compares the writes the clients saw acknowledged with the rows in the database.

It prints the figures and exits 1 if any criterion fails:

- no failed request (any 4xx or 5xx, 429 included, or a transport error; a write that is
  safe to repeat is retried once when its connection closed before any answer, and
  counted apart: see ``ApiClient._write`` in the locustfile);
- no lost write (an acknowledged feedback item, vote, link, contact or feature update
  missing, or a feature or link whose stored value is not the last one acknowledged)
  and no write stored twice;
- no unbounded response: every list page within its page size (and the cap of 200), every
  roadmap group within 50, the board's page within 30 features and the changelog's within
  10 releases, no response above ``LOAD_MAX_BYTES``;
- flat response times: p95 of the last minute ≤ ``SOAK_P95_RATIO`` × p95 of the first
  minute + ``SOAK_P95_SLACK_MS``;
- flat memory (full run only): RSS at the end ≤ ``SOAK_RSS_RATIO`` (1.2) × RSS at minute 1;
- no gunicorn worker restarted during the run (else the memory figure means nothing).

The smoke run keeps every check but the memory ratio: in 30 seconds the processes are
still warming up (imports, caches, connections, the pool's first tasks), so there is no
steady minute 1 to compare with; it still prints the RSS samples.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
SOAK_PORTS = range(18300, 18400)  # this soak's private ports (the fault scripts use 182xx)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


# --- memory, from /proc ------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; ppid follows the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``pid`` and all its descendants."""
    children = _children_map() if children is None else children
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (their own, not their reaped children's)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def tree_rss(pid: int | None, children: dict[int, list[int]]) -> tuple[int, list[int]]:
    if pid is None:
        return 0, []
    pids = process_tree(pid, children)
    return sum(rss_kib(p) for p in pids), pids


# --- figures -----------------------------------------------------------------------------


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def cpu_per_request(
    samples: list[dict[str, Any]], requests: list[Any], offset: float, start: float, end: float
) -> float | None:
    """gunicorn CPU milliseconds per request between the RSS/CPU samples nearest ``start`` and
    ``end`` (seconds of the load); ``offset`` turns locust's clock into the soak's."""
    if len(samples) < 2:
        return None
    first = min(samples, key=lambda s: abs(s["t"] - start))
    last = min(samples, key=lambda s: abs(s["t"] - end))
    count = sum(1 for t, _, _ in requests if first["t"] <= t + offset < last["t"])
    if last["t"] <= first["t"] or not count:
        return None
    return 1000 * (last["web_cpu_s"] - first["web_cpu_s"]) / count


def merge_ledgers(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "feedback": [], "votes": [], "vote_created": 0, "links": [], "features": {}, "contacts": [],
        "max_bytes": {}, "max_rows": {}, "unbounded": [], "unbounded_count": 0, "samples": [],
        "statuses": Counter(), "started": None, "retried": Counter(), "retried_errors": [],
    }  # fmt: skip
    files = sorted(directory.glob("ledger-*.json"))
    if not files:
        raise RuntimeError(f"locust wrote no ledger in {directory}")
    for path in files:
        part = json.loads(path.read_text())
        for key in ("feedback", "votes", "links", "contacts", "unbounded", "samples"):
            merged[key].extend(part[key])
        merged["features"].update(part["features"])
        merged["vote_created"] += part["vote_created"]
        merged["unbounded_count"] += part["unbounded_count"]
        merged["statuses"].update(part["statuses"])
        merged["retried"].update(part["retried"])
        merged["retried_errors"].extend(part["retried_errors"])
        for key in ("max_bytes", "max_rows"):
            for name, size in part[key].items():
                merged[key][name] = max(size, merged[key].get(name, 0))
        merged["started"] = min(part["started"], merged["started"] or part["started"])
    return merged


def locust_totals(csv_prefix: Path) -> dict[str, Any]:
    """Requests and failures from locust's own ``_stats.csv`` (the Aggregated row), and the
    failure messages from ``_failures.csv``."""
    import csv

    totals: dict[str, Any] = {"requests": 0, "failures": 0, "rps": 0.0, "failure_kinds": []}
    with open(f"{csv_prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                totals["requests"] = int(row["Request Count"])
                totals["failures"] = int(row["Failure Count"])
                totals["rps"] = float(row["Requests/s"])
                totals["p95_ms"] = float(row["95%"]) if row["95%"] not in ("", "N/A") else None
    failures_path = Path(f"{csv_prefix}_failures.csv")
    if failures_path.exists():
        with open(failures_path, newline="") as handle:
            for row in csv.DictReader(handle):
                totals["failure_kinds"].append(
                    f"{row['Occurrences']}× {row['Method']} {row['Name']}: {row['Error'][:160]}"
                )
    return totals


# --- lost and duplicated writes ------------------------------------------------------------


def count_writes(stack: Any, ledger: dict[str, Any], run: str, workspace_id: int) -> dict[str, Any]:
    """Acknowledged writes against the rows in the database."""
    result: dict[str, Any] = {"acknowledged": {}, "lost": {}, "duplicates": {}, "unacknowledged": {}}

    # Feedback: each acknowledged item by its marker (its source_ref, and in its text).
    acked = {entry["marker"]: entry["id"] for entry in ledger["feedback"]}
    rows = stack.sql(
        "SELECT id, source_ref FROM feedback_feedbackitem WHERE workspace_id = %s AND source_ref LIKE %s",
        [workspace_id, f"soak-{run}-%"],
    )
    stored = Counter(ref for _, ref in rows)
    stored_ids = {ref: item_id for item_id, ref in rows}
    by_text = stack.sql(
        "SELECT count(*) FROM feedback_feedbackitem WHERE workspace_id = %s AND text LIKE %s",
        [workspace_id, f"%(soak-{run}-%"],
    )[0][0]
    result["acknowledged"]["feedback"] = len(acked)
    result["lost"]["feedback"] = sum(
        1 for marker, item_id in acked.items() if stored_ids.get(marker) != item_id
    )
    result["duplicates"]["feedback"] = sum(n - 1 for n in stored.values() if n > 1) + max(
        0, by_text - len(rows)
    )
    result["unacknowledged"]["feedback"] = len(set(stored) - set(acked))

    # Votes: every (contact, feature) acknowledged, by the soak's own contacts.
    contacts = ledger["contacts"]
    vote_rows = stack.sql(
        "SELECT contact_id, feature_id, id FROM feedback_vote WHERE contact_id = ANY(%s)", [contacts]
    )
    vote_pairs = Counter((c, f) for c, f, _ in vote_rows)
    vote_ids = {(c, f): i for c, f, i in vote_rows}
    result["acknowledged"]["votes"] = len(ledger["votes"])
    result["lost"]["votes"] = sum(
        1 for v in ledger["votes"] if vote_ids.get((v["contact"], v["feature"])) != v["id"]
    )
    # Two 201s for one pair would be one vote created twice.
    result["duplicates"]["votes"] = sum(n - 1 for n in vote_pairs.values() if n > 1) + max(
        0, ledger["vote_created"] - len(ledger["votes"])
    )
    result["unacknowledged"]["votes"] = len(
        set(vote_pairs) - {(v["contact"], v["feature"]) for v in ledger["votes"]}
    )

    # Links: every (item, feature) acknowledged, with the importance last acknowledged.
    items = [entry["id"] for entry in ledger["feedback"]]
    link_rows = stack.sql(
        "SELECT item_id, feature_id, importance FROM feedback_feedbacklink WHERE item_id = ANY(%s)", [items]
    )
    links = {(i, f): imp for i, f, imp in link_rows}
    result["acknowledged"]["links"] = len(ledger["links"])
    result["lost"]["links"] = sum(
        1 for link in ledger["links"] if links.get((link["item"], link["feature"])) != link["importance"]
    )
    result["duplicates"]["links"] = len(link_rows) - len(links)
    result["unacknowledged"]["links"] = len(
        set(links) - {(link["item"], link["feature"]) for link in ledger["links"]}
    )

    # Contacts, and each client's own feature: the last acknowledged description and reach.
    contact_rows = stack.sql("SELECT id FROM feedback_contact WHERE id = ANY(%s)", [contacts])
    result["acknowledged"]["contacts"] = len(contacts)
    result["lost"]["contacts"] = len(set(contacts) - {row[0] for row in contact_rows})
    feature_ids = [int(k) for k in ledger["features"]]
    feature_rows = stack.sql(
        "SELECT id, description, reach FROM roadmap_feature WHERE id = ANY(%s)", [feature_ids]
    )
    features = {row[0]: (row[1], row[2]) for row in feature_rows}
    result["acknowledged"]["features"] = len(feature_ids)
    result["lost"]["features"] = sum(
        1
        for key, last in ledger["features"].items()
        if features.get(int(key)) != (last["description"], last["reach"])
    )
    return result


def sample_until_done(
    locust: subprocess.Popen,
    web_pid: int,
    worker_pid: int,
    samples: list[dict[str, Any]],
    interval: float,
    load_started: float,
) -> None:
    """Every ``interval`` seconds until locust exits: the RSS of the gunicorn tree and of the
    Celery worker tree, appended to ``samples`` and printed."""
    next_sample = time.time()
    while locust.poll() is None:
        now = time.time()
        if now >= next_sample:
            children = _children_map()
            web_rss, web_pids = tree_rss(web_pid, children)
            worker_rss, worker_pids = tree_rss(worker_pid, children)
            samples.append(
                {
                    "t": round(now - load_started, 1), "web_kib": web_rss, "worker_kib": worker_rss,
                    "web_pids": web_pids, "worker_pids": worker_pids,
                    "web_cpu_s": cpu_seconds(web_pids), "worker_cpu_s": cpu_seconds(worker_pids),
                    "locust_cpu_s": cpu_seconds(process_tree(locust.pid, children)),
                }
            )  # fmt: skip
            print(
                f"  t={now - load_started:5.0f}s  RSS gunicorn {web_rss / 1024:6.1f} MiB "
                f"({len(web_pids)} processes)  celery worker {worker_rss / 1024:6.1f} MiB "
                f"({len(worker_pids)})",
                flush=True,
            )
            next_sample += interval
        time.sleep(0.2)


def warm_up(stack: Any, slug: str, token: str, *, rounds: int) -> float:
    """Each read endpoint ``rounds`` times, 8 at a time, so every gunicorn worker has imported
    its code and opened its connections before the clock starts: the first minute then
    measures the app, not its cold start. Answers the seconds it took."""
    from concurrent.futures import ThreadPoolExecutor

    ws = f"/api/v1/workspaces/{slug}"
    feature = stack.scalar("SELECT min(id) FROM roadmap_feature")
    paths = [
        f"{ws}/features/?page_size=50", f"{ws}/features/{feature}/", f"{ws}/features/{feature}/score/",
        f"{ws}/feedback/?page_size=50", f"{ws}/feedback/?search=export", f"{ws}/releases/",
        f"{ws}/roadmap/", f"{ws}/votes/", f"/p/{slug}/", f"/p/{slug}/roadmap/", f"/p/{slug}/changelog/",
    ]  # fmt: skip
    started = time.monotonic()
    with stack.client(timeout=60) as client, ThreadPoolExecutor(8) as pool:
        headers = {"Authorization": f"Bearer {token}"}
        list(pool.map(lambda path: client.get(path, headers=headers), paths * rounds))
    return time.monotonic() - started


# --- the run ---------------------------------------------------------------------------------

SEED_CODE = """
from productops import services
from productops.models import Role, User, Workspace

workspace = Workspace.objects.get(slug="demo")
tokens = []
for n in range({users}):
    user = User.objects.create_user(username=f"soak{{n:03d}}", email=f"soak{{n:03d}}@example.com")
    services.membership_add(workspace=workspace, user=user, role=Role.CONTRIBUTOR, actor=None)
    _, key = services.api_token_create(
        workspace=workspace, user=user, name="soak", scopes=["read", "write"], actor=None
    )
    tokens.append(key)
result = {{"workspace_id": workspace.pk, "slug": workspace.slug, "tokens": tokens}}
"""

SEED_TEMPLATE_PREFIX = "productops_soak_seed_"


def use_seeded_template(stack_module: Any, scale: int, timings: dict[str, Any]) -> None:
    """Make the stack's database a copy of a migrated *and* seeded template.

    ``seed_demo`` takes about 12 s; the demo data only changes with the migrations, the
    ``*/demo.py`` seeders and the scale, so it is built once per combination of them (under
    an advisory lock) and copied in about a second afterwards. Older soak templates are
    dropped when a new one is built."""
    import hashlib
    import tempfile

    import psycopg

    migrated_template = stack_module._template_db
    digest = hashlib.sha256(f"{stack_module._migrations_hash()}:{scale}".encode())
    for path in sorted([*ROOT.glob("*/demo.py"), ROOT / "productops/management/commands/seed_demo.py"]):
        digest.update(path.read_bytes())
    name = f"{SEED_TEMPLATE_PREFIX}{digest.hexdigest()[:12]}"

    def seeded(env: dict[str, str]) -> str:
        base = migrated_template(env)
        with stack_module._admin_conn() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('productops_soak_seed'))")
            try:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                    timings["seeded template"] = "reused"
                    return name
                started = time.monotonic()
                for attempt in range(50):
                    try:
                        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
                        break
                    except psycopg.errors.ObjectInUse:  # another stack copying the same template
                        if attempt == 49:
                            raise
                        time.sleep(0.2)
                # No Redis yet (the stack starts its own after the database): the seed's
                # after-commit tasks go to a throwaway filesystem broker; the scores are
                # computed inside seed_demo itself.
                with tempfile.TemporaryDirectory(prefix="soak_seed_") as var_dir:
                    seed_env = {**env, "DATABASE_URL": f"{env['DATABASE_URL'].rsplit('/', 1)[0]}/{name}"}
                    seed_env.pop("REDIS_URL", None)
                    seed_env["VAR_DIR"] = var_dir
                    done = subprocess.run(  # noqa: S603
                        [sys.executable, "manage.py", "seed_demo", "--scale", str(scale), "--force"],
                        cwd=ROOT, env=seed_env, capture_output=True, text=True, timeout=900,
                    )  # fmt: skip
                if done.returncode != 0:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    raise RuntimeError(f"seed_demo failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
                for (old,) in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                    [SEED_TEMPLATE_PREFIX.replace("_", "\\_") + "%", name],
                ).fetchall():
                    with contextlib.suppress(psycopg.Error):
                        conn.execute(f'DROP DATABASE "{old}"')
                timings["seeded template"] = f"built in {time.monotonic() - started:.1f}s"
                return name
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('productops_soak_seed'))")

    stack_module._template_db = seeded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="CI size: 10 clients, 30 s, no memory ratio.")
    args = parser.parse_args(argv)
    smoke = args.smoke
    users = env_int("SOAK_USERS", 10 if smoke else 50)
    seconds = env_int("SOAK_SECONDS", 30 if smoke else 300)
    spawn_rate = env_float("SOAK_SPAWN_RATE", 10)
    interval = env_float("SOAK_RSS_INTERVAL", 5 if smoke else 10)
    rss_ratio_max = env_float("SOAK_RSS_RATIO", 1.2)
    # The smoke's windows hold a few dozen requests each, so its p95 is nearly the largest
    # one: a looser bound keeps it from failing on a noisy CI machine (it still catches a
    # server that slows down by multiples).
    p95_ratio_max = env_float("SOAK_P95_RATIO", 2.0 if smoke else 1.5)
    p95_slack_ms = env_float("SOAK_P95_SLACK_MS", 50 if smoke else 20)
    web_workers = env_int("SOAK_WEB_WORKERS", 3)
    worker_concurrency = env_int("SOAK_WORKER_CONCURRENCY", 2)
    throttle = os.environ.get("SOAK_THROTTLE", "100000/minute")
    out = Path(os.environ.get("SOAK_OUT") or ROOT / "var" / "soak" / time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    run = f"{int(time.time()) % 100000:05d}"
    started = time.monotonic()

    sys.path.insert(0, str(ROOT))
    from tests.faults import stack as stack_module

    stack_module.PORT_RANGE = SOAK_PORTS
    env = {
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_MAX_REQUESTS_JITTER": "0",
        "API_THROTTLE_USER": throttle,
    }
    print(
        f"soak: {users} clients for {seconds}s ({'smoke' if smoke else 'full'}), "
        f"{web_workers} gunicorn workers, worker concurrency {worker_concurrency}; output in {out}",
        flush=True,
    )
    checks: list[tuple[str, bool, str]] = []
    figures: dict[str, Any] = {}
    use_seeded_template(stack_module, env_int("SOAK_SCALE", 1), figures)
    with stack_module.Stack(
        "soak", web_workers=web_workers, worker_concurrency=worker_concurrency, env=env
    ) as stack:
        seeded = stack.django(SEED_CODE.format(users=users), timeout=600)
        config = stack.tmp / "load-config.json"
        config.write_text(json.dumps({"run": run, "workspace": seeded["slug"], "tokens": seeded["tokens"]}))
        warm_s = warm_up(stack, seeded["slug"], seeded["tokens"][0], rounds=web_workers * 2)
        setup_s = time.monotonic() - started
        print(f"soak: stack up, seeded and warmed ({warm_s:.1f}s) in {setup_s:.1f}s; load starts", flush=True)

        ledger_dir = out / "ledger"
        locust_env = {**os.environ, "LOAD_CONFIG": str(config), "LOAD_LEDGER_DIR": str(ledger_dir)}
        csv_prefix = out / "locust"
        locust_argv = [
            str(ROOT / ".venv" / "bin" / "locust"), "-f", str(LOCUSTFILE), "--headless",
            "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s", "--host", stack.base_url,
            "--csv", str(csv_prefix), "--csv-full-history", "--only-summary", "--stop-timeout", "10",
            "--exit-code-on-error", "0", "--loglevel", "WARNING",
        ]  # fmt: skip
        web_pid = stack.processes["web"].pid
        worker_pid = stack.processes["worker"].pid
        web_children_before = set(process_tree(web_pid)) - {web_pid}
        pool_before = set(process_tree(worker_pid)) - {worker_pid}
        samples: list[dict[str, Any]] = []
        load_before = os.getloadavg()[0]
        with open(out / "locust.log", "wb") as log:
            load_started = time.time()
            locust = subprocess.Popen(locust_argv, env=locust_env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            try:
                sample_until_done(locust, web_pid, worker_pid, samples, interval, load_started)
            finally:
                if locust.poll() is None:
                    locust.terminate()
                    locust.wait(timeout=30)
        load_s = time.time() - load_started
        web_children_after = set(process_tree(web_pid)) - {web_pid}
        pool_after = set(process_tree(worker_pid)) - {worker_pid}
        (out / "rss.json").write_text(json.dumps(samples))

        if locust.returncode not in (0, 1):
            print((out / "locust.log").read_text()[-3000:])
            checks.append(("locust ran", False, f"exit code {locust.returncode}"))
            return report(figures, checks, started)

        totals = locust_totals(csv_prefix)
        ledger = merge_ledgers(ledger_dir)
        writes = count_writes(stack, ledger, run, seeded["workspace_id"])
        stack_dirty = stack.scalar("SELECT count(*) FROM roadmap_feature WHERE score_state <> 0")

    # Response times: the first and the last minute of the load (for a run shorter than two
    # minutes, its first and last third, at least 10 s each).
    window = 60.0 if seconds >= 120 else max(10.0, seconds / 3)
    samples_rt = ledger["samples"]
    windows = [(0.0, window), (seconds - window, float(seconds))]
    first = [rt for t, rt, _ in samples_rt if windows[0][0] <= t < windows[0][1]]
    last = [rt for t, rt, _ in samples_rt if windows[1][0] <= t < windows[1][1]]
    p95_first, p95_last = p95(first), p95(last)

    # Counted from the clients' own record of every request event; locust's CSV totals can
    # miss the last few that end as it stops (5,333 against 5,348 in one run).
    requests = len(samples_rt)
    errors = max(totals["failures"], sum(1 for _, _, ok in samples_rt if not ok))
    figures["requests"] = requests
    figures["requests/s"] = round(totals["rps"], 1)
    figures["errors"] = errors
    figures["failed requests by status"] = dict(ledger["statuses"]) or "none"
    figures[f"p95 first {window:.0f}s (ms)"] = p95_first
    figures[f"p95 last {window:.0f}s (ms)"] = p95_last
    figures["p95 whole run (ms)"] = totals.get("p95_ms")
    for kind in ("acknowledged", "lost", "duplicates", "unacknowledged"):
        figures[f"writes {kind}"] = writes[kind]
    figures["features still dirty at the end"] = stack_dirty
    largest = sorted(ledger["max_bytes"].items(), key=lambda kv: -kv[1])
    figures["max response bytes"] = f"{largest[0][1]} ({largest[0][0]})" if largest else None
    figures["largest responses"] = ", ".join(f"{name} {size}" for name, size in largest[:5])
    figures["most rows on one page"] = ", ".join(f"{k} {v}" for k, v in sorted(ledger["max_rows"].items()))
    figures["unbounded responses"] = ledger["unbounded_count"]
    figures["writes retried after a closed connection"] = dict(ledger["retried"]) or 0

    def at(t: float) -> dict[str, Any]:
        return min(samples, key=lambda s: abs(s["t"] - t))

    if samples:
        baseline = at(60.0) if not smoke else samples[0]
        final = samples[-1]
        for label, sample in (("baseline", baseline), ("end", final)):
            figures[f"RSS {label} at t={sample['t']:.0f}s (MiB)"] = (
                f"gunicorn {sample['web_kib'] / 1024:.1f} + celery worker {sample['worker_kib'] / 1024:.1f} "
                f"= {(sample['web_kib'] + sample['worker_kib']) / 1024:.1f}"
            )
        base_total = baseline["web_kib"] + baseline["worker_kib"]
        final_total = final["web_kib"] + final["worker_kib"]
        ratio = final_total / base_total if base_total else math.inf
        figures["RSS ratio end / baseline"] = (
            f"{ratio:.3f} (gunicorn {final['web_kib'] / max(1, baseline['web_kib']):.3f}, "
            f"celery worker {final['worker_kib'] / max(1, baseline['worker_kib']):.3f})"
        )
        span = final["t"] - samples[0]["t"] or 1.0
        cpu = {key: final[f"{key}_cpu_s"] - samples[0][f"{key}_cpu_s"] for key in ("web", "worker", "locust")}
        figures["CPU during the load (cores)"] = (
            f"gunicorn {cpu['web'] / span:.2f}, celery worker {cpu['worker'] / span:.2f}, "
            f"locust {cpu['locust'] / span:.2f} (of {os.cpu_count()})"
        )
        figures["gunicorn CPU per request (ms)"] = round(1000 * cpu["web"] / max(1, requests), 1)
        # The same per window: unlike p95 it hardly moves when other jobs share the machine,
        # so it tells a slower app from a busier machine.
        offset = ledger["started"] - load_started
        drift = [cpu_per_request(samples, samples_rt, offset, a, b) for a, b in windows]
        figures[f"gunicorn CPU per request, first → last {window:.0f}s (ms)"] = " → ".join(
            f"{value:.1f}" if value is not None else "n/a" for value in drift
        )
    figures["gunicorn workers replaced"] = len(web_children_before - web_children_after)
    figures["celery pool processes replaced"] = len(pool_before - pool_after)
    figures["load average (1 min) before / after"] = f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"
    figures["setup (s)"] = round(setup_s, 1)
    figures["load (s)"] = round(load_s, 1)

    def check(name: str, ok: bool, detail: Any = "") -> None:
        checks.append((name, bool(ok), detail))

    check("zero errors (429 included)", errors == 0, "; ".join(totals["failure_kinds"][:5]))
    check("some load was served", requests > users * 2, requests)
    check("zero lost writes", sum(writes["lost"].values()) == 0, writes["lost"])
    check("zero duplicated writes", sum(writes["duplicates"].values()) == 0, writes["duplicates"])
    check("every list and page bounded", ledger["unbounded_count"] == 0, ledger["unbounded"][:3])
    flat = None not in (p95_first, p95_last) and p95_last <= p95_ratio_max * p95_first + p95_slack_ms
    check(
        f"flat response times (p95 last ≤ {p95_ratio_max} × first + {p95_slack_ms:.0f} ms)",
        flat,
        f"{p95_first} → {p95_last} ms",
    )
    replaced = web_children_before - web_children_after
    check("gunicorn workers never recycled (max_requests off)", not replaced, sorted(replaced) or "")
    if not smoke and samples:
        check(f"flat memory (RSS end ≤ {rss_ratio_max} × minute 1)", ratio <= rss_ratio_max, f"{ratio:.3f}")
    summary = {"figures": figures, "checks": checks}
    (out / "summary.json").write_text(json.dumps(summary, default=str, indent=2))
    return report(figures, checks, started)


def report(figures: dict[str, Any], checks: list[tuple[str, bool, str]], started: float) -> int:
    failed = [name for name, ok, _ in checks if not ok]
    print(f"\n== soak: {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.1f}s")
    for name, value in figures.items():
        print(f"   {name}: {value}")
    for name, ok, detail in checks:
        print(
            f"  [{'ok' if ok else 'FAIL'}] {name}{(' — ' + str(detail)) if detail not in ('', None) else ''}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
