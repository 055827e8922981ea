"""Server time and query count of every portal page (and the release API lists) on the demo data.

    python -m bench portal_pages [--scale 1] [--repeat 15]

Seeds the demo workspace (``seed_demo --scale N``) in the benchmark database
(``BENCH_DATABASE_URL``, default PostgreSQL ``productops_bench``), then renders
each page in-process with Django's test client as the demo owner (or a visitor
for the public board), with ``DEBUG`` off as in production, and prints the median
and worst server time and the number of SQL queries. The quality bar is < 200 ms per page; the query count
must not grow with ``--scale`` (run twice with different scales to compare).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time

from bench.setup import django_for_bench


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench portal_pages")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    # As production renders: DEBUG off (no template debug data, no query log).
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    django_for_bench()

    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from board import selectors as board_selectors
    from feedback.models import Company, FeedbackItem
    from productops.models import User, Workspace
    from releases.models import OPEN_STATUSES, Release
    from roadmap.models import Feature

    call_command("seed_demo", scale=args.scale, force=True, verbosity=0)
    workspace = Workspace.objects.get(slug="demo")
    feature = Feature.objects.filter(workspace=workspace, merged_into=None).order_by("priority_rank").first()
    public = board_selectors.public_feature_list(workspace=workspace).first()
    item = FeedbackItem.objects.filter(workspace=workspace, merged_into=None).order_by("-received_at").first()
    company = Company.objects.filter(workspace=workspace).order_by("-arr").first()
    release = (
        Release.objects.filter(workspace=workspace, status__in=OPEN_STATUSES).order_by("planned_date").first()
    )

    team = Client(HTTP_HOST="localhost")
    team.force_login(User.objects.get(username="demo"))
    customer = Client(HTTP_HOST="localhost")
    pages = [
        (team, "/w/demo/"),
        (team, "/w/demo/roadmap/"),
        (team, "/w/demo/roadmap/timeline/"),
        (team, "/w/demo/roadmap/kanban/"),
        (team, "/w/demo/roadmap/matrix/"),
        (team, f"/w/demo/features/{feature.pk}/"),
        (team, "/w/demo/feedback/"),
        (team, f"/w/demo/feedback/{item.pk}/"),
        (team, "/w/demo/companies/"),
        (team, f"/w/demo/companies/{company.pk}/"),
        (team, "/w/demo/releases/"),
        (team, f"/w/demo/releases/{release.pk}/"),
        (team, f"/w/demo/releases/{release.pk}/ship/"),
        (team, "/w/demo/settings/scoring/"),
        (team, "/w/demo/settings/releases/"),
        (team, "/w/demo/settings/members/"),
        (team, "/w/demo/settings/tokens/"),
        (team, "/w/demo/settings/public-board/"),
        (team, "/api/v1/workspaces/demo/releases/"),
        (team, "/api/v1/workspaces/demo/scope-items/"),
        (customer, "/p/demo/"),
        (customer, f"/p/demo/features/{public.pk}/"),
        (customer, "/p/demo/roadmap/"),
        (customer, "/p/demo/changelog/"),
        (customer, "/p/demo/changelog/rss/"),
        (customer, "/p/demo/changelog/atom/"),
    ]
    print(
        f"scale {args.scale}: {Feature.objects.filter(workspace=workspace).count()} features, "
        f"{FeedbackItem.objects.filter(workspace=workspace).count()} feedback items, "
        f"{Company.objects.filter(workspace=workspace).count()} companies, "
        f"{Release.objects.filter(workspace=workspace).count()} releases ({connection.vendor})"
    )
    print(f"{'page':48} {'queries':>7} {'median ms':>10} {'max ms':>8}")
    slowest = 0.0
    for client, path in pages:
        client.get(path)  # warm caches and templates
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        query_count = len(queries)  # now: later requests reset the connection's query log
        assert response.status_code == 200, (path, response.status_code)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        slowest = max(slowest, max(times))
        print(f"{path:48} {query_count:7d} {statistics.median(times):10.1f} {max(times):8.1f}")
    print(f"slowest single render: {slowest:.1f} ms (bar: 200 ms)")
