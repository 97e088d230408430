from django.db import migrations

# The nine districts of Harbin (programme.md §2).
DISTRICTS = [
    ("daoli", "道里"),
    ("nangang", "南岗"),
    ("daowai", "道外"),
    ("xiangfang", "香坊"),
    ("pingfang", "平房"),
    ("songbei", "松北"),
    ("hulan", "呼兰"),
    ("acheng", "阿城"),
    ("shuangcheng", "双城"),
]


def create_districts(apps, schema_editor):
    District = apps.get_model("portal", "District")
    for order, (code, name) in enumerate(DISTRICTS, start=1):
        District.objects.update_or_create(code=code, defaults={"name": name, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]
    operations = [migrations.RunPython(create_districts, migrations.RunPython.noop)]
