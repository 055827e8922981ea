"""Creating and editing a feature in a real browser: "New feature" on the roadmap board, the
long form's unsaved-changes warning, a section's inline edit, and dependencies with a cycle
refused inline."""

from __future__ import annotations

import re

import pytest

from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureDependency, Product
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_a_feature_from_the_board_then_fill_in_the_rest(page, demo):
    workspace = demo["workspace"]
    product = Product.objects.filter(workspace=workspace).order_by("name").first()
    sign_in(page)
    page.goto("/w/demo/roadmap/")

    page.locator("summary", has_text="New feature").click()
    page.locator("#newfeature-title").fill("Offline mode for field teams")
    page.locator("#newfeature-product").select_option(label=product.name)
    page.get_by_role("button", name="Create", exact=True).click()

    page.wait_for_url(re.compile(r"/w/demo/features/\d+/edit/$"))
    feature = Feature.objects.get(workspace=workspace, title="Offline mode for field teams")
    assert feature.product == product
    assert page.get_by_text(
        "Feature “Offline mode for field teams” created: fill in the rest below."
    ).is_visible()

    # The long form warns before leaving with unsaved changes...
    page.get_by_label("Description (internal)").fill("Sync when back online.")
    dialogs: list[str] = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.get_by_role("link", name="← Feature").click()
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(f"/features/{feature.pk}/edit/")

    # ...but not when saving it.
    page.locator("#id_horizon").select_option("next")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(rf"/w/demo/features/{feature.pk}/$"))
    assert dialogs == ["beforeunload"]
    feature.refresh_from_db()
    assert (feature.description, feature.horizon) == ("Sync when back online.", "next")

    # One section edited in place (htmx): the planning facts come back with "Saved.".
    planning = page.locator("#section-planning")
    planning.get_by_role("link", name="Edit").click()
    page.locator("#section-planning form").wait_for()
    page.locator("#id_effort").fill("3")
    page.get_by_role("button", name="Save planning").click()
    page.locator("#section-planning .notice-success").wait_for()
    assert "3" in page.locator("#section-planning").inner_text()
    feature.refresh_from_db()
    assert str(feature.effort) == "3.00"


def test_edit_dependencies_and_see_a_cycle_refused_inline(page, demo):
    workspace = demo["workspace"]
    demo_user = workspace.memberships.get(user__username="demo").user
    product = Product.objects.filter(workspace=workspace).first()

    def create(title):
        return roadmap_services.feature_create(
            workspace=workspace, actor=demo_user, data={"title": title, "product": product}
        )

    alpha, bravo, charlie = (
        create("Alpha sync engine"),
        create("Bravo offline cache"),
        create("Charlie conflict UI"),
    )
    roadmap_services.feature_add_dependency(feature=bravo, depends_on=alpha, actor=demo_user)
    sign_in(page)
    page.goto(f"/w/demo/features/{alpha.pk}/")
    panel = page.locator("#dependencies")

    # Alpha cannot depend on Bravo: Bravo already depends on Alpha.
    panel.get_by_label("Depends on").fill("Bravo offline cache")
    panel.get_by_role("button", name="Add dependency").click()
    error = page.locator("#dependencies p.error")
    error.wait_for()
    assert error.inner_text() == (
        "'Bravo offline cache' already depends on 'Alpha sync engine', directly or indirectly: "
        "this would make a cycle."
    )
    assert list(FeatureDependency.objects.filter(feature=alpha)) == []

    # Charlie is fine; then remove it again.
    page.locator("#dependencies").get_by_label("Depends on").fill("Charlie conflict UI")
    page.locator("#dependencies").get_by_role("button", name="Add dependency").click()
    page.get_by_text("Now depends on “Charlie conflict UI”.").wait_for()
    assert page.locator("#dependencies").get_by_role("link", name="Charlie conflict UI").is_visible()
    assert FeatureDependency.objects.filter(feature=alpha, depends_on=charlie).exists()

    page.locator("#dependencies").get_by_role(
        "button", name="Remove the dependency on Charlie conflict UI"
    ).click()
    page.get_by_text("No longer depends on “Charlie conflict UI”.").wait_for()
    assert not FeatureDependency.objects.filter(feature=alpha).exists()
