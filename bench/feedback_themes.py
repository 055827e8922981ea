"""Themes of the feedback inbox: a fresh worker's recompute over 10,000 unlinked items.

    python -m bench feedback_themes [--items 10000] [--size small|full]

Builds the workspace ``bench-themes`` in the benchmark database (dropped and made again
each run, so no vector is stored yet): ``--items`` distinct texts from 8 topics in the last
30 days, plus a fifth as many in the period before (the trend). Then, in a fresh process
(``python -m bench.feedback_themes <workspace id>``, as a worker's first run after a
start), it times ``feedback.theme_services.themes_recompute``:

- first: every item embedded by the distilled table and its vector stored, then every text
  through the encoder (on ``FEEDBACK_THEMES_THREADS`` threads), k-means, the write;
- again: the rerun in the same process (vectors stored, the encoder's vectors remembered);
- the clustering alone, and the encoder's texts a second on one thread and on the setting's.

The target (< 30 s for 10,000 items) is the full size's; the small size (1,000 items) only
prints its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.results import Row, SuiteContext

ROOT = Path(__file__).resolve().parents[1]
SLUG = "bench-themes"
SIZES = {"small": 1_000, "full": 10_000}
TARGET_SECONDS = 30.0  # for SIZES["full"] items
ENCODER_TEXTS = 1_000
#: Seconds the fresh process may take before the benchmark is broken (a hung child).
CHILD_TIMEOUT = 900

TOPICS = {
    "sso": ["single sign-on", "SSO through Okta", "SAML login", "signing in with Azure AD", "Google login"],
    "export": ["exporting dashboards to PDF", "a CSV export", "Excel downloads", "spreadsheet export"],
    "mobile": ["a mobile app", "an Android app", "dashboards on a phone", "a native iOS app"],
    "slow": ["slow dashboards", "pages taking 30 seconds", "slow big tables", "charts slow to render"],
    "dark": ["a dark mode", "a dark theme", "night mode", "darker colours for the UI"],
    "alerts": ["e-mail alerts on thresholds", "Slack notifications", "alerting when a metric drops"],
    "perms": ["row-level permissions", "read-only roles", "restricting who sees which dashboard"],
    "api": ["a public REST API", "webhooks on changes", "an API to create dashboards"],
}
FRAMES = [
    "We need {x} for our rollout",
    "Please add {x}",
    "{x} is a must before we renew",
    "Our IT team keeps asking about {x}",
    "Any news on {x}?",
    "Customers complain about {x}",
    "Is {x} on the roadmap?",
    "{x} would really help our {who}",
    "Still waiting for {x}, it blocks {who}",
]
WHO = ["managers", "analysts", "field teams", "finance", "sales", "support agents", "executives"]
TAILS = ["", "Thanks!", "This is urgent.", "Our whole team agrees.", "It came up in the QBR.", "Ticket {n}."]


def texts(n: int, seed: int) -> list[str]:
    """``n`` distinct requests, the topics in turn, each worded its own way."""
    rng = random.Random(seed)
    names = list(TOPICS)
    out = []
    for i in range(n):
        frame = rng.choice(FRAMES).format(x=rng.choice(TOPICS[names[i % len(names)]]), who=rng.choice(WHO))
        tail = rng.choice(TAILS).format(n=rng.randint(1000, 99999))
        out.append(f"{frame[0].upper()}{frame[1:]}. {tail} (#{i})".strip())
    return out


def build(items: int) -> int:
    """The benchmark's workspace, made again: ``items`` in the period, a fifth as many in
    the one before. Returns its id."""
    from django.utils import timezone

    from feedback.models import FeedbackItem
    from productops.models import Workspace

    Workspace.objects.filter(slug=SLUG).delete()
    workspace = Workspace.objects.create(slug=SLUG, name="Bench themes")
    now = timezone.now()
    previous = max(1, items // 5)
    rows = [
        FeedbackItem(workspace=workspace, text=text, received_at=now - timedelta(minutes=2 * i + 1))
        for i, text in enumerate(texts(items, 1))
    ]
    rows += [
        FeedbackItem(workspace=workspace, text=text, received_at=now - timedelta(days=31, minutes=i))
        for i, text in enumerate(texts(previous, 2))
    ]
    FeedbackItem.objects.bulk_create(rows, batch_size=2000)
    return workspace.pk


def fresh_process(workspace_id: int) -> dict:
    """The timings of :func:`child` run in a new interpreter against the same database."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.feedback_themes", str(workspace_id)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "productops.settings"},
        capture_output=True,
        text=True,
        check=False,
        timeout=CHILD_TIMEOUT,
    )
    if result.returncode:
        raise RuntimeError(f"bench.feedback_themes failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(workspace_id: int) -> dict:
    """What a worker's first themes run costs, then a rerun, the clustering alone and the
    encoder's rate; one JSON line on stdout."""
    from bench.setup import django_for_bench

    django_for_bench()
    from django.conf import settings
    from django.utils import timezone

    from feedback import embeddings, theme_services, themes

    started = time.perf_counter()
    found = theme_services.themes_recompute(workspace_id=workspace_id, period_days=30)
    first = time.perf_counter() - started
    members = sum(theme.size for theme in found)

    started = time.perf_counter()
    theme_services.themes_recompute(workspace_id=workspace_id, period_days=30)
    again = time.perf_counter() - started

    now = timezone.now()
    period = theme_services.unlinked_items(workspace_id, now - timedelta(days=30), now)
    ids = sorted(period.values_list("pk", flat=True))
    _, matrix = theme_services.theme_vectors(workspace_id=workspace_id, item_ids=ids)
    started = time.perf_counter()
    themes.cluster(matrix)
    clustering = time.perf_counter() - started

    encoder = embeddings._load_encoder()
    sample = [f"{text} (rate {i})" for i, text in enumerate(texts(ENCODER_TEXTS, 3))]
    threads = settings.FEEDBACK_THEMES_THREADS
    rates = {}
    for count in sorted({1, threads}):
        started = time.perf_counter()
        encoder.encode(sample, threads=count)
        rates[count] = ENCODER_TEXTS / (time.perf_counter() - started)
    return {
        "first": first,
        "again": again,
        "clustering": clustering,
        "themes": len(found),
        "members": members,
        "threads": threads,
        "rates": rates,
    }


def measure(*, items: int, size: str) -> list[Row]:
    workspace_id = build(items)
    got = fresh_process(workspace_id)
    full = size == "full"
    rate = ", ".join(f"{rate:,.0f} on {threads}" for threads, rate in got["rates"].items())
    return [
        Row(
            benchmark=f"feedback: themes of {items:,} items, a fresh worker's first run",
            figure=(
                f"{got['first']:.1f} s ({got['themes']} themes of {got['members']:,} items; "
                f"the encoder on {got['threads']} thread{'s' if got['threads'] > 1 else ''})"
            ),
            target=f"< {TARGET_SECONDS:.0f} s" if full else "",
            met=got["first"] < TARGET_SECONDS if full else None,
            value=got["first"],
            unit="s",
        ),
        Row(
            benchmark="feedback: themes rerun (vectors stored, same process)",
            figure=f"{got['again']:.1f} s (the clustering alone {got['clustering']:.2f} s)",
            target="",
            met=None,
            value=got["again"],
            unit="s",
        ),
        Row(
            benchmark="feedback: themes encoder, texts a second by threads",
            figure=rate,
            target="",
            met=None,
            value=max(got["rates"].values()),
            unit="texts/s",
        ),
    ]


def suite(ctx: SuiteContext) -> list[Row]:
    return measure(items=SIZES[ctx.size], size=ctx.size)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench feedback_themes")
    parser.add_argument("--items", type=int, default=SIZES["full"])
    parser.add_argument("--size", choices=["small", "full"], default="full", help="whose target applies")
    args = parser.parse_args(argv)

    from bench.pages import production_env
    from bench.setup import django_for_bench

    production_env()
    django_for_bench()
    from bench.suite import render_table

    print(render_table(measure(items=args.items, size=args.size)))


if __name__ == "__main__":
    print(json.dumps(child(int(sys.argv[1]))))
