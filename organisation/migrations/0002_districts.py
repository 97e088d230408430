from django.db import migrations


def create_districts(apps, schema_editor):
    # The nine districts of Harbin (programme.md §2).
    from organisation.reference import load_districts

    load_districts(model=apps.get_model("portal", "District"))


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]
    operations = [migrations.RunPython(create_districts, migrations.RunPython.noop)]
