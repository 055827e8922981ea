"""CSV import of feedback: a spreadsheet export (support tool, survey, CRM) in, feedback items out.

Contract of :func:`feedback_csv_import`:

* The file is UTF-8 (a byte-order mark is fine); comma-, semicolon- or tab-separated,
  guessed from the header line. The first non-blank line is the header.
* Columns map to fields by header name: ``mapping`` first (``{"Customer said": "text"}``;
  an empty field name ignores the column), then :data:`DEFAULT_HEADERS`, case-insensitively.
  A ``text`` column is required. Columns mapped to nothing are ignored and listed in the
  report's ``ignored_columns``.
* File-level problems (not UTF-8, empty, no text column, too large, unparseable, a bad
  mapping) raise :class:`~productops.errors.ValidationFailed` (``attr="file"`` or
  ``"mapping"``) and nothing is written.
* Row-level problems are reported per row, with the line number as in the file (the
  header is line 1; a quoted cell spanning lines counts every line), and the row is
  skipped. Every valid row is stored, all in one transaction.
* Re-running the same file creates nothing: every row has a ``source_ref`` (the mapped
  one, else a fingerprint of its normalised text, e-mail and received time) and
  ``source="csv"``, and a row whose ref is stored already is counted as a duplicate.
* Companies are matched by domain (else, with only a name, by name) and created with
  :func:`~feedback.services.company_create` when new, with the row's name, segment and
  ARR; an existing company is never modified. Contacts are matched by e-mail and created
  when new, in the row's company, or else in the company of their e-mail's domain.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower

from feedback.models import Company, Contact, FeedbackItem, Importance, Segment
from feedback.services import (
    MAX_BULK_ITEMS,
    company_create,
    feedback_item_check,
    feedback_items_ingest_bulk,
    normalize_domain,
)
from productops.errors import ValidationFailed
from productops.models import Role, User, Workspace
from productops.services import require_role

MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_CSV_ROWS = 50_000
# Rows per IN (...) lookup: well under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 1_000

FIELDS = (
    "text",
    "contact_email",
    "contact_name",
    "company_name",
    "company_domain",
    "company_segment",
    "company_arr",
    "source_ref",
    "kind",
    "importance",
    "deal_value",
    "tags",
    "received_at",
)

#: Header names recognised without a mapping (compared lower-cased, with spaces and
#: hyphens as underscores).
DEFAULT_HEADERS: dict[str, tuple[str, ...]] = {
    "text": ("text", "feedback", "feedback_text", "comment", "comments", "message", "body", "request"),
    "contact_email": ("contact_email", "email", "e_mail", "email_address", "customer_email", "user_email"),
    "contact_name": ("contact_name", "name", "contact", "full_name", "customer_name", "user_name"),
    "company_name": ("company_name", "company", "account", "account_name", "organization", "organisation"),
    "company_domain": ("company_domain", "domain", "website", "company_website"),
    "company_segment": ("company_segment", "segment", "tier"),
    "company_arr": ("company_arr", "arr", "annual_recurring_revenue"),
    "source_ref": ("source_ref", "external_id", "ref", "reference", "ticket_id"),
    "kind": ("kind", "type", "feedback_type"),
    "importance": ("importance", "priority", "severity"),
    "deal_value": ("deal_value", "deal_size", "deal_amount", "opportunity_value"),
    "tags": ("tags", "tag", "labels"),
    "received_at": ("received_at", "date", "received", "created_at", "created", "submitted_at", "timestamp"),
}
_DEFAULT_LOOKUP = {header: name for name, headers in DEFAULT_HEADERS.items() for header in headers}


@dataclass
class CsvRowError:
    line: int
    field: str | None
    code: str
    detail: str


@dataclass
class CsvImportReport:
    created: int = 0
    duplicates: int = 0
    errors: list[CsvRowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    companies_created: int = 0
    contacts_created: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Row:
    line: int
    data: dict[str, Any]  # ingest data: item fields only (contact and company come later)
    email: str = ""
    contact_name: str = ""
    company_key: tuple[str, str] | None = None  # ("domain", d) or ("name", lower-cased name)
    company_values: dict[str, Any] = field(default_factory=dict)


def feedback_csv_import(
    *,
    workspace: Workspace,
    actor: User | None,
    file: bytes | IO[bytes],
    mapping: Mapping[str, str] | None = None,
) -> CsvImportReport:
    """Import feedback from a CSV file; see the module docstring for the contract.

    Raises ValidationFailed for file-level problems (nothing is written); returns the
    report otherwise. Needs the contributor role (``actor=None`` is the system).
    """
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    text = _decode(_read(file))
    records = _records(text)
    _, header = next(records, (0, None))
    if header is None:
        raise ValidationFailed("The file is empty.", attr="file", code="empty")
    columns, ignored = _resolve_columns(header, mapping or {})
    report = CsvImportReport(ignored_columns=ignored)
    rows: list[_Row] = []
    for count, (line, cells) in enumerate(records, start=1):
        if count > MAX_CSV_ROWS:
            raise ValidationFailed(f"At most {MAX_CSV_ROWS} rows a file.", attr="file", code="too_many_rows")
        if len(cells) != len(header):
            report.errors.append(
                CsvRowError(
                    line=line,
                    field=None,
                    code="column_count",
                    detail=f"Expected {len(header)} cells, found {len(cells)}.",
                )
            )
            continue
        row, errors = _parse_row(workspace, line, {name: cells[i].strip() for i, name in columns.items()})
        if row is not None:
            rows.append(row)
        report.errors.extend(errors)
    if not rows and not report.errors:
        raise ValidationFailed("The file has a header but no rows.", attr="file", code="empty")

    rows = _drop_duplicates(workspace, rows, report)
    with transaction.atomic():
        companies = _resolve_companies(workspace, actor, rows, report)
        contacts = _resolve_contacts(workspace, rows, companies, report)
        _store(workspace, actor, rows, companies, contacts, report)
    report.errors.sort(key=lambda e: e.line)
    return report


# --- reading and parsing ---------------------------------------------------------------


def _read(file: bytes | IO[bytes]) -> bytes:
    if isinstance(file, bytes | bytearray | memoryview):
        data = bytes(file)
    else:
        # One byte past the limit tells "too large" without reading a huge upload whole.
        data = file.read(MAX_CSV_BYTES + 1)
        if isinstance(data, str):
            raise TypeError("Open the CSV file in binary mode.")
    if len(data) > MAX_CSV_BYTES:
        raise ValidationFailed(
            f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB.", attr="file", code="too_large"
        )
    return data


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationFailed(
            f"The file is not UTF-8 (at line {line}); save it as UTF-8 and retry.",
            attr="file",
            code="encoding",
        ) from None
    if "\x00" in text:
        # UTF-16 without a byte-order mark decodes as "UTF-8" full of NULs; no database stores them.
        raise ValidationFailed(
            "The file contains NUL bytes (is it UTF-16?); save it as UTF-8 and retry.",
            attr="file",
            code="encoding",
        )
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the file line each starts on (the header is usually line 1)."""
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    end_of_previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValidationFailed(
                f"Line {end_of_previous + 1} cannot be read as CSV: {exc}.", attr="file", code="malformed"
            ) from None
        start, end_of_previous = end_of_previous + 1, reader.line_num
        # Blank lines and rows of empty cells (spreadsheets leave them at the end) are skipped.
        if any(cell.strip() for cell in cells):
            yield start, cells


def _normalize_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _resolve_columns(header: list[str], mapping: Mapping[str, str]) -> tuple[dict[int, str], list[str]]:
    """``{column index: field}`` and the names of the ignored columns."""
    explicit: dict[str, str] = {}
    for column, name in mapping.items():
        target = (name or "").strip().lower()
        if target and target not in FIELDS:
            raise ValidationFailed(
                f"Column {column!r} maps to the unknown field {name!r}; one of: {', '.join(FIELDS)}.",
                attr="mapping",
                code="unknown_field",
            )
        explicit[_normalize_header(column)] = target
    keys = [_normalize_header(h) for h in header]
    absent = [column for column in mapping if _normalize_header(column) not in keys]
    if absent:
        raise ValidationFailed(
            f"The mapping names columns the file does not have: {', '.join(map(repr, absent))}.",
            attr="mapping",
            code="unknown_column",
        )
    columns: dict[int, str] = {}
    for index, key in enumerate(keys):
        if explicit.get(key):
            if explicit[key] in columns.values():
                raise ValidationFailed(
                    f"Two columns map to {explicit[key]!r}.", attr="mapping", code="duplicate_field"
                )
            columns[index] = explicit[key]
    # Recognised names fill only the fields the mapping left open; the first such column wins.
    for index, key in enumerate(keys):
        if key in explicit or index in columns:
            continue
        name = _DEFAULT_LOOKUP.get(key)
        if name and name not in columns.values():
            columns[index] = name
    if "text" not in columns.values():
        raise ValidationFailed(
            "The file has no text column: name one 'text' (or 'feedback', 'comment', ...) "
            "or map a column to text.",
            attr="file",
            code="missing_column",
        )
    ignored = [header[i] or f"(column {i + 1})" for i in range(len(header)) if i not in columns]
    return dict(sorted(columns.items())), ignored


def _choice(raw: str, choices: Any) -> str | None:
    key = re.sub(r"[\s\-/]+", "_", raw.strip().casefold())
    for value, label in choices.choices:
        if key in (value, re.sub(r"[\s\-/]+", "_", label.casefold())):
            return value
    return None


_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


def _money(raw: str) -> Decimal:
    """A non-negative amount; ``$1,200.50`` is fine, ``1,5`` (a decimal comma) is not guessed."""
    cleaned = re.sub(r"[\s$€£]", "", raw)
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Must be a number, e.g. 1200.50.") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
        raise ValueError("Must be between 0 and 10^12.")
    return value


def _datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("Must be an ISO 8601 date or time, e.g. 2024-05-01T14:30:00Z.") from None
    # The workspace has no time zone of its own: a time without one is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _fingerprint(text: str, email: str, received_at: datetime | None) -> str:
    """Stable across re-runs and re-exports: normalised text, e-mail and time in UTC."""
    parts = [
        " ".join(text.split()).casefold(),
        email,
        received_at.astimezone(UTC).isoformat() if received_at else "",
    ]
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _parse_row(
    workspace: Workspace, line: int, cells: dict[str, str]
) -> tuple[_Row | None, list[CsvRowError]]:
    """The row, or its errors (every field's): the checks ingestion applies, so a valid row is stored."""
    errors: list[CsvRowError] = []

    def fail(name: str, code: str, detail: str) -> None:
        errors.append(CsvRowError(line=line, field=name, code=code, detail=detail))

    data: dict[str, Any] = {"text": cells.get("text", ""), "source": FeedbackItem.Source.CSV}
    if not data["text"]:
        fail("text", "required", "Text is required.")
    email = cells.get("contact_email", "").lower()
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            fail("contact_email", "invalid", "Enter a valid email address.")
    for name, choices in (("kind", FeedbackItem.Kind), ("importance", Importance)):
        if cells.get(name):
            data[name] = _choice(cells[name], choices)
            if data[name] is None:
                fail(name, "invalid_choice", f"Unknown {name}; one of: {', '.join(choices.values)}.")
    for name in ("deal_value", "received_at"):
        if cells.get(name):
            try:
                data[name] = (_money if name == "deal_value" else _datetime)(cells[name])
            except ValueError as exc:
                fail(name, "invalid", str(exc))
    if cells.get("tags"):
        data["tags"] = [tag for tag in re.split(r"[;,]", cells["tags"]) if tag.strip()]
    if cells.get("source_ref"):
        data["source_ref"] = cells["source_ref"]

    company_key, company_values = None, {}
    domain = normalize_domain(cells.get("company_domain", ""))
    name = cells.get("company_name", "")
    if domain and not re.fullmatch(r"[^\s@:/.]+(?:\.[^\s@:/.]+)+", domain):
        fail("company_domain", "invalid", "Enter a domain, e.g. example.com.")
    elif len(domain) > 200:
        fail("company_domain", "max_length", "At most 200 characters.")
    if len(name) > 200:
        fail("company_name", "max_length", "At most 200 characters.")
    if domain or name:
        company_key = ("domain", domain) if domain else ("name", name.lower())
        company_values = {"name": name or domain, "domain": domain}
    if cells.get("company_segment"):
        company_values["segment"] = _choice(cells["company_segment"], Segment)
        if company_values["segment"] is None:
            fail(
                "company_segment", "invalid_choice", f"Unknown segment; one of: {', '.join(Segment.values)}."
            )
    if cells.get("company_arr"):
        try:
            company_values["arr"] = _money(cells["company_arr"])
        except ValueError as exc:
            fail("company_arr", "invalid", str(exc))
    if (company_values.keys() - {"name", "domain"}) and company_key is None:
        fail("company_domain", "required", "Give the company's domain or name with its segment or ARR.")

    if not errors:
        try:
            values = feedback_item_check(workspace=workspace, data=data)
        except ValidationFailed as exc:
            fail(exc.attr or "text", exc.code, exc.detail)
        else:
            if not values["source_ref"]:
                data["source_ref"] = _fingerprint(values["text"], email, data.get("received_at"))
    if errors:
        return None, errors
    return _Row(
        line=line,
        data=data,
        email=email,
        contact_name=cells.get("contact_name", ""),
        company_key=company_key,
        company_values=company_values,
    ), []


# --- writing ------------------------------------------------------------------------------


def _chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _drop_duplicates(workspace: Workspace, rows: list[_Row], report: CsvImportReport) -> list[_Row]:
    """Rows whose ref is stored, or repeated earlier in the file, are duplicates."""
    refs = list({row.data["source_ref"] for row in rows})
    stored: set[str] = set()
    for chunk in _chunks(refs):
        stored.update(
            FeedbackItem.objects.filter(
                workspace=workspace, source=FeedbackItem.Source.CSV, source_ref__in=chunk
            ).values_list("source_ref", flat=True)
        )
    fresh = []
    for row in rows:
        ref = row.data["source_ref"]
        if ref in stored:
            report.duplicates += 1
        else:
            stored.add(ref)
            fresh.append(row)
    return fresh


def _resolve_companies(
    workspace: Workspace, actor: User | None, rows: list[_Row], report: CsvImportReport
) -> dict[tuple[str, str], Company]:
    """The company of every row key, created when new (the first row naming it gives its values)."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row.company_key is not None:
            wanted.setdefault(row.company_key, row.company_values)
    domains = [value for kind, value in wanted if kind == "domain"]
    names = [value for kind, value in wanted if kind == "name"]
    companies: dict[tuple[str, str], Company] = {}
    for chunk in _chunks(domains):
        for company in Company.objects.annotate(key=Lower("domain")).filter(
            workspace=workspace, key__in=chunk
        ):
            companies[("domain", company.key)] = company
    for chunk in _chunks(names):
        matches = Company.objects.annotate(key=Lower("name")).filter(workspace=workspace, key__in=chunk)
        for company in matches.order_by("-id"):
            companies[("name", company.key)] = company  # the oldest of same-named companies wins
    for key, values in wanted.items():
        if key in companies:
            continue
        try:
            companies[key] = company_create(workspace=workspace, actor=actor, data=values)
        except ValidationFailed as exc:
            # Checked per row already: only a company created concurrently gets here.
            for row in rows:
                if row.company_key == key:
                    report.errors.append(
                        CsvRowError(line=row.line, field="company_domain", code=exc.code, detail=exc.detail)
                    )
            continue
        report.companies_created += 1
    # Rows of a company that could not be created are not stored.
    rows[:] = [row for row in rows if row.company_key is None or row.company_key in companies]
    return companies


def _resolve_contacts(
    workspace: Workspace,
    rows: list[_Row],
    companies: Mapping[tuple[str, str], Company],
    report: CsvImportReport,
) -> dict[str, Contact]:
    """Contacts by e-mail, found or created in bulk (in the row's company, else the e-mail domain's)."""
    wanted: dict[str, _Row] = {}
    for row in rows:
        if row.email:
            wanted.setdefault(row.email, row)
    contacts: dict[str, Contact] = {}
    for chunk in _chunks(list(wanted)):
        existing = Contact.objects.annotate(key=Lower("email")).filter(workspace=workspace, key__in=chunk)
        contacts.update({contact.key: contact for contact in existing.select_related("company")})
    missing = [email for email in wanted if email not in contacts]
    by_domain: dict[str, Company] = {}
    email_domains = list({email.rpartition("@")[2] for email in missing})
    for chunk in _chunks(email_domains):
        matches = Company.objects.annotate(key=Lower("domain")).filter(workspace=workspace, key__in=chunk)
        by_domain.update({company.key: company for company in matches})
    new = []
    for email in missing:
        row = wanted[email]
        company = companies.get(row.company_key) if row.company_key else None
        company = company or by_domain.get(email.rpartition("@")[2])
        new.append(Contact(workspace=workspace, email=email, name=row.contact_name[:200], company=company))
    # A concurrent import may create the same contact: skip it here, then read both.
    Contact.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    for chunk in _chunks(missing):
        created = Contact.objects.annotate(key=Lower("email")).filter(workspace=workspace, key__in=chunk)
        contacts.update({contact.key: contact for contact in created.select_related("company")})
    report.contacts_created += len(new)
    return contacts


def _store(
    workspace: Workspace,
    actor: User | None,
    rows: list[_Row],
    companies: Mapping[tuple[str, str], Company],
    contacts: Mapping[str, Contact],
    report: CsvImportReport,
) -> None:
    for chunk in _chunks(rows, MAX_BULK_ITEMS):
        items = [
            {
                **row.data,
                "contact": contacts.get(row.email),
                "company": companies.get(row.company_key) if row.company_key else None,
            }
            for row in chunk
        ]
        for result in feedback_items_ingest_bulk(workspace=workspace, actor=actor, items=items):
            if result.status == "created":
                report.created += 1
            elif result.status == "duplicate":
                report.duplicates += 1  # stored by a concurrent import since the check
            else:
                report.errors.extend(
                    CsvRowError(
                        line=chunk[result.index].line,
                        field=error["attr"],
                        code=str(error["code"]),
                        detail=str(error["detail"]),
                    )
                    for error in result.errors
                )
