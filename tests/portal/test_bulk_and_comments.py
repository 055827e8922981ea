"""The roadmap's bulk bar (board and kanban) and the feature page's internal comments, with
the dashboard's mentions panel."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from productops.models import AuditEvent, Role
from roadmap import services as roadmap_services
from roadmap.models import Feature, FeatureComment, FeatureDependency, FeatureMention, FeatureStatusChange
from tests.roadmap.factories import FeatureFactory, ProductFactory, TeamFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def feature(workspace, **fields):
    product = fields.pop("product", None) or ProductFactory(workspace=workspace)
    return FeatureFactory(product=product, **fields)


def rows(*features):
    return [
        (f.horizon, f.status, f.team_id)
        for f in Feature.objects.filter(pk__in=[f.pk for f in features]).order_by("pk")
    ]


def bulk_url(workspace):
    return f"/w/{workspace.slug}/features/bulk/"


# --- the bulk bar ------------------------------------------------------------------------------


def test_contributors_get_a_select_toggle_and_viewers_none(portal_client, workspace):
    f = feature(workspace, horizon="now")
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    page = client.get(f"/w/{workspace.slug}/roadmap/").content.decode()
    assert '<a class="button secondary" href="?select=1">Select cards</a>' in page
    assert 'name="features"' not in page

    page = client.get(f"/w/{workspace.slug}/roadmap/?select=1").content.decode()
    assert f'<input type="checkbox" id="pick-{f.pk}" name="features" value="{f.pk}" form="bulk-form"' in page
    assert '<form id="bulk-form"' in page
    assert 'name="status"' not in page.split('<form id="bulk-form"')[1].split("</form>")[0]  # not a manager

    viewer, _ = portal_client(workspace, Role.VIEWER)
    page = viewer.get(f"/w/{workspace.slug}/roadmap/?select=1").content.decode()
    assert "Select cards" not in page
    assert 'name="features"' not in page


def test_managers_can_set_a_status_on_the_kanban(portal_client, workspace):
    feature(workspace)
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    page = client.get(f"/w/{workspace.slug}/roadmap/kanban/?select=1").content.decode()
    bar = page.split('<form id="bulk-form"')[1].split("</form>")[0]
    assert 'name="status"' in bar
    assert 'name="reason"' in bar


def test_bulk_move_three_cards(portal_client, workspace):
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    team = TeamFactory(workspace=workspace, name="Platform")
    cards = [feature(workspace, horizon="later") for _ in range(3)]
    untouched = feature(workspace, horizon="later")
    next_url = f"/w/{workspace.slug}/roadmap/?select=1"

    response = client.post(
        bulk_url(workspace),
        {"features": [c.pk for c in cards], "horizon": "now", "team": str(team.pk), "next": next_url},
    )

    assert response.status_code == 302
    assert response["Location"] == next_url
    assert rows(*cards) == [("now", "idea", team.pk)] * 3
    assert rows(untouched) == [("later", "idea", None)]
    events = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATED, actor=membership.user).order_by("id")
    assert [(e.target_id, e.changes) for e in events] == [
        (str(c.pk), {"horizon": ["later", "now"], "team": [None, team.pk]}) for c in cards
    ]
    page = client.get(next_url).content.decode()
    assert "Changed 3 cards: horizon now, team Platform." in page


def test_unscheduled_no_team_product_and_a_new_tag(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    team = TeamFactory(workspace=workspace)
    product = ProductFactory(workspace=workspace, name="Mobile")
    cards = [feature(workspace, horizon="now", team=team) for _ in range(2)]
    response = client.post(
        bulk_url(workspace),
        {
            "features": [c.pk for c in cards],
            "horizon": "unscheduled",
            "team": "none",
            "product": str(product.pk),
            "add_tag": "Beta",
        },
    )
    assert response.status_code == 302
    assert rows(*cards) == [("", "idea", None)] * 2
    for c in cards:
        c.refresh_from_db()
        assert c.product_id == product.pk
        assert list(c.tags.values_list("name", flat=True)) == ["Beta"]


def test_a_refusal_writes_nothing_and_shows_each_refused_cards_error(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    ok = feature(workspace, status="planned", title="Fine")
    skips = feature(workspace, status="idea", title="Skips")
    blocked = feature(workspace, status="planned", title="Blocked")
    FeatureDependency.objects.create(
        workspace=workspace,
        feature=blocked,
        depends_on=feature(workspace, status="idea", title="Prerequisite"),
    )
    # in_progress → shipped is free, planned → in_progress is free: only "Skips" needs a reason.
    before = (AuditEvent.objects.count(), FeatureStatusChange.objects.count())
    next_url = f"/w/{workspace.slug}/roadmap/kanban/?select=1"

    response = client.post(
        bulk_url(workspace),
        {"features": [ok.pk, skips.pk], "status": "in_progress", "next": next_url},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was changed: 1 of 2 features was refused. Each refused card says why." in page
    error = "Not changed: Moving from Idea to In progress skips the workflow; give a reason."
    assert f'<p class="error" role="alert" id="bulk-error-{skips.pk}">{error}</p>' in page
    assert f'id="bulk-error-{ok.pk}"' not in page
    assert f'value="{ok.pk}" form="bulk-form" data-bulk-pick checked' in page  # still ticked
    assert 'data-column-key="idea"' in page  # the kanban, rendered again
    assert rows(ok, skips) == [("", "planned", None), ("", "idea", None)]
    assert (AuditEvent.objects.count(), FeatureStatusChange.objects.count()) == before

    response = client.post(
        bulk_url(workspace), {"features": [blocked.pk], "status": "in_progress", "next": next_url}, **HX
    )
    assert response.status_code == 302  # planned → in progress needs nothing
    response = client.post(
        bulk_url(workspace), {"features": [blocked.pk], "status": "shipped", "next": next_url}, **HX
    )
    assert response.status_code == 200  # htmx swaps the page's main part
    assert "Not changed: Depends on unshipped: Prerequisite." in response.content.decode()
    assert rows(blocked) == [("", "in_progress", None)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"horizon": "now"}, "Select at least one card."),
        ({"features": ["x"], "horizon": "now"}, "Pick cards from the board."),
        ({"features": ["{pk}"]}, "Choose what to change."),
        (
            {"features": ["{pk}"], "horizon": "someday"},
            "Select a valid choice. someday is not one of the available choices.",
        ),
        (
            {"features": ["{pk}"], "team": "999999"},
            "Select a valid choice. 999999 is not one of the available choices.",
        ),
        ({"features": ["{pk}"], "add_tag": "a, b"}, "Add one tag at a time."),
        ({"features": ["{other}"], "horizon": "now"}, "Not found in this workspace: #{other}."),
    ],
)
def test_bad_input_is_shown_inline_and_nothing_is_written(
    portal_client, workspace, other_workspace, data, message
):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    mine = feature(workspace, horizon="later")
    other = feature(other_workspace)
    data = {
        k: [v.format(pk=mine.pk, other=other.pk) for v in vs] if isinstance(vs, list) else vs
        for k, vs in data.items()
    }
    before = AuditEvent.objects.count()

    response = client.post(bulk_url(workspace), data)

    assert response.status_code == 400
    assert message.format(other=other.pk) in response.content.decode()
    assert rows(mine) == [("later", "idea", None)]
    assert AuditEvent.objects.count() == before


def test_more_than_100_cards_is_a_400(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    product = ProductFactory(workspace=workspace)
    Feature.objects.bulk_create(
        [Feature(workspace=workspace, product=product, title=f"F{i}") for i in range(101)]
    )
    ids = list(Feature.objects.values_list("pk", flat=True))
    response = client.post(bulk_url(workspace), {"features": ids, "horizon": "now"})
    assert response.status_code == 400
    assert "At most 100 cards at once (101 selected)." in response.content.decode()
    assert not Feature.objects.filter(horizon="now").exists()


def test_viewers_and_contributors_setting_a_status_get_403(portal_client, workspace):
    f = feature(workspace, horizon="later")
    viewer, _ = portal_client(workspace, Role.VIEWER)
    assert viewer.post(bulk_url(workspace), {"features": [f.pk], "horizon": "now"}).status_code == 403
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = contributor.post(bulk_url(workspace), {"features": [f.pk], "status": "under_consideration"})
    assert response.status_code == 403
    assert rows(f) == [("later", "idea", None)]


def test_another_workspace_is_404(portal_client, workspace, other_workspace):
    f = feature(other_workspace, horizon="later")
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.post(bulk_url(other_workspace), {"features": [f.pk], "horizon": "now"}).status_code == 404
    assert client.get(bulk_url(workspace)).status_code == 405
    assert rows(f) == [("later", "idea", None)]


def test_an_outside_next_falls_back_to_the_board(portal_client, workspace):
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    f = feature(workspace)
    response = client.post(
        bulk_url(workspace), {"features": [f.pk], "horizon": "now", "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/w/{workspace.slug}/roadmap/?select=1"


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", ["roadmap/", "roadmap/kanban/"])
def test_select_mode_costs_a_fixed_number_of_queries(portal_client, workspace, page):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    feature(workspace, horizon="now", team=TeamFactory(workspace=workspace))
    plain, select = f"/w/{workspace.slug}/{page}", f"/w/{workspace.slug}/{page}?select=1"
    client.get(plain)
    few_plain, few_select = _queries(client, plain), _queries(client, select)
    for i in range(10):
        feature(workspace, horizon=["now", "next", "later", ""][i % 4], team=TeamFactory(workspace=workspace))
    assert _queries(client, select) == few_select
    assert few_select == few_plain + 2  # the bar's teams and products


# --- comments --------------------------------------------------------------------------------


def comments_url(workspace, f):
    return f"/w/{workspace.slug}/features/{f.pk}/comments/"


def test_the_feature_page_shows_comments_and_the_form_to_contributors(portal_client, workspace, member):
    f = feature(workspace)
    author = member(workspace, Role.CONTRIBUTOR, username="ann", first_name="Ann", last_name="Lee").user
    roadmap_services.feature_comment_create(feature=f, actor=author, body="First <b>line</b>\nsecond")
    viewer, _ = portal_client(workspace, Role.VIEWER)
    page = viewer.get(f"/w/{workspace.slug}/features/{f.pk}/").content.decode()
    assert '<h2 id="comments-h">Comments <span class="count">1</span></h2>' in page
    assert "First &lt;b&gt;line&lt;/b&gt;<br>second" in page
    assert "Ann Lee" in page
    assert "Post comment" not in page
    assert "Edit<span" not in page

    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    page = contributor.get(f"/w/{workspace.slug}/features/{f.pk}/").content.decode()
    assert "Post comment" in page
    assert "Edit<span" not in page  # not theirs
    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert "Edit<span" in manager.get(f"/w/{workspace.slug}/features/{f.pk}/").content.decode()


def test_posting_a_comment_with_a_mention(portal_client, workspace, member):
    f = feature(workspace)
    pat = member(workspace, Role.VIEWER, username="pat").user
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)

    response = client.post(comments_url(workspace, f), {"body": "@pat have a look"})

    comment = FeatureComment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/features/{f.pk}/#comment-{comment.pk}"
    assert (comment.feature_id, comment.author_id, comment.body) == (
        f.pk,
        membership.user.pk,
        "@pat have a look",
    )
    assert list(FeatureMention.objects.values_list("user_id", flat=True)) == [pat.pk]
    assert AuditEvent.objects.filter(target_type="roadmap.featurecomment", action="created").count() == 1


def test_htmx_posting_answers_the_section(portal_client, workspace):
    f = feature(workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(comments_url(workspace, f), {"body": "Quick note"}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        body.lstrip().startswith("<section")
        or '<section class="panel section-gap comments" id="comments"' in body
    )
    assert "Quick note" in body
    response = client.post(comments_url(workspace, f), {"body": ""}, **HX)
    assert response.status_code == 200
    assert "Write something." in response.content.decode()
    assert FeatureComment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write something."),
        ("   ", "Write something."),
        ("x" * 5001, "Ensure this value has at most 5000 characters (it has 5001)."),
    ],
)
def test_a_bad_comment_is_shown_inline_and_nothing_is_written(portal_client, workspace, body, message):
    f = feature(workspace)
    client, _ = portal_client(workspace, Role.CONTRIBUTOR)
    response = client.post(comments_url(workspace, f), {"body": body})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not FeatureComment.objects.exists()


def test_viewers_cannot_comment_and_other_workspaces_are_404(portal_client, workspace, other_workspace):
    f = feature(workspace)
    viewer, _ = portal_client(workspace, Role.VIEWER)
    assert viewer.post(comments_url(workspace, f), {"body": "hi"}).status_code == 403
    theirs = feature(other_workspace)
    contributor, _ = portal_client(workspace, Role.CONTRIBUTOR)
    assert contributor.post(comments_url(workspace, theirs), {"body": "hi"}).status_code == 404
    assert (
        contributor.post(f"/w/{workspace.slug}/features/{theirs.pk}/comments/", {"body": "hi"}).status_code
        == 404
    )
    assert not FeatureComment.objects.exists()


def test_editing_and_deleting_a_comment(portal_client, workspace, member):
    f = feature(workspace)
    client, membership = portal_client(workspace, Role.CONTRIBUTOR)
    comment = roadmap_services.feature_comment_create(feature=f, actor=membership.user, body="Draft")
    edit = f"{comments_url(workspace, f)}{comment.pk}/edit/"
    delete = f"{comments_url(workspace, f)}{comment.pk}/delete/"

    page = client.get(edit)
    assert page.status_code == 200
    assert "Draft</textarea>" in page.content.decode()
    assert client.get(edit, **HX).content.decode().lstrip().startswith("<form")
    assert client.post(edit, {"body": ""}).status_code == 400
    response = client.post(edit, {"body": "Final"})
    assert response.status_code == 302
    comment.refresh_from_db()
    assert (comment.body, comment.edited_at is not None) == ("Final", True)
    assert "(edited)" in client.get(f"/w/{workspace.slug}/features/{f.pk}/").content.decode()

    response = client.post(delete)
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace.slug}/features/{f.pk}/#comments"
    assert not FeatureComment.objects.exists()
    assert AuditEvent.objects.filter(target_type="roadmap.featurecomment", action="deleted").count() == 1


def test_only_the_author_or_a_manager_may_edit_or_delete(portal_client, workspace, member):
    f = feature(workspace)
    author = member(workspace, Role.CONTRIBUTOR).user
    comment = roadmap_services.feature_comment_create(feature=f, actor=author, body="Mine")
    edit = f"{comments_url(workspace, f)}{comment.pk}/edit/"
    delete = f"{comments_url(workspace, f)}{comment.pk}/delete/"
    for role in (Role.VIEWER, Role.CONTRIBUTOR):
        client, _ = portal_client(workspace, role)
        assert client.get(edit).status_code == 403
        assert client.post(edit, {"body": "Theirs"}).status_code == 403
        assert client.post(delete).status_code == 403
    assert FeatureComment.objects.get().body == "Mine"
    manager, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert manager.post(edit, {"body": "Moderated"}, **HX).status_code == 200
    assert FeatureComment.objects.get().body == "Moderated"
    assert manager.post(delete, **HX).status_code == 200
    assert not FeatureComment.objects.exists()


def test_a_comment_of_another_feature_is_404(portal_client, workspace):
    f, g = feature(workspace), feature(workspace)
    client, membership = portal_client(workspace, Role.OWNER)
    comment = roadmap_services.feature_comment_create(feature=f, actor=membership.user, body="On f")
    assert client.get(f"{comments_url(workspace, g)}{comment.pk}/edit/").status_code == 404
    assert client.post(f"{comments_url(workspace, g)}{comment.pk}/delete/").status_code == 404
    assert FeatureComment.objects.count() == 1


def test_the_feature_page_query_count_does_not_grow_with_comments(portal_client, workspace, member):
    f = feature(workspace)
    client, membership = portal_client(workspace, Role.PRODUCT_MANAGER)
    url = f"/w/{workspace.slug}/features/{f.pk}/"
    roadmap_services.feature_comment_create(feature=f, actor=membership.user, body="one")
    client.get(url)
    few = _queries(client, url)
    for i in range(6):
        author = member(workspace, Role.CONTRIBUTOR).user
        roadmap_services.feature_comment_create(
            feature=f, actor=author, body=f"@{membership.user.username} {i}"
        )
    assert _queries(client, url) == few


# --- the dashboard's mentions --------------------------------------------------------------------


def test_the_dashboard_lists_mentions_and_marks_them_read(portal_client, workspace, member):
    f = feature(workspace, title="Single sign-on")
    client, membership = portal_client(workspace, Role.VIEWER)
    author = member(workspace, Role.CONTRIBUTOR, username="ann", first_name="Ann", last_name="Lee").user
    comment = roadmap_services.feature_comment_create(
        feature=f, actor=author, body=f"@{membership.user.username} can you confirm?"
    )
    page = client.get(f"/w/{workspace.slug}/").content.decode()
    assert '<h2 id="mentions-h">Mentions <span class="count">1 new</span></h2>' in page
    assert f'href="/w/{workspace.slug}/features/{f.pk}/#comment-{comment.pk}">Single sign-on</a>' in page
    assert "can you confirm?" in page

    response = client.post(
        f"/w/{workspace.slug}/mentions/seen/", {"mention": [FeatureMention.objects.get().pk]}
    )
    assert response.status_code == 302
    assert FeatureMention.objects.get().seen_at is not None
    page = client.get(f"/w/{workspace.slug}/").content.decode()
    assert '<h2 id="mentions-h">Mentions</h2>' in page
    assert "Mark these as read" not in page


def test_a_member_without_mentions_sees_an_empty_panel(portal_client, workspace):
    client, _ = portal_client(workspace, Role.VIEWER)
    assert "Nobody has mentioned you yet." in client.get(f"/w/{workspace.slug}/").content.decode()


def test_marking_read_touches_only_ones_own_mentions(portal_client, workspace, member):
    f = feature(workspace)
    other = member(workspace, Role.VIEWER, username="olga").user
    roadmap_services.feature_comment_create(
        feature=f, actor=member(workspace, Role.CONTRIBUTOR).user, body="@olga"
    )
    client, _ = portal_client(workspace, Role.VIEWER)
    client.post(f"/w/{workspace.slug}/mentions/seen/", {"mention": [FeatureMention.objects.get().pk]})
    assert FeatureMention.objects.get(user=other).seen_at is None


def test_the_dashboard_query_count_does_not_grow_with_mentions(portal_client, workspace, member):
    client, membership = portal_client(workspace, Role.VIEWER)
    url = f"/w/{workspace.slug}/"
    f = feature(workspace)
    roadmap_services.feature_comment_create(
        feature=f, actor=member(workspace, Role.CONTRIBUTOR).user, body=f"@{membership.user.username}"
    )
    client.get(url)
    few = _queries(client, url)
    for _ in range(8):
        roadmap_services.feature_comment_create(
            feature=feature(workspace),
            actor=member(workspace, Role.CONTRIBUTOR).user,
            body=f"@{membership.user.username}",
        )
    assert _queries(client, url) == few
