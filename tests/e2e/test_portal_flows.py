"""End-to-end flows of the team portal and the public board, in a real browser.

Each test starts from the demo workspace (``seed_demo``) served by a live server;
the flows that need background work run a real Celery worker in a thread.
"""

from __future__ import annotations

import re
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from board.models import MagicLink
from feedback.models import FeedbackItem, FeedbackLink, Vote
from priority.recompute import run as recompute_workspace
from productops.celery import app as celery_app
from roadmap import services as roadmap_services
from roadmap.models import Feature, ScorecardCriterion, ScoreState
from tests.e2e.conftest import sign_in
from tests.feedback.demo_themes import natural_themes

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


def test_sign_in_and_see_the_dashboard(page, demo):
    page.goto("/w/demo/")
    assert "/accounts/login/" in page.url  # not signed in yet
    sign_in(page)
    assert page.get_by_role("heading", name="Top priorities").is_visible()
    assert (
        page.locator("svg[role=img] title").first.text_content()
        == "Feedback received per week, last 12 weeks"
    )


def test_triage_an_item_link_it_and_see_the_score_change_after_the_worker(page, demo, empty_queue):
    workspace = demo["workspace"]
    demo_user = workspace.memberships.get(user__username="demo").user
    roadmap_services.roadmap_settings_update(
        workspace=workspace, actor=demo_user, data={"scoring_model": "customer_impact"}
    )
    product = Feature.objects.filter(workspace=workspace).first().product
    target = roadmap_services.feature_create(
        workspace=workspace,
        actor=demo_user,
        data={"title": "Offline mode for field teams", "product": product},
    )
    recompute_workspace(workspace_id=workspace.pk, full=True)
    target.refresh_from_db()
    assert target.score_customer_impact == 0
    item = (
        FeedbackItem.objects.filter(workspace=workspace, state="new").order_by("-received_at", "-id").first()
    )

    sign_in(page)
    page.goto(f"/w/demo/feedback/{item.pk}/")
    pane = page.locator("#feedback-pane")
    assert pane.get_by_role("heading", name=re.compile(f"Feedback #{item.pk}")).is_visible()
    page.get_by_label("Find a feature").fill("Offline mode")
    page.locator(f'#link-feature option[value="{target.pk}"]').wait_for(state="attached")
    page.locator("#link-feature").select_option(str(target.pk))
    page.locator("#link-importance").select_option("critical")
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # The link form's own button (a suggested feature has a "Link" button of its own).
        link_form = pane.locator("form").filter(has=page.locator("#link-feature"))
        link_form.get_by_role("button", name="Link", exact=True).click()
        page.get_by_text("Linked to “Offline mode for field teams”").wait_for()
        _wait_for(lambda: Feature.objects.get(pk=target.pk).score_customer_impact > 0)
        _wait_for(lambda: Feature.objects.get(pk=target.pk).score_state == ScoreState.CLEAN)

    assert FeedbackLink.objects.filter(item=item, feature=target, importance="critical").exists()
    assert FeedbackItem.objects.get(pk=item.pk).state == "linked"
    target.refresh_from_db()
    page.goto(f"/w/demo/features/{target.pk}/")
    heading = page.get_by_role("heading", name=re.compile("^Score: Customer impact"))
    assert heading.text_content() == f"Score: Customer impact {target.priority_score:.2f}"
    assert target.priority_score > 0
    assert page.get_by_role("link", name=re.compile(re.escape(item.text[:40]))).is_visible()


def test_drag_a_feature_to_now(page, demo):
    workspace = demo["workspace"]
    feature = Feature.objects.filter(workspace=workspace, horizon="later").order_by("priority_rank").first()
    sign_in(page)
    page.goto("/w/demo/roadmap/")
    card = page.locator(f"#card-{feature.pk}")
    now_column = page.locator('[data-column-key="now"]')
    assert card.get_attribute("data-column") == "later"

    # A real mouse drag (press, move in steps, release): Chromium turns it into the HTML5
    # dragstart / dragover / drop events the board listens to.
    card.locator(".card-title").hover()
    page.mouse.down()
    box = now_column.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40, steps=12)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 60, steps=4)
    page.mouse.up()

    # Planned dates outside "now" (this quarter) make the card ask first (issue 13): keep them.
    page.wait_for_selector(f'#card-{feature.pk}.card-conflict, [data-column-key="now"] #card-{feature.pk}')
    if page.locator(f"#card-{feature.pk}.card-conflict").count():
        assert Feature.objects.get(pk=feature.pk).horizon == "later"  # nothing written yet
        card.get_by_role("button", name="Keep dates").click()
    now_column.locator(f"#card-{feature.pk}").wait_for()
    assert card.get_attribute("data-column") == "now"
    _wait_for(lambda: Feature.objects.get(pk=feature.pk).horizon == "now", seconds=10)
    page.reload()
    assert page.locator(f'[data-column-key="now"] #card-{feature.pk}').is_visible()


def test_edit_a_scorecard_weight_and_see_the_ranking_change(page, demo, empty_queue):
    workspace = demo["workspace"]
    criterion = ScorecardCriterion.objects.filter(workspace=workspace).order_by("position").first()
    sign_in(page)
    page.goto("/w/demo/settings/scoring/")
    page.locator("#id_scoring_model").select_option("scorecard")
    page.get_by_role("button", name="Preview ranking").click()
    preview = page.locator("#preview")
    preview.get_by_text("Proposed").first.wait_for()
    before = preview.locator("table").first.inner_text()

    weight = page.get_by_role("spinbutton", name=f"{criterion.name} weight")
    weight.fill("25")
    page.get_by_role("button", name="Preview ranking").click()
    page.wait_for_function(
        "before => document.querySelector('#preview table').innerText !== before", arg=before
    )
    assert preview.locator("table").first.inner_text() != before
    criterion.refresh_from_db()
    assert criterion.weight != 25  # a preview saves nothing

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        _wait_for(
            lambda: not Feature.objects.filter(workspace=workspace, score_state=ScoreState.DIRTY).exists()
        )
    criterion.refresh_from_db()
    assert criterion.weight == 25
    top = Feature.objects.filter(workspace=workspace, priority_rank=1).get()
    page.goto("/w/demo/")
    assert page.locator("tbody tr").first.get_by_role("link").text_content() == top.title


def test_submit_and_vote_on_the_public_board(page, demo):
    workspace = demo["workspace"]
    feature = (
        Feature.objects.filter(workspace=workspace, is_public=True, merged_into=None).order_by("id").first()
    )
    page.goto("/p/demo/")
    page.get_by_role("link", name=feature.title).click()
    page.get_by_role("button", name=re.compile("^Vote")).first.click()
    page.wait_for_url(re.compile("/p/demo/sign-in/"))  # voting needs a verified e-mail

    page.get_by_label(re.compile("e-mail", re.IGNORECASE)).fill("casey@newcustomer.example")
    page.get_by_role("button", name=re.compile("link", re.IGNORECASE)).click()
    page.get_by_text(re.compile("Check your", re.IGNORECASE)).first.wait_for()
    from board import tasks as board_tasks

    link = MagicLink.objects.get()
    board_tasks.magic_link_send.run(link.pk)
    url = re.search(r"https?://\S+/p/demo/verify/\S+", mail.outbox[-1].body).group(0)
    page.goto(url[url.index("/p/demo/") :])
    page.get_by_role("button", name=re.compile("Confirm|Sign in", re.IGNORECASE)).click()

    page.goto(f"/p/demo/features/{feature.pk}/")
    page.get_by_role("button", name=re.compile("^Vote")).first.click()
    page.get_by_role("button", name=re.compile("Voted|Remove", re.IGNORECASE)).first.wait_for()
    assert Vote.objects.filter(feature=feature, contact__email="casey@newcustomer.example").count() == 1

    page.goto("/p/demo/submit/")
    page.get_by_label(re.compile("idea", re.IGNORECASE)).first.fill(
        "Let field technicians work offline and sync when back in coverage"
    )
    page.get_by_role("button", name=re.compile("Submit|Send", re.IGNORECASE)).last.click()
    page.wait_for_load_state()
    item = FeedbackItem.objects.get(contact__email="casey@newcustomer.example")
    assert item.state == "new"
    page.goto("/p/demo/mine/")
    assert page.get_by_text("Let field technicians work offline").first.is_visible()


def test_a_theme_becomes_a_feature_with_every_item_linked_and_a_wrong_item_leaves_a_theme(page, demo):
    from feedback.models import ThemeDismissal

    workspace = demo["workspace"]
    natural = natural_themes(workspace)
    calendar, offline, bulk = natural["calendar"], natural["offline"], natural["bulk editing"]
    members = set(calendar.members.values_list("item_id", flat=True))
    sign_in(page)

    page.goto("/w/demo/feedback/themes/")
    assert page.get_by_role("heading", name=calendar.label).is_visible()
    assert page.get_by_role("heading", name=bulk.label).is_visible()
    wrong = page.locator(f"#theme-{offline.pk}").get_by_role(
        "button", name=re.compile("^Wrong theme for feedback #")
    )
    stray = int(wrong.last.get_attribute("aria-label").rsplit("#", 1)[1])
    wrong.last.click()
    page.wait_for_load_state()
    assert ThemeDismissal.objects.filter(theme=offline, item_id=stray).exists()

    page.locator(f"#theme-{calendar.pk}").get_by_role("link", name="Create a feature from this theme").click()
    page.get_by_label("Title").fill("Calendar sync of dates")
    product = Feature.objects.filter(workspace=workspace).order_by("id").first().product
    page.get_by_label("Product").select_option(str(product.pk))
    page.get_by_role("button", name="Create feature").click()
    page.wait_for_url(re.compile(r"/features/\d+/"))

    feature = Feature.objects.get(workspace=workspace, title="Calendar sync of dates")
    assert set(FeedbackLink.objects.filter(feature=feature).values_list("item_id", flat=True)) == members
