import pytest
from django.core.management import CommandError, call_command

from organisation.models import User


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("s3cret-Passw0rd\n", encoding="utf-8")
    return path


@pytest.mark.django_db
def test_add_staff_creates_clerk_in_district(password_file):
    call_command("add_staff", "zhang", "--role", "clerk", "--district", "南岗", "--password-file", str(password_file))
    user = User.objects.get(username="zhang")
    assert user.roles == {"clerk"}
    assert user.district.name == "南岗"
    assert user.check_password("s3cret-Passw0rd")
    assert not user.sees_all_districts


@pytest.mark.django_db
def test_add_staff_repeated_role_and_update(password_file):
    call_command("add_staff", "li", "--role", "clerk", "--district", "道里", "--password-file", str(password_file))
    call_command(
        "add_staff",
        "li",
        "--role",
        "clerk",
        "--role",
        "district_reviewer",
        "--district",
        "道里",
        "--password-file",
        str(password_file),
    )
    user = User.objects.get(username="li")
    assert user.roles == {"clerk", "district_reviewer"}
    assert User.objects.filter(username="li").count() == 1


@pytest.mark.django_db
def test_add_staff_clerk_without_district_is_refused(password_file):
    with pytest.raises(CommandError, match="--district"):
        call_command("add_staff", "wang", "--role", "clerk", "--password-file", str(password_file))
    assert not User.objects.filter(username="wang").exists()


@pytest.mark.django_db
def test_add_staff_unknown_district_names_choices(password_file):
    with pytest.raises(CommandError, match="unknown district"):
        call_command(
            "add_staff", "wang", "--role", "clerk", "--district", "朝阳", "--password-file", str(password_file)
        )


@pytest.mark.django_db
def test_manager_sees_all_districts(password_file):
    call_command("add_staff", "boss", "--role", "manager", "--password-file", str(password_file))
    assert User.objects.get(username="boss").sees_all_districts


@pytest.mark.django_db
def test_nine_districts_exist(districts):
    assert set(districts) == {"道里", "南岗", "道外", "香坊", "平房", "松北", "呼兰", "阿城", "双城"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Sh0rt-pass", "12"),  # 10 characters
        ("password1234", "common"),
        ("zhaoliu-2020", "similar"),
        ("314159265358979", "numeric"),
    ],
)
def test_add_staff_refuses_a_password_the_rules_refuse_and_writes_nothing(tmp_path, password, rule):
    from django.utils import translation

    path = tmp_path / "pw.txt"
    path.write_text(password + "\n", encoding="utf-8")
    with translation.override("en"), pytest.raises(CommandError) as raised:
        call_command("add_staff", "zhaoliu", "--role", "manager", "--password-file", str(path))
    assert raised.value.returncode == 2
    message = str(raised.value)
    assert message.startswith("--password-file:")
    assert {
        "12": "at least 12 characters",
        "common": "too common",
        "similar": "too similar",
        "numeric": "entirely numeric",
    }[rule] in message
    assert not User.objects.filter(username="zhaoliu").exists()
