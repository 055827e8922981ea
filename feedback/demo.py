"""Demo feedback: customer companies with ARR and segment, their contacts,
feedback from many sources over the last four months, links to the demo
roadmap's features and votes. Some items are left in the triage inbox: a few
requests, paraphrases of linked requests (suggested as duplicates) and three
themes of the last eight weeks that no demo feature covers yet (``INBOX_REQUESTS``).

Idempotent: companies are matched by domain, contacts by email, feedback items
by their demo source reference, links and votes are idempotent services.
``--scale N`` multiplies the companies and the feedback.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from feedback import services
from feedback.models import Company, Contact, FeedbackItem, Importance, Segment
from productops.demo import DemoContext
from productops.models import User, Workspace
from roadmap.demo import FEATURES as ROADMAP_FEATURES
from roadmap.models import Feature

COMPANIES = [
    ("Globex", "globex.example", Segment.ENTERPRISE, 480_000),
    ("Initech", "initech.example", Segment.ENTERPRISE, 320_000),
    ("Umbrella Health", "umbrella.example", Segment.ENTERPRISE, 610_000),
    ("Stark Logistics", "stark.example", Segment.ENTERPRISE, 250_000),
    ("Wayne Retail", "wayne.example", Segment.ENTERPRISE, 390_000),
    ("Hooli", "hooli.example", Segment.MID_MARKET, 96_000),
    ("Pied Piper", "piedpiper.example", Segment.MID_MARKET, 54_000),
    ("Vandelay Imports", "vandelay.example", Segment.MID_MARKET, 72_000),
    ("Soylent Foods", "soylent.example", Segment.MID_MARKET, 88_000),
    ("Tyrell Systems", "tyrell.example", Segment.MID_MARKET, 120_000),
    ("Cyberdyne", "cyberdyne.example", Segment.MID_MARKET, 65_000),
    ("Oscorp", "oscorp.example", Segment.MID_MARKET, 47_000),
    ("Bluth Company", "bluth.example", Segment.SMB, 9_600),
    ("Dunder Mifflin", "dundermifflin.example", Segment.SMB, 14_400),
    ("Los Pollos", "lospollos.example", Segment.SMB, 6_000),
    ("Krusty Burgers", "krusty.example", Segment.SMB, 4_800),
    ("Prestige Worldwide", "prestige.example", Segment.SMB, 12_000),
    ("Gringotts", "gringotts.example", Segment.SMB, 18_000),
]

FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kira", "Liam"]

# (feature title or None for an untriaged item, text, kind, importance, source)
REQUESTS = [
    (
        "SAML single sign-on",
        "Our security team will not sign the renewal without SSO through Okta.",
        "request",
        Importance.CRITICAL,
        FeedbackItem.Source.SALES_CALL,
    ),
    (
        "SAML single sign-on",
        "We need SAML login with Azure AD for 400 seats.",
        "request",
        Importance.CRITICAL,
        FeedbackItem.Source.EMAIL,
    ),
    (
        "SAML single sign-on",
        "Can users sign in with our Google Workspace accounts?",
        "question",
        Importance.IMPORTANT,
        FeedbackItem.Source.INTERCOM,
    ),
    (
        "SCIM user provisioning",
        "Offboarding people by hand is a compliance risk; please support SCIM.",
        "problem",
        Importance.IMPORTANT,
        FeedbackItem.Source.SUPPORT_TICKET,
    ),
    (
        "SCIM user provisioning",
        "Automatic user provisioning from Okta would save our IT team hours.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.INTERVIEW,
    ),
    (
        "Audit log export",
        "Auditors ask for an export of who viewed which dashboard.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.EMAIL,
    ),
    (
        "Row-level permissions",
        "Regional managers must only see their own region's rows.",
        "request",
        Importance.CRITICAL,
        FeedbackItem.Source.SALES_CALL,
    ),
    (
        "Row-level permissions",
        "We duplicate dashboards per team because we cannot restrict rows.",
        "problem",
        Importance.IMPORTANT,
        FeedbackItem.Source.ZENDESK,
    ),
    (
        "Data residency in the EU",
        "Our DPO requires data stored in the EU.",
        "request",
        Importance.CRITICAL,
        FeedbackItem.Source.SALES_CALL,
    ),
    (
        "Guided first dashboard",
        "New teammates do not know where to start after signing up.",
        "problem",
        Importance.IMPORTANT,
        FeedbackItem.Source.INTERVIEW,
    ),
    (
        "Guided first dashboard",
        "A walkthrough for the first chart would really help our analysts.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
    ),
    (
        "Dashboard templates gallery",
        "Templates for SaaS metrics (MRR, churn) would save us a week.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.SLACK,
    ),
    (
        "Dashboard templates gallery",
        "Is there a template for a sales pipeline dashboard?",
        "question",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.INTERCOM,
    ),
    (
        "Sample data workspace",
        "I wanted to try charts before connecting our production database.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
    ),
    (
        "Scheduled PDF reports",
        "Our board wants a PDF of the KPI dashboard every Monday.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.EMAIL,
    ),
    (
        "Scheduled PDF reports",
        "Please let us email dashboards on a schedule.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
    ),
    (
        "Dark mode",
        "Dark mode please, our ops room runs dashboards all night.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
    ),
    (
        "Natural-language questions",
        "Could we just type a question and get a chart?",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.INTERVIEW,
    ),
    (
        "HubSpot connector",
        "We moved our CRM to HubSpot and lost all pipeline reporting.",
        "problem",
        Importance.CRITICAL,
        FeedbackItem.Source.SUPPORT_TICKET,
    ),
    (
        "HubSpot connector",
        "HubSpot deals and contacts as a data source, please.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.SLACK,
    ),
    (
        "Zendesk connector",
        "Support wants ticket volume next to product usage.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.ZENDESK,
    ),
    (
        "Incremental sync",
        "Full syncs of our 80M-row table take six hours.",
        "problem",
        Importance.CRITICAL,
        FeedbackItem.Source.SUPPORT_TICKET,
    ),
    (
        "Incremental sync",
        "Only syncing changed rows would cut our warehouse bill.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.SALES_CALL,
    ),
    (
        "Webhook triggers",
        "Trigger a refresh from our pipeline when a load finishes.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.API,
    ),
    (
        "Public REST API v2",
        "The API should let us create dashboards programmatically.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.API,
    ),
    (
        "Connector health alerts",
        "We found out a sync had been failing for a week.",
        "problem",
        Importance.IMPORTANT,
        FeedbackItem.Source.ZENDESK,
    ),
    (
        None,
        "Single sign on with Okta is a must for our rollout.",
        "request",
        Importance.CRITICAL,
        FeedbackItem.Source.EMAIL,
    ),
    (
        None,
        "Love the new chart colours, much easier to read!",
        "praise",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
    ),
    (
        None,
        "Exporting a dashboard to PDF cuts off the last column.",
        "problem",
        Importance.IMPORTANT,
        FeedbackItem.Source.SUPPORT_TICKET,
    ),
    (
        None,
        "Would be great to get a weekly email summary of dashboards.",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.SLACK,
    ),
    (
        None,
        "How do I share a dashboard with someone outside the company?",
        "question",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.INTERCOM,
    ),
]

# Untriaged feedback (feature title None) received a given number of days ago: the REQUESTS
# tuple and then the day. Dated by hand, not drawn from the seed's ``rng``, so the other
# demo data stays as it was and the weekly trend is always the same. Two groups:
# - paraphrases of requests above, from other customers in other words, so the triage
#   inbox suggests duplicates for them;
# - three themes that no demo feature covers (calendar sync, offline access in the app,
#   bulk editing and shortcuts for power users), each worded differently by each company.
#   Most items came in the last four weeks and fewer in the four before, so each theme rises.
INBOX_PARAPHRASES = [
    (
        None,
        "When someone leaves, their login here should be switched off automatically from our directory.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.EMAIL,
        12,
    ),
    (
        None,
        "Could the KPI overview land in our directors' inboxes as a PDF at the start of each week?",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.INTERCOM,
        5,
    ),
    (
        None,
        "The white screens are blinding on our night shift. Any chance of a darker theme?",
        "request",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
        20,
    ),
    (
        None,
        "Since we switched from Salesforce to HubSpot our sales charts are empty. Please connect "
        "HubSpot deals.",
        "problem",
        Importance.CRITICAL,
        FeedbackItem.Source.SALES_CALL,
        9,
    ),
    (
        None,
        "Copying the whole warehouse table every night takes hours; just fetch what changed since the "
        "last run.",
        "request",
        Importance.IMPORTANT,
        FeedbackItem.Source.SUPPORT_TICKET,
        33,
    ),
    (
        None,
        "Each country lead must only see their own country's figures in the shared dashboards.",
        "request",
        Importance.CRITICAL,
        FeedbackItem.Source.SALES_CALL,
        16,
    ),
    (
        None,
        "The rightmost column is missing when I download a dashboard as a PDF.",
        "problem",
        Importance.IMPORTANT,
        FeedbackItem.Source.ZENDESK,
        3,
    ),
    (
        None,
        "Is there a way to send a dashboard link to a client who has no account with you?",
        "question",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.INTERCOM,
        27,
    ),
    (
        None,
        "Do you have ready-made boards for subscription numbers like recurring revenue and cancellations?",
        "question",
        Importance.NICE_TO_HAVE,
        FeedbackItem.Source.PORTAL,
        41,
    ),
]

#: The three themes of the inbox (what ``seed_demo``'s themes should find), by name.
INBOX_THEMES = {
    # Calendar (iCal) sync of dates.
    "calendar": [
        (
            None,
            "Please publish an iCal feed of our scheduled report deliveries so they show up in Outlook.",
            "request",
            Importance.IMPORTANT,
            FeedbackItem.Source.EMAIL,
            2,
        ),
        (
            None,
            "Our KPI target dates live in your tool but everyone plans in Google Calendar. Can they sync?",
            "request",
            Importance.IMPORTANT,
            FeedbackItem.Source.SALES_CALL,
            6,
        ),
        (
            None,
            "Is there a calendar subscription link (.ics) for upcoming data refreshes and review deadlines?",
            "question",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.INTERCOM,
            11,
        ),
        (
            None,
            "We keep missing metric review dates because they only exist inside the app. A calendar "
            "integration would fix that.",
            "problem",
            Importance.IMPORTANT,
            FeedbackItem.Source.INTERVIEW,
            18,
        ),
        (
            None,
            "Add the deadlines of our goals to my work calendar "
            "automatically, and move them when they change.",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.PORTAL,
            24,
        ),
        (
            None,
            "Outlook/Exchange sync for the dates of scheduled exports, pls. Our ops team lives in their "
            "calendar.",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.SLACK,
            37,
        ),
        (
            None,
            "Would love to see when each dashboard email goes out as events in Google Calendar 📅",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.PORTAL,
            50,
        ),
    ],
    # Offline access in the app.
    "offline": [
        (
            None,
            "Our field auditors open dashboards on their iPads in warehouses with no signal and get a "
            "spinner. They need the last synced version offline.",
            "problem",
            Importance.CRITICAL,
            FeedbackItem.Source.SUPPORT_TICKET,
            1,
        ),
        (
            None,
            "Can the app keep a cached copy of my reports so I can read them on a flight?",
            "question",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.INTERCOM,
            4,
        ),
        (
            None,
            "Sales reps visit clinics where the Wi-Fi is blocked. Without a connection the app shows "
            "nothing at all.",
            "problem",
            Importance.IMPORTANT,
            FeedbackItem.Source.SALES_CALL,
            10,
        ),
        (
            None,
            "Offline mode, please: let us download a few dashboards before going to a site without internet.",
            "request",
            Importance.IMPORTANT,
            FeedbackItem.Source.PORTAL,
            15,
        ),
        (
            None,
            "The moment my phone loses reception every chart turns "
            "blank. Show the last data you had instead.",
            "problem",
            Importance.IMPORTANT,
            FeedbackItem.Source.ZENDESK,
            22,
        ),
        (
            None,
            "Our drivers need today's delivery figures offline on the "
            "tablet, even in tunnels and rural areas.",
            "request",
            Importance.IMPORTANT,
            FeedbackItem.Source.INTERVIEW,
            26,
        ),
        (
            None,
            "Any plans for working without a network? Our plant floor has no coverage.",
            "question",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.EMAIL,
            34,
        ),
        (
            None,
            "Make saved dashboards available when there is no connection "
            "and sync notes once we are back online.",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.SLACK,
            47,
        ),
    ],
    # Bulk editing and keyboard shortcuts for power users.
    "bulk editing": [
        (
            None,
            "I changed the date filter on 40 charts one by one today. "
            "Let me select many and edit them at once.",
            "problem",
            Importance.IMPORTANT,
            FeedbackItem.Source.SUPPORT_TICKET,
            3,
        ),
        (
            None,
            "Keyboard shortcuts in the dashboard editor: duplicate, align and delete without the mouse.",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.PORTAL,
            7,
        ),
        (
            None,
            "Multi-select for widgets so we can move or restyle a whole row in one go.",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.SLACK,
            12,
        ),
        (
            None,
            "Our analysts build dozens of reports a week and the clicking is killing them. Power-user "
            "hotkeys, anyone?",
            "request",
            Importance.IMPORTANT,
            FeedbackItem.Source.INTERVIEW,
            17,
        ),
        (
            None,
            "Renaming the data source on every tile separately is painful. A find-and-replace across a "
            "dashboard would be great.",
            "problem",
            Importance.IMPORTANT,
            FeedbackItem.Source.ZENDESK,
            21,
        ),
        (
            None,
            "Is there a shortcut list? Ctrl+D to copy a chart would save me a lot of time.",
            "question",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.INTERCOM,
            25,
        ),
        (
            None,
            "Bulk edit colours and number formats across all charts of a dashboard, please.",
            "request",
            Importance.NICE_TO_HAVE,
            FeedbackItem.Source.EMAIL,
            38,
        ),
        (
            None,
            "Let me apply one change (owner, folder, refresh schedule) to many dashboards at the same time.",
            "request",
            Importance.IMPORTANT,
            FeedbackItem.Source.SALES_CALL,
            53,
        ),
    ],
}
INBOX_REQUESTS = INBOX_PARAPHRASES + [request for theme in INBOX_THEMES.values() for request in theme]


@transaction.atomic
def seed(context: DemoContext, rng: random.Random) -> None:
    workspace, actor = context.workspace, context.users["carlos"]
    companies = _seed_companies(context, rng)
    contacts = []
    for company in companies:
        for position in range(2):
            first = FIRST_NAMES[(company.pk + position) % len(FIRST_NAMES)]
            contacts.append(
                services.contact_get_or_create(
                    workspace=workspace,
                    email=f"{first.lower()}.{position}@{company.domain}",
                    name=f"{first} {company.name.split()[0]}",
                    company=company,
                )
            )
    features = {f.title: f for f in Feature.objects.for_workspace(workspace.pk).order_by("pk")}
    now = timezone.now()
    rounds = context.scale
    for round_number in range(rounds):
        for index, request in enumerate(REQUESTS):
            reference = f"demo-{round_number}-{index}"
            if FeedbackItem.objects.filter(workspace=workspace, source_ref=reference).exists():
                continue
            contact = contacts[(index * 7 + round_number * 3) % len(contacts)]
            received_at = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440))
            _item_create(
                request,
                reference=reference,
                contact=contact,
                received_at=received_at,
                features=features,
                actor=actor,
                workspace=workspace,
            )
        for index, (*request, days_ago) in enumerate(INBOX_REQUESTS):
            reference = f"demo-{round_number}-inbox-{index}"
            if FeedbackItem.objects.filter(workspace=workspace, source_ref=reference).exists():
                continue
            # A stride of 11 over two contacts per company: at scale 1 any eight items in a row
            # (a theme) come from eight different companies.
            contact = contacts[(index * 11 + round_number * 3) % len(contacts)]
            received_at = now - timedelta(days=days_ago, minutes=(index * 137 + round_number * 61) % 1440)
            _item_create(
                request,
                reference=reference,
                contact=contact,
                received_at=received_at,
                features=features,
                actor=actor,
                workspace=workspace,
            )
    # By the status the roadmap demo gave them, not today's: a later seeder ships some of them
    # (releases), and a re-run must pick the same features.
    seeded = {row[0]: row[4] for row in ROADMAP_FEATURES}
    votable = [f for f in features.values() if seeded.get(f.title, f.status) not in ("declined", "shipped")]
    for contact in contacts:
        # Seeded by the contact, so a re-run picks the same features (and adds no vote).
        picker = random.Random(contact.email)  # noqa: S311 (demo data)
        for feature in picker.sample(votable, k=min(len(votable), picker.randint(0, 3))):
            services.vote_cast(contact=contact, feature=feature)
    _intelligence(workspace)


def _intelligence(workspace: Workspace) -> None:
    """What the worker would compute within a minute, computed now so the first page shows it:
    duplicate suggestions by words and meaning, and the last 30 days' themes (idempotent:
    checked items are not checked again, and unchanged data gives the same themes)."""
    from feedback.duplicate_services import duplicates_find_many
    from feedback.theme_services import themes_recompute

    pending = list(
        FeedbackItem.objects.filter(workspace=workspace, duplicates_checked_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(pending), 500):
        duplicates_find_many(item_ids=pending[start : start + 500])
    themes_recompute(workspace_id=workspace.pk)


def _item_create(
    request: Sequence,
    *,
    reference: str,
    contact: Contact,
    received_at: datetime,
    features: dict[str, Feature],
    actor: User,
    workspace: Workspace,
) -> None:
    """One demo feedback item from a REQUESTS tuple, linked to its feature unless that is declined."""
    title, text, kind, importance, source = request
    item = services.feedback_item_create(
        workspace=workspace,
        actor=actor,
        data={
            "text": text,
            "contact": contact,
            "company": contact.company,
            "source": source,
            "source_ref": reference,
            "kind": kind,
            "importance": importance,
            "deal_value": Decimal(contact.company.arr) / 2
            if source == FeedbackItem.Source.SALES_CALL
            else None,
            "received_at": received_at,
        },
    )
    feature = features.get(title) if title else None
    if feature is not None and feature.status != "declined":
        services.feedback_link_create(item=item, feature=feature, importance=importance, actor=actor)


def _seed_companies(context: DemoContext, rng: random.Random) -> list[Company]:
    rows = list(COMPANIES)
    for number in range(1, len(COMPANIES) * (context.scale - 1) + 1):
        segment = rng.choice([Segment.ENTERPRISE, Segment.MID_MARKET, Segment.SMB, Segment.SMB])
        arr = {Segment.ENTERPRISE: 200_000, Segment.MID_MARKET: 50_000, Segment.SMB: 5_000}[segment]
        rows.append((f"Customer {number}", f"customer-{number}.example", segment, arr * rng.randint(1, 4)))
    companies = []
    for name, domain, segment, arr in rows:
        company = Company.objects.filter(workspace=context.workspace, domain=domain).first()
        if company is None:
            company = services.company_create(
                workspace=context.workspace,
                actor=context.users["carlos"],
                data={
                    "name": name,
                    "domain": domain,
                    "segment": segment,
                    "arr": Decimal(arr),
                    "plan": {"enterprise": "Enterprise", "mid_market": "Business"}.get(segment, "Team"),
                },
            )
        companies.append(company)
    return companies
