"""The posting job's progress bar on an approved list's page, live in Chromium.

The page polls the job's JSON endpoint every 2 s (static/js/posting-job.js): as chunks are posted
the bar moves, a failure shows its error, and once the job is done the bar is full and the polling
stops.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from billing import posting, services
from tests.factories import AccountFactory, BillFactory, EligibilityListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-pass-2020"
POLL_TIMEOUT_MS = 8000  # a few polling rounds of 2 s


def test_progress_bar_follows_the_job_and_stops_polling_when_done(
    live_server, page: Page, make_staff, monkeypatch, settings
):
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)  # no worker: the test posts the chunks
    monkeypatch.setattr(posting, "CHUNK_ACCOUNTS", 1)
    settings.PORTAL_POSTING_CHUNK_ACCOUNTS = 1
    accounts = [
        AccountFactory(district_name="南岗", category="large_industrial", industry_code="2770") for _ in range(3)
    ]
    for account in accounts:
        BillFactory(account=account, period=dt.date(2020, 3, 1), energy_charge=Decimal("10000.00"))
    lst = EligibilityListFactory(district_name="南岗", state="approved")
    with transaction.atomic():
        job = services.grant_discount(
            policy_code="discount-2020", cause_id=lst.pk, account_ids=[account.pk for account in accounts]
        )
    chunk_ids = posting.job_plan(job=job)
    assert len(chunk_ids) == 3

    user = make_staff("clerk", district="南岗", username="e2e_progress", password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/?next=/work/lists/{lst.pk}/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/work/lists/{lst.pk}/")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/posting-job/" in request.url else None)

    box = page.locator("[data-posting-job]")
    expect(box.locator("[data-job-progress]")).to_have_text("0")
    expect(box.locator("[data-job-chunks]")).to_have_text("已完成 0 / 3 个分块")

    posting.chunk_run(chunk_id=chunk_ids[0])
    expect(box.locator("[data-job-progress]")).to_have_text("33", timeout=POLL_TIMEOUT_MS)
    expect(box.locator("[data-job-progressbar]")).to_have_attribute("aria-valuenow", "33")
    expect(box.locator("[data-job-chunks]")).to_have_text("已完成 1 / 3 个分块")

    posting.job_fail(job_id=job.pk, error="OperationalError: database is locked")
    expect(box.locator("[data-job-error]")).to_be_visible(timeout=POLL_TIMEOUT_MS)
    expect(box.locator("[data-job-error-text]")).to_have_text("OperationalError: database is locked")
    expect(box.locator("[data-job-state]")).to_have_text("失败（将自动重试）")

    for chunk_id in chunk_ids[1:]:
        posting.chunk_run(chunk_id=chunk_id)
    expect(box).to_have_attribute("data-state", "done", timeout=POLL_TIMEOUT_MS)
    expect(box.locator("[data-job-progress]")).to_have_text("100")
    expect(box.locator("[data-job-bar]")).to_have_class("progress-bar bg-success")
    expect(box.locator("[data-job-error]")).to_be_hidden()
    expect(box.locator("[data-job-done-note]")).to_be_visible()

    count = len(polls)
    page.wait_for_timeout(4500)  # two more polling intervals
    assert len(polls) == count, "the page kept polling after the job was done"
