"""Secrets never reach the logs or error reports.

The canaries of tests/canaries.py go through the sign-in, password, API-token and
webhook-secret flows, as successes and as failures: a wrong password, a revoked token, and
500s injected where the secret is in hand (a failing signal receiver, an unreachable
cache). Each 500's error report, rendered as Django's ``AdminEmailHandler`` would mail it
(POST data, cookies, headers, every frame's local variables: tests/error_reports.py), must
show the request with its secrets masked. CI then searches the whole run's log file for the
canaries (scripts/check_logs_for_secrets.py); the last tests here prove that search.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import types
from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from comms.models import WebhookEndpoint
from feedback.models import FeedbackItem
from productops import services
from productops.models import ApiToken, Role, User
from tests import canaries
from tests.error_reports import REPORT_MARKER

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "check_logs_for_secrets.py"
MASK = "********************"  # Django's SafeExceptionReporterFilter.cleansed_substitute
ENDPOINT = {
    "name": "Receiver",
    # A literal public address: no DNS lookup in the URL check.
    "url": "https://93.184.215.14/in",
    "format": "standard",
    "event_types": ["release.shipped"],
    "rank_top_n": "10",
    "is_active": "on",
}


class InjectedFault(RuntimeError):
    """The 500 the tests cause on purpose."""


@contextlib.contextmanager
def failing(signal: Signal, sender: type):
    """While inside, ``signal`` for ``sender`` raises: a failure where the secret is in hand."""

    def fail(**kwargs: object) -> None:
        raise InjectedFault("injected fault")

    signal.connect(fail, sender=sender, weak=False, dispatch_uid="secrets-in-logs")
    try:
        yield
    finally:
        signal.disconnect(sender=sender, dispatch_uid="secrets-in-logs")


def browser() -> Client:
    # A 500 comes back as Django's error page (and its log record), as for a real client.
    return Client(raise_request_exception=False)


def assert_masked(reports: list[str], *, fields: tuple[str, ...] = ()) -> str:
    """Exactly one report was made; it shows the failing request, each of ``fields`` masked,
    and no canary. Returns the report."""
    assert len(reports) == 1, f"{len(reports)} error reports"
    report = reports[0]
    assert report.startswith(REPORT_MARKER)
    if fields:
        assert "Request information:" in report  # the request, with its POST, was rendered
    for field in fields:
        assert f"{field} = '{MASK}'" in report, f"{field} not masked"
    leaked = [name for name, value in canaries.ALL.items() if value in report]
    assert leaked == [], f"{leaked} in the error report"
    return report


def canary_password_user(username: str = "ada") -> User:
    # Not through UserFactory(password=...): factory_boy logs its arguments at DEBUG.
    user = User.objects.create(username=username, email=f"{username}@example.com")
    user.set_password(canaries.PASSWORD)
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def canary_token_key(monkeypatch):
    """``api_token_create`` makes the canary key (its only randomness is ``secrets``)."""
    body = canaries.API_TOKEN.removeprefix(services.TOKEN_PREFIX)
    fake = types.ModuleType("secrets")
    fake.__dict__.update(vars(secrets))
    fake.token_urlsafe = lambda nbytes=None: body
    monkeypatch.setattr(services, "secrets", fake)


@pytest.fixture
def canary_webhook_secret(monkeypatch):
    from comms import webhooks

    monkeypatch.setattr(webhooks, "new_secret", lambda: canaries.WEBHOOK_SECRET)


# --- sign-in and passwords -------------------------------------------------------------------


def test_signing_in_with_the_canary_password_right_and_wrong(error_reports):
    canary_password_user()

    wrong = browser().post("/accounts/login/", {"username": "ada", "password": canaries.PASSWORD + "x"})
    right = browser().post("/accounts/login/", {"username": "ada", "password": canaries.PASSWORD})

    assert (wrong.status_code, right.status_code) == (200, 302)
    assert error_reports == []


def test_a_500_during_sign_in_masks_the_password(error_reports):
    canary_password_user()

    with failing(pre_save, User):  # the sign-in's last_login update fails
        response = browser().post("/accounts/login/", {"username": "ada", "password": canaries.PASSWORD})

    assert response.status_code == 500
    assert_masked(error_reports, fields=("password",))


def test_a_500_while_the_password_hash_is_upgraded_masks_the_password(settings, error_reports):
    from django.contrib.auth.hashers import make_password

    from productops import settings as production

    user = User.objects.create(username="ada", email="ada@example.com")
    User.objects.filter(pk=user.pk).update(password=make_password(canaries.PASSWORD, hasher="md5"))
    # Production's hashers: the MD5 hash is upgraded (and saved) inside the password check.
    settings.PASSWORD_HASHERS = [
        *production.PASSWORD_HASHERS,
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    with failing(pre_save, User):
        response = browser().post("/accounts/login/", {"username": "ada", "password": canaries.PASSWORD})

    assert response.status_code == 500
    assert_masked(error_reports, fields=("password",))


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/auth/login/", "/admin/login/"])
def test_a_sign_in_failing_before_the_view_with_the_cache_down_masks_the_password(
    settings, error_reports, path
):
    # The failure throttle reads the cache before Django's LoginView marks its POST sensitive.
    canary_password_user()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    response = browser().post(path, {"username": "ada", "password": canaries.PASSWORD})

    assert response.status_code == 500
    assert_masked(error_reports, fields=("password",))


def test_setting_a_new_password_through_the_reset_link(error_reports):
    user = User.objects.create(username="ada", email="ada@example.com")
    client = browser()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    form = client.get(f"/accounts/reset/{uid}/{default_token_generator.make_token(user)}/")
    assert form.status_code == 302  # the token moves into the session
    fields = {"new_password1": canaries.PASSWORD, "new_password2": canaries.PASSWORD}

    with failing(pre_save, User):
        failed = client.post(form["Location"], fields)
    done = client.post(form["Location"], fields)

    assert (failed.status_code, done.status_code) == (500, 302)
    user.refresh_from_db()
    assert user.check_password(canaries.PASSWORD)
    assert_masked(error_reports, fields=("new_password1", "new_password2"))


def test_signing_up_through_an_invitation(workspace, owner, error_reports):
    invitation = services.invitation_create(
        workspace=workspace, email="fresh@example.com", role=Role.VIEWER, actor=owner
    )
    fields = {
        "token": services.invitation_token(invitation),
        "username": "fresh",
        "password1": canaries.PASSWORD,
        "password2": canaries.PASSWORD,
    }

    with failing(pre_save, User):  # the new user's row cannot be written
        failed = browser().post("/invitations/accept/", fields)
    done = browser().post("/invitations/accept/", fields)

    assert (failed.status_code, done.status_code) == (500, 302)
    assert User.objects.get(username="fresh").check_password(canaries.PASSWORD)
    assert_masked(error_reports, fields=("password1", "password2", "token"))


# --- API tokens ------------------------------------------------------------------------------


def test_creating_a_token_in_the_portal_and_using_it(
    portal_client, workspace, canary_token_key, error_reports
):
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    client.raise_request_exception = False
    fields = {"name": "ci-probe-token", "scopes": ["read", "write"]}

    with failing(post_save, ApiToken):
        failed = client.post(f"/w/{workspace.slug}/settings/tokens/", fields)
    created = client.post(f"/w/{workspace.slug}/settings/tokens/", fields)
    shown = client.get(created["Location"])

    assert (failed.status_code, created.status_code, shown.status_code) == (500, 302, 200)
    assert canaries.API_TOKEN in shown.content.decode()  # the canary is the real key
    report = assert_masked(error_reports)
    assert "ci-probe-token" in report  # the report has the POST: a secret there would show

    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {canaries.API_TOKEN}")
    assert api.get(f"/api/v1/workspaces/{workspace.slug}/feedback/").status_code == 200
    with failing(post_save, FeedbackItem):
        broken = api.post(f"/api/v1/workspaces/{workspace.slug}/feedback/", {"text": "Export to PDF"})
    assert broken.status_code == 500
    # Two ERROR records: the API's own (its traceback and frames) and django.request's (the
    # request, with the Authorization header).
    assert len(error_reports) == 3
    for report in error_reports[1:]:
        assert_masked([report])
    assert f"HTTP_AUTHORIZATION = '{MASK}'" in error_reports[2]

    services.api_token_revoke(token=ApiToken.objects.get(name="ci-probe-token"), actor=membership.user)
    assert api.get(f"/api/v1/workspaces/{workspace.slug}/feedback/").status_code == 401
    assert len(error_reports) == 3  # a 401 is a warning, not a report


def test_a_500_while_the_bearer_token_is_looked_up_masks_it(workspace, member, error_reports):
    user = member(workspace, Role.CONTRIBUTOR).user
    ApiToken.objects.create(
        workspace=workspace,
        user=user,
        name="canary",
        prefix=canaries.API_TOKEN[:10],
        key_hash=services.token_hash(canaries.API_TOKEN),
        scopes=["read"],
    )
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {canaries.API_TOKEN}")
    url = f"/api/v1/workspaces/{workspace.slug}/feedback/"
    assert api.get(url).status_code == 200  # the canary is a working token

    def fail_token_lookup(execute, sql, params, many, context):
        if "productops_apitoken" in sql and "key_hash" in sql:
            raise InjectedFault("injected fault")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_token_lookup):
        response = api.get(url)

    assert response.status_code == 500
    assert len(error_reports) == 2  # the API's line (with the traceback), django.request's
    for report in error_reports:
        assert_masked([report])
    assert "in authenticate" in error_reports[0]  # the frame that holds the key was rendered
    assert f"HTTP_AUTHORIZATION = '{MASK}'" in error_reports[1]


def test_a_500_saving_the_session_that_hands_over_a_new_key_masks_it(
    portal_client, workspace, canary_token_key, error_reports
):
    from django.contrib.sessions.models import Session

    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    client.raise_request_exception = False

    with failing(pre_save, Session):  # the key waits in the session for the next page
        response = client.post(
            f"/w/{workspace.slug}/settings/tokens/", {"name": "ci-probe-token", "scopes": ["read"]}
        )

    assert response.status_code == 500
    report = assert_masked(error_reports)
    assert "in process_response" in report


def test_a_webhook_delivery_failing_unexpectedly_masks_its_signing_secret(
    workspace, canary_webhook_secret, monkeypatch, error_reports
):
    from comms import webhooks
    from productops.outbox import http
    from productops.outbox.models import DeliveryState
    from productops.outbox.services import outbox_send

    endpoint, secret = webhooks.webhook_endpoint_create(
        workspace=workspace, actor=None, data={**ENDPOINT, "is_active": True, "rank_top_n": 10}
    )
    assert secret == canaries.WEBHOOK_SECRET
    webhooks.webhook_endpoint_send_test(endpoint=endpoint, actor=None)

    class BrokenClient:
        # An HTTP client failing in a way the transport does not expect (not an httpx error).
        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def post(self, url: str, **kwargs: object):
            raise InjectedFault("injected fault")

    monkeypatch.setattr(http, "client", BrokenClient)
    assert outbox_send() == {DeliveryState.PENDING: 1}  # logged, retried later

    report = assert_masked(error_reports)
    assert "in _webhook" in report


def test_creating_a_token_through_the_api(session_client, workspace, member, canary_token_key, error_reports):
    api = session_client(member(workspace, Role.CONTRIBUTOR).user)
    api.raise_request_exception = False
    url = f"/api/v1/workspaces/{workspace.slug}/tokens/"

    with failing(post_save, ApiToken):
        failed = api.post(url, {"name": "ci-probe-token", "scopes": ["read"]}, format="json")
    created = api.post(url, {"name": "ci-probe-token", "scopes": ["read"]}, format="json")

    assert (failed.status_code, created.status_code) == (500, 201)
    assert created.json()["key"] == canaries.API_TOKEN
    assert len(error_reports) == 2
    for report in error_reports:
        assert_masked([report])


# --- webhook signing secrets -------------------------------------------------------------------


def test_making_and_rotating_a_webhook_secret_in_the_portal(
    portal_client, workspace, canary_webhook_secret, error_reports
):
    client, _ = portal_client(workspace, Role.ADMIN)
    client.raise_request_exception = False
    base = f"/w/{workspace.slug}/settings/webhooks/"

    with failing(post_save, WebhookEndpoint):
        failed = client.post(base + "new/", ENDPOINT)
    created = client.post(base + "new/", ENDPOINT)
    shown = client.get(created["Location"])
    endpoint = WebhookEndpoint.objects.get()
    with failing(post_save, WebhookEndpoint):
        failed_rotation = client.post(f"{base}{endpoint.pk}/rotate/")
    rotated = client.post(f"{base}{endpoint.pk}/rotate/")

    assert (failed.status_code, created.status_code, shown.status_code) == (500, 302, 200)
    assert (failed_rotation.status_code, rotated.status_code) == (500, 302)
    assert canaries.WEBHOOK_SECRET in shown.content.decode()
    assert len(error_reports) == 2
    for report in error_reports:
        assert_masked([report])
    assert f"url = '{MASK}'" in error_reports[0]  # a Slack URL is a credential too


def test_making_and_rotating_a_webhook_secret_through_the_api(
    session_client, workspace, member, canary_webhook_secret, error_reports
):
    api = session_client(member(workspace, Role.ADMIN).user)
    api.raise_request_exception = False
    url = f"/api/v1/workspaces/{workspace.slug}/webhook-endpoints/"
    data = {"name": "Receiver", "url": ENDPOINT["url"], "event_types": ["release.shipped"]}

    with failing(post_save, WebhookEndpoint):
        failed = api.post(url, data, format="json")
    created = api.post(url, data, format="json")
    endpoint_url = f"{url}{created.json()['id']}/rotate-secret/"
    with failing(post_save, WebhookEndpoint):
        failed_rotation = api.post(endpoint_url)
    rotated = api.post(endpoint_url)

    assert (failed.status_code, created.status_code) == (500, 201)
    assert (failed_rotation.status_code, rotated.status_code) == (500, 200)
    assert created.json()["secret"] == rotated.json()["secret"] == canaries.WEBHOOK_SECRET
    assert len(error_reports) == 4
    for report in error_reports:
        assert_masked([report])


# --- the check itself ----------------------------------------------------------------------------


def run_check(*args: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECK), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_check_fails_naming_the_canary_that_leaked(tmp_path):
    log = tmp_path / "test.log"
    log.write_text(
        f"ERROR    django.request:log.py:253 Internal Server Error: /accounts/login/\n{REPORT_MARKER}\n"
        # One canary as a plain line, one inside a JSON line.
        f"INFO     productops.api:views.py:10 created token {canaries.API_TOKEN}\n"
        f'{{"level": "info", "message": "signing with {canaries.WEBHOOK_SECRET}"}}\n'
    )

    result = run_check(log)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "LEAK: canary 'api_token' found 1 time(s)" in result.stdout
    assert "LEAK: canary 'webhook_secret' found 1 time(s)" in result.stdout
    assert f"{log}:3:" in result.stdout
    assert f"{log}:4:" in result.stdout
    assert "'password'" not in result.stdout


def test_the_check_passes_a_clean_log_and_refuses_to_check_nothing(tmp_path):
    clean = tmp_path / "clean.log"
    clean.write_text(f"{REPORT_MARKER}\nPOST:\npassword = '{MASK}'\n")
    no_reports = tmp_path / "no-reports.log"
    no_reports.write_text("INFO     django.server: GET / 200\n")

    assert run_check(clean).returncode == 0
    assert run_check(tmp_path / "missing.log").returncode == 2
    assert run_check(no_reports).returncode == 2
    assert run_check("--allow-no-reports", no_reports).returncode == 0


def test_a_run_with_log_file_writes_the_error_reports_and_the_check_reads_them(tmp_path):
    """End to end, as CI runs it: pytest with --log-file over one of the failing flows above;
    the file holds the 500's report with its POST data, and the check finds no canary."""
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS"}}
    env["VAR_DIR"] = str(tmp_path / "var")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--log-file={log}",
            "--log-file-level=DEBUG",
            f"{Path(__file__).relative_to(ROOT)}::test_creating_a_token_in_the_portal_and_using_it",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    text = log.read_text()
    assert text.count(REPORT_MARKER) == 3
    assert "name = 'ci-probe-token'" in text  # the POST data is in the file
    assert "InjectedFault: injected fault" in text  # and the exception text
    check = run_check(log)
    assert check.returncode == 0, check.stdout + check.stderr
