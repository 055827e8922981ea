"""Finer statistics for feature titles (PostgreSQL only).

The search box's ``title ILIKE '%word%'`` (``roadmap.selectors.feature_search``, answered by
``roadmap_feature_search_trgm`` or ``roadmap_feature_title_trgm``) is estimated from the
column's histogram. With the default target (100 bounds from a 30,000-row sample) one sampled
title that happens to contain a rare word moves the estimate a hundredfold and the planner
scans the table instead (one ANALYZE in about 25 at 60,000 features). A target of 1,000
samples 300,000 rows and keeps 1,000 bounds.
"""

from django.db import migrations


def _set(schema_editor, target: int) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE roadmap_feature ALTER COLUMN title SET STATISTICS {target}")


def forward(apps, schema_editor):
    _set(schema_editor, 1000)


def reverse(apps, schema_editor):
    _set(schema_editor, -1)


class Migration(migrations.Migration):
    dependencies = [("roadmap", "0014_saved_views")]

    operations = [migrations.RunPython(forward, reverse)]
