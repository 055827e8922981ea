"""The themes API (api/feedback/themes.py): roles, tenancy, field errors, nothing written on
a refusal, and constant queries for the list."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import theme_services
from feedback.models import FeedbackLink, Theme, ThemeDismissal
from productops.models import AuditEvent, Role
from roadmap.models import Feature
from tests.feedback.factories import CompanyFactory, FeedbackItemFactory
from tests.feedback.test_themes import export_pdf, store, synthetic
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

ROLES = [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER, Role.ADMIN, Role.OWNER]


def base(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/feedback-themes/"


def two_themes(workspace) -> tuple[Theme, Theme]:
    company = CompanyFactory(workspace=workspace, arr=1000)
    for text in ["Dark mode please", "A dark theme please", "Dark mode for night shifts", "Dark mode now"]:
        FeedbackItemFactory(workspace=workspace, text=text, company=company, importance="important")
    export_pdf(workspace)
    first, second = theme_services.themes_recompute(workspace_id=workspace.pk)
    return (first, second) if "dark" in first.words else (second, first)


def errors(response) -> list[tuple[str | None, str]]:
    return [(e["attr"], e["code"]) for e in response.json()["errors"]]


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_themes(workspace, member, session_client, role):
    dark, pdf = two_themes(workspace)
    client = session_client(member(workspace, role).user)

    listed = client.get(base(workspace))
    detail = client.get(f"{base(workspace)}{dark.pk}/")
    items = client.get(f"{base(workspace)}{dark.pk}/items/")

    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [r["id"] for r in rows] == [t.pk for t in sorted([dark, pdf], key=lambda t: (-t.size, t.pk))]
    row = next(r for r in rows if r["id"] == dark.pk)
    assert (row["size"], row["company_count"], row["arr"], row["arr_currency"], row["period_days"]) == (
        4,
        1,
        "1000.00",
        "USD",
        30,
    )
    assert len(row["typical"]) == 3
    assert set(row["typical"][0]) == {"id", "text", "received_at", "state", "company", "similarity", "rank"}
    assert detail.status_code == 200
    assert len(detail.json()["items"]) == 4
    assert items.status_code == 200
    assert [i["rank"] for i in items.json()["results"]] == [0, 1, 2, 3]


def test_the_list_filters_by_period_and_refuses_unknown_ones(workspace, owner, session_client):
    two_themes(workspace)
    client = session_client(owner)

    assert client.get(base(workspace) + "?period_days=7").json()["results"] == []
    assert len(client.get(base(workspace) + "?period_days=30").json()["results"]) == 2
    bad = client.get(base(workspace) + "?period_days=14")
    assert bad.status_code == 400
    assert errors(bad) == [("period_days", "invalid_choice")]
    unknown = client.get(base(workspace) + "?colour=red")
    assert errors(unknown) == [("colour", "unknown_parameter")]


def test_another_workspaces_theme_is_a_404(workspace, other_workspace, owner, member, session_client):
    theirs, _ = two_themes(other_workspace)
    client = session_client(owner)

    for path in ["", "items/"]:
        assert client.get(f"{base(workspace)}{theirs.pk}/{path}").status_code == 404
    for path, body in [
        ("create-feature/", {"product": ProductFactory(workspace=workspace).pk}),
        ("link-feature/", {"feature": FeatureFactory(product=ProductFactory(workspace=workspace)).pk}),
        ("dismiss-item/", {"item": FeedbackItemFactory(workspace=workspace).pk}),
    ]:
        assert client.post(f"{base(workspace)}{theirs.pk}/{path}", body, format="json").status_code == 404
    # A non-member: the workspace itself is not found.
    outsider = session_client(member(other_workspace, Role.OWNER).user)
    assert outsider.get(base(workspace)).status_code == 404
    assert Feature.objects.count() == 1  # the one made for the link-feature body
    assert not FeedbackLink.objects.exists()
    assert not ThemeDismissal.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_recompute_is_queued_for_contributors(
    workspace, member, session_client, role, django_capture_on_commit_callbacks
):
    client = session_client(member(workspace, role).user)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(base(workspace) + "recompute/", {"period_days": 7}, format="json")

    if role == Role.VIEWER:
        assert response.status_code == 403
        assert callbacks == []
    else:
        assert response.status_code == 202
        assert response.json() == {"period_days": 7, "queued": True}
        assert [c.__qualname__ for c in callbacks] == ["enqueue feedback.tasks.themes_recompute"]


def test_recompute_field_errors(workspace, owner, session_client):
    client = session_client(owner)

    bad = client.post(base(workspace) + "recompute/", {"period_days": 14}, format="json")
    unknown = client.post(base(workspace) + "recompute/", {"days": 7}, format="json")

    assert errors(bad) == [("period_days", "invalid_choice")]
    assert errors(unknown) == [("days", "unknown_field")]


@pytest.mark.parametrize("role", ROLES)
def test_create_a_feature_from_a_theme_per_role(workspace, member, session_client, role):
    dark, _ = two_themes(workspace)
    product = ProductFactory(workspace=workspace)
    client = session_client(member(workspace, role).user)

    response = client.post(
        f"{base(workspace)}{dark.pk}/create-feature/", {"product": product.pk}, format="json"
    )

    if role == Role.VIEWER:
        assert response.status_code == 403
        assert not Feature.objects.exists()
        return
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == dark.label
    feature = Feature.objects.get(pk=body["id"])
    assert FeedbackLink.objects.filter(feature=feature).count() == 4
    assert set(FeedbackLink.objects.values_list("importance", flat=True)) == {"important"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("product", "required")]),
        ({"product": 999999}, [("product", "does_not_exist")]),
        ({"product": "x", "title": 5}, [("product", "incorrect_type"), ("title", "not_a_string")]),
        ({"product": None}, [("product", "null")]),
        ({"colour": "red"}, [("colour", "unknown_field")]),
    ],
)
def test_create_feature_field_errors_write_nothing(workspace, owner, session_client, body, expected):
    dark, _ = two_themes(workspace)
    before = AuditEvent.objects.count()

    response = session_client(owner).post(f"{base(workspace)}{dark.pk}/create-feature/", body, format="json")

    assert response.status_code == 400
    assert sorted(errors(response)) == sorted(expected)
    assert not Feature.objects.exists()
    assert not FeedbackLink.objects.exists()
    assert AuditEvent.objects.count() == before


def test_create_feature_with_another_workspaces_product_is_a_field_error(
    workspace, other_workspace, owner, session_client
):
    dark, _ = two_themes(workspace)
    theirs = ProductFactory(workspace=other_workspace)

    response = session_client(owner).post(
        f"{base(workspace)}{dark.pk}/create-feature/", {"product": theirs.pk}, format="json"
    )

    assert errors(response) == [("product", "does_not_exist")]
    assert not Feature.objects.exists()


def test_link_a_theme_to_a_feature(workspace, member, session_client):
    dark, _ = two_themes(workspace)
    feature = FeatureFactory(product=ProductFactory(workspace=workspace))
    viewer = session_client(member(workspace, Role.VIEWER).user)
    contributor = session_client(member(workspace, Role.CONTRIBUTOR).user)
    path = f"{base(workspace)}{dark.pk}/link-feature/"

    assert viewer.post(path, {"feature": feature.pk}, format="json").status_code == 403
    first = contributor.post(path, {"feature": feature.pk, "importance": "critical"}, format="json")
    again = contributor.post(path, {"feature": feature.pk}, format="json")

    assert (first.status_code, first.json()) == (200, {"linked": 4})
    assert (again.status_code, again.json()) == (200, {"linked": 0})
    assert set(FeedbackLink.objects.values_list("importance", flat=True)) == {"critical"}


def test_link_a_theme_to_a_declined_feature_is_a_409_and_writes_nothing(workspace, owner, session_client):
    dark, _ = two_themes(workspace)
    declined = FeatureFactory(product=ProductFactory(workspace=workspace), status="declined")
    client = session_client(owner)

    response = client.post(
        f"{base(workspace)}{dark.pk}/link-feature/", {"feature": declined.pk}, format="json"
    )
    bad = client.post(
        f"{base(workspace)}{dark.pk}/link-feature/",
        {"feature": declined.pk, "importance": "huge"},
        format="json",
    )

    assert response.status_code == 409
    assert errors(response) == [(None, "feature_declined")]
    assert errors(bad) == [("importance", "invalid_choice")]
    assert not FeedbackLink.objects.exists()


def test_dismiss_an_item_from_its_theme(workspace, member, session_client):
    dark, pdf = two_themes(workspace)
    item_id = dark.members.order_by("rank").values_list("item_id", flat=True)[0]
    pdf_item = pdf.members.values_list("item_id", flat=True)[0]
    viewer = session_client(member(workspace, Role.VIEWER).user)
    contributor = session_client(member(workspace, Role.CONTRIBUTOR).user)
    path = f"{base(workspace)}{dark.pk}/dismiss-item/"

    assert viewer.post(path, {"item": item_id}, format="json").status_code == 403
    response = contributor.post(path, {"item": item_id}, format="json")
    not_in_it = contributor.post(path, {"item": pdf_item}, format="json")
    missing = contributor.post(path, {"item": 999999}, format="json")

    assert response.status_code == 200
    assert response.json()["size"] == 3
    assert item_id not in [i["id"] for i in response.json()["typical"]]
    assert ThemeDismissal.objects.filter(theme=dark, item_id=item_id).count() == 1
    assert errors(not_in_it) == [("item", "not_a_member")]
    assert errors(missing) == [("item", "does_not_exist")]


def test_the_list_costs_the_same_queries_for_2_themes_as_for_many(workspace, owner, session_client):
    client = session_client(owner)
    two_themes(workspace)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(base(workspace)).json()["results"]) == 2

    store(workspace, synthetic(200))
    assert len(theme_services.themes_recompute(workspace_id=workspace.pk)) > 4
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(base(workspace)).json()["results"]) > 4

    assert len(many) == len(few)
    # Session and membership, count, page of themes, their typical items.
    assert len(few) <= 6


def test_detail_costs_a_constant_number_of_queries(workspace, owner, session_client):
    dark, _ = two_themes(workspace)
    client = session_client(owner)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"{base(workspace)}{dark.pk}/").status_code == 200

    assert len(queries) <= 6
