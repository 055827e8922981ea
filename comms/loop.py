"""Close the loop: tell every customer who asked for something that it shipped (or was
declined), once, and tell their account owners who was told.

Who asked (:func:`loop_recipients`): a contact asked for a feature if they voted for it, a
feedback item of theirs is linked to it, or their item was merged into an item linked to it
(``feedback.selectors.feature_requesters``; features merged into it brought their votes and
links along). A contact who asked five times is one recipient.

What they get:

- a release ships (``release.shipped``): one notice per (contact, release) listing every
  feature of the release they asked for, with each feature's release-notes entry, and a
  link to the changelog when the release is on it (public, notes published, changelog on).
  A release that is not public is not named. Dedupe key ``loop:<contact>:<event id>``.
- a feature is shipped or declined outside a release (``feature.status_changed`` without a
  release in its context): one notice per (contact, feature, outcome) with the status
  change's ``customer_message`` (never the internal reason). Dedupe key
  ``loop:<contact>:feature:<feature id>:<outcome>``.

A feature is named to customers by its customer-facing title (``public_title``), or by its
title when it is on the public roadmap (``is_public``); a feature with neither is left out of
notices (its internal title may name a code name or another customer), as it is left out of
generated release notes, and a contact who asked only for such features gets no notice.

Consent (each contact once, in this order):

1. ``Contact.unsubscribed_at`` set → recorded ``suppressed: unsubscribed``;
2. the contact's company is ``do_not_contact`` → ``suppressed: do_not_contact``;
3. a lawful basis: the contact acted themselves — voted, or wrote feedback on the public
   board (both need an address verified there) — or a registered provider vouches for them
   (:func:`verified_contacts_register`: the board registers its verified contacts at start-up,
   since comms may not import the board) → e-mailed;
4. anyone else is known only from what the team recorded or imported (CSV, support
   tickets, webhooks, e-mail, calls): e-mailed only if ``CommsSettings.notify_imported_contacts``,
   else ``suppressed: no_consent``.

Suppressed rows are kept in the delivery log (so "was X told" has an answer) and listed to
the account owner. Each company's account owners (members of the workspace) get one summary
per (owner, event) (``loop-summary:<user id>:<event id>``) listing their contacts who were
told and those who were not, and why.

Rows are created in bulk without content and rendered once by the outbox's sender before
the first attempt (the renderers below, registered by ``CommsConfig.ready``): the number of
queries to plan a release's notices does not grow with its contacts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from comms import links
from comms.models import Audience, Cadence, CommsSettings, Stakeholder, StakeholderKind, Subscription
from comms.models import Channel as SubscriptionChannel
from comms.selectors import comms_settings
from feedback.models import Company, Contact
from feedback.selectors import contacts_engaged_directly, feature_requesters
from productops.errors import ValidationFailed
from productops.models import AuditEvent, Event, Membership, Role, User, Workspace
from productops.outbox.models import Channel, Delivery, SuppressedReason
from productops.outbox.services import Message, Suppress, inline_css
from productops.services import audit_record_many, require_role
from releases import notes as release_notes
from releases import selectors as release_selectors
from releases.models import Release, ScopeItem, ScopeOutcome, ScopeState
from roadmap.models import Feature, FeatureStatus

LOOP_KIND = "comms.loop"
SUMMARY_KIND = "comms.loop_summary"
ANNOUNCEMENT_KIND = "comms.release_announcement"
UPDATE_KIND = "comms.update"
#: The outcomes outside a release that close the loop.
OUTCOMES = (FeatureStatus.SHIPPED, FeatureStatus.DECLINED)
#: How many contacts a preview lists by name, and an account owner's summary per section.
SAMPLE_SIZE = 10
SUMMARY_LISTED = 200
#: At most this much of a feature's release note goes into a notice.
NOTE_LENGTH = 2_000
MAX_CUSTOMER_MESSAGE = 2_000

#: (workspace_id=, contact_ids=) -> the ids among them verified by an upper layer (the board).
_verified_providers: list[Callable[..., Iterable[int]]] = []


def verified_contacts_register(provider: Callable[..., Iterable[int]]) -> None:
    """An upper layer that verifies contacts' addresses (the public board's magic links)
    vouches for them: ``provider(workspace_id=, contact_ids=)`` returns the verified ones.
    Registered in ``AppConfig.ready``."""
    if provider not in _verified_providers:
        _verified_providers.append(provider)


# --- planning: who asked, and may they be e-mailed ---------------------------------------------


@dataclass(frozen=True)
class FeatureEntry:
    id: int
    title: str  # internal: for the team's summaries only
    name: str  # customer-facing ("" when it has none: left out of notices)
    note: str  # the release-notes entry (Markdown)


@dataclass
class Recipient:
    contact_id: int
    email: str
    name: str
    company_id: int | None
    company_name: str
    feature_ids: list[int]
    reason: str = ""  # "" = e-mailed; else the suppression reason


@dataclass
class LoopPlan:
    features: dict[int, FeatureEntry]
    recipients: list[Recipient]
    #: company id -> the user ids of its account owners who are members of the workspace
    owners: dict[int, list[int]] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)

    @property
    def told(self) -> list[Recipient]:
        return [r for r in self.recipients if not r.reason]

    @property
    def suppressed(self) -> list[Recipient]:
        return [r for r in self.recipients if r.reason]


def customer_name(feature: Feature) -> str:
    """What customers call a feature: its public title, or its title once it is public."""
    name = " ".join((feature.public_title or "").split())
    if not name and feature.is_public:
        name = " ".join(feature.title.split())
    return name


def _features(workspace_id: int, feature_ids: Iterable[int]) -> dict[int, FeatureEntry]:
    rows = Feature.objects.filter(workspace_id=workspace_id, pk__in=set(feature_ids)).only(
        "id", "title", "public_title", "is_public", "release_note"
    )
    return {
        f.pk: FeatureEntry(
            id=f.pk, title=f.title, name=customer_name(f), note=(f.release_note or "").strip()[:NOTE_LENGTH]
        )
        for f in rows
    }


def _verified(workspace_id: int, contact_ids: set[int]) -> set[int]:
    verified = contacts_engaged_directly(workspace_id=workspace_id, contact_ids=contact_ids)
    for provider in list(_verified_providers):
        remaining = contact_ids - verified
        if not remaining:
            break
        verified |= set(provider(workspace_id=workspace_id, contact_ids=remaining)) & remaining
    return verified


def loop_recipients(
    *, workspace: Workspace, feature_ids: Iterable[int], settings: CommsSettings | None = None
) -> LoopPlan:
    """Who asked for any of ``feature_ids`` (one :class:`Recipient` per contact, with the
    features they asked for that have a customer-facing name) and whether each may be
    e-mailed (``reason``: empty, or the suppression reason), with the account owners of
    their companies. A constant number of queries, whatever the number of contacts."""
    settings = settings or comms_settings(workspace=workspace)
    features = _features(workspace.pk, feature_ids)
    named = {pk for pk, entry in features.items() if entry.name}
    asked = feature_requesters(workspace_id=workspace.pk, feature_ids=set(features))
    asked = {contact: fids & named for contact, fids in asked.items() if fids & named}
    if not asked:
        return LoopPlan(features=features, recipients=[])
    contacts = (
        Contact.objects.filter(workspace=workspace, pk__in=list(asked))
        .select_related("company")
        .only(
            "id",
            "email",
            "name",
            "unsubscribed_at",
            "company__id",
            "company__name",
            "company__do_not_contact",
        )
        .order_by("email", "id")
    )
    contacts = list(contacts)
    verified = _verified(workspace.pk, {c.pk for c in contacts})
    recipients = []
    for contact in contacts:
        company = contact.company
        if contact.unsubscribed_at is not None:
            reason = SuppressedReason.UNSUBSCRIBED
        elif company is not None and company.do_not_contact:
            reason = SuppressedReason.DO_NOT_CONTACT
        elif contact.pk in verified or settings.notify_imported_contacts:
            reason = ""
        else:
            reason = SuppressedReason.NO_CONSENT
        recipients.append(
            Recipient(
                contact_id=contact.pk,
                email=contact.email,
                name=contact.name,
                company_id=company.pk if company else None,
                company_name=company.name if company else "",
                feature_ids=sorted(asked[contact.pk]),
                reason=str(reason),
            )
        )
    owners, users = _account_owners(workspace, {r.company_id for r in recipients if r.company_id})
    return LoopPlan(features=features, recipients=recipients, owners=owners, users=users)


def _account_owners(
    workspace: Workspace, company_ids: set[int]
) -> tuple[dict[int, list[int]], dict[int, User]]:
    """Per company, its account owners who are members of the workspace (two queries)."""
    if not company_ids:
        return {}, {}
    through = Company.account_owners.through
    pairs = list(
        through.objects.filter(company_id__in=company_ids)
        .values_list("company_id", "user_id")
        .order_by("user_id")
    )
    if not pairs:
        return {}, {}
    members = {
        m.user_id: m.user
        for m in Membership.objects.filter(
            workspace=workspace, user_id__in={user_id for _, user_id in pairs}, user__is_active=True
        ).select_related("user")
    }
    owners: dict[int, list[int]] = {}
    for company_id, user_id in pairs:
        if user_id in members and members[user_id].email:
            owners.setdefault(company_id, []).append(user_id)
    return owners, members


# --- what is said ------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def _release_context(workspace: Workspace, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The release as customers may see it: named only when public, linked only when it is on
    an enabled changelog."""
    release = payload.get("release") or {}
    release_id = release.get("id")
    ref = (
        release_selectors.shipped_release_refs(release_ids=[release_id]).get(release_id)
        if release_id
        else None
    )
    public = bool(ref and ref["is_public"])
    url = ""
    if (
        public
        and ref["public_id"] is not None
        and release_selectors.changelog_settings(workspace=workspace).enabled
    ):
        url = links.public_url(workspace, "changelog-release", public_id=ref["public_id"])
    name = _one_line(f"{release.get('name', '')} {release.get('version', '')}") if public else ""
    return {"id": release_id, "name": name, "changelog_url": url, "internal_name": release.get("name", "")}


@functools.lru_cache(maxsize=256)
def _markdown(text: str) -> str:
    """Notes rendered once per process: a release's thousands of notices share them."""
    return release_notes.render(text)


def notice_message(context: Mapping[str, Any]) -> Message:
    """A close-the-loop notice from its stored context (release or single feature)."""
    features = list(context.get("features") or [])
    release = context.get("release")
    outcome = context.get("outcome") or FeatureStatus.SHIPPED
    if release is not None:
        asked = _plural(len(features), "feature") + " you asked for"
        subject = f"{release['name']} shipped: {asked}" if release.get("name") else f"Shipped: {asked}"
    elif outcome == FeatureStatus.DECLINED:
        subject = f"An update on {features[0]['name']}" if features else "An update on your request"
    else:
        subject = f"Shipped: {features[0]['name']}" if features else "Shipped"
    rendered = [{**f, "note_html": _markdown(f.get("note") or "")} for f in features]
    values = {
        **context,
        "subject": _one_line(subject),
        "features": rendered,
        "declined": release is None and outcome == FeatureStatus.DECLINED,
        "message_html": _markdown(context.get("customer_message") or ""),
    }
    unsubscribe = context.get("unsubscribe_url") or ""
    return Message(
        subject=_one_line(subject),
        text=render_to_string("comms/loop/notice.txt", values),
        html=render_to_string("comms/loop/notice.html", values),
        headers=links.unsubscribe_headers(unsubscribe) if unsubscribe else {},
    )


def _feature_list(plan: LoopPlan, recipient: Recipient) -> list[dict[str, Any]]:
    return [
        {"id": pk, "name": plan.features[pk].name, "note": plan.features[pk].note}
        for pk in recipient.feature_ids
    ]


def _notice_context(
    workspace: Workspace,
    plan: LoopPlan,
    recipient: Recipient,
    *,
    contact: Contact | None = None,
    **extra: Any,
) -> dict[str, Any]:
    contact = contact or Contact(pk=recipient.contact_id, workspace_id=workspace.pk)
    return {
        "workspace_name": workspace.name,
        "contact_name": recipient.name,
        "features": _feature_list(plan, recipient),
        "unsubscribe_url": links.contact_unsubscribe_url(contact, workspace),
        **extra,
    }


def _person(recipient: Recipient, plan: LoopPlan) -> dict[str, Any]:
    return {
        "contact_id": recipient.contact_id,
        "name": recipient.name,
        "email": recipient.email,
        "company": recipient.company_name,
        "features": [plan.features[pk].name for pk in recipient.feature_ids],
        "reason": recipient.reason,
    }


# --- delivery rows -----------------------------------------------------------------------------


def _rows_for_plan(
    *,
    workspace: Workspace,
    event: Event | None,
    plan: LoopPlan,
    dedupe: Callable[[Recipient], str],
    extra: dict,
) -> list[dict[str, Any]]:
    rows = []
    for recipient in plan.recipients:
        row = {
            "workspace": workspace,
            "dedupe_key": dedupe(recipient),
            "kind": LOOP_KIND,
            "channel": Channel.EMAIL,
            "recipient": recipient.email,
            "recipient_ref": f"contact:{recipient.contact_id}",
            "event": event,
            "context": {"contact_id": recipient.contact_id},
            "suppressed_reason": recipient.reason,
        }
        if not recipient.reason:
            row["context"] = {
                "contact_id": recipient.contact_id,
                **_notice_context(workspace, plan, recipient, **extra),
            }
        rows.append(row)
    return rows


def _summary_rows(
    *, workspace: Workspace, event: Event, plan: LoopPlan, about: dict[str, Any]
) -> list[dict[str, Any]]:
    """One summary per (account owner, event) listing their companies' contacts."""
    by_owner: dict[int, list[Recipient]] = {}
    for recipient in plan.recipients:
        for user_id in plan.owners.get(recipient.company_id, []) if recipient.company_id else []:
            by_owner.setdefault(user_id, []).append(recipient)
    if not by_owner:
        return []
    stakeholders = owner_stakeholders(workspace=workspace, users=[plan.users[pk] for pk in by_owner])
    rows = []
    for user_id, recipients in sorted(by_owner.items()):
        user, stakeholder = plan.users[user_id], stakeholders[user_id]
        told = [_person(r, plan) for r in recipients if not r.reason]
        no_consent = [_person(r, plan) for r in recipients if r.reason == SuppressedReason.NO_CONSENT]
        opted_out = [
            _person(r, plan) for r in recipients if r.reason and r.reason != SuppressedReason.NO_CONSENT
        ]
        rows.append(
            {
                "workspace": workspace,
                "dedupe_key": f"loop-summary:{user_id}:{event.pk}",
                "kind": SUMMARY_KIND,
                "channel": Channel.EMAIL,
                "recipient": stakeholder.email,
                "recipient_ref": f"user:{user_id}",
                "event": event,
                "suppressed_reason": SuppressedReason.UNSUBSCRIBED if stakeholder.unsubscribed_at else "",
                "context": {
                    "stakeholder_id": stakeholder.pk,
                    **links.stakeholder_links(stakeholder),
                    "owner_name": user.get_full_name() or user.get_username(),
                    "workspace_name": workspace.name,
                    "about": about,
                    "counts": {"told": len(told), "no_consent": len(no_consent), "opted_out": len(opted_out)},
                    "told": told[:SUMMARY_LISTED],
                    "no_consent": no_consent[:SUMMARY_LISTED],
                    "opted_out": opted_out[:SUMMARY_LISTED],
                },
            }
        )
    return rows


def owner_stakeholders(*, workspace: Workspace, users: list[User]) -> dict[int, Stakeholder]:
    """Each account owner's stakeholder row (their preference and unsubscribe link), made
    for those who have none yet: a member stakeholder with the sales audience. Account
    owners are stakeholders of their companies (the issue's rule)."""
    by_user = {
        s.user_id: s
        for s in Stakeholder.objects.filter(workspace=workspace, kind=StakeholderKind.MEMBER, user__in=users)
    }
    missing = [u for u in users if u.pk not in by_user]
    if missing:
        by_email = {
            s.email.lower(): s
            for s in Stakeholder.objects.filter(workspace=workspace).filter(
                Q(*[Q(email__iexact=u.email) for u in missing], _connector=Q.OR)
            )
        }
        now = timezone.now()
        new = []
        for user in missing:
            existing = by_email.get(user.email.lower())
            if existing is not None:
                by_user[user.pk] = existing
                continue
            new.append(
                Stakeholder(
                    workspace=workspace,
                    kind=StakeholderKind.MEMBER,
                    user=user,
                    email=user.email.lower(),
                    name=user.get_full_name() or user.get_username(),
                    audience=Audience.SALES,
                    confirmed_at=now,
                )
            )
        if new:
            Stakeholder.objects.bulk_create(new, ignore_conflicts=True)
            made = list(
                Stakeholder.objects.filter(
                    workspace=workspace, kind=StakeholderKind.MEMBER, user__in=[s.user for s in new]
                )
            )
            audit_record_many(
                workspace=workspace,
                actor=None,
                action=AuditEvent.Action.CREATED,
                targets=made,
                changes={"kind": StakeholderKind.MEMBER, "audience": Audience.SALES, "via": "account owner"},
            )
            by_user.update({s.user_id: s for s in made})
    return by_user


def release_loop_rows(*, workspace: Workspace, event: Event, settings: CommsSettings) -> list[dict[str, Any]]:
    """The close-the-loop rows of a ``release.shipped`` event: the notices and the account
    owners' summaries."""
    payload = event.payload or {}
    feature_ids = [f["id"] for f in payload.get("features") or [] if isinstance(f, dict) and "id" in f]
    plan = loop_recipients(workspace=workspace, feature_ids=feature_ids, settings=settings)
    if not plan.recipients:
        return []
    release = _release_context(workspace, payload)
    extra = {"release": {"name": release["name"], "changelog_url": release["changelog_url"]}}
    rows = _rows_for_plan(
        workspace=workspace,
        event=event,
        plan=plan,
        dedupe=lambda r: f"loop:{r.contact_id}:{event.pk}",
        extra=extra,
    )
    about = {
        "kind": "release",
        "title": _one_line(f"{release['internal_name']} {(payload.get('release') or {}).get('version', '')}"),
        "features": [plan.features[pk].title for pk in sorted(plan.features)],
    }
    return rows + _summary_rows(workspace=workspace, event=event, plan=plan, about=about)


def feature_loop_rows(*, workspace: Workspace, event: Event, settings: CommsSettings) -> list[dict[str, Any]]:
    """The close-the-loop rows of a feature shipped or declined outside a release."""
    payload = event.payload or {}
    outcome = payload.get("to")
    feature_id = (payload.get("feature") or {}).get("id")
    if outcome not in OUTCOMES or payload.get("release") or not feature_id:
        return []
    merged = Feature.objects.filter(pk=feature_id, merged_into__isnull=False).exists()
    if merged:  # declined by a merge: its demand moved to the survivor, which is not done yet
        return []
    plan = loop_recipients(workspace=workspace, feature_ids=[feature_id], settings=settings)
    if not plan.recipients:
        return []
    extra = {"outcome": outcome, "customer_message": (payload.get("customer_message") or "").strip()}
    rows = _rows_for_plan(
        workspace=workspace,
        event=event,
        plan=plan,
        dedupe=lambda r: f"loop:{r.contact_id}:feature:{feature_id}:{outcome}",
        extra=extra,
    )
    about = {"kind": "feature", "title": plan.features[feature_id].title, "outcome": outcome, "features": []}
    return rows + _summary_rows(workspace=workspace, event=event, plan=plan, about=about)


def announcement_rows(*, workspace: Workspace, event: Event) -> list[dict[str, Any]]:
    """A ``release.shipped`` event's announcement to confirmed changelog subscribers (external
    customer stakeholders following the workspace or the release's product), only for a
    release on an enabled changelog. ``announce:<stakeholder>:<event id>``."""
    payload = event.payload or {}
    release = payload.get("release") or {}
    release_id = release.get("id")
    ref = (
        release_selectors.shipped_release_refs(release_ids=[release_id]).get(release_id)
        if release_id
        else None
    )
    if not ref or ref["public_id"] is None:
        return []
    if not release_selectors.changelog_settings(workspace=workspace).enabled:
        return []
    product_id = (release.get("product") or {}).get("id")
    follows = Q(target_workspace_id=workspace.pk)
    if product_id:
        follows |= Q(product_id=product_id)
    stakeholder_ids = set(
        Subscription.objects.filter(follows, workspace=workspace, is_active=True).values_list(
            "stakeholder_id", flat=True
        )
    )
    subscribers = Stakeholder.objects.filter(
        workspace=workspace,
        pk__in=stakeholder_ids,
        kind=StakeholderKind.EXTERNAL,
        audience=Audience.CUSTOMER,
        confirmed_at__isnull=False,
        unsubscribed_at__isnull=True,
    ).order_by("id")
    url = links.public_url(workspace, "changelog-release", public_id=ref["public_id"])
    base = {"workspace_name": workspace.name, "release_id": release_id, "changelog_url": url}
    return [
        {
            "workspace": workspace,
            "dedupe_key": f"announce:{stakeholder.pk}:{event.pk}",
            "kind": ANNOUNCEMENT_KIND,
            "channel": Channel.EMAIL,
            "recipient": stakeholder.email,
            "recipient_ref": f"stakeholder:{stakeholder.pk}",
            "event": event,
            "context": {**base, "stakeholder_id": stakeholder.pk, **links.stakeholder_links(stakeholder)},
        }
        for stakeholder in subscribers
    ]


def update_rows(*, workspace: Workspace, event: Event) -> list[dict[str, Any]]:
    """Short immediate notices to internal stakeholders whose subscription's cadence is
    ``immediate`` and who follow what changed: for a feature's status change (not made by a
    release), the feature, its product, initiative or goals, or the workspace; for a shipped
    release, the release, its product, any feature it shipped, or the workspace. One per
    (stakeholder, channel), keyed by their most specific subscription:
    ``update:<subscription>:<event id>``."""
    payload = event.payload or {}
    if event.kind == Event.Kind.FEATURE_STATUS_CHANGED:
        if payload.get("release"):
            return []  # the release.shipped event tells them once
        feature_id = (payload.get("feature") or {}).get("id")
        feature = Feature.objects.filter(workspace=workspace, pk=feature_id).first()
        if feature is None:
            return []
        follows = (
            Q(feature_id=feature.pk)
            | Q(product_id=feature.product_id)
            | Q(goal__in=feature.goals.values("pk"))
            | Q(target_workspace_id=workspace.pk)
        )
        if feature.initiative_id:
            follows |= Q(initiative_id=feature.initiative_id)
        about = {
            "kind": "feature",
            "title": feature.title,
            "from": FeatureStatus(payload["from"]).label if payload.get("from") else "",
            "to": FeatureStatus(payload["to"]).label if payload.get("to") else "",
        }
    elif event.kind == Event.Kind.RELEASE_SHIPPED:
        release = payload.get("release") or {}
        feature_ids = [f["id"] for f in payload.get("features") or [] if isinstance(f, dict)]
        follows = (
            Q(release_id=release.get("id"))
            | Q(target_workspace_id=workspace.pk)
            | Q(feature_id__in=feature_ids)
        )
        if (release.get("product") or {}).get("id"):
            follows |= Q(product_id=release["product"]["id"])
        about = {
            "kind": "release",
            "title": _one_line(f"{release.get('name', '')} {release.get('version', '')}"),
            "features": [f.get("title", "") for f in payload.get("features") or [] if isinstance(f, dict)],
        }
    else:
        return []
    subscriptions = (
        Subscription.objects.filter(follows, workspace=workspace, is_active=True, cadence=Cadence.IMMEDIATE)
        .exclude(stakeholder__audience=Audience.CUSTOMER)
        .filter(stakeholder__unsubscribed_at__isnull=True, stakeholder__confirmed_at__isnull=False)
        .select_related("stakeholder")
        .distinct()
    )
    chosen: dict[tuple[int, str], Subscription] = {}
    for subscription in sorted(subscriptions, key=_specificity):
        chosen.setdefault((subscription.stakeholder_id, subscription.channel), subscription)
    rows = []
    for subscription in chosen.values():
        stakeholder = subscription.stakeholder
        slack = subscription.channel == SubscriptionChannel.SLACK
        rows.append(
            {
                "workspace": workspace,
                "dedupe_key": f"update:{subscription.pk}:{event.pk}",
                "kind": UPDATE_KIND,
                "channel": Channel.SLACK if slack else Channel.EMAIL,
                "recipient": subscription.slack_url if slack else stakeholder.email,
                "recipient_ref": f"stakeholder:{stakeholder.pk}",
                "event": event,
                "context": {
                    "stakeholder_id": stakeholder.pk,
                    "workspace_name": workspace.name,
                    "about": about,
                    **links.stakeholder_links(stakeholder),
                },
            }
        )
    return rows


def _specificity(subscription: Subscription) -> tuple[int, int]:
    order = ("feature", "release", "initiative", "goal", "product", "target_workspace")
    for rank, name in enumerate(order):
        if getattr(subscription, f"{name}_id") is not None:
            return rank, subscription.pk
    return len(order), subscription.pk


# --- rendering (the outbox's sender, once, before the first attempt) --------------------------


def _contact_still_reachable(delivery: Delivery) -> None:
    """Consent again at send time: the contact may have unsubscribed, or their company turned
    do-not-contact, since the row was made (one small query)."""
    found = list(
        Contact.objects.filter(
            workspace_id=delivery.workspace_id, pk=(delivery.context or {}).get("contact_id")
        )
        .order_by()
        .values_list("unsubscribed_at", "company__do_not_contact")[:1]
    )
    if not found:
        raise Suppress(SuppressedReason.OBSOLETE)
    unsubscribed_at, do_not_contact = found[0]
    if unsubscribed_at is not None:
        raise Suppress(SuppressedReason.UNSUBSCRIBED)
    if do_not_contact:
        raise Suppress(SuppressedReason.DO_NOT_CONTACT)


def _stakeholder_still_subscribed(delivery: Delivery) -> Stakeholder:
    stakeholder = Stakeholder.objects.filter(
        workspace_id=delivery.workspace_id, pk=(delivery.context or {}).get("stakeholder_id")
    ).first()
    if stakeholder is None:
        raise Suppress(SuppressedReason.OBSOLETE)
    if stakeholder.unsubscribed_at is not None:
        raise Suppress(SuppressedReason.UNSUBSCRIBED)
    return stakeholder


def loop_render(delivery: Delivery) -> Message:
    """A notice: re-checked against the contact's consent now (they may have unsubscribed or
    their company turned do-not-contact since the row was made)."""
    _contact_still_reachable(delivery)
    return notice_message(delivery.context or {})


def summary_render(delivery: Delivery) -> Message:
    _stakeholder_still_subscribed(delivery)
    context = dict(delivery.context or {})
    about = context.get("about") or {}
    counts = context.get("counts") or {}
    if about.get("kind") == "release":
        subject = (
            f"{about.get('title', '')} shipped: {_plural(counts.get('told', 0), 'of your contacts')} told"
        )
    else:
        verb = "declined" if about.get("outcome") == FeatureStatus.DECLINED else "shipped"
        subject = (
            f"{about.get('title', '')} {verb}: {_plural(counts.get('told', 0), 'of your contacts')} told"
        )
    values = {**context, "subject": _one_line(subject)}
    return Message(
        subject=_one_line(subject),
        text=render_to_string("comms/loop/summary.txt", values),
        html=render_to_string("comms/loop/summary.html", values),
        headers=links.unsubscribe_headers(context.get("unsubscribe", ""))
        if context.get("unsubscribe")
        else {},
    )


def announcement_render(delivery: Delivery) -> Message:
    stakeholder = _stakeholder_still_subscribed(delivery)
    context = dict(delivery.context or {})
    release = (
        Release.objects.filter(workspace_id=delivery.workspace_id, pk=context.get("release_id"))
        .select_related("product")
        .first()
    )
    if release is None or not release.is_public:
        raise Suppress(SuppressedReason.OBSOLETE)
    name = _one_line(f"{release.name} {release.version}")
    values = {
        **context,
        "subject": f"New release: {name}",
        "release_name": name,
        "product_name": release.product.name,
        "summary": release.summary,
        "notes_html": release_notes.render(release.published_notes),
        "notes_text": release.published_notes,
        "stakeholder_name": stakeholder.name,
    }
    return Message(
        subject=_one_line(values["subject"]),
        text=render_to_string("comms/loop/announcement.txt", values),
        html=render_to_string("comms/loop/announcement.html", values),
        headers=links.unsubscribe_headers(context["unsubscribe"]) if context.get("unsubscribe") else {},
    )


def _slack_escape(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def update_render(delivery: Delivery) -> Message:
    _stakeholder_still_subscribed(delivery)
    context = dict(delivery.context or {})
    about = context.get("about") or {}
    if about.get("kind") == "release":
        subject = f"Shipped: {about.get('title', '')}"
        line = f"{about.get('title', '')} shipped: " + ", ".join(about.get("features") or []) or "no features"
    else:
        subject = f"{about.get('title', '')}: {about.get('to', '')}"
        line = (
            f"{about.get('title', '')} moved from {about.get('from') or 'nothing'} to {about.get('to', '')}."
        )
    subject = _one_line(subject)
    if delivery.channel == Channel.SLACK:
        text = _slack_escape(_one_line(line))
        return Message(
            payload={
                "text": text,
                "blocks": [
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": f"*{_slack_escape(subject)}*\n{text}"},
                    },
                    {
                        "type": "context",
                        "elements": [
                            {"type": "mrkdwn", "text": _slack_escape(context.get("workspace_name", ""))}
                        ],
                    },
                ],
            }
        )
    values = {**context, "subject": subject, "line": _one_line(line)}
    return Message(
        subject=subject,
        text=render_to_string("comms/loop/update.txt", values),
        html=render_to_string("comms/loop/update.html", values),
        headers=links.unsubscribe_headers(context["unsubscribe"]) if context.get("unsubscribe") else {},
    )


#: kind -> renderer, registered with the outbox by ``CommsConfig.ready``.
RENDERERS: dict[str, Callable[[Delivery], Message]] = {
    LOOP_KIND: loop_render,
    SUMMARY_KIND: summary_render,
    ANNOUNCEMENT_KIND: announcement_render,
    UPDATE_KIND: update_render,
}


# --- previews (the ship confirmation; nothing is written) -------------------------------------


def _preview(workspace: Workspace, plan: LoopPlan) -> dict[str, Any]:
    told, suppressed = plan.told, plan.suppressed
    counts = {
        str(reason): 0
        for reason in (
            SuppressedReason.NO_CONSENT,
            SuppressedReason.UNSUBSCRIBED,
            SuppressedReason.DO_NOT_CONTACT,
        )
    }
    for recipient in suppressed:
        counts[recipient.reason] = counts.get(recipient.reason, 0) + 1
    owners = {
        user_id for r in plan.recipients if r.company_id for user_id in plan.owners.get(r.company_id, [])
    }
    return {
        "features": [
            {"id": entry.id, "title": entry.title, "customer_title": entry.name or None}
            for entry in sorted(plan.features.values(), key=lambda e: e.id)
        ],
        "contacts": len(told),
        "companies": len({r.company_id for r in told if r.company_id}),
        "suppressed": counts,
        "account_owners": len(owners),
        "sample": [_person(r, plan) for r in told[:SAMPLE_SIZE]],
        "suppressed_sample": [_person(r, plan) for r in suppressed[:SAMPLE_SIZE]],
    }


def _release_feature_ids(release: Release) -> list[int]:
    """What shipping would ship (the done open scope), or what a shipped release shipped."""
    if release.status == "released":
        rows = ScopeItem.objects.filter(release=release, outcome=ScopeOutcome.SHIPPED)
    else:
        rows = ScopeItem.objects.filter(release=release, is_open=True, state=ScopeState.DONE)
    return list(rows.order_by("position", "id").values_list("feature_id", flat=True))


def loop_preview_for_release(*, release: Release, actor: User | None) -> dict[str, Any]:
    """Who shipping ``release`` tells (product manager or higher; nothing is written):
    ``contacts`` and ``companies`` to be e-mailed, ``suppressed`` counts by reason
    (no_consent, unsubscribed, do_not_contact), ``account_owners`` who get a summary, the
    ``features`` considered (``customer_title`` null: left out of notices), and a ``sample``
    of recipients (and ``suppressed_sample``) with the features each asked for."""
    workspace = release.workspace
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    plan = loop_recipients(workspace=workspace, feature_ids=_release_feature_ids(release))
    return _preview(workspace, plan)


def loop_preview_for_feature(
    *, feature: Feature, outcome: str, customer_message: str, actor: User | None
) -> dict[str, Any]:
    """Who shipping or declining ``feature`` outside a release tells, as
    :func:`loop_preview_for_release`, plus the ``notice`` they read (``subject``, ``text``,
    ``html``) with ``customer_message`` (at most 2,000 characters)."""
    workspace = feature.workspace
    require_role(workspace=workspace, user=actor, role=Role.PRODUCT_MANAGER)
    if outcome not in OUTCOMES:
        raise ValidationFailed("Choose shipped or declined.", attr="outcome", code="invalid_choice")
    customer_message = (customer_message or "").strip()
    if len(customer_message) > MAX_CUSTOMER_MESSAGE:
        raise ValidationFailed(
            f"Ensure this field has no more than {MAX_CUSTOMER_MESSAGE} characters.",
            attr="customer_message",
            code="max_length",
        )
    plan = loop_recipients(workspace=workspace, feature_ids=[feature.pk])
    preview = _preview(workspace, plan)
    entry = plan.features.get(feature.pk)
    sample = plan.told[0] if plan.told else None
    context = {
        "workspace_name": workspace.name,
        "contact_name": sample.name if sample else "",
        # A feature without a customer-facing name is left out of real notices (its preview
        # says so: ``customer_title`` null); the preview still shows the wording.
        "features": [
            {
                "id": feature.pk,
                "name": (entry.name if entry else "") or feature.title,
                "note": entry.note if entry else "",
            }
        ],
        "unsubscribe_url": links.contact_unsubscribe_url(
            Contact(pk=sample.contact_id if sample else 0, workspace_id=workspace.pk), workspace
        ),
        "outcome": outcome,
        "customer_message": customer_message,
    }
    message = notice_message(context)
    # Inlined as the stored row will be (remote stylesheets never loaded).
    html = inline_css(message.html)
    preview["notice"] = {"subject": message.subject, "text": message.text, "html": html}
    return preview
