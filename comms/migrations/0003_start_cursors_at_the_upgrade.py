"""Workspaces that existed before comms start their event cursor at the upgrade: their
earlier events (releases shipped before) were told by the board's own notices then."""

from django.db import migrations
from django.db.models import Max


def forward(apps, schema_editor):
    Event = apps.get_model("productops", "Event")
    CommsSettings = apps.get_model("comms", "CommsSettings")
    latest = dict(Event.objects.values("workspace_id").annotate(m=Max("id")).values_list("workspace_id", "m"))
    existing = set(CommsSettings.objects.values_list("workspace_id", flat=True))
    CommsSettings.objects.bulk_create(
        [
            CommsSettings(workspace_id=ws, events_through_id=last)
            for ws, last in latest.items()
            if ws not in existing
        ]
    )
    for row in CommsSettings.objects.filter(workspace_id__in=existing & set(latest)):
        if row.events_through_id < latest[row.workspace_id]:
            row.events_through_id = latest[row.workspace_id]
            row.save(update_fields=["events_through_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0002_periodic_digests"),
        ("productops", "0010_outbox"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
