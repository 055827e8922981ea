"""Finer statistics for the search box's trigram expressions (PostgreSQL only).

``feedback_company_search_trgm`` and ``feedback_contact_search_trgm`` (0015) index an
expression, and ``ILIKE '%word%'`` on it is estimated from the expression's histogram: with
the default target (100 bounds from a 30,000-row sample), one sampled bound that happens to
contain a rare word ("acct4321" in "acct14321.example") moves the estimate from 0.01 % to 1 %
of the table, and the planner scans the table instead of the index (one ANALYZE in about 25
at 60,000 rows). A target of 1,000 samples 300,000 rows (all of them below that) and keeps
1,000 bounds, so a rare word's estimate no longer depends on the sample's luck.
"""

from django.db import migrations

INDEXES = ("feedback_company_search_trgm", "feedback_contact_search_trgm")


def _set(schema_editor, target: int) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for index in INDEXES:
            # Column 2 is the searched text; column 1, (workspace_id + 0), keeps the default.
            schema_editor.execute(f"ALTER INDEX {index} ALTER COLUMN 2 SET STATISTICS {target}")


def forward(apps, schema_editor):
    _set(schema_editor, 1000)


def reverse(apps, schema_editor):
    _set(schema_editor, -1)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0018_vector_workspace_index")]

    operations = [migrations.RunPython(forward, reverse)]
