"""Each existing workspace reports in the currency most of its companies' ARR is in.

Before reporting currencies, ARR was added up as stored whatever its currency. A
workspace whose companies are all in EUR would otherwise start reporting in USD with no
EUR rate, and every company's ARR would count 0 until an admin set one. Only workspaces
still on the defaults (USD, no rates) are changed; the others' owner already chose. A
workspace with ARR in several currencies still needs the other rates, which the
workspace settings page lists as missing.
"""

from django.db import migrations
from django.db.models import Sum


def report_in_the_main_arr_currency(apps, schema_editor):
    Workspace = apps.get_model("productops", "Workspace")
    Company = apps.get_model("feedback", "Company")
    totals: dict[int, tuple[str, object]] = {}
    for row in (
        Company.objects.filter(arr__gt=0)
        .values("workspace_id", "arr_currency")
        .annotate(total=Sum("arr"))
        .order_by("workspace_id", "-total", "arr_currency")
    ):
        totals.setdefault(row["workspace_id"], (row["arr_currency"], row["total"]))
    for workspace_id, (currency, _) in totals.items():
        if currency != "USD":
            Workspace.objects.filter(pk=workspace_id, reporting_currency="USD", currency_rates={}).update(
                reporting_currency=currency
            )


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0011_sync_timestamps_and_external_ids"),
        ("productops", "0007_workspace_reporting_currency"),
    ]

    operations = [migrations.RunPython(report_in_the_main_arr_currency, migrations.RunPython.noop)]
