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


# --- cookies ---------------------------------------------------------------------------------

_COOKIE_SETTINGS = (
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "CSRF_COOKIE_NAME",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "CSRF_COOKIE_DOMAIN",
    "CSRF_COOKIE_PATH",
    "MESSAGE_STORAGE",
)


def _cookie_settings(**env: str) -> dict[str, object]:
    names = ", ".join(repr(name) for name in _COOKIE_SETTINGS)
    result = _manage(
        "shell",
        "-c",
        f"from django.conf import settings; print({{n: getattr(settings, n) for n in ({names})}})",
        **env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    import ast

    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_httponly_lax_and_host_prefixed():
    values = _cookie_settings(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="po.example.com")

    assert values == {
        "SESSION_COOKIE_NAME": "__Host-sessionid",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # __Host- cookies are kept by browsers only with Path=/ and no Domain.
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "CSRF_COOKIE_NAME": "__Host-csrftoken",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_DOMAIN": None,
        "CSRF_COOKIE_PATH": "/",
        "MESSAGE_STORAGE": "django.contrib.messages.storage.session.SessionStorage",
    }


def test_development_over_plain_http_keeps_plain_cookie_names():
    values = _cookie_settings(DEBUG="1")

    assert (values["SESSION_COOKIE_NAME"], values["SESSION_COOKIE_SECURE"]) == ("sessionid", False)
    assert (values["CSRF_COOKIE_NAME"], values["CSRF_COOKIE_SECURE"]) == ("csrftoken", False)
    assert values["SESSION_COOKIE_HTTPONLY"] is values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"


def test_production_without_https_cookies_drops_the_host_prefix_with_the_secure_flag():
    # An operator serving plain HTTP on purpose (SESSION_COOKIE_SECURE=0): a __Host- cookie
    # without Secure would be refused by the browser.
    values = _cookie_settings(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="po.example.com",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )

    assert (values["SESSION_COOKIE_NAME"], values["SESSION_COOKIE_SECURE"]) == ("sessionid", False)
    assert (values["CSRF_COOKIE_NAME"], values["CSRF_COOKIE_SECURE"]) == ("csrftoken", False)


@pytest.mark.django_db
def test_signing_in_sets_only_the_two_cookies_with_their_attributes(workspace, member):
    # The test suite runs with DEBUG off, so these are production's cookies.
    from django.test import Client

    member(workspace, username="ada")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    csrf = page.cookies["__Host-csrftoken"]
    response = client.post(
        "/accounts/login/",
        {"username": "ada", "password": "pw", "csrfmiddlewaretoken": page.context["csrf_token"]},
    )
    # A page that flashes a message ("A token's key is shown only once..."): the message goes
    # to the session, not to a cookie of its own.
    flashed = client.get(f"/w/{workspace.slug}/settings/tokens/created/")

    assert response.status_code == 302
    assert flashed.status_code == 302
    assert "shown only once" in client.get(flashed["Location"]).content.decode()
    session = response.cookies["__Host-sessionid"]
    for cookie in (session, csrf):
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["domain"] == ""
    assert session["max-age"] == 1209600  # two weeks, Django's default
    every_cookie = {*page.cookies, *response.cookies, *flashed.cookies}
    assert every_cookie == {"__Host-csrftoken", "__Host-sessionid"}


def test_no_script_of_ours_reads_the_cookies():
    # What makes HttpOnly on the CSRF cookie safe: the token reaches scripts from the page.
    sources = [
        path
        for folder in ("portal", "board", "templates", "productops", "api")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in {".js", ".html"}
    ]

    assert sources
    assert [str(path) for path in sources if "document.cookie" in path.read_text(errors="replace")] == []


@pytest.mark.parametrize(("value", "expected"), [("1", "True"), ("", "False")])
def test_server_side_cursors_can_be_turned_off_for_a_transaction_mode_pooler(value, expected):
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS'])",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/productops",
        DB_DISABLE_SERVER_SIDE_CURSORS=value,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
