"""End-to-end: stakeholder comms in the team portal, in a real browser.

From the demo workspace (``seed_demo``) on a live server: subscribe a stakeholder to a
product, preview their digest and send a test of it to yourself, see on the ship
confirmation who will be told, ship a release containing a feature a customer voted for,
and, after a real Celery worker has run the event consumer and the outbox's sender, read
the close-the-loop rows in the delivery log and the notice that was sent.
"""

from __future__ import annotations

import re
import time

import pytest
from celery.contrib.testing.worker import start_worker

from comms.models import Stakeholder, Subscription
from feedback.models import Company, Contact, Vote
from productops.celery import app as celery_app
from productops.models import Event
from productops.outbox.models import Delivery, DeliveryState
from releases import services as release_services
from releases.models import ReleaseStatus
from roadmap import services as roadmap_services
from roadmap.models import FeatureStatus
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def _release_asked_for(workspace):
    """A release of a new product whose one feature is done and was voted for by a customer."""
    product = roadmap_services.product_create(workspace=workspace, actor=None, data={"name": "Field app"})
    feature = roadmap_services.feature_create(
        workspace=workspace,
        actor=None,
        data={
            "title": "offline-sync",
            "product": product,
            "public_title": "Offline mode",
            "release_note": "Work without coverage; changes sync later.",
        },
    )
    roadmap_services.feature_change_status(
        feature=feature, to_status=FeatureStatus.PLANNED, actor=None, reason="Planned"
    )
    release = release_services.release_create(
        workspace=workspace,
        actor=None,
        data={"product": product, "name": "Field release", "version": "1.0.0"},
    )
    item = release_services.scope_add(release=release, feature=feature, actor=None)
    release_services.scope_update(item=item, actor=None, data={"state": "done"})
    company = Company.objects.create(workspace=workspace, name="Northwind Field Services", arr=90_000)
    contact = Contact.objects.create(
        workspace=workspace, company=company, email="fran@northwind.example", name="Fran Field"
    )
    Vote.objects.create(workspace=workspace, feature=feature, contact=contact)
    return release, feature, contact


def test_subscribe_preview_ship_and_see_the_loop_closed(page, demo, empty_queue):
    workspace = demo["workspace"]
    release, _, contact = _release_asked_for(workspace)

    sign_in(page)
    # --- a new stakeholder, subscribed to the product ---
    page.get_by_role("link", name="Comms", exact=True).click()
    page.get_by_role("heading", name="Stakeholders", exact=True).wait_for()
    page.get_by_label("External address").check()
    page.locator("#new-email").fill("cfo@northwind-investors.example")
    page.locator("#new-name").fill("Casey CFO")
    page.locator("#new-audience").select_option("executive")
    page.get_by_role("button", name="Add stakeholder").click()
    page.get_by_text("“Casey CFO” added: now choose what they follow.").wait_for()
    stakeholder = Stakeholder.objects.get(workspace=workspace, email="cfo@northwind-investors.example")
    assert page.url.endswith(f"/w/demo/comms/stakeholders/{stakeholder.pk}/#subscribe")

    page.locator("#subscribe-follow").select_option("product")
    page.locator("#subscribe-product").select_option(label="Field app")
    page.locator("#subscribe-cadence").select_option("weekly")
    page.locator("#subscribe-time_zone").select_option("Europe/Paris")
    page.locator("#subscribe-local_hour").fill("8")
    page.locator("#subscribe-weekday").select_option("1")
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_text("Casey CFO now follows product: field app.").wait_for()
    subscription = Subscription.objects.get(stakeholder=stakeholder)
    assert (subscription.product.name, subscription.time_zone, subscription.local_hour) == (
        "Field app",
        "Europe/Paris",
        8,
    )
    row = page.locator(f"#subscription-{subscription.pk}")
    assert row.get_by_text("Weekly, Monday 08:00 Europe/Paris").is_visible()

    # --- preview their digest, and send a test of it to me ---
    row.get_by_role("link", name="Preview digest").click()
    page.get_by_role("heading", name="Digest preview").wait_for()
    assert page.get_by_role("link", name="Casey CFO").first.is_visible()
    assert page.locator("#digest-text").inner_text().strip() != ""
    page.locator("iframe.email-frame").wait_for()
    page.get_by_role("button", name="Send test to me").click()
    page.get_by_text(re.compile(r"A test digest is on its way to \S+")).wait_for()
    assert Delivery.objects.filter(workspace=workspace, kind="comms.digest_test").count() == 1

    # --- the ship confirmation says who will be told, then it ships ---
    page.goto(f"/w/demo/releases/{release.pk}/ship/")
    told = page.locator("#told")
    told.get_by_role("heading", name="Who will be told").wait_for()
    assert "1 contact at 1 company" in told.inner_text()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        page.get_by_role("button", name="Ship Field release 1.0.0").click()
        page.get_by_text(re.compile(r"Field release 1\.0\.0 shipped\.")).wait_for()
        release.refresh_from_db()
        assert release.status == ReleaseStatus.RELEASED
        event = Event.objects.get(workspace=workspace, kind="release.shipped", subject_id=str(release.pk))
        _wait_for(
            lambda: Delivery.objects.filter(
                workspace=workspace,
                kind="comms.loop",
                event=event,
                recipient=contact.email,
                state=DeliveryState.SENT,
            ).exists()
        )

    # --- the delivery log of the release shows the close-the-loop row ---
    page.locator("#result").get_by_role("link", name="Who was told: the delivery log of this release").click()
    page.get_by_role("heading", name="Delivery log").wait_for()
    assert page.url.endswith(f"/w/demo/comms/deliveries/?event={event.pk}")
    notice = Delivery.objects.get(
        workspace=workspace, kind="comms.loop", event=event, recipient=contact.email
    )
    log_row = page.locator(f"#delivery-{notice.pk}")
    assert log_row.get_by_text("Close the loop", exact=True).is_visible()
    assert log_row.get_by_text("fran@northwind.example").is_visible()
    assert log_row.get_by_text("Sent", exact=True).is_visible()
    log_row.get_by_role("link").first.click()
    page.get_by_role("heading", name=re.compile("^Close the loop to fran@northwind.example")).wait_for()
    assert "Offline mode" in page.locator("#body-text").inner_text()
    assert page.locator("iframe.email-frame").is_visible()
