"""Saved views and read-only share links in the portal: roles, 403/404, inline errors, the
shown-once link, and the signed-out shared page (hidden fields, noindex, no-referrer, 404s)."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.views import share as share_views
from productops.models import AuditEvent, Role
from roadmap import services
from roadmap.models import SavedView, ShareLink
from tests.productops.factories import UserFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _view(workspace, owner, **kwargs):
    return services.saved_view_create(
        workspace=workspace,
        actor=owner,
        name=kwargs.pop("name", "Mine"),
        kind=kwargs.pop("kind", "board"),
        **kwargs,
    )


def _link(view, actor, **kwargs):
    kwargs.setdefault("expires_at", timezone.now() + timedelta(days=30))
    return services.share_link_create(view=view, actor=actor, **kwargs)


def _links_url(workspace, view):
    return f"/w/{workspace.slug}/views/{view.pk}/links/"


def _in_days(days):
    return (timezone.localdate() + timedelta(days=days)).isoformat()


# --- saving from a roadmap page -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("roadmap/", "roadmap-board"),
        ("roadmap/kanban/", "roadmap-kanban"),
        ("roadmap/timeline/", "roadmap-timeline"),
        ("roadmap/matrix/", "matrix"),
    ],
)
def test_every_roadmap_page_has_the_views_menu_with_its_filters(portal_client, workspace, path, page):
    client, _ = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)

    body = client.get(f"/w/{workspace.slug}/{path}?product={product.pk}").content.decode()

    assert f'hx-get="/w/{workspace.slug}/views/menu/?page={page}"' in body
    assert f'<a href="/w/{workspace.slug}/views/">All saved views</a>' in body
    assert f'<input type="hidden" name="page" value="{page}">' in body
    assert f'<input type="hidden" name="query" value="product={product.pk}">' in body


def test_a_viewer_saves_a_view_and_lands_on_it(portal_client, workspace):
    client, membership = portal_client(workspace, Role.VIEWER)
    product = ProductFactory(workspace=workspace)

    response = client.post(
        f"/w/{workspace.slug}/views/save/",
        {"name": "Mobile", "page": "roadmap-timeline", "query": f"product={product.pk}&months=6&all=1&x=y"},
    )

    view = SavedView.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/roadmap/timeline/?product={product.pk}&months=6"
    assert (view.name, view.kind, view.shared, view.owner_id) == (
        "Mobile",
        "timeline",
        False,
        membership.user_id,
    )
    assert view.query == {"product": product.pk, "months": 6}
    assert AuditEvent.objects.filter(target_type="roadmap.savedview", action="created").count() == 1
    followed = client.get(response["Location"]).content.decode()
    assert "Saved the view “Mobile” (private to you)." in followed


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "page": "roadmap-board"}, "This field is required."),
        ({"name": "x" * 101, "page": "roadmap-board"}, "Ensure this value has at most 100 characters"),
        (
            {"name": "X", "page": "roadmap-board", "query": "product=999999"},
            "product: not found in this workspace.",
        ),
        ({"name": "X", "page": "roadmap-board", "query": "tag=nope"}, "tag: not found in this workspace."),
        (
            {"name": "X", "page": "roadmap-timeline", "query": "months=99"},
            "months: expected a number of months",
        ),
    ],
)
def test_bad_saves_show_inline_errors_and_write_nothing(portal_client, workspace, data, message):
    client, _ = portal_client(workspace, Role.VIEWER)

    response = client.post(f"/w/{workspace.slug}/views/save/", data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert SavedView.objects.count() == 0


def test_a_duplicate_name_is_an_inline_error(portal_client, workspace):
    client, membership = portal_client(workspace, Role.VIEWER)
    _view(workspace, membership.user, name="Q3")

    response = client.post(f"/w/{workspace.slug}/views/save/", {"name": "q3", "page": "roadmap-board"})

    assert response.status_code == 400
    assert "You already have a view with this name." in response.content.decode()
    assert SavedView.objects.count() == 1


def test_an_unknown_page_is_refused(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    response = client.post(f"/w/{workspace.slug}/views/save/", {"name": "X", "page": "members"})
    assert response.status_code == 400
    assert SavedView.objects.count() == 0


def test_saving_needs_a_member(client, workspace, other_workspace, portal_client):
    stranger, _ = portal_client(other_workspace, Role.OWNER)
    assert (
        stranger.post(f"/w/{workspace.slug}/views/save/", {"name": "X", "page": "roadmap-board"}).status_code
        == 404
    )
    signed_out = Client().post(f"/w/{workspace.slug}/views/save/", {"name": "X", "page": "roadmap-board"})
    assert signed_out.status_code == 302
    assert SavedView.objects.count() == 0


# --- the menu and the management page ---------------------------------------------------


def test_the_menu_lists_own_and_shared_views_of_that_page(portal_client, workspace, member):
    client, membership = portal_client(workspace, Role.VIEWER)
    colleague = member(workspace, Role.CONTRIBUTOR).user
    _view(workspace, membership.user, name="Mine")
    _view(workspace, colleague, name="Theirs shared", shared=True)
    _view(workspace, colleague, name="Theirs private")
    _view(workspace, membership.user, name="My matrix", kind="matrix")

    response = client.get(f"/w/{workspace.slug}/views/menu/?page=roadmap-board", HTTP_HX_REQUEST="true")
    body = response.content.decode()

    assert response.status_code == 200
    assert re.findall(r'<li><a href="[^"]+">([^<]+)</a>', body) == ["Mine", "Theirs shared"]
    no_js = client.get(f"/w/{workspace.slug}/views/menu/?page=roadmap-board")
    assert no_js.status_code == 302
    assert no_js["Location"] == f"/w/{workspace.slug}/views/"
    assert client.get(f"/w/{workspace.slug}/views/menu/?page=x", HTTP_HX_REQUEST="true").status_code == 404


def test_the_management_page_lists_what_each_role_sees(portal_client, workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    _view(workspace, owner, name="Private one")
    _view(workspace, owner, name="Shared one", shared=True)
    viewer, _ = portal_client(workspace, Role.VIEWER)
    pm, _ = portal_client(workspace, Role.PRODUCT_MANAGER)

    seen_by_viewer = viewer.get(f"/w/{workspace.slug}/views/").content.decode()
    seen_by_pm = pm.get(f"/w/{workspace.slug}/views/").content.decode()

    assert "Shared one" in seen_by_viewer
    assert "Private one" not in seen_by_viewer
    assert "Rename or share Shared one" not in seen_by_viewer  # not theirs: no actions
    assert "Private one" in seen_by_pm
    assert "Rename or share Private one" in seen_by_pm


def test_management_list_query_count_does_not_grow_with_views(
    portal_client, workspace, member, django_assert_num_queries
):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    view = _view(
        workspace, membership.user, name="First", query={"product": ProductFactory(workspace=workspace).pk}
    )
    _link(view, membership.user)
    url = f"/w/{workspace.slug}/views/"
    client.get(url)
    with django_assert_num_queries(LIST_QUERIES):
        client.get(url)
    for i in range(8):
        other = member(workspace, Role.CONTRIBUTOR).user
        extra = _view(workspace, other, name=f"View {i}", shared=i % 2 == 0)
        _link(extra, other)
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(url)
    assert response.content.decode().count("<tr>") == 1 + 9


# session, user, membership, the views with their owners and link counts, the switcher
LIST_QUERIES = 5


def test_the_owner_renames_and_unshares(portal_client, workspace):
    client, membership = portal_client(workspace, Role.VIEWER)
    view = _view(workspace, membership.user, name="Old", shared=True)
    url = f"/w/{workspace.slug}/views/{view.pk}/"

    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "New"})

    assert response.status_code == 302
    view.refresh_from_db()
    assert (view.name, view.shared) == ("New", False)
    event = AuditEvent.objects.get(target_type="roadmap.savedview", action="updated")
    assert event.changes == {"name": ["Old", "New"], "shared": [True, False]}


def test_a_bad_rename_is_an_inline_error(portal_client, workspace):
    client, membership = portal_client(workspace, Role.VIEWER)
    _view(workspace, membership.user, name="Taken")
    view = _view(workspace, membership.user, name="Old")

    blank = client.post(f"/w/{workspace.slug}/views/{view.pk}/", {"name": ""})
    taken = client.post(f"/w/{workspace.slug}/views/{view.pk}/", {"name": "taken"})

    assert blank.status_code == taken.status_code == 400
    assert "This field is required." in blank.content.decode()
    assert "You already have a view with this name." in taken.content.decode()
    view.refresh_from_db()
    assert view.name == "Old"


def test_others_cannot_change_a_shared_view_and_do_not_find_a_private_one(portal_client, workspace, member):
    owner = member(workspace, Role.VIEWER).user
    shared = _view(workspace, owner, name="Shared", shared=True)
    private = _view(workspace, owner, name="Private")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)

    assert client.get(f"/w/{workspace.slug}/views/{shared.pk}/").status_code == 403
    assert client.post(f"/w/{workspace.slug}/views/{shared.pk}/", {"name": "Mine"}).status_code == 403
    assert client.post(f"/w/{workspace.slug}/views/{shared.pk}/delete/").status_code == 403
    assert client.post(f"/w/{workspace.slug}/views/{private.pk}/delete/").status_code == 404
    assert client.get(_links_url(workspace, shared)).status_code == 403
    assert sorted(SavedView.objects.values_list("name", flat=True)) == ["Private", "Shared"]
    assert AuditEvent.objects.filter(action__in=["updated", "deleted"]).count() == 0


def test_another_workspaces_view_is_a_404(portal_client, workspace, other_workspace, member):
    foreign = _view(other_workspace, member(other_workspace, Role.OWNER).user, name="Foreign", shared=True)
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.get(f"/w/{workspace.slug}/views/{foreign.pk}/").status_code == 404
    assert client.post(f"/w/{workspace.slug}/views/{foreign.pk}/delete/").status_code == 404
    assert client.get(_links_url(workspace, foreign)).status_code == 404
    assert SavedView.objects.count() == 1


def test_a_product_manager_deletes_anyones_view_with_its_links(portal_client, workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner, name="Theirs")
    _, key = _link(view, owner)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)

    response = client.post(f"/w/{workspace.slug}/views/{view.pk}/delete/")

    assert response.status_code == 302
    assert SavedView.objects.count() == ShareLink.objects.count() == 0
    assert Client().get(f"/shared/{key}/").status_code == 404


# --- share links in the workspace -------------------------------------------------------


def test_making_a_link_shows_it_once(portal_client, workspace):
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    view = _view(workspace, membership.user)

    response = client.post(
        _links_url(workspace, view), {"expires_on": _in_days(7), "show": ["team", "scores"]}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/views/{view.pk}/links/created/"
    page = client.get(response["Location"])
    url = re.search(r'id="share-url" class="token-key" type="text" value="([^"]+)"', page.content.decode())[1]
    assert page["Cache-Control"] == "no-store"
    assert url.startswith("http://localhost:8000/shared/sv_")
    link = ShareLink.objects.get()
    assert link.fields == ["team", "scores"]
    assert link.created_by_id == membership.user_id
    assert timezone.localtime(link.expires_at).date() == timezone.localdate() + timedelta(days=8)
    again = client.get(response["Location"])
    assert again.status_code == 302
    assert again["Location"] == _links_url(workspace, view)
    assert Client().get(url.removeprefix("http://localhost:8000")).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "This field is required."),
        ({"expires_on": "yesterday"}, "Enter a valid date."),
        ({"expires_on": _in_days(-1)}, "Pick today or a later day."),
        ({"expires_on": _in_days(91)}, "A link lasts at most 90 days."),
        ({"expires_on": _in_days(3), "show": ["secrets"]}, "Select a valid choice."),
    ],
)
def test_bad_links_show_inline_errors_and_write_nothing(portal_client, workspace, data, message):
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    view = _view(workspace, membership.user)

    response = client.post(_links_url(workspace, view), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert ShareLink.objects.count() == 0


def test_a_viewer_owning_a_view_cannot_make_a_link(portal_client, workspace):
    client, membership = portal_client(workspace, Role.VIEWER)
    view = _view(workspace, membership.user)

    page = client.get(_links_url(workspace, view))
    response = client.post(_links_url(workspace, view), {"expires_on": _in_days(3)})

    assert page.status_code == 200
    assert "New read-only link" not in page.content.decode()
    assert response.status_code == 403
    assert ShareLink.objects.count() == 0


def test_revoking_stops_the_link_and_is_audited(portal_client, workspace, member):
    owner = member(workspace, Role.CONTRIBUTOR).user
    view = _view(workspace, owner, shared=True)
    link, key = _link(view, owner)
    colleague, _ = portal_client(workspace, Role.CONTRIBUTOR)
    pm, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    revoke = f"/w/{workspace.slug}/share-links/{link.pk}/revoke/"

    assert colleague.post(revoke).status_code == 403
    assert ShareLink.objects.get().revoked_at is None
    response = pm.post(revoke)

    assert response.status_code == 302
    assert response["Location"] == _links_url(workspace, view)
    assert ShareLink.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(target_type="roadmap.sharelink", action="state_changed").count() == 1
    assert Client().get(f"/shared/{key}/").status_code == 404


def test_another_workspaces_link_is_a_404(portal_client, workspace, other_workspace, member):
    boss = member(other_workspace, Role.OWNER).user
    link, _ = _link(_view(other_workspace, boss), boss)
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.post(f"/w/{workspace.slug}/share-links/{link.pk}/revoke/").status_code == 404
    assert ShareLink.objects.get().revoked_at is None


def test_links_page_query_count_does_not_grow_with_links(
    portal_client, workspace, member, django_assert_num_queries
):
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    view = _view(workspace, membership.user)
    _link(view, membership.user)
    url = _links_url(workspace, view)
    client.get(url)
    with django_assert_num_queries(LINKS_QUERIES):
        client.get(url)
    for _ in range(6):
        _link(view, member(workspace, Role.PRODUCT_MANAGER).user)
    with django_assert_num_queries(LINKS_QUERIES):
        response = client.get(url)
    assert response.content.decode().count("<code>sv_") == 7


# session, user, membership, the view, its links with their makers, the switcher
LINKS_QUERIES = 6


# --- the signed-out shared page -----------------------------------------------------------


@pytest.fixture
def internal(workspace):
    """A feature with internal fields that the shared page must not show unless allowed."""
    product = ProductFactory(workspace=workspace, name="Mobile app")
    owner = UserFactory(username="olga-internal", first_name="Olga", last_name="Ownerly")
    return FeatureFactory(
        product=product,
        title="Offline mode",
        description="INTERNAL NOTE do not share",
        horizon="next",
        status="planned",
        team=TeamFactory(workspace=workspace, name="Team Falcon"),
        owner=owner,
        priority_rank=7,
        priority_score=4242.5,
        score_rice=4242.5,
        effort=13,
        requesting_companies=31337,
    )


INTERNAL_TEXTS = ["INTERNAL NOTE", "Olga", "Ownerly", "olga-internal", "4242", "31337", "#7", "/w/"]


@pytest.mark.parametrize("kind", ["board", "kanban", "timeline", "matrix"])
def test_the_shared_page_shows_no_internal_field_by_default(workspace, member, internal, kind):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    internal.planned_start = timezone.localdate()
    internal.save()
    _, key = _link(_view(workspace, owner, kind=kind), owner, fields=[])

    response = Client().get(f"/shared/{key}/")
    body = response.content.decode()

    assert response.status_code == 200
    assert "Offline mode" in body
    for text in [*INTERNAL_TEXTS, "Team Falcon"]:
        assert text not in body, text
    assert 'href="/w/' not in body
    assert "Sign out" not in body


def test_ticked_fields_are_shown(workspace, member, internal):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    _, key = _link(
        _view(workspace, owner), owner, fields=["team", "owner", "description", "scores", "demand"]
    )

    body = Client().get(f"/shared/{key}/").content.decode()

    for text in [
        "Team Falcon",
        "Olga Ownerly",
        "INTERNAL NOTE do not share",
        "#7 · 4242.5",
        "31337 requesting companies",
    ]:
        assert text in body, text


def test_the_shared_page_applies_the_views_filters(workspace, member, internal):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    FeatureFactory(
        product=ProductFactory(workspace=workspace), title="Other product's feature", horizon="now"
    )
    _, key = _link(_view(workspace, owner, query={"product": internal.product_id}), owner)

    body = Client().get(f"/shared/{key}/").content.decode()

    assert "Offline mode" in body
    assert "Other product's feature" not in body


@pytest.mark.parametrize("gone", ["team", "tag"])
def test_a_view_whose_filter_no_longer_exists_shows_nothing(workspace, member, internal, gone):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    FeatureFactory(product=internal.product, title="SECRET other team", horizon="now")
    tag = services.feature_update(feature=internal, actor=owner, data={"tags": ["beta"]}).tags.get()
    query = {"team": internal.team_id} if gone == "team" else {"tag": "beta"}
    _, key = _link(_view(workspace, owner, query=query), owner)
    assert "Offline mode" in Client().get(f"/shared/{key}/").content.decode()

    if gone == "team":
        services.team_delete(team=internal.team, actor=owner)
    else:
        tag.delete()
    response = Client().get(f"/shared/{key}/")

    assert response.status_code == 404
    assert "SECRET other team" not in response.content.decode()
    assert "Offline mode" not in response.content.decode()


def test_the_shared_page_is_noindex_no_referrer_and_not_cached(workspace, member, internal):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    _, key = _link(_view(workspace, owner), owner)

    response = Client().get(f"/shared/{key}/")

    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert '<meta name="referrer" content="no-referrer">' in body
    assert "<script" not in body


def test_unknown_expired_and_revoked_links_answer_the_same_404(workspace, member):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    view = _view(workspace, owner)
    expired, expired_key = _link(view, owner)
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked, revoked_key = _link(view, owner)
    services.share_link_revoke(link=revoked, actor=owner)

    responses = [
        Client().get(f"/shared/{key}/") for key in ("sv_unknown-key-0123456789", expired_key, revoked_key)
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    bodies = {re.sub(r"X-Request-ID|[0-9a-f-]{36}", "", r.content.decode()) for r in responses}
    assert len(bodies) == 1
    for response in responses:
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert response["Referrer-Policy"] == "no-referrer"
        assert "This link does not open anything" in response.content.decode()


def test_the_shared_page_is_rate_limited_per_address(workspace, member, monkeypatch):
    monkeypatch.setattr(share_views, "SHARED_VIEWS_PER_MINUTE", 2)
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    _, key = _link(_view(workspace, owner), owner)

    statuses = [Client().get(f"/shared/{key}/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("kind", ["board", "kanban", "timeline", "matrix"])
def test_shared_page_query_count_does_not_grow_with_features(
    workspace, member, kind, django_assert_num_queries
):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    product = ProductFactory(workspace=workspace)
    team = TeamFactory(workspace=workspace)
    today = timezone.localdate()

    def add():
        FeatureFactory(
            product=product,
            team=team,
            owner=owner,
            horizon="now",
            status="planned",
            planned_start=today,
            target_date=today + timedelta(days=40),
            effort=3,
            score_rice=5.0,
        )

    add()
    _, key = _link(
        _view(workspace, owner, kind=kind, query={"product": product.pk, "team": team.pk}),
        owner,
        fields=["team", "owner", "dates", "scores", "demand", "description"],
    )
    url = f"/shared/{key}/"
    expected = SHARED_QUERIES[kind]
    Client().get(url)  # the matrix's first visit creates the workspace's scoring settings
    with django_assert_num_queries(expected):
        first = Client().get(url)
    for _ in range(10):
        add()
    with django_assert_num_queries(expected):
        response = Client().get(url)
    assert first.status_code == response.status_code == 200
    assert len(set(re.findall(r"Feature \d+", response.content.decode()))) == 11


# link lookup, the two filter choices, the features (matrix: the workspace's scoring settings too)
SHARED_QUERIES = {"board": 4, "kanban": 4, "timeline": 4, "matrix": 5}


def test_a_timeline_link_always_shows_dates_and_a_matrix_without_scores_hides_their_order(
    workspace, member, internal
):
    owner = member(workspace, Role.PRODUCT_MANAGER).user
    timeline, _ = _link(_view(workspace, owner, kind="timeline", name="T"), owner, fields=["team"])
    assert timeline.fields == ["team", "dates"]

    product = internal.product
    FeatureFactory(product=product, title="Zebra", status="planned", effort=1, score_rice=9000.0)
    FeatureFactory(product=product, title="Aardvark", status="planned", effort=1, score_rice=1.0)
    _, key = _link(
        _view(workspace, owner, kind="matrix", name="M", query={"model": "rice"}), owner, fields=[]
    )
    body = Client().get(f"/shared/{key}/").content.decode()

    assert body.index("Aardvark") < body.index("Offline mode") < body.index("Zebra")
    assert "9000" not in body
