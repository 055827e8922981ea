"""Demo comms: stakeholders of every audience with digest subscriptions (daily and weekly, in
several time zones), a webhook endpoint, and a history of sent digests.

- ``seed`` (after the roadmap, feedback and releases seeders): the stakeholders — the demo's
  owner (executive), Carlos (sales, account owner of three enterprise and mid-market
  customers), Vera (executive, following a goal), and external support, engineering and
  marketing people and a customer contact — each with one e-mail subscription, through the
  comms services; the webhook endpoint ``https://hooks.example.com/productops`` (left
  inactive: the host does not resolve offline, and an active endpoint would fill the log with
  failures).
- ``finish`` (after the engine wrote its eight weeks of backdated history): each new
  subscription's last three periods as sent digests (rendered with the real renderer for
  their windows, backdated, state ``sent``; an empty period is ``suppressed: empty``, as it
  would have been). Two subscriptions (the owner's weekly, Carlos's daily) are left **due**:
  their ``next_due_at`` is the current period's instant, already past, and their window
  starts a week before it, so beat's ``digests_create_due`` creates their digest at once
  and the worker sends it (``make run``: to the file back end).

Idempotent: a stakeholder is looked up by e-mail, a subscription by its stakeholder, and the
history is written only for a subscription that has none; a rerun changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from comms import digests, schedule, services
from comms.models import Audience, Cadence, Stakeholder, StakeholderKind, Subscription, WebhookEndpoint
from comms.webhooks import webhook_endpoint_create
from feedback.models import Company, Contact
from productops.demo import DemoContext
from productops.outbox.models import Channel, Delivery, DeliveryState, SuppressedReason
from productops.outbox.services import deliveries_create
from roadmap.models import Goal, Product

EXTERNAL_DOMAIN = "acme-analytics.example"
HISTORY_PERIODS = 3
WEBHOOK_URL = "https://hooks.example.com/productops"


@dataclass(frozen=True)
class DemoStakeholder:
    who: str  # a demo username, an e-mail address, or "contact:<company domain>"
    name: str
    audience: str
    follows: str  # "workspace", "product:<name>" or "goal:<title>"
    cadence: str
    time_zone: str
    hour: int
    weekday: int = 1
    due: bool = False  # left due right after seeding


STAKEHOLDERS = [
    DemoStakeholder(
        "demo", "", Audience.EXECUTIVE, "workspace", Cadence.WEEKLY, "Europe/Paris", 8, 1, due=True
    ),
    DemoStakeholder(
        "carlos", "", Audience.SALES, "workspace", Cadence.DAILY, "America/New_York", 8, due=True
    ),
    DemoStakeholder(
        "vera",
        "",
        Audience.EXECUTIVE,
        "goal:Grow enterprise ARR by 30 %",
        Cadence.WEEKLY,
        "Australia/Sydney",
        7,
        5,
    ),
    DemoStakeholder(
        f"sam.support@{EXTERNAL_DOMAIN}",
        "Sam Support",
        Audience.SUPPORT,
        "workspace",
        Cadence.WEEKLY,
        "Europe/London",
        9,
    ),
    DemoStakeholder(
        f"erin.engineering@{EXTERNAL_DOMAIN}",
        "Erin Engineering",
        Audience.ENGINEERING,
        "product:Insights",
        Cadence.DAILY,
        "Asia/Tokyo",
        10,
    ),
    DemoStakeholder(
        f"mia.marketing@{EXTERNAL_DOMAIN}",
        "Mia Marketing",
        Audience.MARKETING,
        "workspace",
        Cadence.WEEKLY,
        "America/Los_Angeles",
        9,
        4,
    ),
    DemoStakeholder(
        "contact:globex.example",
        "",
        Audience.CUSTOMER,
        "product:Insights",
        Cadence.WEEKLY,
        "Europe/Berlin",
        9,
        2,
    ),
]
#: The accounts Carlos owns (the sales digest is about them).
ACCOUNTS = {"carlos": ["globex.example", "initech.example", "hooli.example"]}


@transaction.atomic
def seed(context: DemoContext, rng: random.Random) -> None:
    workspace, pm = context.workspace, context.users["priya"]
    for username, domains in ACCOUNTS.items():
        # No service sets account owners yet (the portal issue builds the form); demo data only.
        for company in Company.objects.filter(workspace=workspace, domain__in=domains):
            company.account_owners.add(context.users[username])
    for plan in STAKEHOLDERS:
        stakeholder = _stakeholder(context, plan)
        if stakeholder is None or Subscription.objects.filter(stakeholder=stakeholder).exists():
            continue
        target = _target(context, plan.follows)
        if target is None:
            continue
        services.subscription_create(
            workspace=workspace,
            actor=pm,
            data={
                "stakeholder": stakeholder,
                **target,
                "channel": Channel.EMAIL,
                "cadence": plan.cadence,
                "time_zone": plan.time_zone,
                "local_hour": plan.hour,
                "weekday": plan.weekday,
            },
        )
    if not WebhookEndpoint.objects.filter(workspace=workspace, url=WEBHOOK_URL).exists():
        webhook_endpoint_create(
            workspace=workspace,
            actor=context.users["alice"],
            data={
                "name": "Ops automation (demo, inactive)",
                "url": WEBHOOK_URL,
                "event_types": ["release.shipped", "feature.status_changed", "priority.rank_changed"],
                "rank_top_n": 5,
                "is_active": False,
            },
        )


def _stakeholder(context: DemoContext, plan: DemoStakeholder) -> Stakeholder | None:
    workspace, pm = context.workspace, context.users["priya"]
    if plan.who.startswith("contact:"):
        contact = (
            Contact.objects.filter(workspace=workspace, company__domain=plan.who.removeprefix("contact:"))
            .order_by("email", "id")
            .first()
        )
        if contact is None:
            return None
        data = {"kind": StakeholderKind.CONTACT, "contact": contact}
        email = contact.email
    elif "@" in plan.who:
        data = {"kind": StakeholderKind.EXTERNAL, "email": plan.who, "name": plan.name}
        email = plan.who
    else:
        user = context.users[plan.who]
        data = {"kind": StakeholderKind.MEMBER, "user": user}
        email = user.email
    existing = Stakeholder.objects.filter(workspace=workspace, email__iexact=email).first()
    if existing is not None:
        return existing
    return services.stakeholder_create(
        workspace=workspace, actor=pm, data={**data, "audience": plan.audience}
    )


def _target(context: DemoContext, follows: str) -> dict | None:
    workspace = context.workspace
    kind, _, name = follows.partition(":")
    if kind == "product":
        product = Product.objects.filter(workspace=workspace, name=name).first()
        return {"product": product} if product else None
    if kind == "goal":
        goal = Goal.objects.filter(workspace=workspace, title=name).first()
        return {"goal": goal} if goal else None
    return {"target_workspace": workspace}


# --- history (after the engine's backdated history) --------------------------------------------


def finish(context: DemoContext) -> None:
    now = timezone.now()
    due = {plan.who for plan in STAKEHOLDERS if plan.due}
    for subscription in (
        digests.subscriptions_for_digests().filter(workspace=context.workspace).order_by("id")
    ):
        if Delivery.objects.filter(
            workspace=context.workspace,
            kind=digests.DIGEST_KIND,
            recipient_ref=f"stakeholder:{subscription.stakeholder_id}",
        ).exists():
            continue
        stakeholder = subscription.stakeholder
        who = stakeholder.user.username if stakeholder.user_id else stakeholder.email
        _write_history(subscription, now=now, due=who in due)


def _periods(subscription: Subscription, now: datetime) -> list[tuple[str, datetime]]:
    """(period start, send instant) of the current period and the ones before it, latest first."""
    tz = schedule.zone(subscription.time_zone)
    step = timedelta(days=1 if subscription.cadence == Cadence.DAILY else 7)
    start, _ = schedule.current_period(
        subscription.cadence,
        now,
        time_zone=subscription.time_zone,
        hour=subscription.local_hour,
        weekday=subscription.weekday,
    )
    days = [start - step * back for back in range(7 + HISTORY_PERIODS + 2)]
    return [
        (
            day.isoformat(),
            schedule.period_instant(
                subscription.cadence, day, hour=subscription.local_hour, weekday=subscription.weekday, tz=tz
            ),
        )
        for day in days
    ]


@transaction.atomic
def _write_history(subscription: Subscription, *, now: datetime, due: bool) -> None:
    """The last periods as sent digests (rendered for their windows, backdated); then the
    subscription is left up to date, or due: its current period not created yet and its
    window the week before it, right after the last digest of its history."""
    periods = _periods(subscription, now)
    current = periods[0][1]
    first = 0
    if due:
        first = next(
            i for i, (_, instant) in enumerate(periods) if instant <= current - timedelta(days=7, hours=-1)
        )
    rows, sent_at = [], {}
    for index in range(first, first + HISTORY_PERIODS):
        start, until = periods[index]
        since = periods[index + 1][1]
        message = digests.digest_message(subscription=subscription, since=since, until=until)
        key = f"digest:{subscription.pk}:{start}:{subscription.channel}"
        rows.append(
            {
                "workspace": subscription.workspace,
                "dedupe_key": key,
                "kind": digests.DIGEST_KIND,
                "channel": subscription.channel,
                "recipient": subscription.stakeholder.email,
                "recipient_ref": f"stakeholder:{subscription.stakeholder_id}",
                "context": {
                    "subscription": subscription.pk,
                    "stakeholder": subscription.stakeholder_id,
                    "since": since.isoformat(),
                    "until": until.isoformat(),
                    "period_start": start,
                    "audience": subscription.stakeholder.audience,
                },
                "message": message,
                "suppressed_reason": "" if message is not None else SuppressedReason.EMPTY,
                "now": until,
                "created_at": until,
            }
        )
        sent_at[key] = until
    deliveries_create(rows, send=False)  # history: never handed to the sender
    for key, until in sent_at.items():
        Delivery.objects.filter(
            workspace=subscription.workspace, dedupe_key=key, state=DeliveryState.PENDING
        ).update(
            state=DeliveryState.SENT, attempts=1, sent_at=until + timedelta(minutes=1), rendered_at=until
        )
    if due:
        digest_through, next_due_at = periods[first][1], current
    else:
        digest_through, next_due_at = current, services.subscription_next_due(subscription, after=now)
    Subscription.objects.filter(pk=subscription.pk).update(
        digest_through=digest_through, next_due_at=next_due_at
    )
