"""Health endpoints for load balancers and docker-compose.

``/healthz``: the process answers. ``/readyz``: the database and the broker are
reachable (503 naming what is not), plus, as information that never turns it to 503,
the age of the last worker heartbeat and the ``details`` of the probes domains
register (:func:`register_probe`, called from an ``AppConfig.ready``; the core
imports no domain). A stalled worker or a stuck workspace delays work but does not
make the web tier unready.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from kombu.exceptions import OperationalError as BrokerError

from productops.celery import app as celery_app

logger = logging.getLogger(__name__)

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
        except Exception as exc:
            logger.exception("Readiness probe %s failed", name)
            details[name] = {"ok": False, "error": exc.__class__.__name__}
    return details


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> str | None:
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
    problems = [p for p in (check_database(), check_broker()) if p]
    body = {
        "status": "unavailable" if problems else "ok",
        "problems": problems,
        "worker_heartbeat_age_seconds": None if problems else worker_heartbeat_age_seconds(),
        "details": {} if problems else probe_details(),
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
