"""The search box's plans (``productops.search``) at a realistic size, on PostgreSQL.

``roadmap.selectors.feature_search`` and ``feedback.selectors.company_search`` /
``contact_search`` must each be answered by a bitmap scan of a trigram index on the searched
text, and by no sequential scan or b-tree of the table: for a 30-row workspace beside 60,000
rows of another, and for the 60,000-row workspace itself, once the tables are analysed. The
rows are real (``INSERT ... SELECT generate_series``), the planner's settings its defaults
(no ``enable_seqscan`` switch). Companies and contacts have one such index, keyed on the
workspace too; feature titles have two, and the planner picks by cost: this issue's
``roadmap_feature_search_trgm`` keyed on ``(workspace_id + 0)`` (a small workspace's rows) or
feedback 0004's ``roadmap_feature_title_trgm`` on the title alone (rare words of a large one).

The searched texts keep statistics with a target of 1,000 (feedback 0019, roadmap 0015): with
the default 100, one sampled value that happened to contain a rare word ("acct4321" in
"acct14321.example") raised the estimate a hundredfold and the planner scanned the table, in
about one ANALYZE of 25.

Before the first ANALYZE of the rows (statistics of empty tables) the planner scans the
table instead (about 0.2 s for 60,000 rows here); autovacuum's analyze ends that state.

The assertions are on the plan's nodes and index names, never on times.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.utils import timezone

from feedback import selectors as feedback_selectors
from feedback.models import Company, Contact
from productops.db import long_running
from roadmap import selectors as roadmap_selectors
from roadmap.models import Feature
from tests.productops.factories import WorkspaceFactory
from tests.roadmap.factories import ProductFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="plans are PostgreSQL's: SQLite has no trigram index and searches with icontains",
    ),
    pytest.mark.django_db,
]

LARGE = 60_000
SMALL = 30
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
WORDS = ["northwind", "contoso", "fabrikam", "tailspin", "wingtip", "adatum", "litware", "proseware"]

# (selector, table, trigram indexes that may answer, queries): what a person types into the box.
SEARCHES = {
    "features": (
        roadmap_selectors.feature_search,
        "roadmap_feature",
        {"roadmap_feature_search_trgm", "roadmap_feature_title_trgm"},
        ["term1234", "dark theme funnels", "csv export term77"],
    ),
    "companies": (
        feedback_selectors.company_search,
        "feedback_company",
        {"feedback_company_search_trgm"},
        ["northwind 1234", "acct4321", "tailspin acct77"],
    ),
    "contacts": (
        feedback_selectors.contact_search,
        "feedback_contact",
        {"feedback_contact_search_trgm"},
        ["person1234", "wingtip lee4321", "@acct77"],
    ),
}


def _constants(model, skip: set[str]) -> tuple[list[str], list[str], list]:
    """Columns, SQL and parameters of every NOT NULL column of ``model`` not in ``skip``: its
    default, or now() for timestamps (so a column another issue adds is filled too)."""
    columns, sql, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.column in skip:
            continue
        columns.append(field.column)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            sql.append("now()")
            continue
        value = field.get_db_prep_save(field.get_default(), connection)
        sql.append("%s")
        params.append(value)
    return columns, sql, params


def _insert(model, varying: dict[str, str], varying_params: list, count: int) -> None:
    """``count`` rows of ``model`` in one INSERT ... SELECT over ``generate_series(1, count) g``:
    the ``varying`` columns from SQL expressions of ``g``, the others their defaults."""
    columns, sql, params = _constants(model, set(varying))
    columns += list(varying)
    sql += list(varying.values())
    statement = (  # the model's own table and columns only
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(sql)} FROM generate_series(1, %s) g"
    )
    with long_running(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute(statement, [*params, *varying_params, count])


def _populate(workspace, count: int) -> None:
    product = ProductFactory(workspace=workspace)
    _insert(
        Feature,
        {
            "workspace_id": "%s",
            "product_id": "%s",
            "title": "(%s::text[])[1 + g %% 14] || ' ' || (%s::text[])[1 + (g / 14) %% 16]"
            " || ' term' || (g::bigint * 7919) %% 20000",
        },
        [workspace.pk, product.pk, ACTIONS, AREAS],
        count,
    )
    _insert(
        Company,
        {
            "workspace_id": "%s",
            "name": "initcap((%s::text[])[1 + g %% 8]) || ' ' || g",
            "domain": "'acct' || g || '.example'",
        },
        [workspace.pk, WORDS],
        count,
    )
    _insert(
        Contact,
        {
            "workspace_id": "%s",
            "name": "'Lee' || (g::bigint * 104729) %% 50000 || ' ' || initcap((%s::text[])[1 + g %% 8])",
            "email": "'person' || g || '@acct' || (g %% 5003) || '.example'",
        },
        [workspace.pk, WORDS],
        count,
    )


def _analyze() -> None:
    with connection.cursor() as cursor:
        for table in ("roadmap_feature", "feedback_company", "feedback_contact"):
            cursor.execute(f"ANALYZE {table}")


def _plan(queryset) -> dict:
    document = queryset.explain(format="json")
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def _nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_nodes(child))
    return nodes


def plan_problems(plan: dict, *, table: str, indexes: set[str]) -> list[str]:
    """Why the plan is not a bitmap scan of one of ``indexes`` on the words, with no other scan
    of ``table`` (empty: it is)."""
    problems = []
    scans = [n for n in _nodes(plan) if n.get("Relation Name") == table]
    bitmaps = [n for n in _nodes(plan) if n["Node Type"] == "Bitmap Index Scan"]
    for node in scans:
        if node["Node Type"] != "Bitmap Heap Scan":
            problems.append(f"{node['Node Type']} on {table} ({node.get('Index Name', '')})")
    if not scans:
        problems.append(f"no scan of {table}")
    for node in bitmaps:
        if node["Index Name"] not in indexes:
            problems.append(f"bitmap scan of {node['Index Name']}")
        elif "~~*" not in node.get("Index Cond", ""):
            problems.append(f"{node['Index Name']} not searched for the words: {node.get('Index Cond')}")
        elif node["Index Name"].endswith("_search_trgm") and "(workspace_id + 0)" not in node["Index Cond"]:
            problems.append(f"{node['Index Name']} not keyed on the workspace: {node['Index Cond']}")
    if not bitmaps:
        problems.append(f"no bitmap scan of {' or '.join(sorted(indexes))}")
    return problems


def _problems(workspace) -> dict[str, list[str]]:
    found = {}
    for kind, (search, table, index, queries) in SEARCHES.items():
        for query in queries:
            plan = _plan(search(workspace=workspace, query=query))
            found[f"{kind}: {query}"] = plan_problems(plan, table=table, indexes=index)
    return found


@pytest.fixture
def workspaces():
    large, small = WorkspaceFactory(), WorkspaceFactory()
    _populate(large, LARGE)
    _populate(small, SMALL)
    _analyze()
    return large, small


def test_the_search_is_a_bitmap_scan_of_a_trigram_index(workspaces):
    large, small = workspaces
    none = {f"{kind}: {q}": [] for kind, (_, _, _, queries) in SEARCHES.items() for q in queries}

    assert _problems(small) == none
    assert _problems(large) == none


def test_the_plans_checked_are_the_searches_own(workspaces):
    # The queries find what they should, within the workspace asked about only.
    large, small = workspaces
    features = list(roadmap_selectors.feature_search(workspace=large, query="term1234"))
    assert features
    assert all("term1234" in f.title and f.workspace_id == large.pk for f in features)
    companies = list(feedback_selectors.company_search(workspace=small, query="acct7"))
    assert [c.domain for c in companies] == ["acct7.example"]
    contacts = list(feedback_selectors.contact_search(workspace=large, query="person1234@"))
    assert [c.email for c in contacts] == ["person1234@acct1234.example"]
    assert contacts[0].updated_at <= timezone.now()


def test_a_plan_through_another_index_is_reported():
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Relation Name": "feedback_company",
                "Index Name": "feedback_company_workspace_id_0a9d3c5e",
            }
        ],
    }
    assert plan_problems(plan, table="feedback_company", indexes={"feedback_company_search_trgm"}) == [
        "Index Scan on feedback_company (feedback_company_workspace_id_0a9d3c5e)",
        "no bitmap scan of feedback_company_search_trgm",
    ]


def test_the_indexes_are_keyed_on_the_workspace_expression():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%%_search_trgm' "
            "ORDER BY indexname"
        )
        rows = dict(cursor.fetchall())
    assert sorted(rows) == [
        "feedback_company_search_trgm",
        "feedback_contact_search_trgm",
        "roadmap_feature_search_trgm",
    ]
    assert rows["roadmap_feature_search_trgm"].endswith(
        "USING gin (((workspace_id + 0)), title gin_trgm_ops)"
    )
    assert rows["feedback_company_search_trgm"].endswith(
        "USING gin (((workspace_id + 0)), ((((name)::text || ' '::text) || (domain)::text)) gin_trgm_ops)"
    )
    assert rows["feedback_contact_search_trgm"].endswith(
        "USING gin (((workspace_id + 0)), ((((email)::text || ' '::text) || (name)::text)) gin_trgm_ops)"
    )


def test_the_searched_texts_keep_finer_statistics():
    # What keeps a rare word's estimate from depending on ANALYZE's sample (see the docstring).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attstattarget FROM pg_attribute"
            " WHERE (attrelid = 'roadmap_feature'::regclass AND attname = 'title')"
            " OR (attrelid IN ('feedback_company_search_trgm'::regclass,"
            " 'feedback_contact_search_trgm'::regclass) AND attnum = 2) ORDER BY 1"
        )
        assert cursor.fetchall() == [
            ("feedback_company_search_trgm", "expr1", 1000),
            ("feedback_contact_search_trgm", "expr1", 1000),
            ("roadmap_feature", "title", 1000),
        ]
