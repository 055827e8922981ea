"""Digests and close-the-loop at volume, through the outbox, with the file e-mail backend.

    python -m bench digests [--subscriptions 10000] [--small 1000] [--loop-contacts 5000]

On PostgreSQL (``BENCH_DATABASE_URL``, default ``productops_bench_digests``), on the demo
workspace (``seed_demo``) with ``--subscriptions`` extra stakeholders (every audience,
a spread of time zones) whose weekly digest is due at once:

1. **create**: ``comms.digests.digests_create_due`` — the Delivery rows of every due
   subscription (one per period; content not yet rendered);
2. **render + send**: ``productops.outbox.services.outbox_send`` until none is due —
   each digest rendered once, stored, and written by the file back end;
3. SQL queries per digest (render + send of a sample, divided by its size: must be a
   constant) and the process's peak resident memory after ``--small`` and after
   ``--subscriptions`` (must be flat: batches, not the whole set, are held);
4. the **floor**: the same number of pre-rendered e-mails sent through the same back end
   without the outbox, measured in the same run; the ratio says what the outbox and the
   rendering cost on top;
5. **close the loop**: a release whose features ``--loop-contacts`` contacts voted for is
   shipped; the event consumer creates one notice per contact and the sender sends them.

Target: create + render + send of 10,000 digests ≤ 20 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import tempfile
import time
from datetime import timedelta

from bench.setup import django_for_bench

AUDIENCES = ["executive", "sales", "support", "marketing", "engineering"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Los_Angeles"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench digests")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--loop-contacts", type=int, default=5_000)
    args = parser.parse_args(argv)
    # As production runs: DEBUG off (no query log kept in memory).
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    mail_dir = tempfile.mkdtemp(prefix="productops-bench-mail-")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
    os.environ["EMAIL_FILE_PATH"] = mail_dir
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/productops_bench_digests")
    django_for_bench()

    from django.conf import settings
    from django.core.management import call_command

    settings.EMAIL_FILE_PATH = mail_dir
    from productops.models import Workspace
    from productops.services import workspace_delete

    # A fresh demo each run (the close-the-loop step ships one of its releases).
    for workspace in Workspace.objects.filter(slug="demo"):
        workspace_delete(workspace=workspace, actor=None)
    call_command("seed_demo", force=True, verbosity=0)
    try:
        for count in (args.small, args.subscriptions):
            _digests(count, mail_dir)
        _loop(args.loop_contacts)
    finally:
        shutil.rmtree(mail_dir, ignore_errors=True)


def _reset(workspace) -> None:
    from comms.models import Stakeholder
    from productops.models import Delivery

    Stakeholder.objects.filter(workspace=workspace, email__startswith="bench-").delete()
    Delivery.objects.filter(workspace=workspace).delete()


def _subscribers(workspace, count: int) -> None:
    from django.utils import timezone

    from comms.models import Stakeholder, Subscription

    now = timezone.now()
    stakeholders = Stakeholder.objects.bulk_create(
        [
            Stakeholder(
                workspace=workspace,
                kind="external",
                email=f"bench-{i}@example.com",
                name=f"Reader {i}",
                audience=AUDIENCES[i % len(AUDIENCES)],
                confirmed_at=now,
            )
            for i in range(count)
        ],
        batch_size=2_000,
    )
    Subscription.objects.bulk_create(
        [
            Subscription(
                workspace=workspace,
                stakeholder=stakeholder,
                target_workspace=workspace,
                cadence="weekly",
                time_zone=ZONES[i % len(ZONES)],
                local_hour=0,
                weekday=1,
                digest_through=now - timedelta(days=7),
                next_due_at=now - timedelta(minutes=1),
            )
            for i, stakeholder in enumerate(stakeholders)
        ],
        batch_size=2_000,
    )


def _analyze() -> None:
    """Fresh planner statistics after the set-up's bulk inserts (autovacuum is off here)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in (
                "comms_stakeholder",
                "comms_subscription",
                "productops_delivery",
                "feedback_contact",
                "feedback_vote",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")


def _send_all() -> int:
    from productops.outbox.services import outbox_send

    sent = 0
    while True:
        counts = outbox_send(limit=5_000)
        if not counts:
            return sent
        sent += sum(counts.values())


def _digests(count: int, mail_dir: str) -> None:
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from comms.digests import digests_create_due
    from productops.models import Delivery, Workspace

    workspace = Workspace.objects.get(slug="demo")
    _reset(workspace)
    _subscribers(workspace, count)
    _analyze()
    start = time.perf_counter()
    created = digests_create_due()
    created_s = time.perf_counter() - start
    # A sample first, to count queries per digest (render + send), then the rest.
    sample = 100
    with CaptureQueriesContext(connection) as queries:
        from productops.outbox.services import outbox_send

        outbox_send(limit=sample)
    per_digest = len(queries.captured_queries) / sample
    _send_all()
    total_s = time.perf_counter() - start
    # Peak resident memory of the process so far (tracemalloc would slow every allocation
    # down and distort the timing): flat if batches, not the whole set, are held.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    states = dict(
        Delivery.objects.filter(workspace=workspace, kind="comms.digest")
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    floor_s = _floor(workspace, count)
    print(
        f"digests at {count:>6,}: created {created:,} in {created_s:.2f} s; create+render+send "
        f"{total_s:.2f} s ({count / total_s:,.0f}/s); {per_digest:.1f} SQL queries per digest; "
        f"peak RSS {peak / 1e6:.0f} MB; states {states}"
    )
    print(
        f"  floor (the same number of pre-rendered e-mails straight to the file back end): "
        f"{floor_s:.2f} s; ratio {total_s / floor_s:.1f}×"
    )


def _floor(workspace, count: int) -> float:
    from django.core.mail import EmailMultiAlternatives, get_connection

    from productops.models import Delivery

    row = Delivery.objects.filter(workspace=workspace, kind="comms.digest", state="sent").first()
    subject, text, html = (row.subject, row.body_text, row.body_html) if row else ("s", "t", "<p>h</p>")
    start = time.perf_counter()
    with get_connection() as mail:
        for i in range(count):
            message = EmailMultiAlternatives(subject, text, to=[f"floor-{i}@example.com"], connection=mail)
            message.attach_alternative(html, "text/html")
            message.send()
    return time.perf_counter() - start


def _loop(contacts: int) -> None:
    from django.db.models import F
    from django.utils import timezone

    from comms.events import events_consume
    from feedback.models import Contact, Vote
    from productops.models import Delivery, User, Workspace
    from releases import services as release_services
    from releases.models import Release
    from roadmap.models import Feature

    workspace = Workspace.objects.get(slug="demo")
    owner = User.objects.get(username="demo")
    events_consume()  # the demo's own events first
    release = (
        Release.objects.filter(workspace=workspace, status__in=["planned", "in_progress"])
        .order_by("planned_date", "id")
        .first()
    )
    # The release's own scope: its features are the ones the contacts asked for.
    features = [
        item.feature for item in release.scope_items.filter(is_open=True).select_related("feature")[:5]
    ]
    now = timezone.now()
    Contact.objects.filter(workspace=workspace, email__startswith="bench-loop-").delete()  # an earlier run's
    new = Contact.objects.bulk_create(
        [
            Contact(workspace=workspace, email=f"bench-loop-{i}@example.com", name=f"Asker {i}")
            for i in range(contacts)
        ],
        batch_size=2_000,
    )
    Vote.objects.bulk_create(
        [
            Vote(workspace=workspace, contact=c, feature=features[i % len(features)], created_at=now)
            for i, c in enumerate(new)
        ],
        batch_size=2_000,
        ignore_conflicts=True,
    )
    # Set-up, not what is measured: the scope is done and named for customers.
    release.scope_items.filter(is_open=True).update(state="done")
    Feature.objects.filter(pk__in=[f.pk for f in features], public_title="").update(public_title=F("title"))
    notes = release_services.notes_generate(release=release) or "Improvements for the benchmark."
    release_services.release_notes_update(release=release, actor=owner, notes=notes)
    release_services.release_ship(release=release, actor=owner, force=True, reason="benchmark")
    _analyze()
    start = time.perf_counter()
    events_consume()
    created_s = time.perf_counter() - start
    told = Delivery.objects.filter(
        workspace=workspace, kind="comms.loop", recipient__startswith="bench-loop-"
    )
    made = told.count()
    _send_all()
    total_s = time.perf_counter() - start
    sent = told.filter(state="sent").count()
    print(
        f"close the loop, {contacts:,} contacts: {made:,} notices created in {created_s:.2f} s; "
        f"created + sent ({sent:,} sent) in {total_s:.2f} s"
    )
    Contact.objects.filter(workspace=workspace, email__startswith="bench-loop-").delete()
