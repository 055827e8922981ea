"""'Create a feature from this feedback' in the inbox: from the item pane and from the bulk bar."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils.html import escape

from feedback.models import FeedbackItem, FeedbackLink
from priority.recompute import run as recompute_workspace
from productops.models import AuditEvent, Role
from roadmap.models import Feature
from tests.feedback.factories import CompanyFactory, ContactFactory, FeedbackItemFactory
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
URL = "/w/acme/feedback/create-feature/"


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Web app")


def nothing_written(workspace) -> None:
    assert not Feature.objects.filter(workspace=workspace).exists()
    assert not FeedbackLink.objects.exists()
    assert not AuditEvent.objects.filter(target_type="roadmap.feature").exists()


def test_the_pane_offers_it_to_contributors(portal_client, workspace):
    item = FeedbackItemFactory(workspace=workspace)
    for role, shown in [(Role.VIEWER, False), (Role.CONTRIBUTOR, True)]:
        client, _ = portal_client(workspace, role)
        content = client.get(f"/w/acme/feedback/{item.pk}/?source=slack", **HTMX).content.decode()
        assert (f'hx-get="{URL}?source=slack&amp;ids={item.pk}"' in content) is shown
        inbox = client.get("/w/acme/feedback/").content.decode()
        assert ('name="action" value="create_feature"' in inbox) is shown


def test_the_form_as_a_page_and_in_the_pane(portal_client, workspace, product):
    ProductFactory(workspace=workspace, name="API")
    item = FeedbackItemFactory(
        workspace=workspace, text="Offline mode\nfor field teams", importance="critical"
    )
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    page = client.get(f"{URL}?ids={item.pk}&source=slack")
    partial = client.get(f"{URL}?ids={item.pk}", **HTMX)

    assert page.status_code == 200
    content = page.content.decode()
    assert "<html" in content
    assert f"Create a feature from feedback #{item.pk}" in content
    assert 'placeholder="Offline mode"' in content
    assert f'action="{URL}?source=slack"' in content
    assert f'<input type="hidden" name="ids" value="{item.pk}">' in content
    assert [p.name for p in page.context["form"].fields["product"].queryset] == ["API", "Web app"]
    assert (
        f'<a class="button secondary" href="/w/acme/feedback/{item.pk}/?source=slack">Cancel</a>' in content
    )
    assert partial.status_code == 200
    assert partial["HX-Retarget"] == "#feedback-pane"
    assert "<html" not in partial.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER, Role.OWNER])
def test_create_from_one_item_per_role(portal_client, workspace, product, role):
    company = CompanyFactory(workspace=workspace, name="Initech", arr=5000)
    item = FeedbackItemFactory(
        workspace=workspace, company=company, importance="critical", text="Offline mode"
    )
    client, membership = portal_client(workspace, role)

    response = client.post(URL, {"ids": [item.pk], "title": "", "product": product.pk, "importance": ""})

    if role == Role.VIEWER:
        assert response.status_code == 403
        assert client.get(f"{URL}?ids={item.pk}").status_code == 403
        nothing_written(workspace)
        return
    feature = Feature.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/features/{feature.pk}/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Feature “Offline mode” created from 1 feedback item."
    ]
    assert (feature.title, feature.product) == ("Offline mode", product)
    link = FeedbackLink.objects.get()
    assert (link.item, link.feature, link.importance, link.created_by) == (
        item,
        feature,
        "critical",
        membership.user,
    )
    assert FeedbackItem.objects.get(pk=item.pk).state == "linked"
    assert AuditEvent.objects.filter(
        target_type="roadmap.feature", target_id=str(feature.pk), action="created", actor=membership.user
    ).exists()

    # Its page shows the customer impact: the linked feedback and, once scored, the company.
    recompute_workspace(workspace_id=workspace.pk, full=True)
    content = client.get(f"/w/acme/features/{feature.pk}/").content.decode()
    assert "1 linked feedback item" in content
    assert "1 requesting company" in content
    assert "Initech" in content


def test_create_from_the_bulk_bar(portal_client, workspace, product):
    globex = CompanyFactory(workspace=workspace, name="Globex")
    first = FeedbackItemFactory(workspace=workspace, text="Dark mode", importance="nice_to_have")
    second = FeedbackItemFactory(
        workspace=workspace, contact=ContactFactory(workspace=workspace, company=globex)
    )
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    # The bulk bar asks for the feature first: nothing written yet.
    asked = client.post(
        "/w/acme/feedback/bulk/?state=new", {"action": "create_feature", "ids": [first.pk, second.pk]}, **HTMX
    )
    assert asked.status_code == 200
    assert asked["HX-Retarget"] == "#feedback-pane"
    content = asked.content.decode()
    assert "Create a feature from 2 feedback items" in content
    assert [i.pk for i in asked.context["items"]] == [first.pk, second.pk]
    assert f'hx-post="{URL}?state=new"' in content
    nothing_written(workspace)

    response = client.post(
        f"{URL}?state=new",
        {
            "ids": [first.pk, second.pk],
            "title": "Dark mode",
            "product": product.pk,
            "importance": "important",
        },
        **HTMX,
    )

    feature = Feature.objects.get(workspace=workspace)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/w/acme/features/{feature.pk}/"
    assert sorted(FeedbackLink.objects.filter(feature=feature).values_list("item_id", "importance")) == [
        (first.pk, "important"),
        (second.pk, "important"),
    ]


def test_the_bulk_bar_without_javascript_renders_the_form_page(portal_client, workspace):
    item = FeedbackItemFactory(workspace=workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post("/w/acme/feedback/bulk/", {"action": "create_feature", "ids": [item.pk]})

    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert [i.pk for i in response.context["items"]] == [item.pk]
    empty = client.post("/w/acme/feedback/bulk/", {"action": "create_feature"})
    assert empty.status_code == 400
    assert empty.context["bulk_error"] == "Select at least one item."


@pytest.mark.parametrize(
    ("case", "field", "message", "status"),
    [
        ("no product", "product", "This field is required.", 400),
        (
            "another workspace's product",
            "product",
            "Select a valid choice. That choice is not one of the available choices.",
            400,
        ),
        (
            "bad importance",
            "importance",
            "Select a valid choice. urgent is not one of the available choices.",
            400,
        ),
        ("title too long", "title", "Ensure this value has at most 200 characters (it has 201).", 400),
        ("no items", "ids", "Select at least one item.", 400),
        ("too many", "ids", "Select at most 100 items.", 400),
        ("another workspace's item", "ids", "Not found in this workspace: [OTHER].", 400),
        ("merged item", None, "Merged into another item, link that one instead: [ITEM].", 409),
    ],
)
def test_errors_are_shown_inline_and_nothing_is_written(
    portal_client, workspace, other_workspace, product, case, field, message, status
):
    item = FeedbackItemFactory(workspace=workspace)
    other = FeedbackItemFactory(workspace=other_workspace)
    data = {"ids": [item.pk], "title": "A feature", "product": product.pk, "importance": ""}
    if case == "no product":
        data["product"] = ""
    elif case == "another workspace's product":
        data["product"] = ProductFactory(workspace=other_workspace).pk
    elif case == "bad importance":
        data["importance"] = "urgent"
    elif case == "title too long":
        data["title"] = "x" * 201
    elif case == "no items":
        data["ids"] = []
    elif case == "too many":
        data["ids"] = list(range(1, 102))
    elif case == "another workspace's item":
        data["ids"] = [item.pk, other.pk]
    elif case == "merged item":
        FeedbackItem.objects.filter(pk=item.pk).update(merged_into=FeedbackItemFactory(workspace=workspace))
    message = message.replace("OTHER", str(other.pk)).replace("ITEM", str(item.pk))
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(URL, data)

    assert response.status_code == status
    assert response.context["form"].errors == {field or "__all__": [message]}
    assert escape(message) in response.content.decode()
    nothing_written(workspace)


def test_the_form_page_query_count_does_not_grow_with_items(
    portal_client, workspace, django_assert_num_queries
):
    ProductFactory(workspace=workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    company = CompanyFactory(workspace=workspace)
    items = [FeedbackItemFactory(workspace=workspace, company=company)]
    client.get(f"{URL}?ids={items[0].pk}")
    # session, user, membership, switcher; the items (and their links); the products.
    with django_assert_num_queries(7):
        assert client.get(f"{URL}?ids={items[0].pk}").status_code == 200
    items += [
        FeedbackItemFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, company=company))
        for _ in range(12)
    ]
    query = "&".join(f"ids={i.pk}" for i in items)
    with django_assert_num_queries(7):
        response = client.get(f"{URL}?{query}")
    assert len(response.context["items"]) == 13
