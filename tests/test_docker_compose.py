"""docker-compose.yml describes the production shape, and its commands point at real code."""

import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _import(target: str):
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def test_the_production_services_are_there_with_health_checks(services):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert any(v.startswith("postgres-data:") for v in services["postgres"]["volumes"])


def test_web_runs_gunicorn_on_the_wsgi_application(services):
    command = services["web"]["command"]

    assert command[0] == "gunicorn"
    assert callable(_import(command[1]))
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_celery_services_point_at_the_project_app(services, name):
    command = services[name]["command"]
    app_module = command[command.index("-A") + 1]

    assert command[:2] == ["celery", "-A"]
    assert _import(app_module).celery_app.main == "productops"
    assert name in command


def test_beat_uses_the_database_scheduler(services):
    command = services["beat"]["command"]

    scheduler = command[command.index("--scheduler") + 1]
    assert _import(scheduler).__name__ == "DatabaseScheduler"


def test_app_services_share_the_production_environment(services):
    for name in ("web", "worker", "beat", "migrate"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://"), name
        assert environment["REDIS_URL"].startswith("redis://"), name
        assert "SECRET_KEY" in environment, name
    assert services["migrate"]["command"][:3] == ["python", "manage.py", "migrate"]
    assert (ROOT / "manage.py").exists()
    assert (ROOT / "Dockerfile").exists()
