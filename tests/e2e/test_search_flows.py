"""Global search and the narrow top bar (issue 13), in a real browser on the demo workspace.

* "/" focuses the top bar's box from anywhere; typing shows the live dropdown grouped by kind;
  a result opens its page; Enter opens the results page; Escape closes the dropdown.
* At 375 px the top bar is one line with a "Menu" that opens the links and the search box,
  and no page is wider than the screen (wide tables scroll inside their panel).
"""

from __future__ import annotations

import pytest

from feedback.models import Company
from roadmap.models import Feature
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_global_search_from_the_keyboard(page, demo):
    feature = Feature.objects.filter(workspace=demo["workspace"]).order_by("priority_rank", "id").first()
    word = max(feature.title.split(), key=len)
    sign_in(page)

    box = page.locator("#topsearch-q")
    page.locator("main h1, main h2").first.click()  # focus on the page, not in a field
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "topsearch-q"

    page.keyboard.type(word)
    results = page.locator("#topsearch-results")
    results.get_by_role("heading", name="Features").wait_for()
    assert [h.split()[0].title() for h in results.locator("h2").all_inner_texts()] == [
        "Features",
        "Feedback",
        "Companies",
        "Contacts",
    ]
    assert results.get_by_role("link", name=feature.title).first.is_visible()

    page.keyboard.press("Escape")
    assert results.is_hidden()
    assert page.evaluate("document.activeElement.id") == "topsearch-q"

    # "/" typed inside a field is just a character.
    box.fill("")
    box.type("a/b")
    assert box.input_value() == "a/b"

    box.fill(word)
    box.press("Enter")
    page.wait_for_url(f"**/w/demo/search/?q={word}")
    assert page.get_by_role("heading", name="Search", exact=True).is_visible()
    main = page.locator("main")
    main.get_by_role("link", name=feature.title).first.click()
    page.wait_for_url(f"**/w/demo/features/{feature.pk}/")


def test_search_finds_a_company_and_opens_it(page, demo):
    company = Company.objects.filter(workspace=demo["workspace"]).order_by("name").first()
    sign_in(page)
    page.locator("#topsearch-q").fill(company.name)
    results = page.locator("#topsearch-results")
    link = results.get_by_role("link", name=company.name, exact=True)
    link.wait_for()
    link.click()
    page.wait_for_url(f"**/w/demo/companies/{company.pk}/")


@pytest.fixture
def narrow(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 740})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert problems == [], f"browser console errors: {problems}"


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_the_top_bar_is_one_line_with_a_menu_at_375px(narrow, demo):
    page = narrow
    sign_in(page)

    bar = page.locator("header.topbar")
    assert bar.bounding_box()["height"] < 56  # one line (it was three)
    menu = page.locator("details.navmenu > summary")
    assert menu.is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.is_hidden()
    assert _overflow(page) == 0

    menu.click()
    assert nav.is_visible()
    assert page.locator("#topsearch-q").is_visible()
    assert page.get_by_role("link", name="Companies").is_visible()
    page.keyboard.press("Escape")  # focus is on the summary: Escape closes the menu
    assert nav.is_hidden()

    # "/" opens the menu and focuses the box.
    page.locator("main h1, main h2").first.click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "topsearch-q"
    assert nav.is_visible()

    menu.click()
    assert nav.is_hidden()
    menu.click()
    page.get_by_role("link", name="Companies").click()
    page.wait_for_url("**/w/demo/companies/")
    assert page.get_by_role("navigation", name="Main").is_hidden()  # closed again on the new page
    assert bar.bounding_box()["height"] < 56


@pytest.mark.parametrize(
    "path",
    ["/w/demo/", "/w/demo/companies/", "/w/demo/feedback/", "/w/demo/roadmap/", "/w/demo/search/?q=export"],
)
def test_no_page_is_wider_than_375px(narrow, demo, path):
    page = narrow
    sign_in(page)
    page.goto(path)
    assert _overflow(page) == 0
    assert page.locator("header.topbar").bounding_box()["height"] < 56
