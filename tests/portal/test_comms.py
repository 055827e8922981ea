"""The comms pages of the portal: stakeholders and subscriptions, the digest preview and its
"send test to me", the delivery log with retry, webhook endpoints and thresholds, the comms
settings, the ship confirmation's "who will be told" and the feature status form's message
to customers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comms import services as comms_services
from comms.models import CommsSettings, Stakeholder, Subscription
from productops.models import AuditEvent, Event, Role
from productops.outbox.models import Delivery, DeliveryState
from tests.feedback.factories import ContactFactory
from tests.portal.test_releases import assert_strict_csp_ready, assert_unique_ids
from tests.productops.factories import MembershipFactory, UserFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.content.decode()[:3000]
    return response.content.decode()


def audit_count():
    return AuditEvent.objects.count()


def count_queries(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content.decode()[:2000]
    return len(queries)


def external(workspace, email="ceo@example.org", audience="executive", name=""):
    return comms_services.stakeholder_create(
        workspace=workspace,
        actor=None,
        data={"kind": "external", "email": email, "audience": audience, "name": name},
    )


def subscribe(stakeholder, **data):
    values = {"target_workspace": stakeholder.workspace, "cadence": "weekly", **data}
    return comms_services.subscription_create(
        workspace=stakeholder.workspace, actor=None, data={"stakeholder": stakeholder, **values}
    )


def delivery(workspace, n=0, **fields):
    values = {
        "workspace": workspace,
        "dedupe_key": f"test:{n}:{timezone.now().timestamp()}",
        "kind": "comms.digest",
        "channel": "email",
        "recipient": f"reader{n}@example.org",
        "recipient_ref": f"stakeholder:{n}",
        "subject": f"Weekly digest {n}",
        **fields,
    }
    return Delivery.objects.create(**values)


# --- access ----------------------------------------------------------------------------------


def _comms_pages(workspace):
    stakeholder = external(workspace)
    subscription = subscribe(stakeholder)
    row = delivery(workspace)
    base = f"/w/{workspace.slug}"
    return {
        Role.PRODUCT_MANAGER: [
            f"{base}/comms/stakeholders/",
            f"{base}/comms/stakeholders/{stakeholder.pk}/",
            f"{base}/comms/deliveries/",
            f"{base}/comms/deliveries/{row.pk}/",
            f"{base}/comms/deliveries/{row.pk}/html/",
            f"{base}/settings/comms/",
        ],
        Role.ADMIN: [f"{base}/settings/webhooks/"],
        "subscription": subscription,
    }


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, set()),
        (Role.CONTRIBUTOR, set()),
        (Role.PRODUCT_MANAGER, {Role.PRODUCT_MANAGER}),
        (Role.ADMIN, {Role.PRODUCT_MANAGER, Role.ADMIN}),
    ],
)
def test_pages_render_for_their_role_and_refuse_lower_ones(portal_client, workspace, role, allowed):
    client, _ = portal_client(workspace, role)
    pages = _comms_pages(workspace)
    for needed in (Role.PRODUCT_MANAGER, Role.ADMIN):
        for path in pages[needed]:
            assert client.get(path).status_code == (200 if needed in allowed else 403), path


def test_non_members_get_404_and_anonymous_visitors_the_sign_in_page(
    client, workspace, other_workspace, member
):
    pages = _comms_pages(workspace)
    outsider = member(other_workspace, Role.OWNER).user
    client.force_login(outsider)
    for path in pages[Role.PRODUCT_MANAGER] + pages[Role.ADMIN]:
        assert client.get(path).status_code == 404, path
    client.logout()
    response = client.get(pages[Role.PRODUCT_MANAGER][0])
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_nav_links_comms_for_product_managers_only(portal_client, workspace):
    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    dashboard = f"/w/{workspace.slug}/"
    assert f'<a href="/w/{workspace.slug}/comms/stakeholders/">Comms</a>' in page(manager, dashboard)
    assert "/comms/stakeholders/" not in page(contributor, dashboard)
    content = page(manager, f"/w/{workspace.slug}/comms/stakeholders/")
    assert f'<a href="/w/{workspace.slug}/comms/stakeholders/" aria-current="page">Comms</a>' in content
    assert (
        f'<a href="/w/{workspace.slug}/comms/stakeholders/" aria-current="page">Stakeholders</a>' in content
    )
    settings = page(manager, f"/w/{workspace.slug}/settings/comms/")
    assert f'<a href="/w/{workspace.slug}/settings/comms/" aria-current="page">Comms</a>' in settings
    # The releases settings link is no longer lit by every settings-* page.
    assert 'aria-current="page">Releases</a>' not in settings


# --- stakeholders ------------------------------------------------------------------------------


def test_the_list_filters_by_audience(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    ceo = external(workspace, "ceo@example.org", "executive", "Carla CEO")
    rep = external(workspace, "rep@example.org", "sales", "Sam Sales")
    subscribe(ceo)

    everyone = page(client, f"/w/{workspace.slug}/comms/stakeholders/")
    assert f'<a href="/w/{workspace.slug}/comms/stakeholders/{ceo.pk}/">Carla CEO</a>' in everyone
    assert f'<a href="/w/{workspace.slug}/comms/stakeholders/{rep.pk}/">Sam Sales</a>' in everyone
    assert "2 stakeholders" in everyone
    sales = page(client, f"/w/{workspace.slug}/comms/stakeholders/?audience=sales")
    assert "Sam Sales" in sales
    assert "Carla CEO" not in sales
    assert "1 stakeholder<" in sales


def test_a_product_manager_adds_a_member_a_contact_and_an_external_address(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    colleague = member(workspace, Role.VIEWER, first_name="Vera", last_name="Viewer").user
    contact = ContactFactory(workspace=workspace, email="buyer@customer.example", name="Bea Buyer")
    path = f"/w/{workspace.slug}/comms/stakeholders/new/"

    response = client.post(path, {"kind": "member", "user": colleague.pk, "audience": "engineering"})
    made = Stakeholder.objects.get(user=colleague)
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/comms/stakeholders/{made.pk}/#subscribe"
    assert (made.kind, made.email, made.name, made.audience) == (
        "member",
        colleague.email,
        "Vera Viewer",
        "engineering",
    )

    client.post(path, {"kind": "contact", "email": "BUYER@customer.example", "audience": "customer"})
    by_contact = Stakeholder.objects.get(contact=contact)
    assert (by_contact.kind, by_contact.email, by_contact.name) == (
        "contact",
        "buyer@customer.example",
        "Bea Buyer",
    )

    client.post(
        path,
        {"kind": "external", "email": "Board@Investor.example", "name": "The board", "audience": "executive"},
    )
    outside = Stakeholder.objects.get(kind="external")
    assert (outside.email, outside.name, outside.audience) == (
        "board@investor.example",
        "The board",
        "executive",
    )
    assert "“The board” added: now choose what they follow." in page(
        client, f"/w/{workspace.slug}/comms/stakeholders/{outside.pk}/"
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"kind": "external", "email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"kind": "external", "email": ""}, "email", "Enter an e-mail address."),
        ({"kind": "member"}, "user", "Choose a member."),
        (
            {"kind": "contact", "email": "nobody@nowhere.example"},
            "email",
            "No customer contact of this workspace has this address.",
        ),
        (
            {"kind": "external", "email": "a@example.org", "audience": "pundits"},
            "audience",
            "Select a valid choice.",
        ),
        ({"kind": "alien", "email": "a@example.org"}, "kind", "Select a valid choice."),
    ],
)
def test_bad_stakeholders_are_refused_inline_and_nothing_is_written(
    portal_client, workspace, data, field, message
):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    before = audit_count()
    response = client.post(f"/w/{workspace.slug}/comms/stakeholders/new/", {"audience": "sales", **data})
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert 'class="field field-invalid"' in content or "field-invalid" in content
    assert not Stakeholder.objects.exists()
    assert audit_count() == before
    assert_strict_csp_ready(content)


def test_a_taken_address_or_a_non_members_account_is_the_services_error(
    portal_client, workspace, other_workspace
):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    external(workspace, "ceo@example.org")
    stranger = MembershipFactory(workspace=other_workspace, user=UserFactory()).user
    path = f"/w/{workspace.slug}/comms/stakeholders/new/"

    taken = client.post(path, {"kind": "external", "email": "CEO@example.org", "audience": "sales"})
    assert taken.status_code == 400
    assert "A stakeholder with this e-mail address already exists." in taken.content.decode()
    foreign = client.post(path, {"kind": "member", "user": stranger.pk, "audience": "sales"})
    assert foreign.status_code == 400
    assert "Select a valid choice." in foreign.content.decode()
    foreign_contact = ContactFactory(workspace=other_workspace, email="theirs@example.org")
    by_address = client.post(path, {"kind": "contact", "email": foreign_contact.email, "audience": "sales"})
    assert "No customer contact of this workspace has this address." in by_address.content.decode()
    assert Stakeholder.objects.count() == 1


def test_a_stakeholder_is_edited_resubscribed_and_deleted(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace, "ceo@example.org", "executive", "Carla")
    comms_services.stakeholder_unsubscribe(stakeholder=stakeholder)
    subscribe(stakeholder)
    base = f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/"
    content = page(client, base)
    assert "Unsubscribed" in content
    assert "Resubscribe" in content

    response = client.post(
        base + "edit/",
        {"name": "Carla C.", "audience": "sales", "email": "carla@example.org", "resubscribe": "on"},
    )
    assert response.status_code == 302
    stakeholder.refresh_from_db()
    assert (stakeholder.name, stakeholder.audience, stakeholder.email, stakeholder.unsubscribed_at) == (
        "Carla C.",
        "sales",
        "carla@example.org",
        None,
    )

    bad = client.post(base + "edit/", {"name": "X", "audience": "sales", "email": "nope"})
    assert bad.status_code == 400
    assert "Enter a valid email address." in bad.content.decode()
    stakeholder.refresh_from_db()
    assert stakeholder.name == "Carla C."

    deleted = client.post(base + "delete/")
    assert deleted.status_code == 302
    assert deleted["Location"] == f"/w/{workspace.slug}/comms/stakeholders/"
    assert not Stakeholder.objects.exists()
    assert not Subscription.objects.exists()


def test_a_members_address_is_not_edited_here(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    user = member(workspace, Role.VIEWER).user
    stakeholder = comms_services.stakeholder_create(
        workspace=workspace, actor=None, data={"kind": "member", "user": user, "audience": "engineering"}
    )
    content = page(client, f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/")
    assert 'name="email"' not in content.split('id="edit"')[1].split("</details>")[0]
    client.post(
        f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/edit/",
        {"name": "", "audience": "sales", "email": "other@example.org"},
    )
    stakeholder.refresh_from_db()
    assert (stakeholder.email, stakeholder.audience) == (user.email, "sales")


# --- subscriptions ------------------------------------------------------------------------------


def test_subscribe_to_a_product_weekly_in_a_time_zone(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace, name="Carla")
    product = ProductFactory(workspace=workspace, name="Core")
    base = f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/"

    response = client.post(
        base + "subscriptions/",
        {
            "follow": "product",
            "product": product.pk,
            "channel": "email",
            "cadence": "weekly",
            "time_zone": "Europe/Paris",
            "local_hour": "8",
            "weekday": "5",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == base + "#subscriptions"
    subscription = Subscription.objects.get()
    assert (
        subscription.product,
        subscription.cadence,
        subscription.time_zone,
        subscription.local_hour,
        subscription.weekday,
    ) == (product, "weekly", "Europe/Paris", 8, 5)
    assert subscription.next_due_at is not None
    content = page(client, base)
    assert "Carla now follows product: core." in content
    assert "<td>Product: Core</td>" in content
    assert "Weekly, Friday 08:00 Europe/Paris" in content
    assert f'href="/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/"' in content


def test_subscribe_to_the_workspace_and_to_a_feature(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), title="Bulk export")
    path = f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/subscriptions/"
    common = {"channel": "email", "cadence": "daily", "time_zone": "UTC", "local_hour": "9", "weekday": "1"}
    # The pickers of the other kinds are ignored.
    client.post(path, {**common, "follow": "target_workspace", "feature": feature.pk})
    client.post(path, {**common, "follow": "feature", "feature": feature.pk})
    rows = list(Subscription.objects.order_by("id"))
    assert [(s.target_workspace, s.feature) for s in rows] == [(workspace, None), (None, feature)]


def test_the_feature_to_follow_is_a_searchable_picker(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product, title="Bulk export")
    FeatureFactory(product=product, title="Dark mode")
    theirs = FeatureFactory(product=ProductFactory(workspace=other_workspace), title="Their feature")
    base = f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/"
    form = page(client, base).split('id="subscribe-h"')[1].split("</form>")[0]
    assert f'hx-get="/w/{workspace.slug}/pick/features/?field=feature"' in form
    assert '<datalist id="subscribe-feature-options"></datalist>' in form
    for title in ("Bulk export", "Dark mode"):
        assert title not in form  # no list of every feature

    path = base + "subscriptions/"
    common = {**SUBSCRIPTION, "follow": "feature"}
    before = audit_count()
    for value, message in [
        (f"#{theirs.pk} Their feature", f"No single match for “#{theirs.pk} Their feature”"),
        ("No such feature", "No single match for “No such feature”"),
        ("", "Choose the feature to follow."),
    ]:
        response = client.post(path, {**common, "feature": value})
        assert response.status_code == 400
        assert message in response.content.decode()
        assert "field-invalid" in response.content.decode()
    assert not Subscription.objects.exists()
    assert audit_count() == before
    assert client.post(path, {**common, "feature": f"#{feature.pk} Bulk export"}).status_code == 302
    assert client.post(path, {**common, "feature": "bulk export", "cadence": "daily"}).status_code == 302
    assert [s.feature for s in Subscription.objects.order_by("id")] == [feature, feature]


SUBSCRIPTION = {
    "follow": "target_workspace",
    "channel": "email",
    "cadence": "weekly",
    "time_zone": "UTC",
    "local_hour": "9",
    "weekday": "1",
}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "Mars/Olympus is not a known time zone"),
        ({"local_hour": "24"}, "Ensure this value is between 0 and 23."),
        ({"local_hour": "-1"}, "Ensure this value is between 0 and 23."),
        ({"weekday": "8"}, "Select a valid choice."),
        (
            {"channel": "slack", "slack_url": "http://hooks.slack.com/services/T0/B0/x"},
            "The URL must use https://.",
        ),
        ({"channel": "slack", "slack_url": "https://example.com/hook"}, "https://hooks.slack.com/"),
        ({"channel": "slack", "slack_url": ""}, "A Slack subscription needs a Slack URL."),
        ({"follow": "product"}, "Choose the product to follow."),
        ({"cadence": "hourly"}, "Select a valid choice."),
    ],
)
def test_bad_subscriptions_are_refused_inline_and_nothing_is_written(portal_client, workspace, data, message):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    before = audit_count()
    response = client.post(
        f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/subscriptions/", {**SUBSCRIPTION, **data}
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert "field-invalid" in content
    assert not Subscription.objects.exists()
    assert audit_count() == before
    assert_strict_csp_ready(content)
    assert_unique_ids(content)


def test_a_slack_subscription_on_hooks_slack_com_is_accepted(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    response = client.post(
        f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/subscriptions/",
        {**SUBSCRIPTION, "channel": "slack", "slack_url": url},
    )
    assert response.status_code == 302
    assert Subscription.objects.get().slack_url == url


def test_another_workspaces_object_cannot_be_followed(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    theirs = ProductFactory(workspace=other_workspace)
    response = client.post(
        f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/subscriptions/",
        {**SUBSCRIPTION, "follow": "product", "product": theirs.pk},
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Subscription.objects.exists()


def test_a_subscription_is_edited_paused_and_deleted(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    subscription = subscribe(stakeholder)
    base = f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/"
    response = client.post(
        base + "edit/",
        {
            "channel": "email",
            "cadence": "daily",
            "time_zone": "America/New_York",
            "local_hour": "17",
            "weekday": "1",
        },
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (
        subscription.cadence,
        subscription.time_zone,
        subscription.local_hour,
        subscription.is_active,
    ) == (
        "daily",
        "America/New_York",
        17,
        False,  # the box was not ticked: paused
    )
    assert subscription.next_due_at is None

    bad = client.post(
        base + "edit/",
        {
            "channel": "email",
            "cadence": "daily",
            "time_zone": "UTC",
            "local_hour": "24",
            "weekday": "1",
            "is_active": "on",
        },
    )
    assert bad.status_code == 400
    content = bad.content.decode()
    assert "Ensure this value is between 0 and 23." in content
    assert f'id="sub-{subscription.pk}-local_hour"' in content
    subscription.refresh_from_db()
    assert (subscription.local_hour, subscription.time_zone) == (17, "America/New_York")

    deleted = client.post(base + "delete/")
    assert deleted.status_code == 302
    assert deleted["Location"] == f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/#subscriptions"
    assert not Subscription.objects.exists()


def test_writes_need_a_product_manager(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    stakeholder = external(workspace)
    subscription = subscribe(stakeholder)
    before = audit_count()
    for path, data in [
        (
            f"/w/{workspace.slug}/comms/stakeholders/new/",
            {"kind": "external", "email": "x@example.org", "audience": "sales"},
        ),
        (
            f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/edit/",
            {"name": "X", "audience": "sales", "email": "x@example.org"},
        ),
        (f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/delete/", {}),
        (f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/subscriptions/", SUBSCRIPTION),
        (f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/edit/", SUBSCRIPTION),
        (f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/delete/", {}),
        (f"/w/{workspace.slug}/settings/comms/", {"digest_rank_moves": "3"}),
    ]:
        assert client.post(path, data).status_code == 403, path
    assert audit_count() == before
    assert Stakeholder.objects.count() == 1
    assert Subscription.objects.count() == 1


def test_another_workspaces_stakeholders_subscriptions_and_deliveries_are_404(
    portal_client, workspace, other_workspace
):
    client, _ = portal_client(workspace, Role.ADMIN)
    theirs = external(other_workspace, "theirs@example.org")
    their_subscription = subscribe(theirs)
    their_delivery = delivery(other_workspace, state=DeliveryState.FAILED)
    base = f"/w/{workspace.slug}"
    for path in [
        f"{base}/comms/stakeholders/{theirs.pk}/",
        f"{base}/comms/deliveries/{their_delivery.pk}/",
        f"{base}/comms/deliveries/{their_delivery.pk}/html/",
    ]:
        assert client.get(path).status_code == 404, path
    for path in [
        f"{base}/comms/stakeholders/{theirs.pk}/edit/",
        f"{base}/comms/stakeholders/{theirs.pk}/delete/",
        f"{base}/comms/stakeholders/{theirs.pk}/subscriptions/",
        f"{base}/comms/subscriptions/{their_subscription.pk}/edit/",
        f"{base}/comms/subscriptions/{their_subscription.pk}/delete/",
        f"{base}/comms/deliveries/{their_delivery.pk}/retry/",
    ]:
        assert client.post(path, SUBSCRIPTION).status_code == 404, path
    # Bulk retry ignores another workspace's ids.
    client.post(f"{base}/comms/deliveries/retry/", {"ids": [their_delivery.pk]})
    their_delivery.refresh_from_db()
    assert their_delivery.state == DeliveryState.FAILED
    assert Stakeholder.objects.filter(pk=theirs.pk).exists()
    assert Subscription.objects.filter(pk=their_subscription.pk).exists()


# --- the delivery log -------------------------------------------------------------------------------


def test_the_log_lists_newest_first_and_filters(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    now = timezone.now()
    event = Event.objects.create(
        workspace=workspace,
        kind="release.shipped",
        subject_type="releases.release",
        subject_id="1",
        occurred_at=now,
    )
    sent = delivery(workspace, 1, state=DeliveryState.SENT, sent_at=now, created_at=now - timedelta(hours=2))
    failed = delivery(
        workspace,
        2,
        kind="comms.loop",
        state=DeliveryState.FAILED,
        attempts=8,
        last_error="SMTP 550 mailbox unavailable",
        event=event,
        created_at=now - timedelta(hours=1),
    )
    hook = delivery(
        workspace,
        3,
        kind="webhook.event",
        channel="webhook",
        recipient="https://hooks.example.com/in",
        recipient_ref="endpoint:9",
        created_at=now,
    )
    quiet = delivery(
        workspace,
        4,
        kind="comms.loop",
        state=DeliveryState.SUPPRESSED,
        suppressed_reason="no_consent",
        event=event,
        created_at=now - timedelta(hours=3),
    )
    delivery(other_workspace, 5, subject="Theirs")
    path = f"/w/{workspace.slug}/comms/deliveries/"

    content = page(client, path)
    assert "4 deliveries" in content
    assert "Theirs" not in content
    order = [content.index(f'id="delivery-{d.pk}"') for d in (hook, failed, sent, quiet)]
    assert order == sorted(order)
    assert "SMTP 550 mailbox unavailable" in content
    assert "No consent to e-mail" in content
    # Only the failed row can be picked for a retry.
    assert f'name="ids" value="{failed.pk}"' in content
    assert f'name="ids" value="{sent.pk}"' not in content

    def ids(query):
        text = page(client, path + query)
        return {d.pk for d in (sent, failed, hook, quiet) if f'id="delivery-{d.pk}"' in text}

    assert ids("?state=failed") == {failed.pk}
    assert ids("?channel=webhook") == {hook.pk}
    assert ids("?kind=comms.loop") == {failed.pk, quiet.pk}
    assert ids("?recipient=READER1@example.org") == {sent.pk}
    assert ids(f"?event={event.pk}") == {failed.pk, quiet.pk}
    assert ids("?ref=endpoint:9") == {hook.pk}
    assert ids("?kind=comms.loop&state=suppressed") == {quiet.pk}
    # An invalid filter is shown and ignored.
    assert ids("?state=lost") == {sent.pk, failed.pk, hook.pk, quiet.pk}


def test_the_log_is_paginated_keeping_the_filters(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    for n in range(55):
        delivery(workspace, n, state=DeliveryState.SENT)
    content = page(client, f"/w/{workspace.slug}/comms/deliveries/?state=sent")
    assert "Page 1 of 2" in content
    assert 'href="?state=sent&amp;page=2"' in content
    assert content.count('<tr id="delivery-') == 50


def test_a_delivery_shows_exactly_what_was_stored(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    row = delivery(
        workspace,
        1,
        state=DeliveryState.SENT,
        body_text="Hello <you>,\nBulk export rose from #7 to #2.",
        body_html=(
            '<html><body><p style="color:red" onclick="alert(1)">Bulk export</p>'
            "<script>alert(2)</script></body></html>"
        ),
        headers={"List-Unsubscribe": "<https://example.org/u/x>", "Message-ID": "<abc@productops>"},
        payload={"moves": [{"feature": 3, "from": 7, "to": 2}]},
        provider_message_id="prov-123",
        attempts=1,
        sent_at=timezone.now(),
        rendered_at=timezone.now(),
    )
    content = page(client, f"/w/{workspace.slug}/comms/deliveries/{row.pk}/")
    assert "Hello &lt;you&gt;,\nBulk export rose from #7 to #2." in content
    # The HTML source is shown escaped, and the part itself only in a sandboxed frame.
    assert (
        "&lt;p style=&quot;color:red&quot; onclick=&quot;alert(1)&quot;&gt;Bulk export&lt;/p&gt;" in content
    )
    assert (
        f'<iframe class="email-frame" src="/w/{workspace.slug}/comms/deliveries/{row.pk}/html/" sandbox'
        in content
    )
    assert "&quot;List-Unsubscribe&quot;: &quot;&lt;https://example.org/u/x&gt;&quot;" in content
    assert "&quot;to&quot;: 2" in content
    assert "prov-123" in content
    assert "Retry</button>" not in content  # sent: nothing to retry
    assert_strict_csp_ready(content)

    frame = client.get(f"/w/{workspace.slug}/comms/deliveries/{row.pk}/html/")
    assert frame.status_code == 200
    assert frame.content.decode() == row.body_html
    assert frame["Content-Security-Policy"].startswith("sandbox; default-src 'none';")
    assert "script-src" not in frame["Content-Security-Policy"]
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    assert frame["Cache-Control"] == "no-store"


def test_a_webhook_delivery_shows_its_exact_body(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    body = '{"id":"evt_1","type":"webhook.test","data":{}}'
    row = delivery(
        workspace,
        1,
        kind="webhook.event",
        channel="webhook",
        recipient="https://hooks.example.com/in",
        body_text=body,
        headers={"webhook-id": "evt_1"},
    )
    content = page(client, f"/w/{workspace.slug}/comms/deliveries/{row.pk}/")
    assert "Body, exactly as posted" in content
    assert (
        "{&quot;id&quot;:&quot;evt_1&quot;,&quot;type&quot;:&quot;webhook.test&quot;,&quot;data&quot;:{}}"
        in content
    )
    assert "&quot;webhook-id&quot;: &quot;evt_1&quot;" in content


def test_a_failed_delivery_is_retried_and_another_is_refused(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    failed = delivery(workspace, 1, state=DeliveryState.FAILED, attempts=8, last_error="timeout")
    sent = delivery(workspace, 2, state=DeliveryState.SENT)
    detail = page(client, f"/w/{workspace.slug}/comms/deliveries/{failed.pk}/")
    assert "Retry</button>" in detail
    assert "timeout" in detail

    response = client.post(f"/w/{workspace.slug}/comms/deliveries/{failed.pk}/retry/")
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/comms/deliveries/{failed.pk}/"
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (DeliveryState.PENDING, 0)
    assert "queued again" in page(client, response["Location"])

    before = audit_count()
    refused = client.post(f"/w/{workspace.slug}/comms/deliveries/{sent.pk}/retry/")
    assert refused.status_code == 302
    assert "Only a failed delivery can be retried." in page(client, refused["Location"])
    sent.refresh_from_db()
    assert sent.state == DeliveryState.SENT
    assert audit_count() == before


def test_bulk_retry_requeues_the_selected_failed_rows_only(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    first = delivery(workspace, 1, state=DeliveryState.FAILED, attempts=8)
    second = delivery(workspace, 2, state=DeliveryState.FAILED, attempts=8)
    left = delivery(workspace, 3, state=DeliveryState.FAILED, attempts=8)
    sent = delivery(workspace, 4, state=DeliveryState.SENT)
    back = f"/w/{workspace.slug}/comms/deliveries/?state=failed"
    response = client.post(
        f"/w/{workspace.slug}/comms/deliveries/retry/", {"ids": [first.pk, second.pk, sent.pk], "next": back}
    )
    assert response.status_code == 302
    assert response["Location"] == back
    states = {d.pk: d.state for d in Delivery.objects.all()}
    assert states == {
        first.pk: DeliveryState.PENDING,
        second.pk: DeliveryState.PENDING,
        left.pk: DeliveryState.FAILED,
        sent.pk: DeliveryState.SENT,
    }
    assert "2 failed deliveries queued again." in page(client, back)

    # Nothing selected, or a foreign "next": refused and back to the log.
    empty = client.post(f"/w/{workspace.slug}/comms/deliveries/retry/", {"next": "https://evil.example/"})
    assert empty["Location"] == f"/w/{workspace.slug}/comms/deliveries/"
    assert "Select the failed deliveries to retry." in page(client, empty["Location"])


def test_retry_needs_a_product_manager(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    failed = delivery(workspace, 1, state=DeliveryState.FAILED)
    assert client.post(f"/w/{workspace.slug}/comms/deliveries/{failed.pk}/retry/").status_code == 403
    assert (
        client.post(f"/w/{workspace.slug}/comms/deliveries/retry/", {"ids": [failed.pk]}).status_code == 403
    )
    failed.refresh_from_db()
    assert failed.state == DeliveryState.FAILED


# --- settings --------------------------------------------------------------------------------------


def test_a_product_manager_reads_the_settings_and_an_admin_changes_them(portal_client, workspace):
    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    content = page(manager, f"/w/{workspace.slug}/settings/comms/")
    assert "No: only contacts who verified on the board, and voters" in content
    assert 'name="digest_rank_moves"' not in content
    assert "An admin changes these." in content

    admin, _ = portal_client(workspace, Role.ADMIN)
    response = admin.post(
        f"/w/{workspace.slug}/settings/comms/", {"notify_imported_contacts": "on", "digest_rank_moves": "7"}
    )
    assert response.status_code == 302
    row = CommsSettings.objects.get(workspace=workspace)
    assert (row.notify_imported_contacts, row.digest_rank_moves) == (True, 7)
    assert "Comms settings saved." in page(admin, f"/w/{workspace.slug}/settings/comms/")


@pytest.mark.parametrize("moves", ["0", "51", "many"])
def test_bad_settings_are_refused_inline(portal_client, workspace, moves):
    admin, _ = portal_client(workspace, Role.ADMIN)
    before = audit_count()
    response = admin.post(f"/w/{workspace.slug}/settings/comms/", {"digest_rank_moves": moves})
    assert response.status_code == 400
    assert "field-invalid" in response.content.decode()
    assert not CommsSettings.objects.filter(workspace=workspace, digest_rank_moves__in=[0, 51]).exists()
    assert audit_count() == before


# --- query counts and strict CSP --------------------------------------------------------------------


def test_the_stakeholder_list_query_count_does_not_grow_with_rows(portal_client, workspace, member):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    path = f"/w/{workspace.slug}/comms/stakeholders/"
    subscribe(external(workspace, "a0@example.org"))
    member(workspace, Role.VIEWER)
    few = count_queries(client, path)
    for n in range(1, 15):
        subscribe(external(workspace, f"a{n}@example.org", audience="sales"))
        member(workspace, Role.VIEWER)
    assert count_queries(client, path) == few
    assert count_queries(client, path + "?audience=sales") == few


def test_the_stakeholder_page_query_count_does_not_grow_with_subscriptions(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace)
    product = ProductFactory(workspace=workspace)
    subscribe(stakeholder, target_workspace=None, product=product)
    path = f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/"
    few = count_queries(client, path)
    for _ in range(6):
        subscribe(stakeholder, target_workspace=None, product=ProductFactory(workspace=workspace))
        subscribe(stakeholder, target_workspace=None, feature=FeatureFactory(product=product))
    assert Subscription.objects.count() == 13
    assert count_queries(client, path) == few


def test_the_delivery_log_query_count_does_not_grow_with_rows(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    path = f"/w/{workspace.slug}/comms/deliveries/"
    delivery(workspace, 0, state=DeliveryState.FAILED)
    few = count_queries(client, path)
    for n in range(1, 30):
        delivery(workspace, n, state=DeliveryState.FAILED if n % 2 else DeliveryState.SENT)
    assert count_queries(client, path) == few
    assert count_queries(client, path + "?state=failed") == few


def test_comms_pages_have_no_inline_script_handler_or_style(portal_client, workspace):
    client, _ = portal_client(workspace, Role.ADMIN)
    stakeholder = external(workspace, name="<b>Evil</b>")
    subscribe(stakeholder)
    row = delivery(
        workspace, body_html='<p style="x" onload="y">hi</p><script>z()</script>', body_text="<script>"
    )
    for path in [
        f"/w/{workspace.slug}/comms/stakeholders/",
        f"/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/",
        f"/w/{workspace.slug}/comms/deliveries/",
        f"/w/{workspace.slug}/comms/deliveries/{row.pk}/",
        f"/w/{workspace.slug}/settings/comms/",
        f"/w/{workspace.slug}/settings/webhooks/",
    ]:
        content = page(client, path)
        assert_strict_csp_ready(content)
        assert_unique_ids(content)
        assert "<b>Evil" not in content
    assert (
        re.search(r"<script>z\(\)</script>", page(client, f"/w/{workspace.slug}/comms/deliveries/{row.pk}/"))
        is None
    )


# --- webhooks ------------------------------------------------------------------------------------

ENDPOINT = {
    "name": "Zapier",
    "url": "https://hooks.example.com/in",
    "format": "standard",
    "event_types": ["release.shipped", "feature.status_changed"],
    "rank_top_n": "10",
    "is_active": "on",
}


@pytest.fixture
def public_dns(monkeypatch):
    """Resolve every name to a public address (the tests run without DNS); literal addresses
    stay what they are."""
    import ipaddress
    import socket

    def resolve(host, port, *args, **kwargs):
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            address = "93.184.215.14"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def make_endpoint(workspace, **data):
    from comms import webhooks

    endpoint, _ = webhooks.webhook_endpoint_create(
        workspace=workspace, actor=None, data={**ENDPOINT, "is_active": True, "rank_top_n": 10, **data}
    )
    return endpoint


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(portal_client, workspace, public_dns):
    from comms.models import WebhookEndpoint

    client, _ = portal_client(workspace, Role.ADMIN)
    response = client.post(f"/w/{workspace.slug}/settings/webhooks/new/", ENDPOINT)
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/settings/webhooks/{endpoint.pk}/secret/"
    assert (endpoint.name, endpoint.url, endpoint.event_types, endpoint.rank_top_n, endpoint.is_active) == (
        "Zapier",
        "https://hooks.example.com/in",
        ["release.shipped", "feature.status_changed"],
        10,
        True,
    )
    shown = client.get(response["Location"])
    content = shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    assert f'value="{endpoint.secret}"' in content
    assert "it is shown only this once" in content
    # Never again: not on a reload, not on the endpoint's page, not in the list.
    again = client.get(response["Location"])
    assert again.status_code == 302
    assert again["Location"] == f"/w/{workspace.slug}/settings/webhooks/{endpoint.pk}/"
    assert endpoint.secret not in page(client, again["Location"])
    assert endpoint.secret not in page(client, f"/w/{workspace.slug}/settings/webhooks/")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"url": "http://hooks.example.com/in"}, "The URL must use https://."),
        ({"url": "https://127.0.0.1/in"}, "The URL points to a private or local address."),
        ({"url": "https://10.1.2.3/in"}, "The URL points to a private or local address."),
        ({"url": "not a url"}, "Enter a valid https:// URL."),
        ({"format": "slack", "url": "https://example.com/x"}, "https://hooks.slack.com/"),
        ({"rank_top_n": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"event_types": ["webhook.test"]}, "Select a valid choice."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_bad_endpoints_are_refused_inline_and_nothing_is_written(
    portal_client, workspace, public_dns, data, message
):
    from comms.models import WebhookEndpoint

    client, _ = portal_client(workspace, Role.ADMIN)
    before = audit_count()
    response = client.post(f"/w/{workspace.slug}/settings/webhooks/new/", {**ENDPOINT, **data})
    assert response.status_code == 400
    content = response.content.decode()
    assert message in content
    assert "field-invalid" in content
    assert not WebhookEndpoint.objects.exists()
    assert audit_count() == before
    assert_strict_csp_ready(content)


def test_an_endpoint_is_edited_rotated_tested_and_deleted(portal_client, workspace, public_dns):
    from comms.models import WebhookEndpoint

    client, _ = portal_client(workspace, Role.ADMIN)
    endpoint = make_endpoint(workspace)
    old_secret = endpoint.secret
    base = f"/w/{workspace.slug}/settings/webhooks/{endpoint.pk}/"
    content = page(client, base)
    assert "Release shipped, Feature status changed" in content
    assert old_secret not in content

    edited = client.post(
        base + "edit/",
        {**ENDPOINT, "name": "Zapier prod", "event_types": ["priority.rank_changed"], "rank_top_n": "5"},
    )
    assert edited.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.event_types, endpoint.rank_top_n) == (
        "Zapier prod",
        ["priority.rank_changed"],
        5,
    )
    bad = client.post(base + "edit/", {**ENDPOINT, "url": "http://insecure.example.com/"})
    assert bad.status_code == 400
    assert "The URL must use https://." in bad.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"

    rotated = client.post(base + "rotate/")
    assert rotated["Location"] == base + "secret/"
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    assert endpoint.previous_secret == old_secret
    shown = page(client, rotated["Location"])
    assert f'value="{endpoint.secret}"' in shown
    assert old_secret not in shown

    tested = client.post(base + "test/")
    assert tested["Location"] == base + "#recent"
    test_delivery = Delivery.objects.get(recipient_ref=f"endpoint:{endpoint.pk}")
    assert (test_delivery.kind, test_delivery.channel, test_delivery.recipient) == (
        "webhook.event",
        "webhook",
        "https://hooks.example.com/in",
    )
    recent = page(client, base)
    assert f'href="/w/{workspace.slug}/comms/deliveries/{test_delivery.pk}/"' in recent
    assert f'href="/w/{workspace.slug}/comms/deliveries/?ref=endpoint:{endpoint.pk}"' in recent

    deleted = client.post(base + "delete/")
    assert deleted["Location"] == f"/w/{workspace.slug}/settings/webhooks/"
    assert not WebhookEndpoint.objects.exists()
    # Its log stays.
    assert Delivery.objects.filter(pk=test_delivery.pk).exists()


def test_an_inactive_endpoint_refuses_a_test_event(portal_client, workspace, public_dns):
    client, _ = portal_client(workspace, Role.ADMIN)
    endpoint = make_endpoint(workspace, is_active=False)
    response = client.post(f"/w/{workspace.slug}/settings/webhooks/{endpoint.pk}/test/")
    assert "The endpoint is not active; activate it to send a test." in page(client, response["Location"])
    assert not Delivery.objects.exists()


def test_thresholds_are_added_and_deleted_and_bad_rules_refused(portal_client, workspace):
    from comms.models import Threshold

    client, _ = portal_client(workspace, Role.ADMIN)
    path = f"/w/{workspace.slug}/settings/webhooks/thresholds/"
    response = client.post(path, {"rule": "companies >= 5"})
    assert response["Location"] == f"/w/{workspace.slug}/settings/webhooks/#thresholds"
    client.post(path, {"rule": "arr >= 250k"})
    assert sorted((t.metric, int(t.value)) for t in Threshold.objects.all()) == [
        ("arr", 250000),
        ("companies", 5),
    ]
    content = page(client, f"/w/{workspace.slug}/settings/webhooks/")
    assert "<code>companies &gt;= 5</code>" in content
    assert "<code>arr &gt;= 250000</code>" in content

    before = audit_count()
    for rule, message in [
        (
            "companies > five",
            "Write a rule like &quot;companies &gt;= 5&quot; or &quot;arr &gt;= 250k&quot;.",
        ),
        ("companies >= 5", "This rule exists already."),
        ("", "This field is required."),
    ]:
        bad = client.post(path, {"rule": rule})
        assert bad.status_code == 400
        assert message in bad.content.decode(), rule
    assert Threshold.objects.count() == 2
    assert audit_count() == before

    threshold = Threshold.objects.get(metric="companies")
    deleted = client.post(f"{path}{threshold.pk}/delete/")
    assert deleted.status_code == 302
    assert list(Threshold.objects.values_list("metric", flat=True)) == ["arr"]


def test_webhooks_are_for_admins_and_another_workspaces_are_404(
    portal_client, workspace, other_workspace, public_dns
):
    from comms import webhooks
    from comms.models import Threshold, WebhookEndpoint

    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    mine = make_endpoint(workspace)
    threshold = webhooks.threshold_create(workspace=workspace, actor=None, rule="companies >= 3")
    base = f"/w/{workspace.slug}/settings/webhooks/"
    assert manager.get(base).status_code == 403
    assert manager.get(f"{base}{mine.pk}/").status_code == 403
    for path in [
        f"{base}new/",
        f"{base}{mine.pk}/edit/",
        f"{base}{mine.pk}/rotate/",
        f"{base}{mine.pk}/delete/",
        f"{base}{mine.pk}/test/",
        f"{base}thresholds/",
        f"{base}thresholds/{threshold.pk}/delete/",
    ]:
        assert manager.post(path, {**ENDPOINT, "rule": "arr >= 1"}).status_code == 403, path

    admin, _ = portal_client(workspace, Role.ADMIN)
    theirs = make_endpoint(other_workspace)
    their_threshold = webhooks.threshold_create(workspace=other_workspace, actor=None, rule="companies >= 3")
    for path in [f"{base}{theirs.pk}/", f"{base}{theirs.pk}/secret/"]:
        assert admin.get(path).status_code == 404, path
    for path in [
        f"{base}{theirs.pk}/edit/",
        f"{base}{theirs.pk}/rotate/",
        f"{base}{theirs.pk}/delete/",
        f"{base}{theirs.pk}/test/",
        f"{base}thresholds/{their_threshold.pk}/delete/",
    ]:
        assert admin.post(path, ENDPOINT).status_code == 404, path
    assert WebhookEndpoint.objects.count() == 2
    assert Threshold.objects.count() == 2
    assert not Delivery.objects.exists()


def test_the_webhooks_list_query_count_does_not_grow_with_rows(portal_client, workspace, public_dns):
    from comms import webhooks

    client, _ = portal_client(workspace, Role.ADMIN)
    path = f"/w/{workspace.slug}/settings/webhooks/"
    make_endpoint(workspace, name="e0")
    webhooks.threshold_create(workspace=workspace, actor=None, rule="companies >= 1")
    few = count_queries(client, path)
    for n in range(1, 10):
        make_endpoint(workspace, name=f"e{n}")
        webhooks.threshold_create(workspace=workspace, actor=None, rule=f"companies >= {n + 1}")
    assert count_queries(client, path) == few


def test_the_endpoint_page_query_count_does_not_grow_with_deliveries(portal_client, workspace, public_dns):
    client, _ = portal_client(workspace, Role.ADMIN)
    endpoint = make_endpoint(workspace)
    path = f"/w/{workspace.slug}/settings/webhooks/{endpoint.pk}/"
    delivery(workspace, 0, kind="webhook.event", channel="webhook", recipient_ref=f"endpoint:{endpoint.pk}")
    few = count_queries(client, path)
    for n in range(1, 25):
        delivery(
            workspace, n, kind="webhook.event", channel="webhook", recipient_ref=f"endpoint:{endpoint.pk}"
        )
    assert count_queries(client, path) == few
    assert page(client, path).count('href="/w/acme/comms/deliveries/') == 21  # 20 recent + "every delivery"


# --- who a release or a feature tells -------------------------------------------------------------


def _asked_release(workspace):
    """A release with one done feature, asked for by a voter at Globex Corp, an imported
    contact (no consent) and an unsubscribed voter."""
    from feedback.models import FeedbackItem
    from tests.feedback.factories import CompanyFactory, FeedbackItemFactory, FeedbackLinkFactory, VoteFactory
    from tests.releases.factories import ReleaseFactory, ScopeItemFactory

    release = ReleaseFactory(product=ProductFactory(workspace=workspace), name="Spring", version="2.0.0")
    item = ScopeItemFactory(release=release, state="done", feature__title="Bulk export")
    company = CompanyFactory(workspace=workspace, name="Globex Corp")
    voter = ContactFactory(
        workspace=workspace, company=company, email="vera@globex.example", name="Vera Voter"
    )
    VoteFactory(feature=item.feature, contact=voter)
    imported = ContactFactory(workspace=workspace, company=company, email="ivan@globex.example", name="Ivan")
    FeedbackLinkFactory(
        feature=item.feature,
        item=FeedbackItemFactory(workspace=workspace, contact=imported, source=FeedbackItem.Source.CSV),
    )
    gone = ContactFactory(workspace=workspace, email="gone@example.org", unsubscribed_at=timezone.now())
    VoteFactory(feature=item.feature, contact=gone)
    return release, item.feature


def test_the_ship_confirmation_says_who_will_be_told(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release, _ = _asked_release(workspace)
    content = page(client, f"/w/{workspace.slug}/releases/{release.pk}/ship/")
    told = content.split('id="told"')[1].split("</section>")[0]
    assert "<strong>1 contact</strong> at <strong>1 company</strong>" in told
    assert "<li>No consent to e-mail: 1</li>" in told
    assert "<li>Unsubscribed: 1</li>" in told
    assert "Company is do-not-contact" not in told  # no such contact: not listed
    assert "vera@globex.example" in told
    assert "No: no consent to e-mail" in told
    assert_strict_csp_ready(content)
    # Nothing was written by looking.
    assert not Delivery.objects.exists()


def test_viewers_see_the_ship_plan_without_who_will_be_told(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    release, _ = _asked_release(workspace)
    content = page(client, f"/w/{workspace.slug}/releases/{release.pk}/ship/")
    assert "What shipping does now" in content
    assert 'id="told"' not in content
    assert "vera@globex.example" not in content


def test_after_shipping_the_release_links_to_its_delivery_log(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    release, _ = _asked_release(workspace)
    told_url = f"/w/{workspace.slug}/releases/{release.pk}/told/"
    not_yet = client.get(told_url)
    assert not_yet["Location"] == f"/w/{workspace.slug}/releases/{release.pk}/"
    assert "has not shipped: nobody has been told yet." in page(client, not_yet["Location"])

    shipped = client.post(f"/w/{workspace.slug}/releases/{release.pk}/ship/", {})
    assert shipped.status_code == 302
    detail = page(client, shipped["Location"].split("#")[0])
    assert f'<a href="{told_url}">Who was told: the delivery log of this release</a>' in detail
    assert f'href="{told_url}"' in page(client, f"/w/{workspace.slug}/releases/{release.pk}/ship/")
    event = Event.objects.get(kind="release.shipped")
    response = client.get(told_url)
    assert response["Location"] == f"/w/{workspace.slug}/comms/deliveries/?event={event.pk}"


def test_a_feature_page_status_change_to_shipped_previews_the_notice_first(portal_client, workspace):
    from roadmap.models import Feature, FeatureStatusChange

    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    _, feature = _asked_release(workspace)
    Feature.objects.filter(pk=feature.pk).update(status="in_progress")
    path = f"/w/{workspace.slug}/features/{feature.pk}/status/"
    form = page(client, f"/w/{workspace.slug}/features/{feature.pk}/")
    assert 'name="customer_message"' in form
    assert "Message to customers who asked" in form

    data = {
        "status": "shipped",
        "reason": "Internal: finally done",
        "customer_message": "It is live for every plan.",
        "next": f"/w/{workspace.slug}/features/{feature.pk}/",
        "preview_loop": "1",
    }
    preview = client.post(path, data)
    assert preview.status_code == 200
    content = preview.content.decode()
    assert "<strong>1 contact</strong> at <strong>1 company</strong>" in content
    assert "It is live for every plan." in content.split('id="notice-text"')[1]
    assert "Internal: finally done" not in content.split('id="notice-text"')[1]
    assert "Mark shipped and tell 1 customer</button>" in content
    assert f'src="/w/acme/features/{feature.pk}/loop-notice/?outcome=shipped' in content
    assert_strict_csp_ready(content)
    feature.refresh_from_db()
    assert feature.status == "in_progress"  # nothing changed yet
    frame = client.get(
        content.split('<iframe class="email-frame" src="')[1].split('"')[0].replace("&amp;", "&")
    )
    assert frame.status_code == 200
    assert "It is live for every plan." in frame.content.decode()
    assert frame["Content-Security-Policy"].startswith("sandbox;")

    confirmed = client.post(path, {**data, "confirmed": "1"})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"/w/{workspace.slug}/features/{feature.pk}/"
    feature.refresh_from_db()
    assert feature.status == "shipped"
    change = FeatureStatusChange.objects.filter(feature=feature).latest("id")
    assert (change.reason, change.customer_message) == (
        "Internal: finally done",
        "It is live for every plan.",
    )


def test_other_status_changes_and_board_moves_skip_the_preview(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), status="planned")
    path = f"/w/{workspace.slug}/features/{feature.pk}/status/"
    moved = client.post(path, {"status": "in_progress", "preview_loop": "1"})
    assert moved.status_code == 302
    feature.refresh_from_db()
    assert feature.status == "in_progress"
    # The kanban card (no preview_loop) ships at once.
    card = client.post(path, {"status": "shipped"})
    assert card.status_code == 302
    feature.refresh_from_db()
    assert feature.status == "shipped"


def test_a_too_long_customer_message_is_refused_and_nothing_changes(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace), status="in_progress")
    before = audit_count()
    response = client.post(
        f"/w/{workspace.slug}/features/{feature.pk}/status/",
        {
            "status": "declined",
            "reason": "No",
            "customer_message": "x" * 2001,
            "preview_loop": "1",
            "confirmed": "1",
        },
    )
    assert response.status_code == 302
    assert "Ensure this value has at most 2000 characters" in page(client, response["Location"])
    feature.refresh_from_db()
    assert feature.status == "in_progress"
    assert audit_count() == before


# --- digest preview --------------------------------------------------------------------------------


def test_the_digest_preview_shows_subject_sections_text_and_html(portal_client, workspace):
    from roadmap import services as roadmap_services

    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    stakeholder = external(workspace, name="Carla", audience="engineering")
    subscription = subscribe(stakeholder)
    subscription.digest_through = timezone.now() - timedelta(days=7)
    subscription.save(update_fields=["digest_through"])
    feature = FeatureFactory(
        product=ProductFactory(workspace=workspace),
        title="Bulk export",
        public_title="Bulk export",
        status="in_progress",
    )
    roadmap_services.feature_change_status(feature=feature, to_status="shipped", actor=None)
    before = (audit_count(), Delivery.objects.count())

    content = page(client, f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/")
    assert f'<a href="/w/{workspace.slug}/comms/stakeholders/{stakeholder.pk}/">Carla</a>' in content
    assert "Your weekly update on Acme: 1 change</h2>" in content
    sections = content.split('id="summary-h"')[1].split('id="text-h"')[0]
    assert '<h3 id="digest-section-1">Status changes</h3>' in sections
    assert "<li>Bulk export: in progress → shipped</li>" in sections
    assert "Bulk export" in content.split('id="digest-text"')[1].split("</pre>")[0]
    assert (
        f'<iframe class="email-frame" src="/w/{workspace.slug}/comms/subscriptions/'
        f'{subscription.pk}/digest/html/" sandbox' in content
    )
    assert "Send test to me</button>" in content
    assert_strict_csp_ready(content)
    assert_unique_ids(content)
    frame = client.get(f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/html/")
    assert frame.status_code == 200
    assert "Bulk export" in frame.content.decode()
    assert frame["Content-Security-Policy"].startswith("sandbox;")
    assert (audit_count(), Delivery.objects.count()) == before  # a preview writes nothing


def test_an_empty_period_says_nothing_would_be_sent(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    subscription = subscribe(external(workspace))
    content = page(client, f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/")
    assert "Nothing to report for this period: this digest would not be sent" in content


def test_send_test_to_me_mails_the_requester(portal_client, workspace):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    subscription = subscribe(external(workspace, "ceo@example.org", name="Carla"))
    response = client.post(f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/test/")
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/"
    row = Delivery.objects.get()
    assert (row.kind, row.channel, row.recipient, row.recipient_ref) == (
        "comms.digest_test",
        "email",
        membership.user.email,
        f"user:{membership.user.pk}",
    )
    assert row.subject.startswith("[Test] ")
    assert f"A test digest is on its way to {membership.user.email}" in page(client, response["Location"])


def test_send_test_without_an_address_is_refused(portal_client, workspace):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    membership.user.email = ""
    membership.user.save(update_fields=["email"])
    subscription = subscribe(external(workspace))
    response = client.post(f"/w/{workspace.slug}/comms/subscriptions/{subscription.pk}/digest/test/")
    assert "Your account has no e-mail address to send the test to." in page(client, response["Location"])
    assert not Delivery.objects.exists()


def test_digest_pages_need_a_product_manager_and_their_workspace(portal_client, workspace, other_workspace):
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    mine = subscribe(external(workspace))
    theirs = subscribe(external(other_workspace, "x@example.org"))
    base = f"/w/{workspace.slug}/comms/subscriptions/"
    assert contributor.get(f"{base}{mine.pk}/digest/").status_code == 403
    assert contributor.get(f"{base}{mine.pk}/digest/html/").status_code == 403
    assert contributor.post(f"{base}{mine.pk}/digest/test/").status_code == 403
    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert manager.get(f"{base}{theirs.pk}/digest/").status_code == 404
    assert manager.get(f"{base}{theirs.pk}/digest/html/").status_code == 404
    assert manager.post(f"{base}{theirs.pk}/digest/test/").status_code == 404
    assert not Delivery.objects.exists()
