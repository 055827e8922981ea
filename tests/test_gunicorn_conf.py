"""gunicorn.conf.py: its settings from the environment, and no secret in the access log."""

import re
import runpy
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "gunicorn.conf.py"
ENV = [
    "WEB_CONCURRENCY",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "GUNICORN_BIND",
    "GUNICORN_ACCESSLOG",
    "FORWARDED_ALLOW_IPS",
    "PORT",
    "LOG_FORMAT",
]


def _load(monkeypatch, **env: str) -> Config:
    """The file as gunicorn reads it: every setting it defines, validated by gunicorn."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(CONF))
    config = Config()
    for name, value in namespace.items():
        if name in config.settings:
            config.set(name, value)
    config.namespace = namespace
    return config


def test_defaults_are_gthread_workers_with_timeouts_and_recycling(monkeypatch):
    config = _load(monkeypatch)
    cores = config.namespace["_cores"]()

    assert config.worker_class_str == "gthread"
    assert config.workers == min(2 * cores + 1, 8)
    assert config.threads == 4
    assert config.timeout == 30
    assert config.graceful_timeout == 25
    assert config.keepalive == 5
    assert config.max_requests == 1000
    assert config.max_requests_jitter == 100
    assert config.bind == ["0.0.0.0:8000"]
    assert config.forwarded_allow_ips == ["127.0.0.1", "::1"]
    assert config.limit_request_line == 4094
    assert config.limit_request_fields == 100
    assert config.control_socket_disable is True


def test_the_environment_sets_workers_threads_and_proxies(monkeypatch):
    config = _load(
        monkeypatch,
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="8",
        GUNICORN_TIMEOUT="60",
        FORWARDED_ALLOW_IPS="*",
        PORT="9000",
    )

    assert config.workers == 3
    assert config.threads == 8
    assert config.timeout == 60
    assert config.forwarded_allow_ips == ["*"]
    assert config.bind == ["0.0.0.0:9000"]


def test_max_requests_zero_turns_recycling_off(monkeypatch):
    config = _load(monkeypatch, GUNICORN_MAX_REQUESTS="0")

    assert config.max_requests == 0
    assert config.max_requests_jitter == 0


def test_sync_workers_get_one_thread(monkeypatch):
    # More than one thread would make gunicorn silently switch sync workers to gthread.
    config = _load(monkeypatch, GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="4")

    assert config.worker_class_str == "sync"
    assert config.threads == 1


def test_access_and_error_lines_use_the_apps_log_format_with_the_request_id(monkeypatch):
    config = _load(monkeypatch)

    assert config.accesslog == "-"
    assert "%({x-request-id}o)s" in config.access_log_format
    assert config.logger_class is config.namespace["RedactingLogger"]
    assert config.logconfig_dict["handlers"]["console"]["formatter"] == "json"
    assert set(config.logconfig_dict["loggers"]) == {"gunicorn.error", "gunicorn.access"}


def test_an_empty_accesslog_variable_turns_the_access_log_off(monkeypatch):
    assert _load(monkeypatch, GUNICORN_ACCESSLOG="").accesslog is None


def _secret_routes() -> list[str]:
    """Every route with a token-like parameter, as a sample path with the secret SECRET0123."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and re.search(r"<(\w+:)?(token|uidb64|key|secret)>", route):
                sample = re.sub(r"<(\w+:)?(token|uidb64|key|secret)>", "SECRET0123", route)
                found.append("/" + re.sub(r"<[^>]+>", "demo", sample))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_route_with_a_token_in_its_path_is_redacted(monkeypatch):
    redact = _load(monkeypatch).namespace["redact_uri"]
    routes = _secret_routes()

    assert len(routes) >= 6  # board verify/unsubscribe/preferences, changelog confirm, password reset
    for path in routes:
        assert "SECRET0123" not in redact(path), path
        assert "REDACTED" in redact(path), path


def test_secret_query_values_are_redacted_and_others_kept(monkeypatch):
    redact = _load(monkeypatch).namespace["redact_uri"]

    assert redact("/invitations/accept/?token=abc.def:ghi&next=/w/demo/") == (
        "/invitations/accept/?token=REDACTED&next=/w/demo/"
    )
    assert redact("/api/v1/workspaces/demo/features/?page=2&search=x") == (
        "/api/v1/workspaces/demo/features/?page=2&search=x"
    )
    assert redact("/p/demo/verify/abc:def/") == "/p/demo/verify/REDACTED/"
    assert redact("/accounts/reset/MQ/set-password/") == "/accounts/reset/REDACTED/REDACTED/"
