"""The Content-Security-Policy and the other browser-security headers (docs/security.md):
the policy on every kind of page, the embedding allow-list of the public board and changelog
(its service, API and portal page), the per-page relaxations of the API's pages, the
violation-report endpoint, and a scan of the served templates for inline code and styles.
The real-browser check that no page reports a violation is tests/e2e/test_csp.py."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from productops import services
from productops.errors import Forbidden, ValidationFailed
from productops.models import AuditEvent, Role, Workspace
from releases.models import ChangelogSettings, ReleaseStatus
from tests.board.factories import BoardSettingsFactory
from tests.releases.factories import ReleaseFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "report-uri": "/csp-report/",
}
ORIGINS = ["https://www.example.com", "https://intranet.example.org:8443"]


def policy(response) -> dict[str, str]:
    """The response's Content-Security-Policy as {directive: sources} (django-csp does not
    keep the directives' order)."""
    parts = [part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")]
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


@pytest.fixture
def public(workspace):
    """An enabled board and changelog with one public feature and one shipped release."""
    BoardSettingsFactory(workspace=workspace)
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)
    product = ProductFactory(workspace=workspace)
    feature = FeatureFactory(product=product, is_public=True, horizon="now")
    shipped_at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    release = ReleaseFactory(
        product=product,
        status=ReleaseStatus.RELEASED,
        shipped_at=shipped_at,
        shipped_on=shipped_at.date(),
        published_notes="## New\n\n- Export",
        notes_published_at=shipped_at,
    )
    return {"feature": feature, "release": release}


def embeddable_paths(slug: str, public: dict) -> list[str]:
    return [
        f"/p/{slug}/",
        f"/p/{slug}/features/{public['feature'].pk}/",
        f"/p/{slug}/roadmap/",
        f"/p/{slug}/changelog/",
        f"/p/{slug}/changelog/releases/{public['release'].public_id}/",
    ]


# --- the policy and the other headers ---------------------------------------------------------


def test_portal_api_board_and_changelog_pages_carry_the_policy_and_headers(
    workspace, public, portal_client, session_client
):
    client, membership = portal_client(workspace, Role.ADMIN)
    responses = [
        client.get(f"/w/{workspace.slug}/"),
        client.get(f"/w/{workspace.slug}/settings/workspace/"),
        session_client(membership.user).get(f"/api/v1/workspaces/{workspace.slug}/"),
        Client().get("/accounts/login/"),
        *(Client().get(path) for path in embeddable_paths(workspace.slug, public)),
        Client().get(f"/p/{workspace.slug}/changelog/rss/"),
    ]
    for response in responses:
        path = response.wsgi_request.path
        assert response.status_code == 200, path
        assert policy(response) == POLICY, path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Permissions-Policy"] == (
            "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), display-capture=(), "
            "encrypted-media=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), "
            "magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), "
            "publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), "
            "xr-spatial-tracking=()"
        ), path


def test_the_policy_names_no_other_origin_and_allows_no_inline_code():
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    sources = [source for values in directives.values() for source in values]
    assert [s for s in sources if "://" in s or s in {"*", "https:", "http:"}] == []
    assert [s for s in sources if s in {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"}] == []
    assert not any(s.startswith("'nonce-") or s.startswith("'sha") for s in sources)


# --- embedding: the allow-list on the public pages --------------------------------------------


def test_frame_ancestors_follow_the_allow_list_on_the_board_and_changelog_only(
    workspace, other_workspace, public, portal_client, owner
):
    services.workspace_update(workspace=workspace, actor=owner, data={"embed_origins": ORIGINS})
    BoardSettingsFactory(workspace=other_workspace)
    for path in embeddable_paths(workspace.slug, public):
        response = Client().get(path)
        assert response.status_code == 200, path
        assert policy(response) == {**POLICY, "frame-ancestors": " ".join(ORIGINS)}, path
        assert "X-Frame-Options" not in response, path
    # Every other page stays unframeable: the board's sign-in and feed, another workspace's
    # board, the portal, a page that is not found.
    client, _ = portal_client(workspace, Role.VIEWER)
    for response in (
        Client().get(f"/p/{workspace.slug}/sign-in/"),
        Client().get(f"/p/{workspace.slug}/changelog/rss/"),
        Client().get(f"/p/{other_workspace.slug}/"),
        client.get(f"/w/{workspace.slug}/"),
        Client().get(f"/p/{workspace.slug}/features/999999/"),
    ):
        assert policy(response)["frame-ancestors"] == "'none'", response.wsgi_request.path
        assert response["X-Frame-Options"] == "DENY", response.wsgi_request.path


def test_an_empty_allow_list_keeps_the_public_pages_unframeable(workspace, public, owner):
    services.workspace_update(workspace=workspace, actor=owner, data={"embed_origins": ORIGINS})
    services.workspace_update(workspace=workspace, actor=owner, data={"embed_origins": []})
    for path in embeddable_paths(workspace.slug, public):
        response = Client().get(path)
        assert policy(response)["frame-ancestors"] == "'none'", path
        assert response["X-Frame-Options"] == "DENY", path


def _queries(path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert Client().get(path).status_code == 200, path
    return len(queries)


def test_the_allow_list_costs_no_query(workspace, public, owner):
    paths = embeddable_paths(workspace.slug, public)
    without = [_queries(path) for path in paths]
    services.workspace_update(workspace=workspace, actor=owner, data={"embed_origins": ORIGINS})
    with_origins = [_queries(path) for path in paths]
    assert with_origins == without


# --- the service ------------------------------------------------------------------------------


def test_the_service_normalises_audits_and_drops_duplicates(workspace, owner):
    saved = services.workspace_update(
        workspace=workspace,
        actor=owner,
        data={
            "embed_origins": [
                " HTTPS://WWW.Example.com/ ",
                "https://intranet.example.org:8443",
                "https://www.example.com",
            ]
        },
    )
    assert saved.embed_origins == ORIGINS
    workspace.refresh_from_db()
    assert workspace.embed_origins == ORIGINS
    event = AuditEvent.objects.filter(workspace=workspace, action=AuditEvent.Action.UPDATED).get()
    assert event.changes == {"embed_origins": [[], ORIGINS]}


@pytest.mark.parametrize(
    ("origins", "attr", "code"),
    [
        ("https://www.example.com", "embed_origins", "invalid"),
        (["https://ok.example.com", "https://*.example.com"], "embed_origins.1", "invalid"),
        (["https://example.com/embed"], "embed_origins.0", "invalid"),
        (["https://example.com?x=1"], "embed_origins.0", "invalid"),
        (["https://user@example.com"], "embed_origins.0", "invalid"),
        (["https://example.com; script-src *"], "embed_origins.0", "invalid"),
        (["*"], "embed_origins.0", "invalid"),
        (["'self'"], "embed_origins.0", "invalid"),
        (["ftp://example.com"], "embed_origins.0", "invalid"),
        (["https://[::1]"], "embed_origins.0", "invalid"),
        (["https://bücher.example"], "embed_origins.0", "invalid"),
        (["https://300.1.1.1"], "embed_origins.0", "invalid"),
        (["https://example.com:0"], "embed_origins.0", "out_of_range"),
        (["https://example.com:65536"], "embed_origins.0", "out_of_range"),
        (["http://example.com"], "embed_origins.0", "https_required"),
        (["http://localhost:3000"], "embed_origins.0", "https_required"),
        ([7], "embed_origins.0", "not_a_string"),
        ([f"https://site{n}.example.com" for n in range(21)], "embed_origins", "max_length"),
    ],
)
def test_the_service_refuses_a_bad_origin_and_writes_nothing(workspace, owner, origins, attr, code):
    with pytest.raises(ValidationFailed) as failure:
        services.workspace_update(
            workspace=workspace, actor=owner, data={"name": "Renamed", "embed_origins": origins}
        )
    assert (failure.value.attr, failure.value.code) == (attr, code)
    workspace.refresh_from_db()
    assert (workspace.name, workspace.embed_origins) == ("Acme", [])
    assert AuditEvent.objects.filter(workspace=workspace, action=AuditEvent.Action.UPDATED).count() == 0


@override_settings(DEBUG=True)
def test_http_localhost_is_allowed_only_while_debugging(workspace, owner):
    saved = services.workspace_update(
        workspace=workspace,
        actor=owner,
        data={"embed_origins": ["http://localhost:3000", "http://127.0.0.1"]},
    )
    assert saved.embed_origins == ["http://localhost:3000", "http://127.0.0.1"]
    with pytest.raises(ValidationFailed) as failure:
        services.workspace_update(
            workspace=workspace, actor=owner, data={"embed_origins": ["http://example.com"]}
        )
    assert failure.value.code == "https_required"


def test_twenty_origins_are_the_most(workspace, owner):
    origins = [f"https://site{n}.example.com" for n in range(20)]
    saved = services.workspace_update(workspace=workspace, actor=owner, data={"embed_origins": origins})
    assert saved.embed_origins == origins


def test_only_admins_set_the_allow_list(workspace, member):
    manager = member(workspace, Role.PRODUCT_MANAGER).user
    with pytest.raises(Forbidden):
        services.workspace_update(workspace=workspace, actor=manager, data={"embed_origins": ORIGINS})
    workspace.refresh_from_db()
    assert workspace.embed_origins == []


# --- the API ----------------------------------------------------------------------------------


def test_api_patch_round_trip(workspace, member, session_client):
    admin = member(workspace, Role.ADMIN).user
    client = session_client(admin)
    url = f"/api/v1/workspaces/{workspace.slug}/"
    assert client.get(url).json()["embed_origins"] == []
    response = client.patch(url, {"embed_origins": ["https://WWW.example.com/", ORIGINS[1]]})
    assert response.status_code == 200
    assert response.json()["embed_origins"] == ORIGINS
    assert client.get(url).json()["embed_origins"] == ORIGINS
    assert Workspace.objects.get(pk=workspace.pk).embed_origins == ORIGINS
    cleared = client.patch(url, {"embed_origins": []})
    assert cleared.json()["embed_origins"] == []


def test_api_patch_refusals_write_nothing(workspace, member, session_client):
    url = f"/api/v1/workspaces/{workspace.slug}/"
    admin = session_client(member(workspace, Role.ADMIN).user)
    bad = admin.patch(
        url, {"name": "Renamed", "embed_origins": ["https://ok.example.com", "http://x.example.com"]}
    )
    assert bad.status_code == 400
    assert [(e["attr"], e["code"]) for e in bad.json()["errors"]] == [("embed_origins.1", "https_required")]
    not_a_list = admin.patch(url, {"embed_origins": "https://www.example.com"})
    assert not_a_list.status_code == 400
    assert [e["attr"] for e in not_a_list.json()["errors"]] == ["embed_origins"]
    contributor = session_client(member(workspace, Role.CONTRIBUTOR).user)
    assert contributor.patch(url, {"embed_origins": ORIGINS}).status_code == 403
    workspace.refresh_from_db()
    assert (workspace.name, workspace.embed_origins) == ("Acme", [])


# --- the portal's workspace settings page ----------------------------------------------------


def test_portal_settings_page_edits_the_allow_list(workspace, portal_client):
    client, _ = portal_client(workspace, Role.ADMIN)
    url = f"/w/{workspace.slug}/settings/workspace/"
    form = {
        "name": "Acme",
        "reporting_currency": "USD",
        "rates-TOTAL_FORMS": "0",
        "rates-INITIAL_FORMS": "0",
        "embed_origins": "https://www.example.com\n\n  https://intranet.example.org:8443  \n",
    }
    assert client.post(url, form).status_code == 302
    workspace.refresh_from_db()
    assert workspace.embed_origins == ORIGINS
    page = client.get(url).content.decode()
    assert "https://www.example.com\nhttps://intranet.example.org:8443</textarea>" in page

    refused = client.post(
        url, {**form, "name": "Renamed", "embed_origins": "https://ok.example.com\nhttps://x/path"}
    )
    assert refused.status_code == 400
    assert "Line 2: An origin is https://host or https://host:port, with no path or wildcard." in (
        refused.content.decode()
    )
    workspace.refresh_from_db()
    assert (workspace.name, workspace.embed_origins) == ("Acme", ORIGINS)


# --- the admin console -----------------------------------------------------------------------


def _admin_form(workspace: Workspace, origins: str) -> dict[str, str]:
    return {
        "name": workspace.name,
        "reporting_currency": workspace.reporting_currency,
        "currency_rates": "{}",
        "embed_origins": origins,
    }


def test_admin_shows_and_edits_the_allow_list_through_the_service(admin_client, workspace):
    url = f"/admin/productops/workspace/{workspace.pk}/change/"
    assert 'name="embed_origins"' in admin_client.get(url).content.decode()
    refused = admin_client.post(url, _admin_form(workspace, '["http://plain.example.com"]'), follow=True)
    assert "Only an https:// origin may embed the public pages." in refused.content.decode()
    workspace.refresh_from_db()
    assert workspace.embed_origins == []
    saved = admin_client.post(url, _admin_form(workspace, json.dumps(["https://WWW.example.com/"])))
    assert saved.status_code == 302
    workspace.refresh_from_db()
    assert workspace.embed_origins == ["https://www.example.com"]
    event = AuditEvent.objects.filter(workspace=workspace, action=AuditEvent.Action.UPDATED).get()
    assert (event.actor, event.changes) == (None, {"embed_origins": [[], ["https://www.example.com"]]})


# --- the API's own pages: docs, browsable API --------------------------------------------------


def test_swagger_ui_loads_its_init_script_as_a_file(workspace, portal_client):
    client, _ = portal_client(workspace)
    page = client.get("/api/docs/")
    assert policy(page) == POLICY
    body = page.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body) == []
    assert "<style" not in body
    assert '<script src="/api/docs/?script="></script>' in body
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert "SwaggerUIBundle(" in script.content.decode()


def test_redoc_alone_may_add_styles_and_a_blob_worker(workspace, portal_client):
    client, _ = portal_client(workspace)
    page = client.get("/api/redoc/")
    assert policy(page) == {
        **POLICY,
        "style-src": "'self' 'unsafe-inline'",
        "worker-src": "'self' blob:",
    }
    body = page.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body) == []
    assert "fonts.googleapis.com" not in body


def test_browsable_api_pages_alone_allow_style_attributes(workspace, member, session_client):
    client = session_client(member(workspace, Role.VIEWER).user)
    html = client.get(f"/api/v1/workspaces/{workspace.slug}/", HTTP_ACCEPT="text/html")
    assert html["Content-Type"].startswith("text/html")
    assert policy(html) == {**POLICY, "style-src-attr": "'unsafe-inline'"}
    body = html.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", body) == []
    assert re.findall(r"\son[a-z]+=", body) == []
    assert "<style" not in body
    as_json = client.get(f"/api/v1/workspaces/{workspace.slug}/")
    assert policy(as_json) == POLICY
    # Its sign-in page is DRF's template too.
    assert policy(Client().get("/api/auth/login/")) == {**POLICY, "style-src-attr": "'unsafe-inline'"}


# --- the report endpoint ----------------------------------------------------------------------


def _report(client: Client, body: object, content_type: str = "application/csp-report"):
    return client.post("/csp-report/", json.dumps(body), content_type=content_type)


def test_a_report_is_logged_without_the_tokens_in_its_urls(caplog):
    caplog.set_level(logging.WARNING, logger="productops.csp")
    response = _report(
        Client(),
        {
            "csp-report": {
                "document-uri": "http://testserver/p/acme/verify/secret-token-123/?next=/x",
                "violated-directive": "style-src-elem",
                "effective-directive": "style-src-elem",
                "blocked-uri": "inline",
                "source-file": "http://testserver/static/portal/portal.js?v=1",
                "line-number": 12,
                "column-number": 3,
                "script-sample": "secret sample",
            }
        },
    )
    assert response.status_code == 204
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "CSP violation: style-src-elem blocked inline on "
            "http://testserver/p/<slug:workspace_slug>/verify/<str:token>/ "
            "(source http://testserver/static/portal/portal.js:12:3)",
        )
    ]
    assert "secret" not in caplog.text


def test_a_reporting_api_batch_is_logged_and_another_origin_is_cut_to_its_origin(caplog):
    caplog.set_level(logging.WARNING, logger="productops.csp")
    batch = [
        {
            "type": "csp-violation",
            "url": "http://testserver/w/acme/",
            "body": {
                "documentURL": "http://testserver/w/acme/",
                "effectiveDirective": "img-src",
                "blockedURL": "https://tracker.example.net/pixel.gif?user=42",
                "disposition": "enforce",
            },
        },
        {"type": "deprecation", "url": "http://testserver/w/acme/", "body": {"id": "x"}},
    ]
    assert _report(Client(), batch, "application/reports+json").status_code == 204
    assert [r.getMessage() for r in caplog.records] == [
        "CSP violation: img-src blocked https://tracker.example.net on "
        "http://testserver/w/<slug:workspace_slug>/ (source -:None:None)"
    ]


def test_the_report_endpoint_refuses_what_is_not_a_report(caplog):
    caplog.set_level(logging.WARNING, logger="productops.csp")
    client = Client(enforce_csrf_checks=True)  # and needs no CSRF token
    assert client.get("/csp-report/").status_code == 405
    assert client.post("/csp-report/", "{not json", content_type="application/csp-report").status_code == 400
    assert _report(client, {"something": "else"}).status_code == 400
    big = {
        "csp-report": {"document-uri": "http://testserver/" + "a" * settings.CSP_VIOLATION_REPORT_MAX_BYTES}
    }
    assert _report(client, big).status_code == 413
    assert [r for r in caplog.records if r.name == "productops.csp"] == []


@override_settings(CSP_VIOLATION_REPORTS_PER_MINUTE=3)
def test_the_report_endpoint_is_rate_limited_per_client(caplog):
    caplog.set_level(logging.WARNING)
    report = {"csp-report": {"document-uri": "http://testserver/", "effective-directive": "img-src"}}
    statuses = [_report(Client(), report).status_code for _ in range(5)]
    assert statuses == [204] * 5  # the last two dropped unread: no warning of any kind
    assert [r.name for r in caplog.records] == ["productops.csp"] * 3
    assert _report(Client(REMOTE_ADDR="10.0.0.9"), report).status_code == 204
    assert [r.name for r in caplog.records] == ["productops.csp"] * 4


# --- the templates ----------------------------------------------------------------------------

#: Inline code and styles the policy refuses, in a template's text.
INLINE = re.compile(
    r"""\sstyle\s*=|<style[\s>]|<script(?![^>]*\bsrc\s*=)[^>]*>|\son[a-z]+\s*=|\shx-on[:-]|javascript:""",
    re.IGNORECASE,
)
#: Templates of e-mails, not pages: rendered into the outbox (with CSS inlined for mail
#: clients) and shown in the portal only in a sandboxed frame with its own policy.
EMAIL_TEMPLATES = ("comms/templates/comms/digests/", "comms/templates/comms/loop/")
_COMMENTS = re.compile(r"\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}", re.DOTALL)


def inline_problems(text: str) -> list[str]:
    """The inline code and styles in a template, its comments left out."""
    return [match.group(0).strip() for match in INLINE.finditer(_COMMENTS.sub("", text))]


def served_templates() -> list[Path]:
    """The project's own HTML templates (the project's folder and each app's)."""
    base = Path(settings.BASE_DIR)
    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    folders += [
        base / app / "templates" for app in settings.INSTALLED_APPS if (base / app / "templates").is_dir()
    ]
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.html")):
            if not path.relative_to(base).as_posix().startswith(EMAIL_TEMPLATES):
                found.append(path)
    return found


def test_no_served_template_has_inline_script_style_or_handler():
    templates = served_templates()
    assert len(templates) >= 90
    base = Path(settings.BASE_DIR)
    found = {
        path.relative_to(base).as_posix(): problems
        for path in templates
        if (problems := inline_problems(path.read_text()))
    }
    assert found == {}


def test_the_template_scan_sees_each_kind_of_inline_code():
    assert inline_problems(
        '<p style="width: 3%">{# style="ignored" #}</p><style>p{}</style><script>x()</script>'
        '<script src="/static/a.js"></script><a href="javascript:x()" onclick="y()" hx-on:click="z()">'
    ) == ["style=", "<style>", "<script>", "javascript:", "onclick=", "hx-on:"]
    assert inline_problems('<script type="application/json" src="/a.js"></script><p data-on-x="1">') == []
