"""Demand beside the rank (issue 13): the recompute stores the ARR at stake and the
deal-blockers (critical requests) on the feature, beside ``requesting_companies``.

Existing features are marked dirty (``score_state`` 1), so beat's next sweep fills both
columns in one set-based run per workspace instead of showing zeros until the daily run."""

from django.db import migrations, models


def mark_scored_features_dirty(apps, schema_editor):
    Feature = apps.get_model("roadmap", "Feature")
    Feature.objects.filter(score_state=0).update(score_state=1)


class Migration(migrations.Migration):
    dependencies = [("roadmap", "0010_recompute_request_ids")]

    operations = [
        migrations.AddField(
            model_name="feature",
            name="arr_at_stake",
            field=models.FloatField(default=0.0),
        ),
        migrations.AddField(
            model_name="feature",
            name="critical_requests",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(mark_scored_features_dirty, migrations.RunPython.noop, elidable=True),
    ]
