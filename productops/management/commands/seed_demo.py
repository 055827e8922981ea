"""Create (or top up) the demo workspace. Safe to run any number of times."""

import importlib
import random

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from productops.demo import DEMO_PASSWORD, DEMO_USERNAME, DEMO_WORKSPACE_SLUG, seed_core

# Domain apps may ship ``<app>/demo.py`` with ``seed(context, rng)`` and/or
# ``finish(context)``; seeds run in this order, then every finish. The modules are
# imported by name, an edge import-linter cannot see (listed in .importlinter).
DOMAIN_SEEDERS = ["roadmap", "feedback", "priority", "releases", "comms", "board"]


class Command(BaseCommand):
    help = "Seed the demo workspace (idempotent). --scale multiplies the data, for benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=int, default=1, help="Data volume multiplier (>= 1).")
        parser.add_argument("--seed", type=int, default=2027, help="Random seed (same seed, same data).")
        parser.add_argument(
            "--force", action="store_true", help="Seed even with DEBUG off (it creates demo/demo logins)."
        )

    def handle(self, *args: object, scale: int, seed: int, force: bool, **options: object) -> None:
        if not (settings.DEBUG or force):
            raise CommandError(
                "seed_demo creates accounts with known passwords; with DEBUG off pass --force."
            )
        scale = max(1, scale)
        # The published demo/demo login may open the admin console only on a DEBUG install.
        context = seed_core(scale=scale, demo_staff=settings.DEBUG)
        rng = random.Random(seed)  # noqa: S311 (demo data, not security)
        modules = []
        for app_label in DOMAIN_SEEDERS:
            try:
                modules.append(importlib.import_module(f"{app_label}.demo"))
            except ModuleNotFoundError as exc:
                if exc.name != f"{app_label}.demo":
                    raise
        for module in modules:
            if hasattr(module, "seed"):
                module.seed(context, rng)
        # After every app has seeded: e.g. the priority engine scores what feedback asked for.
        for module in modules:
            if hasattr(module, "finish"):
                module.finish(context)
        base = settings.PUBLIC_BASE_URL
        lines = [
            f"Demo workspace {DEMO_WORKSPACE_SLUG!r} ready (scale {scale}). "
            f"Login: {DEMO_USERNAME} / {DEMO_PASSWORD}  ({base})",
            f"  Portal:       {base}/w/{DEMO_WORKSPACE_SLUG}/",
        ]
        if settings.DEBUG:
            lines += [
                f"  Admin:        {base}/admin/  ({DEMO_USERNAME} is staff while DEBUG is on)",
                f"  Sent e-mails: {base}/w/{DEMO_WORKSPACE_SLUG}/dev/emails/",
            ]
        self.stdout.write("\n".join(lines))
