"""The searchable pickers' kinds: what each one searches, how an option reads, how a typed
value is resolved back to its row.

A picker is a text input with a ``<datalist>`` that htmx fills from ``pick/<kind>/?q=``
(``portal.views.pickers``); without JavaScript the input still works, because what is typed
is resolved here: ``#<id>`` (the form every option's value starts with) or the row's exact
name, title, e-mail, domain or username (failing that, a bare id, as links carry it).
Searching goes through the apps' selectors; resolution loads one row, scoped to the
workspace, so another workspace's id is "not found".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet

from feedback import selectors as feedback_selectors
from productops import selectors as platform_selectors
from productops.models import Workspace
from productops.search import words_contain
from roadmap import selectors as roadmap_selectors

#: Options per answer: a picker narrows as you type, it never lists a whole table.
LIMIT = 20
_ID = re.compile(r"^#(\d{1,18})(?:\s|$)")


@dataclass(frozen=True)
class Kind:
    """``rows(workspace)``: the rows a picker may pick; ``search(rows, q)``: narrowed by the
    query; ``label(row)``: what an option reads; ``exact(text)``: the Q of a typed exact value."""

    rows: Callable[[Workspace], QuerySet]
    search: Callable[[Workspace, str], QuerySet]
    label: Callable[[Model], str]
    exact: Callable[[str], Q]
    key: str = "pk"  # what an option's ``#<id>`` is: the row's pk, or (members) the user's id


def _words(rows_of: Callable[[Workspace], QuerySet], *fields: str) -> Callable[[Workspace, str], QuerySet]:
    def search(workspace: Workspace, query: str) -> QuerySet:
        return words_contain(rows_of(workspace), columns=fields, query=query)

    return search


def _features(workspace: Workspace) -> QuerySet:
    return (
        roadmap_selectors.feature_list(workspace=workspace)
        .filter(merged_into__isnull=True)
        .only("id", "title", "priority_rank")
    )


def _tags(workspace: Workspace) -> QuerySet:
    return roadmap_selectors.tag_list(workspace=workspace).only("id", "name")


def _members(workspace: Workspace) -> QuerySet:
    return platform_selectors.membership_list(workspace=workspace).only(
        "id", "user", "user__username", "user__first_name", "user__last_name", "user__email"
    )


def user_label(user) -> str:
    """How a member reads in a picker, as an option and as a form's initial value."""
    name = user.get_full_name()
    return f"{name} ({user.username})" if name else user.username


def _member_label(membership) -> str:
    return user_label(membership.user)


KINDS: dict[str, Kind] = {
    "features": Kind(
        rows=_features,
        search=lambda ws, q: roadmap_selectors.feature_search(workspace=ws, query=q, limit=LIMIT),
        label=lambda f: f.title,
        exact=lambda text: Q(title__iexact=text),
    ),
    "companies": Kind(
        rows=lambda ws: feedback_selectors.company_list(workspace=ws).only("id", "name", "domain"),
        search=lambda ws, q: feedback_selectors.company_search(workspace=ws, query=q, limit=LIMIT),
        label=lambda c: f"{c.name} ({c.domain})" if c.domain else c.name,
        exact=lambda text: Q(name__iexact=text) | Q(domain__iexact=text),
    ),
    "contacts": Kind(
        rows=lambda ws: (
            feedback_selectors.contact_list(workspace=ws).select_related(None).only("id", "name", "email")
        ),
        search=lambda ws, q: feedback_selectors.contact_search(workspace=ws, query=q, limit=LIMIT),
        label=lambda c: f"{c.name} <{c.email}>" if c.name else c.email,
        exact=lambda text: Q(email__iexact=text),
    ),
    "tags": Kind(
        rows=_tags,
        search=_words(_tags, "name"),
        label=lambda t: t.name,
        exact=lambda text: Q(name__iexact=text),
    ),
    "members": Kind(
        rows=_members,
        # Not by e-mail address: any member may search, and a substring search of addresses
        # would tell them more than the names they see (an exact address still resolves).
        search=_words(_members, "user__username", "user__first_name", "user__last_name"),
        label=_member_label,
        exact=lambda text: Q(user__username__iexact=text) | Q(user__email__iexact=text),
        key="user_id",
    ),
}


def option_value(kind: str, row: Model) -> str:
    """What choosing an option puts in the input: ``#<id> <label>`` (tags: the name alone)."""
    spec = KINDS[kind]
    if kind == "tags":
        return spec.label(row)
    return f"#{getattr(row, spec.key)} {spec.label(row)}"


def options(*, kind: str, workspace: Workspace, query: str) -> list[tuple[str, str]]:
    """At most :data:`LIMIT` ``(value, label)`` pairs for the query (empty query: the first
    rows in the kind's order)."""
    spec = KINDS[kind]
    query = query.strip()[:100]
    # An empty query lists the first rows in the kind's order (the indexed searches answer
    # only words).
    rows = spec.search(workspace, query) if query else spec.rows(workspace)
    return [(option_value(kind, row), spec.label(row)) for row in rows[:LIMIT]]


def resolve(*, kind: str, workspace: Workspace, text: str) -> Model | None:
    """The row a typed or chosen value names, or None: ``#<id>`` first, else an exact match
    (more than one exact match is ambiguous: None, and the form asks for the ``#id``)."""
    spec = KINDS[kind]
    text = text.strip()
    rows = spec.rows(workspace)
    match = _ID.match(text)
    if match:
        return rows.filter(**{spec.key: int(match.group(1))}).first()
    found = list(rows.filter(spec.exact(text))[:2])
    if not found and text.isascii() and text.isdigit() and len(text) <= 18:
        # A bare id, as links into a filtered page carry it (``?company=12``).
        return rows.filter(**{spec.key: int(text)}).first()
    return found[0] if len(found) == 1 else None


def instance(kind: str, row: Model) -> Model:
    """What a form's cleaned value is: the row itself, or (members) the member's user."""
    return row.user if kind == "members" else row
