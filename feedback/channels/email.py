"""Inbound e-mail: a forwarded or BCC'd customer e-mail becomes a feedback item.

Whatever receives the mail (an MTA pipe to ``manage.py ingest_email``, or a mail
service posting the raw message to the inbound-email endpoint) hands over the raw
RFC 822 bytes; :func:`feedback_from_email` does the rest.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from email import errors as email_errors
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone

from feedback.channels.text import html_to_text, storable, strip_quoted
from feedback.models import FeedbackItem
from feedback.services import MAX_TEXT_LENGTH, feedback_item_ingest
from productops.errors import ValidationFailed
from productops.models import User, Workspace

MAX_EMAIL_BYTES = 5 * 1024 * 1024
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def feedback_from_email(
    *, workspace: Workspace, raw: bytes, actor: User | None = None
) -> tuple[FeedbackItem, bool]:
    """Store a raw RFC 822 message as feedback; ``(item, created)``.

    * The sender becomes the contact (found or created by address; a new contact
      joins the company whose domain is the sender's).
    * The text is the subject (without ``Re:``/``Fwd:``) and the body: the
      text/plain part, or else the HTML part as text, without quoted replies
      (``>`` lines, "On ... wrote:", Outlook's "Original Message") or the signature
      after ``-- ``. Text past the item limit is cut, not refused: the mail is kept.
    * ``source="email"``, ``source_ref`` = the Message-ID (a sha256 of the raw bytes
      without one), so a re-delivered message is stored once (``created=False``).
    * ``received_at`` = the Date header (no zone → UTC), or now.

    Raises ValidationFailed (attr ``message``, ``from`` or ``body``) for a message
    that is too large, has no usable sender or no text, or cannot be decoded.
    """
    if len(raw) > MAX_EMAIL_BYTES:
        raise ValidationFailed(
            f"The message is larger than {MAX_EMAIL_BYTES // (1024 * 1024)} MB.",
            attr="message",
            code="too_large",
        )
    if not raw.strip():
        raise ValidationFailed("The message is empty.", attr="message", code="required")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    try:
        email, name = _sender(message)
        subject = _REPLY_PREFIX.sub("", storable(str(message.get("Subject") or ""))).strip()
        message_id = storable(str(message.get("Message-ID") or "")).strip()
        date_header = message.get("Date")
        received_at = getattr(date_header, "datetime", None) if date_header is not None else None
    except (email_errors.MessageError, ValueError, IndexError):
        # The header parser is lenient but can still give up on garbage.
        raise ValidationFailed(
            "The message's headers cannot be read.", attr="message", code="invalid"
        ) from None
    body = _body(message)
    if not body:
        raise ValidationFailed("The message has no text.", attr="body", code="required")
    text = f"{subject}\n\n{body}" if subject else body
    if len(text) > MAX_TEXT_LENGTH:
        text = text[: MAX_TEXT_LENGTH - 1] + "…"
    if received_at is not None and timezone.is_naive(received_at):
        received_at = received_at.replace(tzinfo=UTC)  # "-0000": the sender's zone is unknown
    source_ref = message_id if 0 < len(message_id) <= 200 else ""
    data: dict[str, Any] = {
        "text": text,
        "contact_email": email,
        "contact_name": name,
        "source": FeedbackItem.Source.EMAIL,
        "source_ref": source_ref or "sha256:" + hashlib.sha256(raw).hexdigest(),
        "received_at": received_at or timezone.now(),
    }
    return feedback_item_ingest(workspace=workspace, actor=actor, data=data)


def _sender(message: EmailMessage) -> tuple[str, str]:
    """The (address, display name) of From (or Sender when From is absent)."""
    header = message.get("From") or message.get("Sender")
    addresses = getattr(header, "addresses", ()) if header is not None else ()
    if not addresses:
        raise ValidationFailed("The message has no sender (From).", attr="from", code="required")
    address = addresses[0]
    email = (address.addr_spec or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(
            "The sender's address is not a valid e-mail address.", attr="from", code="invalid"
        ) from None
    return email, storable(address.display_name or "").strip()


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except LookupError:
        raise ValidationFailed(
            f"The message's text is in an unknown charset ({part.get_content_charset()}).",
            attr="body",
            code="undecodable",
        ) from None
    if not isinstance(content, str):
        return ""
    content = storable(content)
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return strip_quoted(content)
