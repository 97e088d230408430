from django.db import migrations


def populate(apps, schema_editor):
    from organisation.history import history_populate

    history_populate(apps.get_model("portal", "User"), apps.get_model("portal", "HistoricalUser"))


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_staff_history")]
    operations = [migrations.RunPython(populate, migrations.RunPython.noop)]
