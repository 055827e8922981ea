"""Writes of the feedback app. Each one that changes demand marks the affected
features dirty for the priority engine in the same transaction.

This holds what the priority engine needs (companies, contacts, feedback items,
links, votes); ingestion, triage, merge and the public board build on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from feedback.models import Company, Contact, FeedbackItem, FeedbackLink, Importance, Vote
from productops.errors import Conflict, ValidationFailed
from productops.models import AuditEvent, Role, User, Workspace
from productops.services import audit_record, model_update, require_role
from roadmap.models import Feature, FeatureStatus
from roadmap.services import features_mark_dirty

MAX_TEXT_LENGTH = 20_000


def _check_feature(workspace: Workspace, feature: Feature) -> None:
    if feature.workspace_id != workspace.pk:
        raise ValidationFailed("Not found in this workspace.", attr="feature", code="does_not_exist")
    if feature.status == FeatureStatus.DECLINED:
        raise Conflict("This feature was declined; link or vote on another one.", code="feature_declined")


@transaction.atomic
def company_create(*, workspace: Workspace, actor: User | None, data: Mapping[str, Any]) -> Company:
    require_role(workspace=workspace, user=actor, role=Role.CONTRIBUTOR)
    company = Company(workspace=workspace, **data)
    company.full_clean(exclude=["workspace"], validate_constraints=False)
    try:
        with transaction.atomic():
            company.save()
    except IntegrityError:
        raise ValidationFailed("A company with this domain exists.", attr="domain", code="unique") from None
    audit_record(workspace=workspace, actor=actor, action=AuditEvent.Action.CREATED, target=company)
    return company


@transaction.atomic
def company_update(*, company: Company, actor: User | None, data: Mapping[str, Any]) -> Company:
    """Update a company; a new ARR or segment re-weights every feature it asked for."""
    require_role(workspace=company.workspace, user=actor, role=Role.CONTRIBUTOR)
    fields = [
        "name",
        "domain",
        "segment",
        "plan",
        "arr",
        "arr_currency",
        "lifecycle_stage",
        "crm_external_id",
    ]
    company, changes = model_update(instance=company, fields=fields, data=data)
    if changes:
        audit_record(
            workspace=company.workspace,
            actor=actor,
            action=AuditEvent.Action.UPDATED,
            target=company,
            changes={k: [str(v[0]), str(v[1])] for k, v in changes.items()},
        )
    if {"arr", "segment"} & set(changes):
        features_mark_dirty(workspace_id=company.workspace_id, feature_ids=_features_asked_by(company))
    return company


def _features_asked_by(company: Company):
    linked = FeedbackLink.objects.filter(
        Q(item__company=company) | Q(item__company__isnull=True, item__contact__company=company)
    ).values("feature_id")
    voted = Vote.objects.filter(contact__company=company).values("feature_id")
    return Feature.objects.filter(Q(pk__in=linked) | Q(pk__in=voted)).values("pk")


@transaction.atomic
def contact_get_or_create(
    *, workspace: Workspace, email: str, name: str = "", company: Company | None = None
) -> Contact:
    contact = Contact.objects.filter(workspace=workspace, email__iexact=email.strip()).first()
    if contact is None:
        contact = Contact.objects.create(
            workspace=workspace, email=email.strip().lower(), name=name, company=company
        )
    return contact


@transaction.atomic
def feedback_item_create(
    *, workspace: Workspace, actor: User | None, data: Mapping[str, Any]
) -> FeedbackItem:
    text = (data.get("text") or "").strip()
    if not text:
        raise ValidationFailed("Text is required.", attr="text", code="required")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValidationFailed(f"At most {MAX_TEXT_LENGTH} characters.", attr="text", code="max_length")
    values = {**data, "text": text, "received_at": data.get("received_at") or timezone.now()}
    item = FeedbackItem(workspace=workspace, **values)
    item.full_clean(exclude=["workspace"])
    item.save()
    audit_record(workspace=workspace, actor=actor, action=AuditEvent.Action.CREATED, target=item)
    return item


@transaction.atomic
def feedback_link_create(
    *, item: FeedbackItem, feature: Feature, importance: str = Importance.NICE_TO_HAVE, actor: User | None
) -> FeedbackLink:
    """Link feedback to a feature (idempotent: linking again updates the importance)."""
    require_role(workspace=item.workspace, user=actor, role=Role.CONTRIBUTOR)
    _check_feature(item.workspace, feature)
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
        item.save(update_fields=["state"])
    audit_record(
        workspace=item.workspace,
        actor=actor,
        action=AuditEvent.Action.CREATED if created else AuditEvent.Action.UPDATED,
        target=link,
        changes={"feature": feature.pk, "importance": importance},
    )
    features_mark_dirty(workspace_id=item.workspace_id, feature_ids=[feature.pk])
    return link


@transaction.atomic
def vote_cast(*, contact: Contact, feature: Feature) -> tuple[Vote, bool]:
    """One vote per contact per feature; voting again returns the existing vote (created=False)."""
    _check_feature(contact.workspace, feature)
    try:
        with transaction.atomic():
            vote = Vote.objects.create(workspace_id=contact.workspace_id, contact=contact, feature=feature)
    except IntegrityError:
        return Vote.objects.get(contact=contact, feature=feature), False
    features_mark_dirty(workspace_id=contact.workspace_id, feature_ids=[feature.pk])
    return vote, True
