"""Update digests: the content per audience from one fixture dataset (the exact changes and
reasons), an empty period suppressed once, the rows of due periods created exactly once (a
duplicated task, two concurrent runs on PostgreSQL), rendering (e-mail and Slack) with a
constant number of queries, previews, the test send and "send now"."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comms import digests
from comms.digest_content import digest_content
from comms.models import Audience, Cadence, Channel, StakeholderKind, Subscription
from feedback.models import FeedbackItem, FeedbackLink
from priority.recompute import run as recompute_workspace
from productops.errors import Forbidden, ValidationFailed
from productops.models import AuditEvent, Role
from productops.outbox.models import Delivery, DeliveryState
from productops.outbox.services import outbox_send
from releases.models import ChangelogSettings, ReleaseStatus, ReleaseStatusChange, ScopeItem, ScopeOutcome
from roadmap import services as roadmap_services
from roadmap.models import FeatureDependency, KeyResultValue
from tests.comms.factories import StakeholderFactory, SubscriptionFactory
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
)
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, GoalFactory, KeyResultFactory, ProductFactory

pytestmark = pytest.mark.django_db

WEEK = timedelta(days=7)


def day(value: date) -> str:
    return f"{value:%b} {value.day}, {value:%Y}"


class World:
    """One workspace's week: what happened between ``since`` and ``until``.

    Before the week: SAML SSO (#1), Bulk export (#2), Dark mode (#3), Audit log (#4, unscored);
    Hooli (owned by the seller) asked for SAML SSO, Globex (owned) for Audit log.
    During it: Bulk export's reach went from 200 to 2,000 and Globex and Initech asked for it;
    Audit log shipped in Insights 2.4 (a fix, on the public changelog); SAML SSO went in
    progress and joined Insights 2.5 (planned in ten days, so at risk); Hooli reported Dark
    mode as a problem; Bulk export now depends on SAML SSO; Enterprise ARR rose from 4.5 to 5.
    """

    def __init__(self, workspace, member) -> None:
        now = timezone.now()
        self.workspace = workspace
        self.since, self.until = now - WEEK, now + timedelta(minutes=1)
        before = self.since - timedelta(days=1)
        self.pm = member(workspace, Role.PRODUCT_MANAGER, email="pm@example.com").user
        self.seller = member(workspace, Role.CONTRIBUTOR, email="seller@example.com").user
        self.globex = CompanyFactory(workspace=workspace, name="Globex", segment="enterprise", arr=1_200_000)
        self.initech = CompanyFactory(workspace=workspace, name="Initech", segment="enterprise", arr=600_000)
        self.hooli = CompanyFactory(workspace=workspace, name="Hooli", segment="mid_market", arr=96_000)
        self.globex.account_owners.add(self.seller)
        self.hooli.account_owners.add(self.seller)
        self.product = ProductFactory(workspace=workspace, name="Insights")
        rice = {"impact": 1, "confidence_pct": 100, "effort": 1}
        self.saml = FeatureFactory(
            product=self.product, title="SAML SSO", reach=300, status="planned", is_public=True, **rice
        )
        self.bulk = FeatureFactory(
            product=self.product, title="Bulk export", reach=200, status="planned", **rice
        )
        self.dark = FeatureFactory(product=self.product, title="Dark mode", reach=100, status="idea", **rice)
        self.audit = FeatureFactory(
            product=self.product, title="Audit log", status="in_progress", public_title="Audit log export"
        )
        self.ask(self.saml, self.hooli, at=before)
        self.ask(self.audit, self.globex, at=before)
        goal = GoalFactory(workspace=workspace, title="Grow enterprise ARR")
        kr = KeyResultFactory(goal=goal, metric="Enterprise ARR", unit="M$", baseline=4, target=6, current=5)
        KeyResultValue.objects.create(
            workspace=workspace, key_result=kr, value=Decimal("4.5"), recorded_at=before
        )
        KeyResultValue.objects.create(
            workspace=workspace, key_result=kr, value=Decimal("5"), recorded_at=now - timedelta(days=1)
        )
        self.shipped_release = ReleaseFactory(product=self.product, name="Insights", version="2.4")
        audit_scope = ScopeItemFactory(
            release=self.shipped_release, feature=self.audit, change_type="fixed", state="done"
        )
        ScopeItem.objects.filter(pk=audit_scope.pk).update(added_at=before)
        self.next_release = ReleaseFactory(
            product=self.product,
            name="Insights",
            version="2.5",
            planned_date=timezone.localdate() + timedelta(days=10),
        )
        recompute_workspace(workspace_id=workspace.pk, now=before)

        # --- the week ---
        shipped_at = now - timedelta(days=2)
        roadmap_services.feature_update(feature=self.bulk, actor=None, data={"reach": 2000})
        self.ask(self.bulk, self.globex)
        self.ask(self.bulk, self.initech)
        roadmap_services.feature_change_status(
            feature=self.audit,
            to_status="shipped",
            actor=None,
            context={"release": {"id": self.shipped_release.pk, "name": "Insights", "version": "2.4"}},
        )
        ReleaseFactory._meta.model.objects.filter(pk=self.shipped_release.pk).update(
            status=ReleaseStatus.RELEASED,
            shipped_at=shipped_at,
            shipped_on=shipped_at.date(),
            notes_published_at=shipped_at,
            published_notes="Fixed the audit log.",
        )
        ScopeItem.objects.filter(pk=audit_scope.pk).update(
            is_open=False, outcome=ScopeOutcome.SHIPPED, closed_at=shipped_at
        )
        self.shipped_release.refresh_from_db()
        roadmap_services.feature_change_status(feature=self.saml, to_status="in_progress", actor=None)
        ScopeItemFactory(release=self.next_release, feature=self.saml, is_must_have=True)
        ReleaseStatusChange.objects.create(
            workspace=workspace, release=self.next_release, from_status="planned", to_status="in_progress"
        )
        ReleaseFactory._meta.model.objects.filter(pk=self.next_release.pk).update(
            status=ReleaseStatus.IN_PROGRESS
        )
        problem = FeedbackItemFactory(workspace=workspace, company=self.hooli, kind=FeedbackItem.Kind.PROBLEM)
        FeedbackLinkFactory(feature=self.dark, item=problem)
        FeatureDependency.objects.create(workspace=workspace, feature=self.bulk, depends_on=self.saml)
        ChangelogSettings.objects.create(workspace=workspace, enabled=True)
        recompute_workspace(workspace_id=workspace.pk)

    def ask(self, feature, company, at=None) -> None:
        link = FeedbackLinkFactory(
            feature=feature, item=FeedbackItemFactory(workspace=self.workspace, company=company)
        )
        if at is not None:
            FeedbackLink.objects.filter(pk=link.pk).update(created_at=at)

    def subscription(self, audience: str, **fields) -> Subscription:
        stakeholder = StakeholderFactory(
            workspace=self.workspace, audience=audience, **fields.pop("stakeholder", {})
        )
        return SubscriptionFactory(stakeholder=stakeholder, digest_through=self.since, **fields)

    def sections(self, subscription: Subscription) -> dict[str, list[tuple[str, str]]]:
        content = digest_content(subscription=subscription, since=self.since, until=self.until)
        return {s.key: [(i["text"], i.get("detail", "")) for i in s.items] for s in content.sections}


@pytest.fixture
def world(workspace, member) -> World:
    return World(workspace, member)


RANK_MOVES = [
    (
        "Bulk export rose from #2 to #1: two enterprise companies (ARR $1.8M) asked for it this week; "
        "reach raised from 200 to 2,000",
        "2 requesting companies, ARR $1.8M at stake",
    ),
    ("SAML SSO fell from #1 to #2: others moved", "1 requesting company, ARR $96k at stake"),
    ("Audit log left the ranking (shipped)", ""),
]


def test_an_executive_reads_key_results_what_shipped_rank_moves_revenue_and_risks(world):
    sections = world.sections(world.subscription(Audience.EXECUTIVE))

    planned = day(world.next_release.planned_date)
    assert sections == {
        "key_results": [
            ("Enterprise ARR: 4.5M$ → 5M$ (25% → 50% of the way to 6M$)", "Grow enterprise ARR"),
        ],
        "shipped": [(f"Insights 2.4 shipped on {day(world.shipped_release.shipped_on)}", "Audit log")],
        "rank_moves": RANK_MOVES,
        "revenue_at_stake": [
            ("#1 Bulk export", "2 companies, ARR $1.8M"),
            ("#2 SAML SSO", "1 company, ARR $96k"),
            ("#3 Dark mode", "1 company, ARR $96k"),
        ],
        "releases_at_risk": [
            (
                f"Insights 2.5 (planned {planned})",
                "Planned in 10 days with must-haves not started: SAML SSO; No team to build it: SAML SSO; "
                f"Remaining must-have effort 1.00 exceeds the 0.00 available to their teams before "
                f"{world.next_release.planned_date:%Y-%m-%d}",
            )
        ],
    }
    content = digest_content(
        subscription=world.subscription(Audience.EXECUTIVE), since=world.since, until=world.until
    )
    (revenue,) = [s for s in content.sections if s.key == "revenue_at_stake"]
    assert revenue.intro == "$1.9M of ARR from 3 companies waits on the top 3 features."
    assert revenue.news is False
    assert content.news_count == 5


def test_sales_reads_what_shipped_and_is_coming_for_their_own_accounts(world):
    seller = world.subscription(
        Audience.SALES,
        stakeholder={"kind": StakeholderKind.MEMBER, "user": world.seller, "email": "seller@example.com"},
    )
    external = world.subscription(Audience.SALES)

    planned = day(world.next_release.planned_date)
    assert world.sections(seller) == {
        "shipped_for_accounts": [("Audit log shipped in Insights 2.4", "Asked for by Globex")],
        "coming_for_accounts": [
            (f"SAML SSO: now in progress, in Insights 2.5, planned {planned}", "Asked for by Hooli")
        ],
        "rank_moves": RANK_MOVES,
    }
    # Without an account of their own, every company that asked counts.
    assert world.sections(external)["shipped_for_accounts"] == [
        ("Audit log shipped in Insights 2.4", "Asked for by Globex")
    ]


def test_a_seller_without_those_accounts_hears_only_of_the_ranking(world, member):
    other = member(world.workspace, Role.CONTRIBUTOR).user
    subscription = world.subscription(
        Audience.SALES, stakeholder={"kind": StakeholderKind.MEMBER, "user": other, "email": other.email}
    )

    assert world.sections(subscription) == {"rank_moves": RANK_MOVES}


def test_support_reads_fixes_and_known_issues_with_the_customers_affected(world):
    sections = world.sections(world.subscription(Audience.SUPPORT))

    assert sections == {
        "fixes_shipped": [
            (
                f"Audit log (fixed in Insights 2.4, {day(world.shipped_release.shipped_on)})",
                "Customers affected: Globex",
            )
        ],
        "known_issues": [
            ("Dark mode: 1 new problem report this week (still idea)", "Customers affected: Hooli")
        ],
        "rank_moves": RANK_MOVES,
    }


def test_engineering_reads_scope_status_and_dependency_changes(world):
    sections = world.sections(world.subscription(Audience.ENGINEERING))

    assert sections == {
        "scope_changes": [
            ("Shipped in Insights 2.4: Audit log", ""),
            ("Added to Insights 2.5: SAML SSO", "must-have"),
        ],
        "status_changes": [
            ("Audit log: in progress → shipped", ""),
            ("SAML SSO: planned → in progress", ""),
        ],
        "dependencies": [("Bulk export now depends on SAML SSO", "SAML SSO is in progress")],
        "rank_moves": RANK_MOVES,
    }


def test_marketing_reads_releases_and_the_changelog(world, settings):
    subscription = world.subscription(Audience.MARKETING)
    content = digest_content(subscription=subscription, since=world.since, until=world.until)

    assert {s.key: [(i["text"], i.get("detail", "")) for i in s.items] for s in content.sections} == {
        "shipped": [(f"Insights 2.4 shipped on {day(world.shipped_release.shipped_on)}", "Audit log")],
        "release_updates": [("Insights 2.5: planned → in progress", "")],
        "upcoming_releases": [
            (f"Insights 2.5, planned {day(world.next_release.planned_date)}", "0% ready, at risk")
        ],
        "changelog": [("What customers read", "")],
        "rank_moves": RANK_MOVES,
    }
    base = settings.PUBLIC_BASE_URL
    assert content.sections[0].items[0]["url"] == (
        f"{base}/p/acme/changelog/releases/{world.shipped_release.public_id}/"
    )
    assert content.sections[3].items[0]["url"] == f"{base}/p/acme/changelog/"


def test_customers_read_only_public_names_and_no_ranking(world):
    contact = ContactFactory(workspace=world.workspace, email="ana@globex.example", company=world.globex)
    subscription = world.subscription(
        Audience.CUSTOMER,
        stakeholder={"kind": StakeholderKind.CONTACT, "contact": contact, "email": contact.email},
    )

    assert world.sections(subscription) == {
        "shipped": [(f"Insights 2.4 shipped on {day(world.shipped_release.shipped_on)}", "Audit log export")],
        "roadmap": [("Audit log export is now shipped", ""), ("SAML SSO is now in progress", "")],
    }


def test_a_subscription_sees_only_what_it_follows(world):
    feature = world.subscription(Audience.ENGINEERING, target_workspace=None, feature=world.bulk)
    other_product = ProductFactory(workspace=world.workspace, name="Connect")
    elsewhere = world.subscription(Audience.EXECUTIVE, target_workspace=None, product=other_product)
    release = world.subscription(Audience.MARKETING, target_workspace=None, release=world.next_release)

    assert world.sections(feature) == {
        "dependencies": [("Bulk export now depends on SAML SSO", "SAML SSO is in progress")],
        "rank_moves": [RANK_MOVES[0]],
    }
    assert digest_content(subscription=elsewhere, since=world.since, until=world.until).empty
    assert world.sections(release) == {
        "release_updates": [("Insights 2.5: planned → in progress", "")],
        "upcoming_releases": [
            (f"Insights 2.5, planned {day(world.next_release.planned_date)}", "0% ready, at risk")
        ],
        "changelog": [("What customers read", "")],
        "rank_moves": [RANK_MOVES[1]],
    }


# --- rendering ----------------------------------------------------------------------------------


def _due_row(subscription, *, since, until) -> Delivery:
    delivery, _ = Delivery.objects.get_or_create(
        workspace=subscription.workspace,
        dedupe_key=f"digest:{subscription.pk}:test:{subscription.channel}",
        defaults={
            "kind": digests.DIGEST_KIND,
            "channel": subscription.channel,
            "recipient": subscription.slack_url or subscription.stakeholder.email,
            "recipient_ref": f"stakeholder:{subscription.stakeholder_id}",
            "context": {
                "subscription": subscription.pk,
                "stakeholder": subscription.stakeholder_id,
                "since": since.isoformat(),
                "until": until.isoformat(),
            },
        },
    )
    return delivery


def test_the_email_has_subject_text_html_links_and_one_click_headers(world):
    subscription = world.subscription(Audience.EXECUTIVE, stakeholder={"name": "Erin Exec"})

    message = digests.digest_render(_due_row(subscription, since=world.since, until=world.until))

    assert message.subject == "Your weekly update on Acme: 5 changes"
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.headers["List-Unsubscribe"].startswith("<http")
    assert "/p/acme/email/unsubscribe/" in message.headers["List-Unsubscribe"]
    assert "GOALS AND KEY RESULTS\n- Enterprise ARR: 4.5M$ → 5M$" in message.text
    assert f"- {RANK_MOVES[0][0]}\n  {RANK_MOVES[0][1]}" in message.text
    assert "Manage your preferences: http" in message.text
    assert "You get this weekly digest from Acme as an executive stakeholder." in message.text
    assert message.text.startswith("Acme\n")
    assert "What moved in the priority ranking, and why</h2>" in message.html
    assert 'class="context"' in message.html
    assert "Revenue at stake</h2>" in message.html
    assert "/p/acme/email/preferences/" in message.html
    # Stored with its CSS inlined (e-mail clients drop <style> blocks).
    assert "<style>" not in message.html
    assert message.html_inlined
    assert 'style="color: #656d76;"' in message.html


def test_slack_gets_block_kit(world):
    subscription = world.subscription(
        Audience.ENGINEERING, channel=Channel.SLACK, slack_url="https://hooks.slack.com/services/T/B/x"
    )

    message = digests.digest_render(_due_row(subscription, since=world.since, until=world.until))

    blocks = message.payload["blocks"]
    assert message.payload["text"] == "Your weekly update on Acme: 8 changes"
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": message.payload["text"]}}
    assert blocks[2] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Scope changes*\n• Shipped in Insights 2.4: Audit log\n"
            "• Added to Insights 2.5: SAML SSO\n    _must-have_",
        },
    }
    assert blocks[-1]["elements"][0]["text"].startswith("<http")
    assert len(blocks) == 2 + 4 + 1


@pytest.mark.parametrize("audience", list(Audience.values))
def test_a_digest_costs_the_same_few_queries_whatever_the_data(world, audience):
    subscription = world.subscription(audience)
    delivery = _due_row(subscription, since=world.since, until=world.until)
    with CaptureQueriesContext(connection) as small:
        digests.digest_render(delivery)

    # Ten times the data: features that moved, asked for, shipped, scheduled, depended on.
    releases = [ReleaseFactory(product=world.product, version=f"3.{n}") for n in range(5)]
    for n in range(30):
        feature = FeatureFactory(
            product=world.product,
            title=f"More {n}",
            reach=50 + n,
            impact=1,
            confidence_pct=100,
            effort=1,
            status="planned",
        )
        world.ask(feature, CompanyFactory(workspace=world.workspace, segment="smb", arr=1000 * n))
        roadmap_services.feature_change_status(feature=feature, to_status="in_progress", actor=None)
        ScopeItemFactory(release=releases[n % 5], feature=feature)
        FeatureDependency.objects.create(workspace=world.workspace, feature=feature, depends_on=world.dark)
    recompute_workspace(workspace_id=world.workspace.pk)
    digests.shared_renderings_clear()  # build it again, not from the first rendering
    with CaptureQueriesContext(connection) as large:
        digests.digest_render(delivery)

    print(f"{audience}: {len(small)} queries per digest")  # the figure the digests benchmark measures
    assert len(large) == len(small)
    assert len(small) <= 25


def test_an_empty_period_is_suppressed_once_and_never_evaluated_again(workspace, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscription = SubscriptionFactory(
        stakeholder=StakeholderFactory(workspace=workspace),
        next_due_at=timezone.now() - timedelta(minutes=1),
        digest_through=timezone.now() - WEEK,
    )

    assert digests.digests_create_due() == 1
    outbox_send()

    row = Delivery.objects.get(kind=digests.DIGEST_KIND)
    assert (row.state, row.suppressed_reason, row.attempts) == (DeliveryState.SUPPRESSED, "empty", 1)
    assert mail.outbox == []
    assert outbox_send() == {}
    row.refresh_from_db()
    assert row.attempts == 1
    assert subscription.pk == row.context["subscription"]


def test_a_due_digest_goes_out_through_the_sender(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Weekly, due today at 00:00 UTC: the period ends then, after the fix shipped two days ago,
    # whatever the day of the week the test runs on (a Monday 09:00 default made the period
    # end before the world's events on some days).
    today = timezone.now().astimezone(UTC)
    subscription = world.subscription(
        Audience.SUPPORT,
        stakeholder={"email": "sam@example.com"},
        weekday=today.isoweekday(),
        local_hour=0,
        time_zone="UTC",
    )
    Subscription.objects.filter(pk=subscription.pk).update(next_due_at=timezone.now() - timedelta(minutes=1))

    assert digests.digests_create_due() == 1
    assert outbox_send() == {"sent": 1}

    (sent,) = mail.outbox
    assert sent.to == ["sam@example.com"]
    assert sent.subject.startswith("Your weekly update on Acme: ")
    assert "FIXES SHIPPED" in sent.body
    row = Delivery.objects.get(kind=digests.DIGEST_KIND)
    assert row.state == DeliveryState.SENT
    assert row.rendered_at is not None
    assert row.body_text == sent.body


# --- creating due periods -----------------------------------------------------------------------

MONDAY = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # a Monday


def _weekly(workspace, **fields) -> Subscription:
    subscription = SubscriptionFactory(stakeholder=StakeholderFactory(workspace=workspace), **fields)
    Subscription.objects.filter(pk=subscription.pk).update(
        next_due_at=fields.get("next_due_at", MONDAY),
        digest_through=fields.get("digest_through", MONDAY - WEEK),
    )
    subscription.refresh_from_db()
    return subscription


def test_a_due_period_gets_one_row_with_its_window_and_the_subscription_moves_on(workspace):
    subscription = _weekly(workspace)

    assert digests.digests_create_due(now=MONDAY + timedelta(minutes=3)) == 1

    row = Delivery.objects.get()
    assert row.dedupe_key == f"digest:{subscription.pk}:2027-03-01:email"
    assert (row.kind, row.channel, row.recipient, row.recipient_ref) == (
        "comms.digest",
        "email",
        subscription.stakeholder.email,
        f"stakeholder:{subscription.stakeholder_id}",
    )
    assert row.rendered_at is None
    assert row.context == {
        "subscription": subscription.pk,
        "stakeholder": subscription.stakeholder_id,
        "since": "2027-02-22T09:00:00+00:00",
        "until": "2027-03-01T09:00:00+00:00",
        "period_start": "2027-03-01",
        "audience": "executive",
    }
    subscription.refresh_from_db()
    assert subscription.digest_through == MONDAY
    assert subscription.next_due_at == MONDAY + WEEK


def test_a_duplicated_task_creates_nothing_more(workspace):
    _weekly(workspace)
    _weekly(workspace, cadence=Cadence.DAILY)
    at = MONDAY + timedelta(minutes=3)

    assert digests.digests_create_due(now=at) == 2
    # Run again, and again with the subscriptions put back as if the first run never saved.
    assert digests.digests_create_due(now=at) == 0
    Subscription.objects.update(next_due_at=MONDAY, digest_through=MONDAY - WEEK)
    assert digests.digests_create_due(now=at) == 0

    assert Delivery.objects.count() == 2


def test_an_outage_of_several_periods_sends_one_digest_covering_all_of_it(workspace):
    subscription = _weekly(workspace, cadence=Cadence.DAILY)
    three_days_later = MONDAY + timedelta(days=3, hours=2)

    assert digests.digests_create_due(now=three_days_later) == 1

    row = Delivery.objects.get()
    assert row.dedupe_key == f"digest:{subscription.pk}:2027-03-04:email"
    assert (row.context["since"], row.context["until"]) == (
        "2027-02-22T09:00:00+00:00",
        "2027-03-04T09:00:00+00:00",
    )
    subscription.refresh_from_db()
    assert subscription.next_due_at == datetime(2027, 3, 5, 9, tzinfo=UTC)


def test_periods_follow_each_subscribers_time_zone(workspace):
    paris = _weekly(workspace, time_zone="Europe/Paris", next_due_at=datetime(2027, 3, 1, 8, tzinfo=UTC))
    tokyo = _weekly(workspace, time_zone="Asia/Tokyo", next_due_at=datetime(2027, 3, 1, 0, tzinfo=UTC))
    new_york = _weekly(
        workspace, time_zone="America/New_York", next_due_at=datetime(2027, 3, 1, 14, tzinfo=UTC)
    )

    assert digests.digests_create_due(now=datetime(2027, 3, 1, 8, 30, tzinfo=UTC)) == 2

    assert set(Delivery.objects.values_list("dedupe_key", flat=True)) == {
        f"digest:{paris.pk}:2027-03-01:email",
        f"digest:{tokyo.pk}:2027-03-01:email",
    }
    new_york.refresh_from_db()
    assert new_york.next_due_at == datetime(2027, 3, 1, 14, tzinfo=UTC)


def test_stakeholders_who_cannot_be_reached_get_no_row_but_move_on(workspace):
    gone = _weekly(workspace)
    gone.stakeholder.unsubscribed_at = MONDAY - WEEK
    gone.stakeholder.save()
    pending = _weekly(workspace)
    pending.stakeholder.confirmed_at = None
    pending.stakeholder.save()
    inactive = _weekly(workspace)
    Subscription.objects.filter(pk=inactive.pk).update(is_active=False)
    company = CompanyFactory(workspace=workspace, do_not_contact=True)
    contact = ContactFactory(workspace=workspace, company=company)
    customer = _weekly(workspace)
    customer.stakeholder.kind, customer.stakeholder.contact = StakeholderKind.CONTACT, contact
    customer.stakeholder.save()

    assert digests.digests_create_due(now=MONDAY + timedelta(minutes=1)) == 0

    assert Delivery.objects.count() == 0
    for subscription in (gone, pending, customer):
        subscription.refresh_from_db()
        assert (subscription.digest_through, subscription.next_due_at) == (MONDAY, MONDAY + WEEK)
    inactive.refresh_from_db()
    assert inactive.next_due_at == MONDAY


def test_a_slack_subscription_posts_to_its_url(workspace):
    subscription = _weekly(
        workspace, channel=Channel.SLACK, slack_url="https://hooks.slack.com/services/T/B/y"
    )

    digests.digests_create_due(now=MONDAY)

    row = Delivery.objects.get()
    assert (row.channel, row.recipient) == ("slack", "https://hooks.slack.com/services/T/B/y")
    assert row.dedupe_key == f"digest:{subscription.pk}:2027-03-01:slack"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_create_each_period_once():
    """One run holds the subscriptions (its insert waits on a conflicting, uncommitted row);
    the second run skips them instead of waiting or duplicating; when the first goes on it
    creates each period once."""
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks and concurrent transactions; SQLite serialises every writer")
    from tests.productops.factories import WorkspaceFactory

    workspace = WorkspaceFactory()
    subscriptions = [_weekly(workspace) for _ in range(3)]
    at = MONDAY + timedelta(minutes=1)
    blocker = connections.create_connection("default")
    first_key = f"digest:{subscriptions[0].pk}:2027-03-01:email"
    outcome: dict = {}
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN")
            # A conflicting row, not committed: the first run's insert of that key waits on it.
            insert = f"INSERT INTO {Delivery._meta.db_table} ({', '.join(BLOCKER_COLUMNS)}) VALUES "  # noqa: S608
            cursor.execute(
                insert
                + "(%s, %s, 'comms.digest', 'email', 'x@example.com', '', '', '', '', '{}', '{}', '{}', "
                "'pending', '', 0, now(), '', '', now(), now())",
                [workspace.pk, first_key],
            )

            def first_run() -> None:
                try:
                    outcome["first"] = digests.digests_create_due(now=at)
                finally:
                    connection.close()

            runner = threading.Thread(target=first_run)
            runner.start()
            deadline = time.monotonic() + 10
            while not _waiting_on_a_row():
                assert time.monotonic() < deadline, "the first run never reached its insert"
                time.sleep(0.01)

            second = digests.digests_create_due(now=at)  # the first holds every subscription
            assert second == 0
            cursor.execute("ROLLBACK")
        runner.join(10)
    finally:
        blocker.close()

    assert outcome["first"] == 3
    assert sorted(Delivery.objects.values_list("dedupe_key", flat=True)) == sorted(
        f"digest:{s.pk}:2027-03-01:email" for s in subscriptions
    )
    assert digests.digests_create_due(now=at) == 0


BLOCKER_COLUMNS = [
    "workspace_id",
    "dedupe_key",
    "kind",
    "channel",
    "recipient",
    "recipient_ref",
    "subject",
    "body_text",
    "body_html",
    "payload",
    "headers",
    "context",
    "state",
    "suppressed_reason",
    "attempts",
    "next_attempt_at",
    "last_error",
    "provider_message_id",
    "created_at",
    "updated_at",
]


def _waiting_on_a_row() -> bool:
    with connection.cursor() as cursor:
        # Waiters in this database only (a transactionid lock names no database): another
        # test database on the server (a pytest-xdist worker's) has waiters of its own.
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted "
            "AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
        )
        return cursor.fetchone()[0] > 0


# --- preview, test, send now ----------------------------------------------------------------


def test_the_preview_shows_what_would_be_sent_now_and_writes_nothing(world):
    subscription = world.subscription(Audience.EXECUTIVE)
    deliveries = Delivery.objects.count()

    preview = digests.digest_preview(subscription=subscription, actor=world.pm)

    assert preview["subject"] == "Your weekly update on Acme: 5 changes"
    assert preview["since"] == world.since
    assert preview["until"] > world.since
    assert preview["empty"] is False
    assert [s["key"] for s in preview["sections"]] == [
        "key_results",
        "shipped",
        "rank_moves",
        "revenue_at_stake",
        "releases_at_risk",
    ]
    assert "<style>" not in preview["html"]  # inlined, as stored
    assert 'style="' in preview["html"]
    assert "REVENUE AT STAKE" in preview["text"]
    assert Delivery.objects.count() == deliveries


def test_the_preview_is_for_product_managers_and_up(world, member):
    subscription = world.subscription(Audience.EXECUTIVE)
    contributor = member(world.workspace, Role.CONTRIBUTOR).user

    with pytest.raises(Forbidden):
        digests.digest_preview(subscription=subscription, actor=contributor)
    with pytest.raises(Forbidden):
        digests.digest_send_test(subscription=subscription, actor=contributor)
    assert Delivery.objects.count() == 0


def test_a_preview_for_any_stakeholder_and_period(world):
    stakeholder = StakeholderFactory(workspace=world.workspace, audience=Audience.SUPPORT)

    preview = digests.digest_preview_for(
        stakeholder=stakeholder, actor=world.pm, since=world.since, until=world.until
    )
    later = digests.digest_preview_for(
        stakeholder=stakeholder, actor=world.pm, since=world.until, until=world.until + WEEK
    )

    assert [s["key"] for s in preview["sections"]] == ["fixes_shipped", "known_issues", "rank_moves"]
    assert later["empty"] is True
    assert later["subject"] == "Your weekly update on Acme: nothing new"
    with pytest.raises(ValidationFailed) as error:
        digests.digest_preview_for(
            stakeholder=stakeholder, actor=world.pm, since=world.until, until=world.since
        )
    assert error.value.code == "invalid_range"


def test_send_test_mails_the_requester_marked_as_a_test(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscription = world.subscription(Audience.MARKETING, stakeholder={"name": "Mia Marketing"})

    delivery = digests.digest_send_test(subscription=subscription, actor=world.pm)
    outbox_send()

    delivery.refresh_from_db()
    assert (delivery.kind, delivery.recipient, delivery.recipient_ref) == (
        "comms.digest_test",
        "pm@example.com",
        f"user:{world.pm.pk}",
    )
    assert delivery.dedupe_key.startswith(f"digest-test:{subscription.pk}:{world.pm.pk}:")
    assert delivery.subject == "[Test] Your weekly update on Acme: 5 changes"
    assert delivery.state == DeliveryState.SENT
    assert "List-Unsubscribe" not in delivery.headers
    (sent,) = mail.outbox
    assert sent.to == ["pm@example.com"]
    assert sent.body.startswith("Test: the digest Mia Marketing (marketing) would get now.")
    subscription.refresh_from_db()
    assert subscription.digest_through == world.since  # a test moves nothing on


def test_send_test_needs_an_address(world):
    world.pm.email = ""
    world.pm.save()

    with pytest.raises(ValidationFailed) as error:
        digests.digest_send_test(subscription=world.subscription(Audience.EXECUTIVE), actor=world.pm)

    assert error.value.code == "no_email"
    assert Delivery.objects.count() == 0


def test_send_now_sends_since_the_last_digest_and_moves_the_window(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscription = world.subscription(Audience.ENGINEERING, stakeholder={"email": "eng@example.com"})

    delivery = digests.digest_send_now(subscription=subscription, actor=world.pm)
    outbox_send()

    delivery.refresh_from_db()
    assert delivery.dedupe_key.startswith(f"digest:{subscription.pk}:manual:")
    assert delivery.dedupe_key.endswith(":email")
    assert delivery.state == DeliveryState.SENT
    assert delivery.subject == "Your update on Acme: 8 changes"
    assert datetime.fromisoformat(delivery.context["since"]) == world.since
    subscription.refresh_from_db()
    assert subscription.digest_through == datetime.fromisoformat(delivery.context["until"])
    assert mail.outbox[0].to == ["eng@example.com"]
    audit = AuditEvent.objects.filter(
        target_type="comms.subscription", target_id=str(subscription.pk)
    ).latest("id")
    assert audit.changes["via"] == "send digest now"

    # The period that comes next starts where "send now" stopped.
    Subscription.objects.filter(pk=subscription.pk).update(next_due_at=timezone.now())
    digests.digests_create_due(now=timezone.now())
    scheduled = Delivery.objects.filter(kind="comms.digest").exclude(pk=delivery.pk)
    assert [row.context["since"] for row in scheduled] in ([], [delivery.context["until"]])


def test_send_now_to_an_unsubscribed_stakeholder_records_it_suppressed(world):
    subscription = world.subscription(Audience.EXECUTIVE)
    subscription.stakeholder.unsubscribed_at = timezone.now()
    subscription.stakeholder.save()

    delivery = digests.digest_send_now(subscription=subscription, actor=None)

    assert (delivery.state, delivery.suppressed_reason) == (DeliveryState.SUPPRESSED, "unsubscribed")


def test_a_row_of_a_subscription_turned_off_since_is_not_sent(world):
    subscription = world.subscription(Audience.EXECUTIVE)
    row = _due_row(subscription, since=world.since, until=world.until)
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False)

    with pytest.raises(digests.Suppress) as suppressed:
        digests.digest_render(row)

    assert suppressed.value.reason == "disabled"


def test_a_row_whose_subscription_is_gone_is_obsolete(world):
    subscription = world.subscription(Audience.EXECUTIVE)
    row = _due_row(subscription, since=world.since, until=world.until)
    subscription.delete()

    with pytest.raises(digests.Suppress) as suppressed:
        digests.digest_render(row)

    assert suppressed.value.reason == "obsolete"


# --- the demo ------------------------------------------------------------------------------------


def _demo_state() -> dict:
    from comms.models import Stakeholder, WebhookEndpoint
    from roadmap.models import FeatureStatusChange, PrioritySnapshot

    return {
        "stakeholders": Stakeholder.objects.count(),
        "subscriptions": sorted(Subscription.objects.values_list("id", "next_due_at", "digest_through")),
        "deliveries": Delivery.objects.count(),
        "snapshots": PrioritySnapshot.objects.count(),
        "key_result_values": KeyResultValue.objects.count(),
        "status_changes": sorted(FeatureStatusChange.objects.values_list("id", "created_at")),
        "endpoints": WebhookEndpoint.objects.count(),
    }


def test_the_demo_has_history_stakeholders_sent_digests_and_digests_due(settings):
    import io

    from django.core.management import call_command

    from comms.models import Stakeholder, WebhookEndpoint
    from priority.selectors import priority_movers, rank_moves_explained
    from productops.models import Workspace
    from roadmap.models import FeatureStatusChange, KeyResult, PrioritySnapshot

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", force=True, stdout=io.StringIO())
    state = _demo_state()
    call_command("seed_demo", force=True, stdout=io.StringIO())
    assert _demo_state() == state  # idempotent

    workspace = Workspace.objects.get(slug="demo")
    now = timezone.now()
    # Eight weeks of priority history with its reasons, and real moves since last week.
    oldest = PrioritySnapshot.objects.order_by("computed_at").first()
    assert now - oldest.computed_at > timedelta(weeks=8)
    assert not PrioritySnapshot.objects.filter(contributions={}).exists()
    # The demo ranks by the weighted scorecard (issue 13): each point keeps every criterion's share.
    criteria = {"goal_alignment", "customer_impact", "strategic_fit", "competitive_gap"}
    assert set(oldest.contributions) == criteria
    assert len(priority_movers(workspace=workspace, since=now - WEEK)) >= 5
    reasons = [m["reason"] for m in rank_moves_explained(workspace=workspace, since=now - WEEK, limit=None)]
    assert any("asked for it this week" in reason for reason in reasons)
    assert any("left the ranking (shipped)" in reason for reason in reasons)
    # Key-result values a week, status changes over the eight weeks, some in the last one.
    assert all(KeyResultValue.objects.filter(key_result=kr).count() == 9 for kr in KeyResult.objects.all())
    changes = FeatureStatusChange.objects.filter(workspace=workspace)
    assert now - changes.order_by("created_at").first().created_at > timedelta(weeks=7)
    assert changes.filter(created_at__gte=now - WEEK, created_at__lt=now - timedelta(hours=1)).exists()
    # Stakeholders of every audience, daily and weekly in several time zones, a webhook endpoint.
    assert set(Stakeholder.objects.values_list("audience", flat=True)) == set(Audience.values)
    assert set(Subscription.objects.values_list("cadence", flat=True)) == {"daily", "weekly"}
    assert Subscription.objects.values("time_zone").distinct().count() >= 5
    assert WebhookEndpoint.objects.filter(url="https://hooks.example.com/productops").exists()
    # A history of sent digests, stored as sent.
    sent = Delivery.objects.filter(kind=digests.DIGEST_KIND, state=DeliveryState.SENT)
    assert sent.count() >= 10
    assert all(row.body_html and row.sent_at < now and row.rendered_at for row in sent)
    # Right after seeding, beat's task finds digests due and the worker sends them.
    assert digests.digests_create_due() == 2
    assert outbox_send() == {"sent": 2}
    assert sorted(m.to[0] for m in mail.outbox) == [
        "carlos@demo.productops.local",
        "demo@demo.productops.local",
    ]
    assert "WHAT MOVED IN THE PRIORITY RANKING, AND WHY" in mail.outbox[0].body


def test_readers_of_the_same_digest_share_one_build_and_get_their_own_links(world):
    first = world.subscription("executive")
    second = world.subscription("executive", stakeholder={"email": "exec2@acme.example"})
    rows = [_due_row(s, since=world.since, until=world.until) for s in (first, second)]

    with CaptureQueriesContext(connection) as built:
        one = digests.digest_render(rows[0])
    with CaptureQueriesContext(connection) as shared:
        two = digests.digest_render(rows[1])

    assert (one.subject, one.text.split("Manage")[0]) == (two.subject, two.text.split("Manage")[0])
    assert len(shared) < len(built)
    link_one = one.headers["List-Unsubscribe"].strip("<>")
    link_two = two.headers["List-Unsubscribe"].strip("<>")
    assert link_one != link_two
    assert link_two in two.html
    assert link_two in two.text
    assert link_one not in two.html
    assert "productops.invalid" not in two.html + two.text + link_two
