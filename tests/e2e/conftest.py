"""Real-browser tests: Playwright drives Debian's Chromium against a live server.

The server is pytest-django's ``live_server`` (a real HTTP server on the test
database); a real Celery worker runs in a thread where a flow needs one. No
browser build is ever downloaded: ``/usr/bin/chromium`` comes from the Debian
package ``chromium`` (``.ci/run`` installs it when it is missing).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One Chromium per test module.

    Playwright's sync API runs an event loop in this thread while the browser is open;
    the tests still use the ORM synchronously between browser steps, which is safe, so
    Django's async guard is lifted for exactly that long (the deployment check rightly
    refuses the variable elsewhere)."""
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser tab; any console error or uncaught page error fails the test."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert problems == [], f"browser console errors: {problems}"


@pytest.fixture
def demo(transactional_db, settings) -> dict:
    """The demo workspace (``seed_demo``), as `make run` shows it; user demo / demo."""
    from django.core.management import call_command

    settings.PUBLIC_BASE_URL = "http://testserver"
    call_command("seed_demo", force=True, verbosity=0)
    from productops.models import Workspace

    return {"workspace": Workspace.objects.get(slug="demo"), "username": "demo", "password": "demo"}


def sign_in(page, username: str = "demo", password: str = "demo") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/w/demo/")
