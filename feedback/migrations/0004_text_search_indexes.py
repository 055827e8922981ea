"""Indexes for duplicate detection and search, on PostgreSQL.

* ``pg_trgm`` trigram GIN indexes on the open feedback's ``match_text`` and on
  feature titles, each led by ``workspace_id`` (``btree_gin``), so the ``%``
  similarity operator is an index scan within one workspace;
* a full-text GIN index on the feedback text for ``?search=``.

SQLite has no such indexes; ``feedback.similarity`` falls back to a bounded
scan there (the zero-setup default is for small installs).
"""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    """CREATE INDEX IF NOT EXISTS feedback_item_match_trgm ON feedback_feedbackitem
       USING gin (workspace_id, match_text gin_trgm_ops)
       WHERE merged_into_id IS NULL AND state <> 'archived'""",
    """CREATE INDEX IF NOT EXISTS roadmap_feature_title_trgm ON roadmap_feature
       USING gin (workspace_id, title gin_trgm_ops)""",
    """CREATE INDEX IF NOT EXISTS feedback_item_text_search ON feedback_feedbackitem
       USING gin (to_tsvector('english'::regconfig, COALESCE(text, '')))""",
]
POSTGRES_REVERSE = [
    "DROP INDEX IF EXISTS feedback_item_text_search",
    "DROP INDEX IF EXISTS roadmap_feature_title_trgm",
    "DROP INDEX IF EXISTS feedback_item_match_trgm",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_FORWARD:
            schema_editor.execute(statement)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0003_duplicates_webhooks_idempotency")]

    operations = [migrations.RunPython(forward, reverse)]
