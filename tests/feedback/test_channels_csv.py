import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from unittest.mock import ANY

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import resolve

from api.feedback.channels import FeedbackCsvImportView
from feedback.channels import csv_import
from feedback.channels.csv_import import CsvRowError, feedback_csv_import
from feedback.models import Company, Contact, FeedbackItem
from productops.errors import ValidationFailed
from productops.models import AuditEvent, Role
from tests.feedback.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db

MIXED = (
    "Feedback,Email,Name,Company,Domain,Segment,ARR,Importance,Tags,Date,Notes\n"
    'Please add SSO,ann@acme.com,Ann,Acme,acme.com,Enterprise,"120,000",critical,auth; security,'
    "2024-05-01T10:00:00Z,vip\n"
    '"Multi\nline text",bob@globex.com,,,,,,,,2024-05-02,\n'
    ",carl@example.com,,,,,,,,,\n"
    "\n"
    "Export to CSV,not-an-email,,,,,,important,,,\n"
    "Dark mode,dan@acme.com,,,,,,urgent,,yesterday,\n"
    "too few,x@example.com\n"
)
MIXED_ERRORS = [
    CsvRowError(line=5, field="text", code="required", detail="Text is required."),
    CsvRowError(line=7, field="contact_email", code="invalid", detail="Enter a valid email address."),
    CsvRowError(
        line=8,
        field="importance",
        code="invalid_choice",
        detail="Unknown importance; one of: nice_to_have, important, critical.",
    ),
    CsvRowError(
        line=8,
        field="received_at",
        code="invalid",
        detail="Must be an ISO 8601 date or time, e.g. 2024-05-01T14:30:00Z.",
    ),
    CsvRowError(line=9, field=None, code="column_count", detail="Expected 11 cells, found 2."),
]


def _import(workspace, content, mapping=None, actor=None):
    data = content.encode() if isinstance(content, str) else content
    return feedback_csv_import(workspace=workspace, actor=actor, file=data, mapping=mapping)


def _counts():
    return (FeedbackItem.objects.count(), Company.objects.count(), Contact.objects.count())


def url(workspace):
    return f"/api/v1/workspaces/{workspace.slug}/feedback/import-csv/"


def _upload(client, workspace, content, **extra):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        url(workspace),
        {"file": SimpleUploadedFile("feedback.csv", data, content_type="text/csv"), **extra},
        format="multipart",
    )


# --- the service --------------------------------------------------------------------------


def test_valid_rows_are_stored_and_bad_rows_reported_by_file_line(workspace):
    report = _import(workspace, MIXED)

    assert (report.created, report.duplicates) == (2, 0)
    assert report.errors == MIXED_ERRORS
    assert report.ignored_columns == ["Notes"]
    assert (report.companies_created, report.contacts_created) == (1, 2)
    sso = FeedbackItem.objects.get(text="Please add SSO")
    acme = Company.objects.get(workspace=workspace)
    assert (acme.name, acme.domain, acme.segment, acme.arr) == (
        "Acme",
        "acme.com",
        "enterprise",
        Decimal("120000"),
    )
    assert (sso.workspace, sso.company, sso.contact.email, sso.contact.name) == (
        workspace,
        acme,
        "ann@acme.com",
        "Ann",
    )
    assert sso.contact.company == acme
    assert (sso.source, sso.importance, sso.tags) == ("csv", "critical", ["auth", "security"])
    assert sso.received_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert sso.source_ref.startswith("sha256:")
    multi = FeedbackItem.objects.get(contact__email="bob@globex.com")
    assert multi.text == "Multi\nline text"
    assert multi.received_at == datetime(2024, 5, 2, tzinfo=UTC)  # a date without a zone is UTC
    assert multi.company is None
    assert AuditEvent.objects.filter(target_type="feedback.company", action="created").count() == 1
    assert AuditEvent.objects.filter(target_type="feedback.feedbackitem", action="created").count() == 2


def test_the_same_file_again_creates_nothing_and_counts_duplicates(workspace):
    _import(workspace, MIXED)
    before = _counts()

    report = _import(workspace, MIXED)

    assert _counts() == before
    assert (report.created, report.duplicates, report.companies_created, report.contacts_created) == (
        0,
        2,
        0,
        0,
    )
    assert report.errors == MIXED_ERRORS


def test_a_re_export_with_other_columns_order_and_spacing_is_still_a_duplicate(workspace):
    _import(workspace, "text,email,date\nPlease add  SSO,Ann@Acme.com,2024-05-01T12:00:00+02:00\n")

    report = _import(workspace, "date,email,text\n2024-05-01T10:00:00Z,ann@acme.com,please add sso\n")

    assert (report.created, report.duplicates) == (0, 1)
    assert FeedbackItem.objects.count() == 1


def test_a_row_repeated_in_the_file_is_stored_once(workspace):
    report = _import(workspace, "text,email\nSSO please,a@example.com\nSSO please,a@example.com\n")

    assert (report.created, report.duplicates) == (1, 1)
    assert FeedbackItem.objects.count() == 1


def test_a_mapped_source_ref_identifies_rows_across_runs(workspace):
    _import(workspace, "ticket_id,text\nT-1,First wording\n")

    report = _import(workspace, "ticket_id,text\nT-1,Edited wording\nT-2,Another\n")

    assert (report.created, report.duplicates) == (1, 1)
    assert sorted(FeedbackItem.objects.values_list("source_ref", "text")) == [
        ("T-1", "First wording"),
        ("T-2", "Another"),
    ]


def test_existing_companies_and_contacts_are_matched_not_changed(workspace):
    acme = CompanyFactory(workspace=workspace, name="Acme Inc", domain="acme.com", segment="smb", arr=10)
    ann = ContactFactory(workspace=workspace, email="Ann@Acme.com", company=None)

    report = _import(
        workspace,
        "text,email,company,domain,segment,arr\n"
        "One,ann@acme.com,ACME,https://www.ACME.com/pricing,enterprise,999\n"
        "Two,zed@acme.com,,,,\n",
    )

    assert (report.created, report.companies_created, report.contacts_created) == (2, 0, 1)
    acme.refresh_from_db()
    assert (acme.name, acme.segment, acme.arr) == ("Acme Inc", "smb", Decimal("10"))
    one, two = FeedbackItem.objects.get(text="One"), FeedbackItem.objects.get(text="Two")
    assert (one.contact, one.company) == (ann, acme)
    # A new contact without a company column joins the company of its e-mail's domain.
    assert (two.contact.email, two.contact.company, two.company) == ("zed@acme.com", acme, acme)


def test_a_new_contact_joins_the_rows_company_and_companies_match_by_name_without_domain(workspace):
    initech = CompanyFactory(workspace=workspace, name="Initech", domain="")

    report = _import(
        workspace,
        "text,email,company,domain\nOne,pat@gmail.com,Globex,globex.com\nTwo,,initech,\nThree,,Hooli,\n",
    )

    assert (report.created, report.companies_created, report.contacts_created) == (3, 2, 1)
    globex = Company.objects.get(domain="globex.com")
    assert Contact.objects.get(email="pat@gmail.com").company == globex
    assert FeedbackItem.objects.get(text="Two").company == initech
    assert FeedbackItem.objects.get(text="Three").company.name == "Hooli"


def test_custom_mapping_overrides_and_ignores_columns(workspace):
    report = _import(
        workspace,
        "Customer said;Who;Email;Kind\nDark mode please;dan@example.com;ignored@example.com;Problem\n",
        mapping={"customer said": "text", "WHO": "contact_email", "Email": ""},
    )

    assert (report.created, report.ignored_columns) == (1, ["Email"])
    item = FeedbackItem.objects.get()
    assert (item.text, item.contact.email, item.kind) == ("Dark mode please", "dan@example.com", "problem")


def test_utf8_with_bom_and_crlf_line_ends_is_read(workspace):
    report = _import(workspace, "\ufefftext,email\r\nCafé feature,a@example.com\r\n".encode())

    assert report.created == 1
    assert FeedbackItem.objects.get().text == "Café feature"


@pytest.mark.parametrize(
    ("content", "mapping", "attr", "code"),
    [
        ("text\nCafé".encode("latin-1"), None, "file", "encoding"),
        ("text\nCafé\n".encode("utf-16-le"), None, "file", "encoding"),
        ("", None, "file", "empty"),
        ("\n\n", None, "file", "empty"),
        ("text,email\n", None, "file", "empty"),
        ("email,name\na@example.com,Ann\n", None, "file", "missing_column"),
        ("body\nx\n", {"body": "feedback_text"}, "mapping", "unknown_field"),
        ("body\nx\n", {"comment": "text"}, "mapping", "unknown_column"),
        ("a,b\nx,y\n", {"a": "text", "b": "text"}, "mapping", "duplicate_field"),
    ],
)
def test_file_level_problems_raise_and_write_nothing(workspace, content, mapping, attr, code):
    with pytest.raises(ValidationFailed) as caught:
        _import(workspace, content, mapping=mapping)

    assert (caught.value.attr, caught.value.code) == (attr, code)
    assert _counts() == (0, 0, 0)


def test_size_and_row_limits_are_file_level_errors(workspace, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_CSV_ROWS", 2)
    with pytest.raises(ValidationFailed) as too_many:
        _import(workspace, "text\nA\nB\nC\n")
    monkeypatch.setattr(csv_import, "MAX_CSV_BYTES", 10)
    with pytest.raises(ValidationFailed) as too_large:
        _import(workspace, "text\n0123456789\n")

    assert (too_many.value.code, too_large.value.code) == ("too_many_rows", "too_large")
    assert _counts() == (0, 0, 0)


def test_an_invalid_row_creates_no_company_or_contact(workspace):
    report = _import(workspace, "text,email,domain,arr\n,ann@acme.com,acme.com,100\n")

    assert [(e.line, e.field, e.code) for e in report.errors] == [(2, "text", "required")]
    assert _counts() == (0, 0, 0)


# --- the endpoint -------------------------------------------------------------------------


def test_the_route_is_the_import_view():
    assert resolve("/api/v1/workspaces/acme/feedback/import-csv/").func.view_class is FeedbackCsvImportView


def test_contributor_uploads_a_file_and_gets_the_report(workspace, member, session_client):
    user = member(workspace, Role.CONTRIBUTOR).user
    client = session_client(user)

    response = _upload(client, workspace, MIXED)

    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if k != "errors"} == {
        "created": 2,
        "duplicates": 0,
        "ignored_columns": ["Notes"],
        "companies_created": 1,
        "contacts_created": 2,
    }
    assert body["errors"] == [vars(error) for error in MIXED_ERRORS]
    audited = AuditEvent.objects.filter(target_type="feedback.feedbackitem")
    assert set(audited.values_list("actor", flat=True)) == {user.pk}
    again = _upload(client, workspace, MIXED)
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 2)
    assert FeedbackItem.objects.count() == 2


def test_map_fields_are_sent_as_repeated_form_values(workspace, owner, session_client):
    response = _upload(
        session_client(owner),
        workspace,
        "Said,Who\nPlease add SSO,ann@acme.com\n",
        map=["Said=text", "Who=contact_email"],
    )

    assert response.status_code == 200
    assert response.json()["created"] == 1
    assert FeedbackItem.objects.get().contact.email == "ann@acme.com"


def test_latin1_upload_is_a_400_and_writes_nothing(workspace, owner, session_client):
    response = _upload(
        session_client(owner), workspace, "text,email\nCafé crème,a@example.com\n".encode("latin-1")
    )

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "request_id": ANY,
        "errors": [
            {
                "code": "encoding",
                "detail": "The file is not UTF-8 (at line 2); save it as UTF-8 and retry.",
                "attr": "file",
            }
        ],
    }
    assert _counts() == (0, 0, 0)


def test_missing_file_or_text_column_are_400s(workspace, owner, session_client):
    client = session_client(owner)

    no_file = client.post(url(workspace), {}, format="multipart")
    no_text = _upload(client, workspace, "email\na@example.com\n")

    assert no_file.status_code == 400
    assert no_file.json()["errors"][0]["attr"] == "file"
    assert no_text.status_code == 400
    assert no_text.json()["errors"][0]["code"] == "missing_column"
    assert _counts() == (0, 0, 0)


def test_json_body_is_a_415(workspace, owner, session_client):
    response = session_client(owner).post(url(workspace), {"file": "text\nx\n"}, format="json")

    assert response.status_code == 415
    assert FeedbackItem.objects.count() == 0


def test_viewer_cannot_import(workspace, member, session_client):
    response = _upload(session_client(member(workspace, Role.VIEWER).user), workspace, MIXED)

    assert response.status_code == 403
    assert _counts() == (0, 0, 0)


def test_another_workspaces_import_endpoint_is_a_404(workspace, other_workspace, owner, session_client):
    response = _upload(session_client(owner), other_workspace, MIXED)

    assert response.status_code == 404
    assert _counts() == (0, 0, 0)


def test_a_read_only_token_cannot_import(workspace, owner, token_client):
    response = _upload(token_client(workspace, owner, scopes=("read",)), workspace, MIXED)

    assert response.status_code == 403
    assert _counts() == (0, 0, 0)


# --- the command --------------------------------------------------------------------------


def test_command_imports_prints_the_report_and_is_safe_to_rerun(workspace, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Said,Who,Extra\nPlease add SSO,ann@acme.com,x\n,bob@acme.com,y\n", encoding="utf-8")
    out = io.StringIO()

    call_command(
        "import_feedback_csv", str(path), workspace="acme", map=["Said=text", "Who=contact_email"], stdout=out
    )

    assert out.getvalue().splitlines() == [
        "Created 1, duplicates 0, errors 1; companies created 0, contacts created 1.",
        "Ignored columns: Extra",
        "Line 3 (text): Text is required. [required]",
    ]
    again = io.StringIO()
    call_command(
        "import_feedback_csv",
        str(path),
        "--json",
        workspace="acme",
        map=["Said=text", "Who=contact_email"],
        stdout=again,
    )
    assert json.loads(again.getvalue())["created"] == 0
    assert json.loads(again.getvalue())["duplicates"] == 1
    assert FeedbackItem.objects.count() == 1
    assert FeedbackItem.objects.get().workspace == workspace


def test_command_reports_file_level_errors(workspace, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("text\nCafé".encode("latin-1"))

    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_feedback_csv", str(path), workspace="acme", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No workspace"):
        call_command("import_feedback_csv", str(path), workspace="nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="HEADER=FIELD"):
        call_command("import_feedback_csv", str(path), workspace="acme", map=["text"], stdout=io.StringIO())
    assert _counts() == (0, 0, 0)


def test_a_row_received_before_1970_or_in_the_future_is_reported_and_not_stored(workspace):
    content = (
        "Feedback,Email,Date\n"
        "Spreadsheet epoch,ann@acme.com,1899-12-30\n"
        "From the future,ann@acme.com,2999-01-01T00:00:00Z\n"
        "Fine,ann@acme.com,2024-05-01\n"
    )

    report = _import(workspace, content)

    assert report.created == 1
    assert [(e.line, e.field, e.code) for e in report.errors] == [
        (2, "received_at", "out_of_range"),
        (3, "received_at", "out_of_range"),
    ]
    assert list(FeedbackItem.objects.values_list("text", flat=True)) == ["Fine"]
