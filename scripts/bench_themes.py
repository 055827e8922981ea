"""Time the themes recompute for 10,000 unlinked feedback items (not a test).

    DEBUG=1 .venv/bin/python scripts/bench_themes.py [--items 10000] [--keep-db]

Builds a throwaway database (a SQLite file under /tmp, or ``DATABASE_URL`` if set: give it
a database of its own, the script migrates it and adds a workspace), stores ``--items``
distinct feedback texts from 8 topics (plus 2,000 items in the previous period for the
trend), then times ``feedback.theme_services.themes_recompute``: first cold (every item is
embedded and its vector stored), then warm (vectors stored; what the 6-hourly run costs),
then the pure clustering alone. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
    rng = random.Random(seed)  # noqa: S311 (benchmark data)
    names = list(TOPICS)
    out = []
    for i in range(n):
        frame = rng.choice(FRAMES).format(x=rng.choice(TOPICS[names[i % len(names)]]), who=rng.choice(WHO))
        tail = rng.choice(TAILS).format(n=rng.randint(1000, 99999))
        out.append(f"{frame[0].upper()}{frame[1:]}. {tail} (#{i})".strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DEBUG", "1")
    temporary = None
    if not os.environ.get("DATABASE_URL"):
        temporary = Path(tempfile.mkdtemp(prefix="bench-themes-")) / "db.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{temporary}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "productops.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from feedback import theme_services, themes
    from feedback.models import FeedbackItem
    from productops.models import Workspace

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(slug=f"bench-themes-{int(time.time())}", name="Bench themes")
    now = timezone.now()
    rows = [
        FeedbackItem(workspace=workspace, text=text, received_at=now - timedelta(minutes=3 * i + 1))
        for i, text in enumerate(texts(args.items, 1))
    ]
    rows += [
        FeedbackItem(workspace=workspace, text=text, received_at=now - timedelta(days=31, minutes=i))
        for i, text in enumerate(texts(2000, 2))
    ]
    FeedbackItem.objects.bulk_create(rows, batch_size=2000)
    print(f"{args.items} items in the period, 2000 in the previous one ({os.environ['DATABASE_URL']})")

    started = time.perf_counter()
    found = theme_services.themes_recompute(workspace_id=workspace.pk, period_days=30)
    cold = time.perf_counter() - started
    print(f"cold (embed + store vectors + cluster + write): {cold:.2f} s, {len(found)} themes")

    started = time.perf_counter()
    found = theme_services.themes_recompute(workspace_id=workspace.pk, period_days=30)
    warm = time.perf_counter() - started
    print(f"warm (vectors stored): {warm:.2f} s, {len(found)} themes")

    period = theme_services.unlinked_items(workspace.pk, now - timedelta(days=30), now)
    ids = sorted(period.values_list("pk", flat=True))
    _, matrix = theme_services.theme_vectors(workspace_id=workspace.pk, item_ids=ids)
    started = time.perf_counter()
    clustering = themes.cluster(matrix)
    print(f"clustering alone (cold k-means, 3 restarts): {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    themes.cluster(matrix, previous_centroids=clustering.centroids)
    print(f"clustering alone (from the previous centroids): {time.perf_counter() - started:.2f} s")
    for theme in found[:8]:
        print(f"  {theme.size:5d}  {theme.trend_current:5d} vs {theme.trend_previous:4d}  {theme.label}")
    if temporary is not None and not args.keep_db:
        temporary.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
