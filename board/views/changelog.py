"""The public changelog under ``/p/<workspace_slug>/changelog/``: a page, a permalink per
release, and RSS 2.0 and Atom feeds for the workspace and per product.

Access is its own opt-in, ``ChangelogSettings.enabled`` (404 for the page and every feed
until then), and does **not** follow the board's switches: the changelog is readable
without signing in, because feed readers cannot sign in, whether anonymous viewing is
on or off and even while the feedback board itself is off. When the board is on, the
page carries its navigation and the signed-in customer, as the board's pages do.

Only what ``releases.selectors.changelog_releases`` loads is shown (shipped, public
releases with published notes; name, version, product, dates, summary, published
notes): never the notes draft, the owner, the scope's internal titles or scores. The
notes are rendered by ``releases.notes.render`` (Markdown, sanitised), the only markup
marked safe. A feed item's GUID (RSS ``guid isPermaLink="false"``, Atom ``id``) is
``urn:uuid:<public_id>``, stable across edits; its Atom ``updated`` is the latest of the
release's edit, notes publication and shipping times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from board import selectors as board_selectors
from board.forms import ChangelogSubscribeForm
from board.views.access import session_contact_id
from board.views.embedding import embeddable
from releases import notes as release_notes
from releases import selectors as release_selectors


def _int_or_none(value: str | None) -> int | None:
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return int(value) if value and value.isascii() and value.isdecimal() and len(value) < 19 else None


def _title(changelog: Any) -> str:
    return changelog.title or f"{changelog.workspace.name} changelog"


def _absolute(name: str, slug: str, **kwargs: Any) -> str:
    return settings.PUBLIC_BASE_URL + reverse(f"board:{name}", kwargs={"workspace_slug": slug, **kwargs})


def notes_html(release: Any) -> SafeString:
    """The release's published notes as sanitised HTML (the one thing marked safe)."""
    return mark_safe(release_notes.render(release.published_notes))  # noqa: S308 (sanitised by nh3)


def changelog_or_404(workspace_slug: str) -> Any:
    changelog = release_selectors.enabled_changelog(workspace_slug=workspace_slug)
    if changelog is None:
        raise Http404("No public changelog here.")
    return changelog


def _product_name_or_404(products: list[tuple[int, str]], product_id: int | None) -> str | None:
    """The name of ``product_id`` among the changelog's ``products`` (404 if it is not one:
    a product with nothing on the changelog is not named in public)."""
    if product_id is None:
        return None
    name = dict(products).get(product_id)
    if name is None:
        raise Http404("No such product on this changelog.")
    return name


def _page_context(request: HttpRequest, changelog: Any, **extra: Any) -> dict[str, Any]:
    """What board/base.html needs: the board's settings when it is on (for its navigation
    and the signed-in customer), else none."""
    workspace = changelog.workspace
    board = board_selectors.enabled_board(workspace_slug=workspace.slug)
    contact = None
    if board is not None:
        contact_id = session_contact_id(request, workspace.pk)
        if contact_id is not None:
            contact = board_selectors.verified_contact(workspace=workspace, contact_id=contact_id)
    return {
        "board": board,
        "board_workspace": workspace,
        "contact": contact,
        "changelog": changelog,
        "changelog_enabled": True,
        "changelog_title": _title(changelog),
        **extra,
    }


@require_safe
@embeddable
def changelog_page(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    return changelog_render(request, changelog_or_404(workspace_slug))


def changelog_render(
    request: HttpRequest, changelog: Any, *, subscribe_form: Any = None, status: int = 200
) -> HttpResponse:
    """The changelog page, with its e-mail subscribe form (bound when a POST to
    ``board:changelog-subscribe`` came back with errors)."""
    request.workspace = changelog.workspace  # for @embeddable: its allow-list, no query
    raw_product = request.GET.get("product") or ""
    product_id = _int_or_none(raw_product)
    if raw_product and product_id is None:
        raise Http404("No such product on this changelog.")
    products = release_selectors.changelog_products(workspace=changelog.workspace)
    product_name = _product_name_or_404(products, product_id)
    releases = release_selectors.changelog_releases(workspace=changelog.workspace, product_id=product_id)
    page = Paginator(releases, release_selectors.CHANGELOG_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for release in page.object_list:
        release.notes_html = notes_html(release)
    return render(
        request,
        "board/changelog.html",
        _page_context(
            request,
            changelog,
            page=page,
            products=products,
            product_id=product_id,
            product_name=product_name,
            subscribe_form=subscribe_form or ChangelogSubscribeForm(),
        ),
        status=status,
    )


@require_safe
@embeddable
def changelog_release(request: HttpRequest, workspace_slug: str, public_id: Any) -> HttpResponse:
    """One release of the changelog (the feeds' item link)."""
    changelog = changelog_or_404(workspace_slug)
    request.workspace = changelog.workspace  # for @embeddable: its allow-list, no query
    release = (
        release_selectors.changelog_releases(workspace=changelog.workspace)
        .filter(public_id=public_id)
        .first()
    )
    if release is None:
        raise Http404("No such release on this changelog.")
    release.notes_html = notes_html(release)
    return render(request, "board/changelog_release.html", _page_context(request, changelog, release=release))


# --- feeds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangelogFeedSource:
    changelog: Any
    product_id: int | None = None
    product_name: str | None = None

    @property
    def slug(self) -> str:
        return self.changelog.workspace.slug


class ChangelogRssFeed(Feed):
    """The workspace's changelog (``product_id`` in the URL: one product's), newest first,
    at most ``FEED_ENTRIES`` releases."""

    feed_type = Rss201rev2Feed
    format_name = "rss"

    def get_object(self, request: HttpRequest, workspace_slug: str, product_id: int | None = None):
        changelog = changelog_or_404(workspace_slug)
        product_name = None
        if product_id is not None:
            products = release_selectors.changelog_products(workspace=changelog.workspace)
            product_name = _product_name_or_404(products, product_id)
        return ChangelogFeedSource(changelog=changelog, product_id=product_id, product_name=product_name)

    def title(self, source: ChangelogFeedSource) -> str:
        title = _title(source.changelog)
        return f"{title}: {source.product_name}" if source.product_name else title

    def description(self, source: ChangelogFeedSource) -> str:
        return source.changelog.intro or f"What {source.changelog.workspace.name} shipped."

    def subtitle(self, source: ChangelogFeedSource) -> str:
        return self.description(source)

    def link(self, source: ChangelogFeedSource) -> str:
        url = _absolute("changelog", source.slug)
        return f"{url}?product={source.product_id}" if source.product_id else url

    def feed_url(self, source: ChangelogFeedSource) -> str:
        if source.product_id:
            return _absolute(
                f"changelog-product-{self.format_name}", source.slug, product_id=source.product_id
            )
        return _absolute(f"changelog-{self.format_name}", source.slug)

    def items(self, source: ChangelogFeedSource):
        releases = release_selectors.changelog_releases(
            workspace=source.changelog.workspace, product_id=source.product_id
        )
        releases = list(releases[: release_selectors.FEED_ENTRIES])
        for release in releases:  # for item_link: only public fields load, not the workspace
            release.workspace_slug = source.slug
        return releases

    def item_title(self, release: Any) -> str:
        return f"{release.name} {release.version} ({release.product.name})"

    def item_description(self, release: Any) -> str:
        return notes_html(release)

    def item_link(self, release: Any) -> str:
        return _absolute("changelog-release", release.workspace_slug, public_id=release.public_id)

    def item_guid(self, release: Any) -> str:
        return f"urn:uuid:{release.public_id}"

    item_guid_is_permalink = False

    def item_pubdate(self, release: Any) -> datetime:
        return release.shipped_at

    def item_updateddate(self, release: Any) -> datetime:
        return max(d for d in (release.updated_at, release.notes_published_at, release.shipped_at) if d)

    def item_categories(self, release: Any) -> list[str]:
        return [release.product.name]


class ChangelogAtomFeed(ChangelogRssFeed):
    feed_type = Atom1Feed
    format_name = "atom"
