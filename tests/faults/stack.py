# STACK_READY
"""A productops stack of its own on loopback, for fault scripts and the soak.

``Stack(name)`` is a context manager. On entry it:

- creates the database ``productops_fault_<name>`` on the shared PostgreSQL (a copy of a
  migrated template, ``productops_fault__tpl_<hash of the migrations>``, built once with
  ``migrate``; so a stack starts in about a second instead of 25);
- starts its own ``redis-server`` on a free port in 18200-18299 (no persistence unless
  ``redis_appendonly=True``);
- starts gunicorn, a Celery worker (its own queue, ``CELERY_QUEUE=fault_<name>``) and beat
  as subprocesses, each in its own process group, logs in ``<tmp>/logs/<process>.log``.

Settings are production-like (``DEBUG=0``, a random ``SECRET_KEY``, ``ALLOWED_HOSTS``
127.0.0.1) except: no HTTPS redirect, API throttles raised out of the way (``env=`` to
change), e-mail to :class:`tests.faults.mail.RecordingEmailBackend` (``<tmp>/mail.log``).
``db_proxy=True`` puts a :class:`tests.faults.proxy.TcpProxy` between the app's processes
and PostgreSQL (``stack.proxy.set_mode(...)``); migrations, seeding and ``stack.sql`` go
direct.

On exit (and at interpreter exit, SIGTERM or SIGINT) every process it started is stopped,
its Redis server too, and its database is dropped. ``FAULTS_KEEP=1`` keeps the temp dir
(logs, mail log) for a look after a failure.

Never touches the machine's shared Redis, nor any database but ``productops_fault_*``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PORT_RANGE = range(18200, 18300)
_RESULT_MARK = "@@FAULTS_RESULT@@"

_LIVE: list[Stack] = []
_REPORTS: list[Report] = []
_PORTS_TAKEN: set[int] = set()
_PORT_LOCK = threading.Lock()


# --- small helpers ---------------------------------------------------------------------


def free_port() -> int:
    """A port in 18200-18299 nobody listens on (and not handed out by this process before)."""
    # From a random point of the range, so two scripts running at once (the CI runner runs
    # two; the soak may run beside a script) rarely probe the same ports at the same moment.
    offset = random.randrange(len(PORT_RANGE))
    with _PORT_LOCK:
        for port in [*PORT_RANGE[offset:], *PORT_RANGE[:offset]]:
            if port in _PORTS_TAKEN:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            # Someone may be bound on another address but listening; check by connecting.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.2)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    continue
            _PORTS_TAKEN.add(port)
            return port
    raise RuntimeError("no free port in 18200-18299")


def wait_until(
    predicate: Callable[[], Any], timeout: float, *, interval: float = 0.2, what: str = "condition"
) -> float:
    """Poll ``predicate`` until it is truthy; return the seconds it took, or raise TimeoutError.
    An exception inside the predicate counts as "not yet"."""
    started = time.monotonic()
    last_error: BaseException | None = None
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except Exception as exc:  # the service may still be coming up
            last_error = exc
        if time.monotonic() - started > timeout:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s{detail}")
        time.sleep(interval)


def _pdeathsig() -> None:
    # Our child gets SIGTERM if this script dies without cleaning up (even SIGKILLed),
    # so no gunicorn or worker outlives a crashed fault script.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _admin_conn() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


def _migrations_hash() -> str:
    digest = hashlib.sha256()
    # Migrations, and what migrate sets besides them (the role's timeouts).
    for path in sorted([*ROOT.glob("*/migrations/*.py"), ROOT / "productops" / "db" / "roles.py"]):
        if not path.exists():
            continue
        if ".venv" in path.parts:
            continue
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _template_db(env: dict[str, str]) -> str:
    """A migrated database to copy (built once per set of migration files, under an advisory
    lock so concurrent stacks build it once)."""
    name = f"productops_fault__tpl_{_migrations_hash()}"
    with _admin_conn() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('productops_fault_template'))")
        try:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists:
                return name
            conn.execute(f'CREATE DATABASE "{name}"')
            # The template carries the role's default timeouts (set by migrate): the defaults,
            # whatever the building stack overrides (each stack applies its own on its copy).
            migrate_env = {k: v for k, v in env.items() if not k.startswith("DB_")}
            migrate_env["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
            result = subprocess.run(
                [PYTHON, "manage.py", "migrate", "--noinput"],
                cwd=ROOT, env=migrate_env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            if result.returncode != 0:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise RuntimeError(f"migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
            # Older templates (other migrations) are of no use any more; drop those not in use.
            for (old,) in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'productops\\_fault\\_\\_tpl\\_%%' "
                "AND datname <> %s",
                [name],
            ).fetchall():
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f'DROP DATABASE "{old}"')
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('productops_fault_template'))")


def _stop_group(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # Pool children left behind by a killed leader share the group: end them too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    text: str
    elapsed: float
    error: str = ""  # a transport error (connection refused, reset, timeout); status is 0

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")


@dataclass
class Seed:
    """What :meth:`Stack.seed_basic` created."""

    workspace_id: int
    slug: str
    user_id: int
    username: str
    token: str
    extra: dict = field(default_factory=dict)


# --- the stack -------------------------------------------------------------------------


class Stack:
    def __init__(
        self,
        name: str,  # [a-z0-9_]: it names the database and the Celery queue
        *,
        web: bool = True,
        worker: bool = True,
        beat: bool = True,
        web_workers: int = 2,
        worker_concurrency: int = 2,
        redis_appendonly: bool = False,
        db_proxy: bool = False,
        env: dict[str, str] | None = None,
        beat_intervals: dict[str, int] | None = None,
        quiet: bool = False,
        seed: bool = False,
    ):
        """``env`` overrides the stack's environment for every process (e.g.
        ``{"OUTBOX_LEASE_SECONDS": "5"}``). ``beat_intervals`` maps a periodic task's name
        (``PeriodicTask.name``) to a new interval in seconds, set before beat starts.
        ``seed=True`` runs :meth:`seed_basic` while the processes start (``stack.seed``)."""
        self.name = name
        self.db_name = f"productops_fault_{name}"
        self.want_web, self.want_worker, self.want_beat = web, worker, beat
        self.web_workers, self.worker_concurrency = web_workers, worker_concurrency
        self.redis_appendonly = redis_appendonly
        self.beat_intervals = beat_intervals or {}
        self.quiet = quiet
        self.want_seed = seed
        self.tmp = Path(tempfile.mkdtemp(prefix=f"faults_{name}_"))
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.mail_log = self.tmp / "mail.log"
        self.redis_port = free_port()
        self.web_port = free_port()
        self.proxy = None
        self.db_port = PG_PORT
        if db_proxy:
            from tests.faults.proxy import TcpProxy

            self.db_port = free_port()
            self.proxy = TcpProxy(listen_port=self.db_port, target_host=PG_HOST, target_port=PG_PORT)
        self.direct_database_url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.db_name}"
        self.database_url = f"postgres://{PG_USER}@{PG_HOST}:{self.db_port}/{self.db_name}"
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.env = self._base_env() | (env or {})
        self.processes: dict[str, subprocess.Popen] = {}
        self._log_handles: dict[str, Any] = {}
        self._stopped = False
        self._db_created = False
        self.seed: Seed | None = None
        self._sql_local = threading.local()
        self._sql_conns: list[psycopg.Connection] = []
        self.timings: dict[str, float] = {}

    # --- environment ---------------------------------------------------------------
    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_"))}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "productops.settings",
                "DEBUG": "0",
                "SECRET_KEY": "fault-stack-" + secrets.token_urlsafe(48),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0",
                "SECURE_HSTS_SECONDS": "0",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "CELERY_QUEUE": f"fault_{self.name}",
                "VAR_DIR": str(self.tmp / "var"),
                "STATIC_ROOT": str(self.tmp / "static"),
                "EMAIL_BACKEND": "tests.faults.mail.RecordingEmailBackend",
                "FAULT_MAIL_LOG": str(self.mail_log),
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}",
                # Fault scripts write in bursts from one token; the throttles are not under test.
                "API_THROTTLE_USER": "1000000/minute",
                "API_THROTTLE_ANON": "1000000/minute",
                "API_THROTTLE_INBOUND_WEBHOOK": "1000000/minute",
                "LOG_LEVEL": "INFO",
            }
        )
        return env

    # --- context manager -----------------------------------------------------------
    def __enter__(self) -> Stack:
        _LIVE.append(self)
        _install_cleanup()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(failed=exc[0] is not None)

    def log(self, message: str) -> None:
        if not self.quiet:
            print(f"[{self.name} {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def start(self) -> None:
        started = time.monotonic()
        self._create_database()
        self.timings["database_s"] = time.monotonic() - started
        if self.proxy is not None:
            self.proxy.start()
        # The daily full recompute would fire at beat's start (its last run is the template's
        # creation); a script that wants it sends it itself.
        self.sql(
            "UPDATE django_celery_beat_periodictask SET last_run_at = now() "
            "WHERE task = 'roadmap.tasks.recompute_everything'"
        )
        self.start_redis()
        if self.beat_intervals:
            self.set_beat_intervals(self.beat_intervals)
        # Everything starts at once; the seed (a Django process of its own) runs meanwhile.
        if self.want_web:
            self.start_web()
        if self.want_worker:
            self.start_worker(wait=False)
        if self.want_beat:
            self.start_beat()
        if self.want_seed:
            self.seed_basic()
        if self.want_worker:
            self.wait_worker()
        if self.want_web:
            self.wait_web()
        self.timings["start_s"] = time.monotonic() - started
        self.log(
            f"up in {self.timings['start_s']:.1f}s: web {self.base_url}, redis :{self.redis_port}, "
            f"db {self.db_name}{' via proxy :' + str(self.db_port) if self.proxy else ''}, logs {self.logs}"
        )

    # --- database ------------------------------------------------------------------
    def _create_database(self) -> None:
        template = _template_db(self.env)
        with _admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            # A template must have no other session while it is copied; concurrent stacks retry.
            for attempt in range(50):
                try:
                    conn.execute(f'CREATE DATABASE "{self.db_name}" TEMPLATE "{template}"')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 49:
                        raise
                    time.sleep(0.2)
        self._db_created = True
        self._copy_role_settings(template)

    #: The server-side limits migrate sets as the role's defaults in its database
    #: (productops.db.roles), and the settings that override them.
    ROLE_SETTINGS = {
        "statement_timeout": "DB_STATEMENT_TIMEOUT_MS",
        "lock_timeout": "DB_LOCK_TIMEOUT_MS",
        "idle_in_transaction_session_timeout": "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    }

    def _copy_role_settings(self, template: str) -> None:
        """A copied database does not inherit the role's per-database defaults (they live in
        the shared catalog ``pg_db_role_setting``): set the template's on the copy, with the
        stack's own ``DB_*_MS`` overrides."""
        with _admin_conn() as conn:
            row = conn.execute(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                "JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = %s AND r.rolname = %s",
                [template, PG_USER],
            ).fetchone()
            values = dict(item.split("=", 1) for item in (row[0] if row and row[0] else []))
            for name, variable in self.ROLE_SETTINGS.items():
                if self.env.get(variable):
                    values[name] = str(int(self.env[variable]))
            for name, value in values.items():
                conn.execute(f'ALTER ROLE {PG_USER} IN DATABASE "{self.db_name}" SET {name} = {value!r}')
        self.role_settings = values

    def _drop_database(self) -> None:
        if not self._db_created:
            return
        with contextlib.suppress(psycopg.Error), _admin_conn() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self._db_created = False

    def sql(self, query: str, params: Any = None) -> list[tuple]:
        """Run one statement on the stack's database (direct, never through the proxy), in
        autocommit; returns the rows (``[]`` for a statement without any)."""
        # One connection per thread, kept: polling loops must not pay a connect per query
        # (on a loaded machine that is tens of milliseconds, enough to miss a short window).
        conn = getattr(self._sql_local, "conn", None)
        if conn is None or conn.closed:
            conn = self._sql_local.conn = psycopg.connect(self.direct_database_url, autocommit=True)
            self._sql_conns.append(conn)
        try:
            cursor = conn.execute(query, params)
        except psycopg.OperationalError:
            conn.close()
            raise
        return cursor.fetchall() if cursor.description else []

    def scalar(self, query: str, params: Any = None) -> Any:
        rows = self.sql(query, params)
        return rows[0][0] if rows else None

    def set_beat_intervals(self, intervals: dict[str, int]) -> None:
        """Give periodic tasks (by ``PeriodicTask.name``) a new interval; beat picks up the
        change at its next sync (``last_update`` is bumped so it reloads the schedule)."""
        for task_name, seconds in intervals.items():
            interval_id = self.scalar(
                "INSERT INTO django_celery_beat_intervalschedule (every, period) VALUES (%s, 'seconds') "
                "RETURNING id",
                [seconds],
            )
            updated = self.sql(
                "UPDATE django_celery_beat_periodictask SET interval_id = %s, crontab_id = NULL, "
                "date_changed = now() WHERE name = %s RETURNING id",
                [interval_id, task_name],
            )
            if not updated:
                names = [row[0] for row in self.sql("SELECT name FROM django_celery_beat_periodictask")]
                raise KeyError(f"no periodic task {task_name!r}; there are {names}")
        self.sql(
            "INSERT INTO django_celery_beat_periodictasks (ident, last_update) VALUES (1, now()) "
            "ON CONFLICT (ident) DO UPDATE SET last_update = now()"
        )

    # --- running Django code -------------------------------------------------------
    def django(self, code: str, *, timeout: float = 300, env: dict[str, str] | None = None) -> Any:
        """Run ``code`` in a fresh Python process with Django set up against this stack (direct
        database URL). The code assigns ``result``; its JSON (``default=str``) is returned."""
        prelude = "import django, json\ndjango.setup()\nresult = None\n"
        epilogue = f"\nprint({_RESULT_MARK!r} + json.dumps(result, default=str))\n"
        # One-off code (seeding, comparisons) runs with the long database limits, as
        # productops.db intends for scripts (DB_LONG_RUNNING).
        run_env = {
            **self.env,
            "DATABASE_URL": self.direct_database_url,
            "DB_LONG_RUNNING": "1",
            **(env or {}),
        }
        completed = subprocess.run(
            [PYTHON, "-c", prelude + code + epilogue],
            cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(f"django code failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
        for line in reversed(completed.stdout.splitlines()):
            if line.startswith(_RESULT_MARK):
                return json.loads(line[len(_RESULT_MARK) :])
        raise RuntimeError(f"django code printed no result:\n{completed.stdout[-2000:]}")

    def seed_basic(self, *, slug: str = "acme", scopes: tuple[str, ...] = ("read", "write")) -> Seed:
        """An owner (``owner``/``owner@example.com``) with a workspace and an API token."""
        data = self.django(
            f"""
from productops import services
from productops.models import User
user = User.objects.create_user(username="owner", email="owner@example.com", password="fault-pass-1234")
workspace = services.workspace_create(owner=user, name="Acme", slug={slug!r})
token, key = services.api_token_create(
    workspace=workspace, user=user, name="faults", scopes={list(scopes)!r}, actor=None
)
result = {{"workspace_id": workspace.pk, "slug": workspace.slug, "user_id": user.pk, "token": key}}
"""
        )
        self.seed = Seed(
            workspace_id=data["workspace_id"], slug=data["slug"], user_id=data["user_id"],
            username="owner", token=data["token"],
        )  # fmt: skip
        return self.seed

    def spawn_django(self, name: str, code: str, *, env: dict[str, str] | None = None) -> None:
        """Run ``code`` with Django set up in a background process of the stack (stopped with
        it, or with ``stop_process(name)``; output in ``logs/<name>.log``)."""
        run_env = {
            **self.env,
            "DATABASE_URL": self.direct_database_url,
            "DB_LONG_RUNNING": "1",
            **(env or {}),
        }
        self._spawn(name, [PYTHON, "-c", "import django\ndjango.setup()\n" + code], env=run_env)

    def send_task(self, task_name: str, *args: Any, **kwargs: Any) -> None:
        """Send a Celery task by name to this stack's queue (through its Redis)."""
        self.django(
            "from productops.celery import app\n"
            f"app.send_task({task_name!r}, args={list(args)!r}, kwargs={kwargs!r})\n"
        )

    # --- processes -----------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], *, cwd: Path = ROOT, env: dict | None = None) -> None:
        old = self.processes.get(name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{name} is already running")
        handle = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        handle.write(f"\n===== start {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
        handle.flush()
        self._log_handles.setdefault(name, []).append(handle)
        self.processes[name] = subprocess.Popen(
            argv, cwd=cwd, env=env or self.env, stdout=handle, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
            # The parent-death signal fires when the *thread* that forked exits, so only
            # children started from the main thread get it (the others rely on atexit).
            preexec_fn=_pdeathsig if threading.current_thread() is threading.main_thread() else None,
        )  # fmt: skip

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def start_redis(self) -> None:
        data_dir = self.tmp / "redis"
        data_dir.mkdir(exist_ok=True)
        argv = [
            "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
            "--dir", str(data_dir), "--daemonize", "no", "--save", "",
            "--appendonly", "yes" if self.redis_appendonly else "no",
        ]  # fmt: skip
        if self.redis_appendonly:
            argv += ["--appendfsync", "always"]
        self._spawn("redis", argv, cwd=data_dir)
        wait_until(self.redis_up, 15, interval=0.05, what="redis-server answering PING")

    def redis_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop_redis(self, sig: int = signal.SIGTERM) -> None:
        """Stop the stack's own Redis (SIGTERM: no save, as configured; SIGKILL: a crash)."""
        process = self.processes["redis"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=15)

    def redis_cli(self, *args: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), *args], capture_output=True, text=True, timeout=10
        )
        return result.stdout.strip()

    def start_web(self) -> None:
        argv = [str(BIN / "gunicorn")]
        conf = ROOT / "gunicorn.conf.py"
        if conf.exists():
            argv += ["-c", str(conf)]
        # Command-line options win over the config file's.
        argv += [
            "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(self.web_workers),
            "productops.wsgi:application",
        ]  # fmt: skip
        self._spawn("web", argv)

    def wait_web(self, timeout: float = 60) -> float:
        def up() -> bool:
            if not self.running("web"):
                raise RuntimeError(f"gunicorn exited; see {self.logs / 'web.log'}")
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200

        return wait_until(up, timeout, what="gunicorn answering /healthz")

    def start_worker(self, *, wait: bool = True) -> None:
        queue = self.env["CELERY_QUEUE"]
        self._spawn(
            "worker",
            [
                PYTHON, "-m", "celery", "-A", "productops", "worker", "--loglevel", "INFO",
                "--concurrency", str(self.worker_concurrency), "-Q", queue,
                "-n", f"{queue}@%h", "--without-gossip", "--without-mingle",
            ],
        )  # fmt: skip
        if wait:
            self.wait_worker()

    def wait_worker(self, timeout: float = 60) -> float:
        """Until the worker's log says it is ready (``celery@... ready.``) in its latest start."""

        def ready() -> bool:
            if not self.running("worker"):
                raise RuntimeError(f"the worker exited; see {self.logs / 'worker.log'}")
            text = (self.logs / "worker.log").read_text(errors="replace")
            return " ready." in text.rsplit("===== start", 1)[-1]

        return wait_until(ready, timeout, interval=0.1, what="the Celery worker ready")

    def kill_worker(self, sig: int = signal.SIGKILL) -> None:
        """Signal the worker's whole process group (main process and pool children)."""
        process = self.processes["worker"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGQUIT):
            process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def worker_pids(self) -> list[int]:
        """The worker's main process and its pool children."""
        process = self.processes.get("worker")
        if process is None or process.poll() is not None:
            return []
        out = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [
                PYTHON, "-m", "celery", "-A", "productops", "beat", "--loglevel", "INFO",
                "--schedule", str(self.tmp / "beat-schedule"), "--pidfile", str(self.tmp / "beat.pid"),
            ],
        )  # fmt: skip

    def stop_process(self, name: str, *, grace: float = 10.0) -> None:
        process = self.processes.get(name)
        if process is not None:
            _stop_group(process, grace=grace)

    def rss_kib(self, name: str) -> int:
        """Resident memory of a process and everything in its group (KiB)."""
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return 0
        out = subprocess.run(["ps", "-o", "rss=", "-g", str(process.pid)], capture_output=True, text=True)
        return sum(int(value) for value in out.stdout.split())

    def log_text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- HTTP ----------------------------------------------------------------------
    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, **kwargs)

    def api(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float = 30,
        content: bytes | None = None,
        client: httpx.Client | None = None,
    ) -> Response:
        """One HTTP request to the stack's gunicorn. ``path`` may contain ``{slug}``; the seeded
        token authenticates unless ``token=""``. A transport error is a Response with status 0."""
        if self.seed is not None:
            path = path.replace("{slug}", self.seed.slug)
            token = self.seed.token if token is None else token
        all_headers = {"Accept": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        owned = client is None
        client = client or self.client()
        started = time.monotonic()
        try:
            response = client.request(
                method, path, json=json_body, content=content, headers=all_headers, timeout=timeout
            )
            return Response(response.status_code, response.headers, response.text, time.monotonic() - started)
        except httpx.HTTPError as exc:
            return Response(0, httpx.Headers(), "", time.monotonic() - started, error=repr(exc))
        finally:
            if owned:
                client.close()

    # --- teardown ------------------------------------------------------------------
    def stop(self, *, failed: bool = False) -> None:
        if self._stopped:
            return
        self._stopped = True
        stopping = time.monotonic()
        # Teardown: nothing is left to finish, so every group gets SIGTERM at once and a short
        # grace before SIGKILL (sequential graceful stops cost 10-20 s per stack).
        live = [p for p in self.processes.values() if p.poll() is None]
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for process in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.05, deadline - time.monotonic()))
        for process in self.processes.values():
            _stop_group(process, grace=0.1)
        if self.proxy is not None:
            self.proxy.stop()
        for handles in self._log_handles.values():
            for handle in handles:
                with contextlib.suppress(Exception):
                    handle.close()
        for conn in self._sql_conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._drop_database()
        with _PORT_LOCK:
            _PORTS_TAKEN.difference_update({self.redis_port, self.web_port, self.db_port})
        self.timings["stop_s"] = time.monotonic() - stopping
        self.log(f"stopped in {self.timings['stop_s']:.1f}s")
        # A script whose checks failed keeps its logs too, even if nothing raised.
        failed = failed or any(not ok for report in _REPORTS for _, ok, _ in report.checks)
        keep = os.environ.get("FAULTS_KEEP") == "1"
        if keep or failed:
            self.log(f"kept {self.tmp} (logs)" if keep else f"failed; logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _LIVE:
            _LIVE.remove(self)


# --- cleanup on any exit ---------------------------------------------------------------

_cleanup_installed = False


def _stop_all() -> None:
    for stack in list(_LIVE):
        with contextlib.suppress(Exception):
            stack.stop(failed=True)


def _on_signal(signum: int, frame: object) -> None:
    # Unwind through the scripts' `with Stack(...)` blocks; atexit is the fallback.
    _stop_all()
    sys.exit(128 + signum)


def _install_cleanup() -> None:
    global _cleanup_installed
    if _cleanup_installed:
        return
    _cleanup_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _on_signal)


# --- reporting -------------------------------------------------------------------------


class Report:
    """Figures and checks of one fault script; ``finish()`` prints them and exits 1 on a failure."""

    def __init__(self, script: str):
        self.script = script
        self.figures: dict[str, Any] = {}
        self.checks: list[tuple[str, bool, str]] = []
        self.started = time.monotonic()
        _REPORTS.append(self)

    def figure(self, name: str, value: Any) -> Any:
        self.figures[name] = value
        print(f"  +{time.monotonic() - self.started:5.1f}s {name}: {value}", flush=True)
        return value

    def check(self, name: str, ok: bool, detail: Any = "") -> bool:
        self.checks.append((name, bool(ok), str(detail)))
        mark = "ok" if ok else "FAIL"
        suffix = f" — {detail}" if detail != "" else ""
        print(f"  +{time.monotonic() - self.started:5.1f}s [{mark}] {name}{suffix}", flush=True)
        return bool(ok)

    def finish(self) -> int:
        total = time.monotonic() - self.started
        failed = [name for name, ok, _ in self.checks if not ok]
        print(f"\n== {self.script}: {'FAILED' if failed else 'passed'} in {total:.1f}s")
        for name, value in self.figures.items():
            print(f"   {name}: {value}")
        if failed:
            print("   failed checks: " + "; ".join(failed))
        summary = {
            "script": self.script, "passed": not failed, "seconds": round(total, 1),
            "figures": self.figures, "failed": failed,
        }  # fmt: skip
        print("FAULTS_SUMMARY " + json.dumps(summary, default=str), flush=True)
        return 1 if failed else 0
