"""Plain text out of what channels receive: HTML bodies, e-mail replies with quotes and signatures."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# "On Tue, 2 Apr 2024 at 10:00, Ann <ann@x.com> wrote:" (may wrap over two lines).
_ATTRIBUTION = re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE)
_FORWARD_OR_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Forwarded message)\s*-{2,}|_{10,})\s*$", re.IGNORECASE
)


def storable(value: str) -> str:
    """``value`` as a database can store it: no NUL characters and no lone surrogates.

    Surrogates come from raw 8-bit bytes in e-mail headers (the parser's surrogateescape),
    which are recovered as UTF-8 when they are, and from ``\\ud800``-style JSON escapes.
    """
    value = value.replace("\x00", "")
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return re.sub("[\ud800-\udfff]", "\ufffd", value)


def strip_quoted(text: str) -> str:
    """The new part of a reply: without quoted lines, attributions, forwarded originals and signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.rstrip() == "--" or _FORWARD_OR_ORIGINAL.match(line):
            # The signature ("-- "), or the message replied to: nothing after it is new.
            lines = lines[:index]
            break
    quoted = [line.lstrip().startswith(">") for line in lines]
    # Whether the next non-blank line after each line is quoted (one backward pass).
    quote_follows = [False] * len(lines)
    for index in range(len(lines) - 2, -1, -1):
        below = lines[index + 1]
        quote_follows[index] = quoted[index + 1] if below.strip() else quote_follows[index + 1]
    dropped = set()
    for index in range(len(lines)):
        # An attribution ("On ... wrote:", perhaps wrapped over two lines) introduces a quote.
        if not quote_follows[index]:
            continue
        if _ATTRIBUTION.match(lines[index]):
            dropped.add(index)
        elif index > 0 and _ATTRIBUTION.match(f"{lines[index - 1]} {lines[index]}"):
            dropped.update({index - 1, index})
    kept = [line.rstrip() for i, line in enumerate(lines) if not quoted[i] and i not in dropped]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


class _TextExtractor(HTMLParser):
    """HTML → readable text: block elements break lines; scripts, styles and quotes are dropped."""

    PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"})
    LINES = frozenset({"div", "li", "tr"})
    SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        # The element being skipped, and how deep in same-named elements we are inside it.
        self.skip_tag: str | None = None
        self.skip_depth = 0

    def _break(self, newlines: int) -> None:
        """End the current line (1) or paragraph (2), unless it already is."""
        text = "".join(self.parts[-3:])
        missing = newlines - (len(text) - len(text.rstrip("\n")))
        if self.parts and missing > 0:
            self.parts.append("\n" * missing)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_tag is not None:
            self.skip_depth += tag == self.skip_tag
            return
        if tag in self.SKIPPED or "gmail_quote" in (dict(attrs).get("class") or "").split():
            self.skip_tag, self.skip_depth = tag, 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self.PARAGRAPHS or tag in self.LINES:
            self._break(2 if tag in self.PARAGRAPHS else 1)
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
        elif tag in self.PARAGRAPHS or tag in self.LINES:
            self._break(2 if tag in self.PARAGRAPHS else 1)

    def handle_data(self, data: str) -> None:
        if self.skip_tag is None:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, whitespace tidied, one line per block."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
