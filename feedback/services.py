"""Writes of the feedback app. Every write that changes demand marks the affected
features dirty for the priority engine in the same transaction, and every new
item is queued for duplicate detection after the commit (its pending state is
``duplicates_checked_at IS NULL``, so a lost task only delays it).

Ingestion is idempotent on every path through ``(workspace, source, source_ref)``:
a webhook delivery id, a CSV row fingerprint, an e-mail Message-ID or an
integration's own id. The channels (CSV, e-mail, webhooks) live in
``feedback.channels`` and all come through :func:`feedback_item_ingest` or
:func:`feedback_items_ingest_bulk`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from feedback.matching import match_text
from feedback.models import (
    Company,
    Contact,
    DuplicateSuggestion,
    FeedbackItem,
    FeedbackLink,
    FeedbackSettings,
    Importance,
    Vote,
)
from productops.db import long_transaction
from productops.errors import Conflict, ValidationFailed
from productops.models import AuditEvent, Event, Role, User, Workspace
from productops.services import (
    audit_deletion,
    audit_record,
    audit_record_many,
    cascade_audited_register,
    check_member,
    constraint_errors_register,
    integrity_error,
    model_update,
    require_role,
)
from productops.services import (
    check_same_workspace as _check_same_workspace,
)
from productops.services import (
    event_record as _event_record,
)
from productops.services import (
    events_record_many as _events_record_many,
)
from productops.tasking import enqueue_on_commit
from productops.validation import check_received_at
from roadmap.models import Feature, FeatureStatus
from roadmap.services import features_mark_dirty

MAX_TEXT_LENGTH = 20_000
MAX_BULK_ITEMS = 1_000
#: Items per duplicate-check task. 250 cost 17 % less CPU an item than 100 (the index
#: refreshes, settings and queries of a batch are paid once) and still take a few tenths
#: of a second, so a warm shutdown or a redelivery redoes little; a bulk call of 1,000 is
#: four tasks, two per worker process.
DUPLICATE_TASK_CHUNK = 250
MAX_TAGS = 20
ITEM_FIELDS = [
    "text",
    "contact",
    "company",
    "source",
    "source_ref",
    "source_url",
    "kind",
    "importance",
    "deal_value",
    "tags",
    "received_at",
]
STATE_TRANSITIONS: dict[str, set[str]] = {
    FeedbackItem.State.NEW: {FeedbackItem.State.REVIEWED, FeedbackItem.State.ARCHIVED},
    FeedbackItem.State.REVIEWED: {FeedbackItem.State.NEW, FeedbackItem.State.ARCHIVED},
    # An item with links is "linked" until archived; unlinking its last link makes it "reviewed".
    FeedbackItem.State.LINKED: {FeedbackItem.State.ARCHIVED},
    FeedbackItem.State.ARCHIVED: {FeedbackItem.State.NEW, FeedbackItem.State.REVIEWED},
}


# Deleting a contact or an item takes its votes and links with it: audited, for the tombstones.
cascade_audited_register("feedback.vote", "feedback.feedbacklink")
constraint_errors_register(
    {
        "company_domain_unique": ("domain", "unique", "A company with this domain exists."),
        "company_arr_non_negative": ("arr", "out_of_range", "Must be 0 or more."),
        "contact_email_unique": ("email", "unique", "A contact with this email exists."),
        "company_crm_external_id_unique": (
            "crm_external_id",
            "unique",
            "A company with this external id exists.",
        ),
        "contact_crm_external_id_unique": (
            "crm_external_id",
            "unique",
            "A contact with this external id exists.",
        ),
    }
)


def _check_feature(workspace: Workspace, feature: Feature) -> None:
    if feature.workspace_id != workspace.pk:
        raise ValidationFailed("Not found in this workspace.", attr="feature", code="does_not_exist")
    if feature.merged_into_id is not None:
        raise Conflict(
            f"This feature was merged into #{feature.merged_into_id}; use that one.",
            code="feature_merged",
            extra={"merged_into": feature.merged_into_id},
        )
    if feature.status == FeatureStatus.DECLINED:
        raise Conflict("This feature was declined; link or vote on another one.", code="feature_declined")


def _first_error(exc: DjangoValidationError) -> ValidationFailed:
    field_name, messages = next(iter(exc.message_dict.items()))
    return ValidationFailed(messages[0], attr=None if field_name == "__all__" else field_name)


# --- companies and contacts -------------------------------------------------------

COMPANY_FIELDS = [
    "name",
    "domain",
    "segment",
    "plan",
    "arr",
    "arr_currency",
    "lifecycle_stage",
    "crm_external_id",
    "do_not_contact",
]


def normalize_domain(domain: str) -> str:
    domain = (domain or "").strip().lower()
    for prefix in ("https://", "http://"):
        domain = domain.removeprefix(prefix)
    return domain.removeprefix("www.").split("/")[0]


@transaction.atomic
def _check_currency(workspace: Workspace, currency: str) -> None:
    """ARR in another currency than the reporting one needs that currency's rate."""
    if currency != workspace.reporting_currency and currency not in (workspace.currency_rates or {}):
        raise ValidationFailed(
            f"Set a rate for {currency} in the workspace's settings first (money is added up in "
            f"{workspace.reporting_currency}).",
            attr="arr_currency",
            code="currency_rate_missing",
        )


def currencies_in_use(*, workspace: Workspace) -> set[str]:
    """The currencies the workspace's companies' ARR is in (``productops`` asks before it lets
    a rate go; registered in ``FeedbackConfig.ready``)."""
    return set(Company.objects.filter(workspace=workspace).values_list("arr_currency", flat=True).distinct())


@transaction.atomic
def company_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Company:
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    values = {k: v for k, v in data.items() if k in COMPANY_FIELDS}
    values["domain"] = normalize_domain(values.get("domain", ""))
    values["crm_external_id"] = str(values.get("crm_external_id") or "").strip()
    values.setdefault("arr_currency", workspace.reporting_currency)
    company = Company(workspace=workspace, **values)
    try:
        company.full_clean(exclude=["workspace"], validate_constraints=False)
    except DjangoValidationError as exc:
        raise _first_error(exc) from None
    _check_currency(workspace, company.arr_currency)
    if company.domain and Company.objects.filter(workspace=workspace, domain__iexact=company.domain).exists():
        raise ValidationFailed("A company with this domain exists.", attr="domain", code="unique")
    external = Company.objects.filter(workspace=workspace, crm_external_id=company.crm_external_id)
    if company.crm_external_id and external.exists():
        raise ValidationFailed(
            "A company with this external id exists.", attr="crm_external_id", code="unique"
        )
    try:
        with transaction.atomic():
            company.save()
    except IntegrityError as exc:  # created concurrently
        raise (integrity_error(exc) or ValidationFailed("This company exists.", code="unique")) from None
    audit_record(workspace=workspace, actor=actor, action=AuditEvent.Action.CREATED, target=company)
    return company


@transaction.atomic
def company_upsert_by_external_id(
    *, workspace: Workspace, actor: User | None, external_id: str, data: Mapping[str, Any]
) -> tuple[Company, bool]:
    """Create or update the company the CRM knows as ``external_id``: ``(company, created)``.

    Idempotent (the same call again changes nothing); a new company needs its ``name``.
    Two concurrent calls for one id make one company: the loser of the insert updates it."""
    external_id = _check_external_id(external_id, data)
    values = {**data, "crm_external_id": external_id}
    existing = (
        Company.objects.select_for_update().filter(workspace=workspace, crm_external_id=external_id).first()
    )
    if existing is not None:
        return company_update(company=existing, actor=actor, data=values), False
    try:
        with transaction.atomic():
            return company_create(workspace=workspace, actor=actor, data=values), True
    except ValidationFailed as exc:
        winner = Company.objects.filter(workspace=workspace, crm_external_id=external_id).first()
        if exc.attr != "crm_external_id" or winner is None:
            raise
        return company_update(company=winner, actor=actor, data=values), False


def _check_external_id(external_id: str, data: Mapping[str, Any]) -> str:
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 100:
        raise ValidationFailed("1 to 100 characters.", attr="crm_external_id", code="invalid")
    if data.get("crm_external_id") not in (None, external_id):
        raise ValidationFailed("Differs from the id in the URL.", attr="crm_external_id", code="mismatch")
    return external_id


@transaction.atomic
def company_update(*, company: Company, actor: User | None, data: Mapping[str, Any]) -> Company:
    """Update a company; a new ARR or segment re-weights every feature it asked for."""
    require_role(workspace=company.workspace, user=actor, role=Role.CONTRIBUTOR)
    values = dict(data)
    if "domain" in values:
        values["domain"] = normalize_domain(values["domain"])
    if "crm_external_id" in values:
        values["crm_external_id"] = str(values["crm_external_id"] or "").strip()
    if "arr_currency" in values:
        _check_currency(company.workspace, values["arr_currency"])
    try:
        company, changes = model_update(instance=company, fields=COMPANY_FIELDS, data=values)
    except DjangoValidationError as exc:
        raise _first_error(exc) from None
    if changes:
        audit_record(
            workspace=company.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=company,
            changes={k: [str(v[0]), str(v[1])] for k, v in changes.items()},
        )
    if {"arr", "arr_currency", "segment"} & set(changes):
        features_mark_dirty(workspace_id=company.workspace_id, feature_ids=_features_asked_by(company))
    return company


@transaction.atomic
def company_account_owners_set(*, company: Company, owners: Iterable[User], actor: User | None) -> Company:
    """The workspace members who own the account (sales, support): they are told about its
    contacts (comms' close-the-loop summaries) and see its requests in their digests.
    Product manager or higher; each owner must be a member (400 ``does_not_exist``)."""
    require_role(workspace=company.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    owners = list(dict.fromkeys(owners))
    for owner in owners:
        check_member(company.workspace, "account_owners", owner)
    before = sorted(company.account_owners.values_list("pk", flat=True))
    after = sorted(owner.pk for owner in owners)
    if before != after:
        company.account_owners.set(owners)
        audit_record(
            workspace=company.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=company,
            changes={"account_owners": [before, after]},
        )
    return company


@transaction.atomic
def company_delete(*, company: Company, actor: User | None) -> None:
    """Delete a company; its feedback and contacts stay, without a company, and re-weigh."""
    require_role(workspace=company.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    affected = list(_features_asked_by(company).values_list("pk", flat=True))
    audit_deletion(
        workspace=company.workspace,
        actor=actor,
        instance=company,
        changes={"name": company.name, "domain": company.domain},
    )
    workspace_id = company.workspace_id
    company.delete()
    features_mark_dirty(workspace_id=workspace_id, feature_ids=affected)


def _features_asked_by(company: Company):
    linked = FeedbackLink.objects.filter(
        Q(item__company=company) | Q(item__company__isnull=True, item__contact__company=company)
    ).values("feature_id")
    voted = Vote.objects.filter(contact__company=company).values("feature_id")
    return Feature.objects.filter(Q(pk__in=linked) | Q(pk__in=voted)).values("pk")


def _check_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("Enter a valid email address.", attr="email", code="invalid") from None
    return email


def company_for_email(*, workspace: Workspace, email: str) -> Company | None:
    """The workspace's company whose domain is the e-mail's, if any."""
    domain = email.rpartition("@")[2].lower()
    if not domain:
        return None
    return Company.objects.filter(workspace=workspace, domain__iexact=domain).first()


@transaction.atomic
def contact_get_or_create(
    *, workspace: Workspace, email: str, name: str = "", company: Company | None = None
) -> Contact:
    """The workspace's contact with this e-mail (case-insensitive), created if new.

    A new contact without a company joins the company whose domain matches the e-mail's.
    """
    email = _check_email(email)
    _check_same_workspace(workspace, company=company)
    contact = Contact.objects.filter(workspace=workspace, email__iexact=email).first()
    if contact is not None:
        return contact
    company = company or company_for_email(workspace=workspace, email=email)
    try:
        with transaction.atomic():
            return Contact.objects.create(
                workspace=workspace, email=email, name=(name or "").strip()[:200], company=company
            )
    except IntegrityError:
        # Created concurrently: the other one wins.
        return Contact.objects.get(workspace=workspace, email__iexact=email)


@transaction.atomic
def contact_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Contact:
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    email = _check_email(data.get("email", ""))
    if Contact.objects.filter(workspace=workspace, email__iexact=email).exists():
        raise ValidationFailed("A contact with this email exists.", attr="email", code="unique")
    external_id = str(data.get("crm_external_id") or "").strip()
    if external_id and Contact.objects.filter(workspace=workspace, crm_external_id=external_id).exists():
        raise ValidationFailed(
            "A contact with this external id exists.", attr="crm_external_id", code="unique"
        )
    contact = contact_get_or_create(
        workspace=workspace, email=email, name=data.get("name", ""), company=data.get("company")
    )
    if external_id:
        try:
            with transaction.atomic():
                Contact.objects.filter(pk=contact.pk).update(crm_external_id=external_id)
        except IntegrityError as exc:  # taken concurrently
            raise (integrity_error(exc) or ValidationFailed("This contact exists.", code="unique")) from None
        contact.crm_external_id = external_id
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=contact,
        changes={"crm_external_id": external_id} if external_id else None,
    )
    return contact


@transaction.atomic
def contact_upsert_by_external_id(
    *, workspace: Workspace, actor: User | None, external_id: str, data: Mapping[str, Any]
) -> tuple[Contact, bool]:
    """Create or update the contact the CRM knows as ``external_id``: ``(contact, created)``.
    Idempotent; a new contact needs its ``email``."""
    external_id = _check_external_id(external_id, data)
    values = {**data, "crm_external_id": external_id}
    existing = (
        Contact.objects.select_for_update().filter(workspace=workspace, crm_external_id=external_id).first()
    )
    if existing is not None:
        return contact_update(contact=existing, actor=actor, data=values), False
    try:
        with transaction.atomic():
            return contact_create(workspace=workspace, actor=actor, data=values), True
    except ValidationFailed as exc:
        winner = Contact.objects.filter(workspace=workspace, crm_external_id=external_id).first()
        if exc.attr != "crm_external_id" or winner is None:
            raise
        return contact_update(contact=winner, actor=actor, data=values), False


@transaction.atomic
def contact_update(*, contact: Contact, actor: User | None, data: Mapping[str, Any]) -> Contact:
    require_role(workspace=contact.workspace, user=actor, role=Role.CONTRIBUTOR)
    values = dict(data)
    _check_same_workspace(contact.workspace, company=values.get("company"))
    if "email" in values:
        values["email"] = _check_email(values["email"])
        if (
            Contact.objects.filter(workspace=contact.workspace, email__iexact=values["email"])
            .exclude(pk=contact.pk)
            .exists()
        ):
            raise ValidationFailed("A contact with this email exists.", attr="email", code="unique")
    try:
        if "crm_external_id" in values:
            values["crm_external_id"] = str(values["crm_external_id"] or "").strip()
        contact, changes = model_update(
            instance=contact, fields=["name", "email", "company", "crm_external_id"], data=values
        )
    except DjangoValidationError as exc:
        raise _first_error(exc) from None
    if changes:
        audit_record(
            workspace=contact.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=contact,
            changes={k: [str(v[0]), str(v[1])] for k, v in changes.items()},
        )
    if "company" in changes:
        # Votes and company-less feedback of this contact now count for another company.
        affected = list(Vote.objects.filter(contact=contact).values_list("feature_id", flat=True))
        affected += FeedbackLink.objects.filter(
            item__contact=contact, item__company__isnull=True
        ).values_list("feature_id", flat=True)
        features_mark_dirty(workspace_id=contact.workspace_id, feature_ids=affected)
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor: User | None) -> None:
    require_role(workspace=contact.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    affected = list(Vote.objects.filter(contact=contact).values_list("feature_id", flat=True))
    affected += list(FeedbackLink.objects.filter(item__contact=contact).values_list("feature_id", flat=True))
    audit_deletion(
        workspace=contact.workspace, actor=actor, instance=contact, changes={"email": contact.email}
    )
    workspace_id = contact.workspace_id
    contact.delete()
    features_mark_dirty(workspace_id=workspace_id, feature_ids=affected)


# --- feedback items: validation and ingestion -------------------------------------


# Longer is a field error, never a database error: the e-mail goes into Contact.email,
# the domain is compared with Company.domain. (A new contact's name is cut to 200.)
PERSON_FIELD_LENGTHS = {"contact_email": 254, "company_domain": 200}


def feedback_item_check(*, workspace: Workspace, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one item's input and return its column values; writes nothing.

    Raises ValidationFailed naming the field. Channels that must validate every
    row before writing any (CSV import) call this first.
    """
    unknown = set(data) - set(ITEM_FIELDS) - {"contact_email", "contact_name", "company_domain"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed("Unknown field.", attr=name, code="unknown_field")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("Text is required.", attr="text", code="required")
    text = text.strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationFailed(f"At most {MAX_TEXT_LENGTH} characters.", attr="text", code="max_length")
    values: dict[str, Any] = {"text": text}
    for attr, choices, default in (
        ("source", FeedbackItem.Source, FeedbackItem.Source.API),
        ("kind", FeedbackItem.Kind, FeedbackItem.Kind.REQUEST),
        ("importance", Importance, Importance.NICE_TO_HAVE),
    ):
        value = data.get(attr) or default
        if value not in choices.values:
            raise ValidationFailed(
                f"Unknown {attr}; one of: {', '.join(choices.values)}.", attr=attr, code="invalid_choice"
            )
        values[attr] = value
    source_ref = str(data.get("source_ref") or "").strip()
    if len(source_ref) > 200:
        raise ValidationFailed("At most 200 characters.", attr="source_ref", code="max_length")
    values["source_ref"] = source_ref
    source_url = str(data.get("source_url") or "").strip()
    if len(source_url) > 200:
        raise ValidationFailed("At most 200 characters.", attr="source_url", code="max_length")
    values["source_url"] = source_url
    deal_value = data.get("deal_value")
    if deal_value not in (None, ""):
        try:
            deal_value = Decimal(str(deal_value))
        except InvalidOperation:
            raise ValidationFailed("Must be a number.", attr="deal_value", code="invalid") from None
        if not deal_value.is_finite() or deal_value < 0 or deal_value >= Decimal("1e12"):
            raise ValidationFailed("Must be between 0 and 10^12.", attr="deal_value", code="out_of_range")
        values["deal_value"] = deal_value.quantize(Decimal("0.01"))
    tags = data.get("tags") or []
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ValidationFailed("A list of strings.", attr="tags", code="invalid")
    values["tags"] = _clean_tags(tags)
    values["received_at"] = _clean_received_at(data.get("received_at")) or timezone.now()
    # Bulk items arrive as parsed JSON: anything but a string here is a bad item, not a crash.
    for attr in ("contact_email", "contact_name", "company_domain"):
        if data.get(attr) is not None and not isinstance(data[attr], str):
            raise ValidationFailed("Must be a string.", attr=attr, code="invalid")
        if attr in PERSON_FIELD_LENGTHS and len((data.get(attr) or "").strip()) > PERSON_FIELD_LENGTHS[attr]:
            raise ValidationFailed(
                f"At most {PERSON_FIELD_LENGTHS[attr]} characters.", attr=attr, code="max_length"
            )
    contact, company = data.get("contact"), data.get("company")
    email = (data.get("contact_email") or "").strip()
    if email and contact is None:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(
                "Enter a valid email address.", attr="contact_email", code="invalid"
            ) from None
    for attr, model, obj in (("contact", Contact, contact), ("company", Company, company)):
        if obj is not None and not isinstance(obj, model):  # an id no row of the workspace has
            raise ValidationFailed("Not found in this workspace.", attr=attr, code="does_not_exist")
    _check_same_workspace(workspace, contact=contact, company=company)
    values["contact"], values["company"] = contact, company
    values["match_text"] = match_text(text)
    return values


def _clean_received_at(value: Any) -> datetime | None:
    """An aware datetime, given as one or as ISO 8601 text (bulk items arrive as JSON)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = parse_datetime(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, datetime):
        raise ValidationFailed("An ISO 8601 date and time.", attr="received_at", code="invalid")
    if timezone.is_naive(value):
        raise ValidationFailed("Give a time zone.", attr="received_at", code="naive_datetime")
    # Stored in UTC: an offset PostgreSQL refuses (beyond ±15:59) never reaches it.
    return check_received_at(value)


def _clean_tags(tags: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for raw in tags:
        tag = raw.strip()[:50]
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    if len(seen) > MAX_TAGS:
        raise ValidationFailed(f"At most {MAX_TAGS} tags.", attr="tags", code="max_length")
    return list(seen.values())


def _resolve_people(workspace: Workspace, values: dict[str, Any], data: Mapping[str, Any]) -> None:
    """Fill contact/company from ``contact_email`` / ``company_domain`` when given."""
    email = (data.get("contact_email") or "").strip()
    if email and values["contact"] is None:
        values["contact"] = contact_get_or_create(
            workspace=workspace, email=email, name=data.get("contact_name") or ""
        )
    domain = normalize_domain(data.get("company_domain") or "")
    if domain and values["company"] is None:
        values["company"] = Company.objects.filter(workspace=workspace, domain__iexact=domain).first()
        if values["company"] is None:
            raise ValidationFailed(
                "No company with this domain.", attr="company_domain", code="does_not_exist"
            )
    if values["company"] is None and values["contact"] is not None:
        values["company"] = values["contact"].company


#: How much of an item's text a ``feedback.created`` event (and so a webhook) carries.
EVENT_TEXT_LENGTH = 1_000


def feedback_created_payload(item: FeedbackItem) -> dict[str, Any]:
    """The ``feedback.created`` event of a new item (every ingestion path records one)."""
    contact, company = item.contact, item.company
    return {
        "feedback": {
            "id": item.pk,
            "text": item.text[:EVENT_TEXT_LENGTH],
            "source": item.source,
            "source_ref": item.source_ref,
            "kind": item.kind,
            "importance": item.importance,
            "tags": list(item.tags or []),
            "received_at": item.received_at.isoformat() if item.received_at else None,
            "contact": {"id": contact.pk, "name": contact.name, "email": contact.email} if contact else None,
            "company": {"id": company.pk, "name": company.name} if company else None,
        }
    }


def _existing_by_ref(workspace: Workspace, source: str, source_ref: str) -> FeedbackItem | None:
    if not source_ref:
        return None
    return FeedbackItem.objects.filter(workspace=workspace, source=source, source_ref=source_ref).first()


@transaction.atomic
def feedback_item_ingest(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> tuple[FeedbackItem, bool]:
    """Store one piece of feedback; ``(item, created)``.

    With a ``source_ref`` the call is idempotent: the same (source, source_ref)
    again returns the stored item and writes nothing.
    """
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    values = feedback_item_check(workspace=workspace, data=data)
    existing = _existing_by_ref(workspace, values["source"], values["source_ref"])
    if existing is not None:
        return existing, False
    _resolve_people(workspace, values, data)
    item = FeedbackItem(workspace=workspace, **values)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        # The same delivery, committed concurrently: that one is the item.
        existing = _existing_by_ref(workspace, values["source"], values["source_ref"])
        if existing is None:
            raise
        return existing, False
    audit_record(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=item,
        changes={"source": item.source, "source_ref": item.source_ref},
    )
    _event_record(
        workspace=workspace,
        kind=Event.Kind.FEEDBACK_CREATED,
        subject=item,
        occurred_at=item.created_at,
        payload=feedback_created_payload(item),
    )
    _queue_duplicate_check([item.pk])
    return item, True


def feedback_item_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> FeedbackItem:
    """:func:`feedback_item_ingest`, for callers that only want the item."""
    return feedback_item_ingest(workspace=workspace, actor=actor, data=data)[0]


@dataclass
class BulkItemResult:
    index: int
    status: str  # "created", "duplicate" or "invalid"
    id: int | None = None
    errors: list[dict[str, str | None]] = field(default_factory=list)


@transaction.atomic
def feedback_items_ingest_bulk(
    *, workspace: Workspace, actor: User | None, items: Sequence[Mapping[str, Any]]
) -> list[BulkItemResult]:
    """Store up to ``MAX_BULK_ITEMS`` items in a few statements; a result per item, in order.

    Invalid items are reported and skipped; items whose (source, source_ref) is
    already stored, or repeated within the call, are ``duplicate``. Contacts named
    by ``contact_email`` are found or created in bulk. Duplicate detection runs
    in the worker after the commit.
    """
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    if len(items) > MAX_BULK_ITEMS:
        raise ValidationFailed(f"At most {MAX_BULK_ITEMS} items a call.", attr="items", code="max_length")
    items = _related_rows_bulk(workspace, items)
    results = [BulkItemResult(index=i, status="invalid") for i in range(len(items))]
    cleaned: dict[int, dict[str, Any]] = {}
    for index, data in enumerate(items):
        try:
            if not isinstance(data, Mapping):
                raise ValidationFailed("Each item is an object.", attr=None, code="invalid")
            # A bad address or an overlong name is one invalid item, not a failed call.
            cleaned[index] = feedback_item_check(workspace=workspace, data=data)
        except ValidationFailed as exc:
            results[index].errors = [{"code": exc.code, "detail": exc.detail, "attr": exc.attr}]

    # Idempotency: refs stored before, and refs repeated within this call.
    refs = {(v["source"], v["source_ref"]) for v in cleaned.values() if v["source_ref"]}
    stored: dict[tuple[str, str], int] = {}
    if refs:
        rows = FeedbackItem.objects.filter(
            workspace=workspace, source_ref__in={ref for _, ref in refs}
        ).values_list("source", "source_ref", "pk")
        stored = {(source, ref): pk for source, ref, pk in rows if (source, ref) in refs}
    _check_company_domains_bulk(workspace, items, cleaned, results)
    first_of_ref: dict[tuple[str, str], int] = {}
    repeats: dict[int, int] = {}  # index of a repeated ref → index of its first occurrence
    to_create: dict[int, dict[str, Any]] = {}
    for index, values in cleaned.items():
        ref = (values["source"], values["source_ref"])
        if values["source_ref"] and ref in stored:
            results[index].status, results[index].id = "duplicate", stored[ref]
        elif values["source_ref"] and ref in first_of_ref:
            results[index].status = "duplicate"
            repeats[index] = first_of_ref[ref]
        else:
            if values["source_ref"]:
                first_of_ref[ref] = index
            to_create[index] = values

    _resolve_people_bulk(workspace, to_create, items)
    objects = [FeedbackItem(workspace=workspace, **values) for values in to_create.values()]
    try:
        with transaction.atomic():
            FeedbackItem.objects.bulk_create(objects, batch_size=500)
    except IntegrityError:
        # A concurrent call stored some of the same refs: fall back to one by one.
        return _ingest_one_by_one(workspace, actor, items, results, to_create)
    for index, item in zip(to_create, objects, strict=True):
        results[index].status, results[index].id = "created", item.pk
    for index, first in repeats.items():
        results[index].id = results[first].id
    audit_record_many(
        workspace=workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        targets=objects,
        changes={"bulk": True},
    )
    _events_record_many(
        workspace=workspace,
        kind=Event.Kind.FEEDBACK_CREATED,
        rows=[(item, feedback_created_payload(item)) for item in objects],
    )
    if objects:
        # Before the duplicate checks, so the worker analyses first (FIFO queue).
        from feedback.tasks import analyze_after_import

        enqueue_on_commit(analyze_after_import, len(objects))
    _queue_duplicate_check([item.pk for item in objects])
    return results


#: Tables a large import changes, analysed by :func:`feedback_tables_analyze`.
IMPORT_ANALYZED_TABLES = ("feedback_feedbackitem",)


def feedback_tables_analyze(*, inserted: int = 0) -> list[str]:
    """``ANALYZE`` each of :data:`IMPORT_ANALYZED_TABLES` whose rows changed enough since
    its last analysis: more than autovacuum's default threshold, 50 + 10 % of its rows,
    counting the ``inserted`` rows the caller just committed (the statistics collector may
    not have them yet). Returns the tables analysed; nothing on SQLite.

    Autovacuum may be off (it is on the benchmark machines) and is late anyway right after
    an import: the planner must not plan the next lookups on the old row counts.
    """
    if connection.vendor != "postgresql":
        return []
    with long_transaction(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE c.relname = ANY(%s) AND c.relkind = 'r'
              AND COALESCE(s.n_mod_since_analyze, 0) + %s > 50 + 0.1 * GREATEST(c.reltuples, 0)
            ORDER BY c.relname
            """,
            [list(IMPORT_ANALYZED_TABLES), inserted],
        )
        stale = [row[0] for row in cursor.fetchall()]
        for table in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return stale


def _check_company_domains_bulk(
    workspace: Workspace,
    items: Sequence[Any],
    cleaned: dict[int, dict[str, Any]],
    results: list[BulkItemResult],
) -> None:
    """Items naming a ``company_domain`` the workspace has no company for are invalid, as in
    :func:`feedback_item_ingest`; they leave ``cleaned``. One query."""
    domains = {
        index: normalize_domain(items[index].get("company_domain") or "")
        for index, values in cleaned.items()
        if values["company"] is None and items[index].get("company_domain")
    }
    if not domains:
        return
    known = set(
        Company.objects.annotate(domain_lower=Lower("domain"))
        .filter(workspace=workspace, domain_lower__in=set(domains.values()))
        .values_list("domain_lower", flat=True)
    )
    for index, domain in domains.items():
        if domain not in known:
            del cleaned[index]
            results[index].errors = [
                {"code": "does_not_exist", "detail": "No company with this domain.", "attr": "company_domain"}
            ]


def _is_id(value: Any) -> bool:
    """A JSON id a 64-bit key can hold (SQLite cannot even compare larger ones)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _related_rows_bulk(workspace: Workspace, items: Sequence[Any]) -> Sequence[Any]:
    """Items naming ``contact`` / ``company`` by id (as JSON does) get the workspace's rows,
    in two queries; an id the workspace does not have stays, and makes its item invalid."""
    wanted: dict[str, set[int]] = {"contact": set(), "company": set()}
    for data in items:
        if isinstance(data, Mapping):
            for attr, ids in wanted.items():
                if _is_id(data.get(attr)):
                    ids.add(data[attr])
    if not (wanted["contact"] or wanted["company"]):
        return items
    rows = {
        "contact": Contact.objects.filter(workspace=workspace, pk__in=wanted["contact"])
        .select_related("company")
        .in_bulk(),
        "company": Company.objects.filter(workspace=workspace, pk__in=wanted["company"]).in_bulk(),
    }
    resolved = []
    for data in items:
        if isinstance(data, Mapping) and any(_is_id(data.get(attr)) for attr in rows):
            data = {
                **data,
                **{attr: rows[attr].get(data[attr], data[attr]) for attr in rows if _is_id(data.get(attr))},
            }
        resolved.append(data)
    return resolved


def _ingest_one_by_one(
    workspace: Workspace,
    actor: User | None,
    items: Sequence[Mapping[str, Any]],
    results: list[BulkItemResult],
    to_create: Mapping[int, dict[str, Any]],
) -> list[BulkItemResult]:
    for index in to_create:
        item, created = feedback_item_ingest(workspace=workspace, actor=actor, data=items[index])
        results[index].status, results[index].id = ("created" if created else "duplicate"), item.pk
    return results


def _resolve_people_bulk(
    workspace: Workspace, to_create: Mapping[int, dict[str, Any]], items: Sequence[Mapping[str, Any]]
) -> None:
    """Contacts by e-mail and companies by domain for a batch, in a handful of queries."""
    emails: dict[str, str] = {}
    domains: set[str] = set()
    for index in to_create:
        data = items[index]
        email = (data.get("contact_email") or "").strip().lower()
        if email and to_create[index]["contact"] is None:
            emails.setdefault(email, (data.get("contact_name") or "").strip()[:200])
        domain = normalize_domain(data.get("company_domain") or "")
        if domain:
            domains.add(domain)
    for email in emails:
        _check_email(email)
    companies = {}
    wanted_domains = domains | {email.rpartition("@")[2] for email in emails}
    if wanted_domains:
        companies = {
            c.domain.lower(): c
            for c in Company.objects.annotate(domain_lower=Lower("domain")).filter(
                workspace=workspace, domain_lower__in=wanted_domains
            )
        }
    contacts = {}
    if emails:
        existing = Contact.objects.annotate(email_lower=Lower("email")).filter(
            workspace=workspace, email_lower__in=list(emails)
        )
        contacts = {c.email.lower(): c for c in existing.select_related("company")}
        missing = [
            Contact(
                workspace=workspace,
                email=email,
                name=name,
                company=companies.get(email.rpartition("@")[2]),
            )
            for email, name in emails.items()
            if email not in contacts
        ]
        if missing:
            # A concurrent request may create the same contact: skip it, then read both.
            Contact.objects.bulk_create(missing, ignore_conflicts=True)
            created = Contact.objects.annotate(email_lower=Lower("email")).filter(
                workspace=workspace, email_lower__in=[c.email for c in missing]
            )
            contacts.update({c.email.lower(): c for c in created.select_related("company")})
    for index, values in to_create.items():
        data = items[index]
        email = (data.get("contact_email") or "").strip().lower()
        if email and values["contact"] is None:
            values["contact"] = contacts[email]
        domain = normalize_domain(data.get("company_domain") or "")
        if domain and values["company"] is None:
            values["company"] = companies.get(domain)
        if values["company"] is None and values["contact"] is not None:
            values["company"] = values["contact"].company


def _queue_duplicate_check(item_ids: list[int]) -> None:
    from feedback.tasks import find_duplicates

    # Small chunks: tasks stay short, so a warm shutdown or a redelivery redoes little.
    for start in range(0, len(item_ids), DUPLICATE_TASK_CHUNK):
        enqueue_on_commit(find_duplicates, item_ids[start : start + DUPLICATE_TASK_CHUNK])


@transaction.atomic
def feedback_item_update(*, item: FeedbackItem, actor: User | None, data: Mapping[str, Any]) -> FeedbackItem:
    """Edit an item's text and classification; the triage state has its own action."""
    require_role(workspace=item.workspace, user=actor, role=Role.CONTRIBUTOR)
    if "state" in data:
        raise ValidationFailed("Change the state with the state action.", attr="state", code="read_only")
    merged = {**{f: getattr(item, f) for f in ITEM_FIELDS}, **data}
    values = feedback_item_check(workspace=item.workspace, data=merged)
    editable = ["text", "contact", "company", "kind", "importance", "deal_value", "tags", "source_url"]
    before_company = item.company_id or (item.contact.company_id if item.contact else None)
    try:
        item, changes = model_update(
            instance=item, fields=editable, data={k: values.get(k) for k in editable}
        )
    except DjangoValidationError as exc:
        raise _first_error(exc) from None
    if "text" in changes:
        item.match_text = values["match_text"]
        item.duplicates_checked_at = None
        item.save(update_fields=["match_text", "duplicates_checked_at"])
        _queue_duplicate_check([item.pk])
    if changes:
        audit_record(
            workspace=item.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=item,
            changes={k: [str(v[0]), str(v[1])] for k, v in changes.items()},
        )
    after_company = item.company_id or (item.contact.company_id if item.contact else None)
    if before_company != after_company or "received_at" in changes:
        features_mark_dirty(
            workspace_id=item.workspace_id, feature_ids=list(item.links.values_list("feature_id", flat=True))
        )
    return item


@transaction.atomic
def feedback_item_change_state(*, item: FeedbackItem, to_state: str, actor: User | None) -> FeedbackItem:
    """Triage: new → reviewed → (linked by linking) → archived, and back to reopen."""
    require_role(workspace=item.workspace, user=actor, role=Role.CONTRIBUTOR)
    if to_state not in FeedbackItem.State.values:
        raise ValidationFailed("Unknown state.", attr="state", code="invalid_choice")
    item = FeedbackItem.objects.select_for_update().get(pk=item.pk)
    if item.merged_into_id is not None:
        raise Conflict("This item was merged; triage the item it was merged into.", code="item_merged")
    if to_state == item.state:
        return item
    if to_state == FeedbackItem.State.LINKED:
        raise ValidationFailed(
            "Link the item to a feature to mark it linked.", attr="state", code="link_required"
        )
    if to_state not in STATE_TRANSITIONS[item.state]:
        raise ValidationFailed(
            f"Cannot move from {item.get_state_display()} to {FeedbackItem.State(to_state).label}.",
            attr="state",
            code="invalid_transition",
        )
    from_state = item.state
    if to_state != FeedbackItem.State.ARCHIVED and item.links.exists():
        to_state = FeedbackItem.State.LINKED  # reopening an item that has links makes it linked again
    item.state = to_state
    item.save(update_fields=["state", "updated_at"])
    audit_record(
        workspace=item.workspace,
        actor=actor,
        action=AuditEvent.Action.STATE_CHANGED,
        target=item,
        changes={"state": [from_state, to_state]},
    )
    return item


@transaction.atomic
def feedback_items_change_state(
    *, workspace: Workspace, item_ids: Iterable[int], to_state: str, actor: User | None
) -> list[FeedbackItem]:
    """The bulk triage action: every item or none (one bad item fails the call)."""
    ids = list(dict.fromkeys(item_ids))
    # The workspace joined: each item's role check reads it (one query, not one per item).
    items = {
        i.pk: i
        for i in FeedbackItem.objects.filter(workspace=workspace, pk__in=ids).select_related("workspace")
    }
    missing = [pk for pk in ids if pk not in items]
    if missing:
        raise ValidationFailed(f"Not found in this workspace: {missing}.", attr="ids", code="does_not_exist")
    return [feedback_item_change_state(item=items[pk], to_state=to_state, actor=actor) for pk in ids]


@transaction.atomic
def feedback_item_delete(*, item: FeedbackItem, actor: User | None) -> None:
    require_role(workspace=item.workspace, user=actor, role=Role.PRODUCT_MANAGER)
    affected = list(item.links.values_list("feature_id", flat=True))
    audit_deletion(workspace=item.workspace, actor=actor, instance=item, changes={"text": item.text[:200]})
    workspace_id = item.workspace_id
    item.delete()
    features_mark_dirty(workspace_id=workspace_id, feature_ids=affected)


# --- links and votes -------------------------------------------------------------


@transaction.atomic
def feedback_link_create(
    *, item: FeedbackItem, feature: Feature, importance: str = Importance.NICE_TO_HAVE, actor: User | None
) -> FeedbackLink:
    """Link feedback to a feature (idempotent: linking again updates the importance)."""
    require_role(workspace=item.workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_feature(item.workspace, feature)
    if item.merged_into_id is not None:
        raise Conflict("This item was merged; link the item it was merged into.", code="item_merged")
    if importance not in Importance.values:
        raise ValidationFailed("Unknown importance.", attr="importance", code="invalid_choice")
    link, created = FeedbackLink.objects.get_or_create(
        item=item,
        feature=feature,
        defaults={"workspace_id": item.workspace_id, "importance": importance, "created_by": actor},
    )
    if not created and link.importance != importance:
        link.importance = importance
        link.save(update_fields=["importance"])
    if item.state in (FeedbackItem.State.NEW, FeedbackItem.State.REVIEWED):
        item.state = FeedbackItem.State.LINKED
        item.save(update_fields=["state", "updated_at"])
    audit_record(
        workspace=item.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED if created else AuditEvent.Action.UPDATED,
        target=link,
        changes={"feature": feature.pk, "importance": importance},
    )
    DuplicateSuggestion.objects.filter(item=item, similar_feature=feature).update(dismissed=True)
    features_mark_dirty(workspace_id=item.workspace_id, feature_ids=[feature.pk])
    return link


@transaction.atomic
def feedback_items_link(
    *,
    workspace: Workspace,
    item_ids: list[int],
    feature: Feature,
    importance: str = Importance.NICE_TO_HAVE,
    actor: User | None,
) -> list[FeedbackLink]:
    """Link every listed item of the workspace to one feature, or none (one transaction).

    An id that is not an item of the workspace refuses the whole call."""
    items = FeedbackItem.objects.for_workspace(workspace).select_related("workspace").in_bulk(item_ids)
    missing = [pk for pk in item_ids if pk not in items]
    if missing:
        raise ValidationFailed(f"Not found in this workspace: {missing}.", attr="ids", code="does_not_exist")
    return [
        feedback_link_create(item=items[pk], feature=feature, importance=importance, actor=actor)
        for pk in dict.fromkeys(item_ids)
    ]


@transaction.atomic
def feedback_link_delete(*, link: FeedbackLink, actor: User | None) -> None:
    require_role(workspace=link.workspace, user=actor, role=Role.CONTRIBUTOR)
    item, feature_id = link.item, link.feature_id
    audit_record(
        workspace=link.workspace,
        actor=actor,
        action=AuditEvent.Action.DELETED,
        target=link,
        changes={"feature": feature_id, "item": item.pk},
    )
    link.delete()
    if item.state == FeedbackItem.State.LINKED and not item.links.exists():
        item.state = FeedbackItem.State.REVIEWED
        item.save(update_fields=["state", "updated_at"])
    features_mark_dirty(workspace_id=item.workspace_id, feature_ids=[feature_id])


@transaction.atomic
@transaction.atomic
def vote_cast(*, contact: Contact, feature: Feature, actor: User | None = None) -> tuple[Vote, bool]:
    """One vote per contact per feature; voting again returns the existing vote (created=False).

    ``actor`` is the team member recording it, or None when the customer votes (public board)."""
    if actor is not None:
        require_role(workspace=contact.workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_feature(contact.workspace, feature)
    try:
        with transaction.atomic():  # a savepoint: a concurrent duplicate leaves the outer transaction usable
            vote = Vote.objects.create(workspace_id=contact.workspace_id, contact=contact, feature=feature)
    except IntegrityError:
        return Vote.objects.get(contact=contact, feature=feature), False
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED,
        target=vote,
        changes={"feature": feature.pk, "contact": contact.pk},
    )
    features_mark_dirty(workspace_id=contact.workspace_id, feature_ids=[feature.pk])
    return vote, True


@transaction.atomic
def vote_remove(*, contact: Contact, feature: Feature, actor: User | None = None) -> bool:
    """Withdraw a vote; withdrawing one that does not exist changes nothing (False)."""
    if actor is not None:
        require_role(workspace=contact.workspace, user=actor, role=Role.CONTRIBUTOR)
    vote = Vote.objects.filter(contact=contact, feature=feature).first()
    if vote is None:
        return False
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action=AuditEvent.Action.DELETED,
        target=vote,
        changes={"feature": feature.pk, "contact": contact.pk},
    )
    vote.delete()
    features_mark_dirty(workspace_id=contact.workspace_id, feature_ids=[feature.pk])
    return True


# --- duplicates and merges ------------------------------------------------------------


def duplicates_find(*, item_id: int) -> list[DuplicateSuggestion]:
    """Look for the item's likely duplicates (open items, open features) and store them,
    by words and by meaning (``feedback.duplicate_services``); returns the item's
    suggestions that are not dismissed.

    Idempotent: suggestions already stored (or dismissed) are kept as they are.

    Safe beside concurrent checks of similar items (docs/reliability.md, "Duplicate
    detection under concurrency"): the item's lock is ``FOR NO KEY UPDATE``, which serialises
    checks of this item but not the ``FOR KEY SHARE`` that other checks' foreign keys take on
    it, and suggestions are inserted in one global order, so unique-key waits cannot cycle.
    """
    from feedback.duplicate_services import PENDING_EMBEDDED, duplicates_find_many

    # One item, answered now: the workspace's items still waiting for their checks are
    # embedded too, so they are candidates.
    duplicates_find_many(item_ids=[item_id], embed_pending=PENDING_EMBEDDED)
    return list(
        DuplicateSuggestion.objects.filter(
            Q(item_id=item_id) | Q(similar_item_id=item_id), dismissed=False
        ).order_by("id")
    )


def duplicates_pending(*, limit: int = 500) -> list[int]:
    """Items still waiting for duplicate detection, oldest first (the sweep's work list)."""
    return list(
        FeedbackItem.objects.filter(duplicates_checked_at__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def duplicate_dismiss(*, suggestion: DuplicateSuggestion, actor: User | None) -> DuplicateSuggestion:
    require_role(workspace=suggestion.workspace, user=actor, role=Role.CONTRIBUTOR)
    if not suggestion.dismissed:
        suggestion.dismissed = True
        suggestion.save(update_fields=["dismissed"])
        audit_record(
            workspace=suggestion.workspace,
            actor=actor,
            action=AuditEvent.Action.STATE_CHANGED,
            target=suggestion,
            changes={"dismissed": True},
        )
    return suggestion


IMPORTANCE_ORDER = [Importance.NICE_TO_HAVE, Importance.IMPORTANT, Importance.CRITICAL]


def _stronger(a: str, b: str) -> str:
    return max(a, b, key=IMPORTANCE_ORDER.index)


@transaction.atomic
def feedback_items_merge(*, source: FeedbackItem, target: FeedbackItem, actor: User | None) -> FeedbackItem:
    """Merge ``source`` into ``target``: they say the same thing, so ``source`` is archived,
    points at ``target`` (its URL redirects there) and its tags join the target's.

    A merge never changes who asks for a feature: ``source`` keeps its links, so its
    company (which may not be the target's) still counts, with the importance it gave;
    the target lists it under "also asked by". Two items of one company still count that
    company once (demand is per company). No score changes, so nothing is marked dirty.
    """
    require_role(workspace=target.workspace, user=actor, role=Role.CONTRIBUTOR)
    if source.workspace_id != target.workspace_id:
        raise ValidationFailed("Not found in this workspace.", attr="into", code="does_not_exist")
    if source.pk == target.pk:
        raise ValidationFailed("An item cannot be merged into itself.", attr="into", code="same_item")
    locked = {
        i.pk: i
        for i in FeedbackItem.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("id")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id is not None:
        raise Conflict(f"Already merged into #{source.merged_into_id}.", code="item_merged")
    if target.merged_into_id is not None:
        raise Conflict(f"The target was merged into #{target.merged_into_id}.", code="item_merged")
    target.tags = _clean_tags([*target.tags, *source.tags])
    target.save(update_fields=["tags", "updated_at"])
    source.merged_into = target
    source.state = FeedbackItem.State.ARCHIVED
    source.save(update_fields=["merged_into", "state", "updated_at"])
    # Items merged into the source before now point at the target: redirects never chain.
    FeedbackItem.objects.filter(merged_into=source).update(merged_into=target, updated_at=timezone.now())
    DuplicateSuggestion.objects.filter(Q(item=source) | Q(similar_item=source)).update(dismissed=True)
    for item in (source, target):
        audit_record(
            workspace=target.workspace,
            actor=actor,
            action=AuditEvent.Action.MERGED,
            target=item,
            changes={"source": source.pk, "target": target.pk},
        )
    return target


def feature_demand_move(*, source: Feature, target: Feature, actor: User | None) -> dict[str, int]:
    """Feedback's part of merging feature ``source`` into ``target``
    (``roadmap.services.feature_merge``, registered in ``FeedbackConfig.ready``): every vote
    and feedback link moves (a contact's two votes become one; an item linked to both keeps
    one link with the stronger importance), and suggestions pointing at ``source`` are
    dismissed. Runs inside the merge's transaction, which has locked both features."""
    now = timezone.now()
    # Set-based: a feature can carry thousands of votes and links.
    target_voters = Vote.objects.filter(feature=target).values("contact_id")
    moved_votes = (
        Vote.objects.filter(feature=source)
        .exclude(contact_id__in=target_voters)
        .update(feature=target, updated_at=now)
    )
    duplicate_votes = list(Vote.objects.filter(feature=source))
    audit_record_many(
        workspace=target.workspace,
        actor=actor,
        action=AuditEvent.Action.DELETED,
        targets=duplicate_votes,
        changes={"merged_into_feature": target.pk},
    )
    Vote.objects.filter(feature=source).delete()  # the contact's vote on the target stays
    target_items = FeedbackLink.objects.filter(feature=target).values("item_id")
    moved_links = (
        FeedbackLink.objects.filter(feature=source)
        .exclude(item_id__in=target_items)
        .update(feature=target, updated_at=now)
    )
    # What is left links an item to both features: its target link takes the stronger importance.
    both = FeedbackLink.objects.filter(feature=source)
    for rank, level in enumerate(IMPORTANCE_ORDER[1:], start=1):
        FeedbackLink.objects.filter(
            feature=target,
            importance__in=IMPORTANCE_ORDER[:rank],
            item_id__in=both.filter(importance=level).values("item_id"),
        ).update(importance=level, updated_at=now)
    audit_record_many(
        workspace=target.workspace,
        actor=actor,
        action=AuditEvent.Action.DELETED,
        targets=list(both),
        changes={"merged_into_feature": target.pk},
    )
    both.delete()
    DuplicateSuggestion.objects.filter(similar_feature=source).update(dismissed=True)
    return {"votes_moved": moved_votes, "links_moved": moved_links}


# --- features from feedback ------------------------------------------------------------

#: Items one "create a feature from this feedback" call may link (a page of the inbox, a theme).
MAX_FEATURE_FROM_FEEDBACK_ITEMS = 100
DEFAULT_TITLE_LENGTH = 120


def feature_title_from_feedback(item: FeedbackItem) -> str:
    """A working title from the item's text: its first non-empty line, whitespace collapsed,
    cut at a word boundary."""
    line = next((line for line in item.text.splitlines() if line.strip()), "")
    title = " ".join(line.split())
    if len(title) > DEFAULT_TITLE_LENGTH:
        title = title[: DEFAULT_TITLE_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,.;:-") + "…"
    return title or f"Feedback #{item.pk}"


@transaction.atomic
def feature_create_from_feedback(
    *,
    workspace: Workspace,
    actor: User | None,
    items: Iterable[FeedbackItem | int],
    data: Mapping[str, Any],
    importance: str | None = None,
) -> Feature:
    """Create a feature (``roadmap.services.feature_create`` with ``data``; the title defaults
    from the first item, the product is required) and link every item to it, each with
    ``importance`` or, without one, the item's own importance, so the items' companies count
    in its demand (the links mark the feature dirty for the recompute).

    ``items`` are feedback items (or their ids) of the workspace, at most
    :data:`MAX_FEATURE_FROM_FEEDBACK_ITEMS`, none merged into another (409 ``item_merged``).
    One transaction: any refusal writes nothing."""
    from roadmap.services import feature_create

    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    ids = list(dict.fromkeys(item if isinstance(item, int) else item.pk for item in items))
    if not ids:
        raise ValidationFailed("Choose at least one feedback item.", attr="items", code="required")
    if len(ids) > MAX_FEATURE_FROM_FEEDBACK_ITEMS:
        raise ValidationFailed(
            f"At most {MAX_FEATURE_FROM_FEEDBACK_ITEMS} feedback items at a time.",
            attr="items",
            code="too_many",
        )
    if importance is not None and importance not in Importance.values:
        raise ValidationFailed("Unknown importance.", attr="importance", code="invalid_choice")
    # Read again, locked: an item merged or moved since the caller loaded it is refused.
    found = FeedbackItem.objects.for_workspace(workspace).select_for_update(of=("self",))
    found = found.select_related("workspace")
    found = found.in_bulk(ids)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationFailed(
            f"Not found in this workspace: {missing}.", attr="items", code="does_not_exist"
        )
    merged = [pk for pk in ids if found[pk].merged_into_id is not None]
    if merged:
        raise Conflict(
            f"Merged into another item, link that one instead: {merged}.",
            code="item_merged",
            extra={"items": merged},
        )
    values = dict(data)
    if not values.get("product"):
        raise ValidationFailed("Choose the product.", attr="product", code="required")
    if not str(values.get("title") or "").strip():
        values["title"] = feature_title_from_feedback(found[ids[0]])
    feature = feature_create(workspace=workspace, actor=actor, data=values)
    for pk in ids:
        item = found[pk]
        feedback_link_create(
            item=item, feature=feature, importance=importance or item.importance, actor=actor
        )
    return feature


@transaction.atomic
def company_save(
    *,
    workspace: Workspace,
    company: Company | None,
    actor: User | None,
    data: Mapping[str, Any],
    owners: Iterable[User] | None = None,
) -> Company:
    """Create (``company`` None) or update a company and, when ``owners`` is given, set its
    account owners, in one transaction: a refused owner writes nothing (the portal's company
    form, whose owners field only product managers see)."""
    if company is None:
        company = company_create(workspace=workspace, actor=actor, data=data)
    else:
        company = company_update(company=company, actor=actor, data=data)
    if owners is not None:
        company = company_account_owners_set(company=company, owners=owners, actor=actor)
    return company


# --- feedback intelligence settings ---------------------------------------------------


def feedback_settings_get(*, workspace: Workspace) -> FeedbackSettings:
    """The workspace's feedback settings (the defaults, unsaved, when it has no row)."""
    return FeedbackSettings.objects.filter(workspace=workspace).first() or FeedbackSettings(
        workspace=workspace
    )


@transaction.atomic
def feedback_settings_update(
    *, workspace: Workspace, actor: User | None, semantic_suggestions: bool
) -> FeedbackSettings:
    """Turn suggestions by meaning on or off for the workspace (admins). Off, duplicates and
    features are suggested by shared words only; vectors are still kept, so turning it on
    again needs no re-embedding. Items already checked keep their suggestions."""
    require_role(workspace=workspace, user=actor, role=Role.ADMIN)
    if not isinstance(semantic_suggestions, bool):
        raise ValidationFailed("Must be true or false.", attr="semantic_suggestions", code="invalid")
    settings_row, _ = FeedbackSettings.objects.select_for_update().get_or_create(workspace=workspace)
    if settings_row.semantic_suggestions != semantic_suggestions:
        settings_row.semantic_suggestions = semantic_suggestions
        settings_row.save(update_fields=["semantic_suggestions", "updated_at"])
        audit_record(
            workspace=workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=settings_row,
            changes={"semantic_suggestions": semantic_suggestions},
        )
    return settings_row
