"""End-to-end: bulk-move three cards on the roadmap board, and a refused bulk status change
on the kanban that names the refused card (issue 13). Demo workspace, real browser."""

from __future__ import annotations

import re

import pytest

from roadmap.models import Feature
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_bulk_move_three_cards(page, demo):
    workspace = demo["workspace"]
    cards = list(
        Feature.objects.filter(workspace=workspace, horizon="later", merged_into__isnull=True)
        .exclude(status__in=["shipped", "declined"])
        .order_by("priority_rank", "id")[:3]
    )
    assert len(cards) == 3
    sign_in(page)
    page.goto("/w/demo/roadmap/")
    page.get_by_role("link", name="Select cards").click()
    page.wait_for_url("**/roadmap/?select=1")

    for card in cards:
        page.locator(f"#pick-{card.pk}").check()
    bar = page.locator("#bulk-form")
    assert bar.locator("[data-bulk-count]").inner_text() == "3"
    bar.get_by_label("Horizon").select_option("next")
    bar.get_by_role("button", name="Apply to selected").click()

    page.get_by_text("Changed 3 cards: horizon next.").wait_for()
    for card in cards:
        page.locator(f'[data-column-key="next"] #card-{card.pk}').wait_for()
    assert (
        sorted(Feature.objects.filter(pk__in=[c.pk for c in cards]).values_list("horizon", flat=True))
        == ["next"] * 3
    )
    # Still selecting, nothing ticked; "Done selecting" leaves the mode.
    assert page.locator("input[data-bulk-pick]:checked").count() == 0
    page.get_by_role("link", name="Done selecting").click()
    page.wait_for_url(re.compile(r"/roadmap/\??$"))
    assert page.locator("#bulk-form").count() == 0


def test_a_refused_bulk_status_change_names_the_card_and_changes_nothing(page, demo):
    workspace = demo["workspace"]
    idea = (
        Feature.objects.filter(workspace=workspace, status="idea", merged_into__isnull=True)
        .order_by("id")
        .first()
    )
    planned = (
        Feature.objects.filter(workspace=workspace, status="planned", merged_into__isnull=True)
        .order_by("id")
        .first()
    )
    sign_in(page)
    page.goto("/w/demo/roadmap/kanban/?select=1")
    page.locator(f"#pick-{idea.pk}").check()
    page.locator(f"#pick-{planned.pk}").check()
    bar = page.locator("#bulk-form")
    bar.get_by_label("Status").select_option("in_progress")
    bar.get_by_role("button", name="Apply to selected").click()

    error = page.locator(f"#bulk-error-{idea.pk}")
    error.wait_for()
    assert (
        error.inner_text()
        == "Not changed: Moving from Idea to In progress skips the workflow; give a reason."
    )
    assert page.locator(f"#bulk-error-{planned.pk}").count() == 0
    assert page.locator(f"#pick-{idea.pk}").is_checked()
    assert Feature.objects.get(pk=planned.pk).status == "planned"  # all or nothing

    page.locator("#bulk-form").get_by_label("Reason").fill("Escalated by a customer")
    page.locator("#bulk-form").get_by_role("button", name="Apply to selected").click()
    page.get_by_text("Changed 2 cards: status in progress.").wait_for()
    assert set(Feature.objects.filter(pk__in=[idea.pk, planned.pk]).values_list("status", flat=True)) == {
        "in_progress"
    }
