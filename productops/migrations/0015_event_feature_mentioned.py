# The event kind of @mentions in a feature's internal comments (issue 13).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("productops", "0014_workspace_embed_origins")]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="kind",
            field=models.CharField(
                choices=[
                    ("release.shipped", "Release shipped"),
                    ("feature.status_changed", "Feature status changed"),
                    ("feedback.created", "Feedback created"),
                    ("priority.rank_changed", "Priority rank changed"),
                    ("feature.threshold_crossed", "Feature passed a threshold"),
                    ("webhook.test", "Test event"),
                    ("feature.mentioned", "Members mentioned in a feature comment"),
                ],
                max_length=60,
            ),
        ),
    ]
