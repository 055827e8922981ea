"""The duplicate lookup's plan (``feedback.similarity.similar_items``) at benchmark scale.

PostgreSQL's plan depends on its statistics, which autovacuum (off on the benchmark
machines) may or may not have refreshed. Whatever they say, a lookup must be one bitmap
scan of the trigram index keyed on the workspace: for a 20-item workspace beside 200,000
items of another, and for the 200,000-item workspace itself; before the table is analysed
(the planner believes it empty) and after. Before migration 0014 the first case scanned
every workspace's trigram entries (49 ms where its own took 0.2 ms), and a table never
analysed was walked through the ``merged_into_id`` index (about 1 s).

The assertions are on the plan's nodes and index names, never on times.
"""

from __future__ import annotations

import pytest
from django.db import connection

from feedback import services
from feedback.models import FeedbackItem
from feedback.similarity import (
    SIMILAR_ITEMS_INDEX,
    similar_items,
    similar_items_plan,
    similar_items_plan_problems,
)
from productops.db import long_running
from tests.productops.factories import WorkspaceFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="plans are PostgreSQL's: SQLite has no trigram index and scans a bounded window instead",
    ),
    pytest.mark.django_db,
]

LARGE = 200_000
SMALL = 20
ACTIONS = ["bulk editing", "version history", "templates", "permissions", "scheduled delivery", "comments"]
ACTIONS += [
    "search",
    "favourites",
    "tagging",
    "sharing",
    "dark theme",
    "shortcuts",
    "csv export",
    "audit trail",
]
AREAS = ["dashboards", "charts", "reports", "alerts", "connectors", "notebooks", "datasets", "metrics"]
AREAS += ["workspaces", "users", "funnels", "cohorts", "forecasts", "billing", "mobile", "salesforce"]
# Wording as the benchmark's: common requests, and terms of the customers' own.
NEEDLES = [
    "dark theme dashboards finance team kalomi",
    "csv export reports auditors renewal term123 ref77",
    "permissions workspaces enterprise plan okta",
]


def _insert_items(workspace_id: int, count: int) -> None:
    """``count`` open items in one INSERT ... SELECT: a request (action × area) with two
    terms drawn from a vocabulary of 20,000, like the benchmark's corpus."""
    # 200,000 rows with their GIN entries take longer than the 5 s statement timeout.
    with long_running(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(
            """
            INSERT INTO feedback_feedbackitem (workspace_id, text, match_text, source, source_ref,
                source_url, kind, importance, tags, state, received_at, created_at, updated_at)
            SELECT %s, 'item', t, 'api', '', '', 'request', 'nice_to_have', '[]', 'new', now(), now(), now()
            FROM (SELECT %s::text[] AS actions, %s::text[] AS areas) words,
            LATERAL (
                SELECT actions[1 + g %% cardinality(actions)] || ' '
                       || areas[1 + (g / cardinality(actions)) %% cardinality(areas)]
                       || ' term' || (g::bigint * 7919) %% 20000
                       || ' ref' || (g::bigint * 104729) %% 5003 AS t
                FROM generate_series(1, %s) g
            ) texts
            """,
            [workspace_id, ACTIONS, AREAS, count],
        )


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE feedback_feedbackitem")


def _problems(workspace_id: int) -> dict[str, list[str]]:
    return {
        needle: similar_items_plan_problems(similar_items_plan(workspace_id=workspace_id, text=needle))
        for needle in NEEDLES
    }


def test_the_lookup_scans_only_its_workspace_in_the_trigram_index_whatever_the_statistics():
    large, small = WorkspaceFactory(), WorkspaceFactory()
    # Statistics of the table before the import: none (it was empty), as on a fresh
    # install or before autoanalyze has run.
    _analyze()
    _insert_items(large.pk, LARGE)
    _insert_items(small.pk, SMALL)
    no_problem = {needle: [] for needle in NEEDLES}

    assert _problems(small.pk) == no_problem
    assert _problems(large.pk) == no_problem

    _analyze()

    assert _problems(small.pk) == no_problem
    assert _problems(large.pk) == no_problem
    # The plan checked is the lookup's own: it finds an item by its own wording, within
    # the workspace asked about only.
    for workspace in (large, small):
        mine = FeedbackItem.objects.filter(workspace=workspace)
        needle = mine.values_list("match_text", flat=True).first()
        found = {m.id for m in similar_items(workspace_id=workspace.pk, text=needle)}
        assert found
        assert found <= set(mine.values_list("id", flat=True))


def test_a_plan_through_another_index_is_reported():
    # The checker itself: a scan through the workspace b-tree is a problem, by name.
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Relation Name": "feedback_feedbackitem",
                "Index Name": "feedback_feedbackitem_workspace_id_defccbf1",
            }
        ],
    }
    assert similar_items_plan_problems(plan) == [
        "Index Scan on feedback_feedbackitem (feedback_feedbackitem_workspace_id_defccbf1)",
        f"no bitmap scan of {SIMILAR_ITEMS_INDEX}",
    ]


def test_merged_into_is_indexed_only_where_set():
    # An index of every row's merged_into_id would answer ``merged_into_id IS NULL``, and a
    # planner without statistics picks it for the lookup.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'feedback_feedbackitem' "
            "AND indexdef LIKE '%%merged_into_id%%' ORDER BY indexname"
        )
        rows = cursor.fetchall()
    assert [name for name, _ in rows] == ["feedback_item_match_trgm", "feedback_item_merged_into"]
    assert rows[1][1].endswith("WHERE (merged_into_id IS NOT NULL)")


def test_analyze_after_an_import_only_when_enough_rows_changed():
    workspace = WorkspaceFactory()
    _analyze()
    _insert_items(workspace.pk, 1_000)

    # 1,000 rows on a table the statistics believe empty: past 50 + 10 %.
    assert services.feedback_tables_analyze(inserted=1_000) == ["feedback_feedbackitem"]
    # Now analysed with its 1,000 rows: 10 more are under 50 + 100.
    assert services.feedback_tables_analyze(inserted=10) == []
