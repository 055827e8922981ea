"""What a newcomer meets first (issue 13, "Newcomer details"): ``make run``'s public URL, the
"Sent e-mails (dev)" page, the demo login's admin rights, the admin console's names and
branding, and the product's icon on every kind of page."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.test import Client, override_settings

from productops.demo import DEMO_OPERATORS_GROUP, DEMO_USERNAME, seed_core
from productops.management.commands import seed_demo
from productops.models import Role, User
from productops.outbox.models import Channel
from productops.outbox.services import Message, delivery_create
from tests.productops.factories import WorkspaceFactory

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = {"productops", "roadmap", "feedback", "priority", "releases", "comms", "board"}


# --- make run: PUBLIC_BASE_URL ----------------------------------------------------------


def _public_base_url(*args: str, env: dict | None = None) -> str:
    """``PUBLIC_BASE_URL`` as the ``run`` target's steps see it: a rule added with ``--eval``
    runs ``echo`` under the Makefile's own ``RUN_ENV`` (nothing is installed or started)."""
    rule = "print-public-base-url: ; @$(RUN_ENV) sh -c 'echo \"$$PUBLIC_BASE_URL\"'"
    return subprocess.run(
        ["make", "-s", "--eval", rule, "print-public-base-url", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()


def _clean_env(**extra: str) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k not in {"PUBLIC_BASE_URL", "PORT", "HOST", "MAKEFLAGS"}}
    env.update(extra)
    return env


def test_make_run_sets_the_public_base_url_from_host_and_port():
    assert _public_base_url(env=_clean_env()) == "http://127.0.0.1:8000"
    assert _public_base_url("PORT=9123", env=_clean_env()) == "http://127.0.0.1:9123"
    assert _public_base_url("HOST=0.0.0.0", "PORT=81", env=_clean_env()) == "http://0.0.0.0:81"


def test_make_run_keeps_a_public_base_url_that_is_set():
    assert _public_base_url("PORT=9123", env=_clean_env(PUBLIC_BASE_URL="https://pm.example")) == (
        "https://pm.example"
    )
    assert _public_base_url("PUBLIC_BASE_URL=https://cli.example", env=_clean_env()) == "https://cli.example"


def test_every_make_run_step_gets_the_same_environment():
    dry = subprocess.run(
        ["make", "-s", "-n", "run", "PORT=9123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    ).stdout
    steps = [row for row in dry.splitlines() if "manage.py" in row]
    assert [re.search(r"manage\.py (\w+)", row).group(1) for row in steps] == [
        "migrate",
        "seed_demo",
        "runstack",
    ]
    assert all("PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:9123}" in row for row in steps)


# --- seed_demo: the URL it prints, the demo login's rights -------------------------------


@pytest.fixture
def core_only(monkeypatch):
    """seed_demo without the domain apps' data (the core's users and workspace only)."""
    monkeypatch.setattr(seed_demo, "DOMAIN_SEEDERS", [])


def _seed(**kwargs) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **kwargs)
    return out.getvalue()


@pytest.mark.django_db
@override_settings(DEBUG=True, PUBLIC_BASE_URL="http://127.0.0.1:9123")
def test_seed_demo_prints_the_public_urls_and_makes_demo_an_operator_in_debug(core_only):
    out = _seed()

    assert "Login: demo / demo  (http://127.0.0.1:9123)" in out
    assert "  Portal:       http://127.0.0.1:9123/w/demo/" in out
    assert "  Admin:        http://127.0.0.1:9123/admin/  (demo is staff while DEBUG is on)" in out
    assert "  Sent e-mails: http://127.0.0.1:9123/w/demo/dev/emails/" in out
    demo = User.objects.get(username=DEMO_USERNAME)
    assert demo.is_staff is True
    assert demo.is_superuser is False
    assert list(demo.groups.values_list("name", flat=True)) == [DEMO_OPERATORS_GROUP]
    # An operator: every permission of the project's models, none of Django's own tables.
    perms = demo.get_all_permissions()
    assert {"roadmap.change_feature", "feedback.view_feedbackitem", "productops.view_auditevent"} <= perms
    assert "django_celery_beat.change_periodictask" in perms
    assert not any(p.startswith(("auth.", "sessions.", "contenttypes.", "admin.")) for p in perms)
    # Only the demo login.
    assert list(User.objects.filter(is_staff=True).values_list("username", flat=True)) == [DEMO_USERNAME]


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_the_demo_operator_opens_the_admin_console(core_only):
    _seed()
    client = Client()
    assert client.login(username="demo", password="demo")

    for url in (
        "/admin/",
        "/admin/roadmap/feature/",
        "/admin/feedback/company/",
        "/admin/productops/delivery/",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
@override_settings(DEBUG=False, PUBLIC_BASE_URL="https://pm.example")
def test_seed_demo_force_with_debug_off_never_makes_demo_staff(core_only):
    out = _seed(force=True)

    demo = User.objects.get(username=DEMO_USERNAME)
    assert (demo.is_staff, demo.is_superuser, demo.groups.count()) == (False, False, 0)
    assert "Admin:" not in out
    assert "Sent e-mails" not in out
    assert "  Portal:       https://pm.example/w/demo/" in out
    client = Client()
    assert client.login(username="demo", password="demo")
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_seed_demo_force_with_debug_off_takes_back_what_a_debug_run_gave(core_only):
    with override_settings(DEBUG=True):
        _seed()
    demo = User.objects.get(username=DEMO_USERNAME)
    demo.is_superuser = True
    demo.save()
    demo.user_permissions.add(*demo.groups.get().permissions.all()[:3])

    with override_settings(DEBUG=False):
        _seed(force=True)

    demo.refresh_from_db()
    assert (demo.is_staff, demo.is_superuser, demo.groups.count(), demo.user_permissions.count()) == (
        False,
        False,
        0,
        0,
    )
    assert demo.get_all_permissions() == set()


@pytest.mark.django_db
def test_seed_core_alone_never_makes_staff():
    seed_core(scale=1)
    assert not User.objects.filter(is_staff=True).exists()


# --- Sent e-mails (dev) -------------------------------------------------------------------


def _email(workspace, n: int, **message):
    return delivery_create(
        workspace=workspace,
        dedupe_key=f"magic-link:{n}",
        kind="board.sign_in",
        channel=Channel.EMAIL,
        recipient=f"customer{n}@example.com",
        recipient_ref=f"contact:{n}",
        message=Message(
            subject=message.get("subject", f"Your sign-in link {n}"),
            text=message.get("text", f"Sign in: http://127.0.0.1:8000/p/acme/magic/{n}/\n"),
            html=message.get("html", f"<p>Sign in {n}</p>"),
        ),
    )[0]


@pytest.fixture
def staff_client(workspace, member):
    membership = member(workspace, Role.OWNER, is_staff=True)
    client = Client()
    client.force_login(membership.user)
    return client


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_dev_emails_shows_the_stored_bodies_newest_first(workspace, other_workspace, staff_client):
    first = _email(workspace, 1)
    second = _email(
        workspace, 2, text="Join: http://127.0.0.1:8000/invitations/accept/?token=abc\n<script>x</script>"
    )
    _email(other_workspace, 3)
    delivery_create(
        workspace=workspace,
        dedupe_key="slack:1",
        kind="comms.notice",
        channel=Channel.SLACK,
        recipient="https://hooks.slack.invalid/x",
        recipient_ref="",
        message=Message(payload={"text": "slack"}),
    )

    response = staff_client.get("/w/acme/dev/emails/")

    assert response.status_code == 200
    assert response.context["emails"] == [second, first]
    html = response.content.decode()
    assert html.index("Your sign-in link 2") < html.index("Your sign-in link 1")
    assert '<a href="http://127.0.0.1:8000/p/acme/magic/1/" rel="nofollow">' in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html
    assert "&lt;p&gt;Sign in 1&lt;/p&gt;" in html  # the HTML part, as source
    assert "customer3@example.com" not in html
    assert "hooks.slack.invalid" not in html
    assert 'href="/w/acme/dev/emails/">Sent e-mails (dev)</a>' in html


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_dev_emails_query_count_does_not_grow(workspace, staff_client, django_assert_num_queries):
    for n in range(3):
        _email(workspace, n)
    with django_assert_num_queries(5):  # session, user, membership, deliveries, switcher
        staff_client.get("/w/acme/dev/emails/")
    for n in range(3, 40):
        _email(workspace, n)
    with django_assert_num_queries(5):
        response = staff_client.get("/w/acme/dev/emails/")
    assert len(response.context["emails"]) == 25


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_dev_emails_is_404_with_debug_off_even_for_staff(workspace, staff_client):
    _email(workspace, 1)
    response = staff_client.get("/w/acme/dev/emails/")
    assert response.status_code == 404
    assert b"Your sign-in link" not in response.content
    assert b"Sent e-mails (dev)" not in staff_client.get("/w/acme/").content


@pytest.mark.django_db
@override_settings(DEBUG=True)
@pytest.mark.parametrize("role", [Role.VIEWER, Role.OWNER])
def test_dev_emails_is_404_for_members_who_are_not_staff(role, workspace, portal_client):
    _email(workspace, 1)
    client, _ = portal_client(workspace, role)
    assert client.get("/w/acme/dev/emails/").status_code == 404
    assert b"Sent e-mails (dev)" not in client.get("/w/acme/").content


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_dev_emails_of_another_workspace_is_404_and_posting_is_refused(
    workspace, other_workspace, staff_client
):
    WorkspaceFactory(slug="initech")
    assert staff_client.get("/w/globex/dev/emails/").status_code == 404
    assert staff_client.post("/w/acme/dev/emails/").status_code == 405


# --- the admin console -----------------------------------------------------------------------

BAD_PLURAL = re.compile(r"(ys|sss|criterions|settingss|capacitys|dependencys|statuss|analysiss)$")


def test_every_registered_model_has_a_correct_plural():
    wrong = {}
    for model in admin.site._registry:
        plural = str(model._meta.verbose_name_plural)
        singular = str(model._meta.verbose_name)
        naive = plural == singular + "s" and singular.endswith(("y", "s"))
        if (
            model._meta.app_label in PROJECT_APPS
            and (BAD_PLURAL.search(plural) or naive)
            and not singular.endswith(("ay", "ey", "oy"))
        ):
            wrong[model._meta.label] = plural
    assert wrong == {}


def test_the_named_plurals():
    plural = {m._meta.label: str(m._meta.verbose_name_plural) for m in apps.get_models()}
    assert plural["roadmap.FeatureDependency"] == "feature dependencies"
    assert plural["roadmap.TeamCapacity"] == "team capacities"
    assert plural["roadmap.RoadmapSettings"] == "roadmap settings"
    assert plural["roadmap.ScorecardCriterion"] == "scorecard criteria"
    assert plural["releases.ReleaseSettings"] == "release settings"
    assert plural["releases.ChangelogSettings"] == "changelog settings"
    assert plural["feedback.Company"] == "companies"
    assert plural["productops.Delivery"] == "deliveries"


@pytest.mark.django_db
def test_the_admin_console_is_branded_with_the_icon(member, workspace):
    user = member(workspace, Role.OWNER, is_staff=True, is_superuser=True).user
    client = Client()
    client.force_login(user)

    html = client.get("/admin/").content.decode()

    assert "<title>Operators&#x27; console | productops admin</title>" in html
    assert '<a href="/admin/">productops admin console</a>' in html
    assert "Django administration" not in html
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in html
    assert "Feature dependencies" in html
    assert "Scorecard criteria" in html
    login = Client().get("/admin/login/").content.decode()
    assert "productops admin console" in login


# --- the icon, and no other host -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/accounts/login/"])
def test_api_docs_and_sign_in_pages_have_the_icon(path, client):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in html
    assert "https://" not in html
    assert "fonts.googleapis" not in html


@pytest.mark.django_db
def test_board_pages_have_the_icon(client):
    WorkspaceFactory(slug="acme")
    html = client.get("/p/acme/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in html


def test_no_template_or_static_file_references_another_host():
    suffixes = {".html", ".js", ".css"}
    roots = [ROOT / "templates", *(ROOT / app for app in sorted(PROJECT_APPS | {"portal", "api"}))]
    offenders = []
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix not in suffixes or "node_modules" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/\"')]", text):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    # Text that shows a URL to the reader (Markdown help), not a resource the page loads.
    allowed = {"portal/templates/portal/releases/_notes_editor.html"}
    assert [o for o in offenders if o.split(":", 1)[0] not in allowed] == []
