"""Capture the README's screenshots (docs/screenshots/) from a fresh demo install.

    .venv/bin/python scripts/capture_screenshots.py

Migrates a throw-away SQLite database, seeds the demo data, serves it with
``runserver`` and photographs the main pages in Debian's Chromium at desktop
and phone widths. Nothing is downloaded; nothing touches your own database.
"""

from __future__ import annotations

import os
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

# (file name, path, full page?) — desktop shots; PHONE lists the 375 px ones.
PAGES = [
    ("dashboard", "/w/demo/", True),
    ("roadmap-board", "/w/demo/roadmap/", True),
    ("roadmap-timeline", "/w/demo/roadmap/timeline/", True),
    ("priority-matrix", "/w/demo/roadmap/matrix/", True),
    ("feedback-inbox", "/w/demo/feedback/", True),
    ("companies", "/w/demo/companies/", False),
    ("scoring-settings", "/w/demo/settings/scoring/", True),
    ("public-board", "/p/demo/", True),
    ("public-roadmap", "/p/demo/roadmap/", True),
    ("releases", "/w/demo/releases/", True),
    ("release", "/w/demo/releases/{at_risk}/", True),
    ("changelog", "/p/demo/changelog/", True),
    ("comms-stakeholders", "/w/demo/comms/stakeholders/", True),
    ("comms-digest-preview", "/w/demo/comms/subscriptions/{subscription}/digest/", True),
    ("comms-delivery-log", "/w/demo/comms/deliveries/", False),
]
PHONE = [("phone-dashboard", "/w/demo/"), ("phone-public-board", "/p/demo/")]


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
    # The demo's release in progress and at risk, for the release page's picture.
    at_risk, subscription = subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from releases.models import Release; from comms.models import Subscription; "
            "print(Release.objects.filter(status='in_progress').first().pk, "
            "Subscription.objects.filter(cadence='weekly').order_by('id').first().pk)",
        ],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()[-2:]  # after the shell's own "objects imported" line
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{BASE}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=ARGS
            )
            for width, height, shots in (
                (1366, 900, [(n, p, f) for n, p, f in PAGES]),
                (375, 780, [(n, p, False) for n, p in PHONE]),
            ):
                context = browser.new_context(base_url=BASE, viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto("/accounts/login/")
                page.get_by_label("Username").fill("demo")
                page.get_by_label("Password").fill("demo")
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/w/demo/")
                for name, path, full in shots:
                    page.goto(path.format(at_risk=at_risk, subscription=subscription))
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
                    print(f"{name}.png  {path}")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
