"""Version rules of both schemes: parsing, ordering (property-based) and the line rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from releases import versions
from roadmap.models import VersionScheme

numbers = st.integers(min_value=0, max_value=10_000)
triples = st.tuples(numbers, numbers, numbers)
calvers = st.tuples(
    st.integers(min_value=1000, max_value=9999),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=10_000),
)


def _semver(t: tuple[int, int, int]) -> str:
    return f"{t[0]}.{t[1]}.{t[2]}"


def _calver(t: tuple[int, int, int]) -> str:
    return f"{t[0]:04d}.{t[1]:02d}" + (f".{t[2]}" if t[2] else "")


@given(triples, triples)
def test_semver_orders_as_its_numbers(a, b):
    pa, pb = (
        versions.parse(_semver(a), VersionScheme.SEMVER),
        versions.parse(_semver(b), VersionScheme.SEMVER),
    )
    assert (pa < pb) == (a < b)
    assert (pa > pb) == (a > b)


@given(calvers, calvers)
def test_calver_orders_numerically_not_as_text(a, b):
    pa, pb = (
        versions.parse(_calver(a), VersionScheme.CALVER),
        versions.parse(_calver(b), VersionScheme.CALVER),
    )
    assert (pa < pb) == (a < b)
    assert (pa > pb) == (a > b)


@given(triples)
def test_a_prerelease_sorts_before_its_release(t):
    release = versions.parse(_semver(t), VersionScheme.SEMVER)
    candidate = versions.parse(_semver(t) + "-rc.1", VersionScheme.SEMVER)
    assert candidate < release


@given(st.lists(triples, min_size=1, max_size=12), triples)
def test_last_released_in_line_is_the_greatest_of_the_same_major(released, new):
    parsed = versions.parse(_semver(new), VersionScheme.SEMVER)
    last = versions.last_released_in_line(parsed, [_semver(t) for t in released])
    same_line = [t for t in released if t[0] == new[0]]
    if not same_line:
        assert last is None
    else:
        assert last.text == _semver(max(same_line))


def test_calver_has_one_line():
    parsed = versions.parse("2027.03", VersionScheme.CALVER)
    assert versions.last_released_in_line(parsed, ["2026.12.2", "2027.01"]).text == "2027.01"


@pytest.mark.parametrize(
    "text",
    ["1.2", "v1.2.3", "1.2.3.4", "01.2.3", "1.2.x", "", "   ", "1.2.3-", "a.b.c", "1" * 65],
)
def test_not_semver(text):
    with pytest.raises(versions.InvalidVersion):
        versions.parse(text, VersionScheme.SEMVER)


@pytest.mark.parametrize(
    "text",
    ["2027.3", "2027.13", "2027.00", "27.03", "2027.03.0", "2027.03.01", "2027-03", "2027.03.1.1", "1.2.3"],
)
def test_not_calver(text):
    with pytest.raises(versions.InvalidVersion):
        versions.parse(text, VersionScheme.CALVER)


@pytest.mark.parametrize("text", ["2027.03", "2027.12.1", "1999.01.42"])
def test_calver(text):
    assert versions.parse(text, VersionScheme.CALVER).text == text


def test_semver_with_build_metadata_and_prerelease():
    assert versions.parse(" 2.0.0-rc.1+build.5 ", VersionScheme.SEMVER).text == "2.0.0-rc.1+build.5"
