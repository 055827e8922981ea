"""Version numbers of releases, by the product's scheme.

* **SemVer** (semver.org 2.0, parsed and ordered by python-semver 3): ``1.4.2``,
  ``2.0.0-rc.1``. A new version must be greater than the last *released* version of the
  same major line, so a maintenance release (1.4.3 after 2.0.0) is fine.
* **CalVer** ``YYYY.0M[.N]``: a four-digit year, a two-digit month (01-12) and an
  optional micro number N ≥ 1, compared numerically (2027.03 < 2027.03.1 < 2027.10). A
  new version must be greater than the product's last released one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import semver

from roadmap.models import VersionScheme

CALVER = re.compile(r"^(?P<year>[0-9]{4})\.(?P<month>0[1-9]|1[0-2])(?:\.(?P<micro>[1-9][0-9]{0,8}))?$")


class InvalidVersion(ValueError):
    """The text is not a version of the scheme; the message says what is expected."""


@dataclass(frozen=True, order=False)
class ParsedVersion:
    scheme: str
    text: str
    semver: semver.Version | None = None
    calver: tuple[int, int, int] | None = None

    @property
    def line(self) -> int | None:
        """The line a version must grow in: the major number for SemVer, none for CalVer."""
        return self.semver.major if self.semver is not None else None

    def _key(self):
        return self.semver if self.semver is not None else self.calver

    def __lt__(self, other: ParsedVersion) -> bool:
        return self._key() < other._key()

    def __gt__(self, other: ParsedVersion) -> bool:
        return self._key() > other._key()

    def __le__(self, other: ParsedVersion) -> bool:
        return not self > other

    def __ge__(self, other: ParsedVersion) -> bool:
        return not self < other


def parse(text: str, scheme: str) -> ParsedVersion:
    """``text`` as a version of ``scheme``, or :class:`InvalidVersion`."""
    text = (text or "").strip()
    if scheme == VersionScheme.CALVER:
        match = CALVER.match(text)
        if match is None:
            raise InvalidVersion(
                "Use calendar versioning: YYYY.0M or YYYY.0M.N (for example 2027.03 or 2027.03.1)."
            )
        calver = (int(match["year"]), int(match["month"]), int(match["micro"] or 0))
        return ParsedVersion(scheme=scheme, text=text, calver=calver)
    if len(text) > 64:
        raise InvalidVersion("At most 64 characters.")
    try:
        version = semver.Version.parse(text)
    except (ValueError, TypeError):
        raise InvalidVersion(
            "Use semantic versioning: MAJOR.MINOR.PATCH (for example 1.4.2 or 2.0.0-rc.1)."
        ) from None
    return ParsedVersion(scheme=scheme, text=text, semver=version)


def parse_or_none(text: str, scheme: str) -> ParsedVersion | None:
    try:
        return parse(text, scheme)
    except InvalidVersion:
        return None


def last_released_in_line(version: ParsedVersion, released: Iterable[str]) -> ParsedVersion | None:
    """The greatest of ``released`` (version texts) in ``version``'s line; ones that do not
    parse under the scheme (none should) are ignored."""
    best: ParsedVersion | None = None
    for text in released:
        other = parse_or_none(text, version.scheme)
        if other is None or other.line != version.line:
            continue
        if best is None or other > best:
            best = other
    return best


def sort_key(text: str, scheme: str) -> tuple:
    """A key ordering version texts of one scheme (unparseable ones first)."""
    parsed = parse_or_none(text, scheme)
    if parsed is None:
        return (0, text)
    if parsed.semver is not None:
        v = parsed.semver
        # Pre-releases sort before their release (SemVer §11); compare via the library.
        return (1, v.major, v.minor, v.patch, _SemverKey(v))
    return (1, *parsed.calver)


class _SemverKey:
    __slots__ = ("version",)

    def __init__(self, version: semver.Version) -> None:
        self.version = version

    def __lt__(self, other: _SemverKey) -> bool:
        return self.version < other.version

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SemverKey) and self.version.compare(other.version) == 0
