"""Fault script 2: the worker SIGKILLed in the middle of sending 1,000 outbox messages.

    .venv/bin/python -m tests.faults.outbox_kill [--board 490 --digests 490 --others 20 --kill-at 350]

Set-up (worker stopped): a public feature with ``--board`` voters who verified on the public
board, and ``--digests`` engineering stakeholders with a daily digest due. The feature moves
from idea to planned (its status change dated inside the digests' window), then the app's
own services record the messages, as beat would: ``board.services.notifications_collect``
(one ``board.status`` delivery per voter) and ``comms.digests.digests_create_due`` (one
``comms.digest`` delivery per subscription, rendered by the sender), plus ``--others``
invitations and public-board sign-in links (``invitation_create``, ``magic_link_request``):
1,000 messages. Each service enqueues ``outbox_send`` after its commit.

Fault: the worker and beat start; e-mail goes to ``tests.faults.mail.RecordingEmailBackend``
(one fsync'd line per message accepted, 15 ms per message), and once ``--kill-at`` messages
are out the worker's process group is SIGKILLed. The worker starts again.

The stack runs with ``OUTBOX_LEASE_SECONDS=5`` (production: 300), so rows the dead worker had
claimed are taken over seconds after, not minutes: the script finishes in about a minute.
Nothing is re-queued for the dead worker's tasks (their messages wait for Redis's 2-hour
visibility timeout): beat's ``outbox_sweep`` (every 30 s) sends the rest.

Checks: every recipient ends with exactly one ``sent`` row and at least one e-mail (nothing
lost); an e-mail that reached the backend twice was in flight at the kill (its row was
``sending`` and its message was already accepted); figures: rows claimed at the kill,
duplicates, time to deliver everything after the restart.
"""

from __future__ import annotations

import argparse
import collections
import re
import signal
import sys
import time

from tests.faults.mail import read_log
from tests.faults.stack import Report, Stack, wait_until

DELIVERY_ID = re.compile(r"<delivery-(\d+)\.")


def seed(stack: Stack, board: int, digests: int, others: int) -> dict:
    ws, user = stack.seed.workspace_id, stack.seed.user_id
    return stack.django(
        f"""
from datetime import timedelta
from django.db.models import Count
from django.utils import timezone
from board.models import BoardContact, BoardSettings
from board.services import magic_link_request, notifications_collect
from comms.digests import digest_render, digests_create_due
from comms.models import Stakeholder, Subscription
from feedback.models import Contact, Vote
from productops.models import Delivery, User, Workspace
from productops.services import invitation_create
from roadmap.models import Feature, FeatureStatusChange, Product
from roadmap.services import feature_change_status

ws = Workspace.objects.get(pk={ws})
user = User.objects.get(pk={user})
now = timezone.now()
BoardSettings.objects.update_or_create(workspace=ws, defaults={{"enabled": True}})
product = Product.objects.create(workspace=ws, name="App")
feature = Feature.objects.create(workspace=ws, product=product, title="Dark mode", is_public=True)
contacts = Contact.objects.bulk_create(
    [Contact(workspace=ws, email=f"voter-{{i}}@example.com", name=f"Voter {{i}}") for i in range({board})]
)
BoardContact.objects.bulk_create([BoardContact(workspace=ws, contact=c, verified_at=now) for c in contacts])
Vote.objects.bulk_create([Vote(workspace=ws, contact=c, feature=feature) for c in contacts])
stakeholders = Stakeholder.objects.bulk_create(
    [
        Stakeholder(workspace=ws, kind="external", email=f"reader-{{i}}@example.com", name=f"Reader {{i}}",
                    audience="engineering", confirmed_at=now - timedelta(days=10))
        for i in range({digests})
    ]
)
Subscription.objects.bulk_create(
    [
        Subscription(workspace=ws, stakeholder=s, target_workspace=ws, cadence="daily", time_zone="UTC",
                     local_hour=0, digest_through=now - timedelta(days=3),
                     next_due_at=now - timedelta(minutes=1))
        for s in stakeholders
    ]
)
feature_change_status(feature=feature, to_status="planned", actor=user, reason="Fault script")
# Inside the digests' window (it ends at today's 00:00 UTC, the period's send instant).
FeatureStatusChange.objects.filter(feature=feature).update(created_at=now - timedelta(hours=26))
board_rows = notifications_collect()
digest_rows = digests_create_due()
# Invitations and board sign-in links: the other e-mails that once claimed before sending.
for i in range({others} // 2):
    invitation_create(workspace=ws, email=f"invitee-{{i}}@example.com", role="viewer", actor=user)
for i in range({others} - {others} // 2):
    magic_link_request(workspace=ws, email=f"signin-{{i}}@example.com")
sample = Delivery.objects.filter(workspace=ws, kind="comms.digest").first()
result = {{
    "board_rows": board_rows,
    "digest_rows": digest_rows,
    "sample_digest_subject": digest_render(sample).subject if sample else None,
    "states": dict(
        Delivery.objects.filter(workspace=ws).values_list("state").annotate(n=Count("id")).order_by()
    ),
}}
"""
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.outbox_kill")
    parser.add_argument("--board", type=int, default=490, help="board status notices")
    parser.add_argument("--digests", type=int, default=490, help="digests")
    parser.add_argument("--others", type=int, default=20, help="invitations and board sign-in links")
    parser.add_argument("--kill-at", type=int, default=350, help="messages sent when the worker is killed")
    parser.add_argument("--mail-delay-ms", type=int, default=15)
    args = parser.parse_args(argv)
    total = args.board + args.digests + args.others
    report = Report("outbox_kill")
    env = {"OUTBOX_LEASE_SECONDS": "5", "FAULT_MAIL_DELAY_MS": str(args.mail_delay_ms)}
    with Stack("outbox_kill", web=False, worker=False, beat=False, env=env, seed=True) as stack:
        seeded = seed(stack, args.board, args.digests, args.others)
        report.figure(
            "messages_recorded",
            f"{seeded['board_rows']} board notices + {seeded['digest_rows']} digests + "
            f"{args.others} invitations and sign-in links",
        )
        report.figure("sample_digest_subject", seeded["sample_digest_subject"])
        report.check(
            "1 row per message recorded, all pending",
            seeded["board_rows"] + seeded["digest_rows"] + args.others == total
            and seeded["states"] == {"pending": total},
            seeded["states"],
        )
        report.figure("outbox_lease_seconds", 5)

        # --- the fault -------------------------------------------------------------------
        stack.start_worker()
        stack.start_beat()
        sending_started = time.monotonic()
        wait_until(lambda: len(read_log(str(stack.mail_log))) >= args.kill_at, 180, interval=0.01,
                   what=f"{args.kill_at} messages sent")  # fmt: skip
        stack.kill_worker(signal.SIGKILL)
        killed_at = time.monotonic()
        at_kill_log = read_log(str(stack.mail_log))
        sent_at_kill = {int(DELIVERY_ID.search(line["message_id"]).group(1)) for line in at_kill_log}
        claimed = {
            row[0]: row[1]
            for row in stack.sql(
                "SELECT id, kind FROM productops_delivery WHERE workspace_id = %s AND state = 'sending'",
                [stack.seed.workspace_id],
            )
        }
        states_at_kill = dict(
            stack.sql(
                "SELECT state, count(*) FROM productops_delivery WHERE workspace_id = %s GROUP BY state",
                [stack.seed.workspace_id],
            )
        )
        in_flight_sent = set(claimed) & sent_at_kill
        report.figure("sent_when_killed", len(at_kill_log))
        report.figure("rows_at_kill", states_at_kill)
        report.figure("rows_claimed_by_the_dead_worker", len(claimed))
        report.figure("of_which_already_accepted_by_the_mail_backend", len(in_flight_sent))
        stack.start_worker()
        restarted_at = time.monotonic()

        # --- recovery ------------------------------------------------------------------------
        def done() -> bool:
            return (
                stack.scalar(
                    "SELECT count(*) FROM productops_delivery WHERE workspace_id = %s AND state = 'sent'",
                    [stack.seed.workspace_id],
                )
                == total
            )

        try:
            wait_until(done, 240, interval=0.5, what="every delivery sent")
            recovered = True
        except TimeoutError as exc:
            recovered = False
            report.check("every delivery sent after the restart", False, exc)
        report.figure("all_sent_after_restart_s", round(time.monotonic() - restarted_at, 1))
        report.figure("all_sent_after_kill_s", round(time.monotonic() - killed_at, 1))
        report.figure("total_send_s", round(time.monotonic() - sending_started, 1))
        time.sleep(1)  # a straggler's late line would show as a duplicate

        # --- what reached the backend ----------------------------------------------------
        lines = read_log(str(stack.mail_log))
        per_delivery = collections.Counter(
            int(DELIVERY_ID.search(line["message_id"]).group(1)) for line in lines
        )
        per_recipient_mail = collections.Counter(line["to"][0] for line in lines)
        rows = stack.sql(
            "SELECT id, recipient, state, kind, attempts FROM productops_delivery WHERE workspace_id = %s",
            [stack.seed.workspace_id],
        )
        sent_rows = collections.Counter(recipient for _, recipient, state, _, _ in rows if state == "sent")
        recipients = {recipient for _, recipient, _, _, _ in rows}
        duplicates = {delivery_id for delivery_id, n in per_delivery.items() if n > 1}
        lost = [recipient for recipient in recipients if per_recipient_mail[recipient] == 0]
        report.figure("recipients", len(recipients))
        report.figure("emails_accepted", len(lines))
        report.figure("lost", len(lost))
        report.figure("duplicated", len(duplicates))
        report.figure("max_attempts", max(row[4] for row in rows))
        report.check(
            "every recipient has exactly one sent row",
            recovered and len(recipients) == total and all(sent_rows[r] == 1 for r in recipients),
            f"{sum(1 for r in recipients if sent_rows[r] != 1)} recipients without exactly one",
        )
        report.check("no message lost (every recipient got an e-mail)", not lost, lost[:5])
        report.check(
            "every duplicate was in flight at the kill (claimed and already accepted)",
            duplicates <= in_flight_sent,
            f"duplicates {sorted(duplicates)[:10]}, in flight {sorted(in_flight_sent)[:10]}",
        )
        report.check(
            "no duplicate from a row that was not in flight",
            not (duplicates - set(claimed)),
            duplicates - set(claimed),
        )
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
