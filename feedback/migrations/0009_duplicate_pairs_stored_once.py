"""Item pairs of duplicate suggestions are stored once, the lower id as ``item``.

Rows stored the other way round are turned around; where both directions were stored,
one row stays, dismissed if either was, with the higher similarity.
"""

from django.db import migrations
from django.db.models import F


def store_each_pair_once(apps, schema_editor):
    Suggestion = apps.get_model("feedback", "DuplicateSuggestion")
    reversed_rows = Suggestion.objects.filter(similar_item__isnull=False, item_id__gt=F("similar_item_id"))
    for row in reversed_rows.order_by("id").iterator():
        twin = Suggestion.objects.filter(item_id=row.similar_item_id, similar_item_id=row.item_id).first()
        if twin is not None:
            Suggestion.objects.filter(pk=twin.pk).update(
                dismissed=twin.dismissed or row.dismissed, similarity=max(twin.similarity, row.similarity)
            )
            Suggestion.objects.filter(pk=row.pk).delete()
    # What is left has no twin: swap its two ends (the right-hand sides read the old row).
    reversed_rows.update(item_id=F("similar_item_id"), similar_item_id=F("item_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0008_link_and_vote_updated_at"),
    ]

    operations = [
        # The constraint comes in 0010: PostgreSQL cannot alter a table whose rows this
        # transaction changed while their deferred foreign-key checks are still pending.
        migrations.RunPython(store_each_pair_once, migrations.RunPython.noop),
    ]
