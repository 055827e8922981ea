"""docker-compose.yml describes the production shape, and its commands point at real code."""

import importlib
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from api.feedback.channels import MULTIPART_OVERHEAD_BYTES
from feedback.channels.csv_import import MAX_CSV_BYTES

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = ["gunicorn", "-c", "gunicorn.conf.py", "productops.wsgi:application"]


@pytest.fixture(scope="module")
def services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _import(target: str):
    module, _, attribute = target.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def test_the_production_services_are_there_with_health_checks(services):
    assert {"postgres", "redis", "proxy", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "proxy", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert any(v.startswith("postgres-data:") for v in services["postgres"]["volumes"])


def test_web_runs_gunicorn_with_its_config_file_on_the_wsgi_application(services):
    command = services["web"]["command"]

    assert command == GUNICORN
    assert callable(_import(command[-1]))
    assert (ROOT / command[2]).exists()
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    # The image's own command is the same, for a deployment without compose.
    assert f"CMD {json.dumps(GUNICORN)}" in (ROOT / "Dockerfile").read_text()


def test_only_the_proxy_is_published_and_it_runs_the_nginx_config(services):
    proxy = services["proxy"]

    assert proxy["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert proxy["ports"] == ["${PORT:-8000}:80"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(proxy["healthcheck"]["test"])
    # web is reachable only through nginx, so gunicorn and Django may believe its headers.
    assert "ports" not in services["web"]
    assert services["web"]["expose"] == ["8000"]
    assert services["web"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    assert services["web"]["environment"]["TRUST_X_FORWARDED_PROTO"] == "${TRUST_X_FORWARDED_PROTO:-1}"
    assert services["web"]["environment"]["NUM_PROXIES"] == "${NUM_PROXIES:-1}"


def test_the_proxy_sets_the_headers_the_app_trusts():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()

    assert "set $productops_upstream http://web:8000;" in conf
    assert "proxy_set_header X-Request-ID $productops_request_id;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_request_buffering on;" in conf
    assert "proxy_buffering on;" in conf


def _mib(value: str) -> int:
    assert value.endswith("m"), value
    return int(value[:-1]) * 1024 * 1024


def test_the_proxy_body_limits_sit_just_above_the_apps_own():
    # The app answers its own 400 up to its limits; nginx's 413 only stops bodies past them.
    limits = re.findall(r"client_max_body_size (\w+);", (ROOT / "deploy" / "nginx.conf").read_text())
    default, *imports = (_mib(limit) for limit in limits)

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < default <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 2**20
    assert default > settings.API_MAX_BODY_BYTES
    assert len(imports) == 2
    for limit in imports:
        assert MAX_CSV_BYTES + MULTIPART_OVERHEAD_BYTES < limit <= MAX_CSV_BYTES + 2**20


def test_redis_keeps_queued_messages_across_a_restart(services):
    command = services["redis"]["command"]

    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert any(v.startswith("redis-data:") for v in services["redis"]["volumes"])


def test_web_and_worker_get_time_to_finish_before_docker_kills_them(services):
    # Longer than gunicorn.conf.py's graceful_timeout (25 s); docker's default is 10 s.
    assert services["web"]["stop_grace_period"] == "35s"
    assert services["worker"]["stop_grace_period"] == "60s"


def test_the_backup_service_runs_the_backup_script_only_when_asked(services):
    backup = services["backup"]

    assert backup["profiles"] == ["tools"]
    assert backup["command"][0] == "scripts/backup.sh"
    assert (ROOT / backup["command"][0]).stat().st_mode & 0o111
    assert backup["environment"]["DATABASE_URL"].startswith("postgres://")
    assert "backups:/app/var/backups" in backup["volumes"]


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


def _resolved(environment: dict[str, str], **overrides: str) -> dict[str, str]:
    """The compose environment with each ${NAME:-default} at its default (${NAME:?...} given)."""
    resolved = {}
    for name, value in environment.items():
        value = str(value)
        value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2), value)
        value = re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: overrides.get(m.group(1), ""), value)
        resolved[name] = overrides.get(name, value)
    return resolved


def test_the_web_environment_passes_check_deploy_once_tls_is_on(services):
    environment = _resolved(
        services["web"]["environment"],
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_SSL_REDIRECT="1",
        SESSION_COOKIE_SECURE="1",
        CSRF_COOKIE_SECURE="1",
        ALLOWED_HOSTS="productops.example.com",
        # The compose names resolve only inside compose; the check needs no connection.
        DATABASE_URL="postgres://productops:productops@127.0.0.1:5432/productops",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", *environment}
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **environment, "DJANGO_SETTINGS_MODULE": "productops.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert environment["TRUST_X_FORWARDED_PROTO"] == "1"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
