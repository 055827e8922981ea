"""Gunicorn settings for productops: ``gunicorn -c gunicorn.conf.py productops.wsgi:application``.

Every value comes from the environment, with defaults for the docker-compose shape (gunicorn
behind the buffering nginx of deploy/nginx.conf). Command-line flags and ``GUNICORN_CMD_ARGS``
still override this file. docs/operations.md ("Gunicorn") explains the choices; the slow-client
measurement behind the worker class is ``python -m bench.slow_clients``.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from pathlib import Path

from gunicorn.glogging import Logger

# The project's packages, whatever the directory gunicorn was started from (before this import).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from productops.logs import gunicorn_logconfig_dict


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def _cores() -> int:
    # The CPUs this process may run on (a cpuset-limited container sees its own share).
    # A CFS quota (docker --cpus) is not visible here: set WEB_CONCURRENCY there.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# --- Where and how many --------------------------------------------------------------------
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or '8000'}"]
# 2 × cores + 1, capped: past a handful of processes per host the database connections and
# memory (about 110 MiB RSS a worker after its first requests) cost more than they bring.
WORKERS_CAP = 8
workers = _int("WEB_CONCURRENCY", min(2 * _cores() + 1, WORKERS_CAP))
# gthread: a connection costs a thread only once its request line has started arriving, a
# kept-alive idle connection costs none, and one slow client holds one thread rather than a
# whole process. It is not a defence against many slow clients by itself (each one still
# holds a thread); the nginx in front is (bench/slow_clients.py, docs/operations.md).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
# Each thread keeps its own database connection (CONN_MAX_AGE): workers × threads connections.
# (gunicorn turns sync workers with more than one thread into gthread, so sync gets 1.)
threads = _int("GUNICORN_THREADS", 4) if worker_class == "gthread" else 1

# --- Time limits -----------------------------------------------------------------------------
# A worker whose main loop is silent this long is killed. With sync workers that bounds a
# request; with gthread the main loop keeps beating while a thread waits, so a slow request is
# bounded by the database's statement and client timeouts instead.
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (docker stop, a deploy) in-flight requests get this long to finish; compose's
# stop_grace_period for web is longer, so docker's SIGKILL does not cut them short.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Idle kept-alive connections (gthread) are closed after this; nginx talks to gunicorn with
# one request per connection, so this only matters to clients that connect directly.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# --- Recycling -------------------------------------------------------------------------------
# A worker is replaced after this many requests (plus up to the jitter, so they do not all
# restart together): a leak in a library cannot grow without bound. 0 turns recycling off,
# which the load soak needs to measure memory.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100) if max_requests else 0

# --- Proxies and request limits --------------------------------------------------------------
# Addresses whose X-Forwarded-Proto gunicorn believes (compose: "*", since web is reachable
# only from the proxy on the compose network). Django itself trusts the header only with
# TRUST_X_FORWARDED_PROTO.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Gunicorn's defaults, stated: the request line (a long URL with its query) and the headers.
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190)

# --- Logs ------------------------------------------------------------------------------------
# The master's and the workers' lines (boot, WORKER TIMEOUT, access) in the app's format: one
# JSON object per line on stderr like every other process's, unless LOG_FORMAT=plain
# (productops/logs.py). An access line carries the request id the app returned (X-Request-ID)
# as its request_id field, and the HTTP fields from the atoms below, secrets redacted.
logconfig_dict = gunicorn_logconfig_dict()
# GUNICORN_ACCESSLOG= (empty) turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s '
    'forwarded_for="%({x-forwarded-for}i)s" user_agent="%(a)s"'
)
# No control socket (gunicornc): nothing in the deployment uses it, and it would be one more
# way in to the server.
control_socket_disable = True
# The heartbeat files on tmpfs, not on the container's overlay disk (gunicorn's advice).
_SHM = "/dev/shm"  # noqa: S108 - a tmpfs for gunicorn's own heartbeat files, not a shared secret
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (_SHM if os.path.isdir(_SHM) else None)

# Path segments and query values that are secrets: sign-in and confirmation links carry their
# token in the URL. tests/test_gunicorn_conf.py checks every URL pattern with a token is covered.
SECRET_PATH = re.compile(
    r"(?P<keep>/(?:verify|unsubscribe|confirm|preferences|contact-unsubscribe|shared)/)[^/?]+"
    r"|(?P<keep_reset>/accounts/reset/)[^/?]+/[^/?]+"
)
SECRET_QUERY = re.compile(r"(?P<keep>(?:^|[?&])(?:token|key|secret|signature|code)=)[^&\s]*", re.IGNORECASE)
REDACTED = "REDACTED"


def redact_uri(uri: str) -> str:
    """The URI with its secret path segments and query values replaced by ``REDACTED``."""

    def _path(match: re.Match) -> str:
        if match.group("keep_reset"):
            return f"{match.group('keep_reset')}{REDACTED}/{REDACTED}"
        return f"{match.group('keep')}{REDACTED}"

    path, sep, query = uri.partition("?")
    path = SECRET_PATH.sub(_path, path)
    if sep:
        query = SECRET_QUERY.sub(lambda m: f"{m.group('keep')}{REDACTED}", query)
    return f"{path}{sep}{query}"


class RedactingLogger(Logger):
    """Gunicorn's logger, with secrets removed from the request line of access log lines."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        raw_uri = environ.get("RAW_URI", "")
        atoms["r"] = f"{environ['REQUEST_METHOD']} {redact_uri(raw_uri)} {environ['SERVER_PROTOCOL']}"
        atoms["U"] = redact_uri(environ.get("PATH_INFO", ""))
        atoms["q"] = redact_uri(f"?{environ.get('QUERY_STRING', '')}")[1:]
        atoms["f"] = redact_uri(environ.get("HTTP_REFERER", "-"))
        return atoms


logger_class = RedactingLogger


# --- Garbage collector -----------------------------------------------------------------------
# A worker holds ~130,000 long-lived objects once Django and the app are loaded; every full
# collection walks them all, and with the default thresholds (700, 10, 10) a busy worker
# spent about a sixteenth of its time in the collector on the feature list (bench/api_load.py,
# docs/performance.md). Once the app is loaded, those objects are moved out of the collector's
# sight (gc.freeze: they are never garbage, and not touching them also keeps copy-on-write
# pages shared), and collections of the young generation are made rarer. Request garbage is
# still collected: reference counting frees almost all of it; the collector only finds cycles.
# GUNICORN_GC_THRESHOLD= (empty) leaves the collector as Python sets it: no freeze, (700, 10, 10).
GC_THRESHOLD = tuple(int(n) for n in os.environ.get("GUNICORN_GC_THRESHOLD", "50000,20,100").split(",") if n)


def post_worker_init(worker) -> None:
    """Once the worker has loaded the app: freeze what exists, raise the thresholds."""
    if not GC_THRESHOLD:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
