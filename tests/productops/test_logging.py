"""Structured logs: the JSON lines' fields, and the request id from the request into its tasks."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from productops import tasks
from productops.celery import app as celery_app
from productops.request_id import context_bind, context_reset, current_request_id
from tests.productops.json_logs import configured, json_lines_of, production_handler

ROOT = Path(__file__).resolve().parents[2]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict]]]:
    with json_lines_of() as lines:
        yield lines


@pytest.fixture
def empty_queue():
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def queued_headers() -> list[dict]:
    """The headers of every message waiting in our queue on the real broker (taken off it)."""
    found = []
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        while (
            message := channel.basic_get(queue=celery_app.conf.task_default_queue, no_ack=True)
        ) is not None:
            found.append(message.headers)
    return found


# --- the format ------------------------------------------------------------------------------


def test_the_test_settings_log_json_lines_through_the_context_filter():
    console = settings.LOGGING["handlers"]["console"]

    assert settings.LOG_FORMAT == "json"
    assert console["formatter"] == "json"
    assert console["filters"] == ["context"]
    assert settings.LOGGING["root"]["handlers"] == ["console"]


def test_a_json_line_has_the_timestamp_level_logger_message_and_context(json_lines):
    bound = context_bind(request_id="req-1", task_name="productops.tasks.heartbeat", task_id="t-1")
    try:
        logging.getLogger("productops.test").warning("hello %s", "world")
    finally:
        context_reset(bound)

    [line] = json_lines()
    assert ISO_UTC.match(line.pop("timestamp"))
    assert line == {
        "level": "WARNING",
        "logger": "productops.test",
        "message": "hello world",
        "request_id": "req-1",
        "task_name": "productops.tasks.heartbeat",
        "task_id": "t-1",
    }


def test_the_timestamp_is_the_record_time_in_utc(json_lines):
    before = time.time()
    logging.getLogger("productops.test").info("now")

    [line] = json_lines()
    logged = time.mktime(time.strptime(line["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(logged - before) < 2


def test_outside_any_request_or_task_the_request_id_is_null(json_lines):
    logging.getLogger("productops.test").info("idle")

    [line] = json_lines()
    assert line["request_id"] is None
    assert sorted(line) == ["level", "logger", "message", "request_id", "timestamp"]


def test_an_error_carries_its_exception_text(json_lines):
    try:
        raise ValueError("broken value")
    except ValueError:
        logging.getLogger("productops.test").exception("it failed")

    [line] = json_lines()
    assert line["level"] == "ERROR"
    assert line["message"] == "it failed"
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].endswith("ValueError: broken value")


def test_extra_fields_are_written_and_win_over_the_context(json_lines):
    bound = context_bind(request_id="req-2", workspace_id=7)
    try:
        logging.getLogger("productops.test").info("x", extra={"workspace_id": 9, "features": 3})
    finally:
        context_reset(bound)

    [line] = json_lines()
    assert line["workspace_id"] == 9
    assert line["features"] == 3
    assert line["request_id"] == "req-2"


def test_a_gunicorn_access_line_takes_the_http_fields_and_the_returned_request_id():
    atoms = {"m": "GET", "U": "/api/v1/x/", "s": "200", "B": 12, "M": 3, "h": "10.0.0.1", "a": 'ua \\"q\\"'}
    atoms["{x-request-id}o"] = "from-header"
    stream = io.StringIO()
    access = logging.getLogger("gunicorn.access")
    handler = production_handler(stream)
    access.addHandler(handler)
    try:
        access.info("%(m)s %(U)s %(s)s", atoms)
    finally:
        access.removeHandler(handler)

    line = json.loads(stream.getvalue())
    assert line["message"] == "GET /api/v1/x/ 200"
    assert line["request_id"] == "from-header"
    assert (line["method"], line["path"], line["status"], line["bytes"]) == ("GET", "/api/v1/x/", 200, 12)
    assert (line["duration_ms"], line["remote_addr"], line["user_agent"]) == (3, "10.0.0.1", 'ua "q"')


def test_the_plain_format_puts_the_known_context_after_the_message():
    formatter = configured("formatters", "plain")
    record = logging.LogRecord("productops.test", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id, record.workspace = "req-3", "acme"

    line = formatter.format(record)

    assert line.endswith(" INFO productops.test hello [request_id=req-3 workspace=acme]")


def _settings_value(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "productops.settings",
            "SECRET_KEY": secrets.token_hex(32),
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_settings_write_json_lines_and_debug_writes_plain_ones():
    code = "import logging; logging.getLogger('productops.x').warning('hi')"

    production = _settings_value(code, DEBUG="0")
    development = _settings_value(code, DEBUG="1")

    assert json.loads(production.stderr.strip().splitlines()[-1])["message"] == "hi"
    assert development.stderr.strip().splitlines()[-1].endswith(" WARNING productops.x hi")


def test_an_unknown_log_format_is_a_configuration_error():
    result = _settings_value("", DEBUG="0", LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be json or plain." in result.stderr


# --- a request's lines ---------------------------------------------------------------------------


def test_a_request_line_logged_inside_the_view_carries_the_request_user_and_workspace(
    workspace, portal_client, json_lines
):
    client, membership = portal_client(workspace)

    response = client.get(f"/w/{workspace.slug}/features/999999/", HTTP_X_REQUEST_ID="page-404")

    assert response.status_code == 404
    [line] = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["message"] == f"Not Found: /w/{workspace.slug}/features/999999/"
    assert line["request_id"] == "page-404"
    assert line["user_id"] == membership.user_id
    assert line["workspace"] == workspace.slug
    assert line["workspace_id"] == workspace.pk
    assert "request" not in line


def test_a_secret_in_the_url_never_reaches_the_request_line(workspace, client, json_lines):
    token = "magic-link-token-0123456789"

    response = client.get(f"/p/{workspace.slug}/verify/{token}/", HTTP_X_REQUEST_ID="secret-1")

    assert response.status_code == 404
    [line] = [line for line in json_lines() if line["logger"] == "django.request"]
    assert line["message"] == f"Not Found: /p/{workspace.slug}/verify/REDACTED/"
    assert line["request_id"] == "secret-1"
    assert token not in json.dumps(json_lines())


def test_django_request_error_lines_logged_after_the_middleware_carry_the_request_id(
    workspace, owner, session_client, monkeypatch, json_lines
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("api.platform.views.selectors.membership_list", broken)

    response = session_client(owner).get(
        f"/api/v1/workspaces/{workspace.slug}/members/", HTTP_X_REQUEST_ID="bug-2"
    )

    assert response.status_code == 500
    by_logger = {line["logger"]: line for line in json_lines()}
    assert by_logger["productops.api"]["request_id"] == "bug-2"
    assert by_logger["productops.api"]["user_id"] == owner.pk
    assert by_logger["productops.api"]["exception"].endswith("RuntimeError: a bug")
    # Django logs the 500 answer once the middleware has returned: the id comes from the request.
    assert (
        by_logger["django.request"]["message"]
        == f"Internal Server Error: /api/v1/workspaces/{workspace.slug}/members/"
    )
    assert by_logger["django.request"]["request_id"] == "bug-2"
    assert by_logger["django.request"]["workspace"] == workspace.slug
    assert by_logger["django.request"]["status_code"] == 500


# --- into the tasks --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_every_task_a_request_enqueues_carries_its_request_id(workspace, owner, session_client, empty_queue):
    # A real commit inside the request: enqueue_on_commit's callback runs at that commit,
    # before the middleware resets the request id.
    response = session_client(owner).post(
        f"/api/v1/workspaces/{workspace.slug}/invitations/",
        {"email": "new@example.com", "role": "viewer"},
        HTTP_X_REQUEST_ID="invite-7",
    )

    assert response.status_code == 201
    headers = queued_headers()
    assert "productops.tasks.outbox_send" in [h["task"] for h in headers]
    assert [h.get("request_id") for h in headers] == ["invite-7"] * len(headers)


@pytest.mark.django_db(transaction=True)
def test_a_task_sent_outside_any_request_carries_no_request_id(empty_queue):
    tasks.heartbeat.delay("beat-like")

    [headers] = queued_headers()
    assert "request_id" not in headers


def _trace_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "celery.app.trace"]


def test_a_task_without_a_header_logs_under_its_own_task_id(json_lines):
    tasks.ping.apply(task_id="task-alone")

    [line] = _trace_lines(json_lines())
    assert line["request_id"] == "task-alone"


def test_a_task_run_in_process_keeps_the_callers_request_id(json_lines):
    bound = context_bind(request_id="caller-1")
    try:
        tasks.ping.apply(task_id="task-inline")
        still = current_request_id()
    finally:
        context_reset(bound)

    [line] = _trace_lines(json_lines())
    assert line["request_id"] == "caller-1"
    assert still == "caller-1"


def test_a_task_run_with_the_header_logs_under_it_and_restores_the_context_after(json_lines):
    result = tasks.ping.apply(headers={"request_id": "hdr-1"}, task_id="task-hdr")

    assert result.get() == "pong"
    [line] = _trace_lines(json_lines())
    assert line["request_id"] == "hdr-1"
    assert (line["task_name"], line["task_id"]) == ("productops.tasks.ping", "task-hdr")
    logging.getLogger("productops.test").info("after")
    assert json_lines()[-1]["request_id"] is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_in_a_request_logs_under_the_same_id_in_a_real_worker(
    workspace, owner, session_client, empty_queue
):
    response = session_client(owner).post(
        f"/api/v1/workspaces/{workspace.slug}/invitations/",
        {"email": "follow@example.com", "role": "viewer"},
        HTTP_X_REQUEST_ID="invite-worker-1",
    )
    assert response.status_code == 201

    def sent(lines: list[dict]) -> list[dict]:
        return [line for line in lines if line.get("task_name") == "productops.tasks.outbox_send"]

    with json_lines_of("celery.app.trace") as lines:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            deadline = time.monotonic() + 30
            while not sent(lines()) and time.monotonic() < deadline:
                time.sleep(0.05)
        [line] = sent(lines())

    assert line["request_id"] == "invite-worker-1"
    assert line["message"].startswith(f"Task productops.tasks.outbox_send[{line['task_id']}] succeeded")
