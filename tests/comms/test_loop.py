"""Close the loop: one notice per contact and release (or feature and outcome) across every
way of asking, consent and suppression, the account owners' summaries, the announcements to
changelog subscribers, immediate notices, and the previews."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from board.models import BoardContact
from comms import events, loop
from comms.models import CommsSettings, Stakeholder, Subscription
from feedback.models import FeedbackItem
from feedback.services import feedback_items_merge
from productops.errors import Forbidden, ValidationFailed
from productops.models import Event, Role
from productops.outbox.models import Delivery
from productops.outbox.services import outbox_send
from releases.models import ChangelogSettings, ScopeState
from releases.services import release_ship
from roadmap.models import FeatureStatus
from roadmap.services import feature_change_status
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER, first_name="Pat", last_name="Manager").user


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Insights")


@pytest.fixture
def release(product):
    return ReleaseFactory(product=product, name="Spring", version="2.4.0")


def scoped(release, title, **feature):
    """A done feature of ``release`` with a customer-facing title and note."""
    item = ScopeItemFactory(
        release=release,
        state=ScopeState.DONE,
        feature__title=f"{title} (internal)",
        feature__public_title=title,
        feature__release_note=f"{title} is here.",
        **{f"feature__{k}": v for k, v in feature.items()},
    )
    return item.feature


def ship(release, actor):
    release_ship(release=release, actor=actor)
    return events.events_consume()


def requested(contact, feature, *, source=FeedbackItem.Source.CSV):
    item = FeedbackItemFactory(workspace=contact.workspace, contact=contact, source=source)
    FeedbackLinkFactory(item=item, feature=feature)
    return item


def loop_rows(workspace, kind=loop.LOOP_KIND):
    return {
        row.recipient_ref: row
        for row in Delivery.objects.filter(workspace=workspace, kind=kind).order_by("id")
    }


def test_a_contact_who_asked_five_ways_gets_one_notice_listing_every_feature(workspace, release, pm):
    export, alerts, sso = (scoped(release, t) for t in ("Bulk export", "Alerts", "SSO"))
    company = CompanyFactory(workspace=workspace, name="Globex")
    ada = ContactFactory(workspace=workspace, name="Ada", email="ada@globex.example", company=company)
    other = ContactFactory(workspace=workspace, email="bo@globex.example", company=company)
    requested(ada, export)
    requested(ada, export, source=FeedbackItem.Source.SUPPORT_TICKET)  # asked twice
    VoteFactory(contact=ada, feature=alerts)  # voted: a lawful basis
    # Ada's own item (linked to nothing) was merged into Bo's, which is linked to SSO.
    merged = FeedbackItemFactory(workspace=workspace, contact=ada)
    target = requested(other, sso)
    feedback_items_merge(source=merged, target=target, actor=pm)

    assert ship(release, pm) == 4  # three status changes and the release

    rows = loop_rows(workspace)
    assert set(rows) == {f"contact:{ada.pk}", f"contact:{other.pk}"}
    notice = rows[f"contact:{ada.pk}"]
    assert (notice.state, notice.dedupe_key, notice.channel, notice.recipient) == (
        "pending",
        f"loop:{ada.pk}:{Event.objects.get(kind='release.shipped').pk}",
        "email",
        "ada@globex.example",
    )
    assert [f["name"] for f in notice.context["features"]] == ["Bulk export", "Alerts", "SSO"]
    # Bo is known only from an import: recorded, not sent.
    assert (rows[f"contact:{other.pk}"].state, rows[f"contact:{other.pk}"].suppressed_reason) == (
        "suppressed",
        "no_consent",
    )

    assert outbox_send() == {"sent": 1}
    (message,) = mail.outbox
    assert message.to == ["ada@globex.example"]
    assert message.subject == "Spring 2.4.0 shipped: 3 features you asked for"
    for text in ("Bulk export", "Alerts", "SSO", "Bulk export is here."):
        assert text in message.body
    assert "(internal)" not in message.body
    assert "/unsubscribe/" in message.body or "unsubscribe" in message.body.lower()
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    html = message.alternatives[0][0]
    assert "Bulk export is here." in html
    assert "(internal)" not in html


def test_consent_decides_who_is_emailed_and_suppressed_rows_say_why(workspace, release, pm):
    feature = scoped(release, "Bulk export")
    dnc = CompanyFactory(workspace=workspace, do_not_contact=True)
    voter = ContactFactory(workspace=workspace, email="voter@example.com")
    board_author = ContactFactory(workspace=workspace, email="board@example.com")
    verified = ContactFactory(workspace=workspace, email="verified@example.com")
    imported = ContactFactory(workspace=workspace, email="imported@example.com")
    unsubscribed = ContactFactory(
        workspace=workspace, email="gone@example.com", unsubscribed_at=timezone.now()
    )
    blocked = ContactFactory(workspace=workspace, email="dnc@example.com", company=dnc)
    VoteFactory(contact=voter, feature=feature)
    requested(board_author, feature, source=FeedbackItem.Source.PUBLIC_BOARD)
    # Verified on the board (the board vouches for it), asked only through an import.
    BoardContact.objects.create(workspace=workspace, contact=verified, verified_at=timezone.now())
    requested(verified, feature)
    requested(imported, feature, source=FeedbackItem.Source.ZENDESK)
    VoteFactory(contact=unsubscribed, feature=feature)
    VoteFactory(contact=blocked, feature=feature)

    ship(release, pm)

    states = {row.recipient: (row.state, row.suppressed_reason) for row in loop_rows(workspace).values()}
    assert states == {
        "voter@example.com": ("pending", ""),
        "board@example.com": ("pending", ""),
        "verified@example.com": ("pending", ""),
        "imported@example.com": ("suppressed", "no_consent"),
        "gone@example.com": ("suppressed", "unsubscribed"),
        "dnc@example.com": ("suppressed", "do_not_contact"),
    }
    assert outbox_send() == {"sent": 3}
    assert sorted(m.to[0] for m in mail.outbox) == [
        "board@example.com",
        "verified@example.com",
        "voter@example.com",
    ]


def test_notify_imported_contacts_emails_them_too(workspace, release, pm):
    feature = scoped(release, "Bulk export")
    imported = ContactFactory(workspace=workspace, email="imported@example.com")
    requested(imported, feature)
    CommsSettings.objects.create(workspace=workspace, notify_imported_contacts=True)

    ship(release, pm)

    ((ref, row),) = loop_rows(workspace).items()
    assert (ref, row.state) == (f"contact:{imported.pk}", "pending")


def test_a_contact_who_unsubscribes_before_the_send_is_not_emailed(workspace, release, pm):
    feature = scoped(release, "Bulk export")
    voter = ContactFactory(workspace=workspace)
    VoteFactory(contact=voter, feature=feature)
    ship(release, pm)
    voter.unsubscribed_at = timezone.now()
    voter.save()

    assert outbox_send() == {"suppressed": 1}
    assert mail.outbox == []
    row = Delivery.objects.get(kind=loop.LOOP_KIND)
    assert (row.state, row.suppressed_reason) == ("suppressed", "unsubscribed")


def test_account_owners_get_one_summary_per_event_of_who_was_told(workspace, release, pm, member):
    feature = scoped(release, "Bulk export")
    seller = member(workspace, Role.CONTRIBUTOR, email="seller@acme.example", first_name="Sam").user
    outsider = member(workspace.__class__.objects.create(name="Other", slug="other"), Role.OWNER).user
    globex = CompanyFactory(workspace=workspace, name="Globex")
    initech = CompanyFactory(workspace=workspace, name="Initech")
    globex.account_owners.add(seller, outsider)  # the outsider is no member here
    initech.account_owners.add(seller)
    told = ContactFactory(workspace=workspace, email="told@globex.example", company=globex)
    quiet = ContactFactory(workspace=workspace, email="quiet@initech.example", company=initech)
    VoteFactory(contact=told, feature=feature)
    requested(quiet, feature)

    ship(release, pm)

    summaries = list(Delivery.objects.filter(kind=loop.SUMMARY_KIND))
    event = Event.objects.get(kind="release.shipped")
    assert [(s.recipient, s.recipient_ref, s.dedupe_key) for s in summaries] == [
        ("seller@acme.example", f"user:{seller.pk}", f"loop-summary:{seller.pk}:{event.pk}")
    ]
    context = summaries[0].context
    assert context["counts"] == {"told": 1, "no_consent": 1, "opted_out": 0}
    assert [p["email"] for p in context["told"]] == ["told@globex.example"]
    assert [p["email"] for p in context["no_consent"]] == ["quiet@initech.example"]
    # The owner became a member stakeholder (their preference and unsubscribe links).
    assert Stakeholder.objects.get(user=seller).kind == "member"

    outbox_send()
    (summary,) = [m for m in mail.outbox if m.to == ["seller@acme.example"]]
    assert "quiet@initech.example" in summary.body
    assert "told@globex.example" in summary.body
    assert "List-Unsubscribe" in summary.extra_headers


def test_a_feature_declined_outside_a_release_tells_the_customer_message_not_the_reason(workspace, pm):
    feature = FeatureFactory(
        workspace=workspace, product=ProductFactory(workspace=workspace), public_title="Dark mode"
    )
    voter = ContactFactory(workspace=workspace, email="voter@example.com")
    VoteFactory(contact=voter, feature=feature)

    feature_change_status(
        feature=feature,
        to_status=FeatureStatus.DECLINED,
        actor=pm,
        reason="Costs too much; Initech churned",
        customer_message="We chose to focus on themes instead.",
    )
    events.events_consume()

    ((ref, row),) = loop_rows(workspace).items()
    assert (ref, row.dedupe_key) == (f"contact:{voter.pk}", f"loop:{voter.pk}:feature:{feature.pk}:declined")
    outbox_send()
    (message,) = mail.outbox
    assert message.subject == "An update on Dark mode"
    assert "We chose to focus on themes instead." in message.body
    assert "Initech" not in message.body
    assert "Initech" not in message.alternatives[0][0]


def test_a_release_does_not_also_close_the_loop_per_feature(workspace, release, pm):
    feature = scoped(release, "Bulk export")
    voter = ContactFactory(workspace=workspace)
    VoteFactory(contact=voter, feature=feature)

    ship(release, pm)

    assert list(Delivery.objects.filter(kind=loop.LOOP_KIND).values_list("dedupe_key", flat=True)) == [
        f"loop:{voter.pk}:{Event.objects.get(kind='release.shipped').pk}"
    ]


def test_a_merge_does_not_tell_anyone_the_merged_feature_was_declined(workspace, pm):
    from roadmap.services import feature_merge

    product = ProductFactory(workspace=workspace)
    source = FeatureFactory(workspace=workspace, product=product, public_title="Export")
    into = FeatureFactory(workspace=workspace, product=product, public_title="Bulk export")
    VoteFactory(contact=ContactFactory(workspace=workspace), feature=source)

    feature_merge(source=source, target=into, actor=pm)
    events.events_consume()

    assert not Delivery.objects.filter(kind=loop.LOOP_KIND).exists()


def test_a_release_that_is_not_public_is_not_named_and_a_changelog_release_is_linked(workspace, product, pm):
    hidden = ReleaseFactory(product=product, name="Internal", version="2.5.0", is_public=False)
    public = ReleaseFactory(product=product, name="Summer", version="2.6.0")
    voter = ContactFactory(workspace=workspace)
    VoteFactory(contact=voter, feature=scoped(hidden, "Alerts"))
    VoteFactory(contact=voter, feature=scoped(public, "Export"))
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)

    ship(hidden, pm)
    ship(public, pm)
    outbox_send()

    first, second = mail.outbox
    assert first.subject == "Shipped: 1 feature you asked for"
    assert "Internal" not in first.body
    assert "changelog" not in first.body.lower()
    assert second.subject == "Summer 2.6.0 shipped: 1 feature you asked for"
    public.refresh_from_db()
    assert f"/changelog/releases/{public.public_id}/" in second.body


def test_a_feature_without_a_customer_facing_name_is_left_out(workspace, release, pm):
    named = scoped(release, "Alerts")
    secret = ScopeItemFactory(
        release=release, state=ScopeState.DONE, feature__title="Falcon for Initech", feature__public_title=""
    ).feature
    both = ContactFactory(workspace=workspace)
    only_secret = ContactFactory(workspace=workspace)
    VoteFactory(contact=both, feature=named)
    VoteFactory(contact=both, feature=secret)
    VoteFactory(contact=only_secret, feature=secret)

    ship(release, pm)

    rows = loop_rows(workspace)
    assert list(rows) == [f"contact:{both.pk}"]
    assert [f["name"] for f in rows[f"contact:{both.pk}"].context["features"]] == ["Alerts"]


def test_confirmed_changelog_subscribers_get_the_release_announcement(workspace, product, release, pm):
    scoped(release, "Alerts")
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)
    now = timezone.now()

    def subscriber(email, **fields):
        stakeholder = Stakeholder.objects.create(
            workspace=workspace, kind="external", email=email, audience="customer", **fields
        )
        Subscription.objects.create(
            workspace=workspace, stakeholder=stakeholder, product=product, cadence="immediate"
        )
        return stakeholder

    confirmed = subscriber("fan@example.com", confirmed_at=now)
    subscriber("pending@example.com")  # never clicked the opt-in link
    subscriber("left@example.com", confirmed_at=now, unsubscribed_at=now)

    ship(release, pm)

    (row,) = Delivery.objects.filter(kind=loop.ANNOUNCEMENT_KIND)
    event = Event.objects.get(kind="release.shipped")
    assert (row.recipient, row.dedupe_key) == ("fan@example.com", f"announce:{confirmed.pk}:{event.pk}")
    outbox_send()
    (message,) = [m for m in mail.outbox if m.to == ["fan@example.com"]]
    assert message.subject == "New release: Spring 2.4.0"
    assert "Alerts" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_announcement_when_the_changelog_is_off(workspace, product, release, pm):
    scoped(release, "Alerts")
    stakeholder = Stakeholder.objects.create(
        workspace=workspace,
        kind="external",
        email="fan@example.com",
        audience="customer",
        confirmed_at=timezone.now(),
    )
    Subscription.objects.create(
        workspace=workspace, stakeholder=stakeholder, product=product, cadence="immediate"
    )

    ship(release, pm)

    assert not Delivery.objects.filter(kind=loop.ANNOUNCEMENT_KIND).exists()


def test_internal_followers_with_immediate_cadence_get_a_short_notice(workspace, product, pm):
    feature = FeatureFactory(workspace=workspace, product=product, title="Bulk export")
    member_user = pm
    stakeholder = Stakeholder.objects.create(
        workspace=workspace,
        kind="member",
        user=member_user,
        email="pat@example.com",
        audience="engineering",
        confirmed_at=timezone.now(),
    )
    by_feature = Subscription.objects.create(
        workspace=workspace, stakeholder=stakeholder, feature=feature, cadence="immediate"
    )
    Subscription.objects.create(
        workspace=workspace, stakeholder=stakeholder, product=product, cadence="immediate"
    )
    Subscription.objects.create(
        workspace=workspace, stakeholder=stakeholder, target_workspace=workspace, cadence="weekly"
    )

    feature_change_status(feature=feature, to_status=FeatureStatus.UNDER_CONSIDERATION, actor=pm)
    events.events_consume()

    (row,) = Delivery.objects.filter(kind=loop.UPDATE_KIND)
    event = Event.objects.get(kind="feature.status_changed")
    assert (row.recipient, row.dedupe_key) == ("pat@example.com", f"update:{by_feature.pk}:{event.pk}")
    outbox_send()
    (message,) = mail.outbox
    assert message.subject == "Bulk export: Under consideration"
    assert "Bulk export moved from Idea to Under consideration." in message.body


def test_planning_a_release_costs_the_same_queries_for_five_or_fifty_contacts(workspace, pm):
    product = ProductFactory(workspace=workspace)
    company = CompanyFactory(workspace=workspace)
    company.account_owners.add(pm)

    def count(n):
        release = ReleaseFactory(product=product)
        feature = scoped(release, f"Feature {n}")
        for _ in range(n):
            VoteFactory(contact=ContactFactory(workspace=workspace, company=company), feature=feature)
        release_ship(release=release, actor=pm)
        event = Event.objects.filter(kind="release.shipped").latest("id")
        settings = CommsSettings.objects.get_or_create(workspace=workspace)[0]
        with CaptureQueriesContext(connection) as queries:
            rows = loop.release_loop_rows(workspace=workspace, event=event, settings=settings)
        assert len([r for r in rows if r["kind"] == loop.LOOP_KIND]) == n
        return len(queries)

    count(2)  # the owner's stakeholder row is made the first time
    assert count(5) == count(50)


def test_previews_count_who_will_be_told_and_write_nothing(workspace, release, pm, member):
    feature = scoped(release, "Bulk export")
    globex = CompanyFactory(workspace=workspace, name="Globex")
    told = ContactFactory(workspace=workspace, name="Ada", email="ada@globex.example", company=globex)
    VoteFactory(contact=told, feature=feature)
    requested(ContactFactory(workspace=workspace, company=globex), feature)
    VoteFactory(contact=ContactFactory(workspace=workspace, unsubscribed_at=timezone.now()), feature=feature)

    preview = loop.loop_preview_for_release(release=release, actor=pm)

    assert (preview["contacts"], preview["companies"], preview["suppressed"]) == (
        1,
        1,
        {"no_consent": 1, "unsubscribed": 1, "do_not_contact": 0},
    )
    assert preview["sample"][0]["email"] == "ada@globex.example"
    assert preview["sample"][0]["features"] == ["Bulk export"]
    assert preview["features"] == [
        {"id": feature.pk, "title": "Bulk export (internal)", "customer_title": "Bulk export"}
    ]

    notice = loop.loop_preview_for_feature(
        feature=feature, outcome="shipped", customer_message="Try it **now**.", actor=pm
    )["notice"]
    assert notice["subject"] == "Shipped: Bulk export"
    assert "Try it **now**." in notice["text"]
    assert "<strong>now</strong>" in notice["html"]
    assert not Delivery.objects.exists()
    assert not Stakeholder.objects.exists()

    with pytest.raises(Forbidden):
        loop.loop_preview_for_release(release=release, actor=member(workspace, Role.CONTRIBUTOR).user)
    with pytest.raises(ValidationFailed) as bad:
        loop.loop_preview_for_feature(feature=feature, outcome="planned", customer_message="", actor=pm)
    assert (bad.value.attr, bad.value.code) == ("outcome", "invalid_choice")
    with pytest.raises(ValidationFailed) as long:
        loop.loop_preview_for_feature(
            feature=feature, outcome="shipped", customer_message="x" * 2001, actor=pm
        )
    assert (long.value.attr, long.value.code) == ("customer_message", "max_length")


def test_the_customer_message_is_stored_and_capped(workspace, pm):
    feature = FeatureFactory(workspace=workspace, product=ProductFactory(workspace=workspace))

    with pytest.raises(ValidationFailed) as refused:
        feature_change_status(
            feature=feature,
            to_status=FeatureStatus.UNDER_CONSIDERATION,
            actor=pm,
            customer_message="x" * 2001,
        )
    assert (refused.value.attr, refused.value.code) == ("customer_message", "max_length")
    assert not Event.objects.exists()
    assert not feature.status_changes.exists()

    feature_change_status(
        feature=feature, to_status=FeatureStatus.UNDER_CONSIDERATION, actor=pm, customer_message=" Soon. "
    )
    change = feature.status_changes.get()
    event = Event.objects.get()
    assert change.customer_message == "Soon."
    assert (event.kind, event.subject_id) == ("feature.status_changed", str(feature.pk))
    assert event.payload == {
        "feature": {
            "id": feature.pk,
            "title": feature.title,
            "public_title": "",
            "product_id": feature.product_id,
            "is_public": False,
        },
        "from": "idea",
        "to": "under_consideration",
        "release": None,
        "customer_message": "Soon.",
        "status_change_id": change.pk,
    }
