"""Fault script 3: the stack's Redis stopped during 1,000 API writes, then started again.

    .venv/bin/python -m tests.faults.redis_outage [--writes 1000 --threads 4]

Set-up: a workspace with ``--features`` features, 300 contacts (each in a company), 300
feedback items to link, every feature scored (``CLEAN``).

Fault: ``--threads`` API clients make ``--writes`` writes (feedback created, votes cast,
feedback linked to features, in a shuffled mix) plus ``--invitations`` invitations (each an
outbox e-mail). After ``--stop-at`` writes the stack's Redis server (broker, cache, rate
limits; no persistence) is stopped; it is started again, empty, once ``--start-at`` writes
are done and at least ``--min-down`` seconds have passed.

Checks: zero failed writes; the database holds exactly what the successful responses
said (items, votes, links); within 60 s of Redis returning, every dirty feature is
recomputed (``CLEAN``, no request left) and every pending e-mail is sent; an error answered
during the outage, if any, is JSON with a request id (defect 5). Figures: writes during the
outage, their latency, and the catch-up times.
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.faults.stack import Report, Stack, wait_until


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.redis_outage")
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--invitations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--stop-at", type=int, default=150)
    parser.add_argument("--start-at", type=int, default=800)
    parser.add_argument("--min-down", type=float, default=20.0)
    parser.add_argument("--catch-up-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    report = Report("redis_outage")
    with Stack("redis_outage", seed=True) as stack:
        seed = stack.seed
        ws = seed.workspace_id
        ids = stack.django(
            f"""
from django.utils import timezone
from feedback.models import Company, Contact, FeedbackItem
from priority.recompute import run
from roadmap.models import Feature, Product

product = Product.objects.create(workspace_id={ws}, name="App")
features = Feature.objects.bulk_create(
    [Feature(workspace_id={ws}, product=product, title=f"Feature {{i}}", status="planned", reach=100 + i,
             impact=1, confidence_pct=80, effort=1 + i % 5) for i in range({args.features})]
)
companies = Company.objects.bulk_create(
    [Company(workspace_id={ws}, name=f"Co {{i}}", segment="smb", arr=1000 * i) for i in range(300)]
)
contacts = Contact.objects.bulk_create(
    [Contact(workspace_id={ws}, company=c, email=f"c{{i}}@example.com") for i, c in enumerate(companies)]
)
now = timezone.now()
items = FeedbackItem.objects.bulk_create(
    [FeedbackItem(workspace_id={ws}, text=f"Old request {{i}}", company=c, received_at=now,
                  duplicates_checked_at=now) for i, c in enumerate(companies)]
)
run(workspace_id={ws}, full=True)
result = {{"features": [f.pk for f in features], "contacts": [c.pk for c in contacts],
          "items": [i.pk for i in items]}}
"""
        )
        features, contacts, items = ids["features"], ids["contacts"], ids["items"]
        rng = random.Random(14)
        votes = [(c, f) for c in contacts for f in features]
        rng.shuffle(votes)
        links = [(i, f) for i in items for f in features]
        rng.shuffle(links)
        n_votes = n_links = int(args.writes * 0.3)
        n_feedback = args.writes - n_votes - n_links
        operations: list[tuple[str, str, dict]] = []
        for k in range(n_feedback):
            body = {"text": f"Outage request {k}: please support format {k}", "source_ref": f"out-{k}"}
            operations.append(("feedback", "/api/v1/workspaces/{slug}/feedback/", body))
        for contact, feature in votes[:n_votes]:
            operations.append(
                ("vote", "/api/v1/workspaces/{slug}/votes/", {"contact": contact, "feature": feature})
            )
        for item, feature in links[:n_links]:
            operations.append(
                ("link", f"/api/v1/workspaces/{{slug}}/feedback/{item}/links/", {"feature": feature})
            )
        rng.shuffle(operations)
        # Invitations spread through the run, so some are recorded while Redis is down.
        for k in range(args.invitations):
            at = int((k + 0.5) * len(operations) / args.invitations)
            operations.insert(at, ("invitation", "/api/v1/workspaces/{slug}/invitations/",
                                   {"email": f"invitee-{k}@example.com", "role": "viewer"}))  # fmt: skip
        total = len(operations)

        # --- the writes, and the outage ------------------------------------------------------
        work = collections.deque(operations)
        lock = threading.Lock()
        done: list[tuple[str, int, float, float, str, bool]] = []  # kind, status, began, took, body, during
        outage = {"down": False, "stopped_at": None, "started_at": None}

        def writer() -> None:
            with stack.client() as client:
                while True:
                    with lock:
                        if not work:
                            return
                        kind, path, body = work.popleft()
                    began = time.monotonic()
                    during = outage["down"]
                    answer = stack.api("POST", path, body, client=client, timeout=60)
                    with lock:
                        done.append((kind, answer.status, began, time.monotonic() - began,
                                     answer.text[:300] if answer.status >= 300 or answer.status == 0 else "",
                                     during and outage["down"]))  # fmt: skip

        def controller() -> None:
            wait_until(lambda: len(done) >= args.stop_at, 600, interval=0.01, what="writes before the outage")
            stack.stop_redis(signal.SIGTERM)
            outage["down"], outage["stopped_at"] = True, time.monotonic()
            stack.log(f"redis stopped after {len(done)} writes")
            wait_until(
                lambda: len(done) >= min(args.start_at, total)
                and time.monotonic() - outage["stopped_at"] >= args.min_down,
                600, interval=0.05, what="writes during the outage",
            )  # fmt: skip
            stack.start_redis()
            outage["down"], outage["started_at"] = False, time.monotonic()
            stack.log(f"redis started again after {len(done)} writes")

        ctl = threading.Thread(target=controller, daemon=True)
        ctl.start()
        writes_started = time.monotonic()
        with ThreadPoolExecutor(args.threads) as pool:
            for _ in range(args.threads):
                pool.submit(writer)
        ctl.join(timeout=700)
        writes_s = time.monotonic() - writes_started
        back_at = outage["started_at"]
        failed = [d for d in done if not 200 <= d[1] < 300]
        during = [d for d in done if d[5]]
        report.figure("writes", f"{total} ({n_feedback} feedback, {n_votes} votes, {n_links} links, "
                                f"{args.invitations} invitations) in {writes_s:.1f}s")  # fmt: skip
        report.figure("redis_down_s", round(back_at - outage["stopped_at"], 1))
        report.figure("writes_while_redis_was_down", len(during))
        latencies = sorted(d[3] for d in during) or [0.0]
        report.figure("write_p95_during_outage_ms", round(latencies[int(len(latencies) * 0.95) - 1] * 1000))
        report.figure("write_max_during_outage_ms", round(latencies[-1] * 1000))
        report.figure("failed_writes", len(failed))
        report.check("zero failed writes", not failed, [(d[0], d[1], d[4][:120]) for d in failed[:3]])
        non_json_errors = [d for d in failed if d[1] >= 500 and not d[4].lstrip().startswith("{")]
        report.check(
            "every error (if any) is a JSON body, not HTML", not non_json_errors, non_json_errors[:2]
        )

        # --- the database matches the responses ------------------------------------------------
        ok = collections.Counter(d[0] for d in done if d[1] == 201)
        counts = {
            "feedback": stack.scalar(
                "SELECT count(*) FROM feedback_feedbackitem "
                "WHERE workspace_id = %s AND source_ref LIKE 'out-%%'",
                [ws],
            ),
            "vote": stack.scalar("SELECT count(*) FROM feedback_vote WHERE workspace_id = %s", [ws]),
            "link": stack.scalar("SELECT count(*) FROM feedback_feedbacklink WHERE workspace_id = %s", [ws]),
            "invitation": stack.scalar(
                "SELECT count(*) FROM productops_invitation WHERE workspace_id = %s", [ws]
            ),
        }
        report.check(
            "the database holds exactly what the 201 responses said",
            all(counts[k] == ok[k] for k in counts),
            f"rows {counts}, 201s {dict(ok)}",
        )

        # --- catch-up after Redis returns ----------------------------------------------------
        def recomputed() -> bool:
            row = stack.sql(
                "SELECT recompute_requested_at IS NULL AND recompute_lease_until IS NULL "
                "FROM roadmap_roadmapsettings WHERE workspace_id = %s",
                [ws],
            )[0][0]
            dirty = stack.scalar(
                "SELECT count(*) FROM roadmap_feature WHERE workspace_id = %s AND score_state <> 0", [ws]
            )
            return row and dirty == 0

        def delivered() -> bool:
            pending = stack.scalar(
                "SELECT count(*) FROM productops_delivery WHERE workspace_id = %s AND state <> 'sent'", [ws]
            )
            return pending == 0

        def deduplicated() -> bool:
            return not stack.scalar(
                "SELECT count(*) FROM feedback_feedbackitem "
                "WHERE workspace_id = %s AND duplicates_checked_at IS NULL",
                [ws],
            )

        # All three polled together, so each time is its own (not after the previous one).
        predicates = {"recomputed": recomputed, "delivered": delivered, "duplicates_checked": deduplicated}
        catch_up: dict[str, float | None] = dict.fromkeys(predicates)
        give_up = back_at + args.catch_up_limit + 60
        while time.monotonic() < give_up and any(v is None for v in catch_up.values()):
            for name, predicate in predicates.items():
                if catch_up[name] is None and predicate():
                    catch_up[name] = time.monotonic() - back_at
            time.sleep(0.25)
        for name, seconds in catch_up.items():
            report.figure(f"{name}_after_redis_returned_s", None if seconds is None else round(seconds, 1))
        report.check(
            f"every dirty feature recomputed within {args.catch_up_limit:.0f}s of Redis returning",
            catch_up["recomputed"] is not None and catch_up["recomputed"] <= args.catch_up_limit,
            catch_up["recomputed"],
        )
        report.check(
            f"every pending e-mail delivered within {args.catch_up_limit:.0f}s of Redis returning",
            catch_up["delivered"] is not None and catch_up["delivered"] <= args.catch_up_limit,
            catch_up["delivered"],
        )
        sent = stack.scalar(
            "SELECT count(*) FROM productops_delivery WHERE workspace_id = %s AND state = 'sent'", [ws]
        )
        report.figure("emails_sent", f"{sent} of {ok['invitation']}")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
