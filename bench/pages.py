"""Pages rendered in-process for the benchmarks: server time, queries, size, and growth.

Shared by ``portal_pages``, ``board_home`` and ``release_list``. A page is requested
with Django's test client (the whole middleware stack, ``DEBUG`` off) against the
suite's dataset. Its query count is checked against the same page after the demo
data is topped up to ``scale + 1`` (``seed_demo`` in a transaction that is rolled
back, so the dataset the suite reuses is left as it was): a count that grows with
the rows is an N+1 (one that shrinks is fine: e.g. a section shown only for few rows).

The floors are minimal views returning the rows a page shows from ``.values()`` as
JSON, without a template or authentication, served beside the project's URLs by
``bench.floor_urls`` (``ROOT_URLCONF`` while a floor is measured: ``with_floors``).
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from bench.results import Row, Sample, SuiteContext, interleaved, ratio_row, timed

#: The quality bar of a page's median server time.
PAGE_BAR_MS = 200.0


def production_env() -> None:
    """Settings as production renders (before ``django.setup``): DEBUG off, no query log."""
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ["SECURE_SSL_REDIRECT"] = "0"


def team_client():
    """A test client signed in as the demo owner."""
    from django.test import Client

    from productops.models import User

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username="demo"))
    return client


def visitor_client():
    """An anonymous test client (the public board's visitor)."""
    from django.test import Client

    return Client(HTTP_HOST="localhost")


def page_count(client, url: str) -> tuple[int, int]:
    """Queries and response bytes of one request (after a warm-up); raises unless 200."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches and templates
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if response.status_code != 200:
        raise AssertionError(f"GET {url}: {response.status_code}")
    return len(queries.captured_queries), len(response.content)


def grown(ctx: SuiteContext, fn: Callable[[], object]) -> object:
    """``fn()`` on the dataset topped up to ``ctx.scale + 1``, then rolled back."""
    from django.core.management import call_command
    from django.db import transaction

    with transaction.atomic():
        call_command(
            "seed_demo", scale=ctx.scale + 1, seed=ctx.seed, force=True, verbosity=0, stdout=io.StringIO()
        )
        result = fn()
        transaction.set_rollback(True)
    return result


@dataclass
class Page:
    """One page of a benchmark: ``name`` (the row label), the client, the URL."""

    name: str
    client: object
    url: str


def page_rows(ctx: SuiteContext, pages: list[Page], *, repeat: int, prefix: str) -> list[Row]:
    """Per page: its median server time (< 200 ms) and its query count (same after a top-up)."""
    before = {page.name: page_count(page.client, page.url) for page in pages}
    after = grown(ctx, lambda: {page.name: page_count(page.client, page.url) for page in pages})
    rows = []
    for page in pages:
        sample = timed(lambda page=page: page.client.get(page.url), repeat=repeat)
        rows.append(time_row(f"{prefix} {page.name}: server time", sample, url=page.url))
        rows.append(queries_row(f"{prefix} {page.name}: queries", before[page.name], after[page.name], ctx))
    return rows


def time_row(benchmark: str, sample: Sample, **details: object) -> Row:
    median_ms = sample.median * 1000
    return Row(
        benchmark=benchmark,
        figure=sample.ms(),
        value=median_ms,
        unit="ms",
        target=f"< {PAGE_BAR_MS:g} ms",
        met=median_ms < PAGE_BAR_MS,
        details={"times": list(sample.times), **details},
    )


def queries_row(benchmark: str, before: tuple[int, int], after: tuple[int, int], ctx: SuiteContext) -> Row:
    """The query count at the dataset's scale, against the count after the top-up."""
    (queries, size), (grown_queries, grown_size) = before, after
    return Row(
        benchmark=benchmark,
        figure=(
            f"{queries} ({grown_queries} at scale {ctx.scale + 1}); "
            f"{size / 1024:,.0f} KB → {grown_size / 1024:,.0f} KB"
        ),
        value=float(queries),
        unit="queries",
        target=f"not more at scale {ctx.scale + 1}",
        met=grown_queries <= queries,
        details={
            "queries": queries,
            "grown_queries": grown_queries,
            "bytes": size,
            "grown_bytes": grown_size,
        },
    )


# --- the floors ----------------------------------------------------------------------------


def board_home_floor(request, workspace_slug: str):
    """The board home's first page of features (its fields, its order) from ``.values()``."""
    from django.http import JsonResponse

    from board import selectors
    from productops.models import Workspace

    workspace = Workspace.objects.get(slug=workspace_slug)
    rows = list(
        selectors.board_feature_list(workspace=workspace).values(
            "id", "title", "public_title", "status", "product__name", "vote_count", "comment_count"
        )[:30]
    )
    return JsonResponse({"results": rows})


def release_list_floor(request, workspace_slug: str):
    """The release API's first page (50, by planned date) of scalar fields from ``.values()``."""
    from django.db.models import F
    from django.http import JsonResponse

    from productops.models import Workspace
    from releases.models import Release

    workspace = Workspace.objects.get(slug=workspace_slug)
    rows = list(
        Release.objects.filter(workspace=workspace)
        .order_by(F("planned_date").asc(nulls_last=True), "id")
        .values(
            "id",
            "public_id",
            "product_id",
            "name",
            "version",
            "status",
            "status_changed_at",
            "planned_date",
            "shipped_on",
            "shipped_at",
            "owner_id",
            "summary",
            "is_public",
            "notes_published_at",
            "created_at",
            "updated_at",
        )[:50]
    )
    return JsonResponse({"results": rows})


FLOOR_PREFIX = "bench-floor/"


def with_floors():
    """``override_settings`` serving ``bench.floor_urls`` (the project's URLs plus the floors)."""
    from django.test.utils import override_settings

    return override_settings(ROOT_URLCONF="bench.floor_urls")


def floor_ratio_row(benchmark: str, client, url: str, floor_url: str, *, repeat: int) -> Row:
    """``url`` ÷ ``floor_url`` (served by ``with_floors``), both warmed, then interleaved;
    informational (no target). A page that does not answer 200 is a broken benchmark."""
    with with_floors():
        for each in (url, floor_url):
            response = client.get(each)  # warm both
            if response.status_code != 200:
                raise AssertionError(f"GET {each}: {response.status_code}")
        page, floor = interleaved(lambda: client.get(url), lambda: client.get(floor_url), repeat=repeat)
    return ratio_row(benchmark, page, floor)


def page_main(name: str, suite: Callable[..., list[Row]], argv: list[str]) -> None:
    """``python -m bench <name> [--scale 1] [--repeat 15]`` of a page benchmark: the dataset
    ensured at ``--scale``, its rows printed as the suite's table."""
    import argparse

    from bench.setup import django_for_bench
    from bench.suite import render_table, standalone_context

    parser = argparse.ArgumentParser(prog=f"python -m bench {name}")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    production_env()
    django_for_bench()
    ctx = standalone_context(scale=args.scale)
    print(render_table(suite(ctx, repeat=args.repeat)))
