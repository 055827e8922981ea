"""Production configuration: check --deploy is clean, and secrets have no default."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "SECURE_SSL_REDIRECT"}
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**clean, "DJANGO_SETTINGS_MODULE": "productops.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_warnings_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="productops.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/productops",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_without_debug_a_missing_secret_key_is_an_error():
    result = _manage("check", DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def test_manage_py_without_any_environment_is_a_development_checkout():
    result = _manage("makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_manage_py_with_a_secret_key_stays_in_production_mode():
    result = _manage(
        "shell", "-c", "from django.conf import settings; print(settings.DEBUG)", SECRET_KEY="k" * 50
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_production_hashes_passwords_with_argon2id():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; from django.contrib.auth.hashers import make_password; "
        "print(settings.PASSWORD_HASHERS[0]); print(make_password('correct horse battery staple'))",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="productops.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == "productops.hashers.Argon2PasswordHasher"
    assert lines[-1].startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.django_db
def test_an_older_password_hash_is_upgraded_to_argon2_at_sign_in(settings, client):
    from django.contrib.auth.hashers import make_password

    from productops import settings as production
    from tests.productops.factories import UserFactory

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    user = UserFactory(username="ada")
    user.password = make_password("correct horse battery staple", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])

    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "correct horse battery staple"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
