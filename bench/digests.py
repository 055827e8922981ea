"""Digests and close-the-loop at volume, through the outbox, with the file e-mail backend.

    python -m bench digests [--subscriptions 10000] [--small 1000] [--loop-contacts 5000] [--rounds 3]

On PostgreSQL, on the demo workspace (the suite's dataset; standalone: ``seed_demo`` in
``BENCH_DATABASE_URL``, default ``productops_bench``) with extra stakeholders (every
audience, a spread of time zones) whose weekly digest is due at once:

1. **create**: ``comms.digests.digests_create_due`` — the Delivery rows of every due
   subscription (one per period; content not yet rendered);
2. **render + send**: ``productops.outbox.services.outbox_send`` until none is due —
   each digest rendered once, stored, and written by the file back end;
3. SQL queries per digest (render + send of a sample of 100, divided by 100), at
   ``--small`` and at ``--subscriptions`` due digests: must not grow (no N+1); the
   process's peak resident memory after each (printed only: in the suite the peak is the
   whole process's, earlier benchmarks included);
4. the **floor**: the same number of pre-rendered e-mails sent through the same back end
   without the outbox, a round of each in turn (digests, floor, digests, floor…, the
   set-up outside the timings); the ratio says what the outbox and the rendering cost;
5. **close the loop**: a release whose features ``--loop-contacts`` contacts voted for is
   shipped; the event consumer creates one notice per contact and the sender sends them.
   This step runs in a transaction that is rolled back, so the dataset the suite reuses
   keeps its releases (its commits are savepoints: no commit is timed).

Target: create + render + send at ≥ 500 digests/s (10,000 in ≤ 20 s on a 2-core machine).
The digest rounds delete the bench's stakeholders and the workspace's deliveries they
leave behind (committed work: ``VACUUM ANALYZE`` cannot run in a transaction).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import timedelta

from bench.results import Row, Sample, SuiteContext, ratio_row
from bench.setup import django_for_bench

AUDIENCES = ["executive", "sales", "support", "marketing", "engineering"]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Los_Angeles"]
#: Digests per second the create + render + send must reach (10,000 in 20 s).
TARGET_PER_S = 500
SIZES = {
    "small": {"small": 200, "subscriptions": 400, "loop_contacts": 300, "rounds": 3},
    "full": {"small": 1_000, "subscriptions": 10_000, "loop_contacts": 5_000, "rounds": 3},
}


def suite(ctx: SuiteContext, **sizes: int) -> list[Row]:
    """The rows of the digests and of close-the-loop, at the suite's size (or ``sizes``)."""
    from django.test.utils import override_settings

    size = {**SIZES[ctx.size], **sizes}
    mail_dir = tempfile.mkdtemp(prefix="productops-bench-mail-")
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=mail_dir
        ):
            return _digest_rows(size["small"], size["subscriptions"], size["rounds"]) + _loop_rows(
                size["loop_contacts"]
            )
    finally:
        shutil.rmtree(mail_dir, ignore_errors=True)


def main(argv: list[str]) -> None:
    from bench.pages import production_env
    from bench.suite import render_table, standalone_context

    parser = argparse.ArgumentParser(prog="python -m bench digests")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--loop-contacts", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    production_env()
    django_for_bench()
    ctx = standalone_context(scale=args.scale)
    rows = suite(
        ctx,
        small=args.small,
        subscriptions=args.subscriptions,
        loop_contacts=args.loop_contacts,
        rounds=args.rounds,
    )
    print(render_table(rows))


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
    """Fresh planner statistics after the set-up's bulk inserts (autovacuum is off here).

    In a transaction (close the loop) only ``ANALYZE``: ``VACUUM`` cannot run in one.
    """
    from django.db import connection

    command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in (
                "comms_stakeholder",
                "comms_subscription",
                "productops_delivery",
                "feedback_contact",
                "feedback_vote",
            ):
                cursor.execute(f"{command} {table}")


def _send_all() -> int:
    from productops.outbox.services import outbox_send

    sent = 0
    while True:
        counts = outbox_send(limit=5_000)
        if not counts:
            return sent
        sent += sum(counts.values())


def _digests(count: int) -> dict:
    """One round: ``count`` due digests created, rendered and sent (set-up not timed)."""
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from comms.digests import digests_create_due
    from productops.models import Delivery, Workspace
    from productops.outbox.services import outbox_send

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
        outbox_send(limit=sample)
    per_digest = len(queries.captured_queries) / sample
    _send_all()
    total_s = time.perf_counter() - start
    states = dict(
        Delivery.objects.filter(workspace=workspace, kind="comms.digest")
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    # Every due digest is done: sent, or suppressed by its renderer (nothing to tell).
    done = states.get("sent", 0) + states.get("suppressed", 0)
    if done < count or done != sum(states.values()):
        raise AssertionError(f"{count:,} digests due, not all sent or suppressed: {states}")
    # Peak resident memory of the process so far (tracemalloc would slow every allocation
    # down and distort the timing).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "created": created,
        "created_s": created_s,
        "total_s": total_s,
        "per_digest": per_digest,
        "peak": peak,
        "states": states,
    }


def _digest_rows(small: int, count: int, rounds: int) -> list[Row]:
    from productops.models import Workspace

    first = _digests(small)
    runs, floors = [], []
    for _ in range(rounds):  # digests, floor, digests, floor…: both see the same machine
        runs.append(_digests(count))
        floors.append(_floor(Workspace.objects.get(slug="demo"), count))
    _reset(Workspace.objects.get(slug="demo"))
    measured = Sample(tuple(run["total_s"] for run in runs))
    floor = Sample(tuple(floors))
    rate = count / measured.median
    per_digest = [first["per_digest"], runs[-1]["per_digest"]]
    return [
        Row(
            benchmark=f"digests: create + render + send {count:,}",
            figure=f"{rate:,.0f}/s; {measured.median:,.2f} s (min {measured.min:,.2f}, max "
            f"{measured.max:,.2f}, n={rounds}); {runs[-1]['states'].get('sent', 0):,} sent",
            value=rate,
            unit="/s",
            target=f"≥ {TARGET_PER_S}/s (10,000 in ≤ 20 s)",
            met=rate >= TARGET_PER_S,
            details={
                "times": list(measured.times),
                "created_s": [run["created_s"] for run in runs],
                "states": runs[-1]["states"],
            },
        ),
        ratio_row(f"digests: {count:,} ÷ floor (pre-rendered, same back end)", measured, floor),
        Row(
            benchmark="digests: SQL queries per digest",
            figure=f"{per_digest[0]:.2f} at {small:,} due, {per_digest[1]:.2f} at {count:,} due",
            value=per_digest[1],
            unit="queries",
            target=f"not more at {count:,} due",
            met=per_digest[1] <= per_digest[0] + 0.05,
            details={"per_digest": per_digest, "sizes": [small, count]},
        ),
        Row(
            benchmark="digests: process peak RSS",
            figure=(
                f"{first['peak'] / 1e6:,.0f} MB after {small:,}, "
                f"{runs[-1]['peak'] / 1e6:,.0f} MB after {count:,}"
            ),
            value=runs[-1]["peak"] / 1e6,
            unit="MB",
            details={"peak_bytes": [first["peak"], runs[-1]["peak"]]},
        ),
    ]


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


def _loop_rows(contacts: int) -> list[Row]:
    """Close the loop for ``contacts`` contacts, in a transaction rolled back afterwards."""
    from django.db import transaction

    with transaction.atomic():
        made, sent, created_s, total_s = _loop(contacts)
        transaction.set_rollback(True)
    if made != contacts or sent != made:
        raise AssertionError(f"close the loop: {contacts:,} contacts, {made:,} notices, {sent:,} sent")
    return [
        Row(
            benchmark=f"close the loop: {contacts:,} contacts notified",
            figure=f"{total_s:,.2f} s ({contacts / total_s:,.0f}/s); notices created in {created_s:,.2f} s",
            value=total_s,
            unit="s",
            details={"created_s": created_s, "total_s": total_s, "notices": made, "sent": sent},
        )
    ]


def _loop(contacts: int) -> tuple[int, int, float, float]:
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
    return made, sent, created_s, total_s
