"""The Content-Security-Policy in a real browser: no page of the portal, the public board,
the changelog, the admin console or the API docs makes Chromium report a violation; and the
embedding allow-list lets a listed site frame the public board, and no other.

A listener for ``securitypolicyviolation`` is added with ``page.add_init_script`` (Playwright's
init scripts are not subject to the page's CSP) and calls back into the test, so a violation
on any page, in any frame, is seen even after the page has navigated on. Console messages
about the policy fail the test too. Besides the named pages, the test follows every link it
finds to another page of the demo workspace (one URL per route), so a new page is covered
without being listed here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.urls import Resolver404, resolve

from board import selectors as board_selectors
from productops.models import User, Workspace
from releases import selectors as release_selectors
from releases.models import OPEN_STATUSES, Release
from roadmap.models import Feature
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True)]

LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolation({
    page: location.pathname,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
  });
});
"""
#: Console messages about the policy, or about the Permissions-Policy header (Chromium warns
#: of a feature it does not know).
CSP_WORDS = re.compile(r"Content[ -]Security[ -]Policy|\bCSP\b|Permissions[ -]Policy", re.IGNORECASE)
#: Links not followed: they sign out, or lead to pages visited on their own below (the feeds,
#: the API, the admin console).
SKIPPED_ROUTES = re.compile(r"logout|sign-out|/rss/$|/atom/$|^api/|^admin/")
MAX_CRAWLED_PAGES = 150


class Watch:
    """What the browser said about the policy while the page visited each URL."""

    def __init__(self, page) -> None:
        self.page = page
        self.violations: list[dict] = []
        self.console: list[str] = []
        self.policies: dict[str, str] = {}
        self.failed: list[str] = []
        page.expose_function("__cspViolation", self._violation)
        page.add_init_script(LISTENER)
        page.on("console", self._console)
        page.on("response", self._response)

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def _violation(self, violation: dict) -> None:
        self.violations.append(violation)

    def _console(self, message) -> None:
        if CSP_WORDS.search(message.text):
            self.console.append(f"{message.type}: {message.text}")

    def visit(self, url: str, *, ready: str | None = None) -> None:
        response = self.page.goto(url)
        assert response is not None, url
        assert response.status == 200, (url, response.status)
        self.policies[url] = response.headers.get("content-security-policy", "")
        if ready:
            self.page.locator(ready).first.wait_for(state="visible", timeout=20_000)
        # Violation events are dispatched as tasks; let those of this page arrive.
        self.page.evaluate("() => new Promise((done) => setTimeout(done, 50))")

    def links(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "a[href]:not([download])",
            "els => els.map((a) => new URL(a.getAttribute('href'), document.baseURI).href)",
        )


def _route(path: str) -> str | None:
    try:
        return resolve(path).route
    except Resolver404:
        return None


def _crawl(watch: Watch, origin: str, start: list[str], seen_routes: set[str]) -> list[str]:
    """Visit ``start`` and every link reachable from it within the demo workspace's portal
    and public pages, one URL per route; the URLs visited."""
    queue, visited = list(start), []
    while queue and len(visited) < MAX_CRAWLED_PAGES:
        url = queue.pop(0)
        watch.visit(url)
        visited.append(url)
        for link in watch.links():
            parts = urlsplit(link)
            if f"{parts.scheme}://{parts.netloc}" != origin:
                continue
            if not parts.path.startswith(("/w/demo/", "/p/demo/")):
                continue
            route = _route(parts.path)
            if route is None or route in seen_routes or SKIPPED_ROUTES.search(route):
                continue
            seen_routes.add(route)
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return visited


def test_no_page_reports_a_csp_violation(browser, page, demo, live_server, caplog):
    caplog.set_level(logging.WARNING, logger="productops.csp")
    workspace = demo["workspace"]
    feature = Feature.objects.filter(workspace=workspace).order_by("id").first()
    release = Release.objects.filter(workspace=workspace, status__in=OPEN_STATUSES).order_by("id").first()
    public_feature = board_selectors.public_feature_list(workspace=workspace).order_by("id").first()
    shipped = release_selectors.changelog_releases(workspace=workspace).first()
    watch = Watch(page)

    for url in ("/accounts/login/", "/accounts/password-reset/", "/accounts/password-reset/sent/"):
        watch.visit(url)
    sign_in(page)
    named = [
        "/",
        "/w/demo/",
        "/w/demo/roadmap/",
        "/w/demo/roadmap/timeline/",
        "/w/demo/roadmap/kanban/",
        "/w/demo/roadmap/matrix/",
        f"/w/demo/features/{feature.pk}/",
        f"/w/demo/features/{feature.pk}/edit/",
        "/w/demo/feedback/",
        "/w/demo/feedback/import/",
        "/w/demo/companies/",
        "/w/demo/releases/",
        f"/w/demo/releases/{release.pk}/",
        f"/w/demo/releases/{release.pk}/ship/",
        "/w/demo/comms/stakeholders/",
        "/w/demo/comms/deliveries/",
        "/w/demo/settings/comms/",
        "/w/demo/settings/webhooks/",
        "/w/demo/settings/workspace/",
        "/w/demo/settings/members/",
        "/w/demo/settings/tokens/",
        "/w/demo/settings/scoring/",
        "/w/demo/settings/public-board/",
        "/w/demo/settings/releases/",
        "/p/demo/",
        "/p/demo/roadmap/",
        f"/p/demo/features/{public_feature.pk}/",
        "/p/demo/sign-in/",
        "/p/demo/changelog/",
        f"/p/demo/changelog/releases/{shipped.public_id}/",
    ]
    seen_routes = {_route(url.split("?")[0]) for url in named}
    visited = _crawl(watch, live_server.url, named, seen_routes)
    # The API: its docs (Swagger UI, ReDoc) and the browsable API with its filter form.
    watch.visit("/api/docs/", ready=".swagger-ui .info")
    watch.visit("/api/v1/workspaces/")
    watch.visit("/api/v1/workspaces/demo/features/")

    # The admin console, as an operator.
    User.objects.create_superuser("operator", "operator@example.com", "operator-password")
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("operator-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    watch.visit("/admin/")
    watch.visit("/admin/productops/workspace/")
    watch.visit(f"/admin/productops/workspace/{workspace.pk}/change/")
    watch.visit(f"/admin/roadmap/feature/{feature.pk}/change/")

    # Pages in a tab of their own. The feeds are XML documents the browser shows as a tree;
    # it then asks for /favicon.ico, a 404 the page fixture would count as an error. ReDoc: its
    # bundle adds its <style> elements and search worker as it starts, and its first styled
    # component shows while it reads the schema (rendering all of it takes minutes here).
    alone = Watch(browser.new_context(base_url=live_server.url).new_page())
    alone.visit("/p/demo/changelog/rss/")
    alone.visit("/p/demo/changelog/atom/")
    alone.visit("/api/redoc/", ready="#redoc-container [class^='sc-']")
    alone.page.context.close()

    assert watch.failed == []
    assert len(visited) >= 36, visited
    # Every page was served under the policy, so the browser had something to enforce.
    policies = {**watch.policies, **alone.policies}
    print(f"pages checked: {len(policies)}")
    unprotected = [url for url, policy in policies.items() if "script-src 'self'" not in policy]
    assert unprotected == []
    assert watch.violations + alone.violations == []
    assert watch.console + alone.console == []
    assert [record.getMessage() for record in caplog.records if record.name == "productops.csp"] == []


def test_the_listener_sees_a_violation_and_the_browser_reports_it(
    browser, live_server, transactional_db, caplog
):
    """The check above can fail: an inline style added to a served page is refused, the
    listener hears of it, and the browser's report reaches the report endpoint's log."""
    caplog.set_level(logging.WARNING, logger="productops.csp")
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    watch = Watch(page)
    watch.visit("/accounts/login/")
    page.evaluate(
        """() => { const s = document.createElement("style");
        s.textContent = "body { color: red }"; document.head.appendChild(s); }"""
    )
    for _ in range(50):  # the event is dispatched as a task
        if watch.violations:
            break
        page.wait_for_timeout(100)
    assert [(v["page"], v["directive"], v["blocked"]) for v in watch.violations] == [
        ("/accounts/login/", "style-src-elem", "inline")
    ]
    assert any("style-src" in line for line in watch.console)
    for _ in range(50):  # the report is sent in the background
        if any(record.name == "productops.csp" for record in caplog.records):
            break
        page.wait_for_timeout(100)
    context.close()
    messages = [record.getMessage() for record in caplog.records if record.name == "productops.csp"]
    assert len(messages) == 1
    # The page's own path, as its route; the line of the evaluated code varies with the driver.
    assert messages[0].startswith(
        f"CSP violation: style-src-elem blocked inline on {live_server.url}/accounts/login/ (source "
    )


@contextmanager
def _host_site(child: str) -> Iterator[str]:
    """Another site, on a port of its own: one page holding an iframe of ``child``; its origin."""
    body = f'<!doctype html><title>Host</title><iframe src="{child}"></iframe>'.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _framed(browser, origin: str):
    """The host site's page and its console messages."""
    page = browser.new_context().new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{origin}/")
    return page, console


def test_a_listed_site_may_frame_the_board_and_an_unlisted_one_may_not(
    browser, live_server, transactional_db
):
    from tests.board.factories import BoardSettingsFactory
    from tests.productops.factories import WorkspaceFactory

    workspace = WorkspaceFactory(slug="embedded", name="Embedded Inc")
    BoardSettingsFactory(workspace=workspace, title="Embedded ideas")
    child = f"{live_server.url}/p/embedded/"
    with _host_site(child) as origin:
        # The host site speaks http, which the service takes only for localhost while
        # debugging: the list is written directly (tests/productops/test_csp.py covers the service).
        Workspace.objects.filter(pk=workspace.pk).update(embed_origins=[origin])
        page, console = _framed(browser, origin)
        assert page.frame_locator("iframe").locator("a.brand").text_content() == "Embedded ideas"
        assert [line for line in console if "frame" in line.lower()] == []
        page.context.close()

        Workspace.objects.filter(pk=workspace.pk).update(embed_origins=["https://elsewhere.example.com"])
        page, console = _framed(browser, origin)
        page.wait_for_timeout(500)
        assert page.frames[1].url != child  # the browser did not show the board
        assert [line.strip() for line in console if "frame-ancestors" in line] == [
            f"Framing '{live_server.url}/' violates the following Content Security Policy directive: "
            '"frame-ancestors https://elsewhere.example.com". The request has been blocked.'
        ]
        page.context.close()
