"""Data migration: the demo tariffs of programme.md §5 (示例数据，非官方电价), effective 2020-01-01.

Official figures replace them by new rows with a later ``effective_from``; no code changes.
"""

from django.db import migrations


def load(apps, schema_editor):
    from billing.reference import load_demo_tariffs

    load_demo_tariffs(model=apps.get_model("billing", "Tariff"))


def unload(apps, schema_editor):
    from billing.reference import unload_demo_tariffs

    unload_demo_tariffs(model=apps.get_model("billing", "Tariff"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_load_industries")]
    operations = [migrations.RunPython(load, unload)]
