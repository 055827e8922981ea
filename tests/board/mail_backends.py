"""An e-mail backend for tests whose mail server refuses one address (a bad recipient)."""

import smtplib

from django.core.mail.backends.locmem import EmailBackend

REFUSED = "bounce@refused.example"


class RefusingEmailBackend(EmailBackend):
    def send_messages(self, messages):
        for message in messages:
            if REFUSED in message.to:
                raise smtplib.SMTPRecipientsRefused({REFUSED: (550, b"no such user")})
        return super().send_messages(messages)
