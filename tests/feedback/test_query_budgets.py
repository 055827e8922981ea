"""Fixed query budgets of the feedback API's detail reads and writes (api/feedback).

Each budget is the exact number of queries of one request, session authentication included;
a detail read costs the same with one related row as with five (``rich``). A bulk ingest's
cost grows by a fixed number of queries per item, asserted for 1 and 5 items. The list
budgets are in test_api.py; detail routes come from the URL conf (tests/query_routes.py).
"""

from __future__ import annotations

import pytest
from django.db import connection

from productops.models import Role
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    InboundWebhookFactory,
    VoteFactory,
)
from tests.query_routes import object_get_routes
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def by_backend(*, postgres: int, sqlite: int) -> int:
    """A budget that differs by backend (PostgreSQL's similarity lookups run in a savepoint
    with ``SET LOCAL pg_trgm.similarity_threshold``)."""
    return postgres if connection.vendor == "postgresql" else sqlite


@pytest.fixture
def pm(workspace, member):
    return member(workspace, Role.PRODUCT_MANAGER).user


def url(workspace, *parts) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/" + "".join(f"{p}/" for p in parts)


def _features(workspace, n: int):
    product = ProductFactory(workspace=workspace)
    return [FeatureFactory(product=product) for _ in range(n)]


def _company(workspace, n: int):
    company = CompanyFactory(workspace=workspace)
    for _ in range(n):
        contact = ContactFactory(workspace=workspace, company=company)
        FeedbackItemFactory(workspace=workspace, company=company, contact=contact)
    return company


def _contact(workspace, n: int):
    contact = ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace))
    for feature in _features(workspace, n):
        VoteFactory(feature=feature, contact=contact)
    return contact


def _item(workspace, n: int):
    contact = ContactFactory(workspace=workspace, company=CompanyFactory(workspace=workspace))
    item = FeedbackItemFactory(
        workspace=workspace, contact=contact, company=contact.company, tags=[f"t{i}" for i in range(n)]
    )
    for feature in _features(workspace, n):
        FeedbackLinkFactory(feature=feature, item=item)
    return item


def _vote(workspace, n: int):
    return VoteFactory(feature=_features(workspace, 1)[0], contact=ContactFactory(workspace=workspace))


def _link(workspace, n: int):
    return FeedbackLinkFactory(feature=_features(workspace, 1)[0], item=_item(workspace, n))


def _webhook(workspace, n: int):
    return InboundWebhookFactory(workspace=workspace)


#: route name → (path, builder of the object with ``n`` related rows, exact queries of its GET)
DETAIL_BUDGETS = {
    "company-detail": ("companies/{pk}", _company, 4),
    "contact-detail": ("contacts/{pk}", _contact, 4),
    "feedback-item-detail": ("feedback/{pk}", _item, 5),
    "feedback-item-links": ("feedback/{pk}/links", _item, 7),
    "feedback-item-duplicates": ("feedback/{pk}/duplicates", _item, 6),
    "vote-detail": ("votes/{pk}", _vote, 4),
    "feedback-link-detail": ("feedback-links/{pk}", _link, 4),
    "inbound-webhook-detail": ("inbound-webhooks/{pk}", _webhook, 4),
}
SINGLETONS = {"feedback-settings": ("feedback-settings", 4)}


@pytest.mark.parametrize("route", list(DETAIL_BUDGETS))
def test_detail_read_budget(route, workspace, owner, session_client, django_assert_num_queries):
    path, build, budget = DETAIL_BUDGETS[route]
    plain, rich = build(workspace, 1), build(workspace, 5)
    client = session_client(owner)  # inbound webhooks are an admin's
    client.get(url(workspace, path.format(pk=plain.pk)))  # first use: settings rows

    for obj in (plain, rich):
        with django_assert_num_queries(budget):
            response = client.get(url(workspace, path.format(pk=obj.pk)))
        assert response.status_code == 200, response.content


@pytest.mark.parametrize("route", list(SINGLETONS))
def test_settings_read_budget(route, workspace, owner, session_client, django_assert_num_queries):
    path, budget = SINGLETONS[route]
    client = session_client(owner)

    with django_assert_num_queries(budget):  # no row yet: the defaults
        assert client.get(url(workspace, path)).status_code == 200
    client.patch(url(workspace, path), {"semantic_suggestions": False}, format="json")
    with django_assert_num_queries(budget):
        assert client.get(url(workspace, path)).json() == {"semantic_suggestions": False}


def test_every_detail_route_has_a_budget():
    views = object_get_routes("api.feedback.views") | object_get_routes("api.feedback.channels")
    assert views == set(DETAIL_BUDGETS) | set(SINGLETONS)


# --- writes ------------------------------------------------------------------------------


def test_vote_and_link_budgets(workspace, pm, session_client, django_assert_num_queries):
    feature = _features(workspace, 1)[0]
    contact = ContactFactory(workspace=workspace)
    item = FeedbackItemFactory(workspace=workspace)
    client = session_client(pm)

    with django_assert_num_queries(17):
        vote = client.post(url(workspace, "votes"), {"contact": contact.pk, "feature": feature.pk})
    assert vote.status_code == 201, vote.content
    with django_assert_num_queries(13):
        assert client.delete(url(workspace, "votes", vote.json()["id"])).status_code == 204
    with django_assert_num_queries(19):
        link = client.post(url(workspace, "feedback", item.pk, "links"), {"feature": feature.pk})
    assert link.status_code == 201, link.content
    with django_assert_num_queries(16):
        assert client.delete(url(workspace, "feedback", item.pk, "links", feature.pk)).status_code == 204


def test_feedback_item_write_budgets(workspace, pm, session_client, django_assert_num_queries):
    company = CompanyFactory(workspace=workspace, domain="initech.example")
    client = session_client(pm)
    body = {"text": "SAML SSO", "contact_email": "ann@initech.example", "tags": ["sso", "auth"]}

    with django_assert_num_queries(22):
        created = client.post(url(workspace, "feedback"), body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["company"] == company.pk
    with django_assert_num_queries(24):
        updated = client.patch(url(workspace, "feedback", pk), {"text": "SAML SSO, please"}, format="json")
    assert updated.status_code == 200, updated.content
    with django_assert_num_queries(16):
        triaged = client.post(url(workspace, "feedback", pk, "state"), {"state": "reviewed"})
    assert triaged.status_code == 200, triaged.content
    # The delete cascades to the item's vector and its theme memberships and dismissals.
    with django_assert_num_queries(19):
        assert client.delete(url(workspace, "feedback", pk)).status_code == 204


@pytest.mark.parametrize(("n", "budget"), [(1, 16), (5, 16)])
def test_bulk_ingest_budget(n, budget, workspace, pm, session_client, django_assert_num_queries):
    CompanyFactory(workspace=workspace, domain="initech.example")
    client = session_client(pm)
    items = [
        {
            "text": f"Export {i}",
            "source": "csv",
            "source_ref": f"r{i}",
            "contact_email": f"p{i}@initech.example",
        }
        for i in range(n)
    ]

    with django_assert_num_queries(budget):
        response = client.post(url(workspace, "feedback", "bulk"), {"items": items}, format="json")

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == n


def test_company_write_budgets(workspace, pm, session_client, django_assert_num_queries):
    client = session_client(pm)

    with django_assert_num_queries(14):
        created = client.post(url(workspace, "companies"), {"name": "Initech", "domain": "initech.example"})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    with django_assert_num_queries(by_backend(postgres=24, sqlite=23)):
        assert client.patch(url(workspace, "companies", pk), {"arr": "90000"}).status_code == 200
    with django_assert_num_queries(14):
        assert client.delete(url(workspace, "companies", pk)).status_code == 204
