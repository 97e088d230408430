"""An administrator signs in to the admin in Chromium, renames a policy and finds the change in its history."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from billing.models import Policy
from organisation.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-pass-2020"
NEW_NAME = "支持性两部制电价政策（浏览器修订）"


def test_admin_renames_a_policy_and_sees_it_in_the_history(live_server, page, make_staff):
    make_staff(Role.ADMIN, username="e2e_admin", password=PASSWORD)
    policy = Policy.objects.get(code="two-part-relief-2020")
    old_name = policy.name
    base = live_server.url
    page.goto(f"{base}/admin/")
    page.wait_for_url("**/admin/login/**")
    expect(page.locator("#site-name")).to_contain_text("电费优惠工作平台管理")
    page.fill("input[name=username]", "e2e_admin")
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/billing/policy/{policy.pk}/change/")
    page.fill("input[name=name]", NEW_NAME)
    page.locator("input[name=_save]").click()
    page.wait_for_url(f"{base}/admin/billing/policy/")
    expect(page.locator("ul.messagelist")).to_contain_text(NEW_NAME)
    page.goto(f"{base}/admin/billing/policy/{policy.pk}/history/")
    history = page.locator("#change-history")
    expect(history).to_contain_text("e2e_admin")
    expect(history).to_contain_text(old_name)
    expect(history).to_contain_text(NEW_NAME)
    assert Policy.objects.get(pk=policy.pk).name == NEW_NAME
