"""The saved views and share links API: roles, visibility, errors, the key shown once,
pagination, query budgets that do not grow with rows."""

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from productops.models import AuditEvent, Role
from roadmap import services
from roadmap.models import SavedView, ShareLink
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _base(workspace):
    return f"/api/v1/workspaces/{workspace.slug}"


def _view(workspace, owner, **kwargs):
    return services.saved_view_create(
        workspace=workspace,
        actor=owner,
        name=kwargs.pop("name", "Mine"),
        kind=kwargs.pop("kind", "board"),
        **kwargs,
    )


def _expiry(days=30):
    return (timezone.now() + timedelta(days=days)).isoformat()


def _errors(response):
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


def test_a_viewer_saves_a_view_and_reads_it_back(workspace, member, session_client):
    viewer = member(workspace, Role.VIEWER).user
    product = ProductFactory(workspace=workspace)
    client = session_client(viewer)

    created = client.post(
        f"{_base(workspace)}/saved-views/",
        {
            "name": "Mobile",
            "kind": "matrix",
            "query": {"product": product.pk, "model": "rice"},
            "shared": True,
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    view = SavedView.objects.get()
    assert body == {
        "id": view.pk,
        "name": "Mobile",
        "kind": "matrix",
        "query": {"product": product.pk, "model": "rice"},
        "shared": True,
        "owner": {"id": viewer.pk, "username": viewer.username, "email": viewer.email},
        "active_links": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert client.get(f"{_base(workspace)}/saved-views/{view.pk}/").json() == body


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"kind": "board"}, [("name", "required")]),
        ({"name": "X", "kind": "gallery"}, [("kind", "invalid_choice")]),
        ({"name": "X", "kind": "board", "query": {"months": 3}}, [("query", "unknown_filter")]),
        ({"name": "X", "kind": "board", "query": {"product": 999999}}, [("query", "does_not_exist")]),
        ({"name": "X", "kind": "board", "owner": 1}, [("owner", "unknown_field")]),
        ({"name": "X", "kind": "board", "query": "product=1"}, [("query", "not_a_dict")]),
    ],
)
def test_bad_views_are_400s_and_write_nothing(workspace, member, session_client, payload, errors):
    client = session_client(member(workspace, Role.VIEWER).user)

    response = client.post(f"{_base(workspace)}/saved-views/", payload, format="json")

    assert response.status_code == 400
    assert _errors(response) == errors
    assert SavedView.objects.count() == 0


def test_visibility_and_who_may_change_a_view(workspace, member, session_client):
    owner = member(workspace, Role.CONTRIBUTOR).user
    shared = _view(workspace, owner, name="Shared", shared=True)
    private = _view(workspace, owner, name="Private")
    colleague = session_client(member(workspace, Role.CONTRIBUTOR).user)
    pm = session_client(member(workspace, Role.PRODUCT_MANAGER).user)
    base = f"{_base(workspace)}/saved-views/"

    assert [v["name"] for v in colleague.get(base).json()["results"]] == ["Shared"]
    assert [v["name"] for v in pm.get(base).json()["results"]] == ["Private", "Shared"]
    assert colleague.get(f"{base}{private.pk}/").status_code == 404
    assert colleague.patch(f"{base}{shared.pk}/", {"name": "Mine"}, format="json").status_code == 403
    assert colleague.delete(f"{base}{shared.pk}/").status_code == 403
    renamed = pm.patch(f"{base}{private.pk}/", {"name": "Renamed", "shared": True}, format="json")
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["shared"]) == ("Renamed", True)
    assert pm.patch(f"{base}{private.pk}/", {"kind": "matrix"}, format="json").status_code == 400
    assert pm.delete(f"{base}{shared.pk}/").status_code == 204
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Renamed"]
    deleted = pm.get(f"{base}deleted/").json()["results"]
    assert [row["id"] for row in deleted] == [shared.pk]


def test_filters_search_and_pagination(workspace, member, session_client):
    user = member(workspace, Role.VIEWER).user
    for i in range(3):
        _view(workspace, user, name=f"Board {i}")
    _view(workspace, user, name="Timeline", kind="timeline", shared=True)
    client = session_client(user)
    base = f"{_base(workspace)}/saved-views/"

    assert [v["name"] for v in client.get(f"{base}?kind=timeline").json()["results"]] == ["Timeline"]
    assert [v["name"] for v in client.get(f"{base}?shared=true").json()["results"]] == ["Timeline"]
    assert [v["name"] for v in client.get(f"{base}?search=board&ordering=-name").json()["results"]] == [
        "Board 2",
        "Board 1",
        "Board 0",
    ]
    page = client.get(f"{base}?page_size=2").json()
    assert (page["count"], len(page["results"]), page["next"] is not None) == (4, 2, True)
    assert _errors(client.get(f"{base}?colour=red")) == [("colour", "unknown_parameter")]


def test_another_workspace_is_a_404(workspace, other_workspace, member, session_client):
    foreign = _view(other_workspace, member(other_workspace, Role.OWNER).user, shared=True)
    client = session_client(member(workspace, Role.OWNER).user)
    assert client.get(f"{_base(workspace)}/saved-views/{foreign.pk}/").status_code == 404
    assert client.get(f"{_base(other_workspace)}/saved-views/").status_code == 404
    made = client.post(
        f"{_base(workspace)}/share-links/", {"view": foreign.pk, "expires_at": _expiry()}, format="json"
    )
    assert _errors(made) == [("view", "does_not_exist")]


def test_a_share_link_key_is_returned_once_and_only_hashed(workspace, member, session_client):
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner)
    client = session_client(owner)

    created = client.post(
        f"{_base(workspace)}/share-links/",
        {"view": view.pk, "expires_at": _expiry(7), "fields": ["scores", "team"]},
        format="json",
    )

    assert created.status_code == 201, created.json()
    body = created.json()
    link = ShareLink.objects.get()
    assert body["key"].startswith("sv_")
    assert body["url"] == f"http://localhost:8000/shared/{body['key']}/"
    assert link.key_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert (body["id"], body["view"], body["prefix"], body["fields"], body["state"]) == (
        link.pk,
        view.pk,
        body["key"][:10],
        ["team", "scores"],
        "active",
    )
    read = client.get(f"{_base(workspace)}/share-links/{link.pk}/").json()
    assert "key" not in read
    assert "url" not in read
    assert Client().get(f"/shared/{body['key']}/").status_code == 200


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"expires_at": None}, [("expires_at", "null")]),
        ({}, [("expires_at", "required")]),
        ({"expires_at": "2000-01-01T00:00:00Z"}, [("expires_at", "invalid")]),
        ({"expires_at": "soon"}, [("expires_at", "invalid")]),
        ({"expires_at": "FUTURE", "days": 3}, [("days", "unknown_field")]),
        ({"expires_at": "FUTURE", "fields": ["secrets"]}, [("fields.0", "invalid_choice")]),
    ],
)
def test_bad_share_links_are_400s(workspace, member, session_client, payload, errors):
    owner = member(workspace, Role.CONTRIBUTOR).user
    body = {"view": _view(workspace, owner).pk, **payload}
    if body.get("expires_at") == "FUTURE":
        body["expires_at"] = _expiry()

    response = session_client(owner).post(f"{_base(workspace)}/share-links/", body, format="json")

    assert response.status_code == 400
    assert _errors(response) == errors
    assert ShareLink.objects.count() == 0


def test_an_expiry_beyond_90_days_is_refused(workspace, member, session_client):
    owner = member(workspace, Role.CONTRIBUTOR).user
    response = session_client(owner).post(
        f"{_base(workspace)}/share-links/",
        {"view": _view(workspace, owner).pk, "expires_at": _expiry(92)},
        format="json",
    )
    assert _errors(response) == [("expires_at", "out_of_range")]


def test_viewers_cannot_make_links_and_delete_revokes(workspace, member, session_client):
    viewer = member(workspace, Role.VIEWER).user
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner, shared=True)
    link, key = services.share_link_create(
        view=view, actor=owner, expires_at=timezone.now() + timedelta(days=3)
    )
    base = f"{_base(workspace)}/share-links/"

    refused = session_client(viewer).post(
        base, {"view": _view(workspace, viewer).pk, "expires_at": _expiry()}, format="json"
    )
    not_theirs = session_client(viewer).delete(f"{base}{link.pk}/")
    revoked = session_client(owner).delete(f"{base}{link.pk}/")

    assert refused.status_code == 403
    assert not_theirs.status_code == 403
    assert revoked.status_code == 204
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert session_client(owner).get(f"{base}{link.pk}/").json()["state"] == "revoked"
    assert Client().get(f"/shared/{key}/").status_code == 404
    assert AuditEvent.objects.filter(target_type="roadmap.sharelink", action="state_changed").count() == 1


def test_a_read_only_token_cannot_write(workspace, member, token_client):
    user = member(workspace, Role.CONTRIBUTOR).user
    client = token_client(workspace, user, scopes=("read",))
    response = client.post(f"{_base(workspace)}/saved-views/", {"name": "X", "kind": "board"}, format="json")
    assert response.status_code == 403
    assert client.get(f"{_base(workspace)}/saved-views/").status_code == 200


@pytest.mark.parametrize("resource", ["saved-views", "share-links"])
def test_list_and_detail_budgets_do_not_grow_with_rows(
    workspace, member, session_client, django_assert_num_queries, resource
):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    client = session_client(pm)

    def add(i):
        owner = member(workspace, Role.CONTRIBUTOR).user
        view = _view(workspace, owner, name=f"View {i}", shared=True)
        services.share_link_create(view=view, actor=owner, expires_at=timezone.now() + timedelta(days=3))
        return view

    add(0)
    url = f"{_base(workspace)}/{resource}/"
    with django_assert_num_queries(BUDGETS[resource]):
        first = client.get(url)
    for i in range(1, 8):
        add(i)
    with django_assert_num_queries(BUDGETS[resource]):
        many = client.get(url)
    assert (first.json()["count"], many.json()["count"]) == (1, 8)
    row = many.json()["results"][0]["id"]
    with django_assert_num_queries(DETAIL_BUDGETS[resource]):
        assert client.get(f"{url}{row}/").status_code == 200


# session, user, membership, count, rows
BUDGETS = {"saved-views": 5, "share-links": 5}
DETAIL_BUDGETS = {"saved-views": 4, "share-links": 4}
