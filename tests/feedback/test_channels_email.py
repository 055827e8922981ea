import hashlib
import io
import sys
from datetime import UTC, datetime, timedelta, timezone
from unittest.mock import ANY

import pytest
from django.core.management import CommandError, call_command
from django.urls import resolve
from django.utils import timezone as django_timezone

from api.feedback.channels import FeedbackInboundEmailView
from feedback.channels import email as email_channel
from feedback.channels.email import feedback_from_email
from feedback.channels.text import html_to_text, strip_quoted
from feedback.models import Contact, FeedbackItem
from productops.errors import ValidationFailed
from productops.models import AuditEvent, Role
from tests.feedback.factories import CompanyFactory

pytestmark = pytest.mark.django_db

MULTIPART = b"""\
From: Ann Smith <Ann@Acme.com>
To: feedback@productops.example
Subject: Re: SSO for our team
Date: Wed, 01 May 2024 12:30:00 +0200
Message-ID: <abc123@mail.acme.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

We need SAML SSO before we can roll out to 400 seats =E2=80=94 it's a blocker.

On Tue, 30 Apr 2024 at 09:00, Support <support@productops.example> wrote:
> Thanks for reaching out!
> What do you need?

--=20
Ann Smith
VP Engineering, Acme
--XYZ
Content-Type: text/html; charset="utf-8"

<p>HTML version that must not be used</p>
--XYZ--
"""

HTML_ONLY = b"""\
From: bob@globex.com
Subject: Exports
Message-ID: <html-only@globex.com>
Content-Type: text/html; charset="utf-8"

<html><head><style>p { color: red }</style></head><body>
<p>Please let us export <b>roadmaps</b> to PDF &amp; CSV.</p>
<ul><li>PDF</li><li>CSV</li></ul>
<div class="gmail_quote">On Monday someone wrote:<blockquote>old thread</blockquote></div>
<script>alert(1)</script>
</body></html>
"""


def _message(*, sender="carl@example.com", body="Dark mode, please.", headers=""):
    lines = [f"From: {sender}"] if sender else []
    lines += ["Subject: Idea", "Content-Type: text/plain; charset=utf-8"]
    if headers:
        lines.append(headers)
    return ("\n".join(lines) + "\n\n" + body + "\n").encode()


def url(workspace):
    return f"/api/v1/workspaces/{workspace.slug}/feedback/inbound-email/"


# --- parsing ------------------------------------------------------------------------------


def test_multipart_message_uses_the_plain_part_without_quote_and_signature(workspace):
    acme = CompanyFactory(workspace=workspace, domain="acme.com")

    item, created = feedback_from_email(workspace=workspace, raw=MULTIPART)

    assert created is True
    assert item.text == (
        "SSO for our team\n\nWe need SAML SSO before we can roll out to 400 seats — it's a blocker."
    )
    assert (item.source, item.source_ref) == ("email", "<abc123@mail.acme.com>")
    assert item.received_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert (item.contact.email, item.contact.name, item.contact.company) == (
        "ann@acme.com",
        "Ann Smith",
        acme,
    )
    assert item.company == acme
    assert AuditEvent.objects.filter(target_type="feedback.feedbackitem", actor_label="system").count() == 1


def test_html_only_message_is_converted_to_text(workspace):
    item, _ = feedback_from_email(workspace=workspace, raw=HTML_ONLY)

    assert item.text == "Exports\n\nPlease let us export roadmaps to PDF & CSV.\n\n- PDF\n- CSV"
    assert item.contact.email == "bob@globex.com"
    assert item.company is None


def test_nul_characters_and_raw_8bit_headers_are_stored_cleanly(workspace):
    raw = (
        "From: José Núñez <jose@example.com>\nSubject: Café\nMessage-ID: <nul@example.com>\n"
        "Content-Type: text/plain; charset=utf-8\n\nBetter\x00 exports\n"
    ).encode()

    item, _ = feedback_from_email(workspace=workspace, raw=raw)

    item.refresh_from_db()
    assert item.text == "Café\n\nBetter exports"
    assert item.contact.name == "José Núñez"


def test_the_same_message_twice_is_stored_once(workspace):
    first, first_created = feedback_from_email(workspace=workspace, raw=MULTIPART)
    again, again_created = feedback_from_email(workspace=workspace, raw=MULTIPART)

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert FeedbackItem.objects.count() == 1
    assert Contact.objects.count() == 1


def test_without_message_id_the_raw_bytes_identify_the_message(workspace):
    raw = _message()

    item, _ = feedback_from_email(workspace=workspace, raw=raw)
    again, created = feedback_from_email(workspace=workspace, raw=raw)

    assert item.source_ref == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert (again.pk, created) == (item.pk, False)
    assert FeedbackItem.objects.count() == 1


def test_date_without_zone_is_utc_and_no_date_is_now(workspace):
    dated, _ = feedback_from_email(
        workspace=workspace, raw=_message(headers="Date: Wed, 01 May 2024 12:30:00 -0000")
    )
    before = django_timezone.now()
    undated, _ = feedback_from_email(workspace=workspace, raw=_message(body="Another idea."))

    assert dated.received_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert before <= undated.received_at <= django_timezone.now()


def test_same_message_in_two_workspaces_is_one_item_each(workspace, other_workspace):
    here, _ = feedback_from_email(workspace=workspace, raw=MULTIPART)
    there, created = feedback_from_email(workspace=other_workspace, raw=MULTIPART)

    assert created is True
    assert (here.workspace, there.workspace) == (workspace, other_workspace)
    assert there.contact.workspace == other_workspace


@pytest.mark.parametrize(
    ("raw", "attr", "code"),
    [
        (_message(sender=""), "from", "required"),
        (_message(sender="not an address"), "from", "invalid"),
        (_message(body=""), "body", "required"),
        (_message(body="> only a quote\n> nothing new"), "body", "required"),
        (b"", "message", "required"),
        (
            b"From: a@example.com\nContent-Type: text/plain; charset=x-unknown-charset\n\nhello\n",
            "body",
            "undecodable",
        ),
        (
            b"From: a@example.com\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
            b"iVBORw0KGgo=\n",
            "body",
            "required",
        ),
    ],
)
def test_malformed_messages_are_refused_and_nothing_is_written(workspace, raw, attr, code):
    with pytest.raises(ValidationFailed) as caught:
        feedback_from_email(workspace=workspace, raw=raw)

    assert (caught.value.attr, caught.value.code) == (attr, code)
    assert FeedbackItem.objects.count() == 0
    assert Contact.objects.count() == 0


def test_oversized_message_is_refused(workspace, monkeypatch):
    monkeypatch.setattr(email_channel, "MAX_EMAIL_BYTES", 100)

    with pytest.raises(ValidationFailed) as caught:
        feedback_from_email(workspace=workspace, raw=MULTIPART)

    assert caught.value.code == "too_large"
    assert FeedbackItem.objects.count() == 0


def test_strip_quoted_handles_inline_replies_outlook_and_wrapped_attributions():
    text = (
        "Thanks, two things:\n\n"
        "On Tue, 2 Apr 2024 at 10:00, Support\n<support@example.com> wrote:\n"
        "> Which features?\n\n"
        "Bulk edit.\n"
        "A line that mentions what someone wrote: stays.\n\n\n\n"
        "-----Original Message-----\n"
        "From: Support\n"
        "Old text\n"
    )

    assert strip_quoted(text) == (
        "Thanks, two things:\n\nBulk edit.\nA line that mentions what someone wrote: stays."
    )


def test_html_to_text_keeps_paragraphs_and_drops_quotes_scripts_and_styles():
    html = "<p>One &lt;two&gt;</p><blockquote><blockquote>x</blockquote>y</blockquote><div>a<br>b</div>"

    assert html_to_text(html) == "One <two>\n\na\nb"


# --- the endpoint -------------------------------------------------------------------------


def test_the_route_is_the_email_view():
    assert (
        resolve("/api/v1/workspaces/acme/feedback/inbound-email/").func.view_class is FeedbackInboundEmailView
    )


@pytest.mark.parametrize("content_type", ["message/rfc822", "text/plain"])
def test_contributor_posts_a_raw_message_once_and_again(workspace, member, session_client, content_type):
    user = member(workspace, Role.CONTRIBUTOR).user
    client = session_client(user)

    first = client.post(url(workspace), MULTIPART, content_type=content_type)
    again = client.post(url(workspace), MULTIPART, content_type=content_type)

    item = FeedbackItem.objects.get()
    assert (first.status_code, first.json()) == (201, {"id": item.pk, "created": True})
    assert (again.status_code, again.json()) == (200, {"id": item.pk, "created": False})
    assert item.workspace == workspace
    assert AuditEvent.objects.get(target_type="feedback.feedbackitem").actor == user


def test_message_without_sender_is_a_400_and_writes_nothing(workspace, owner, session_client):
    response = session_client(owner).post(url(workspace), _message(sender=""), content_type="message/rfc822")

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "request_id": ANY,
        "errors": [{"code": "required", "detail": "The message has no sender (From).", "attr": "from"}],
    }
    assert FeedbackItem.objects.count() == 0
    assert Contact.objects.count() == 0


def test_empty_body_is_a_400(workspace, owner, session_client):
    response = session_client(owner).post(url(workspace), b"", content_type="message/rfc822")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "message"


def test_oversized_body_is_a_400_before_parsing(workspace, owner, session_client, monkeypatch):
    monkeypatch.setattr(email_channel, "MAX_EMAIL_BYTES", 100)
    monkeypatch.setattr("api.feedback.channels.MAX_EMAIL_BYTES", 100)

    response = session_client(owner).post(url(workspace), MULTIPART, content_type="message/rfc822")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "request_too_large"
    assert FeedbackItem.objects.count() == 0


def test_json_is_a_415(workspace, owner, session_client):
    response = session_client(owner).post(url(workspace), {"raw": "x"}, format="json")

    assert response.status_code == 415


def test_viewer_cannot_post_email(workspace, member, session_client):
    response = session_client(member(workspace, Role.VIEWER).user).post(
        url(workspace), MULTIPART, content_type="message/rfc822"
    )

    assert response.status_code == 403
    assert FeedbackItem.objects.count() == 0


def test_another_workspaces_email_endpoint_is_a_404(workspace, other_workspace, owner, session_client):
    response = session_client(owner).post(url(other_workspace), MULTIPART, content_type="message/rfc822")

    assert response.status_code == 404
    assert FeedbackItem.objects.count() == 0


# --- the command --------------------------------------------------------------------------


def test_command_reads_a_file_and_is_idempotent(workspace, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(MULTIPART)
    out, again = io.StringIO(), io.StringIO()

    call_command("ingest_email", str(path), workspace="acme", stdout=out)
    call_command("ingest_email", str(path), workspace="acme", stdout=again)

    item = FeedbackItem.objects.get()
    assert out.getvalue().strip() == f"Stored as feedback #{item.pk}."
    assert again.getvalue().strip() == f"Already stored as feedback #{item.pk}."
    assert (item.workspace, item.source) == (workspace, "email")


def test_command_reads_stdin(workspace, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(HTML_ONLY)))
    out = io.StringIO()

    call_command("ingest_email", workspace="acme", stdout=out)

    assert FeedbackItem.objects.get().source_ref == "<html-only@globex.com>"


def test_command_fails_on_a_malformed_message(workspace, tmp_path):
    path = tmp_path / "message.eml"
    path.write_bytes(_message(sender=""))

    with pytest.raises(CommandError, match=r"no sender \(From\)\. \(from\)"):
        call_command("ingest_email", str(path), workspace="acme", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No workspace"):
        call_command("ingest_email", str(path), workspace="nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "ingest_email", str(path.with_name("missing.eml")), workspace="acme", stdout=io.StringIO()
        )
    assert FeedbackItem.objects.count() == 0


def test_received_at_keeps_the_senders_offset_as_the_same_instant(workspace):
    item, _ = feedback_from_email(
        workspace=workspace, raw=_message(headers="Date: Wed, 01 May 2024 08:00:00 -0500")
    )

    assert item.received_at == datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=-5)))


def test_a_message_dated_before_1970_is_a_field_error_and_stores_nothing(workspace, member, session_client):
    client = session_client(member(workspace, Role.CONTRIBUTOR).user)

    response = client.post(
        url(workspace),
        _message(headers="Date: Sat, 30 Dec 1899 12:30:00 +0000"),
        content_type="message/rfc822",
    )

    assert response.status_code == 400
    assert [(e["code"], e["attr"]) for e in response.json()["errors"]] == [("out_of_range", "received_at")]
    assert FeedbackItem.objects.count() == 0
