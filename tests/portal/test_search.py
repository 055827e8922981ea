"""The global search (portal.views.search) and its selectors: features, feedback, companies
and contacts of the requester's workspace, grouped, at most 20 of each, in a fixed number of
queries whatever the workspace holds."""

from __future__ import annotations

import pytest
from django.db import connection

from feedback import selectors as feedback_selectors
from productops.models import Role
from productops.search import like_pattern, search_words
from roadmap import selectors as roadmap_selectors
from tests.feedback.factories import CompanyFactory, ContactFactory, FeedbackItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
# Session, user, membership; then one query per kind.
BASE_QUERIES = 3
KINDS = 4


def url(workspace, q=None):
    path = f"/w/{workspace.slug}/search/"
    return path if q is None else f"{path}?q={q}"


def _rows(workspace, n, word="Ledger"):
    product = ProductFactory(workspace=workspace, name=f"Core {word}")
    for i in range(n):
        company = CompanyFactory(
            workspace=workspace, name=f"{word} Corp {i}", domain=f"{word.lower()}{i}.example"
        )
        ContactFactory(
            workspace=workspace,
            company=company,
            name=f"Ann {word} {i}",
            email=f"ann{i}@{word.lower()}.example",
        )
        FeatureFactory(product=product, title=f"{word} export {i}", priority_rank=i + 1)
        FeedbackItemFactory(
            workspace=workspace, company=company, text=f"Please add a {word} export, number {i}"
        )


# --- selectors ---------------------------------------------------------------------------


def test_search_words_are_bounded():
    assert search_words("  dark   mode ") == ["dark", "mode"]
    assert search_words("a b c d e f g") == ["a", "b", "c", "d", "e"]
    assert search_words("x" * 150) == ["x" * 100]
    assert search_words("") == []


def test_like_wildcards_are_literal():
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_feature_search_matches_every_word_in_the_workspace_only(workspace, other_workspace):
    product = ProductFactory(workspace=workspace, name="Core")
    first = FeatureFactory(product=product, title="CSV export of reports", priority_rank=2)
    second = FeatureFactory(product=product, title="Export to CSV", priority_rank=1)
    unranked = FeatureFactory(product=product, title="csv EXPORT scheduler")
    FeatureFactory(product=product, title="Dark mode")
    merged = FeatureFactory(product=product, title="CSV export (old)")
    merged.merged_into = first
    merged.save()
    FeatureFactory(product=ProductFactory(workspace=other_workspace), title="CSV export elsewhere")

    found = list(roadmap_selectors.feature_search(workspace=workspace, query="export csv"))

    assert found == [second, first, unranked]
    assert found[0].product.name == "Core"
    assert list(roadmap_selectors.feature_search(workspace=workspace, query="   ")) == []
    assert len(list(roadmap_selectors.feature_search(workspace=workspace, query="csv", limit=2))) == 2


def test_company_search_matches_name_or_domain(workspace, other_workspace):
    acme = CompanyFactory(workspace=workspace, name="Acme Corp", domain="acme.example")
    initech = CompanyFactory(workspace=workspace, name="Initech", domain="initech-acme.example")
    CompanyFactory(workspace=workspace, name="Globex", domain="globex.example")
    CompanyFactory(workspace=other_workspace, name="Acme Elsewhere", domain="acme-else.example")

    assert list(feedback_selectors.company_search(workspace=workspace, query="ACME")) == [acme, initech]
    assert list(feedback_selectors.company_search(workspace=workspace, query="acme corp")) == [acme]
    assert list(feedback_selectors.company_search(workspace=workspace, query="100%")) == []


def test_contact_search_matches_email_or_name_with_the_company(workspace, other_workspace):
    company = CompanyFactory(workspace=workspace, name="Acme")
    ann = ContactFactory(workspace=workspace, company=company, name="Ann Lee", email="ann@acme.example")
    bob = ContactFactory(workspace=workspace, name="Bob", email="bob.lee@example.com")
    ContactFactory(workspace=workspace, name="Cy", email="cy@example.com")
    ContactFactory(workspace=other_workspace, name="Ann Lee", email="ann@other.example")

    found = list(feedback_selectors.contact_search(workspace=workspace, query="lee"))

    assert found == [ann, bob]
    assert found[0].company.name == "Acme"
    assert list(feedback_selectors.contact_search(workspace=workspace, query="ann acme")) == [ann]


def test_feedback_search_is_the_inbox_full_text_search(workspace, other_workspace):
    old = FeedbackItemFactory(workspace=workspace, text="The export to CSV is too slow")
    new = FeedbackItemFactory(workspace=workspace, text="We need a CSV export for finance")
    FeedbackItemFactory(workspace=workspace, text="Dark mode please")
    merged = FeedbackItemFactory(workspace=workspace, text="CSV export again", merged_into=new)
    FeedbackItemFactory(workspace=other_workspace, text="CSV export elsewhere")
    old.received_at = new.received_at.replace(year=new.received_at.year - 1)
    old.save()

    found = list(feedback_selectors.feedback_search(workspace=workspace, query="csv export"))

    assert found == [new, old]
    assert merged not in found
    assert list(feedback_selectors.feedback_search(workspace=workspace, query=" ")) == []


# --- the page ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CONTRIBUTOR, Role.PRODUCT_MANAGER, Role.OWNER])
def test_every_role_searches_and_results_link_to_their_pages(role, workspace, portal_client):
    client, _ = portal_client(workspace, role)
    product = ProductFactory(workspace=workspace, name="Core")
    feature = FeatureFactory(product=product, title="Ledger export", priority_rank=3)
    company = CompanyFactory(workspace=workspace, name="Ledger Ltd", domain="ledger.example")
    contact = ContactFactory(
        workspace=workspace, company=company, name="Lee Ledger", email="lee@ledger.example"
    )
    item = FeedbackItemFactory(workspace=workspace, company=company, text="Ledger export would save us hours")

    response = client.get(url(workspace, "ledger"))

    assert response.status_code == 200
    html = response.content.decode()
    assert [g.kind for g in response.context["groups"]] == ["features", "feedback", "companies", "contacts"]
    assert [g.rows for g in response.context["groups"]] == [[feature], [item], [company], [contact]]
    assert f'href="/w/acme/features/{feature.pk}/"' in html
    assert f'href="/w/acme/feedback/{item.pk}/"' in html
    assert f'href="/w/acme/companies/{company.pk}/"' in html
    assert "lee@ledger.example" in html
    assert "#3 · Idea · Core" in html
    assert "4 results for “ledger”" in html


def test_signed_out_goes_to_sign_in_and_another_workspace_is_404(
    workspace, other_workspace, portal_client, client
):
    response = client.get(url(workspace, "x"))
    assert response.status_code == 302
    assert "/login/" in response["Location"] or "login" in response["Location"]

    member_client, _ = portal_client(other_workspace, Role.OWNER)
    assert member_client.get(url(workspace, "ledger")).status_code == 404


def test_no_result_leaks_from_another_workspace(workspace, other_workspace, portal_client):
    client, _ = portal_client(workspace, Role.VIEWER)
    _rows(other_workspace, 2)

    response = client.get(url(workspace, "ledger"))

    assert [g.rows for g in response.context["groups"]] == [[], [], [], []]
    assert response.content.decode().count('class="empty"') == 4


def test_an_empty_or_too_short_query_searches_nothing(workspace, portal_client, django_assert_num_queries):
    client, _ = portal_client(workspace, Role.VIEWER)
    _rows(workspace, 1)

    with django_assert_num_queries(BASE_QUERIES + 1):  # + the workspace switcher
        response = client.get(url(workspace))
    assert response.status_code == 200
    assert response.context["groups"] == []
    assert "Press <kbd>/</kbd>" in response.content.decode()

    response = client.get(url(workspace, "l"))
    assert response.context["groups"] == []
    assert "Type at least 2 characters." in response.content.decode()


def test_each_kind_is_capped_at_20_and_says_there_are_more(workspace, portal_client):
    client, _ = portal_client(workspace, Role.VIEWER)
    _rows(workspace, 21)

    response = client.get(url(workspace, "ledger"))

    groups = response.context["groups"]
    assert [len(g.rows) for g in groups] == [20, 20, 20, 20]
    assert [g.more for g in groups] == [True, True, True, True]
    assert [g.rows[0].title for g in groups[:1]] == ["Ledger export 0"]
    assert response.content.decode().count("Only the first 20 are shown") == 4


def test_the_query_is_shown_escaped(workspace, portal_client):
    client, _ = portal_client(workspace, Role.VIEWER)
    response = client.get(url(workspace, "<b>x</b>"))
    html = response.content.decode()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_the_top_bar_has_the_search_box_on_every_page(workspace, portal_client):
    client, _ = portal_client(workspace, Role.VIEWER)
    html = client.get(f"/w/{workspace.slug}/").content.decode()
    assert (
        '<form class="topsearch" role="search" method="get" action="/w/acme/search/" data-topsearch>' in html
    )
    assert '<label for="topsearch-q" class="visually-hidden">' in html
    assert 'hx-get="/w/acme/search/"' in html
    assert "portal/search.js" in html
    assert '<details class="navmenu" open data-navmenu>' in html


def test_htmx_asks_for_the_dropdown_of_five_per_kind(workspace, portal_client):
    client, _ = portal_client(workspace, Role.VIEWER)
    _rows(workspace, 6)

    response = client.get(url(workspace, "ledger"), **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert [len(g.rows) for g in response.context["groups"]] == [5, 5, 5, 5]
    assert html.count("More on the results page.") == 4
    assert 'href="/w/acme/search/?q=ledger">All results for “ledger”</a>' in html

    short = client.get(url(workspace, "l"), **HX).content.decode()
    assert "Type at least 2 characters." in short


# --- query budget ---------------------------------------------------------------------------

# PostgreSQL and SQLite alike: the page is the base queries, the switcher and one per kind.
PAGE_QUERIES = BASE_QUERIES + 1 + KINDS
DROPDOWN_QUERIES = BASE_QUERIES + KINDS


@pytest.mark.parametrize("n", [1, 25])
def test_the_page_query_count_does_not_grow_with_rows(n, workspace, portal_client, django_assert_num_queries):
    client, _ = portal_client(workspace, Role.VIEWER)
    _rows(workspace, n)

    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(url(workspace, "ledger export"))
    assert response.status_code == 200
    assert [len(g.rows) for g in response.context["groups"]] == [min(n, 20), min(n, 20), 0, 0]

    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(url(workspace, "ledger"))
    assert [len(g.rows) for g in response.context["groups"]] == [min(n, 20)] * 4

    with django_assert_num_queries(DROPDOWN_QUERIES):
        client.get(url(workspace, "ledger"), **HX)


def test_the_selectors_are_one_query_each(workspace, django_assert_num_queries):
    _rows(workspace, 3)
    for search in (
        roadmap_selectors.feature_search,
        feedback_selectors.feedback_search,
        feedback_selectors.company_search,
        feedback_selectors.contact_search,
    ):
        with django_assert_num_queries(1):
            rows = list(search(workspace=workspace, query="ledger"))
        assert len(rows) == 3


def test_the_selectors_read_only_what_the_results_show(workspace):
    _rows(workspace, 1)
    feature = roadmap_selectors.feature_search(workspace=workspace, query="ledger")[0]
    company = feedback_selectors.company_search(workspace=workspace, query="ledger")[0]
    assert {"description", "release_note", "reach"} <= feature.get_deferred_fields()
    assert {"arr", "plan", "crm_external_id"} <= company.get_deferred_fields()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram condition is PostgreSQL's")
def test_the_postgres_condition_is_the_index_expression(workspace):
    sql = str(roadmap_selectors.feature_search(workspace=workspace, query="dark").query)
    assert '("roadmap_feature"."workspace_id" + 0) = (' in sql
    assert '(("roadmap_feature"."title") ILIKE %dark%)' in sql
    sql = str(feedback_selectors.company_search(workspace=workspace, query="acme").query)
    assert '(("feedback_company"."name" || \' \' || "feedback_company"."domain") ILIKE %acme%)' in sql
