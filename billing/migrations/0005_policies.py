from django.db import migrations


def load(apps, schema_editor):
    from billing.policies import load_policies

    load_policies(model=apps.get_model("billing", "Policy"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_policy")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
