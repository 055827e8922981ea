from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0009_duplicate_pairs_stored_once"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="duplicatesuggestion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("similar_item__isnull", True), ("item__lt", models.F("similar_item")), _connector="OR"
                ),
                name="duplicate_suggestion_pair_ordered",
            ),
        ),
    ]
