"""The ledger end to end (programme.md M8, M9): targets reached by differences, in any order, once."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum

from billing import services
from billing.models import JobState, LedgerEntry, PostingJob
from billing.posting import chunk_run, job_plan, job_run_inline
from tests.factories import AccountFactory, BillFactory

MARCH = dt.date(2020, 3, 1)


@pytest.fixture
def m8_account(db):
    """Eligible, 1,000 kVA at 25 元/kVA·月 on the capacity basis, power-factor rate 0."""
    account = AccountFactory(
        category="large_industrial",
        industry_code="2770",
        basic_charge_method="capacity",
        capacity_kva=Decimal(1000),
        voltage_kv=Decimal(10),
    )
    for month in (1, 2, 3, 4):
        BillFactory(
            account=account,
            period=dt.date(2020, month, 1),
            energy_charge=Decimal("10000.00"),
            basic_rate=Decimal("25"),
            basic_charge=Decimal("25000.00"),
            power_factor_rate=Decimal("0"),
            power_factor_charge=Decimal("0.00"),
            late_fee=Decimal("12.34"),
        )
    return account


def _approve_list(account, list_id=101):
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=list_id, account_ids=[account.pk])
    return job_run_inline(job=job)


def _approve_suspension(account, app_id=202, restore=dt.date(2020, 3, 20)):
    with transaction.atomic():
        job = services.grant_seal(
            cause_id=app_id,
            account_id=account.pk,
            capacity_kva=Decimal(1000),
            seal_date=dt.date(2020, 3, 5),
            restore_date=restore,
        )
    return job_run_inline(job=job)


def _sums(account):
    rows = LedgerEntry.objects.filter(account=account).values("period", "kind").annotate(total=Sum("amount"))
    return {(r["period"], r["kind"]): r["total"] for r in rows}


def _ledger(account):
    return sorted(
        LedgerEntry.objects.filter(account=account).values_list(
            "period", "kind", "seq", "amount", "cause_type", "cause_id"
        )
    )


@pytest.mark.django_db
def test_m8_list_first_then_application(m8_account):
    _approve_list(m8_account)
    assert _sums(m8_account)[(MARCH, "discount")] == Decimal("1750.00")  # 500.00 + 1,250.00
    _approve_suspension(m8_account)
    sums = _sums(m8_account)
    assert sums[(MARCH, "basic_charge_credit")] == Decimal("11666.67")
    assert sums[(MARCH, "discount")] == Decimal("500.00") + Decimal("666.67")
    # M9: the discount posted earlier gets a correcting entry of −583.33, caused by the application.
    correction = LedgerEntry.objects.get(account=m8_account, period=MARCH, kind="discount", seq=2)
    assert (correction.amount, correction.cause_type, correction.cause_id) == (Decimal("-583.33"), "application", 202)
    # January is outside the window; February and April get the plain discount; no late fee is discounted.
    assert (dt.date(2020, 1, 1), "discount") not in sums
    assert sums[(dt.date(2020, 4, 1), "discount")] == Decimal("1750.00")


@pytest.mark.django_db
def test_m8_application_first_then_list_reaches_the_same_sums(m8_account):
    _approve_suspension(m8_account)
    assert _sums(m8_account) == {(MARCH, "basic_charge_credit"): Decimal("11666.67")}
    _approve_list(m8_account)
    sums = _sums(m8_account)
    assert sums[(MARCH, "basic_charge_credit")] == Decimal("11666.67")
    assert sums[(MARCH, "discount")] == Decimal("1166.67")
    assert not LedgerEntry.objects.filter(amount__lt=0).exists()  # nothing to correct in this order
    # The line's due falls by 12,333.34 in all: credit 11,666.67 + its discount 666.67.
    basic_line_relief = Decimal("11666.67") + Decimal("666.67")
    assert basic_line_relief == Decimal("12333.34")


@pytest.mark.django_db
def test_rerunning_and_duplicating_posts_nothing(m8_account):
    _approve_list(m8_account)
    _approve_suspension(m8_account)
    before = _ledger(m8_account)
    for job in PostingJob.objects.all():
        # Reset the chunks as if a retry ran them again from scratch: the targets are met, nothing is posted.
        job.chunks.update(done_at=None)
        for chunk_id in job_plan(job=job):
            assert chunk_run(chunk_id=chunk_id) == 0
    # The same list granted again (a duplicate task) adds no grant, no job and no entry.
    _approve_list(m8_account)
    assert _ledger(m8_account) == before


@pytest.mark.django_db
def test_a_later_restore_date_posts_only_the_change(m8_account):
    _approve_list(m8_account)
    _approve_suspension(m8_account)
    with transaction.atomic():
        job = services.grant_restore(cause_id=303, account_id=m8_account.pk, restore_date=dt.date(2020, 3, 25))
    job_run_inline(job=job)
    sums = _sums(m8_account)
    # Charged 4 + 7 = 11 days: 25,000 × 11/30 = 9,166.67 → credit 15,833.33; discount 458.33 on the line.
    assert sums[(MARCH, "basic_charge_credit")] == Decimal("15833.33")
    assert sums[(MARCH, "discount")] == Decimal("500.00") + Decimal("458.33")
    latest = LedgerEntry.objects.filter(account=m8_account, period=MARCH, kind="basic_charge_credit").order_by("seq")
    assert [e.amount for e in latest] == [Decimal("11666.67"), Decimal("4166.66")]
    assert latest.last().cause_id == 303


@pytest.mark.django_db
def test_high_energy_and_residential_accounts_on_a_list_get_no_discount(db):
    steel = AccountFactory(category="large_industrial", industry_code="3011")
    home = AccountFactory(category="residential", industry_code="")
    for account in (steel, home):
        BillFactory(account=account, period=MARCH)
    # Even if such accounts reached a list, the policy's rule is applied again when posting.
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=7, account_ids=[steel.pk, home.pk])
    job_run_inline(job=job)
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_job_without_accounts_finishes_at_once(db):
    with transaction.atomic():
        job = services.job_without_effect(cause_type="application", cause_id=9)
    assert job_run_inline(job=job).state == JobState.DONE


@pytest.mark.django_db
def test_bills_imported_after_approval_get_their_discount_without_anyone_acting(m8_account):
    import io

    from billing.imports import import_bills

    _approve_list(m8_account)
    header = (
        "account_no,period,energy_kwh,energy_charge,basic_rate,max_demand_kw,basic_charge,"
        "power_factor_rate,power_factor_charge,late_fee,paid\n"
    )
    row = f"{m8_account.account_no},2020-05,10000,8000.00,25,,25000.00,0,0.00,0.00,0.00\n"
    with transaction.atomic():
        import_bills(io.StringIO(header + row))
    job = PostingJob.objects.get(cause_type="")
    job_run_inline(job=job)  # what the worker does once the import commits
    assert _sums(m8_account)[(dt.date(2020, 5, 1), "discount")] == Decimal("400.00") + Decimal("1250.00")


@pytest.mark.django_db(transaction=True)
def test_an_import_of_bills_refreshes_the_dashboard_summary(m8_account, monkeypatch):
    """After the import commits, the summary rows are rebuilt (here run inline instead of by a worker)."""
    import io

    from billing import tasks
    from billing.imports import import_bills

    calls = []
    monkeypatch.setattr(tasks.stats_refresh_all, "delay", lambda: calls.append(tasks.stats_refresh_all()))
    header = (
        "account_no,period,energy_kwh,energy_charge,basic_rate,max_demand_kw,basic_charge,"
        "power_factor_rate,power_factor_charge,late_fee,paid\n"
    )
    import_bills(io.StringIO(header + f"{m8_account.account_no},2020-06,1,1.00,25,,25000.00,0,0.00,0.00,0.00\n"))
    assert len(calls) == 1
    import_bills(io.StringIO(header + f"{m8_account.account_no},2020-06,1,1.00,25,,25000.00,0,0.00,0.00,0.00\n"))
    assert len(calls) == 1  # nothing new: no refresh
