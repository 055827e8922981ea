"""Database timeouts (productops/db): a blackholed link fails within the client deadline, the
server's limits are the role's defaults after migrate, the recompute's transactions get the
long ones, and a database that is down answers 503 (JSON for the API, a static page else).

The blackhole is :class:`BlackholeProxy`, a TCP proxy in this process in front of the test
database: in blackhole mode it accepts connections and reads what clients send, but
forwards nothing either way, as a path that silently drops packets behind a proxy that
still acknowledges them (so TCP options cannot end the wait, and the server never sees the
query). Tests that need it, or PostgreSQL's limits, are skipped on SQLite.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from productops import db
from productops.api.exceptions import handler500
from productops.db import roles, unavailable

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="client deadlines, role defaults and SET LOCAL are PostgreSQL's; SQLite has no network link",
)


class BlackholeProxy:
    """127.0.0.1:<port> in front of PostgreSQL. ``blackhole()``: connections stay open and
    new ones are accepted, bytes are read and dropped, nothing is forwarded."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.dropping = threading.Event()
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def blackhole(self) -> None:
        self.dropping.set()

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()
        for sock in list(self.sockets):
            sock.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            upstream = None
            if not self.dropping.is_set():
                upstream = socket.create_connection(self.target)
                self.sockets.append(upstream)
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        while not self.stopped.is_set():
            try:
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    return
                if sink is not None and not self.dropping.is_set():
                    sink.sendall(data)
            except (OSError, ValueError):
                return


@pytest.fixture
def proxy():
    settings_dict = connection.settings_dict
    running = BlackholeProxy((settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)))
    yield running
    running.stop()


def through(proxy: BlackholeProxy, **options) -> dict:
    """The test database's settings, reached through the proxy."""
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(proxy.port)}
    settings_dict["OPTIONS"] = {**settings_dict["OPTIONS"], **options}
    return settings_dict


def wrapper_through(proxy: BlackholeProxy, **options):
    from productops.db.backends.postgresql.base import DatabaseWrapper

    return DatabaseWrapper(through(proxy, **options), alias="through_proxy")


# --- the client deadline ----------------------------------------------------------------


def test_the_client_deadline_is_the_statement_timeout_plus_a_second_and_long_running_the_long_one():
    assert db.client_timeout() == 6.0
    with db.long_running():
        assert db.client_timeout() == 601.0
        with db.round_trip_limit(250):
            assert db.client_timeout() == 0.25
        assert db.client_timeout() == 601.0
    assert db.client_timeout() == 6.0
    with override_settings(DB_CLIENT_TIMEOUT_MS=0):
        assert db.client_timeout() is None


def test_a_deadline_caps_every_round_trip_to_what_is_left():
    with db.deadline(0.5):
        assert 0.4 < db.client_timeout() <= 0.5
        with db.long_running():
            assert db.client_timeout() <= 0.5
    with db.deadline(0):
        assert db.client_timeout() == 0.001


@postgres_only
@pytest.mark.django_db
def test_a_query_through_a_blackholed_link_fails_within_the_client_deadline(proxy):
    through_proxy = wrapper_through(proxy)
    try:
        with through_proxy.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        proxy.blackhole()

        started = time.monotonic()
        with (
            override_settings(DB_CLIENT_TIMEOUT_MS=500),
            through_proxy.cursor() as cursor,
            pytest.raises(OperationalError) as raised,
        ):
            cursor.execute("SELECT 1")
        elapsed = time.monotonic() - started

        assert 0.45 < elapsed < 2.0
        assert isinstance(raised.value.__cause__, psycopg.OperationalError)
        assert "client deadline" in str(raised.value)
        # Closed at once: the health check knows without another wait, and Django reconnects.
        assert through_proxy.connection.closed is True
        started = time.monotonic()
        assert through_proxy.is_usable() is False
        assert time.monotonic() - started < 0.2
    finally:
        through_proxy.close()


@postgres_only
@pytest.mark.django_db
def test_the_health_check_of_a_blackholed_persistent_connection_gives_up_after_a_second(proxy):
    through_proxy = wrapper_through(proxy)
    try:
        through_proxy.ensure_connection()
        proxy.blackhole()

        started = time.monotonic()
        usable = through_proxy.is_usable()
        elapsed = time.monotonic() - started

        assert usable is False
        assert 0.95 < elapsed < 2.5
    finally:
        through_proxy.close()


@postgres_only
@pytest.mark.django_db
def test_connecting_through_a_blackholed_link_fails_within_the_connect_timeout(proxy):
    proxy.blackhole()
    through_proxy = wrapper_through(proxy, connect_timeout=2)

    started = time.monotonic()
    with pytest.raises(OperationalError) as raised:
        through_proxy.ensure_connection()
    elapsed = time.monotonic() - started

    assert 1.9 < elapsed < 4.0
    assert isinstance(raised.value.__cause__, psycopg.errors.ConnectionTimeout)


@postgres_only
@pytest.mark.django_db
def test_on_a_healthy_link_the_server_statement_timeout_ends_a_slow_query_before_the_client_deadline():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 200")
        started = time.monotonic()
        with (
            override_settings(DB_CLIENT_TIMEOUT_MS=3000),
            pytest.raises(OperationalError) as raised,
            transaction.atomic(),
        ):
            cursor.execute("SELECT pg_sleep(2)")
        elapsed = time.monotonic() - started

    assert raised.value.__cause__.sqlstate == "57014"  # query_canceled: the server's answer
    assert elapsed < 2.0
    # The connection is fine afterwards: only the statement was cancelled.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


# --- the server-side limits --------------------------------------------------------------


def _show(cursor, name: str) -> str:
    cursor.execute(f"SHOW {name}")
    return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db
def test_after_migrate_the_role_defaults_hold_for_a_new_session_and_the_kept_one():
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    ) as fresh:
        values = {
            name: fresh.execute(f"SHOW {name}").fetchone()[0]
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        }
    assert values == {
        "statement_timeout": "5s",
        "lock_timeout": "3s",
        "idle_in_transaction_session_timeout": "1min",
    }
    # pytest-django's connection, open since it ran migrate, ended it with the same values.
    with connection.cursor() as cursor:
        assert _show(cursor, "statement_timeout") == "5s"
        assert _show(cursor, "lock_timeout") == "3s"
        assert _show(cursor, "idle_in_transaction_session_timeout") == "1min"


@postgres_only
@pytest.mark.django_db
def test_role_defaults_are_applied_only_where_they_differ():
    assert roles.apply_role_defaults() == []
    try:
        with override_settings(DB_LOCK_TIMEOUT_MS=2500):
            statements = roles.apply_role_defaults()
            with connection.cursor() as cursor:
                assert roles.current_role_defaults(cursor)["lock_timeout"] == "2500"
        assert len(statements) == 1
        assert statements[0].startswith("ALTER ROLE SESSION_USER IN DATABASE ")
        assert statements[0].endswith(" SET lock_timeout = 2500")
    finally:
        assert len(roles.apply_role_defaults()) == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_long_transaction_has_the_long_limits_and_they_end_with_it():
    with db.long_transaction(), connection.cursor() as cursor:
        assert _show(cursor, "statement_timeout") == "10min"
        assert _show(cursor, "lock_timeout") == "0"
        assert db.client_timeout() == 601.0
    with connection.cursor() as cursor:
        assert _show(cursor, "statement_timeout") == "5s"
        assert _show(cursor, "lock_timeout") == "3s"
    assert db.client_timeout() == 6.0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_inside_an_open_transaction_a_long_transaction_keeps_the_callers_limits():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '2s'")
        with db.long_transaction():
            assert _show(cursor, "statement_timeout") == "5s"
            assert _show(cursor, "lock_timeout") == "2s"
            assert db.client_timeout() == 6.0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_recompute_runs_its_statements_with_the_long_timeout(workspace):
    from priority import recompute
    from roadmap.models import Feature, ScoreState
    from tests.roadmap.factories import FeatureFactory

    FeatureFactory.create_batch(3, workspace=workspace)
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().startswith("UPDATE roadmap_feature"):
            with context["connection"].cursor() as cursor:
                cursor.execute("SHOW statement_timeout")
                seen.append(cursor.fetchone()[0])
        return result

    with connection.execute_wrapper(record):
        result = recompute.run(workspace_id=workspace.pk, full=True)

    assert result.recomputed == 3
    assert result.failed is False
    assert seen
    assert set(seen) == {"10min"}
    assert Feature.objects.filter(workspace=workspace, score_state=ScoreState.CLEAN).count() == 3


# --- 503: the API, the pages, /readyz -------------------------------------------------


def _refuse(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.django_db
def test_the_api_answers_a_json_503_with_retry_after_when_the_database_fails(
    workspace, owner, token_client, caplog
):
    client = token_client(workspace, owner)

    with connection.execute_wrapper(_refuse):
        response = client.get("/api/v1/workspaces/acme/features/", HTTP_X_REQUEST_ID="req-db-1")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "server_error",
        "errors": [{"code": "database_unavailable", "detail": unavailable.DETAIL, "attr": None}],
        "request_id": "req-db-1",
    }
    logged = [r for r in caplog.records if r.name == "productops.db"]
    assert len(logged) == 1
    assert logged[0].levelname == "ERROR"
    assert "req-db-1" in logged[0].getMessage()
    assert logged[0].exc_info is None


@pytest.mark.django_db
def test_the_api_answers_json_even_to_a_browser(workspace, owner, token_client):
    client = token_client(workspace, owner)

    with connection.execute_wrapper(_refuse):
        response = client.get("/api/v1/workspaces/acme/features/", HTTP_ACCEPT="text/html")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_portal_page_answers_the_static_503_page(workspace, portal_client):
    client, _ = portal_client(workspace)

    with connection.execute_wrapper(_refuse):
        response = client.get(reverse("portal:dashboard", args=[workspace.slug]))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    body = response.content.decode()
    assert "<h1>Back in a moment</h1>" in body
    assert "Try again in 5 seconds." in body
    assert "style=" not in body
    assert "<script" not in body
    assert "/static/portal/portal.css" in body


@pytest.mark.django_db
def test_a_public_board_page_answers_the_static_503_page(workspace):
    with connection.execute_wrapper(_refuse):
        response = Client().get(f"/p/{workspace.slug}/")

    assert response.status_code == 503
    assert "Back in a moment" in response.content.decode()


@pytest.mark.django_db
def test_the_503_page_renders_without_the_database():
    with CaptureQueriesContext(connection) as queries:
        response = unavailable.html_response()

    assert len(queries) == 0
    assert response.status_code == 503


def test_an_error_outside_a_view_is_a_503_through_handler500(rf):
    request = rf.get("/api/v1/workspaces/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        api = handler500(request)
        page = handler500(rf.get("/w/acme/"))

    assert api.status_code == 503
    assert json.loads(api.content)["errors"][0]["code"] == "database_unavailable"
    assert api["Retry-After"] == "5"
    assert page.status_code == 503
    assert page["Content-Type"] == "text/html; charset=utf-8"


def test_another_error_in_handler500_is_still_a_500(rf):
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        response = handler500(rf.get("/api/v1/workspaces/"))

    assert response.status_code == 500


def test_the_schema_documents_a_503_with_retry_after_on_every_operation():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 120
    for path, method, operation in operations:
        response = operation["responses"]["503"]
        where = f"{method.upper()} {path}"
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
            where
        )
        assert "Retry-After" in response["headers"], where


@postgres_only
@pytest.mark.django_db
def test_the_readyz_check_answers_within_its_budget_against_a_blackholed_database(proxy):
    from productops.db import probe

    assert probe.check_postgresql(through(proxy)) is None
    proxy.blackhole()

    started = time.monotonic()
    problem = probe.check_postgresql(through(proxy))
    elapsed = time.monotonic() - started

    assert problem == "database unreachable: no answer within 1.5 s"
    assert 1.4 < elapsed < 2.0


# --- end to end, in a process of its own whose database is behind the proxy -------------------

SCRIPT = """
import json, sys, time
import django
django.setup()
from django.db import close_old_connections
from django.test import Client

client = Client(raise_request_exception=False)
token = {"HTTP_AUTHORIZATION": "Bearer po_no-such-token"}

def timed(path, **headers):
    started = time.monotonic()
    response = client.get(path, **headers)
    return {"path": path, "status": response.status_code, "ms": round((time.monotonic() - started) * 1000),
            "retry_after": response.get("Retry-After"), "type": response["Content-Type"],
            "body": response.content.decode()[:400]}

warm = timed("/api/v1/workspaces/", **token)
print(json.dumps(warm), flush=True)
sys.stdin.readline()  # the proxy blackholes now
results = [timed("/api/v1/workspaces/", **token)]
close_old_connections()  # what the WSGI handler does at the end of a request: drop the dead connection
results.append(timed("/p/acme/"))
results.append(timed("/readyz"))
print(json.dumps(results), flush=True)
"""


@postgres_only
@pytest.mark.django_db
def test_a_process_behind_a_blackholed_link_answers_503s_in_time(proxy):
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings_dict['USER']}@127.0.0.1:{proxy.port}/{settings_dict['NAME']}",
        "DJANGO_SETTINGS_MODULE": "productops.test_settings",
        "ALLOWED_HOSTS": "testserver",
        "DB_CLIENT_TIMEOUT_MS": "1000",
        "DB_CONNECT_TIMEOUT": "2",
    }
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        warm = json.loads(child.stdout.readline())
        proxy.blackhole()
        child.stdin.write("go\n")
        child.stdin.flush()
        api, page, ready = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait(timeout=10)

    assert warm["status"] == 401  # the token was looked up: the connection is open
    # An open connection: the round trip's deadline (1 s).
    assert api["status"] == 503
    assert api["retry_after"] == "5"
    assert api["type"] == "application/json"
    assert json.loads(api["body"])["errors"][0]["code"] == "database_unavailable"
    assert 950 < api["ms"] < 3000
    # A new connection: the connect timeout (2 s).
    assert page["status"] == 503
    assert page["retry_after"] == "5"
    assert page["type"] == "text/html; charset=utf-8"
    assert 1900 < page["ms"] < 4000
    # Its own connection, answered within 2 s.
    assert ready["status"] == 503
    assert json.loads(ready["body"])["problems"] == ["database unreachable: no answer within 1.5 s"]
    assert ready["ms"] < 2000
