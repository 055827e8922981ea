"""Fill ``match_text`` of feedback stored before duplicate detection existed.

Those rows keep ``duplicates_checked_at`` NULL, so beat's sweep then looks for
their duplicates too.
"""

from django.db import migrations

from feedback.matching import match_text


def backfill(apps, schema_editor):
    FeedbackItem = apps.get_model("feedback", "FeedbackItem")
    pending = FeedbackItem.objects.filter(match_text="").only("id", "text").order_by("id")
    last_id = 0
    while True:
        batch = list(pending.filter(id__gt=last_id)[:2000])
        if not batch:
            return
        for item in batch:
            item.match_text = match_text(item.text)
        FeedbackItem.objects.bulk_update(batch, ["match_text"])
        last_id = batch[-1].id


class Migration(migrations.Migration):
    dependencies = [("feedback", "0005_periodic_duplicates")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
