"""The Django admin: administrators only, staff managed without deleting anyone (docs/admin.md)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from organisation.models import District, User
from organisation.roles import ROLE_PERMISSIONS, Role
from tests.factories import AccountFactory

PASSWORD = "demo-pass-123"  # tests.factories.StaffFactory
STRONG = "Harbin-Relief-2020!"

OTHER_ROLES = [r.value for r in Role if r != Role.ADMIN]


def _staff_form(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "district": user.district_id or "",
        "roles": sorted(user.roles),
        "is_active": "on" if user.is_active else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None and v != ""}


# --- who gets in -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_group_has_its_permissions_right_after_migrate():
    """The role groups are rebuilt after the last app's post_migrate: billing's and workflow's
    permissions exist by then (a fresh database had none of them in the admin group before)."""
    group = Group.objects.get(name=Role.ADMIN)
    have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
    assert have == set(ROLE_PERMISSIONS[Role.ADMIN])
    assert "portal.delete_user" not in have


@pytest.mark.django_db
def test_the_admin_reaches_staff_tariffs_and_policies(admin_client, make_staff):
    clerk = make_staff(Role.CLERK, district="南岗")
    index = admin_client.get("/admin/")
    assert index.status_code == 200
    body = index.content.decode()
    for url in ("/admin/portal/user/", "/admin/billing/tariff/", "/admin/billing/policy/", "/admin/portal/district/"):
        assert f'href="{url}"' in body, url
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(reverse("admin:portal_user_change", args=[clerk.pk])).status_code == 200
    assert admin_client.get(reverse("admin:portal_user_add")).status_code == 200
    assert admin_client.get(reverse("admin:auth_user_password_change", args=[clerk.pk])).status_code == 200


@pytest.mark.django_db
def test_the_admin_speaks_chinese_by_default(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert "电费优惠工作平台管理" in body  # the site header (our catalogue)
    assert "用户" in body or "人员" in body  # Django's zh_Hans admin strings and our model names


@pytest.mark.django_db
@pytest.mark.parametrize("role", OTHER_ROLES)
def test_no_other_role_reaches_the_admin(client, make_staff, role):
    district = "南岗" if role in (Role.CLERK, Role.DISTRICT_REVIEWER) else None
    user = make_staff(role, district=district, is_staff=True)  # even with is_staff set
    client.force_login(user)
    for url in ("/admin/", "/admin/portal/user/", "/admin/billing/policy/", "/admin/billing/ledgerentry/"):
        response = client.get(url)
        assert response.status_code == 302, (role, url, response.status_code)
        assert response["Location"].startswith(reverse("admin:login")), (role, url)
    login_page = client.get(reverse("admin:login")).content.decode()
    assert "/admin/portal/user/" not in login_page and "/admin/billing/" not in login_page


@pytest.mark.django_db
@pytest.mark.parametrize("role", OTHER_ROLES)
def test_the_admin_login_form_refuses_other_roles(client, make_staff, role):
    district = "南岗" if role in (Role.CLERK, Role.DISTRICT_REVIEWER) else None
    make_staff(role, district=district, username=f"u_{role}", is_staff=True)
    response = client.post(reverse("admin:login"), {"username": f"u_{role}", "password": PASSWORD})
    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_login_form_lets_an_administrator_in(client, admin_user):
    response = client.post(reverse("admin:login") + "?next=/admin/", {"username": "sysadmin", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_a_disabled_administrator_is_refused(client, make_staff):
    user = make_staff(Role.ADMIN, is_active=False)
    client.force_login(user)
    assert client.get("/admin/").status_code == 302


# --- staff -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_creates_a_clerk_with_a_district(admin_client, districts):
    response = admin_client.post(
        reverse("admin:portal_user_add"),
        {
            "username": "zhang",
            "password1": STRONG,
            "password2": STRONG,
            "roles": ["clerk"],
            "district": districts["南岗"].pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="zhang")
    assert user.roles == {"clerk"} and user.district.name == "南岗"
    assert user.check_password(STRONG) and not user.is_staff


@pytest.mark.django_db
def test_creating_a_clerk_without_a_district_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:portal_user_add"),
        {"username": "wang", "password1": STRONG, "password2": STRONG, "roles": ["clerk"]},
    )
    assert response.status_code == 200
    assert "district" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="wang").exists()


@pytest.mark.django_db
def test_creating_someone_without_a_role_is_refused(admin_client):
    response = admin_client.post(
        reverse("admin:portal_user_add"), {"username": "li", "password1": STRONG, "password2": STRONG}
    )
    assert response.status_code == 200
    assert "roles" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="li").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["12345678", "password", "li2020"])
def test_a_weak_password_is_refused(admin_client, weak):
    response = admin_client.post(
        reverse("admin:portal_user_add"),
        {"username": "li2020", "password1": weak, "password2": weak, "roles": ["manager"]},
    )
    assert response.status_code == 200
    assert "password2" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="li2020").exists()


@pytest.mark.django_db
def test_the_admin_changes_roles_and_disables_a_person(admin_client, make_staff, districts):
    user = make_staff(Role.CLERK, district="南岗", username="zhao")
    url = reverse("admin:portal_user_change", args=[user.pk])
    response = admin_client.post(
        url, _staff_form(user, roles=["city_reviewer", "admin"], district=None, is_active=None)
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(pk=user.pk)
    assert user.roles == {"city_reviewer", "admin"} and user.is_staff and not user.is_active
    assert user.district is None
    assert user.history.first().history_user.username == "sysadmin"
    history = admin_client.get(reverse("admin:portal_user_history", args=[user.pk]))
    assert history.status_code == 200 and "sysadmin" in history.content.decode()


@pytest.mark.django_db
def test_changing_a_district_reviewer_to_no_district_is_refused(admin_client, make_staff):
    user = make_staff(Role.DISTRICT_REVIEWER, district="道里")
    response = admin_client.post(reverse("admin:portal_user_change", args=[user.pk]), _staff_form(user, district=None))
    assert response.status_code == 200
    assert "district" in response.context["adminform"].form.errors
    assert User.objects.get(pk=user.pk).district.name == "道里"


@pytest.mark.django_db
def test_an_administrator_cannot_lock_themselves_out(admin_client, admin_user):
    url = reverse("admin:portal_user_change", args=[admin_user.pk])
    response = admin_client.post(url, _staff_form(admin_user, roles=["manager"], is_active=None))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "roles" in errors and "is_active" in errors
    assert User.objects.get(pk=admin_user.pk).roles == {"admin"}


@pytest.mark.django_db
def test_the_admin_resets_a_password_with_the_validators(admin_client, make_staff):
    user = make_staff(Role.MANAGER)
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    weak = admin_client.post(url, {"password1": "123", "password2": "123", "usable_password": "true"})
    assert weak.status_code == 200
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    strong = admin_client.post(url, {"password1": STRONG, "password2": STRONG, "usable_password": "true"})
    assert strong.status_code == 302
    assert User.objects.get(pk=user.pk).check_password(STRONG)


@pytest.mark.django_db
def test_a_user_cannot_be_deleted(admin_client, make_staff):
    user = make_staff(Role.CLERK, district="南岗")
    url = reverse("admin:portal_user_delete", args=[user.pk])
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    changelist = admin_client.post(
        reverse("admin:portal_user_changelist"), {"action": "delete_selected", "_selected_action": [user.pk]}
    )
    assert changelist.status_code in (200, 302)
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
def test_an_administrator_cannot_change_a_superuser(admin_client):
    root = User.objects.create_superuser("root", password=STRONG)
    assert admin_client.post(reverse("admin:portal_user_change", args=[root.pk]), {"username": "x"}).status_code == 403
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])
    assert (
        admin_client.post(password_url, {"password1": "Other-Pass-2020", "password2": "Other-Pass-2020"}).status_code
        == 403
    )
    assert User.objects.get(pk=root.pk).check_password(STRONG)


# --- districts ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_district_with_staff_or_accounts_cannot_be_deleted(admin_client, make_staff, districts):
    make_staff(Role.CLERK, district="南岗")
    AccountFactory(district_name="道里")
    for name in ("南岗", "道里"):
        url = reverse("admin:portal_district_delete", args=[districts[name].pk])
        assert admin_client.get(url).status_code == 403
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert District.objects.filter(name__in=["南岗", "道里"]).count() == 2
    empty = District.objects.create(code="test", name="测试区", sort_order=99)
    assert (
        admin_client.post(reverse("admin:portal_district_delete", args=[empty.pk]), {"post": "yes"}).status_code == 302
    )
    assert not District.objects.filter(pk=empty.pk).exists()


@pytest.mark.django_db
def test_the_admin_adds_and_renames_a_district(admin_client):
    response = admin_client.post(
        reverse("admin:portal_district_add"), {"code": "xinqu", "name": "新区", "sort_order": 10}
    )
    assert response.status_code == 302
    district = District.objects.get(code="xinqu")
    response = admin_client.post(
        reverse("admin:portal_district_change", args=[district.pk]),
        {"code": "xinqu", "name": "新区二", "sort_order": 10},
    )
    assert response.status_code == 302
    assert District.objects.get(pk=district.pk).name == "新区二"


@pytest.mark.django_db
def test_staff_history_has_no_password_and_no_row_per_login(client, make_staff):
    user = make_staff(Role.MANAGER, username="he")
    rows = user.history.count()
    assert client.login(username="he", password=PASSWORD)
    assert User.objects.get(pk=user.pk).last_login is not None
    assert user.history.count() == rows
    assert not {"password", "last_login"} & {f.name for f in user.history.model._meta.fields}
