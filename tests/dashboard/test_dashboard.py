"""The managers' dashboard (issue 5): figures reconciled to the ledger, roles, queries, API, exports.

The scenario approves lists and applications the way the portal does (the chain's service, whose
approval writes grants and a posting job), posts the jobs in-process, imports a later month's
bills through the real import (which creates a job for the new bills), and refreshes the summary
rows after each posting as the posting chunk does (``billing.stats.stats_refresh``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from openpyxl import load_workbook

from billing import services, stats
from billing.imports import import_bills
from billing.models import Account, Bill, LedgerEntry, PostingJob, StatsMetric, StatsMonth, period_label
from billing.posting import job_run_inline
from dashboard.exports import csv_text, xlsx_bytes
from dashboard.figures import Figures
from dashboard.measures import MEASURES
from organisation.roles import Role
from tests.factories import AccountFactory, ApplicationFactory, BillFactory, EligibilityListFactory
from workflow.chain import Action, State
from workflow.models import EligibilityEntry
from workflow.services import item_transition

FEB, MAR, APR, MAY = (dt.date(2020, m, 1) for m in (2, 3, 4, 5))
ZERO = Decimal("0.00")
KINDS = {
    StatsMetric.DISCOUNT: ("discount",),
    StatsMetric.TWO_PART: ("basic_charge_credit", "demand_relief_credit"),
    StatsMetric.INVESTMENT_WAIVER: ("investment_waiver",),
    StatsMetric.LATE_FEE_WAIVER: ("late_fee_waiver",),
    StatsMetric.ALL: (
        "discount",
        "basic_charge_credit",
        "demand_relief_credit",
        "investment_waiver",
        "late_fee_waiver",
    ),
}


def _post_pending_jobs() -> None:
    """What the workers do: run every job not done (``job_run_inline`` refreshes each chunk's summary
    rows after it), then refresh the summary rows of every chunk's whole range again (a no-op)."""
    for job in PostingJob.objects.exclude(state="done").order_by("id"):
        job_run_inline(job=job)
        for chunk in job.chunks.all():
            stats.stats_refresh(account_from=chunk.account_from, account_to=chunk.account_to)


def _chain_approve(item, staff):
    """From pending_leader to approved by the leader (the chain service writes grants and the job)."""
    return item_transition(item=item, action=Action.APPROVE, by=staff["leader"])


@pytest.fixture
def staff(make_staff):
    return {
        "manager": make_staff(Role.MANAGER),
        "leader": make_staff(Role.LEADER),
        "city": make_staff(Role.CITY_REVIEWER),
        "clerk_ng": make_staff(Role.CLERK, district="南岗"),
        "reviewer_ng": make_staff(Role.DISTRICT_REVIEWER, district="南岗"),
        "reviewer_dl": make_staff(Role.DISTRICT_REVIEWER, district="道里"),
    }


@pytest.fixture
def scenario(db, staff, monkeypatch):
    """Lists and applications approved, bills imported, the ledger posted and the summary kept."""
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)  # no worker: posted below
    a = {}
    # 南岗: a two-part 大工业 account (programme.md M8's example) and a small 一般工商业 enterprise
    # whose March bill hits the tie 10.10 × 5% = 0.505 → 0.51 (ROUND_HALF_UP).
    a["plant"] = AccountFactory(
        district_name="南岗",
        category="large_industrial",
        industry_code="2770",
        basic_charge_method="capacity",
        capacity_kva=Decimal(1000),
    )
    a["shop"] = AccountFactory(district_name="南岗", category="general_commercial", enterprise_size="small")
    a["steel"] = AccountFactory(district_name="南岗", category="large_industrial", industry_code="3011")  # high-energy
    for month in (FEB, MAR, APR):
        BillFactory(
            account=a["plant"],
            period=month,
            energy_charge=Decimal("10000.00"),
            basic_rate=Decimal("25"),
            basic_charge=Decimal("25000.00"),
            late_fee=Decimal("12.34"),
            paid=Decimal("35012.34"),
        )
        BillFactory(account=a["shop"], period=month, energy_charge=Decimal("10.10"), paid=Decimal("0.00"))
        BillFactory(account=a["steel"], period=month, energy_charge=Decimal("50000.00"))
    # 道里: a 一般工商业 account and a protected household in arrears.
    a["office"] = AccountFactory(district_name="道里", category="general_commercial")
    a["home"] = AccountFactory(district_name="道里", category="residential", industry_code="")
    for month in (FEB, MAR, APR):
        BillFactory(account=a["office"], period=month, energy_charge=Decimal("2345.67"), paid=Decimal("2345.67"))
        BillFactory(account=a["home"], period=month, energy_charge=Decimal("120.00"), paid=Decimal("20.00"))
    # 道外: fifty accounts with 5.00 of discount each in March: 50 accounts = 0.005 万户 and 250.00 yuan
    # = 0.025 万元, both ties that ROUND_HALF_UP rounds to 0.01 / 0.03 (half-even would give 0.00 / 0.02).
    small = [AccountFactory(district_name="道外", category="general_commercial") for _ in range(50)]
    for account in small:
        BillFactory(account=account, period=MAR, energy_charge=Decimal("100.00"))
    # 平房: one large account with 2,500,000.00 of discount in March: 0.025 亿元 → 0.03.
    a["giant"] = AccountFactory(district_name="平房", category="large_industrial")
    BillFactory(account=a["giant"], period=MAR, energy_charge=Decimal("50000000.00"))

    # The district lists, approved by the leader through the chain.
    lists = {}
    for district, accounts, forecast in (
        ("南岗", [a["plant"], a["shop"], a["steel"]], ("2", "5000.00")),
        ("道里", [a["office"]], ("1", "400.00")),
        ("道外", small, ("50", "300.00")),
        ("平房", [a["giant"]], ("1", "2400000.00")),
    ):
        lst = EligibilityListFactory(
            district_name=district,
            state=State.PENDING_LEADER,
            forecast_accounts=int(forecast[0]),
            forecast_reduction=Decimal(forecast[1]),
        )
        EligibilityEntry.objects.bulk_create(
            [EligibilityEntry(eligibility_list=lst, account=acc, source="prescreen") for acc in accounts]
        )
        lists[district] = _chain_approve(lst, staff)
        _post_pending_jobs()
    # A suspension of the plant (sealed 2020-03-05, restored 2020-03-20) and arrears protection of
    # the shop, approved through the chain after the list: the March discount gets a correction.
    suspension = ApplicationFactory(
        account=a["plant"],
        kind="suspension",
        channel="paper_proxy",
        state=State.PENDING_LEADER,
        capacity_kva=Decimal(1000),
        seal_date=dt.date(2020, 3, 5),
        restore_date=dt.date(2020, 3, 20),
        received_on=dt.date(2020, 3, 2),
    )
    _chain_approve(suspension, staff)
    protection = ApplicationFactory(
        account=a["shop"], kind="arrears_protection", channel="wechat", state=State.PENDING_LEADER
    )
    _chain_approve(protection, staff)
    _post_pending_jobs()
    # Items still in the chain, a return and a rejection with its code.
    waiting = ApplicationFactory(account=a["plant"], kind="method_change", channel="counter")
    item_transition(item=waiting, action=Action.SUBMIT, by=staff["clerk_ng"])
    returned = ApplicationFactory(account=a["shop"], kind="demand_relief", channel="app_wsgw", state=State.PENDING_CITY)
    item_transition(item=returned, action=Action.RETURN, by=staff["city"], reason="补充材料")
    rejected = ApplicationFactory(
        account=a["shop"], kind="capacity_reduction", channel="hotline_95598", state=State.PENDING_CITY
    )
    item_transition(item=rejected, action=Action.REJECT, by=staff["city"], reason="不符合", reason_code="not_eligible")
    # May's bills arrive through the import: a job for the new bills posts what the grants give them.
    rows = [
        f"{a['plant'].account_no},2020-05,20000,10000.00,25,,25000.00,0,0.00,0.00,35000.00",
        f"{a['home'].account_no},2020-05,200,120.00,,,0.00,0,0.00,0.00,0.00",
    ]
    header = (
        "account_no,period,energy_kwh,energy_charge,basic_rate,max_demand_kw,basic_charge,"
        "power_factor_rate,power_factor_charge,late_fee,paid"
    )
    import_bills(io.StringIO("\n".join([header, *rows]) + "\n"))
    _post_pending_jobs()
    # New bills move arrears protection without any posting: a full refresh as after an import.
    stats.stats_refresh(account_ids=[a["home"].pk])
    return {"accounts": a, "small": small, "lists": lists, "suspension": suspension, "staff": staff}


# --- the ledger, computed here independently of billing.stats ----------------------------------------


def ledger_figure(metric, *, period=None, district=None, categories=None):
    """(accounts benefited, yuan) straight from the ledger: distinct accounts whose month sum is above
    zero (any month for the whole programme), and the sum of the entries."""
    entries = LedgerEntry.objects.filter(kind__in=KINDS[metric])
    if period:
        entries = entries.filter(period=period)
    if district:
        entries = entries.filter(account__district__name=district)
    if categories:
        entries = entries.filter(account__category__in=categories)
    per_month = entries.values("account_id", "period").annotate(total=Sum("amount"))
    benefited = {row["account_id"] for row in per_month if row["total"] > 0}
    return len(benefited), entries.aggregate(total=Sum("amount"))["total"] or ZERO


def arrears_figure(*, period=None, district=None):
    protected = set(Account.objects.filter(stats.protected_q()).values_list("id", flat=True))
    bills = Bill.objects.filter(account_id__in=protected)
    if period:
        bills = bills.filter(period=period)
    if district:
        bills = bills.filter(account__district__name=district)
    accounts, in_arrears, arrears = set(), set(), ZERO
    for bill in bills:
        accounts.add(bill.account_id)
        owed = bill.gross - bill.paid
        if owed > 0:
            in_arrears.add(bill.account_id)
            arrears += owed
    return len(accounts), len(in_arrears), arrears


def figures_for(user, **params) -> Figures:
    return Figures(user=user, data=params)


# --- reconciliation -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_figure_equals_the_ledger_to_the_fen(scenario, staff):
    assert LedgerEntry.objects.filter(amount__lt=0).exists(), "the scenario should include a correcting entry"
    assert stats.stats_check() == []  # every cell, every month, district, category and metric
    manager = staff["manager"]
    districts = [None, "南岗", "道里", "道外", "平房"]
    for period in (None, FEB, MAR, APR, MAY):
        for district in districts:
            params = {}
            if period:
                params["period"] = period_label(period)
            if district:
                params["district"] = {"南岗": "nangang", "道里": "daoli", "道外": "daowai", "平房": "pingfang"}[
                    district
                ]
            figures = figures_for(manager, **params)
            assert figures.filters.period == period
            for metric, _label in MEASURES:
                fig = figures.figure(metric)
                assert (fig.accounts, fig.amount) == ledger_figure(metric, period=period, district=district), (
                    metric,
                    period,
                    district,
                )
                for column, categories in (
                    ("large_industrial", ["large_industrial"]),
                    ("general_commercial", ["general_commercial"]),
                    ("other", ["residential", "agricultural"]),
                ):
                    fig = figures.figure(metric, category=column)
                    expected = ledger_figure(metric, period=period, district=district, categories=categories)
                    assert (fig.accounts, fig.amount) == expected, (metric, period, district, column)
            # The overview table (page, exports, report) shows the same figures.
            for row, (metric, _label) in zip(figures.measures_table.rows, MEASURES, strict=True):
                assert (row.values["accounts"], row.values["yuan"]) == ledger_figure(
                    metric, period=period, district=district
                )
            protected, in_arrears, arrears = arrears_figure(period=period, district=district)
            assert figures.figure(StatsMetric.PROTECTED).accounts == protected
            assert figures.figure(StatsMetric.IN_ARREARS).accounts == in_arrears
            assert figures.figure(StatsMetric.PROTECTED).amount == arrears


@pytest.mark.django_db
def test_the_scenario_reaches_the_worked_examples(scenario, staff):
    figures = figures_for(staff["manager"], period="2020-03", district="nangang")
    # M8: March basic charge credit 11,666.67; discount 500.00 + 666.67 on the plant, 0.51 on the shop.
    assert figures.figure(StatsMetric.TWO_PART).amount == Decimal("11666.67")
    assert figures.figure(StatsMetric.DISCOUNT).amount == Decimal("1166.67") + Decimal("0.51")
    assert figures.figure(StatsMetric.DISCOUNT).accounts == 2  # the steel maker (3011) gets nothing
    whole = figures_for(staff["manager"], district="nangang")
    # Over the whole programme each account counts once, though it benefited in four months.
    assert whole.figure(StatsMetric.DISCOUNT).accounts == 2
    assert sum(whole.figure(StatsMetric.DISCOUNT, period=m).accounts for m in (FEB, MAR, APR, MAY)) == 7


@pytest.mark.django_db
def test_wan_and_yi_round_half_up_as_m11_says(scenario, staff):
    daowai = figures_for(staff["manager"], district="daowai").figure(StatsMetric.DISCOUNT)
    assert (daowai.accounts, daowai.amount) == (50, Decimal("250.00"))
    # 50 / 10,000 = 0.005 and 250.00 / 10,000 = 0.025: ties, rounded half up (half-even would differ).
    assert daowai.accounts_wan == Decimal("0.01")
    assert (Decimal(50) / 10_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("0.00")
    assert daowai.amount_wan == Decimal("0.03")
    assert (Decimal("250.00") / 10_000).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("0.02")
    giant = figures_for(staff["manager"], district="pingfang").figure(StatsMetric.DISCOUNT)
    assert giant.amount == Decimal("2500000.00")
    assert giant.amount_yi == Decimal("0.03")  # 0.025 亿元
    # The overview table shows the same rounding.
    discount_row = figures_for(staff["manager"], district="daowai").measures_table.rows[0].values
    assert (discount_row["accounts_wan"], discount_row["yuan_wan"]) == (Decimal("0.01"), Decimal("0.03"))


@pytest.mark.django_db
def test_refreshing_twice_or_rebuilding_changes_nothing(scenario):
    cells = sorted(StatsMonth.objects.values_list("period", "district_id", "category", "metric", "accounts", "amount"))
    account_ids = list(Account.objects.values_list("id", flat=True))
    result = stats.stats_refresh(account_ids=account_ids)
    assert result.cells_changed == 0
    stats.stats_refresh()
    after = sorted(StatsMonth.objects.values_list("period", "district_id", "category", "metric", "accounts", "amount"))
    assert [c for c in after if c[4] or c[5]] == [c for c in cells if c[4] or c[5]]
    assert stats.stats_check() == []


@pytest.mark.django_db
def test_a_correction_to_zero_is_no_longer_a_benefit(db, monkeypatch):
    """An account whose month nets to zero keeps its yuan (0.00) but is not counted."""
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    account = AccountFactory(category="general_commercial")
    bill = BillFactory(account=account, period=MAR, energy_charge=Decimal("100.00"))
    LedgerEntry.objects.create(
        account=account, bill=bill, period=MAR, kind="discount", seq=1, amount=Decimal("5.00"),
        cause_type="eligibility_list", cause_id=1,
    )  # fmt: skip
    stats.stats_refresh(account_ids=[account.pk])
    assert StatsMonth.objects.get(period=MAR, metric="discount").accounts == 1
    LedgerEntry.objects.create(
        account=account, bill=bill, period=MAR, kind="discount", seq=2, amount=Decimal("-5.00"),
        cause_type="eligibility_list", cause_id=1,
    )  # fmt: skip
    stats.stats_refresh(account_ids=[account.pk])
    cell = StatsMonth.objects.get(period=MAR, metric="discount")
    assert (cell.accounts, cell.amount) == (0, ZERO)
    assert stats.stats_check() == []


# --- the page: roles, districts, links, queries -------------------------------------------------------


def _table(response, slug):
    for section in response.context["sections"]:
        for item in section["tables"]:
            if item["table"].slug == slug:
                return item["table"]
    if slug == "measures":
        return response.context["overview"]["table"]
    raise AssertionError(slug)


@pytest.mark.django_db
def test_manager_sees_every_district_and_the_page_shows_the_ledger(client, scenario, staff):
    client.force_login(staff["manager"])
    response = client.get(reverse("dashboard"), {"period": "2020-03"})
    assert response.status_code == 200
    table = _table(response, "discount-districts")
    assert [row.label for row in table.rows] == ["道里", "南岗", "道外", "香坊", "平房", "松北", "呼兰", "阿城", "双城"]
    by_name = {row.label: row for row in table.rows}
    for name in ("南岗", "道里", "道外", "平房"):
        accounts, yuan = ledger_figure(StatsMetric.DISCOUNT, period=MAR, district=name)
        assert (by_name[name].values["accounts"], by_name[name].values["yuan"]) == (accounts, yuan)
    html = response.content.decode()
    # The figures are on the page, formatted, with a link to the accounts behind them.
    total = ledger_figure(StatsMetric.DISCOUNT, period=MAR)[1]
    assert f"{total:,.2f}" in html
    assert 'id="chart-discount-months"' in html and 'id="chart-data-discount-months"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    # The chart data carry yuan as exact decimal strings (never floats); counts as integers.
    import json
    import re

    spec = json.loads(re.search(r'id="chart-data-discount-districts"[^>]*>(.*?)</script>', html, re.S).group(1))
    values = [v for d in spec["datasets"] for v in d["data"] if v is not None]
    assert any(isinstance(v, str) and re.fullmatch(r"-?\d+\.\d{2}", v) for v in values)
    assert not any(isinstance(v, float) for v in values)


@pytest.mark.django_db
def test_clerk_and_city_reviewer_cannot_open_the_manager_view(client, scenario, staff, make_staff):
    for user in (staff["clerk_ng"], staff["city"], make_staff()):
        client.force_login(user)
        assert client.get(reverse("dashboard")).status_code == 403
        assert client.get(reverse("dashboard-export", args=["measures", "csv"])).status_code == 403
        assert client.get(reverse("dashboard-report")).status_code == 403
        assert client.get(reverse("dashboard-accounts")).status_code == 403
        assert client.get(reverse("api:stats")).status_code == 403
    client.logout()
    assert client.get(reverse("dashboard")).status_code == 302  # to the login page


@pytest.mark.django_db
def test_district_reviewer_sees_only_their_district(client, scenario, staff):
    client.force_login(staff["reviewer_ng"])
    # Asking for another district changes nothing: the district is fixed to theirs.
    response = client.get(reverse("dashboard"), {"district": "daoli"})
    assert response.status_code == 200
    assert response.context["filters"].district.name == "南岗"
    assert "district" not in response.context["form"].fields
    table = _table(response, "discount-districts")
    assert [row.label for row in table.rows] == ["南岗"]
    measures = _table(response, "measures")
    all_row = measures.rows[-1].values
    assert (all_row["accounts"], all_row["yuan"]) == ledger_figure(StatsMetric.ALL, district="南岗")
    assert "道里" not in [row.label for row in _table(response, "forecast").rows]
    api = client.get(reverse("api:stats"), {"district": "daoli"}).json()
    assert api["scope"] == "district"
    assert {cell["district"] for cell in api["cells"]} == {"nangang"}
    # The lists behind the figures are the district's too.
    response = client.get(reverse("dashboard-accounts"), {"metric": "discount", "district": "daoli"})
    assert {row["district_id"] for row in response.context["page"].object_list} == {staff["reviewer_ng"].district_id}


# Session, user, the user's and the groups' permissions, the roles (navigation): 5; the figures: the
# districts, monthly and whole-programme cells, the 95% lists, applications by kind/state/channel,
# waiting applications and lists, stays per level, returns and rejections, summary refreshes
# pending: 10. A category filter leaves out the lists' waiting query (lists have no category).
DASHBOARD_QUERIES = 15


@pytest.mark.django_db
def test_the_dashboard_runs_a_fixed_number_of_queries(client, scenario, staff, django_assert_num_queries):
    client.force_login(staff["manager"])
    url = reverse("dashboard")
    client.get(url)  # warm the content-type cache

    def count_both():
        with django_assert_num_queries(DASHBOARD_QUERIES):
            assert client.get(url, {"period": "2020-03", "district": "nangang"}).status_code == 200
        with django_assert_num_queries(DASHBOARD_QUERIES - 1):
            assert client.get(url, {"category": "large_industrial"}).status_code == 200

    count_both()
    # More applications, decisions, accounts, bills, months and ledger: the same numbers.
    for _ in range(10):
        ApplicationFactory(kind="suspension", channel="counter")
    extra = [AccountFactory(district_name="香坊", category="large_industrial") for _ in range(5)]
    for account in extra:
        for month in (FEB, MAR, APR, MAY, dt.date(2020, 6, 1)):
            BillFactory(account=account, period=month)
    lst = EligibilityListFactory(district_name="香坊", state=State.PENDING_LEADER)
    EligibilityEntry.objects.bulk_create(
        [EligibilityEntry(eligibility_list=lst, account=acc, source="prescreen") for acc in extra]
    )
    _chain_approve(lst, staff)
    _post_pending_jobs()
    assert StatsMonth.objects.filter(period=dt.date(2020, 6, 1)).exists()
    count_both()


@pytest.mark.django_db
def test_every_figure_links_to_the_list_behind_it(client, scenario, staff):
    client.force_login(staff["manager"])
    response = client.get(reverse("dashboard"), {"period": "2020-03"})
    table = _table(response, "discount-districts")
    nangang = next(row for row in table.rows if row.label == "南岗")
    for key in nangang.values:
        assert nangang.links.get(key), f"{key} has no link"
    behind = client.get(nangang.links["yuan"])
    summary = behind.context["summary"]
    rows = list(behind.context["page"].object_list)
    assert summary["accounts"] == len(rows) == nangang.values["accounts"]
    assert sum(r["amount"] for r in rows) + summary["amount_not_counted"] == nangang.values["yuan"]
    assert scenario["accounts"]["plant"].account_no in behind.content.decode()
    # An applications figure links to those applications.
    applications = _table(response, "applications")
    suspension = next(row for row in applications.rows if "暂停" in str(row.label) and "恢复" not in str(row.label))
    page = client.get(suspension.links["approved"])
    assert [item.pk for item in page.context["page"].object_list] == [scenario["suspension"].pk]
    for key, value in suspension.values.items():
        assert len(client.get(suspension.links[key]).context["page"].object_list) == value, key
    # A rejection's reason code links to the rejected application.
    reasons = _table(client.get(reverse("dashboard")), "reasons")
    not_eligible = next(row for row in reasons.rows if row.values["rejections"])
    page = client.get(not_eligible.links["rejections"])
    assert len(page.context["page"].object_list) == not_eligible.values["rejections"] == 1


@pytest.mark.django_db
def test_chain_health_counts_waiting_items_and_times(scenario, staff):
    figures = figures_for(staff["manager"])
    chain = {row.label: row.values for row in figures.chain_table.rows}
    city = chain[str(figures.chain_table.rows[2].label)]
    # Nothing waits at the city level (the returned item went back to the district).
    assert city["applications"] == 0
    district = figures.chain_table.rows[1].values
    assert district["applications"] == 2  # the returned demand-relief application and the submitted one
    leader = figures.chain_table.rows[4].values
    assert leader["decisions"] == 6  # four lists and two applications approved by the leader
    assert leader["median_hours"] is not None
    reasons = {row.label: row.values for row in figures.reasons_table.rows}
    assert sum(v["returns"] for v in reasons.values()) == 1
    assert sum(v["rejections"] for v in reasons.values()) == 1


# --- API, exports, report -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stats_api_returns_the_same_figures(client, scenario, staff):
    client.force_login(staff["manager"])
    data = client.get(reverse("api:stats"), {"period": "2020-03"}).json()
    assert data["filters"] == {"period": "2020-03", "district": None, "category": None}
    measures = {m["measure"]: m for m in data["measures"]}
    accounts, yuan = ledger_figure(StatsMetric.DISCOUNT, period=MAR)
    assert measures["discount"]["accounts"] == accounts
    assert measures["discount"]["amount"] == f"{yuan:.2f}"  # a decimal string
    assert measures["discount"]["by_category"]["large_industrial"]["amount"] == (
        f"{ledger_figure(StatsMetric.DISCOUNT, period=MAR, categories=['large_industrial'])[1]:.2f}"
    )
    # Per measure, district, month and category: the cells add up to the ledger.
    sums = defaultdict(lambda: ZERO)
    for cell in data["cells"]:
        assert cell["period"] == "2020-03"
        sums[(cell["measure"], cell["district"])] += Decimal(cell["amount"])
    assert sums[("discount", "daowai")] == Decimal("250.00")
    daowai = next(c for c in data["cells"] if c["measure"] == "discount" and c["district"] == "daowai")
    assert (daowai["accounts_wan"], daowai["amount_wan"]) == ("0.01", "0.03")
    giant = next(c for c in data["cells"] if c["measure"] == "discount" and c["district"] == "pingfang")
    assert giant["amount_yi"] == "0.03"
    forecast = {row["district"]: row for row in data["forecast"]}
    assert forecast["nangang"]["forecast"]["reduction_yuan"] == "5000.00"
    assert forecast["nangang"]["actual"]["amount"] == f"{ledger_figure(StatsMetric.DISCOUNT, district='南岗')[1]:.2f}"
    assert client.get(reverse("api:stats"), {"period": "2020-13"}).status_code == 400
    assert client.get(reverse("api:stats"), {"category": "nope"}).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("slug", Figures.TABLES)
def test_exports_match_the_table(client, scenario, staff, slug):
    client.force_login(staff["manager"])
    client.cookies["django_language"] = "en"  # the same language as the figures computed here
    params = {"period": "2020-03"}
    table = figures_for(staff["manager"], **params).table(slug)
    expected = [[str(v) for v in row] for row in table.export_rows()]
    response = client.get(reverse("dashboard-export", args=[slug, "csv"]), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == expected
    assert text == csv_text(table)
    response = client.get(reverse("dashboard-export", args=[slug, "xlsx"]), params)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    want = table.export_rows()
    assert len(rows) == len(want) + 2  # the table, a blank row and the line saying what it is
    for got, expected in zip(rows, want, strict=False):
        assert [_cell(g) for g in got] == [_cell(w) for w in expected]
    assert rows[-1][0].endswith(figures_for(staff["manager"], **params).scope_label)
    assert xlsx_bytes(table)[:2] == b"PK"


def _cell(value) -> str:
    """A spreadsheet cell and a table value compared as text (numbers as exact decimals)."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(Decimal(str(value)).normalize())
    return str(value)


@pytest.mark.django_db
def test_monthly_report_is_one_pdf_page(client, scenario, staff):
    client.force_login(staff["manager"])
    response = client.get(reverse("dashboard-report"), {"period": "2020-03"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", response.content)) == 1
    assert b"STSong-Light" in response.content  # Chinese, with the CID font
    # Without a month, the latest month with figures.
    response = client.get(reverse("dashboard-report"))
    assert "relief-report-2020-05" in response["Content-Disposition"]


@pytest.mark.django_db
def test_a_refresh_in_each_chunk_transaction_keeps_the_cells_equal_to_the_ledger(db, monkeypatch, settings):
    """What ``billing.posting.chunk_run`` does with its one call to ``stats_refresh`` after posting a chunk."""
    from billing import posting

    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    settings.PORTAL_POSTING_CHUNK_ACCOUNTS = 2
    original = posting.post_accounts

    def post_and_refresh(*, account_from, account_to, job=None):
        posted = original(account_from=account_from, account_to=account_to, job=job)
        stats.stats_refresh(account_from=account_from, account_to=account_to)
        return posted

    monkeypatch.setattr(posting, "post_accounts", post_and_refresh)
    accounts = [AccountFactory(district_name=d, category="general_commercial") for d in ("南岗", "道里", "道外")]
    accounts += [AccountFactory(district_name="南岗", category="large_industrial", industry_code="2770")]
    for i, account in enumerate(accounts):
        for month in (FEB, MAR):
            BillFactory(account=account, period=month, energy_charge=Decimal("10.10") * (i + 1))
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=7, account_ids=[a.pk for a in accounts])
    job = job_run_inline(job=job)
    assert job.chunks_total == 2
    assert stats.stats_check() == []
    cell = StatsMonth.objects.filter(period=MAR, metric="discount").aggregate(n=Sum("accounts"), a=Sum("amount"))
    assert (cell["n"], cell["a"]) == ledger_figure(StatsMetric.DISCOUNT, period=MAR)


def test_the_dashboard_says_when_postings_are_not_counted_yet(client, scenario, staff, monkeypatch):
    """A posted chunk whose summary refresh has not run: the figures trail the ledger, and say so."""
    from billing import posting
    from billing.models import PostingChunk

    client.force_login(staff["manager"])
    assert "refresh-pending" not in client.get(reverse("dashboard")).content.decode()

    account = AccountFactory(district_name="南岗", category="general_commercial")
    BillFactory(account=account, period=MAR, energy_charge=Decimal("20.00"))
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=991, account_ids=[account.pk])
    (chunk_id,) = posting.job_plan(job=job)
    posting.chunk_run(chunk_id=chunk_id, enqueue_stats=False)
    assert PostingChunk.objects.get(pk=chunk_id).stats_pending

    page = client.get(reverse("dashboard")).content.decode()
    assert 'id="refresh-pending"' in page
    assert client.get(reverse("api:stats")).json()["refreshes_pending"] == 1
    assert stats.stats_check() != []  # the ledger moved, the cells not yet
    posting.chunk_stats_run(chunk_id=chunk_id)
    assert stats.stats_check() == []
    assert 'id="refresh-pending"' not in client.get(reverse("dashboard")).content.decode()
    assert client.get(reverse("api:stats")).json()["refreshes_pending"] == 0
