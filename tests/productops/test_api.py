import json
from unittest.mock import ANY

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from productops import services
from productops.models import ApiToken, AuditEvent, Invitation, Membership, Role, Workspace
from tests.productops.factories import UserFactory

pytestmark = pytest.mark.django_db


def url(workspace, resource="", pk=None):
    base = f"/api/v1/workspaces/{workspace.slug}/"
    if resource:
        base += f"{resource}/"
    if pk is not None:
        base += f"{pk}/"
    return base


# --- authentication -----------------------------------------------------------


def test_no_credentials_is_a_401_with_the_error_body(workspace):
    response = APIClient().get(url(workspace, "members"))

    assert response.status_code == 401
    assert response.json() == {
        "type": "client_error",
        "request_id": ANY,
        "errors": [
            {
                "code": "not_authenticated",
                "detail": "Authentication credentials were not provided.",
                "attr": None,
            }
        ],
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoked_token_is_a_401(workspace, owner):
    token, key = services.api_token_create(
        workspace=workspace, user=owner, name="t", scopes=["read"], actor=None
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(url(workspace, "members")).status_code == 200

    services.api_token_revoke(token=token, actor=owner)

    response = client.get(url(workspace, "members"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "authentication_failed"


def test_unknown_token_is_a_401(workspace):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer po_not-a-real-token")

    assert client.get(url(workspace, "members")).status_code == 401


def test_token_and_session_get_the_same_answers(workspace, member, session_client, token_client):
    viewer = member(workspace, Role.VIEWER).user
    for client in (session_client(viewer), token_client(workspace, viewer)):
        assert client.get(url(workspace, "members")).status_code == 200
        assert (
            client.post(
                url(workspace, "invitations"), {"email": "x@example.com", "role": "viewer"}
            ).status_code
            == 403
        )


# --- tenancy isolation --------------------------------------------------------


def test_another_workspaces_token_cannot_read_list_update_or_delete(
    workspace, other_workspace, member, token_client
):
    victim_owner = member(workspace, Role.OWNER).user
    victim = member(workspace, Role.VIEWER)
    victim_token, _ = services.api_token_create(
        workspace=workspace, user=victim_owner, name="t", scopes=["read"], actor=None
    )
    invitation = services.invitation_create(
        workspace=workspace, email="x@example.com", role="viewer", actor=victim_owner
    )
    # The attacker owns a workspace of their own and holds a full-power token there.
    attacker = member(other_workspace, Role.OWNER).user
    client = token_client(other_workspace, attacker)

    answers = [
        client.get(url(workspace)).status_code,
        client.get(url(workspace, "members")).status_code,
        client.get(url(workspace, "members", victim.pk)).status_code,
        client.patch(url(workspace, "members", victim.pk), {"role": "admin"}).status_code,
        client.delete(url(workspace, "members", victim.pk)).status_code,
        client.get(url(workspace, "tokens", victim_token.pk)).status_code,
        client.delete(url(workspace, "tokens", victim_token.pk)).status_code,
        client.post(url(workspace, "invitations", invitation.pk) + "revoke/").status_code,
        client.get(url(workspace, "audit-events")).status_code,
        client.patch(url(workspace), {"name": "pwned"}).status_code,
        # Even addressing the victim's objects through the attacker's own workspace.
        client.get(url(other_workspace, "members", victim.pk)).status_code,
        client.delete(url(other_workspace, "tokens", victim_token.pk)).status_code,
    ]

    assert answers == [404] * len(answers)
    victim.refresh_from_db()
    assert victim.role == Role.VIEWER
    assert ApiToken.objects.get(pk=victim_token.pk).revoked_at is None
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme"


def test_a_token_is_bound_to_its_workspace_even_if_its_user_belongs_to_both(
    workspace, other_workspace, member, token_client
):
    user = member(workspace, Role.OWNER).user
    Membership.objects.create(workspace=other_workspace, user=user, role=Role.OWNER)
    client = token_client(other_workspace, user)

    assert client.get(url(other_workspace, "members")).status_code == 200
    assert client.get(url(workspace, "members")).status_code == 404
    assert [w["slug"] for w in client.get("/api/v1/workspaces/").json()["results"]] == ["globex"]


def test_workspace_list_shows_only_my_workspaces(workspace, other_workspace, member, session_client):
    user = member(workspace, Role.VIEWER).user
    member(other_workspace, Role.OWNER)

    response = session_client(user).get("/api/v1/workspaces/")

    assert response.status_code == 200
    assert [w["slug"] for w in response.json()["results"]] == ["acme"]


# --- roles and scopes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.VIEWER, 403),
        (Role.CONTRIBUTOR, 403),
        (Role.PRODUCT_MANAGER, 403),
        (Role.ADMIN, 201),
        (Role.OWNER, 201),
    ],
)
def test_only_admins_invite(workspace, member, session_client, role, expected):
    user = member(workspace, role).user

    response = session_client(user).post(
        url(workspace, "invitations"), {"email": "new@example.com", "role": "viewer"}
    )

    assert response.status_code == expected
    assert Invitation.objects.count() == (1 if expected == 201 else 0)


def test_read_scope_token_cannot_write(workspace, member, token_client):
    admin = member(workspace, Role.ADMIN).user
    client = token_client(workspace, admin, scopes=("read",))

    response = client.post(url(workspace, "invitations"), {"email": "new@example.com", "role": "viewer"})

    assert response.status_code == 403
    assert response.json()["errors"][0]["detail"] == "This token lacks the 'write' scope."
    assert Invitation.objects.count() == 0


def test_write_scope_cannot_exceed_the_users_role(workspace, member, token_client):
    viewer = member(workspace, Role.VIEWER).user
    client = token_client(workspace, viewer, scopes=("read", "write"))

    response = client.post(url(workspace, "invitations"), {"email": "new@example.com", "role": "viewer"})

    assert response.status_code == 403


def test_change_role_through_the_api(workspace, member, owner, session_client):
    target = member(workspace, Role.VIEWER)

    response = session_client(owner).patch(url(workspace, "members", target.pk), {"role": "admin"})

    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_demoting_the_last_owner_is_a_409(workspace, owner, session_client):
    membership = Membership.objects.get(user=owner)

    response = session_client(owner).patch(url(workspace, "members", membership.pk), {"role": "viewer"})

    assert response.status_code == 409
    assert response.json() == {
        "type": "client_error",
        "request_id": ANY,
        "errors": [{"code": "last_owner", "detail": "A workspace needs at least one owner.", "attr": None}],
    }


# --- tokens through the API ---------------------------------------------------


def test_token_create_shows_the_key_once(workspace, member, session_client):
    user = member(workspace, Role.CONTRIBUTOR).user
    client = session_client(user)

    created = client.post(url(workspace, "tokens"), {"name": "zapier", "scopes": ["read"]})

    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("po_")
    listed = client.get(url(workspace, "tokens")).json()["results"]
    assert [t["name"] for t in listed] == ["zapier"]
    assert "key" not in listed[0]
    assert "key" not in client.get(url(workspace, "tokens", created.json()["id"])).json()


def test_a_token_cannot_mint_tokens(workspace, owner, token_client):
    response = token_client(workspace, owner).post(
        url(workspace, "tokens"), {"name": "x", "scopes": ["read"]}
    )

    assert response.status_code == 403
    assert ApiToken.objects.count() == 1  # the fixture's own token


def test_members_see_only_their_tokens_admins_see_all(workspace, member, session_client):
    admin = member(workspace, Role.ADMIN).user
    viewer = member(workspace, Role.VIEWER).user
    for user in (admin, viewer):
        services.api_token_create(
            workspace=workspace, user=user, name=user.username, scopes=["read"], actor=None
        )

    mine = session_client(viewer).get(url(workspace, "tokens")).json()["results"]
    everyone = session_client(admin).get(url(workspace, "tokens")).json()["results"]

    assert [t["name"] for t in mine] == [viewer.username]
    assert sorted(t["name"] for t in everyone) == sorted([admin.username, viewer.username])


def test_revoke_through_the_api_then_the_token_is_refused(workspace, owner, session_client):
    token, key = services.api_token_create(
        workspace=workspace, user=owner, name="t", scopes=["read"], actor=None
    )

    assert session_client(owner).delete(url(workspace, "tokens", token.pk)).status_code == 204

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(url(workspace, "members")).status_code == 401


# --- invitations --------------------------------------------------------------


def test_accept_invitation_through_the_api(workspace, owner, session_client):
    invitation = services.invitation_create(
        workspace=workspace, email="joiner@example.com", role="viewer", actor=owner
    )
    joiner = UserFactory(email="joiner@example.com")

    response = session_client(joiner).post(
        "/api/v1/invitations/accept/", {"token": services.invitation_token(invitation)}
    )

    assert response.status_code == 201
    assert response.json()["role"] == "viewer"
    assert session_client(joiner).get(url(workspace, "members")).status_code == 200


# --- bad input ----------------------------------------------------------------


def test_malformed_json_is_a_400(workspace, owner, session_client):
    response = session_client(owner).generic(
        "PATCH", url(workspace), '{"name": ', content_type="application/json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"][0]["code"] == "parse_error"


def test_wrong_types_are_field_errors_and_text_must_be_a_string(workspace, owner, session_client):
    response = session_client(owner).post(url(workspace, "tokens"), {"name": ["x"], "scopes": "read"})

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "request_id": ANY,
        "errors": [
            {"code": "not_a_string", "detail": "Must be a string.", "attr": "name"},
            {
                "code": "not_a_list",
                "detail": 'Expected a list of items but got type "str".',
                "attr": "scopes",
            },
        ],
    }


def test_unknown_fields_are_rejected(workspace, owner, session_client):
    response = session_client(owner).patch(url(workspace), {"name": "Ok", "plan": "enterprise", "id": 9})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "unknown_field", "detail": "Unknown or read-only field.", "attr": "id"},
        {"code": "unknown_field", "detail": "Unknown or read-only field.", "attr": "plan"},
    ]
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme"


def test_non_object_body_is_a_400(workspace, owner, session_client):
    response = session_client(owner).patch(url(workspace), [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_invalid_choice_has_the_field_name(workspace, owner, session_client):
    response = session_client(owner).post(url(workspace, "invitations"), {"email": "nope", "role": "emperor"})

    assert response.status_code == 400
    assert {(e["attr"], e["code"]) for e in response.json()["errors"]} == {
        ("email", "invalid"),
        ("role", "invalid_choice"),
    }


@override_settings(API_MAX_BODY_BYTES=1000)
def test_oversized_body_is_a_400(workspace, owner, session_client):
    body = json.dumps({"name": "x" * 2000})

    response = session_client(owner).generic("PATCH", url(workspace), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "request_too_large"
    assert Workspace.objects.get(pk=workspace.pk).name == "Acme"


@pytest.mark.parametrize("query", ["page=999", "page=abc", "page_size=-1", "page_size=x"])
def test_bad_page_parameters_are_400s(workspace, owner, session_client, query):
    response = session_client(owner).get(url(workspace, "members") + "?" + query)

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


def test_bad_cursor_is_a_400(workspace, owner, session_client):
    response = session_client(owner).get(url(workspace, "audit-events") + "?cursor=garbage")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "invalid_cursor", "detail": "Invalid cursor.", "attr": "cursor"}
    ]


def test_unknown_api_url_is_a_json_404(owner, session_client):
    response = session_client(owner).get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_wrong_method_is_a_405_with_the_error_body(workspace, owner, session_client):
    response = session_client(owner).put(url(workspace, "audit-events"), {})

    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


def test_throttling_is_a_429_with_retry_after(workspace, owner, session_client):
    client = session_client(owner)
    rates = {"user": "3/minute", "anon": "3/minute"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [client.get(url(workspace, "members")).status_code for _ in range(4)]
        last = client.get(url(workspace, "members"))

    assert statuses == [200, 200, 200, 429]
    assert last.json()["errors"][0]["code"] == "throttled"
    assert int(last["Retry-After"]) > 0


def _rest_framework():
    from django.conf import settings

    return settings.REST_FRAMEWORK


# --- audit log ----------------------------------------------------------------


def test_audit_log_is_readable_by_admins_newest_first_with_cursor(workspace, owner, session_client):
    for name in ("One", "Two", "Three"):
        services.workspace_update(workspace=workspace, actor=owner, data={"name": name})
    client = session_client(owner)

    first = client.get(url(workspace, "audit-events") + "?page_size=2&action=updated")
    body = first.json()
    second = client.get(body["next"])

    assert first.status_code == 200
    assert [e["changes"]["name"][1] for e in body["results"]] == ["Three", "Two"]
    assert [e["changes"]["name"][1] for e in second.json()["results"]] == ["One"]
    assert body["results"][0]["actor"]["username"] == owner.username


def test_audit_log_is_hidden_from_non_admins_and_read_only(workspace, owner, member, session_client):
    product_manager = member(workspace, Role.PRODUCT_MANAGER).user
    services.workspace_update(workspace=workspace, actor=owner, data={"name": "X"})
    event = AuditEvent.objects.filter(workspace=workspace).first()

    assert session_client(product_manager).get(url(workspace, "audit-events")).status_code == 403
    assert session_client(owner).delete(url(workspace, "audit-events", event.pk)).status_code == 405
    assert (
        session_client(owner).patch(url(workspace, "audit-events", event.pk), {"action": "x"}).status_code
        == 405
    )


# --- query counts -------------------------------------------------------------


@pytest.mark.parametrize("resource", ["members", "tokens", "invitations", "audit-events"])
def test_list_query_count_does_not_grow_with_rows(
    workspace, owner, member, session_client, resource, django_assert_max_num_queries
):
    client = session_client(owner)

    def add_rows(n):
        for _ in range(n):
            user = member(workspace, Role.VIEWER).user
            services.api_token_create(workspace=workspace, user=user, name="t", scopes=["read"], actor=None)
            services.invitation_create(
                workspace=workspace, email=f"{user.username}@x.example", role="viewer", actor=owner
            )

    add_rows(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(url(workspace, resource)).status_code == 200
    add_rows(10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(workspace, resource))

    assert response.status_code == 200
    assert len(response.json()["results"]) >= 10
    assert len(many) == len(few)
    with django_assert_max_num_queries(7):
        client.get(url(workspace, resource))


def test_workspace_list_query_count(owner, session_client, django_assert_num_queries):
    client = session_client(owner)
    with django_assert_num_queries(4):  # session, user, count, page
        assert client.get("/api/v1/workspaces/").status_code == 200


# --- schema and docs ----------------------------------------------------------


def test_openapi_schema_lists_the_endpoints(owner, session_client):
    response = session_client(owner).get("/api/schema/?format=json")

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/v1/workspaces/{workspace_slug}/members/" in paths
    assert "/api/v1/workspaces/{workspace_slug}/audit-events/" in paths
    assert "apiToken" in json.loads(response.content)["components"]["securitySchemes"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_assets_locally(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html
    assert "unpkg" not in html


# --- hardening (found in review) ------------------------------------------------


def test_a_token_for_someone_else_cannot_be_requested(workspace, member, owner, session_client):
    admin = member(workspace, Role.ADMIN).user

    response = session_client(admin).post(
        url(workspace, "tokens"), {"name": "svc", "scopes": ["read", "write"], "user_id": owner.pk}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "user_id"
    assert ApiToken.objects.count() == 0


def test_options_on_the_workspace_collection_is_not_a_500(owner, session_client):
    assert session_client(owner).options("/api/v1/workspaces/").status_code == 200


def test_browsable_workspace_list_renders(owner, session_client):
    response = session_client(owner).get("/api/v1/workspaces/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200


@pytest.mark.parametrize("position", ["abc", "1.5", "%00"])
def test_a_hand_made_cursor_is_a_400(workspace, owner, session_client, position):
    import base64

    cursor = base64.b64encode(f"p={position}".encode()).decode()

    response = session_client(owner).get(url(workspace, "audit-events") + f"?cursor={cursor}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_cursor"


def test_deeply_nested_json_is_a_400(workspace, owner, session_client):
    body = "[" * 100_000 + "]" * 100_000

    response = session_client(owner).generic("PATCH", url(workspace), body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"


def test_unicode_digit_page_size_is_a_400(workspace, owner, session_client):
    assert session_client(owner).get(url(workspace, "members") + "?page_size=%C2%B2").status_code == 400


def test_overlong_invitation_email_is_a_400(workspace, owner, session_client):
    response = session_client(owner).post(
        url(workspace, "invitations"), {"email": "a" * 300 + "@example.com", "role": "viewer"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "email"
    assert Invitation.objects.count() == 0


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00%2B14:00", "yesterday"])
def test_out_of_range_audit_dates_are_400s(workspace, owner, session_client, value):
    response = session_client(owner).get(url(workspace, "audit-events") + f"?created_after={value}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "created_after"


def test_user_filter_does_not_list_other_workspaces_users(workspace, other_workspace, member, session_client):
    viewer = member(workspace, Role.VIEWER).user
    stranger = member(other_workspace, Role.OWNER, username="globex_ceo").user

    page = session_client(viewer).get(url(workspace, "tokens"), HTTP_ACCEPT="text/html").content.decode()

    assert stranger.username not in page


def test_health_endpoints_ignore_the_host_header(client):
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failed_sign_ins_are_throttled(client, owner):
    statuses = [
        client.post("/api/auth/login/", {"username": owner.username, "password": "wrong"}).status_code
        for _ in range(4)
    ]
    blocked = client.post("/api/auth/login/", {"username": owner.username, "password": "pw"})

    assert statuses == [200, 200, 200, 429]
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0


def test_a_successful_sign_in_redirects(client, owner):
    response = client.post("/api/auth/login/", {"username": owner.username, "password": "pw"})

    assert response.status_code == 302


def test_client_address_honours_only_trusted_proxies(rf, settings):
    from productops.client_address import client_address

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert client_address(request) == "10.0.0.1"  # a client-sent header is not trusted
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_address(request) == "198.51.100.7"  # the address our one proxy appended


def test_safe_next_keeps_the_browser_on_the_site_and_under_the_prefix(rf):
    from productops.safe_redirect import safe_next

    request = rf.get("/")
    allowed = safe_next(request, "/p/acme/mine/", fallback="/p/acme/", within="/p/acme/")
    assert allowed == "/p/acme/mine/"
    bad_ones = ["https://evil.example/", "//evil.example/p/acme/", "/p/other/", "javascript:alert(1)", None]
    for bad in bad_ones:
        assert safe_next(request, bad, fallback="/p/acme/", within="/p/acme/") == "/p/acme/", bad


def test_audit_events_filtered_with_a_far_offset_answer_not_a_500(workspace, owner, session_client):
    response = session_client(owner).get(
        f"/api/v1/workspaces/{workspace.slug}/audit-events/?created_before=2026-01-01T00:00:00%2B17:19"
    )

    assert response.status_code == 200


# --- request ids and the one error body --------------------------------------------------------


def test_a_sane_request_id_is_echoed_and_an_odd_one_replaced(workspace, owner, session_client):
    client = session_client(owner)

    given = client.get(url(workspace, "members"), HTTP_X_REQUEST_ID="trace-42.a_b")
    odd = client.get(url(workspace, "members"), HTTP_X_REQUEST_ID="no spaces/or slashes")
    missing = client.get(url(workspace, "nope"))

    assert given["X-Request-ID"] == "trace-42.a_b"
    assert odd["X-Request-ID"] != "no spaces/or slashes"
    assert len(odd["X-Request-ID"]) == 36  # a UUID4
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing["X-Request-ID"]


def test_every_error_body_carries_the_request_id(workspace, owner, session_client):
    response = session_client(owner).patch(url(workspace), {"name": ""}, HTTP_X_REQUEST_ID="abc")

    assert response.status_code == 400
    assert response.json()["request_id"] == "abc"
    assert response.json()["type"] == "validation_error"


def test_an_unexpected_error_is_a_json_500_with_the_request_id_and_is_logged(
    workspace, owner, session_client, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("api.platform.views.selectors.membership_list", broken)

    response = session_client(owner).get(url(workspace, "members"), HTTP_X_REQUEST_ID="bug-1")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "server_error",
        "errors": [
            {
                "code": "server_error",
                "detail": "Something went wrong on our side. It has been logged; quote the request id.",
                "attr": None,
            }
        ],
        "request_id": "bug-1",
    }
    record = next(r for r in caplog.records if r.name == "productops.api")
    assert "bug-1" in record.getMessage()
    assert record.exc_info[0] is RuntimeError  # with its traceback


# --- strict queries and text ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "attr", "code"),
    [
        ("members", "updated_afterx=2026-01-01", "updated_afterx", "unknown_parameter"),
        ("members", "role=king", "role", "invalid_choice"),
        ("members", "page=", "page", "invalid_page"),
        ("members", "page=0", "page", "invalid_page"),
        ("members", "page=1.5", "page", "invalid_page"),
        ("members", "page_size=-1", "page_size", "invalid"),
        ("tokens", "user=0.5", "user", "invalid"),
        ("tokens", "user=1e90", "user", "invalid"),
        ("audit-events", "cursor=", "cursor", "invalid_cursor"),
        ("audit-events", "actor=-3", "actor", "min_value"),
    ],
)
def test_an_unknown_parameter_or_a_bad_value_is_a_400_naming_it(
    workspace, owner, session_client, path, query, attr, code
):
    response = session_client(owner).get(url(workspace, path) + "?" + query)

    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [(attr, code)]


def test_the_global_parameters_are_always_allowed(workspace, owner, session_client):
    client = session_client(owner)

    for query in ("page=1", "page_size=5", "ordering=created_at", "search=x", "format=json"):
        assert client.get(url(workspace, "members") + "?" + query).status_code == 200, query
    assert client.get(url(workspace) + "?format=json").status_code == 200
    # A detail read takes no filters.
    assert client.get(url(workspace) + "?role=owner").status_code == 400


# --- ETags and rate limits ------------------------------------------------------------------------


def test_a_read_has_a_weak_etag_and_answers_304_while_it_is_current(workspace, owner, session_client):
    client = session_client(owner)

    first = client.get(url(workspace))
    etag = first["ETag"]
    same = client.get(url(workspace), HTTP_IF_NONE_MATCH=etag)
    strong_form = client.get(url(workspace), HTTP_IF_NONE_MATCH=etag.removeprefix("W/"))
    client.patch(url(workspace), {"name": "Renamed"})
    changed = client.get(url(workspace), HTTP_IF_NONE_MATCH=etag)

    assert etag.startswith('W/"')
    assert (same.status_code, same.content, same["ETag"]) == (304, b"", etag)
    assert strong_form.status_code == 304
    assert changed.status_code == 200
    assert changed["ETag"] != etag


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf", fromlist=["settings"]).settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "3/minute", "inbound_webhook": "3/minute"},
    }
)
def test_answers_carry_rate_limit_headers_and_a_429_says_when_to_retry(workspace, owner, session_client):
    client = session_client(owner)

    answers = [client.get(url(workspace, "members")) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a["RateLimit-Limit"] for a in answers} == {"3"}
    assert 0 < int(answers[0]["RateLimit-Reset"]) <= 60
    assert 0 < int(answers[3]["Retry-After"]) <= 60
    assert answers[3].json()["errors"][0]["code"] == "throttled"


# --- operators ------------------------------------------------------------------------------


def test_create_workspace_makes_the_owner_and_prints_the_url(capsys, settings):
    from django.core.management import call_command

    settings.PUBLIC_BASE_URL = "https://po.example"
    owner = UserFactory(email="ann@example.com")

    call_command("create_workspace", "Acme Labs", "--owner", "ANN@example.com")

    workspace = Workspace.objects.get(name="Acme Labs")
    assert Membership.objects.get(workspace=workspace).user == owner
    assert Membership.objects.get(workspace=workspace).role == Role.OWNER
    assert capsys.readouterr().out.strip().endswith(f"https://po.example/w/{workspace.slug}/")


def test_create_workspace_refuses_an_unknown_owner_and_writes_nothing():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"No user with the e-mail nobody@example\.com"):
        call_command("create_workspace", "Ghost", "--owner", "nobody@example.com")
    assert not Workspace.objects.filter(name="Ghost").exists()


def test_a_method_a_route_lacks_is_a_405_even_with_odd_query_parameters(workspace, owner, session_client):
    client = session_client(owner)

    assert client.delete("/api/v1/workspaces/?page=0&bogus=1").status_code == 405
    assert client.post(url(workspace, "audit-events") + "?cursor=").status_code == 405
    options = client.options(f"/api/v1/workspaces/{workspace.slug}/companies/by-external-id/x/")
    assert options.status_code == 200
