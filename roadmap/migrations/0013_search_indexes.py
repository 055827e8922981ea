"""The search box's index on feature titles, and the admin's plural names.

* ``roadmap_feature_search_trgm``: a trigram GIN index on ``((workspace_id + 0), title)``
  (``btree_gin`` for the key), the expression ``roadmap.selectors.feature_search`` filters on
  (``productops.search``): ``(workspace_id + 0) = <id>::bigint AND title ILIKE '%word%'`` is one
  bitmap scan of it, and no b-tree index has that key, so the planner cannot walk a large
  workspace's rows instead. PostgreSQL only; SQLite searches with ``icontains``.
* ``verbose_name_plural`` of four models (the admin's "Feature dependencies", "Roadmap
  settings", "Scorecard criteria", "Team capacities").

Not atomic: the index is built ``CONCURRENTLY`` (writes go on while it builds). The extensions
are feedback 0004's; they are created here too (``IF NOT EXISTS``), since nothing orders this
migration after that one.
"""

from django.db import migrations

INDEX = "roadmap_feature_search_trgm"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY {INDEX} ON roadmap_feature "
            "USING gin ((workspace_id + 0), title gin_trgm_ops)"
        )


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("roadmap", "0012_feature_comments")]

    operations = [
        migrations.RunPython(forward, reverse),
        migrations.AlterModelOptions(
            name="featuredependency",
            options={"verbose_name_plural": "feature dependencies"},
        ),
        migrations.AlterModelOptions(
            name="roadmapsettings",
            options={"verbose_name_plural": "roadmap settings"},
        ),
        migrations.AlterModelOptions(
            name="scorecardcriterion",
            options={"ordering": ["position", "id"], "verbose_name_plural": "scorecard criteria"},
        ),
        migrations.AlterModelOptions(
            name="teamcapacity",
            options={"ordering": ["team_id", "starts_on", "id"], "verbose_name_plural": "team capacities"},
        ),
    ]
