"""``/readyz``'s database check: a fresh connection of its own, answered within a budget.

Not the request's persistent connection (Django's): that one may be stuck behind a dead
link or hold a transaction, and replacing it is the request path's business. The probe
connects with the app's settings but tight limits (``connect_timeout=1``, which psycopg
raises to its minimum of 2 s; ``tcp_user_timeout`` 1 s; 1 s per round trip), runs
``SELECT 1`` and closes. It runs in a short-lived thread and the caller waits at most
:data:`BUDGET_SECONDS` for it, so the answer comes in time whatever the database (or the
resolver, which libpq calls synchronously) does; a thread still waiting after that ends on
its own limits within about 3 s. At most :data:`MAX_IN_FLIGHT` such threads per process:
past that the check reports the database unreachable without starting another.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import connections

from productops import db

#: The longest /readyz waits for the check (its whole answer is due within 2 s).
BUDGET_SECONDS = 1.5
ROUND_TRIP_MS = 1000
#: Options Django's backend reads itself; the rest of OPTIONS are libpq's.
DJANGO_OPTIONS = {"pool", "assume_role", "isolation_level", "server_side_binding", "prepare_threshold"}
MAX_IN_FLIGHT = 4
_in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)


def probe_params(settings_dict: dict[str, Any]) -> dict[str, Any]:
    """libpq parameters for the probe: the app's database and options, the probe's limits."""
    params = {k: v for k, v in (settings_dict.get("OPTIONS") or {}).items() if k not in DJANGO_OPTIONS}
    for key, name in (("NAME", "dbname"), ("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
        if settings_dict.get(key):
            params[name] = settings_dict[key]
    if settings_dict.get("PORT"):
        params["port"] = str(settings_dict["PORT"])
    params.update(connect_timeout=1, tcp_user_timeout=ROUND_TRIP_MS, application_name="productops-readyz")
    return params


def _probe(params: dict[str, Any], outcome: dict[str, Any], done: threading.Event) -> None:
    from productops.db.connection import DeadlineConnection

    try:
        with db.round_trip_limit(ROUND_TRIP_MS):
            conn = DeadlineConnection.connect(autocommit=True, **params)
            try:
                conn.execute("SELECT 1").fetchone()
            finally:
                conn.close()
    except Exception as exc:  # reported by check_postgresql
        outcome["error"] = exc
    finally:
        done.set()
        _in_flight.release()


def check_postgresql(
    settings_dict: dict[str, Any] | None = None, budget: float = BUDGET_SECONDS
) -> str | None:
    """None if the database (the default one's settings unless given) answered ``SELECT 1``
    on a new connection within ``budget`` seconds, else the problem
    (``"database unreachable: ..."``)."""
    params = probe_params(settings_dict or connections["default"].settings_dict)
    if not _in_flight.acquire(blocking=False):
        return "database unreachable: earlier checks are still waiting for it"
    outcome: dict[str, Any] = {}
    done = threading.Event()
    try:
        threading.Thread(
            target=_probe, args=(params, outcome, done), name="readyz-database", daemon=True
        ).start()
    except Exception:
        _in_flight.release()
        raise
    if not done.wait(budget):
        return f"database unreachable: no answer within {budget:g} s"
    error = outcome.get("error")
    if error is not None:
        return f"database unreachable: {error.__class__.__name__}"
    return None
