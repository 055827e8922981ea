import json
import os
import subprocess
import sys

import pytest
from django.db import DatabaseError, connection, transaction

from productops.celery import app as celery_app


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_and_broker_are_reachable(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["problems"] == []


def test_readyz_is_503_when_the_database_is_down():
    # A separate process whose database is a PostgreSQL port nobody listens on.
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/readyz');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nope",
        "ALLOWED_HOSTS": "testserver",
    }
    env["DJANGO_SETTINGS_MODULE"] = "productops.test_settings"

    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )

    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "503"
    assert json.loads(body)["status"] == "unavailable"
    assert json.loads(body)["problems"][0].startswith("database unreachable")


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_down(client):
    conf = celery_app.conf
    original_url, original_options = conf.broker_url, conf.broker_transport_options
    # A port nothing listens on (or a folder that does not exist, for the filesystem broker).
    if original_url.startswith("filesystem://"):
        conf.broker_transport_options = {**original_options, "data_folder_in": "/nonexistent/broker"}
    else:
        conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/readyz")
    finally:
        conf.broker_url, conf.broker_transport_options = original_url, original_options

    assert response.status_code == 503
    problems = response.json()["problems"]
    assert len(problems) == 1
    assert problems[0].startswith("broker")


@pytest.mark.django_db
def test_readyz_lists_a_stuck_workspace_in_its_details_and_stays_ready(client):
    from datetime import timedelta

    from django.utils import timezone

    from roadmap.models import RoadmapSettings
    from tests.productops.factories import WorkspaceFactory

    healthy = WorkspaceFactory(slug="fine")
    RoadmapSettings.objects.create(workspace=healthy, recompute_requested_at=timezone.now())
    poisoned = WorkspaceFactory(slug="poisoned")
    RoadmapSettings.objects.create(
        workspace=poisoned,
        recompute_failures=3,
        recompute_last_error="DataError: value out of range: underflow",
        recompute_next_attempt_at=timezone.now() + timedelta(minutes=4),
        recompute_requested_at=timezone.now() - timedelta(hours=1),
    )

    response = client.get("/readyz")

    assert response.status_code == 200  # one poisoned workspace never takes the web tier out
    body = response.json()
    assert body["status"] == "ok"
    probe = body["details"]["priority_recompute"]
    assert (probe["ok"], probe["count"]) == (False, 1)
    assert [w["workspace"] for w in probe["workspaces"]] == ["poisoned"]
    assert probe["workspaces"][0]["failures"] == 3
    assert probe["workspaces"][0]["last_error"] == "DataError: value out of range: underflow"
    assert 3500 < probe["oldest_request_age_seconds"] < 3700


@pytest.mark.django_db
def test_a_failing_probe_is_reported_not_raised():
    from productops import health

    def broken() -> dict:
        raise RuntimeError("probe bug")

    health.register_probe("zz_broken", broken)
    try:
        assert health.probe_details()["zz_broken"] == {"ok": False, "error": "RuntimeError"}
    finally:
        del health.PROBES["zz_broken"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="on SQLite the check uses Django's connection; the own connection is PostgreSQL's",
)
@pytest.mark.django_db
def test_readyz_checks_the_database_on_a_connection_of_its_own():
    from productops.db import probe
    from productops.health import check_database

    # The request's connection is stuck in an aborted transaction; the check does not use it.
    with transaction.atomic():
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        assert check_database() is None
        transaction.set_rollback(True)

    params = probe.probe_params(connection.settings_dict)
    assert (params["connect_timeout"], params["tcp_user_timeout"]) == (1, 1000)
    assert params["dbname"] == connection.settings_dict["NAME"]
