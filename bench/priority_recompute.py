"""Priority recompute at scale, beside its floor and the naive loop, in one run.

    python -m bench priority_recompute [--features 10000] [--companies 50000] [--links 1000000]

On PostgreSQL (``BENCH_DATABASE_URL``, default a ``productops_bench`` database on
127.0.0.1), it generates one workspace with the given numbers of features,
companies and feedback links (data is kept between runs), then prints:

* the full set-based recompute (every feature claimed, scored, ranked, history);
* the floor: one hand-written SQL aggregate over the same link rows;
* the naive loop: per feature, ORM reads + Python formulas + a save, on a sample,
  extrapolated to all features;
* a single vote's end-to-end latency through a real worker process (a vote
  committed → the feature's score updated in the database).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.setup import django_for_bench, timed

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-priority"


def generate(features: int, companies: int, links: int) -> int:
    from django.db import connection, transaction

    from productops import services
    from productops.models import Workspace
    from roadmap.models import Feature, Product

    workspace = Workspace.objects.filter(slug=SLUG).first()
    if workspace is not None:
        have = (
            Feature.objects.filter(workspace=workspace).count(),
            connection.cursor()
            .execute("SELECT COUNT(*) FROM feedback_feedbacklink WHERE workspace_id = %s", [workspace.pk])
            .fetchone()[0],
        )
        if have == (features, links):
            print(f"reusing {features} features / {links} links in workspace {SLUG!r}")
            return workspace.pk
        services.workspace_delete(workspace=workspace, actor=None)
    print(f"generating {features} features, {companies} companies, {links} links ...", flush=True)
    started = time.perf_counter()
    items = links // 4
    with transaction.atomic():
        workspace = Workspace.objects.create(name="Benchmark", slug=SLUG)
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
        ws = workspace.pk
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO feedback_company (workspace_id, name, domain, segment, plan, arr, arr_currency,
                    lifecycle_stage, crm_external_id, do_not_contact, created_at, updated_at)
                SELECT %s, 'Company ' || g, 'c' || g || '.example',
                       (ARRAY['enterprise', 'mid_market', 'smb', ''])[1 + g %% 4], '',
                       (g %% 997) * 1000, 'USD', 'active', '', false, now(), now()
                FROM generate_series(1, %s) g
                """,
                [ws, companies],
            )
            cursor.execute(
                """
                INSERT INTO feedback_feedbackitem (workspace_id, text, company_id, source, source_ref,
                    source_url, kind, importance, tags, state, received_at, match_text,
                    duplicates_checked_at, created_at, updated_at)
                SELECT %s, 'Request ' || g,
                       (SELECT MIN(id) FROM feedback_company WHERE workspace_id = %s) + (g * 7919) %% %s,
                       'api', '', '', 'request', 'important', '[]', 'linked',
                       now() - make_interval(days => (g %% 400)), 'request ' || g, now(), now(), now()
                FROM generate_series(1, %s) g
                """,
                [ws, ws, companies, items],
            )
            cursor.execute(
                """
                INSERT INTO feedback_feedbacklink (workspace_id, item_id, feature_id, importance,
                    created_at, updated_at)
                SELECT %s, i.id, f.first_id + ((i.id * 4 + k) %% %s),
                       (ARRAY['nice_to_have', 'important', 'critical'])[1 + (i.id + k) %% 3], now(), now()
                FROM feedback_feedbackitem i
                CROSS JOIN generate_series(0, 3) k
                CROSS JOIN (SELECT MIN(id) AS first_id FROM roadmap_feature WHERE workspace_id = %s) f
                WHERE i.workspace_id = %s
                """,
                [ws, features, ws, ws],
            )
            cursor.execute("ANALYZE")
    print(f"generated in {time.perf_counter() - started:.1f} s")
    return workspace.pk


def floor_aggregate(workspace_id: int) -> float:
    """One hand-written aggregate over the same rows: links ⋈ items ⋈ companies, grouped by feature."""
    from django.db import connection

    with connection.cursor() as cursor:
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


def vote_latency(workspace_id: int, votes: int) -> list[float]:
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
        time.sleep(4)  # worker start-up is not part of the figure
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


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench priority_recompute")
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument("--links", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=200, help="features in the naive loop")
    parser.add_argument("--votes", type=int, default=10, help="single votes timed through the worker")
    args = parser.parse_args(argv)

    django_for_bench()
    from django.db import connection

    from priority.recompute import run as recompute_workspace

    if connection.vendor != "postgresql":
        print("warning: figures are meant for PostgreSQL (set BENCH_DATABASE_URL)", file=sys.stderr)
    workspace_id = generate(args.features, args.companies, args.links)
    # Autovacuum is off on the benchmark machines: clear what earlier runs left (every run
    # rewrites each feature row twice) and refresh the statistics, as autovacuum would.
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE) roadmap_feature, roadmap_roadmapsettings, roadmap_prioritysnapshot, "
            "feedback_company, feedback_feedbackitem, feedback_feedbacklink, feedback_vote"
        )
    recompute_workspace(workspace_id=workspace_id, full=True)  # warm caches and history

    full_s, result = timed(lambda: recompute_workspace(workspace_id=workspace_id, full=True))
    floor_s, groups = timed(lambda: floor_aggregate(workspace_id))
    naive_s, _ = timed(lambda: naive_loop(workspace_id, args.sample), repeat=1)
    naive_all_s = naive_s / args.sample * args.features
    latencies = vote_latency(workspace_id, args.votes)

    print()
    print(f"data: {args.features} features, {args.companies} companies, {args.links} links (PostgreSQL)")
    print(f"full recompute (set-based)      {full_s * 1000:10.0f} ms   ({result.recomputed} features)")
    print(f"floor: one SQL aggregate        {floor_s * 1000:10.0f} ms   ({groups} feature groups)")
    print(
        f"naive per-feature ORM loop      {naive_all_s * 1000:10.0f} ms   "
        f"(extrapolated from {args.sample} features: {naive_s * 1000:.0f} ms)"
    )
    print(f"ratio recompute / floor         {full_s / floor_s:10.2f} x   (target <= 2)")
    print(f"ratio naive / recompute         {naive_all_s / full_s:10.1f} x")
    print(
        f"single vote -> score via worker  median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} votes   (target < 1000 ms)"
    )
