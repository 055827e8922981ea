"""The public board's pages: access, voting, comments, submitting, sign-in, throttles,
what never leaks, workspace isolation, and query counts."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from board import services
from board.models import BoardSettings, Comment, MagicLink
from board.tasks import magic_link_send
from feedback.models import Contact, FeedbackItem, Vote
from productops.models import AuditEvent, Role
from releases.models import ChangelogSettings
from tests.board.factories import BoardSettingsFactory, CommentFactory
from tests.feedback.factories import (
    CompanyFactory,
    ContactFactory,
    FeedbackItemFactory,
    FeedbackLinkFactory,
    VoteFactory,
)
from tests.productops.factories import UserFactory
from tests.releases.factories import ReleaseFactory, ScopeItemFactory
from tests.roadmap.factories import FeatureFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _link_from_mail(message) -> str:
    return re.search(r"https?://\S+/verify/\S+/", message.body).group(0).split("localhost:8000", 1)[-1]


# --- access ------------------------------------------------------------------------


def test_disabled_or_missing_board_is_a_404(workspace, public_feature):
    client = Client()
    assert client.get(f"/p/{workspace.slug}/").status_code == 404  # no settings row
    BoardSettingsFactory(workspace=workspace, enabled=False)
    for path in ("", f"features/{public_feature.pk}/", "roadmap/", "sign-in/", "submit/", "mine/"):
        assert client.get(f"/p/{workspace.slug}/{path}").status_code == 404
    assert client.get("/p/no-such-workspace/").status_code == 404


def test_anonymous_viewing_on_shows_the_board(board, public_feature, workspace):
    response = Client().get(f"/p/{workspace.slug}/")
    assert response.status_code == 200
    assert b"Export to PDF" in response.content
    assert b"Sign in" in response.content
    assert Client().get(f"/p/{workspace.slug}/roadmap/").status_code == 200
    assert Client().get(f"/p/{workspace.slug}/features/{public_feature.pk}/").status_code == 200


def test_anonymous_viewing_off_shows_only_sign_in(
    board, public_feature, workspace, verified, customer_client
):
    board.anonymous_viewing = False
    board.save()
    client = Client()
    for path in ("", f"features/{public_feature.pk}/", "roadmap/"):
        response = client.get(f"/p/{workspace.slug}/{path}")
        assert response.status_code == 302
        assert response["Location"].startswith(f"/p/{workspace.slug}/sign-in/?next=")
    assert client.get(f"/p/{workspace.slug}/sign-in/").status_code == 200
    signed_in = customer_client(verified())
    response = signed_in.get(f"/p/{workspace.slug}/")
    assert response.status_code == 200
    assert b"Export to PDF" in response.content


def test_a_session_verified_in_one_workspace_is_not_verified_in_another(
    board, workspace, other_workspace, verified, customer_client
):
    BoardSettingsFactory(workspace=other_workspace)
    client = customer_client(verified())
    assert client.get(f"/p/{workspace.slug}/mine/").status_code == 200
    response = client.get(f"/p/{other_workspace.slug}/mine/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/p/{other_workspace.slug}/sign-in/")
    # A contact id of workspace A put into B's slot is not B's contact either.
    session = client.session
    session["board_contacts"][str(other_workspace.pk)] = session["board_contacts"][str(workspace.pk)]
    session.save()
    assert client.get(f"/p/{other_workspace.slug}/mine/").status_code == 302


def test_another_workspaces_feature_under_this_slug_is_a_404(board, workspace, other_workspace):
    theirs = FeatureFactory(product=ProductFactory(workspace=other_workspace), is_public=True)
    assert Client().get(f"/p/{workspace.slug}/features/{theirs.pk}/").status_code == 404


def test_a_non_public_feature_is_a_404_and_cannot_be_voted_on(
    board, product, workspace, verified, customer_client
):
    private = FeatureFactory(product=product, title="Secret project", is_public=False)
    client = customer_client(verified())
    assert client.get(f"/p/{workspace.slug}/features/{private.pk}/").status_code == 404
    assert client.post(f"/p/{workspace.slug}/features/{private.pk}/vote/").status_code == 404
    assert Vote.objects.count() == 0


# --- votes -------------------------------------------------------------------------


def test_voting_needs_a_verified_contact(board, public_feature, workspace):
    response = Client().post(f"/p/{workspace.slug}/features/{public_feature.pk}/vote/", {"action": "vote"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"/p/{workspace.slug}/sign-in/")
    assert Vote.objects.count() == 0


def test_vote_twice_is_one_vote_and_unvote_removes_it(
    board, public_feature, workspace, verified, customer_client
):
    contact = verified()
    client = customer_client(contact)
    url = f"/p/{workspace.slug}/features/{public_feature.pk}/vote/"
    assert (
        client.post(url, {"action": "vote"})["Location"]
        == f"/p/{workspace.slug}/features/{public_feature.pk}/"
    )
    assert client.post(url, {"action": "vote"}).status_code == 302
    assert list(Vote.objects.values_list("contact_id", "feature_id")) == [(contact.pk, public_feature.pk)]
    page = client.get(f"/p/{workspace.slug}/features/{public_feature.pk}/")
    assert b"\xe2\x9c\x93 Voted" in page.content
    client.post(url, {"action": "unvote"})
    assert Vote.objects.count() == 0


def test_vote_by_htmx_returns_the_button_partial(board, public_feature, workspace, verified, customer_client):
    client = customer_client(verified())
    response = client.post(
        f"/p/{workspace.slug}/features/{public_feature.pk}/vote/", {"action": "vote"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert f'id="vote-{public_feature.pk}"'.encode() in response.content
    assert b"<strong>1</strong>" in response.content
    assert b"<html" not in response.content


# --- comments ----------------------------------------------------------------------


def test_comment_xss_payload_is_rendered_inert(board, public_feature, workspace, verified, customer_client):
    client = customer_client(verified(name="Mallory Evil"))
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = client.post(f"/p/{workspace.slug}/features/{public_feature.pk}/comments/", {"body": payload})
    assert response.status_code == 302
    assert Comment.objects.get().body == payload
    page = client.get(f"/p/{workspace.slug}/features/{public_feature.pk}/").content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Mallory" in page


def test_comment_needs_verification_and_valid_text(
    board, public_feature, workspace, verified, customer_client
):
    url = f"/p/{workspace.slug}/features/{public_feature.pk}/comments/"
    assert Client().post(url, {"body": "hi"}).status_code == 302
    client = customer_client(verified())
    response = client.post(url, {"body": "x" * 5001})
    assert response.status_code == 400
    assert b"at most 5000 characters" in response.content
    assert Comment.objects.count() == 0


def test_hidden_comments_do_not_show(board, public_feature, workspace):
    CommentFactory(feature=public_feature, body="visible one")
    CommentFactory(feature=public_feature, body="rude one", is_hidden=True)
    page = Client().get(f"/p/{workspace.slug}/features/{public_feature.pk}/").content
    assert b"visible one" in page
    assert b"rude one" not in page
    assert b"Comments (1)" in page


# --- submit ------------------------------------------------------------------------


def test_submit_creates_a_board_item_in_the_triage_inbox(board, workspace, verified, customer_client):
    contact = verified()
    client = customer_client(contact)
    assert client.get(f"/p/{workspace.slug}/submit/").status_code == 200
    submission = str(uuid.uuid4())
    data = {"text": "Dark mode for the dashboard", "submission_id": submission, "step": "submit"}
    response = client.post(f"/p/{workspace.slug}/submit/", data)
    assert response["Location"] == f"/p/{workspace.slug}/mine/"
    item = FeedbackItem.objects.get()
    assert (item.workspace_id, item.contact_id, item.source, item.state, item.text) == (
        workspace.pk,
        contact.pk,
        FeedbackItem.Source.PUBLIC_BOARD,
        FeedbackItem.State.NEW,
        "Dark mode for the dashboard",
    )
    client.post(f"/p/{workspace.slug}/submit/", data)  # a double click
    assert FeedbackItem.objects.count() == 1
    assert b"Dark mode for the dashboard" in client.get(f"/p/{workspace.slug}/mine/").content


def test_submit_check_step_shows_similar_public_features_only(
    board, product, workspace, verified, customer_client
):
    FeatureFactory(product=product, title="Export reports to PDF", is_public=True)
    FeatureFactory(product=product, title="Export reports to Excel secretly", is_public=False)
    client = customer_client(verified())
    response = client.post(
        f"/p/{workspace.slug}/submit/",
        {"text": "Please let us export reports to PDF", "submission_id": str(uuid.uuid4()), "step": "check"},
    )
    assert response.status_code == 200
    assert b"Is it one of these?" in response.content
    assert b"Export reports to PDF" in response.content
    assert b"secretly" not in response.content
    assert FeedbackItem.objects.count() == 0


def test_submit_needs_verification(board, workspace):
    response = Client().post(
        f"/p/{workspace.slug}/submit/", {"text": "x", "submission_id": str(uuid.uuid4())}
    )
    assert response.status_code == 302
    assert FeedbackItem.objects.count() == 0


def test_honeypot_filled_stores_nothing(board, public_feature, workspace, verified, customer_client):
    client = customer_client(verified())
    response = client.post(
        f"/p/{workspace.slug}/submit/",
        {"text": "Buy cheap pills", "submission_id": str(uuid.uuid4()), "website": "http://spam.example"},
    )
    assert response.status_code == 302
    client.post(
        f"/p/{workspace.slug}/features/{public_feature.pk}/comments/",
        {"body": "spam", "website": "http://spam.example"},
    )
    response = Client().post(
        f"/p/{workspace.slug}/sign-in/", {"email": "bot@example.com", "website": "x"}, follow=True
    )
    assert response.redirect_chain == [(f"/p/{workspace.slug}/sign-in/sent/", 302)]
    assert b"Check your e-mail" in response.content
    assert (FeedbackItem.objects.count(), Comment.objects.count(), MagicLink.objects.count()) == (0, 0, 0)


# --- sign-in -----------------------------------------------------------------------


def test_magic_link_signs_in_once(board, workspace, django_capture_on_commit_callbacks):
    company = CompanyFactory(workspace=workspace, name="Initech", domain="initech.example")
    client = Client()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"/p/{workspace.slug}/sign-in/",
            {"email": "Ann@Initech.example", "next": f"/p/{workspace.slug}/mine/"},
        )
    assert response["Location"] == f"/p/{workspace.slug}/sign-in/sent/"
    assert b"Check your e-mail" in client.get(response["Location"]).content
    assert len(callbacks) == 1
    link = MagicLink.objects.get()
    assert link.email == "ann@initech.example"
    token = services._token_for(link)
    stored = MagicLink.objects.filter(pk=link.pk).values().get()
    assert all(token not in str(value) for value in stored.values())  # only its hash is kept
    magic_link_send.run(link.pk)  # the task body, as the worker runs it
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ann@initech.example"]
    path = _link_from_mail(mail.outbox[0])
    assert client.get(path).status_code == 200  # a confirm button: link scanners do not use it up
    assert Contact.objects.count() == 0
    response = client.post(path)
    assert response["Location"] == f"/p/{workspace.slug}/mine/"
    contact = Contact.objects.get()
    assert (contact.email, contact.company_id) == ("ann@initech.example", company.pk)
    assert client.get(f"/p/{workspace.slug}/mine/").status_code == 200
    again = Client().post(path)
    assert again.status_code == 400
    assert b"already used" in again.content


def test_expired_or_forged_link_is_refused(board, workspace):
    link = services.magic_link_request(workspace=workspace, email="a@example.com")
    token = services._token_for(link)
    MagicLink.objects.filter(pk=link.pk).update(expires_at=link.created_at)
    response = Client().post(f"/p/{workspace.slug}/verify/{token}/")
    assert response.status_code == 400
    assert b"expired" in response.content
    assert Client().post(f"/p/{workspace.slug}/verify/{'0' * 64}/").status_code == 400
    assert Contact.objects.count() == 0


def test_a_link_of_one_workspace_does_not_sign_in_to_another(board, workspace, other_workspace):
    BoardSettingsFactory(workspace=other_workspace)
    link = services.magic_link_request(workspace=workspace, email="a@example.com")
    response = Client().post(f"/p/{other_workspace.slug}/verify/{services._token_for(link)}/")
    assert response.status_code == 400
    assert Contact.objects.count() == 0


def test_known_and_unknown_emails_get_the_same_response(board, workspace):
    ContactFactory(workspace=workspace, email="known@example.com")
    known = Client().post(f"/p/{workspace.slug}/sign-in/", {"email": "known@example.com"})
    unknown = Client().post(f"/p/{workspace.slug}/sign-in/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == f"/p/{workspace.slug}/sign-in/sent/"
    strip = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"')
    assert strip.sub(b"", known.content) == strip.sub(b"", unknown.content)


def test_sign_out_forgets_only_this_workspace(board, workspace, verified, customer_client):
    client = customer_client(verified())
    assert client.post(f"/p/{workspace.slug}/sign-out/").status_code == 302
    assert client.get(f"/p/{workspace.slug}/mine/").status_code == 302


# --- throttles ---------------------------------------------------------------------


@override_settings(BOARD_THROTTLE_PER_IP=3, BOARD_THROTTLE_PER_EMAIL=100)
def test_sign_in_requests_are_throttled_per_ip(board, workspace):
    client = Client()
    for n in range(3):
        assert client.post(f"/p/{workspace.slug}/sign-in/", {"email": f"p{n}@example.com"}).status_code == 302
    response = client.post(f"/p/{workspace.slug}/sign-in/", {"email": "p9@example.com"})
    assert response.status_code == 429
    assert b"Please wait a while" in response.content
    assert MagicLink.objects.count() == 3
    other_ip = Client(REMOTE_ADDR="10.0.0.2")
    assert other_ip.post(f"/p/{workspace.slug}/sign-in/", {"email": "p9@example.com"}).status_code == 302


@override_settings(BOARD_THROTTLE_PER_EMAIL=2)
def test_sign_in_requests_are_throttled_per_email(board, workspace):
    for n in range(2):
        ip = Client(REMOTE_ADDR=f"10.0.0.{n}")
        assert ip.post(f"/p/{workspace.slug}/sign-in/", {"email": "victim@example.com"}).status_code == 302
    response = Client(REMOTE_ADDR="10.0.0.9").post(
        f"/p/{workspace.slug}/sign-in/", {"email": "victim@example.com"}
    )
    assert response.status_code == 429
    assert MagicLink.objects.count() == 2


@override_settings(BOARD_THROTTLE_PER_CONTACT=2)
def test_writes_are_throttled_per_contact(board, product, workspace, verified, customer_client):
    contact = verified()
    features = [FeatureFactory(product=product, is_public=True) for _ in range(3)]
    for n, feature in enumerate(features[:2]):
        client = customer_client(contact, Client(REMOTE_ADDR=f"10.0.1.{n}"))
        assert client.post(f"/p/{workspace.slug}/features/{feature.pk}/vote/").status_code == 302
    client = customer_client(contact, Client(REMOTE_ADDR="10.0.1.9"))
    assert client.post(f"/p/{workspace.slug}/features/{features[2].pk}/vote/").status_code == 429
    response = client.post(
        f"/p/{workspace.slug}/submit/", {"text": "More", "submission_id": str(uuid.uuid4()), "step": "submit"}
    )
    assert response.status_code == 429
    assert Vote.objects.count() == 2
    assert FeedbackItem.objects.count() == 0


# --- roadmap and what never leaks ----------------------------------------------------


def test_public_roadmap_shows_only_public_features_by_horizon(board, product, workspace):
    FeatureFactory(product=product, title="Now thing", is_public=True, horizon="now")
    FeatureFactory(product=product, title="Later thing", is_public=True, horizon="later")
    FeatureFactory(product=product, title="Hidden thing", is_public=False, horizon="now")
    FeatureFactory(product=product, title="Declined thing", is_public=True, horizon="next", status="declined")
    page = Client().get(f"/p/{workspace.slug}/roadmap/").content.decode()
    assert "Now thing" in page
    assert "Later thing" in page
    assert "Hidden thing" not in page
    assert "Declined thing" not in page
    assert page.index("Now thing") < page.index('id="col-next"') < page.index("Later thing")


def test_shipped_features_leave_the_horizon_columns_for_recently_shipped(board, product, workspace):
    FeatureFactory(product=product, title="Still now", is_public=True, horizon="now", status="in_progress")
    FeatureFactory(product=product, title="Shipped now", is_public=True, horizon="now", status="shipped")
    FeatureFactory(product=product, title="Declined now", is_public=True, horizon="now", status="declined")
    FeatureFactory(product=product, title="Private shipped", is_public=False, horizon="now", status="shipped")
    page = Client().get(f"/p/{workspace.slug}/roadmap/").content.decode()
    now_column = page.split('id="col-now"')[1].split("</section>")[0]
    assert "Still now" in now_column
    assert "Shipped now" not in now_column
    assert '<h2 id="col-now">Now <span class="muted">1</span></h2>' in page
    columns = page.split('<div class="board">')[1].split('<h2 id="shipped-h">')[0]
    assert "Shipped now" not in columns
    assert "Declined now" not in page
    assert "Private shipped" not in page
    shipped = page.split('<h2 id="shipped-h">Recently shipped</h2>')[1].split("</section>")[0]
    assert "Shipped now" in shipped
    assert "Still now" not in shipped


def test_recently_shipped_is_absent_when_nothing_shipped(board, product, workspace):
    FeatureFactory(product=product, title="Still now", is_public=True, horizon="now")
    page = Client().get(f"/p/{workspace.slug}/roadmap/").content.decode()
    assert "Recently shipped" not in page


def test_no_public_page_shows_internal_fields(board, product, workspace, verified, customer_client):
    board.anonymous_viewing = True
    board.save()
    megacorp = CompanyFactory(workspace=workspace, name="Megacorp Internal", arr=987654)
    other = ContactFactory(
        workspace=workspace, email="rival.person@megacorp.example", name="Rita Rival", company=megacorp
    )
    public = FeatureFactory(
        product=product,
        title="Public widget",
        description="INTERNAL NOTE do not share",
        is_public=True,
        horizon="next",
        priority_score=4242.5,
        priority_rank=7,
        score_customer_impact=31337.0,
        effort=99,
    )
    stealth = FeatureFactory(product=product, title="Stealth feature", is_public=False, horizon="now")
    # Shipped: on the roadmap's "Recently shipped", with as little of it as the columns show.
    FeatureFactory(
        product=product,
        title="Shipped widget",
        description="INTERNAL NOTE of a shipped one",
        is_public=True,
        status="shipped",
        horizon="now",
        priority_score=4242.25,
        score_customer_impact=31337.5,
    )
    # The changelog: a shipped release whose owner, draft and scope are internal.
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)
    shipped_at = timezone.now() - timedelta(days=1)
    release = ReleaseFactory(
        product=product,
        name="Spring release",
        owner=UserFactory(username="owen-internal", first_name="Owen", last_name="Ownerly"),
        status="released",
        shipped_at=shipped_at,
        shipped_on=timezone.localdate(shipped_at),
        summary="Faster everything.",
        notes="INTERNAL NOTE: the draft mentions Megacorp",
        published_notes="- **Public widget** is here",
        notes_published_at=shipped_at,
    )
    ScopeItemFactory(release=release, feature=stealth, state="done")
    ScopeItemFactory(release=release, feature=public, state="done")
    other_item = FeedbackItemFactory(
        workspace=workspace, contact=other, company=megacorp, text="Rival's internal feedback text"
    )
    FeedbackLinkFactory(feature=public, item=other_item)
    VoteFactory(feature=public, contact=other)
    CommentFactory(feature=public, contact=other, body="A public comment")
    me = verified(email="me@mine.example", name="Mia Me")
    my_item = FeedbackItemFactory(
        workspace=workspace, contact=me, text="My own request", source="public_board"
    )
    FeedbackLinkFactory(feature=public, item=my_item)
    # What the team wrote about this customer elsewhere names them, but is internal.
    FeedbackItemFactory(
        workspace=workspace, contact=me, source="sales_call", text="Sales notes: churn risk at renewal"
    )
    client = customer_client(me)
    slug = workspace.slug
    pages = [
        client.get(path)
        for path in (
            f"/p/{slug}/",
            f"/p/{slug}/?sort=new",
            f"/p/{slug}/features/{public.pk}/",
            f"/p/{slug}/roadmap/",
            f"/p/{slug}/mine/",
            f"/p/{slug}/submit/",
            f"/p/{slug}/submit/similar/?text=public+widget+please+soon",
            f"/p/{slug}/sign-in/",
            f"/p/{slug}/changelog/",
            f"/p/{slug}/changelog/?product={product.pk}",
            f"/p/{slug}/changelog/releases/{release.public_id}/",
            f"/p/{slug}/changelog/rss/",
            f"/p/{slug}/changelog/atom/",
            f"/p/{slug}/changelog/{product.pk}/rss/",
            f"/p/{slug}/changelog/{product.pk}/atom/",
        )
    ]
    pages.append(
        client.post(f"/p/{slug}/features/{public.pk}/vote/", {"action": "vote"}, HTTP_HX_REQUEST="true")
    )
    assert [p.status_code for p in pages] == [200] * 16
    forbidden = [
        "Owen",
        "Ownerly",
        "owen-internal",
        "Megacorp",
        "987654",
        "987,654",
        "rival.person",
        "megacorp.example",
        "Rival's internal feedback",
        "Stealth feature",
        "INTERNAL NOTE",
        "4242",
        "31337",
        "Rita Rival",
        "churn risk",
    ]
    for page in pages:
        body = page.content.decode()
        for text in forbidden:
            assert text not in body, (page.request["PATH_INFO"], text)
    detail = pages[2].content.decode()
    assert "Public widget" in detail
    assert "A public comment" in detail
    assert "Rita" in detail
    assert "My own request" in pages[4].content.decode()
    for changelog_page in pages[8:15]:
        assert "Spring release" in changelog_page.content.decode()


# --- query counts ------------------------------------------------------------------


def _count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_board_list_query_count_does_not_grow(board, product, workspace, verified, customer_client):
    client = customer_client(verified())
    FeatureFactory(product=product, is_public=True)
    few = _count(client, f"/p/{workspace.slug}/")
    for _n in range(12):
        feature = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True)
        VoteFactory(feature=feature)
        CommentFactory(feature=feature)
    many = _count(client, f"/p/{workspace.slug}/")
    assert few == many
    assert client.get(f"/p/{workspace.slug}/").content.count(b'class="card idea"') == 13


def test_feature_detail_query_count_does_not_grow(
    board, public_feature, workspace, verified, customer_client
):
    client = customer_client(verified())
    CommentFactory(feature=public_feature)
    few = _count(client, f"/p/{workspace.slug}/features/{public_feature.pk}/")
    for _ in range(12):
        CommentFactory(feature=public_feature, contact=ContactFactory(workspace=workspace, name="Zed Z"))
    many = _count(client, f"/p/{workspace.slug}/features/{public_feature.pk}/")
    assert few == many
    assert b"Comments (13)" in client.get(f"/p/{workspace.slug}/features/{public_feature.pk}/").content


def test_roadmap_and_mine_query_counts_do_not_grow(board, product, workspace, verified, customer_client):
    contact = verified()
    client = customer_client(contact)
    feature = FeatureFactory(product=product, is_public=True, horizon="now")
    FeedbackLinkFactory(feature=feature, item=FeedbackItemFactory(workspace=workspace, contact=contact))
    few = (_count(client, f"/p/{workspace.slug}/roadmap/"), _count(client, f"/p/{workspace.slug}/mine/"))
    for _n in range(12):
        feature = FeatureFactory(product=ProductFactory(workspace=workspace), is_public=True, horizon="next")
        VoteFactory(feature=feature, contact=contact)
        FeedbackLinkFactory(feature=feature, item=FeedbackItemFactory(workspace=workspace, contact=contact))
    many = (_count(client, f"/p/{workspace.slug}/roadmap/"), _count(client, f"/p/{workspace.slug}/mine/"))
    assert few == many


# --- the team's settings page --------------------------------------------------------


def test_settings_page_enables_the_board_for_admins(portal_client, workspace):
    client, _membership = portal_client(workspace, Role.ADMIN)
    page = client.get(f"/w/{workspace.slug}/settings/public-board/")
    assert page.status_code == 200
    assert b"Publish the public board and roadmap" in page.content
    response = client.post(
        f"/w/{workspace.slug}/settings/public-board/",
        {"enabled": "on", "anonymous_viewing": "on", "title": "Acme ideas", "intro": "Hello"},
    )
    assert response["Location"] == f"/w/{workspace.slug}/settings/public-board/"
    row = BoardSettings.objects.get(workspace=workspace)
    assert (row.enabled, row.anonymous_viewing, row.title, row.intro) == (True, True, "Acme ideas", "Hello")
    assert AuditEvent.objects.filter(workspace=workspace, target_type="board.boardsettings").count() == 1
    assert b"Acme ideas" in Client().get(f"/p/{workspace.slug}/").content


def test_settings_page_refuses_product_managers(portal_client, workspace):
    client, _ = portal_client(workspace, Role.PRODUCT_MANAGER)
    assert client.get(f"/w/{workspace.slug}/settings/public-board/").status_code == 403
    response = client.post(f"/w/{workspace.slug}/settings/public-board/", {"enabled": "on"})
    assert response.status_code == 403
    assert BoardSettings.objects.count() == 0


def test_settings_page_of_another_workspace_is_a_404(portal_client, workspace, other_workspace):
    client, _ = portal_client(workspace, Role.OWNER)
    assert client.get(f"/w/{other_workspace.slug}/settings/public-board/").status_code == 404


def test_admins_hide_comments_and_query_count_does_not_grow(
    portal_client, board, public_feature, workspace, other_workspace
):
    client, _ = portal_client(workspace, Role.ADMIN)
    comment = CommentFactory(feature=public_feature, body="Rude words")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/w/{workspace.slug}/settings/public-board/").status_code == 200
    for _ in range(12):
        CommentFactory(feature=FeatureFactory(product=public_feature.product, is_public=True))
    with CaptureQueriesContext(connection) as many:
        page = client.get(f"/w/{workspace.slug}/settings/public-board/")
    assert len(few) == len(many)
    assert b"Rude words" in page.content
    response = client.post(
        f"/w/{workspace.slug}/settings/public-board/comments/{comment.pk}/", {"action": "hide"}
    )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.is_hidden is True
    theirs = CommentFactory(feature=FeatureFactory(product=ProductFactory(workspace=other_workspace)))
    assert client.post(f"/w/{workspace.slug}/settings/public-board/comments/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.is_hidden is False


def test_unverified_htmx_vote_sends_the_browser_to_sign_in(board, public_feature, workspace):
    response = Client().post(
        f"/p/{workspace.slug}/features/{public_feature.pk}/vote/", {"action": "vote"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/p/{workspace.slug}/sign-in/?next=%2Fp%2F{workspace.slug}%2F"
    assert Vote.objects.count() == 0


def test_odd_filter_values_are_ignored_not_errors(board, workspace):
    for query in ("?product=²", "?product=99999999999999999999999", "?status=nope", "?sort=x"):
        assert Client().get(f"/p/{workspace.slug}/{query}").status_code == 200


def test_similar_idea_lookups_have_their_own_budget(board, workspace, verified, customer_client, settings):
    settings.BOARD_THROTTLE_LOOKUPS_PER_CONTACT = 2
    client = customer_client(verified())
    url = f"/p/{workspace.slug}/submit/similar/?text=dark+mode+for+the+dashboards"
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
