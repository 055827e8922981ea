"""The search box's indexes on companies and contacts (PostgreSQL only).

Trigram GIN indexes keyed on ``(workspace_id + 0)`` (``btree_gin``), the expression
``feedback.selectors.company_search`` and ``contact_search`` filter on (``productops.search``):

* ``feedback_company_search_trgm`` on ``((workspace_id + 0), (name || ' ' || domain))``;
* ``feedback_contact_search_trgm`` on ``((workspace_id + 0), (email || ' ' || name))``.

``(workspace_id + 0) = <id>::bigint AND (name || ' ' || domain) ILIKE '%word%'`` (one condition
per word) is one bitmap scan of the index, which no b-tree can answer instead. SQLite searches
with ``icontains``.

Not atomic: the indexes are built ``CONCURRENTLY`` (writes go on while they build).
"""

from django.db import migrations

INDEXES = {
    "feedback_company_search_trgm": "feedback_company USING gin ((workspace_id + 0), (name || ' ' || domain) gin_trgm_ops)",
    "feedback_contact_search_trgm": "feedback_contact USING gin ((workspace_id + 0), (email || ' ' || name) gin_trgm_ops)",
}


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY {name} ON {definition}")


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("feedback", "0014_duplicate_lookup_plans")]

    operations = [migrations.RunPython(forward, reverse)]
