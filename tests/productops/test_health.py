import json
import os
import subprocess
import sys

import pytest

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
