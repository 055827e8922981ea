"""Django set-up shared by the benchmarks: a database of their own, migrated."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

DEFAULT_BENCH_DATABASE = "postgres://postgres@127.0.0.1:5432/productops_bench"


def django_for_bench() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE)
    # Seeding tens of thousands of rows runs statements past the 5 s statement timeout:
    # the bench's sessions and client deadline use the long limits (productops/db).
    os.environ.setdefault("DB_LONG_RUNNING", "1")
    _ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def timed(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
