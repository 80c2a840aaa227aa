"""The registry-wide default outcome plans: see outcomes/defaults.py."""

from django.db import migrations

from outcomes.defaults import DEFAULT_PLANS, ensure_default_plans


def create(apps, schema_editor):
    ensure_default_plans(apps.get_model("outcomes", "OutcomePlan"), apps.get_model("outcomes", "OutcomePlanItem"))


def remove(apps, schema_editor):
    apps.get_model("outcomes", "OutcomePlan").objects.filter(
        site=None, protocol=None, name__in=[v[0] for v in DEFAULT_PLANS.values()]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
