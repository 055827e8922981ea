"""Indexed substring search of short text columns (titles, names, domains, e-mail addresses).

The global search box and the pickers look rows up by what their names contain. On
PostgreSQL the condition is ``(workspace_id + 0) = <workspace>::bigint AND (<column> || ' ' ||
<column> ...) ILIKE '%word%'`` for every word, which is exactly what the trigram GIN indexes of
migrations ``roadmap.0013_search_indexes`` and ``feedback.0015_search_indexes`` are keyed on
(``btree_gin`` on ``workspace_id + 0``, ``gin_trgm_ops`` on the columns' text): the workspace and
the words are matched in one bitmap scan of that index, which no b-tree can answer instead
(as for the duplicate lookup, ``feedback.similarity``), so a stale estimate cannot send the
planner walking a large workspace row by row. ``::bigint``: btree_gin matches only an
operator of the column's own type.

SQLite (the zero-setup default): plain ``icontains`` per word, within the workspace.
"""

from __future__ import annotations

import functools
import operator

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, Value

#: At most this many rows of each kind in the global search (and the pickers' default).
SEARCH_LIMIT = 20
#: A query is cut to this many characters and this many words.
QUERY_MAX_LENGTH = 100
QUERY_MAX_WORDS = 5


def search_words(query: str) -> list[str]:
    """The words of a search query: whitespace-separated, at most :data:`QUERY_MAX_WORDS`,
    from its first :data:`QUERY_MAX_LENGTH` characters."""
    return (query or "")[:QUERY_MAX_LENGTH].split()[:QUERY_MAX_WORDS]


def like_pattern(word: str) -> str:
    """``%word%`` with LIKE's wildcards and escape character in ``word`` taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class WorkspaceKeyIs(Func):
    """``(workspace_id + 0) = <id>::bigint``: the workspace key of the search indexes."""

    output_field = BooleanField()

    def __init__(self, workspace_id: int) -> None:
        super().__init__(F("workspace_id"), Value(int(workspace_id)))

    def as_sql(self, compiler, connection, **extra_context):
        column, value = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        value_sql, value_params = compiler.compile(value)
        return f"(({column_sql} + 0) = ({value_sql})::bigint)", (*column_params, *value_params)


class ILikeContains(Func):
    """``(<column> || ' ' || <column> ...) ILIKE '%word%'`` (PostgreSQL), which a ``gin_trgm_ops``
    index of that same expression answers: one condition (one index scan) per word however
    many columns are searched. A word has no space, so it never matches across two columns."""

    output_field = BooleanField()

    def __init__(self, columns: tuple[str, ...], word: str) -> None:
        super().__init__(*(F(c) for c in columns), Value(like_pattern(word)))

    def as_sql(self, compiler, connection, **extra_context):
        *columns, pattern = self.get_source_expressions()
        parts, params = [], []
        for column in columns:
            column_sql, column_params = compiler.compile(column)
            parts.append(column_sql)
            params.extend(column_params)
        pattern_sql, pattern_params = compiler.compile(pattern)
        text = " || ' ' || ".join(parts)
        return f"(({text}) ILIKE {pattern_sql})", (*params, *pattern_params)


def rows_containing(rows: QuerySet, *, workspace_id: int, columns: tuple[str, ...], query: str) -> QuerySet:
    """The workspace's ``rows`` in which every word of ``query`` appears (case-insensitively) in
    one of ``columns``; none for an empty query. ``rows`` must not be filtered on the workspace
    already (PostgreSQL: a ``workspace_id = ...`` condition would let a b-tree answer it)."""
    words = search_words(query)
    if not words:
        return rows.none()
    if connection.vendor == "postgresql":
        rows = rows.filter(WorkspaceKeyIs(workspace_id))
        for word in words:
            rows = rows.filter(ILikeContains(columns, word))
        return rows
    rows = rows.filter(workspace_id=workspace_id)
    for word in words:
        rows = rows.filter(functools.reduce(operator.or_, (Q(**{f"{c}__icontains": word}) for c in columns)))
    return rows


def words_contain(rows: QuerySet, *, columns: tuple[str, ...], query: str) -> QuerySet:
    """``rows`` in which every word of ``query`` (:func:`search_words`) appears in one of
    ``columns``, unindexed (``icontains``): for lists already narrowed by other conditions
    (a directory's filters, a workspace's members or tags); all of them for an empty query."""
    for word in search_words(query):
        rows = rows.filter(functools.reduce(operator.or_, (Q(**{f"{c}__icontains": word}) for c in columns)))
    return rows
