"""Duplicate lookups must not slow down after a big ingest.

GIN's fast-update pending list defers index maintenance of new rows, and every
lookup scans that list linearly until it is merged. With the default 4 MB
limit, right after ingesting 100,000 items a lookup took hundreds of
milliseconds and the duplicate worker managed a few items a second; without a
pending list at all, every insert pays for the index at once and bulk ingest
halves. A 256 kB list keeps both: inserts are batched into the index every few
hundred rows, and a lookup never scans more than that.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER INDEX feedback_item_match_trgm SET (fastupdate = on, gin_pending_list_limit = 256)"
        )


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER INDEX feedback_item_match_trgm RESET (fastupdate, gin_pending_list_limit)"
        )


class Migration(migrations.Migration):
    dependencies = [("feedback", "0006_backfill_match_text")]

    operations = [migrations.RunPython(forward, reverse)]
