"""Duplicate lookups get one plan whatever the statistics say (feedback.similarity).

* The trigram GIN index is keyed on ``(workspace_id + 0)`` instead of ``workspace_id``. The
  lookup filters on that same expression, which no b-tree index matches, so the planner
  can only answer it with this index (workspace key and trigrams in one scan: a 20-item
  workspace beside 200,000 items of others reads only its own entries) or a sequential
  scan; it can no longer trust a stale estimate of the workspace's rows and walk them by
  a b-tree, comparing each.
* ``merged_into_id`` is indexed only where set: an index of every row could answer
  ``merged_into_id IS NULL``, and on a table never analysed (autovacuum off, a fresh
  import) the planner took it for the lookup and compared every row (about 1 s).

Not atomic: the GIN index is built ``CONCURRENTLY`` (writes go on while it builds; a
million rows take tens of seconds), then swapped for the old one under its name.
SQLite has neither index (``feedback.similarity`` scans there).
"""

import django.db.models.deletion
from django.db import migrations, models

PREDICATE = "WHERE merged_into_id IS NULL AND state <> 'archived'"
OPTIONS = "WITH (fastupdate = on, gin_pending_list_limit = 256)"


def _swap(schema_editor, key: str) -> None:
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS feedback_item_match_trgm_new")
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY feedback_item_match_trgm_new ON feedback_feedbackitem "
        f"USING gin ({key}, match_text gin_trgm_ops) {OPTIONS} {PREDICATE}"
    )
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS feedback_item_match_trgm")
    schema_editor.execute("ALTER INDEX feedback_item_match_trgm_new RENAME TO feedback_item_match_trgm")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _swap(schema_editor, "(workspace_id + 0)")


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _swap(schema_editor, "workspace_id")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("feedback", "0013_company_owners_consent")]

    operations = [
        migrations.RunPython(forward, reverse),
        migrations.AlterField(
            model_name="feedbackitem",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="merged_items",
                to="feedback.feedbackitem",
            ),
        ),
        migrations.AddIndex(
            model_name="feedbackitem",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)),
                fields=["merged_into"],
                name="feedback_item_merged_into",
            ),
        ),
    ]
