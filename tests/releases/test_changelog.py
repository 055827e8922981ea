"""The public changelog (board/views/changelog.py): its own opt-in, readable without signing
in, only shipped public releases with published notes, paginated and filterable by product,
RSS and Atom feeds with stable GUIDs, autodiscovery, workspace isolation, query counts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser

import feedparser
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from releases import selectors, services
from releases.models import ChangelogSettings, ReleaseStatus
from tests.board.factories import BoardSettingsFactory
from tests.releases.factories import ReleaseFactory
from tests.roadmap.factories import ProductFactory

pytestmark = pytest.mark.django_db


# --- helpers -----------------------------------------------------------------------------------


def enable(workspace, **fields) -> ChangelogSettings:
    row, _ = ChangelogSettings.objects.update_or_create(
        workspace=workspace, defaults={"enabled": True, **fields}
    )
    return row


_shipped_seq = iter(range(1, 100_000))


def shipped(product, *, days_ago: int | None = None, notes: str = "", draft: str = "", **fields):
    """A shipped release with published notes (made directly; the shipping service is used
    where its behaviour matters)."""
    n = next(_shipped_seq)
    when = timezone.now() - timedelta(days=n if days_ago is None else days_ago)
    values = {
        "status": ReleaseStatus.RELEASED,
        "shipped_at": when,
        "shipped_on": timezone.localdate(when),
        "published_notes": notes or f"## New\n\n- **Thing {n}** shipped",
        "notes_published_at": when,
        "summary": f"Summary {n}",
        "notes": draft,
        **fields,
    }
    return ReleaseFactory(product=product, **values)


def paths(slug: str, product_id: int | None = None) -> list[str]:
    base = f"/p/{slug}/changelog/"
    found = [base, f"{base}rss/", f"{base}atom/"]
    if product_id is not None:
        found += [f"{base}{product_id}/rss/", f"{base}{product_id}/atom/", f"{base}?product={product_id}"]
    return found


def _count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200, path
    return len(queries)


class _Head(HTMLParser):
    """The <link> tags of the <head>, and every tag's attributes (for the CSP checks)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_head = False
        self.links: list[dict[str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "head":
            self.in_head = True
        elif tag == "link" and self.in_head:
            self.links.append(attrs)

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False


def _parsed(body: str) -> _Head:
    parser = _Head()
    parser.feed(body)
    return parser


@pytest.fixture
def product(workspace):
    return ProductFactory(workspace=workspace, name="Insights")


# --- access ----------------------------------------------------------------------------------


def test_not_opted_in_is_a_404_for_the_page_and_every_feed(workspace, product):
    release = shipped(product)
    client = Client()
    every = [
        *paths(workspace.slug, product.pk),
        f"/p/{workspace.slug}/changelog/releases/{release.public_id}/",
    ]
    assert [client.get(p).status_code for p in every] == [404] * len(every)  # no settings row
    ChangelogSettings.objects.create(workspace=workspace, enabled=False)
    BoardSettingsFactory(workspace=workspace)  # the board being on does not open the changelog
    assert [client.get(p).status_code for p in every] == [404] * len(every)
    assert client.get("/p/no-such-workspace/changelog/rss/").status_code == 404
    enable(workspace)
    assert [client.get(p).status_code for p in every] == [200] * len(every)


def test_readable_without_signing_in_whatever_the_board_says(workspace, product):
    shipped(product, name="Spring")
    enable(workspace)
    client = Client()
    # The board off (no settings row): the changelog still answers, without the board's links.
    page = client.get(f"/p/{workspace.slug}/changelog/")
    assert page.status_code == 200
    assert b"Spring" in page.content
    assert f'href="/p/{workspace.slug}/sign-in/"'.encode() not in page.content
    assert f'href="/p/{workspace.slug}/roadmap/"'.encode() not in page.content
    # The board on with anonymous viewing off: the board asks to sign in, the changelog does not.
    BoardSettingsFactory(workspace=workspace, anonymous_viewing=False)
    assert client.get(f"/p/{workspace.slug}/").status_code == 302
    for path in paths(workspace.slug, product.pk):
        assert client.get(path).status_code == 200, path
    page = client.get(f"/p/{workspace.slug}/changelog/").content.decode()
    assert f'href="/p/{workspace.slug}/roadmap/"' in page  # the board's navigation, when it is on


def test_the_board_links_to_the_changelog_only_when_it_is_on(workspace, product):
    BoardSettingsFactory(workspace=workspace)
    link = f'href="/p/{workspace.slug}/changelog/"'.encode()
    assert link not in Client().get(f"/p/{workspace.slug}/").content
    enable(workspace)
    assert link in Client().get(f"/p/{workspace.slug}/").content


# --- what shows --------------------------------------------------------------------------------


def test_only_shipped_public_releases_with_published_notes_show(workspace, product, other_workspace):
    enable(workspace)
    enable(other_workspace)
    shown = shipped(product, name="Shown release", notes="Published **notes**", draft="Draft text")
    ReleaseFactory(product=product, name="Planned release")
    ReleaseFactory(product=product, name="Cancelled release", status=ReleaseStatus.CANCELLED)
    shipped(product, name="Private release", is_public=False)
    shipped(product, name="Unpublished release", published_notes="", notes_published_at=None)
    theirs = shipped(ProductFactory(workspace=other_workspace, name="Rival"), name="Their release")

    client = Client()
    page = client.get(f"/p/{workspace.slug}/changelog/").content.decode()
    rss = client.get(f"/p/{workspace.slug}/changelog/rss/").content.decode()
    atom = client.get(f"/p/{workspace.slug}/changelog/atom/").content.decode()
    for body in (page, rss, atom):
        assert "Shown release" in body
        for absent in (
            "Planned release",
            "Cancelled",
            "Private release",
            "Unpublished",
            "Their release",
            "Rival",
        ):
            assert absent not in body, absent
        assert "Draft text" not in body
    assert "<strong>notes</strong>" in page
    assert f'id="release-{shown.public_id}"' in page
    # Another workspace's release is not reachable under this workspace's slug.
    assert client.get(f"/p/{workspace.slug}/changelog/releases/{theirs.public_id}/").status_code == 404
    assert client.get(f"/p/{workspace.slug}/changelog/releases/{shown.public_id}/").status_code == 200
    assert client.get(f"/p/{other_workspace.slug}/changelog/releases/{shown.public_id}/").status_code == 404
    assert "Their release" in client.get(f"/p/{other_workspace.slug}/changelog/").content.decode()
    assert "Shown release" not in client.get(f"/p/{other_workspace.slug}/changelog/atom/").content.decode()


def test_each_release_shows_name_version_product_date_summary_and_notes(workspace, product):
    enable(workspace, title="What's new at Acme", intro="Every release, as it ships.")
    release = shipped(
        product, name="Spring", version="2.4.0", summary="Faster dashboards.", notes="- **SSO** for all"
    )
    page = Client().get(f"/p/{workspace.slug}/changelog/").content.decode()
    assert "What&#x27;s new at Acme" in page
    assert "Every release, as it ships." in page
    for text in ("Spring", "2.4.0", "Insights", "Faster dashboards.", "<strong>SSO</strong> for all"):
        assert text in page, text
    day = release.shipped_on
    assert f"{day.day} {day:%B %Y}</time>" in page


def test_pagination_and_product_filter(workspace, product):
    enable(workspace)
    other = ProductFactory(workspace=workspace, name="Connect")
    for _ in range(selectors.CHANGELOG_PAGE_SIZE + 2):
        shipped(product)
    mine = shipped(other, name="Connect release", days_ago=0)
    client = Client()
    base = f"/p/{workspace.slug}/changelog/"

    first = client.get(base)
    assert first.context["page"].paginator.count == selectors.CHANGELOG_PAGE_SIZE + 3
    assert len(first.context["page"].object_list) == selectors.CHANGELOG_PAGE_SIZE
    assert first.context["page"].object_list[0].pk == mine.pk  # newest first
    assert 'rel="next"' in first.content.decode()
    second = client.get(base + "?page=2")
    assert len(second.context["page"].object_list) == 3
    # A bad page is the first (or last) page, never an error.
    for bad in ("abc", "0", "-1", "1.5", "99999999999999999999999", "%00"):
        response = client.get(base + f"?page={bad}")
        assert response.status_code == 200, bad
    assert client.get(base + "?page=abc").context["page"].number == 1

    filtered = client.get(base + f"?product={other.pk}")
    assert [r.pk for r in filtered.context["page"].object_list] == [mine.pk]
    assert client.get(base + "?product=").status_code == 200  # "All products"
    stranger = ProductFactory(name="Unreleased secret project")  # another workspace's product
    quiet = ProductFactory(workspace=workspace, name="Quiet product")  # nothing on the changelog
    for bad in ("abc", "-1", "²", "99999999999999999999999", str(stranger.pk), str(quiet.pk)):
        assert client.get(base + f"?product={bad}").status_code == 404, bad
    for path in (
        f"{base}{stranger.pk}/rss/",
        f"{base}{quiet.pk}/atom/",
        f"{base}99999999999999999999999/rss/",
    ):
        assert client.get(path).status_code == 404, path


def test_product_filter_lists_only_products_with_releases(workspace, product):
    enable(workspace)
    shipped(product)
    shipped(ProductFactory(workspace=workspace, name="Connect"))
    ProductFactory(workspace=workspace, name="Quiet product")
    page = Client().get(f"/p/{workspace.slug}/changelog/").content.decode()
    assert ">Insights</option>" in page
    assert ">Connect</option>" in page
    assert "Quiet product" not in page


# --- feeds ------------------------------------------------------------------------------------


def test_feeds_parse_and_carry_urn_guids_and_links(workspace, product):
    enable(workspace, title="Acme changelog")
    releases = [shipped(product, name=f"R{n}") for n in range(3)]
    client = Client()
    for kind, version in (("rss", "rss20"), ("atom", "atom10")):
        response = client.get(f"/p/{workspace.slug}/changelog/{kind}/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith(f"application/{kind}+xml")
        parsed = feedparser.parse(response.content)
        assert parsed.bozo is False, parsed.get("bozo_exception")
        assert parsed.version == version
        assert parsed.feed.title == "Acme changelog"
        assert [e.id for e in parsed.entries] == [f"urn:uuid:{r.public_id}" for r in releases]  # newest first
        for entry, release in zip(parsed.entries, releases, strict=True):
            assert entry.link.endswith(f"/p/{workspace.slug}/changelog/releases/{release.public_id}/")
            assert entry.id != entry.link
            assert "<strong>Thing" in (entry.get("summary") or entry.get("description"))
    rss = client.get(f"/p/{workspace.slug}/changelog/rss/").content.decode()
    assert rss.count('<guid isPermaLink="false">urn:uuid:') == 3
    atom = ET.fromstring(client.get(f"/p/{workspace.slug}/changelog/atom/").content)  # noqa: S314 (ours)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    ids = [e.find("a:id", ns).text for e in atom.findall("a:entry", ns)]
    assert ids == [f"urn:uuid:{r.public_id}" for r in releases]


def test_an_edit_keeps_the_guid_and_moves_atom_updated(workspace, product, owner):
    enable(workspace)
    release = shipped(product, name="Spring", notes="Old notes")
    client = Client()
    url = f"/p/{workspace.slug}/changelog/atom/"

    before = feedparser.parse(client.get(url).content).entries[0]
    services.release_update(release=release, actor=owner, data={"summary": "Now with a better summary"})
    services.release_notes_update(release=release, actor=owner, notes="New **notes**")
    services.release_notes_publish(release=release, actor=owner)
    after_atom = feedparser.parse(client.get(url).content)
    after_rss = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/rss/").content)

    after = after_atom.entries[0]
    assert after_atom.bozo is False
    assert after.id == before.id == f"urn:uuid:{release.public_id}"
    assert after_rss.entries[0].id == before.id
    assert after.updated != before.updated
    assert after.updated_parsed >= before.updated_parsed
    assert after.published == before.published
    assert "<strong>notes</strong>" in after.summary
    assert "Old notes" not in after.summary


def test_feeds_are_capped(workspace, product):
    enable(workspace)
    for _ in range(selectors.FEED_ENTRIES + 3):
        shipped(product)
    client = Client()
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/{kind}/").content)
        assert len(parsed.entries) == selectors.FEED_ENTRIES
        parsed = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/{product.pk}/{kind}/").content)
        assert len(parsed.entries) == selectors.FEED_ENTRIES


def test_product_feeds_hold_only_that_product(workspace, product):
    enable(workspace)
    connect = ProductFactory(workspace=workspace, name="Connect")
    ours = [shipped(product, name=f"Insights {n}") for n in range(2)]
    theirs = shipped(connect, name="Connect one")
    client = Client()
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/{product.pk}/{kind}/").content)
        assert parsed.bozo is False
        assert [e.id for e in parsed.entries] == [f"urn:uuid:{r.public_id}" for r in ours]
        assert "Insights" in parsed.feed.title
        parsed = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/{connect.pk}/{kind}/").content)
        assert [e.id for e in parsed.entries] == [f"urn:uuid:{theirs.public_id}"]
        whole = feedparser.parse(client.get(f"/p/{workspace.slug}/changelog/{kind}/").content)
        assert len(whole.entries) == 3


def test_autodiscovery_links_in_the_head(workspace, product):
    enable(workspace, title="Acme changelog")
    shipped(product)
    client = Client()
    head = _parsed(client.get(f"/p/{workspace.slug}/changelog/").content.decode())
    alternates = {(a["type"], a["href"]) for a in head.links if a.get("rel") == "alternate"}
    assert alternates == {
        ("application/rss+xml", f"/p/{workspace.slug}/changelog/rss/"),
        ("application/atom+xml", f"/p/{workspace.slug}/changelog/atom/"),
    }
    head = _parsed(client.get(f"/p/{workspace.slug}/changelog/?product={product.pk}").content.decode())
    alternates = {(a["type"], a["href"]) for a in head.links if a.get("rel") == "alternate"}
    assert ("application/rss+xml", f"/p/{workspace.slug}/changelog/{product.pk}/rss/") in alternates
    assert ("application/atom+xml", f"/p/{workspace.slug}/changelog/{product.pk}/atom/") in alternates
    assert all(a.get("title") for a in head.links if a.get("rel") == "alternate")


def test_pages_keep_a_strict_csp(workspace, product):
    """No inline script, no event-handler attribute, no style attribute, even with hostile notes."""
    enable(workspace)
    release = shipped(
        product,
        notes='<script>alert(1)</script><p onclick="x()" style="color:red">hi</p><img src=x onerror=y()>',
        summary='<script>alert(2)</script> "quoted"',
    )
    client = Client()
    for path in (
        f"/p/{workspace.slug}/changelog/",
        f"/p/{workspace.slug}/changelog/releases/{release.public_id}/",
    ):
        body = client.get(path).content.decode()
        tags = _parsed(body).tags
        assert [a.get("src") for t, a in tags if t == "script" and not a.get("src")] == []
        assert not [(t, k) for t, a in tags for k in a if k.startswith("on") or k == "style"]
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(2)" in body  # the summary is plain text, escaped


# --- query counts -----------------------------------------------------------------------------


def test_page_and_feeds_query_counts_do_not_grow(workspace, product):
    enable(workspace)
    BoardSettingsFactory(workspace=workspace)
    connect = ProductFactory(workspace=workspace, name="Connect")
    shipped(product)
    shipped(connect)
    client = Client()
    urls = [
        f"/p/{workspace.slug}/changelog/",
        f"/p/{workspace.slug}/changelog/?product={product.pk}",
        f"/p/{workspace.slug}/changelog/rss/",
        f"/p/{workspace.slug}/changelog/atom/",
        f"/p/{workspace.slug}/changelog/{product.pk}/rss/",
        f"/p/{workspace.slug}/changelog/{connect.pk}/atom/",
    ]
    few = [_count(client, url) for url in urls]
    for n in range(12):
        shipped(product if n % 2 else ProductFactory(workspace=workspace, name=f"P{n}"))
        ReleaseFactory(product=product)  # planned: not shown, not counted
    many = [_count(client, url) for url in urls]
    assert few == many
    # The page: the changelog, the board, the products, the count and the page of releases.
    assert few[0] <= 5, few
    # A feed: the changelog and its releases (a product feed: and the products).
    assert few[2] <= 2, few
    assert few[4] <= 3, few
    assert len(re.findall(r"<item>", client.get(urls[2]).content.decode())) == 14
