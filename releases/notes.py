"""Release notes: generated from the scope as Markdown, rendered to safe HTML.

Notes are stored as written (Markdown, which may hold anything a person typed) and made
inert when rendered: ``markdown`` turns them into HTML and ``nh3`` (the Rust ammonia
sanitiser) keeps only an allow-list of tags and attributes — no script, no style, no
event handler — and only absolute http, https and mailto links (relative ones are
dropped: the notes are read in feeds and e-mails too), which open with
``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

from collections.abc import Iterable

import markdown
import nh3

from releases.models import ChangeType

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
URL_SCHEMES = {"http", "https", "mailto"}
#: Headings of the generated notes, in their order.
SECTION_TITLES = {ChangeType.NEW: "New", ChangeType.IMPROVED: "Improved", ChangeType.FIXED: "Fixed"}


def render(text: str) -> str:
    """``text`` (Markdown) as sanitised HTML, safe to mark safe in a template."""
    html = markdown.markdown(text or "", extensions=["sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _escape(text: str) -> str:
    """Inline Markdown control characters of a title, so it reads as typed."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#" else ch for ch in " ".join(text.split()))


def generate(entries: Iterable[tuple[str, str, str]]) -> str:
    """Notes from ``(change type, customer-facing title, note)`` per feature, grouped by
    change type (New, Improved, Fixed); empty when there is nothing to say."""
    sections: dict[str, list[str]] = {key: [] for key in SECTION_TITLES}
    for change_type, title, note in entries:
        line = f"- **{_escape(title)}**"
        note = " ".join((note or "").split())
        if note:
            line += f" — {note}"
        sections.setdefault(change_type, []).append(line)
    parts = [
        f"## {SECTION_TITLES.get(key, str(key).title())}\n\n" + "\n".join(lines)
        for key, lines in sections.items()
        if lines
    ]
    return "\n\n".join(parts) + ("\n" if parts else "")
