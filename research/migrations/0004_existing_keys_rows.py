"""Every key that existed before the tiers keeps the access it had: row-level (0003 gave it the new keys'
default, "summary"). Reversing does nothing: 0003's reversal drops the column."""

from django.db import migrations


def existing_keys_read_rows(apps, schema_editor):
    ApiKey = apps.get_model("research", "ApiKey")
    ApiKey.objects.using(schema_editor.connection.alias).update(tier="rows")


class Migration(migrations.Migration):
    dependencies = [("research", "0003_apikey_tier_rowrequest")]

    operations = [migrations.RunPython(existing_keys_read_rows, migrations.RunPython.noop, elidable=False)]
