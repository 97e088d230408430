"""Data migration: load the GB/T 4754-2017 classes (billing/data/gbt4754_2017.csv) into Industry.

``high_energy`` is decided by the code through ``billing.industry.is_high_energy`` (the six
divisions of programme.md M1), never by the name. The loader is idempotent and can be re-run.
"""

from django.db import migrations


def load(apps, schema_editor):
    from billing.reference import load_industries

    load_industries(model=apps.get_model("billing", "Industry"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
