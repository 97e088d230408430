"""Every role can sign in through the real login page in Chromium and lands on its home page."""

import pytest

from organisation.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-pass-2020"


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_each_role_logs_in_and_out(role, live_server, page, make_staff):
    district = "南岗" if role in ("clerk", "district_reviewer") else None
    user = make_staff(role, district=district, username=f"e2e_{role}", password=PASSWORD)
    page.goto(f"{live_server.url}/customers/")
    assert "/accounts/login/" in page.url  # private by default
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")
    assert user.username in page.content()
    page.goto(f"{live_server.url}/")
    page.locator("form[action$='/accounts/logout/'] button").click()
    page.wait_for_url("**/accounts/login/**")


def test_wrong_password_is_refused_with_a_message(live_server, page, make_staff):
    make_staff("clerk", district="南岗", username="e2e_wrong", password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "e2e_wrong")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "/accounts/login/" in page.url
    assert page.locator(".errorlist, .alert-danger").count() >= 1
