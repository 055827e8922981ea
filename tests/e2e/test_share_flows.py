"""End-to-end: save a roadmap view, make a read-only share link, open it signed out, revoke it."""

from __future__ import annotations

import re

import pytest

from roadmap.models import Feature, SavedView, ShareLink
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_save_and_share_a_view_and_open_the_share_link_signed_out(page, browser, demo, live_server):
    workspace = demo["workspace"]
    feature = (
        Feature.objects.filter(
            workspace=workspace, merged_into__isnull=True, status__in=["planned", "in_progress"]
        )
        .select_related("product")
        .order_by("priority_rank", "id")
        .first()
    )
    product = feature.product
    other = Feature.objects.filter(workspace=workspace, status="planned").exclude(product=product).first()

    sign_in(page)
    page.goto(f"/w/demo/roadmap/?product={product.pk}")
    menu = page.locator("[data-views-menu]")
    menu.locator("summary").click()
    # The list is loaded by htmx when the menu opens.
    menu.get_by_role("link", name="Manage saved views and share links").wait_for()
    menu.get_by_label("Save these filters as").fill("Stakeholder board")
    menu.get_by_label("Share with the workspace").check()
    menu.get_by_role("button", name="Save view").click()
    page.wait_for_url(re.compile(rf"/w/demo/roadmap/\?product={product.pk}$"))
    assert page.get_by_text("Saved the view “Stakeholder board” (shared with the workspace).").is_visible()
    view = SavedView.objects.get(workspace=workspace, name="Stakeholder board")
    assert (view.kind, view.query, view.shared) == ("board", {"product": product.pk}, True)

    page.goto("/w/demo/views/")
    page.get_by_role("link", name="Share links of Stakeholder board").click()
    page.get_by_label("Rank and score").check()
    page.get_by_role("button", name="Make the link").click()
    page.wait_for_url("**/links/created/")
    url = page.get_by_label(re.compile("Read-only link")).input_value()
    assert url.startswith("http://testserver/shared/sv_")
    path = url.removeprefix("http://testserver")

    stranger = browser.new_context(base_url=live_server.url)
    shared = stranger.new_page()
    response = shared.goto(path)
    assert response.status == 200
    assert response.headers["x-robots-tag"] == "noindex, nofollow"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert shared.get_by_role("heading", name="Stakeholder board").is_visible()
    assert shared.get_by_role("heading", name=feature.title).first.is_visible()
    if other is not None:
        assert shared.get_by_role("heading", name=other.title).count() == 0
    assert shared.locator('a[href^="/w/"]').count() == 0
    assert shared.get_by_role("button", name="Sign out").count() == 0

    page.goto(f"/w/demo/views/{view.pk}/links/")
    page.get_by_role("button", name=re.compile("Revoke the link")).click()
    assert page.get_by_text(re.compile("it no longer opens the view")).is_visible()
    assert ShareLink.objects.get(view=view).revoked_at is not None
    gone = shared.goto(path)
    assert gone.status == 404
    assert shared.get_by_role("heading", name="This link does not open anything").is_visible()
    stranger.close()
