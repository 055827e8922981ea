import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from feedback.models import Company, Contact, FeedbackItem, FeedbackLink, Vote
from productops import services
from productops.demo import DEMO_PEOPLE
from productops.models import ApiToken, AuditEvent, Membership, User, Workspace
from roadmap.models import Feature, FeatureDependency, Goal, KeyResult, Product, ScoreState, TeamCapacity
from tests.feedback.demo_themes import natural_themes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_create_api_token_prints_a_working_key_once(workspace, owner):
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "create_api_token", workspace="acme", user=owner.username, scopes="read,write", stdout=out, stderr=err
    )

    key = out.getvalue().strip()
    token = services.api_token_authenticate(key=key)
    assert token is not None
    assert (token.workspace, token.user, token.scopes) == (workspace, owner, ["read", "write"])
    assert key not in err.getvalue()
    assert AuditEvent.objects.filter(target_type="productops.apitoken", actor_label="system").count() == 1


@pytest.mark.django_db
def test_create_api_token_refuses_a_non_member(workspace):
    outsider = User.objects.create_user("outsider")

    with pytest.raises(CommandError, match="must be a member"):
        call_command("create_api_token", workspace="acme", user=outsider.username, stdout=io.StringIO())

    assert ApiToken.objects.count() == 0


def _demo_counts() -> dict[str, int]:
    models = [
        Workspace,
        User,
        Membership,
        Product,
        Goal,
        KeyResult,
        Feature,
        FeatureDependency,
        TeamCapacity,
        Company,
        Contact,
        FeedbackItem,
        FeedbackLink,
        Vote,
    ]
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_scores_the_roadmap():
    call_command("seed_demo", force=True, stdout=io.StringIO())
    counts = _demo_counts()

    call_command("seed_demo", force=True, stdout=io.StringIO())

    assert _demo_counts() == counts
    assert counts["Workspace"] == 1
    assert counts["User"] == counts["Membership"] == len(DEMO_PEOPLE)
    assert counts["Feature"] == 20
    assert counts["FeedbackItem"] == 63
    assert counts["Company"] == 18
    assert counts["Vote"] > 0
    assert not Feature.objects.exclude(score_state=ScoreState.CLEAN).exists()
    ranked = Feature.objects.filter(priority_rank__isnull=False).order_by("priority_rank")
    assert list(ranked.values_list("priority_rank", flat=True)) == list(range(1, ranked.count() + 1))
    assert Feature.objects.filter(requesting_companies__gt=0).count() >= 10
    # Untriaged items stay in the inbox for the triage demo.
    assert FeedbackItem.objects.filter(state=FeedbackItem.State.NEW).count() == 37
    demo = User.objects.get(username="demo")
    assert demo.check_password("demo")
    assert Membership.objects.get(user=demo).role == "owner"
    # The inbox's three themes, found by meaning (each worded differently by each company):
    # each is most of one theme's members, and the three are different themes.
    natural = natural_themes(Workspace.objects.get(slug="demo"))
    assert None not in natural.values()
    assert len({theme.pk for theme in natural.values()}) == 3
    assert all(theme.label for theme in natural.values())


@pytest.mark.django_db
def test_seed_demo_scale_adds_features_and_companies():
    call_command("seed_demo", force=True, stdout=io.StringIO())
    before = _demo_counts()

    call_command("seed_demo", force=True, scale=2, stdout=io.StringIO())

    after = _demo_counts()
    assert after["Feature"] - before["Feature"] == 40
    assert after["Company"] - before["Company"] == 18
    assert after["FeedbackItem"] - before["FeedbackItem"] == 63


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production_without_force():
    with pytest.raises(CommandError, match="known passwords"):
        call_command("seed_demo", stdout=io.StringIO())

    assert User.objects.count() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_runstack_serves_and_one_interrupt_stops_web_worker_and_beat(tmp_path):
    """What `make run` starts, on the embedded default: SQLite and the filesystem broker."""
    env = {
        **os.environ,
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "DJANGO_SETTINGS_MODULE": "productops.settings",
    }
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    port = _free_port()
    stack = subprocess.Popen(
        [*manage, "runstack", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/readyz", 60).startswith(b'{"status": "ok"')
        children = subprocess.run(
            ["pgrep", "-g", str(stack.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) >= 4  # runstack, web, worker (+ its pool), beat

        os.killpg(stack.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        output = stack.communicate(timeout=60)[0].decode()
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)

    assert stack.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    assert "demo / demo" in output
    leftover = subprocess.run(["pgrep", "-g", str(stack.pid)], capture_output=True, text=True, check=False)
    assert leftover.stdout.split() == []
