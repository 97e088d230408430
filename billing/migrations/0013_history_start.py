from django.db import migrations


def populate(apps, schema_editor):
    from organisation.history import history_populate

    for name in ("Policy", "Tariff"):
        history_populate(apps.get_model("billing", name), apps.get_model("billing", f"Historical{name}"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0012_history")]
    operations = [migrations.RunPython(populate, migrations.RunPython.noop)]
