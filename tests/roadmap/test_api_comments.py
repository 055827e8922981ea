"""The comments API: ``/features/{feature_id}/comments/`` and ``.../comments/{id}/``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from productops.models import AuditEvent, Event, Role
from roadmap import services
from roadmap.models import Feature, FeatureComment, FeatureMention
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feature(workspace):
    return FeatureFactory(product=ProductFactory(workspace=workspace), title="Single sign-on")


def url(workspace, feature, pk=None):
    base = f"/api/v1/workspaces/{workspace.slug}/features/{feature.pk}/comments/"
    return base if pk is None else f"{base}{pk}/"


def test_post_list_and_read(workspace, feature, member, session_client):
    ann = member(workspace, Role.CONTRIBUTOR, username="ann", email="ann@acme.example").user
    pat = member(workspace, Role.VIEWER, username="pat", email="pat@acme.example").user
    client = session_client(ann)

    response = client.post(url(workspace, feature), {"body": "@pat ready?"}, format="json")

    assert response.status_code == 201, response.content
    comment = FeatureComment.objects.get()
    mention = FeatureMention.objects.get()
    body = response.json()
    assert body == {
        "id": comment.pk,
        "feature": feature.pk,
        "author": {"id": ann.pk, "username": "ann", "email": "ann@acme.example"},
        "body": "@pat ready?",
        "mentions": [
            {
                "id": mention.pk,
                "user": {"id": pat.pk, "username": "pat", "email": "pat@acme.example"},
                "created_at": body["mentions"][0]["created_at"],
            }
        ],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "edited_at": None,
    }
    viewer = session_client(pat)
    listed = viewer.get(url(workspace, feature)).json()
    assert listed["count"] == 1
    assert listed["results"] == [body]
    assert viewer.get(url(workspace, feature, comment.pk)).json() == body


def test_edit_and_delete(workspace, feature, member, session_client):
    ann = member(workspace, Role.CONTRIBUTOR).user
    comment = services.feature_comment_create(feature=feature, actor=ann, body="Draft")
    client = session_client(ann)

    response = client.patch(url(workspace, feature, comment.pk), {"body": "Final"}, format="json")
    assert response.status_code == 200
    assert (response.json()["body"], response.json()["edited_at"] is not None) == ("Final", True)

    assert client.delete(url(workspace, feature, comment.pk)).status_code == 204
    assert not FeatureComment.objects.exists()
    assert AuditEvent.objects.filter(target_type="roadmap.featurecomment", action="deleted").count() == 1


def test_roles(workspace, feature, member, session_client):
    author = member(workspace, Role.CONTRIBUTOR).user
    comment = services.feature_comment_create(feature=feature, actor=author, body="Mine")
    viewer = session_client(member(workspace, Role.VIEWER).user)
    assert viewer.post(url(workspace, feature), {"body": "x"}, format="json").status_code == 403
    other = session_client(member(workspace, Role.CONTRIBUTOR).user)
    response = other.patch(url(workspace, feature, comment.pk), {"body": "Theirs"}, format="json")
    assert response.status_code == 403
    assert (
        response.json()["errors"][0]["detail"]
        == "Only its author or a product manager may change this comment."
    )
    assert other.delete(url(workspace, feature, comment.pk)).status_code == 403
    assert FeatureComment.objects.get().body == "Mine"
    pm = session_client(member(workspace, Role.PRODUCT_MANAGER).user)
    assert (
        pm.patch(url(workspace, feature, comment.pk), {"body": "Moderated"}, format="json").status_code == 200
    )
    assert pm.delete(url(workspace, feature, comment.pk)).status_code == 204


def test_read_scope_tokens_read_and_cannot_write(workspace, feature, member, token_client):
    user = member(workspace, Role.CONTRIBUTOR).user
    client = token_client(workspace, user, scopes=("read",))
    assert client.get(url(workspace, feature)).status_code == 200
    assert client.post(url(workspace, feature), {"body": "x"}, format="json").status_code == 403


@pytest.mark.parametrize(
    ("payload", "code", "attr"),
    [
        ({"body": ""}, "blank", "body"),
        ({"body": "x" * 5001}, "max_length", "body"),
        ({"body": 12}, "not_a_string", "body"),
        ({}, "required", "body"),
        ({"body": "x", "author": 1}, "unknown_field", "author"),
    ],
)
def test_bad_bodies(workspace, feature, member, session_client, payload, code, attr):
    client = session_client(member(workspace, Role.CONTRIBUTOR).user)
    response = client.post(url(workspace, feature), payload, format="json")
    assert response.status_code == 400
    assert (
        response.json()["type"],
        response.json()["errors"][0]["code"],
        response.json()["errors"][0]["attr"],
    ) == (
        "validation_error",
        code,
        attr,
    )
    assert not FeatureComment.objects.exists()


def test_another_workspaces_feature_or_comment_is_404(
    workspace, other_workspace, feature, member, session_client
):
    theirs = FeatureFactory(product=ProductFactory(workspace=other_workspace))
    user = member(workspace, Role.OWNER).user
    client = session_client(user)
    assert client.get(url(workspace, theirs)).status_code == 404
    assert client.post(url(workspace, theirs), {"body": "x"}, format="json").status_code == 404
    comment = services.feature_comment_create(feature=feature, actor=user, body="On mine")
    other_feature = FeatureFactory(product=feature.product)
    assert client.get(url(workspace, other_feature, comment.pk)).status_code == 404
    assert (
        client.patch(url(workspace, other_feature, comment.pk), {"body": "y"}, format="json").status_code
        == 404
    )
    assert client.get(url(other_workspace, theirs)).status_code == 404
    assert FeatureComment.objects.get().body == "On mine"


def test_a_merged_feature_is_a_409(workspace, feature, member, session_client):
    survivor = FeatureFactory(product=feature.product)
    Feature.objects.filter(pk=feature.pk).update(merged_into=survivor)
    client = session_client(member(workspace, Role.CONTRIBUTOR).user)
    response = client.post(url(workspace, feature), {"body": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0] == {
        "code": "feature_merged",
        "detail": "This feature was merged into another; comment there.",
        "attr": None,
        "merged_into": survivor.pk,
    }


def test_list_is_paginated_oldest_first_and_orderable(workspace, feature, member, session_client):
    user = member(workspace, Role.CONTRIBUTOR).user
    for i in range(3):
        services.feature_comment_create(feature=feature, actor=user, body=f"c{i}")
    client = session_client(user)
    page = client.get(url(workspace, feature) + "?page_size=2").json()
    assert (page["count"], [c["body"] for c in page["results"]]) == (3, ["c0", "c1"])
    assert page["next"].endswith("page=2&page_size=2")
    newest = client.get(url(workspace, feature) + "?ordering=-created_at").json()
    assert [c["body"] for c in newest["results"]] == ["c2", "c1", "c0"]
    assert client.get(url(workspace, feature) + "?status=idea").status_code == 400


def test_the_list_query_count_is_fixed(workspace, feature, member, session_client, django_assert_num_queries):
    user = member(workspace, Role.CONTRIBUTOR).user
    client = session_client(user)
    services.feature_comment_create(feature=feature, actor=user, body="first")
    client.get(url(workspace, feature))
    # session, user, membership, feature, count, page, mentions with their users
    with django_assert_num_queries(7):
        assert client.get(url(workspace, feature)).status_code == 200
    for i in range(8):
        author = member(workspace, Role.CONTRIBUTOR).user
        services.feature_comment_create(feature=feature, actor=author, body=f"@{user.username} {i}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(workspace, feature))
    assert response.json()["count"] == 9
    assert len(queries) == 7


def test_the_schema_documents_the_comment_operations_and_their_errors():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    base = "/api/v1/workspaces/{workspace_slug}/features/{feature_id}/comments/"
    collection, item = schema["paths"][base], schema["paths"][base + "{id}/"]
    assert set(collection) >= {"get", "post"}
    assert set(item) >= {"get", "patch", "delete"}
    assert "put" not in item
    assert collection["get"]["summary"] == "List a feature's comments"
    assert {"400", "401", "403", "404", "409", "415"} <= set(collection["post"]["responses"])
    assert "409" not in item["patch"]["responses"]
    assert collection["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/FeatureCommentInputRequest"
    )
    error_item = schema["components"]["schemas"]["ErrorItem"]["properties"]
    assert error_item["item_id"]["type"] == "integer"


def test_a_mention_by_api_records_the_event(workspace, feature, member, session_client):
    member(workspace, Role.VIEWER, username="pat")
    client = session_client(member(workspace, Role.CONTRIBUTOR).user)
    client.post(url(workspace, feature), {"body": "@pat"}, format="json")
    assert Event.objects.filter(kind=Event.Kind.FEATURE_MENTIONED).count() == 1
