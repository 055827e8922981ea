"""Capture the README's screenshots (docs/screenshots/) from a fresh demo install.

    .venv/bin/python scripts/capture_screenshots.py

Migrates a throw-away SQLite database, seeds the demo data, serves it with
``runserver`` and photographs the main pages in Debian's Chromium at desktop
and phone widths, plus one signed-out share link page. Nothing is downloaded;
nothing touches your own database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PORT = int(os.environ.get("SCREENSHOT_PORT", "8791"))
BASE = f"http://127.0.0.1:{PORT}"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _edit_planning(page) -> None:
    """Open the feature page's Planning section for editing in place (its own Edit, htmx)."""
    page.locator("#section-planning").get_by_role("link", name="Edit").click()
    page.locator("#section-planning form").wait_for()
    page.wait_for_load_state("networkidle")


def _tick_cards(page) -> None:
    """Tick three cards so the bulk bar has something to act on."""
    boxes = page.locator("input[type=checkbox][form=bulk-form]")
    for index in range(min(3, boxes.count())):
        boxes.nth(index).check()


def _open_closed_lists(page) -> None:
    """Unfold the board's Shipped and Declined lists."""
    page.locator("details.closed-list").evaluate_all("lists => lists.forEach(l => (l.open = true))")


# (file name, path, full page?, action) — desktop shots; PHONE lists the 375 px ones. "Full
# page" is True, False (the viewport) or a height in pixels (the page's top, that tall). The
# action, if any, runs on the loaded page before the picture (open a section, tick cards...).
PAGES = [
    ("dashboard", "/w/demo/", True, None),
    ("roadmap-board", "/w/demo/roadmap/", True, _open_closed_lists),
    ("roadmap-bulk-edit", "/w/demo/roadmap/?select=1", 1000, _tick_cards),
    ("roadmap-timeline", "/w/demo/roadmap/timeline/", True, None),
    ("priority-matrix", "/w/demo/roadmap/matrix/", True, None),
    ("feature", "/w/demo/features/{feature}/", True, None),
    ("feature-edit-section", "/w/demo/features/{feature}/", 1000, _edit_planning),
    ("plan-goals", "/w/demo/plan/goals/", True, None),
    ("search", "/w/demo/search/?q=dashboard", True, None),
    ("feedback-inbox", "/w/demo/feedback/", True, None),
    ("feedback-themes", "/w/demo/feedback/themes/", True, None),
    ("companies", "/w/demo/companies/", False, None),
    ("scoring-settings", "/w/demo/settings/scoring/", True, None),
    ("public-board", "/p/demo/", True, None),
    ("public-roadmap", "/p/demo/roadmap/", True, None),
    ("releases", "/w/demo/releases/", True, None),
    ("release", "/w/demo/releases/{at_risk}/", True, None),
    ("changelog", "/p/demo/changelog/", True, None),
    ("comms-stakeholders", "/w/demo/comms/stakeholders/", True, None),
    ("comms-digest-preview", "/w/demo/comms/subscriptions/{subscription}/digest/", True, None),
    ("comms-delivery-log", "/w/demo/comms/deliveries/", False, None),
]
PHONE = [("phone-dashboard", "/w/demo/"), ("phone-public-board", "/p/demo/")]
# Signed out (a fresh browser context, no login): the read-only page behind a share link.
SIGNED_OUT = [("shared-view", "/shared/{share_key}/", True, None)]

# Run in ``manage.py shell`` after seeding: the ids the pictures need, and a saved view with a
# read-only share link made through the services (the key is shown once, so it is printed here).
# The last line printed is JSON.
FIXTURES = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from comms.models import Subscription
from releases.models import Release
from roadmap.models import Feature, SavedView
from roadmap.services import saved_view_create, share_link_create
from productops.models import Workspace
workspace = Workspace.objects.get(slug="demo")
demo = get_user_model().objects.get(username="demo")
feature = (
    Feature.objects.filter(workspace=workspace, priority_rank__isnull=False)
    .order_by("-critical_requests", "priority_rank").first()
)
view = saved_view_create(
    workspace=workspace, actor=demo, name="Roadmap for customers", kind=SavedView.Kind.BOARD,
    query={}, shared=True,
)
link, key = share_link_create(view=view, actor=demo, expires_at=timezone.now() + timedelta(days=30))
print(json.dumps({
    "at_risk": Release.objects.filter(status="in_progress").first().pk,
    "subscription": Subscription.objects.filter(cadence="weekly").order_by("id").first().pk,
    "feature": feature.pk,
    "share_key": key,
}))
"""


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="productops-shots-")
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{workdir}/shots.sqlite3",
        "CELERY_BROKER_DIR": f"{workdir}/broker",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    # The ids the pictures need (release at risk, weekly digest, the feature with the most
    # deal-blockers) and a share link, made through the services.
    ids = json.loads(
        subprocess.run(
            [*manage, "shell", "-c", FIXTURES],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]  # after the shell's own "objects imported" line
    )
    log = Path(workdir) / "server.log"
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        for _ in range(300):  # up to a minute on a busy machine
            if server.poll() is not None:
                raise SystemExit(f"runserver exited ({server.returncode}):\n{log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{BASE}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"runserver did not answer on {BASE}/healthz; see {log}")
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=ARGS
            )
            for width, height, shots, sign_in in (
                (1366, 900, PAGES, True),
                (375, 780, [(n, p, False, None) for n, p in PHONE], True),
                (1366, 900, SIGNED_OUT, False),
            ):
                context = browser.new_context(base_url=BASE, viewport={"width": width, "height": height})
                page = context.new_page()
                if sign_in:
                    page.goto("/accounts/login/")
                    page.get_by_label("Username").fill("demo")
                    page.get_by_label("Password").fill("demo")
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_url("**/w/demo/")
                for name, path, full, action in shots:
                    response = page.goto(path.format(**ids))
                    page.wait_for_load_state("networkidle")
                    if response is None or response.status >= 400:
                        raise SystemExit(f"{path}: HTTP {response.status if response else '?'}")
                    if action is not None:
                        action(page)
                    # Chromium paints an iframe (the e-mail previews) only once it has been in
                    # view; a full-page picture would show it blank, so leave it scrolled there.
                    frames = page.locator("iframe").all()
                    for frame in frames:
                        frame.scroll_into_view_if_needed()
                        page.wait_for_timeout(1000)
                    if not frames:  # sticky bars (the bulk bar) sit where the scroll left them
                        page.evaluate("window.scrollTo(0, 0)")
                    shot = {"path": str(OUT / f"{name}.png"), "full_page": full is not False}
                    if full is not True and full is not False:
                        shot["clip"] = {"x": 0, "y": 0, "width": width, "height": full}
                    page.screenshot(**shot)
                    print(f"{name}.png  {path}")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)  # kept (with server.log) when something failed


if __name__ == "__main__":
    main()
