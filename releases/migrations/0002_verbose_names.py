"""The admin's plural names of the two settings models ("Changelog settings", "Release settings")."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("releases", "0001_initial")]

    operations = [
        migrations.AlterModelOptions(
            name="changelogsettings",
            options={"verbose_name_plural": "changelog settings"},
        ),
        migrations.AlterModelOptions(
            name="releasesettings",
            options={"verbose_name_plural": "release settings"},
        ),
    ]
