"""Fault script 5: duplicated inbound webhooks and concurrent idempotent retries; and an
unexpected error answered as JSON (defect 5).

    .venv/bin/python -m tests.faults.webhook_replay [--bulk-items 50 --retries 6]

1. **A signed inbound webhook delivered three times.** A generic inbound webhook is created
   through the API. One delivery (its ``external_id`` is the source ref) is posted three
   times one after the other, as a relay retrying: the same bytes and signature twice, then
   re-signed with a new timestamp. A second delivery is posted three times at once (three
   threads behind a barrier). Each must be one feedback item: one 201, then 200s naming the
   same item.
2. **A bulk request retried concurrently with the same ``Idempotency-Key``.** ``--retries``
   threads post the same ``POST .../feedback/bulk/`` of ``--bulk-items`` items (no source
   refs, so only the key protects them) with one key, at once. Every answer must be the same
   200 body, and the items stored once; the same key with another body is a 422.
3. **An unexpected error is JSON with the request id.** A table the companies list reads is
   renamed under the running app (schema drift: a ``ProgrammingError``, not a database
   outage); the API must answer 500 with the JSON error body (``type: server_error``) whose
   ``request_id`` is the response's ``X-Request-ID``, never an HTML page. The table is put
   back and the same request answers 200.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.faults.stack import Report, Response, Stack


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = timestamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Productops-Timestamp": str(timestamp),
        "X-Productops-Signature": f"sha256={digest}",
    }


def at_once(count: int, call) -> list[Response]:
    barrier = threading.Barrier(count)

    def one(index: int) -> Response:
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.webhook_replay")
    parser.add_argument("--bulk-items", type=int, default=50)
    parser.add_argument("--retries", type=int, default=6)
    args = parser.parse_args(argv)
    report = Report("webhook_replay")
    with Stack("webhook_replay", beat=False, seed=True) as stack:
        seed = stack.seed
        ws = seed.workspace_id
        created = stack.api("POST", "/api/v1/workspaces/{slug}/inbound-webhooks/", {"provider": "generic"})
        if not report.check("inbound webhook created", created.status == 201, created.status):
            return report.finish()
        hook = created.json
        path = f"/api/v1/inbound/{hook['public_id']}/"

        # --- 1. the same delivery three times ---------------------------------------------
        def deliver(body: bytes, headers: dict[str, str]) -> Response:
            return stack.api("POST", path, content=body, headers=headers, token="")

        body = json.dumps(
            {"text": "Export to CSV please", "email": "ann@example.com", "external_id": "evt-1"}
        ).encode()
        headers = signed(hook["secret"], body)
        sequential = [deliver(body, headers), deliver(body, headers)]
        time.sleep(1.1)  # the relay re-signs its retry: a new timestamp and signature
        sequential.append(deliver(body, signed(hook["secret"], body)))
        report.figure("sequential_statuses", [r.status for r in sequential])
        ids = {r.json["id"] for r in sequential if r.status in (200, 201)}
        stored = stack.scalar(
            "SELECT count(*) FROM feedback_feedbackitem WHERE workspace_id = %s AND source_ref = 'evt-1'",
            [ws],
        )
        report.check(
            "a delivery sent three times in a row is one item (201, 200, 200, same id)",
            [r.status for r in sequential] == [201, 200, 200] and len(ids) == 1 and stored == 1,
            f"statuses {[r.status for r in sequential]}, ids {ids}, rows {stored}",
        )

        body2 = json.dumps({"text": "Dark mode", "email": "bob@example.com", "external_id": "evt-2"}).encode()
        headers2 = signed(hook["secret"], body2)
        concurrent = at_once(3, lambda _: deliver(body2, headers2))
        statuses = sorted(r.status for r in concurrent)
        ids2 = {r.json["id"] for r in concurrent if r.status in (200, 201)}
        stored2 = stack.scalar(
            "SELECT count(*) FROM feedback_feedbackitem WHERE workspace_id = %s AND source_ref = 'evt-2'",
            [ws],
        )
        report.figure("concurrent_statuses", statuses)
        report.check(
            "a delivery sent three times at once is one item (one 201, two 200, same id)",
            statuses == [200, 200, 201] and len(ids2) == 1 and stored2 == 1,
            f"statuses {statuses}, ids {ids2}, rows {stored2}",
        )
        webhook_items = stack.scalar(
            "SELECT count(*) FROM feedback_feedbackitem WHERE workspace_id = %s AND source_ref LIKE 'evt-%%'",
            [ws],
        )
        report.figure("webhook_deliveries_posted", 6)
        report.figure("webhook_items_stored", webhook_items)

        # --- 2. one bulk request, retried concurrently with one key -------------------------
        key = str(uuid.uuid4())
        marker = f"bulk-{key[:8]}"
        items = [{"text": f"{marker} request {i}: please add thing {i}"} for i in range(args.bulk_items)]
        bulk_path = "/api/v1/workspaces/{slug}/feedback/bulk/"
        started = time.monotonic()
        answers = at_once(
            args.retries,
            lambda _: stack.api(
                "POST", bulk_path, {"items": items}, headers={"Idempotency-Key": key}, timeout=60
            ),
        )
        report.figure("bulk_retries_s", round(time.monotonic() - started, 2))
        # The same answer (compared as JSON: a replay re-renders the stored body).
        bodies = {json.dumps(r.json, sort_keys=True) if r.is_json() else r.text for r in answers}
        bulk_rows = stack.scalar(
            "SELECT count(*) FROM feedback_feedbackitem WHERE workspace_id = %s AND text LIKE %s",
            [ws, marker + "%"],
        )
        report.figure("bulk_statuses", sorted(r.status for r in answers))
        report.figure("bulk_items_stored", f"{bulk_rows} of {args.bulk_items} sent {args.retries} times")
        replayed = sum(1 for r in answers if r.headers.get("Idempotent-Replayed", "").lower() == "true")
        if any("Idempotent-Replayed" in r.headers for r in answers):
            report.figure("bulk_answers_replayed", replayed)
        report.check(
            f"{args.retries} concurrent retries with one Idempotency-Key store the items once",
            all(r.status == 200 for r in answers) and len(bodies) == 1 and bulk_rows == args.bulk_items,
            f"statuses {[r.status for r in answers]}, distinct bodies {len(bodies)}, rows {bulk_rows}",
        )
        other = stack.api("POST", bulk_path, {"items": items[:1]}, headers={"Idempotency-Key": key})
        report.check(
            "the same key with another body is refused (422)",
            other.status == 422 and other.is_json(),
            f"{other.status} {other.text[:120]}",
        )
        keys = stack.scalar("SELECT count(*) FROM productops_idempotencykey WHERE key = %s", [key])
        report.check("one idempotency key row", keys == 1, keys)

        # --- 3. an unexpected error under faults: JSON with the request id -----------------
        stack.sql("ALTER TABLE feedback_company RENAME TO feedback_company_faults")
        try:
            broken = stack.api("GET", "/api/v1/workspaces/{slug}/companies/")
        finally:
            stack.sql("ALTER TABLE feedback_company_faults RENAME TO feedback_company")
        try:
            error = broken.json if broken.is_json() else None
        except ValueError:
            error = None
        report.figure("unexpected_error_status", broken.status)
        report.figure("unexpected_error_content_type", broken.headers.get("content-type"))
        report.check(
            "an unexpected API error is a JSON 500 with the response's request id, not HTML",
            broken.status == 500
            and isinstance(error, dict)
            and error.get("type") == "server_error"
            and bool(error.get("request_id"))
            and error.get("request_id") == broken.headers.get("X-Request-ID"),
            broken.text[:200],
        )
        again = stack.api("GET", "/api/v1/workspaces/{slug}/companies/")
        report.check("the same request answers 200 once the table is back", again.status == 200, again.status)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
