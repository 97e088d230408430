"""A paper application by proxy for an elderly customer goes through the whole chain in Chromium.

A clerk signs in through the login page, enters the paper application with the relative's details
and a scan, saves it and submits it; then a district reviewer, a city reviewer, the department head
and the leader each sign in (signing out in between), find it in their queue and approve it. The
item page's timeline then shows the five decisions with the five names.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import FileSystemStorage
from playwright.sync_api import Page, expect

from tests.factories import AccountFactory
from tests.workflow.test_pages import PNG
from workflow.models import Application, Scan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-pass-2020"
# (username, roles, district, name shown in the timeline), in the order they act.
PEOPLE = [
    ("e2e_clerk", ("clerk",), "南岗", "王受理"),
    ("e2e_reviewer", ("district_reviewer",), "南岗", "李审核"),
    ("e2e_city", ("city_reviewer",), None, "赵专责"),
    ("e2e_head", ("department_head",), None, "钱主任"),
    ("e2e_leader", ("leader",), None, "孙领导"),
]


@pytest.fixture(autouse=True)
def private_scans(tmp_path, monkeypatch):
    """The live server runs in this process: its scans go to a temporary directory."""
    field = Scan._meta.get_field("file")
    monkeypatch.setattr(field, "storage", FileSystemStorage(location=tmp_path / "media", base_url=None))


def log_in(page: Page, base: str, username: str) -> None:
    """Through the login page, by keyboard: the username field has the focus; Enter submits."""
    page.goto(f"{base}/accounts/login/")
    expect(page.locator("input[name=username]")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def log_out(page: Page, base: str) -> None:
    page.locator("form[action$='/accounts/logout/'] button").click()
    page.wait_for_url("**/accounts/login/**")


def take_action(page: Page, action: str, then_state: str) -> None:
    """Press the action's button by keyboard and wait for the item to show its new state."""
    button = page.locator(f"form[data-action={action}] button")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f".page-header [data-state={then_state}]")).to_be_visible()


def test_paper_application_by_proxy_goes_through_five_people(live_server, page: Page, make_staff, tmp_path):
    base = live_server.url
    for username, roles, district, name in PEOPLE:
        make_staff(*roles, district=district, username=username, password=PASSWORD, first_name=name)
    elderly = AccountFactory(district_name="南岗", category="residential", industry_code="", name="刘桂兰")
    scan_file = tmp_path / "paper-form.png"
    scan_file.write_bytes(PNG)

    # --- the clerk enters the paper application and submits it -------------------------------
    log_in(page, base, "e2e_clerk")
    page.locator("nav a[href='/work/applications/new/']").click()
    page.wait_for_url(f"{base}/work/applications/new/")
    expect(page.locator("#id_account_no")).to_be_focused()  # autofocus on the first field
    page.keyboard.type(elderly.account_no)
    page.keyboard.press("Tab")
    expect(page.locator("#id_kind")).to_be_focused()  # the tab order follows the form
    page.select_option("#id_kind", "arrears_protection")
    page.keyboard.press("Tab")
    expect(page.locator("#id_channel")).to_be_focused()
    page.select_option("#id_channel", "paper_proxy")
    page.fill("#id_received_on", "2020-03-02")
    page.fill("#id_reason", "老人行动不便，欠费期间申请不停电，由女儿代办。")
    page.locator("#id_proxy_name").focus()
    page.keyboard.type("张丽")
    page.keyboard.press("Tab")
    page.keyboard.type("女儿")
    page.keyboard.press("Tab")
    page.keyboard.type("230102198001011234")
    page.keyboard.press("Tab")
    page.keyboard.type("13900000000")
    page.set_input_files("#id_scan_paper_form", str(scan_file))
    page.locator("#id_proxy_phone").press("Enter")  # Enter submits the form
    page.wait_for_url(re.compile(r".*/work/applications/\d+/$"))
    application = Application.objects.get()
    item_url = f"{base}/work/applications/{application.pk}/"
    assert page.url == item_url
    expect(page.locator(".alert-success")).to_contain_text(f"#{application.pk}")
    expect(page.locator(".page-header [data-state=draft]")).to_be_visible()
    expect(page.locator("#proxy-id-number")).to_contain_text("230***********1234")
    expect(page.locator("#scans-heading")).to_be_visible()
    expect(page.locator("a[href^='/work/scans/']")).to_have_count(1)
    take_action(page, "submit", "pending_district")
    log_out(page, base)

    # --- four approvers, each from their own queue -----------------------------------------------
    for username, state_after in (
        ("e2e_reviewer", "pending_city"),
        ("e2e_city", "pending_head"),
        ("e2e_head", "pending_leader"),
        ("e2e_leader", "approved"),
    ):
        log_in(page, base, username)
        page.locator("nav a[href='/work/queues/']").click()
        page.wait_for_url(re.compile(r".*/work/queues/\w+/$"))
        row = page.locator(f"tr[data-item='{application.pk}']")
        expect(row).to_be_visible()
        row.locator(f"a[href='/work/applications/{application.pk}/']").click()
        page.wait_for_url(item_url)
        take_action(page, "approve", state_after)
        log_out(page, base)

    # --- the timeline shows every decision and who took it -----------------------------------------
    log_in(page, base, "e2e_clerk")
    page.goto(item_url)
    expect(page.locator(".page-header [data-state=approved]")).to_be_visible()
    decisions = page.locator(".timeline-item:has(.decision-actor)")
    expect(decisions).to_have_count(5)
    assert decisions.locator(".decision-actor").all_inner_texts() == [name for *_, name in PEOPLE]
    assert [d.get_attribute("data-action") for d in decisions.all()] == ["submit"] + ["approve"] * 4
    application.refresh_from_db()
    assert application.state == "approved"
    assert application.proxy.relation == "女儿" and application.scans.count() == 1
