"""The managers' dashboard in Chromium: a chart draws the numbers of its table, filters move both,
and an export downloads.

The charts are Chart.js (vendored): ``Chart.getChart(id).data`` gives back what a chart draws.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from billing import services, stats
from billing.posting import job_run_inline
from organisation.roles import Role
from tests.factories import AccountFactory, BillFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-pass-2020"


def _post(accounts, cause_id):
    with transaction.atomic():
        job = services.grant_discount(
            policy_code="discount-2020", cause_id=cause_id, account_ids=[a.pk for a in accounts]
        )
    job_run_inline(job=job)
    stats.stats_refresh(account_ids=[a.pk for a in accounts])


@pytest.fixture
def ledger(db, monkeypatch):
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    nangang = [
        AccountFactory(district_name="南岗", category="large_industrial", industry_code="2770"),
        AccountFactory(district_name="南岗", category="general_commercial"),
    ]
    daoli = [AccountFactory(district_name="道里", category="large_industrial", industry_code="2770")]
    for i, account in enumerate([*nangang, *daoli]):
        for month in (2, 3, 4):
            BillFactory(account=account, period=dt.date(2020, month, 1), energy_charge=Decimal(1000 * (i + month)))
    _post(nangang, 1)
    _post(daoli, 2)


def _number(text: str) -> float:
    return float(text.strip().replace(",", ""))


def _table_series(page: Page, slug: str, key: str) -> list[float]:
    cells = page.locator(f"#table-{slug} tbody td[data-key='{key}']")
    return [_number(t) for t in cells.all_inner_texts()]


def _chart(page: Page, slug: str) -> dict:
    return page.evaluate(
        f"(() => {{ const d = Chart.getChart('chart-{slug}').data; return {{labels: d.labels, "
        f"datasets: d.datasets.map(s => ({{key: s.key, data: s.data}})) }}; }})()"
    )


def _assert_chart_reads_table(page: Page, slug: str) -> dict:
    chart = _chart(page, slug)
    labels = page.locator(f"#table-{slug} tbody th").all_inner_texts()
    assert chart["labels"] == [label.strip() for label in labels]
    assert chart["datasets"], "the chart has no series"
    for dataset in chart["datasets"]:
        assert dataset["data"] == _table_series(page, slug, dataset["key"]), dataset["key"]
    return chart


def test_manager_reads_charts_filters_and_exports(live_server, page: Page, make_staff, ledger):
    user = make_staff(Role.MANAGER, username="e2e_manager", password=PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-discount-months')")

    city = _assert_chart_reads_table(page, "discount-months")
    assert [d["key"] for d in city["datasets"]] == ["large_industrial_yuan", "general_commercial_yuan"]
    # March, both districts' large industrial accounts: 5% of 3,000.00 (南岗) and of 5,000.00 (道里).
    march = city["labels"].index("2020-03")
    assert city["datasets"][0]["data"][march] == 150.0 + 250.0
    _assert_chart_reads_table(page, "discount-districts")

    # A filter (in the URL) changes the table and the chart alike.
    page.select_option("#id_district", "nangang")
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_url("**/dashboard/?*district=nangang*")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-discount-months')")
    nangang = _assert_chart_reads_table(page, "discount-months")
    assert nangang["datasets"][0]["data"][march] == 150.0
    assert nangang != city
    expect(page.locator("#table-discount-districts tbody th")).to_have_text(["南岗"])

    # The table's CSV export downloads with the filter applied and the table's numbers.
    with page.expect_download() as download_info:
        page.locator("#section-discount-months a[data-export=csv]").click()
    download = download_info.value
    assert download.suggested_filename == "dashboard-discount-months-all-nangang.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    march_row = next(row for row in rows if row[0] == "2020-03")
    assert Decimal(march_row[2]) == Decimal("150.00")
