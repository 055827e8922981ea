"""Priority recompute at scale, beside its floor and the naive loop, in one run.

    python -m bench priority_recompute [--features 10000] [--companies 50000] [--links 1000000]
                                       [--breakdown]

In the suite (``suite(ctx)``): 1,000 features / 5,000 companies / 100,000 links for the
``small`` size, 10,000 / 50,000 / 1,000,000 for ``full``. On its own, on PostgreSQL
(``BENCH_DATABASE_URL``, default a ``productops_bench`` database on 127.0.0.1). Either
way it generates one workspace (``bench-priority``, kept between runs while its counts
are the same) and returns rows:

* the full set-based recompute (every feature claimed, scored, ranked, history) ÷ the
  floor, one hand-written SQL aggregate over the same link rows, interleaved (target ≤ 2×);
* the naive loop (per feature: ORM reads, Python formulas, a save) on a sample,
  extrapolated to all features, ÷ the recompute (information);
* a single vote's end-to-end latency through a real worker process (a vote committed →
  the feature's score updated in the database): median and max (target < 1 s).

``--breakdown`` also prints where one full run's time goes, statement by statement.

The generator inserts through the models' own column lists (:func:`insert_select`): a
column added to a model either has a default or null, or the generator fails at once
naming it, and the small suite runs in CI.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Collection, Mapping
from pathlib import Path

from bench.results import Row, SuiteContext, interleaved, ratio_row, timed

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-priority"
SIZES = {
    "small": {"features": 1_000, "companies": 5_000, "links": 100_000, "votes": 5, "sample": 50, "repeat": 5},
    "full": {
        "features": 10_000,
        "companies": 50_000,
        "links": 1_000_000,
        "votes": 10,
        "sample": 200,
        "repeat": 5,
    },
}
#: Tables a run reads or writes: vacuumed and analysed before timing (autovacuum is off on the
#: benchmark machines, and every full run rewrites each feature row twice).
TABLES = (
    "roadmap_feature, roadmap_roadmapsettings, roadmap_prioritysnapshot, feedback_company, "
    "feedback_feedbackitem, feedback_feedbacklink, feedback_vote, feedback_contact"
)


# --- generating the data ------------------------------------------------------------------


def left_out_columns(model, given: Collection[str]) -> dict[str, tuple[str, object]]:
    """The model's concrete columns not in ``given``, each with what a bulk insert stores:
    ``("now", None)`` for ``auto_now``/``auto_now_add``, else ``("value", v)`` with what the
    ORM would store for the field left out (its default, "" for text), else ``("null",
    None)`` if nullable. An auto primary key and a column with a database default are left
    to the database. A NOT NULL column with none of those raises, naming it: a generator
    built on this has the model's column list, not one written by hand that a new column
    silently breaks (``NotNullViolation`` on a fresh database).
    """
    from django.db.models import NOT_PROVIDED
    from django.db.models.fields import AutoFieldMixin

    fields = {field.column: field for field in model._meta.concrete_fields}
    unknown = set(given) - set(fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    left: dict[str, tuple[str, object]] = {}
    for column, field in fields.items():
        if column in given:
            continue
        if (
            isinstance(field, AutoFieldMixin)
            or getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED
        ):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            left[column] = ("now", None)
        elif (default := field.get_default()) is not None:
            left[column] = ("value", default)
        elif field.null:
            left[column] = ("null", None)
        else:
            raise ValueError(f"{model.__name__}.{field.name} is NOT NULL without a default: give it a value")
    return left


def insert_select(
    model, values: Mapping[str, str], source: str, params: Mapping[str, object]
) -> tuple[str, dict]:
    """``INSERT INTO <model's table> (<its concrete columns>) SELECT ... FROM <source>``:
    ``values`` maps columns to SQL expressions over ``source``, with named parameters
    (``%(ws)s``) from ``params``; every other column as :func:`left_out_columns` says."""
    from django.db import connection

    fields = {field.column: field for field in model._meta.concrete_fields}
    columns, select, defaults = list(values), list(values.values()), {}
    for column, (kind, value) in left_out_columns(model, values).items():
        columns.append(column)
        if kind == "now":
            select.append("now()")
        elif kind == "null":
            select.append("NULL")
        else:
            field = fields[column]
            select.append(f"%(default_{column})s::{field.db_type(connection)}")
            defaults[f"default_{column}"] = field.get_db_prep_save(value, connection)
    table = model._meta.db_table
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(select)} FROM {source}"
    return sql, {**params, **defaults}


def _delete_workspace(workspace) -> None:
    """A million rows are quicker gone in SQL than through Django's deletion collector."""
    from django.db import connection

    from productops import services

    with connection.cursor() as cursor:
        for table in (
            "feedback_feedbacklink",
            "feedback_vote",
            "feedback_duplicatesuggestion",
            "feedback_thememember",
            "feedback_themedismissal",
            "feedback_feedbackvector",
            "feedback_feedbackitem",
            "feedback_contact",
            "feedback_company",
            "roadmap_prioritysnapshot",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [workspace.pk])
    services.workspace_delete(workspace=workspace, actor=None)


def generate(features: int, companies: int, links: int, *, slug: str = SLUG) -> int:
    """The workspace ``slug`` with these counts (reused if it has them): its id."""
    from django.db import connection

    from feedback.models import Company, FeedbackItem, FeedbackLink
    from productops.db import long_transaction
    from productops.models import Workspace
    from roadmap.models import Feature, Product

    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is not None:
        have = (
            Feature.objects.filter(workspace=workspace).count(),
            Company.objects.filter(workspace=workspace).count(),
            FeedbackLink.objects.filter(workspace=workspace).count(),
        )
        if have == (features, companies, links):
            print(f"reusing {features} features / {links} links in workspace {slug!r}", flush=True)
            return workspace.pk
        _delete_workspace(workspace)
    print(f"generating {features} features, {companies} companies, {links} links ...", flush=True)
    started = time.perf_counter()
    items = links // 4
    with long_transaction():
        workspace = Workspace.objects.create(name="Benchmark", slug=slug)
        product = Product.objects.create(workspace=workspace, name="Bench product")
        Feature.objects.bulk_create(
            [
                Feature(
                    workspace=workspace,
                    product=product,
                    title=f"Feature {i}",
                    status="planned" if i % 3 else "idea",
                    reach=(i * 37) % 5000,
                    impact=[0.25, 0.5, 1, 2, 3][i % 5],
                    confidence_pct=[50, 80, 100][i % 3],
                    effort=1 + i % 13,
                    value=1 + i % 10,
                )
                for i in range(features)
            ],
            batch_size=2000,
        )
        counts = {"ws": workspace.pk, "companies": companies, "items": items, "features": features}
        statements = [
            insert_select(
                Company,
                {
                    "workspace_id": "%(ws)s",
                    "name": "'Company ' || g",
                    "domain": "'c' || g || '.example'",
                    "segment": "(ARRAY['enterprise', 'mid_market', 'smb', ''])[1 + g %% 4]",
                    "arr": "(g %% 997) * 1000",
                    "arr_currency": "'USD'",
                },
                "generate_series(1, %(companies)s) g",
                counts,
            ),
            insert_select(
                FeedbackItem,
                {
                    "workspace_id": "%(ws)s",
                    "text": "'Request ' || g",
                    "match_text": "'request ' || g",
                    "company_id": "first.id + (g::bigint * 7919) %% %(companies)s",
                    "source": "'api'",
                    "importance": "'important'",
                    "state": "'linked'",
                    "received_at": "now() - make_interval(days => (g %% 400))",
                    "duplicates_checked_at": "now()",
                },
                "generate_series(1, %(items)s) g CROSS JOIN (SELECT MIN(id) AS id FROM feedback_company "
                "WHERE workspace_id = %(ws)s) first",
                counts,
            ),
            insert_select(
                FeedbackLink,
                {
                    "workspace_id": "%(ws)s",
                    "item_id": "i.id",
                    "feature_id": "f.first_id + ((i.id * 4 + k) %% %(features)s)",
                    "importance": "(ARRAY['nice_to_have', 'important', 'critical'])[1 + (i.id + k) %% 3]",
                },
                "feedback_feedbackitem i CROSS JOIN generate_series(0, 3) k CROSS JOIN (SELECT MIN(id) "
                "AS first_id FROM roadmap_feature WHERE workspace_id = %(ws)s) f "
                "WHERE i.workspace_id = %(ws)s",
                counts,
            ),
        ]
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    vacuum_analyze()
    print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return workspace.pk


def vacuum_analyze() -> None:
    """What autovacuum (off on the benchmark machines) would have done: dead rows of earlier
    runs cleared, statistics fresh. VACUUM runs outside a transaction, past the 5 s limit."""
    from django.db import connection

    from productops.db import long_running

    with long_running(), connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        try:
            cursor.execute(f"VACUUM (ANALYZE) {TABLES}")
        finally:
            cursor.execute("RESET statement_timeout")


# --- what is measured --------------------------------------------------------------------------


def floor_aggregate(workspace_id: int) -> int:
    """One hand-written aggregate over the same rows: links ⋈ items ⋈ companies, grouped by feature."""
    from django.db import connection

    from productops.db import long_transaction

    with long_transaction(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.feature_id,
                   SUM(CASE l.importance WHEN 'critical' THEN 4 WHEN 'important' THEN 2 ELSE 1 END
                       * (1.0 + LN(1.0 + co.arr::float8 / 1000.0) / LN(10.0))) AS weight,
                   COUNT(DISTINCT fi.company_id)
            FROM feedback_feedbacklink l
            JOIN feedback_feedbackitem fi ON fi.id = l.item_id
            LEFT JOIN feedback_company co ON co.id = fi.company_id
            WHERE l.workspace_id = %s
            GROUP BY l.feature_id
            """,
            [workspace_id],
        )
        return len(cursor.fetchall())


def recompute(workspace_id: int) -> int:
    """One full run; raises if it failed (a broken benchmark, not a slow one)."""
    from priority.recompute import run

    result = run(workspace_id=workspace_id, full=True)
    if result.failed or result.busy:
        raise RuntimeError(f"the recompute did not run: {result}")
    return result.recomputed


def naive_loop(workspace_id: int, sample: int) -> int:
    """What a straightforward implementation does: per feature, read its demand and save."""
    from django.utils import timezone

    from priority import formulas
    from priority.demand import demand_signals_for_feature
    from roadmap.models import Feature

    now = timezone.now()
    for feature in Feature.objects.filter(workspace_id=workspace_id).order_by("id")[:sample]:
        score, companies, _ = formulas.customer_impact(
            demand_signals_for_feature(feature_id=feature.pk, arr_rates={"USD": 1.0}),
            now=now,
            importance_weights=formulas.DEFAULT_IMPORTANCE_WEIGHTS,
            segment_weights=formulas.DEFAULT_SEGMENT_WEIGHTS,
            vote_weight=1.0,
            half_life_days=180.0,
        )
        feature.score_customer_impact = score
        feature.requesting_companies = companies
        feature.save(update_fields=["score_customer_impact", "requesting_companies"])
    return sample


def vote_latency(
    workspace_id: int, votes: int, *, database_url: str = "", redis_url: str = ""
) -> list[float]:
    """Seconds from a committed vote to the feature's new score, through a worker process."""
    from django.core.cache import cache
    from django.db import transaction

    from feedback import services as feedback_services
    from feedback.models import Company, Contact
    from productops.celery import app as celery_app
    from roadmap.models import Feature

    celery_app.control.purge()
    # A purged task leaves its "recompute queued" marker behind; clear it too.
    cache.delete(f"roadmap:recompute-scheduled:{workspace_id}")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "productops.settings"}
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    worker = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "productops",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_for_worker(celery_app)  # worker start-up is not part of the figure
        company = Company.objects.filter(workspace_id=workspace_id).order_by("id").first()
        features = list(
            Feature.objects.filter(workspace_id=workspace_id, status="planned").order_by("id")[:votes]
        )
        latencies = []
        run = time.time_ns()
        for index, feature in enumerate(features):
            contact, _ = Contact.objects.get_or_create(
                workspace_id=workspace_id,
                email=f"bench-voter-{run}-{index}@example.com",  # a new voter: a repeat vote changes nothing
                defaults={"company": company},
            )
            before = Feature.objects.get(pk=feature.pk).scores_computed_at
            with transaction.atomic():
                feedback_services.vote_cast(contact=contact, feature=feature)
            committed = time.perf_counter()
            while Feature.objects.get(pk=feature.pk).scores_computed_at == before:
                if time.perf_counter() - committed > 30:
                    raise RuntimeError("the worker did not recompute within 30 s")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - committed)
        return latencies
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def _wait_for_worker(celery_app, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if celery_app.control.ping(timeout=0.5):
            return
    raise RuntimeError(f"no Celery worker answered within {timeout:.0f} s")


def statement_breakdown(workspace_id: int) -> dict[str, float]:
    """Seconds per kind of statement in one full run (an ``execute_wrapper``)."""
    from django.db import connection

    spent: dict[str, float] = defaultdict(float)

    def kind(sql: str) -> str:
        head = " ".join(sql.split())[:80]
        if head.startswith("UPDATE roadmap_feature SET score_customer_impact"):
            return "write scores"
        if head.startswith("UPDATE roadmap_feature SET priority_rank"):
            return "write ranks"
        if head.startswith("INSERT INTO roadmap_prioritysnapshot"):
            return "history"
        if head.startswith('UPDATE "roadmap_feature"'):
            return "claim + row formulas"
        if "ROW_NUMBER()" in sql:
            return "rank SELECT"
        if "per_company" in sql:
            return "demand + scorecard SELECT"
        return "other"

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[kind(sql)] += time.perf_counter() - started

    with connection.execute_wrapper(wrapper):
        recompute(workspace_id)
    return dict(spent)


def measure(
    *,
    features: int,
    companies: int,
    links: int,
    votes: int,
    sample: int,
    repeat: int,
    database_url: str = "",
    redis_url: str = "",
) -> list[Row]:
    workspace_id = generate(features, companies, links)
    vacuum_analyze()
    recompute(workspace_id)  # warm caches and history
    floor_aggregate(workspace_id)
    full, floor = interleaved(lambda: recompute(workspace_id), lambda: floor_aggregate(workspace_id), repeat)
    label = f"{features:,} features / {links:,} links"
    rows = [ratio_row(f"recompute: {label} ÷ floor (one SQL aggregate)", full, floor, at_most=2)]
    rows[0].details.update(
        features=features,
        links=links,
        companies=companies,
        per_feature_us=full.median / features * 1e6,
        per_link_us=full.median / links * 1e6,
    )
    naive = timed(lambda: naive_loop(workspace_id, sample), repeat=1)
    naive_all = naive.median / sample * features
    rows.append(
        Row(
            benchmark=f"recompute: naive per-feature ORM loop ÷ recompute ({features:,} features)",
            figure=f"{naive_all / full.median:,.1f}× ({naive_all:,.1f} s, extrapolated from {sample})",
            value=naive_all / full.median,
            unit="×",
            details={"naive_sample_s": naive.median, "sample": sample, "naive_extrapolated_s": naive_all},
        )
    )
    if votes:
        latencies = vote_latency(workspace_id, votes, database_url=database_url, redis_url=redis_url)
        median, worst = statistics.median(latencies), max(latencies)
        rows.append(
            Row(
                benchmark="vote → score through a worker",
                figure=f"median {median * 1000:,.0f} ms, max {worst * 1000:,.0f} ms (n={len(latencies)})",
                value=worst,
                unit="s",
                target="< 1 s (max)",
                met=worst < 1.0,
                details={"latencies": latencies, "median": median},
            )
        )
    return rows


def suite(ctx: SuiteContext) -> list[Row]:
    return measure(**SIZES[ctx.size], database_url=ctx.database_url, redis_url=ctx.redis_url)


def main(argv: list[str]) -> None:
    full = SIZES["full"]
    parser = argparse.ArgumentParser(prog="python -m bench priority_recompute")
    parser.add_argument("--features", type=int, default=full["features"])
    parser.add_argument("--companies", type=int, default=full["companies"])
    parser.add_argument("--links", type=int, default=full["links"])
    parser.add_argument("--sample", type=int, default=full["sample"], help="features in the naive loop")
    parser.add_argument(
        "--votes", type=int, default=full["votes"], help="single votes timed through the worker"
    )
    parser.add_argument("--repeat", type=int, default=full["repeat"])
    parser.add_argument("--breakdown", action="store_true", help="time one run statement by statement")
    args = parser.parse_args(argv)

    from bench.setup import django_for_bench

    django_for_bench()
    from django.conf import settings
    from django.db import connection

    from bench.suite import render_table

    if connection.vendor != "postgresql":
        print("warning: figures are meant for PostgreSQL (set BENCH_DATABASE_URL)", file=sys.stderr)
    rows = measure(
        features=args.features,
        companies=args.companies,
        links=args.links,
        votes=args.votes,
        sample=args.sample,
        repeat=args.repeat,
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=getattr(settings, "REDIS_URL", ""),
    )
    print(render_table(rows))
    if args.breakdown:
        workspace_id = generate(args.features, args.companies, args.links)
        for _ in range(3):
            spent = statement_breakdown(workspace_id)
            print("  ".join(f"{name}: {seconds * 1000:,.0f} ms" for name, seconds in sorted(spent.items())))
