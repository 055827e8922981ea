"""End-to-end: create a feature from a feedback item in the inbox and see its customer impact."""

from __future__ import annotations

import re
import time

import pytest
from celery.contrib.testing.worker import start_worker

from feedback.models import FeedbackItem, FeedbackLink
from productops.celery import app as celery_app
from roadmap.models import Feature, ScoreState
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _wait_for(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def test_create_a_feature_from_a_feedback_item_and_see_its_customer_impact(page, demo, empty_queue):
    workspace = demo["workspace"]
    item = (
        FeedbackItem.objects.filter(workspace=workspace, state="new", company__isnull=False)
        .select_related("company")
        .order_by("-received_at", "-id")
        .first()
    )
    product = Feature.objects.filter(workspace=workspace).select_related("product").first().product

    sign_in(page)
    page.goto(f"/w/demo/feedback/{item.pk}/")
    pane = page.locator("#feedback-pane")
    pane.get_by_role("link", name="Create a feature from this feedback").click()
    # htmx swaps the form into the pane (no page load).
    heading = pane.get_by_role("heading", name=f"Create a feature from feedback #{item.pk}")
    heading.wait_for()
    assert page.url.endswith(f"/w/demo/feedback/{item.pk}/")
    pane.get_by_label("Feature title").fill("Offline mode for field teams")
    pane.get_by_label("Product").select_option(str(product.pk))
    pane.get_by_label("Importance of the links").select_option("critical")

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        pane.get_by_role("button", name="Create feature").click()
        page.wait_for_url(re.compile(r"/w/demo/features/\d+/$"))
        feature = Feature.objects.get(workspace=workspace, title="Offline mode for field teams")
        _wait_for(lambda: Feature.objects.get(pk=feature.pk).score_state == ScoreState.CLEAN)
        _wait_for(lambda: Feature.objects.get(pk=feature.pk).requesting_companies == 1)

    assert page.url.endswith(f"/w/demo/features/{feature.pk}/")
    assert page.get_by_text(
        "Feature “Offline mode for field teams” created from 1 feedback item."
    ).is_visible()
    link = FeedbackLink.objects.get(feature=feature)
    assert (link.item_id, link.importance) == (item.pk, "critical")
    assert FeedbackItem.objects.get(pk=item.pk).state == "linked"

    page.reload()
    demand = page.locator("section[aria-labelledby=demand-h]")
    assert "1 linked feedback item" in demand.inner_text()
    assert "1 requesting company" in demand.inner_text()
    row = demand.locator("tbody tr").first
    assert item.company.name in row.inner_text()
    assert "Critical / deal-blocker" in row.inner_text()
    assert row.get_by_role("link", name=re.compile(re.escape(item.text[:40]))).is_visible()
