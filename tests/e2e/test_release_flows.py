"""End-to-end: plan a release in the team portal, ship it, and read it on the public changelog.

From the demo workspace (``seed_demo``) on a live server, in a real browser: create a
release, drag a planned feature into its scope (and add one with the keyboard picker),
finish the work, tick the launch checklist, write the notes with the live preview, ship
it from the confirmation page, then open the public changelog and its RSS feed.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from releases import services as release_services
from releases.models import ChecklistState, Release, ReleaseStatus
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureStatus
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]


def _planned_feature(workspace, product, title: str, public_title: str, note: str) -> Feature:
    feature = roadmap_services.feature_create(
        workspace=workspace,
        actor=None,
        data={"title": title, "product": product, "public_title": public_title, "release_note": note},
    )
    return roadmap_services.feature_change_status(
        feature=feature, to_status=FeatureStatus.PLANNED, actor=None, reason="Planned for this release"
    )


def test_plan_ship_and_publish_a_release(page, demo):
    workspace = demo["workspace"]
    release_services.changelog_settings_update(workspace=workspace, actor=None, data={"enabled": True})
    product = roadmap_services.product_create(workspace=workspace, actor=None, data={"name": "Field app"})
    offline = _planned_feature(
        workspace, product, "offline-sync", "Offline mode", "Work without coverage; changes sync later."
    )
    photos = _planned_feature(workspace, product, "photo-notes", "Photo notes", "Attach photos to a visit.")

    sign_in(page)
    # --- create the release ---
    page.get_by_role("link", name="Releases", exact=True).click()
    page.get_by_role("heading", name="New release").wait_for()
    page.locator("#new-product").select_option(label="Field app")
    page.get_by_label("Name").fill("Field release")
    page.get_by_label("Version").fill("1.0.0")
    page.get_by_label("Planned date").fill((timezone.localdate() + timedelta(days=20)).isoformat())
    page.get_by_label("Summary").fill("Offline work for field teams.")
    page.get_by_role("button", name="Create release").click()
    page.get_by_role("heading", name="Field release 1.0.0").wait_for()
    release = Release.objects.get(product=product)
    assert page.url.endswith(f"/w/demo/releases/{release.pk}/")

    # --- scope: drag a planned feature onto it ---
    card = page.locator(f'.scope-candidate[data-feature-id="{offline.pk}"]')
    card.hover()
    page.mouse.down()
    box = page.locator("#scope-h").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + box["height"] / 2, steps=12)
    page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    page.get_by_text("“offline-sync” added to Field release 1.0.0.").wait_for()
    # ...and one with the keyboard picker, as a nice-to-have: type, htmx fills the suggestions,
    # choose one (a datalist's option is chosen by taking its value into the input).
    picker = page.locator("#add-feature")
    picker.fill("photo")
    option = page.locator(f'#add-feature-options option[value="#{photos.pk} photo-notes"]')
    option.wait_for(state="attached")
    picker.fill(option.get_attribute("value"))
    page.locator("#add-is_must_have").uncheck()
    page.get_by_role("button", name="Add to release").click()
    page.get_by_text("“photo-notes” added to Field release 1.0.0.").wait_for()
    assert set(release.scope_items.filter(is_open=True).values_list("feature__title", flat=True)) == {
        "offline-sync",
        "photo-notes",
    }
    assert page.get_by_text("Must-have not done: offline-sync").is_visible()

    # --- the must-have is done ---
    item = release.scope_items.get(feature=offline)
    page.locator(f"#scope-{item.pk}-state").select_option("done")
    page.get_by_role("button", name="Save offline-sync").click()
    page.get_by_text("“offline-sync” saved.").wait_for()

    # --- tick the launch checklist ---
    page.get_by_role("button", name="Mark Documentation updated done").click()
    page.get_by_text("“Documentation updated”: done.").wait_for()
    assert release.checklist_tasks.get(title="Documentation updated").state == ChecklistState.DONE
    assert page.get_by_text("1 of 7 done").is_visible()

    # --- notes: generate, edit, see the live preview, save ---
    page.get_by_role("button", name="Generate from scope").click()
    preview = page.locator("#notes-preview")
    preview.locator("strong", has_text="Offline mode").wait_for()
    notes = page.get_by_label("Release notes (Markdown)")
    assert "- **Offline mode** — Work without coverage; changes sync later." in notes.input_value()
    notes.press("End")
    notes.press("Control+End")
    notes.type("\nThanks to the **pilot teams**.")
    preview.locator("strong", has_text="pilot teams").wait_for()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Notes draft saved.").wait_for()
    release.refresh_from_db()
    assert "Thanks to the **pilot teams**." in release.notes

    # --- ship: the confirmation lists what happens, then it ships ---
    page.get_by_role("link", name="Ship…").click()
    page.get_by_role("heading", name="What shipping does now").wait_for()
    assert page.locator(".ship-list").get_by_role("link", name="offline-sync").is_visible()
    assert page.get_by_text("photo-notes").first.is_visible()  # a nice-to-have that moves out
    page.get_by_role("button", name="Ship Field release 1.0.0").click()
    page.get_by_text(re.compile(r"Field release 1\.0\.0 shipped\. Marked shipped: offline-sync\.")).wait_for()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.RELEASED
    assert Feature.objects.get(pk=offline.pk).status == FeatureStatus.SHIPPED
    assert not release.scope_items.filter(feature=photos, is_open=True).exists()  # back to the backlog
    assert page.locator("#result").get_by_text("Back to the backlog").is_visible()

    # --- the public changelog and its feed ---
    page.goto("/p/demo/changelog/")
    assert page.get_by_text("Field release").first.is_visible()
    assert page.get_by_text("pilot teams").first.is_visible()
    assert page.get_by_text("Offline mode").first.is_visible()
    feed = page.request.get("/p/demo/changelog/rss/")
    assert feed.status == 200
    assert "xml" in feed.headers["content-type"]
    body = feed.text()
    assert "Field release" in body
    assert "1.0.0" in body
