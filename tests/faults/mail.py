"""An e-mail backend for fault stacks: one JSON line per message accepted, fsync'd, so a
script counts what reached the "mail server" even when the worker is SIGKILLed right after.

Settings (environment): ``FAULT_MAIL_LOG`` (the file, appended to by every process of the
stack), ``FAULT_MAIL_DELAY_MS`` (time each message takes to "send", so a kill lands mid-send).
"""

from __future__ import annotations

import fcntl
import json
import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class RecordingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        path = os.environ["FAULT_MAIL_LOG"]
        delay = int(os.environ.get("FAULT_MAIL_DELAY_MS", "0")) / 1000
        sent = 0
        for message in email_messages:
            if delay:
                time.sleep(delay)
            headers = message.extra_headers or {}
            line = json.dumps(
                {
                    "message_id": headers.get("Message-ID", ""),
                    "to": list(message.to),
                    "subject": message.subject,
                    "pid": os.getpid(),
                    "at": time.time(),
                }
            )
            # The line is on disk before send_messages returns: "accepted by the server".
            with open(path, "a", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
                fcntl.flock(handle, fcntl.LOCK_UN)
            sent += 1
        return sent


def read_log(path: str) -> list[dict]:
    """Every message recorded in ``path`` (a missing file is no message)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []
