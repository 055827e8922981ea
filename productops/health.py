"""Health endpoints for load balancers and docker-compose.

``/healthz``: the process answers. ``/readyz``: the database and the broker are
reachable (503 naming what is not), plus, as information that never turns it to 503,
the age of the last worker heartbeat and the ``details`` of the probes domains
register (:func:`register_probe`, called from an ``AppConfig.ready``; the core
imports no domain). A stalled worker or a stuck workspace delays work but does not
make the web tier unready.

On PostgreSQL the database check opens a connection of its own, never the request's
persistent one, and gives up after 1.5 s (``productops.db.probe``); the heartbeat and the
probes then run on Django's connection under what is left of a 1.8 s budget
(``productops.db.deadline``). So ``/readyz`` answers within 2 s whatever the database does
(the broker check has its own 2 s limit).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from kombu.exceptions import OperationalError as BrokerError

from productops import db
from productops.celery import app as celery_app
from productops.db.probe import check_postgresql

logger = logging.getLogger(__name__)

#: The heartbeat and the probes share what is left of this (seconds since /readyz started),
#: and get at least MIN_DETAILS_SECONDS when the broker check was slow.
BUDGET_SECONDS = 1.8
MIN_DETAILS_SECONDS = 0.3

#: name → callable returning a JSON-able dict (``{"ok": bool, ...}``) for ``/readyz``'s details.
PROBES: dict[str, Callable[[], dict]] = {}


def register_probe(name: str, probe: Callable[[], dict]) -> None:
    """Add a readiness detail. Its answer is informational: it never makes ``/readyz`` a 503."""
    PROBES[name] = probe


def probe_details() -> dict[str, dict]:
    details = {}
    for name, probe in sorted(PROBES.items()):
        try:
            details[name] = probe()
        except DatabaseError as exc:
            # Slow or gone: one line (the database check itself said whether it is reachable).
            logger.warning("Readiness probe %s: %s", name, exc.__class__.__name__)
            details[name] = {"ok": False, "error": exc.__class__.__name__}
        except Exception as exc:
            logger.exception("Readiness probe %s failed", name)
            details[name] = {"ok": False, "error": exc.__class__.__name__}
    return details


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> str | None:
    if connection.vendor == "postgresql":
        return check_postgresql()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def check_broker() -> str | None:
    conf = celery_app.conf
    if conf.broker_url.startswith("filesystem://"):
        folder = (conf.broker_transport_options or {}).get("data_folder_in", "")
        if not (folder and os.path.isdir(folder) and os.access(folder, os.W_OK)):
            return "broker folder missing or not writable"
        return None
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except (BrokerError, OSError) as exc:
        return f"broker unreachable: {exc.__class__.__name__}"
    return None


def worker_heartbeat_age_seconds() -> int | None:
    from productops.models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="worker").first()
    except DatabaseError:
        return None
    return int((timezone.now() - beat.last_seen_at).total_seconds()) if beat else None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    started = time.monotonic()
    problems = [p for p in (check_database(), check_broker()) if p]
    heartbeat, details = None, {}
    if not problems:
        left = max(BUDGET_SECONDS - (time.monotonic() - started), MIN_DETAILS_SECONDS)
        with db.deadline(left):
            heartbeat = worker_heartbeat_age_seconds()
            details = probe_details()
    body = {
        "status": "unavailable" if problems else "ok",
        "problems": problems,
        "worker_heartbeat_age_seconds": heartbeat,
        "details": details,
    }
    return JsonResponse(body, status=503 if problems else 200)


class HealthCheckMiddleware:
    """Serve the health endpoints ahead of the rest of the middleware stack."""

    routes = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        view = self.routes.get(request.path)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
