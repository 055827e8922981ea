"""E-mail backends for the outbox tests: a mail server that is down, one that refuses every
recipient, one that is down for the first ``FlakyEmailBackend.failures`` messages and then
delivers, and a slow one (the last two deliver to Django's locmem outbox)."""

from __future__ import annotations

import smtplib
import time

from django.core.mail.backends.locmem import EmailBackend


class DownEmailBackend(EmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class RefusingEmailBackend(EmailBackend):
    def send_messages(self, messages):
        refused = {address: (550, b"no such user") for message in messages for address in message.to}
        raise smtplib.SMTPRecipientsRefused(refused)


class FlakyEmailBackend(EmailBackend):
    #: Messages still to refuse before the server is "back"; tests set it.
    failures = 0

    def send_messages(self, messages):
        if FlakyEmailBackend.failures > 0:
            FlakyEmailBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class SlowEmailBackend(EmailBackend):
    """A mail server that takes a few milliseconds per message, so concurrent senders overlap."""

    def send_messages(self, messages):
        time.sleep(0.005 * len(messages))
        return super().send_messages(messages)
