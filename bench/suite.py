"""The benchmark suite: every benchmark on one reused dataset, one table, one JSON file.

    python -m bench suite [--size small|full] [--only name,...] [--scale N]
    python -m bench compare A.json B.json

``suite`` sets Django up on the benchmark database (``BENCH_DATABASE_URL``; default
PostgreSQL ``productops_bench`` for ``full``, ``productops_bench_small`` for ``small``)
and Redis (``BENCH_REDIS_URL``, else ``REDIS_URL``, else ``redis://127.0.0.1:6379/0``),
with ``DEBUG`` off as in production. It builds the dataset with ``seed_demo --scale
<scale> --seed 2027 --force`` (scale 1 for ``small``, 10 for ``full``, unless ``--scale``)
and reuses it while its fingerprint is unchanged: the scale, the seed, the latest applied
migration of every app, the sha256 of every ``*/demo.py`` and the demo workspace's row
counts (a benchmark that deleted or grew it is caught). The fingerprint is kept in the
benchmark database's ``bench_dataset`` table.

Then it calls ``suite(ctx)`` of every benchmark in ``bench.__main__.SUITE`` (or
``--only``), prints one table (benchmark, figure, target, met) and, last, ``targets
met: N/M``, and writes ``bench/results/<UTC timestamp>-<size>.json`` with the rows and
the machine. A benchmark that raises is a row "BROKEN" with its traceback printed after
the table, and the exit status is 1; a missed target is only a row with met "no".
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path

from bench.results import Row, SuiteContext

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 2027
DEFAULT_SCALE = {"small": 1, "full": 10}
DEFAULT_DATABASE = {
    "small": "postgres://postgres@127.0.0.1:5432/productops_bench_small",
    "full": "postgres://postgres@127.0.0.1:5432/productops_bench",
}
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DATASET_TABLE = "bench_dataset"
MET = {True: "yes", False: "no", None: "—"}


# --- the dataset's fingerprint ------------------------------------------------------------


def demo_sha256(root: Path = ROOT) -> str:
    """sha256 over every ``<app>/demo.py`` (its path and content), in path order."""
    digest = hashlib.sha256()
    for path in sorted(root.glob("*/demo.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def latest_migrations(applied: list[tuple[str, str]]) -> dict[str, str]:
    """The latest applied migration per app from ``(app, name)`` rows (names sort by number)."""
    latest: dict[str, str] = {}
    for app, name in applied:
        if name > latest.get(app, ""):
            latest[app] = name
    return dict(sorted(latest.items()))


def fingerprint(*, scale: int, seed: int, migrations: dict[str, str], demo_hash: str) -> dict:
    """What the dataset was built from: while it is the same, the dataset is reused."""
    return {
        "scale": scale,
        "seed": seed,
        "migrations": dict(sorted(migrations.items())),
        "demo_sha256": demo_hash,
    }


def current_fingerprint(*, scale: int, seed: int) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        applied = cursor.fetchall()
    return fingerprint(scale=scale, seed=seed, migrations=latest_migrations(applied), demo_hash=demo_sha256())


def demo_counts() -> dict[str, int] | None:
    """Row counts of the demo workspace (None without one): a changed dataset is rebuilt."""
    from feedback.models import Company, FeedbackItem
    from productops.models import Workspace
    from releases.models import Release
    from roadmap.models import Feature

    workspace = Workspace.objects.filter(slug="demo").first()
    if workspace is None:
        return None
    return {
        "features": Feature.objects.filter(workspace=workspace).count(),
        "feedback_items": FeedbackItem.objects.filter(workspace=workspace).count(),
        "companies": Company.objects.filter(workspace=workspace).count(),
        "releases": Release.objects.filter(workspace=workspace).count(),
    }


def _stored() -> dict | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {DATASET_TABLE} "
            "(id integer PRIMARY KEY, fingerprint jsonb NOT NULL, built_at timestamptz NOT NULL,"
            " seconds float)"
        )
        cursor.execute(f"SELECT fingerprint FROM {DATASET_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def _store(stored: dict | None, seconds: float = 0.0) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DATASET_TABLE} WHERE id = 1")
        if stored is not None:
            cursor.execute(
                f"INSERT INTO {DATASET_TABLE} (id, fingerprint, built_at, seconds) VALUES (1, %s, %s, %s)",
                [json.dumps(stored), datetime.now(UTC).isoformat(), seconds],
            )


def ensure_dataset(*, scale: int, seed: int = SEED) -> tuple[bool, float]:
    """Reuse the dataset if its fingerprint matches, else rebuild it: (reused, build seconds).

    A rebuild deletes the demo workspace first (``seed_demo`` tops up: it never shrinks
    data) and forgets the stored fingerprint until the new build has finished, then
    runs ``ANALYZE`` (autovacuum is off on these machines: fresh statistics are set-up).
    Other workspaces in the database (other benchmarks' own) are left alone.
    """
    from django.core.management import call_command
    from django.db import connection

    wanted = current_fingerprint(scale=scale, seed=seed)
    stored = _stored()
    if stored is not None and stored.get("build") == wanted and stored.get("counts") == demo_counts():
        return True, 0.0
    from productops.models import Workspace
    from productops.services import workspace_delete

    started = time.perf_counter()
    _store(None)
    for workspace in Workspace.objects.filter(slug="demo"):
        workspace_delete(workspace=workspace, actor=None)
    call_command("seed_demo", scale=scale, seed=seed, force=True, verbosity=0, stdout=io.StringIO())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seconds = time.perf_counter() - started
    _store({"build": wanted, "counts": demo_counts()}, seconds)
    return False, seconds


def standalone_context(*, scale: int, size: str = "full", seed: int = SEED) -> SuiteContext:
    """For one benchmark's ``main``: the dataset ensured (Django set up), its context."""
    from django.conf import settings

    reused, seconds = ensure_dataset(scale=scale, seed=seed)
    print("dataset reused" if reused else f"dataset built in {seconds:.0f} s", flush=True)
    return SuiteContext(
        size=size,
        scale=scale,
        seed=seed,
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=getattr(settings, "REDIS_URL", ""),
    )


# --- the machine ----------------------------------------------------------------------------


def _first_line(path: str, prefix: str) -> str:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine() -> dict:
    """Cores, memory, CPU, Python, PostgreSQL and the git commit (load averages: by the caller)."""
    from django.db import connection

    memory_kb = _first_line("/proc/meminfo", "MemTotal").split(" ")[0]
    postgresql = ""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgresql = cursor.fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "memory_bytes": int(memory_kb) * 1024 if memory_kb.isdigit() else None,
        "cpu_model": _first_line("/proc/cpuinfo", "model name") or platform.processor(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgresql,
        **git_state(),
    }


def git_state() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(  # noqa: S603 (fixed arguments)
                ["git", *args],  # noqa: S607 (git from PATH, as a developer runs it)
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD")
    return {"git_commit": commit or None, "git_dirty": bool(git("status", "--porcelain")) if commit else None}


# --- the table -------------------------------------------------------------------------------


def render_table(rows: list[Row]) -> str:
    """The rows as aligned columns: benchmark, figure, target, met (yes / no / —)."""
    header = ("benchmark", "figure", "target", "met")
    cells = [header] + [(r.benchmark, r.figure, r.target, MET[r.met]) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(3)]
    lines = []
    for number, line in enumerate(cells):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(line[:3], widths, strict=True))
            + "  "
            + line[3]
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths) + "  ---")
    return "\n".join(lines)


def targets_line(rows: list[Row]) -> str:
    """``targets met: N/M``: M rows with a target, N of them met."""
    with_target = [r for r in rows if r.met is not None]
    return f"targets met: {sum(1 for r in with_target if r.met)}/{len(with_target)}"


def not_in_suite_row(name: str) -> Row:
    return Row(
        benchmark=name, figure="not in the suite yet", value=0.0, unit="", target="suite(ctx)", met=False
    )


def broken_row(name: str, error: BaseException) -> Row:
    message = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    return Row(
        benchmark=name, figure=f"BROKEN: {message[:100]}", value=0.0, unit="", target="runs", met=False
    )


def run_benchmark(name: str, ctx: SuiteContext) -> tuple[list[Row], str | None]:
    """One benchmark's rows, or its "BROKEN" row and traceback (never silent)."""
    import importlib

    from django.db import connections

    try:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"bench.{name}":
                raise  # the module exists and an import of its own fails: broken
            return [not_in_suite_row(name)], None
        if not hasattr(module, "suite"):
            return [not_in_suite_row(name)], None
        rows = module.suite(ctx)
        if not isinstance(rows, list) or not all(isinstance(row, Row) for row in rows):
            raise TypeError(f"bench.{name}.suite returned {type(rows).__name__}, not a list of Row")
        return rows, None
    except Exception as error:  # reported: a BROKEN row, its traceback after the table, exit 1
        return [broken_row(name, error)], traceback.format_exc()
    finally:
        connections.close_all()  # whatever the benchmark left, the next starts on a fresh session


# --- the JSON --------------------------------------------------------------------------------


def results_path(started: datetime, size: str, directory: Path = RESULTS_DIR) -> Path:
    return directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{size}.json"


def write_results(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def results_document(
    *,
    ctx: SuiteContext,
    started: datetime,
    finished: datetime,
    machine_info: dict,
    load_start: tuple[float, ...],
    load_end: tuple[float, ...],
    dataset: dict,
    benchmarks: list[dict],
    rows: list[tuple[str, Row]],
) -> dict:
    """The JSON of one run: when, what size, the machine, the dataset, the rows."""
    return {
        "size": ctx.size,
        "scale": ctx.scale,
        "seed": ctx.seed,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "wall_s": round((finished - started).total_seconds(), 3),
        "machine": {
            **machine_info,
            "load_average_start": [round(load, 2) for load in load_start],
            "load_average_end": [round(load, 2) for load in load_end],
        },
        "database": _redacted(ctx.database_url),
        "dataset": dataset,
        "benchmarks": benchmarks,
        "rows": [{"module": module, **_finite(row.as_dict())} for module, row in rows],
        "targets_met": targets_line([row for _, row in rows]).split(": ", 1)[1],
    }


def _redacted(url: str) -> str:
    """The database URL without a password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        rest = f"{credentials.split(':', 1)[0]}@{host}"
    return f"{scheme}{sep}{rest}"


def _finite(row: dict) -> dict:
    """Valid JSON: an infinite or NaN value (a zero floor) is written as null."""
    if isinstance(row["value"], float) and not math.isfinite(row["value"]):
        row["value"] = None
    return row


# --- compare ---------------------------------------------------------------------------------


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "×":
        return f"{value:.2f}×"
    number = f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{number} {unit}".rstrip()


def _summary(label: str, path: str, document: dict) -> str:
    m = document.get("machine", {})
    return (
        f"{label}: {path} — {document.get('started_at', '?')}, {document.get('size')} (scale "
        f"{document.get('scale')}), {m.get('cores')} cores, {m.get('cpu_model', '')}, PostgreSQL "
        f"{m.get('postgresql', '')}, load {(m.get('load_average_start') or ['?'])[0]}, commit "
        f"{(m.get('git_commit') or '?')[:10]}; targets met {document.get('targets_met')}"
    )


def compare(a: dict, b: dict, *, a_name: str = "A", b_name: str = "B") -> str:
    """Both runs side by side, by benchmark label, with the ratio of their values B/A."""
    rows_a = {row["benchmark"]: row for row in a.get("rows", [])}
    rows_b = {row["benchmark"]: row for row in b.get("rows", [])}
    names = list(rows_a) + [name for name in rows_b if name not in rows_a]
    cells = [("benchmark", "A", "B", "B/A")]
    for name in names:
        ra, rb = rows_a.get(name), rows_b.get(name)
        va = ra["value"] if ra else None
        vb = rb["value"] if rb else None
        ratio = f"{vb / va:.2f}" if va and vb is not None else "—"
        cells.append(
            (
                name,
                f"{format_value(va, ra['unit'])} ({MET[ra['met']]})" if ra else "—",
                f"{format_value(vb, rb['unit'])} ({MET[rb['met']]})" if rb else "—",
                ratio,
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(4)]
    lines = [_summary("A", a_name, a), _summary("B", b_name, b), ""]
    for number, line in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def compare_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench compare")
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    a, b = (json.loads(path.read_text()) for path in (args.a, args.b))
    print(compare(a, b, a_name=str(args.a), b_name=str(args.b)))


# --- the run ---------------------------------------------------------------------------------


def _environment(database_url: str, redis_url: str) -> None:
    from bench.pages import production_env

    production_env()
    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    # Nothing in the suite may reach an SMTP server: benchmarks that send set their back end.
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    # The table is the output: the application's INFO lines (each recompute, each deletion) are not.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Pages are rendered without collectstatic: whitenoise's warning about it is noise here.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)


def main(argv: list[str]) -> None:
    from bench.__main__ import SUITE

    parser = argparse.ArgumentParser(prog="python -m bench suite")
    parser.add_argument("--size", choices=["small", "full"], default="full")
    parser.add_argument("--only", default="", help=f"comma-separated, of: {','.join(SUITE)}")
    parser.add_argument(
        "--scale", type=int, default=None, help="seed_demo --scale (default: 1 small, 10 full)"
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()] or list(SUITE)
    unknown = [name for name in names if name not in SUITE]
    if unknown:
        parser.error(f"not in the suite: {', '.join(unknown)} (the suite: {', '.join(SUITE)})")
    scale = args.scale if args.scale is not None else DEFAULT_SCALE[args.size]
    if scale < 1:
        parser.error("--scale must be >= 1")

    started = datetime.now(UTC)
    wall_start = time.perf_counter()
    load_start = os.getloadavg()
    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE[args.size]
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_REDIS
    _environment(database_url, redis_url)
    from bench.setup import django_for_bench

    django_for_bench()
    machine_info = machine()
    reused, build_s = ensure_dataset(scale=scale, seed=SEED)
    print("dataset reused" if reused else f"dataset built in {build_s:.0f} s", flush=True)
    ctx = SuiteContext(size=args.size, scale=scale, seed=SEED, database_url=database_url, redis_url=redis_url)

    rows: list[tuple[str, Row]] = []
    benchmarks, broken = [], []
    for name in names:
        print(f"{name} …", end=" ", flush=True)
        began = time.perf_counter()
        module_rows, error = run_benchmark(name, ctx)
        seconds = time.perf_counter() - began
        print(f"{seconds:.1f} s" + (" BROKEN" if error else ""), flush=True)
        rows.extend((name, row) for row in module_rows)
        benchmarks.append({"name": name, "seconds": round(seconds, 3), "error": error})
        if error:
            broken.append((name, error))
    finished = datetime.now(UTC)
    wall_s = time.perf_counter() - wall_start
    document = results_document(
        ctx=ctx,
        started=started,
        finished=finished,
        machine_info=machine_info,
        load_start=load_start,
        load_end=os.getloadavg(),
        dataset={"reused": reused, "build_seconds": round(build_s, 3), "fingerprint": _stored()},
        benchmarks=benchmarks,
        rows=rows,
    )
    path = write_results(results_path(started, args.size), document)

    only_rows = [row for _, row in rows]
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print()
    print(render_table(only_rows))
    print()
    print(
        f"{args.size} (scale {scale}) in {wall_s:.0f} s; load {load_start[0]:.2f} → {os.getloadavg()[0]:.2f} "
        f"on {machine_info['cores']} cores; results: {shown}"
    )
    sys.stdout.flush()
    for name, error in broken:
        print(f"\n{name} is broken:\n{error}", file=sys.stderr)
    sys.stderr.flush()
    print(targets_line(only_rows))
    if broken:
        sys.exit(1)
