"""A team's capacity periods may not overlap: on PostgreSQL an exclusion constraint over
``daterange(starts_on, ends_on, '[]')`` (btree_gist lets ``team_id =`` join it); on SQLite
the service's check is the guard (writers are serialised there).

Rows that overlap already make this migration stop with the list of them, since only a
person can say which period is right; fix them in the admin console and migrate again.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CONSTRAINT = "team_capacity_no_overlap"


def add_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.team_id, a.period, b.period FROM roadmap_teamcapacity a
            JOIN roadmap_teamcapacity b ON a.team_id = b.team_id AND a.id < b.id
             AND a.starts_on <= b.ends_on AND b.starts_on <= a.ends_on
            ORDER BY a.team_id, a.starts_on
            """
        )
        clashes = cursor.fetchall()
    if clashes:
        listed = "; ".join(f"team {team}: {one} overlaps {other}" for team, one, other in clashes[:20])
        raise RuntimeError(
            f"Overlapping capacity periods ({len(clashes)}): {listed}. Fix them, then migrate."
        )
    schema_editor.execute(
        f"ALTER TABLE roadmap_teamcapacity ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (team_id WITH =, daterange(starts_on, ends_on, '[]') WITH &&)"
    )


def drop_exclusion(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE roadmap_teamcapacity DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [
        ("roadmap", "0005_recompute_runs_leases_failures"),
    ]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(add_exclusion, drop_exclusion),
    ]
