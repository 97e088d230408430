"""The posting keeps the dashboard's summary rows (``billing.stats``) for what it changed, and only that.

A chunk leaves the rows of the accounts whose ledger it changed, and of an application's accounts
(an arrears-protection grant makes an account protected without posting anything), to a refresh
it records in its own transaction and queues after commit (``chunk_stats_run``); a re-run that
posts nothing leaves nothing (docs/benchmarks.md "Posting": refreshing every account of every
chunk in the chunk's transaction made the re-run 72% of the first run).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from billing import posting, services, stats, tasks
from billing.models import LedgerEntry, PostingChunk, PostingJob, StatsAccountMonth, StatsMetric, StatsMonth
from tests.factories import AccountFactory, BillFactory

pytestmark = pytest.mark.django_db
MAR, APR = dt.date(2020, 3, 1), dt.date(2020, 4, 1)


@pytest.fixture
def refreshes(monkeypatch):
    """Every ``stats_refresh`` a chunk makes: its (account_from, account_to)."""
    calls: list[tuple[int, int]] = []
    real = posting.stats_refresh

    def recording(*, account_from, account_to):
        calls.append((account_from, account_to))
        return real(account_from=account_from, account_to=account_to)

    monkeypatch.setattr(posting, "stats_refresh", recording)
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)  # posted in this process below
    return calls


def _rows() -> list[tuple]:
    return list(StatsAccountMonth.objects.order_by("account_id", "period").values_list("account_id", "discount"))


def _ledger() -> list[tuple]:
    return list(LedgerEntry.objects.order_by("account_id", "period").values_list("account_id", "amount"))


def _one_account_job(*, cause_id: int, **bill) -> tuple:
    """A general-commercial account with a March bill, granted the discount by list ``cause_id``:
    (account, job, its one chunk's id), nothing posted yet."""
    account = AccountFactory(category="general_commercial", industry_code="5211")
    BillFactory(account=account, period=MAR, **{"energy_charge": Decimal("100.00"), **bill})
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=cause_id, account_ids=[account.pk])
    (chunk_id,) = posting.job_plan(job=job)
    return account, job, chunk_id


def _rerun(job: PostingJob) -> int:
    """Every chunk of the job again, as a retry from scratch would: entries posted."""
    job.chunks.update(done_at=None)
    return sum(posting.chunk_run(chunk_id=chunk_id) for chunk_id in posting.job_plan(job=job))


def test_a_chunk_refreshes_what_it_posted_and_a_rerun_refreshes_nothing(refreshes, settings):
    settings.PORTAL_POSTING_CHUNK_ACCOUNTS = 3
    accounts = [AccountFactory(category="general_commercial", industry_code="5211") for _ in range(5)]
    for account in accounts:
        for month in (MAR, APR):
            BillFactory(account=account, period=month, energy_charge=Decimal("1000.10"))
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=41, account_ids=[a.pk for a in accounts])

    job = posting.job_run_inline(job=job)

    assert job.entries_posted == 10
    ids = sorted(a.pk for a in accounts)
    assert refreshes == [(ids[0], ids[2]), (ids[3], ids[4])]  # each chunk, the accounts it posted for
    assert stats.stats_check() == []
    cell = StatsMonth.objects.get(period=MAR, metric=StatsMetric.DISCOUNT)
    assert (cell.accounts, cell.amount) == (5, Decimal("250.05"))  # 5 × round(1000.10 × 5%, 2)
    rows, ledger = _rows(), _ledger()

    refreshes.clear()
    assert _rerun(job) == 0
    assert refreshes == []  # nothing posted, nothing to refresh
    assert (_rows(), _ledger()) == (rows, ledger)
    assert stats.stats_check() == []


def test_a_chunk_refreshes_only_the_accounts_whose_ledger_changed(refreshes, settings):
    """A new bill for one account of a chunk: the chunk of the job for new bills refreshes that account."""
    settings.PORTAL_POSTING_CHUNK_ACCOUNTS = 10
    accounts = [AccountFactory(category="general_commercial", industry_code="5211") for _ in range(4)]
    for account in accounts:
        BillFactory(account=account, period=MAR, energy_charge=Decimal("200.00"))
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=42, account_ids=[a.pk for a in accounts])
    posting.job_run_inline(job=job)
    refreshes.clear()

    BillFactory(account=accounts[2], period=APR, energy_charge=Decimal("300.00"))
    with transaction.atomic():
        new_bills = services.job_for_new_bills()
    new_bills = posting.job_run_inline(job=new_bills)

    assert new_bills.entries_posted == 1
    assert refreshes == [(accounts[2].pk, accounts[2].pk)]
    cell = StatsMonth.objects.get(period=APR, metric=StatsMetric.DISCOUNT)
    assert (cell.accounts, cell.amount) == (1, Decimal("15.00"))
    assert stats.stats_check() == []


def test_an_arrears_protection_approval_protects_the_account_though_nothing_is_posted(refreshes):
    """No late fee to waive, so no entry: the application's chunk still refreshes the account (M10)."""
    account = AccountFactory(category="general_commercial", industry_code="5211", enterprise_size="medium")
    BillFactory(account=account, period=MAR, energy_charge=Decimal("500.00"), late_fee=Decimal("0.00"), paid=0)
    stats.stats_refresh()
    assert not StatsMonth.objects.filter(metric=StatsMetric.PROTECTED).exists()

    with transaction.atomic():
        job = services.grant_simple(
            kind="late_fee_waiver", policy_code="discount-2020", cause_id=43, account_id=account.pk
        )
    job = posting.job_run_inline(job=job)

    assert job.entries_posted == 0
    assert refreshes == [(account.pk, account.pk)]
    cell = StatsMonth.objects.get(period=MAR, metric=StatsMetric.PROTECTED)
    assert cell.accounts == 1
    assert cell.amount == Decimal("500.00")  # the bill's arrears: gross 500.00, nothing paid
    assert stats.stats_check() == []


def test_the_refresh_is_recorded_with_the_posting_and_done_once(refreshes, django_capture_on_commit_callbacks):
    account, _, chunk_id = _one_account_job(
        cause_id=44, energy_charge=Decimal("800.00"), basic_charge=Decimal("200.00")
    )
    queued = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert posting.chunk_run(chunk_id=chunk_id) == 1
    chunk = PostingChunk.objects.get(pk=chunk_id)
    assert (chunk.stats_from, chunk.stats_to, chunk.stats_done_at) == (account.pk, account.pk, None)
    assert posting.chunks_stats_pending() == [chunk_id]
    assert refreshes == []  # not in the posting's transaction
    assert stats.stats_check() != []  # the ledger has the entry, the cells not yet

    # After commit the chunk queues its refresh (a task, ids only), then the job says it is done.
    assert len(callbacks) == 2
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks.posting_chunk_stats, "delay", queued.append)
        callbacks[0]()
    assert queued == [chunk_id]

    assert tasks.posting_chunk_stats(chunk_id) is True
    assert refreshes == [(account.pk, account.pk)]
    assert stats.stats_check() == []
    cell = StatsMonth.objects.get(period=MAR, metric=StatsMetric.DISCOUNT)
    assert (cell.accounts, cell.amount) == (1, Decimal("50.00"))
    # A duplicate task, or one the sweep queued as well, finds nothing pending.
    assert tasks.posting_chunk_stats(chunk_id) is False
    assert refreshes == [(account.pk, account.pk)]
    assert posting.chunks_stats_pending() == []


def test_the_stats_sweep_queues_refreshes_left_pending(settings, monkeypatch):
    """The broker lost the task (or was down at commit): the sweep queues it once it is stale."""
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    _, _, chunk_id = _one_account_job(cause_id=45)
    posting.chunk_run(chunk_id=chunk_id)  # its on-commit enqueue never runs inside the test's transaction
    queued = []
    monkeypatch.setattr(tasks.posting_chunk_stats, "delay", queued.append)

    assert tasks.stats_sweep() == 0  # posted just now: its own task may still be on its way
    settings.PORTAL_POSTING_STALE_SECONDS = 0
    assert tasks.stats_sweep() == 1
    assert queued == [chunk_id]
    tasks.posting_chunk_stats(chunk_id)
    assert tasks.stats_sweep() == 0
    assert stats.stats_check() == []


def test_a_chunk_run_again_keeps_a_refresh_still_pending(refreshes, monkeypatch):
    """Its done_at reset before its refresh ran: the re-run posts nothing but the refresh stays due."""
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    account, job, chunk_id = _one_account_job(cause_id=46)
    posting.chunk_run(chunk_id=chunk_id, enqueue_stats=False)

    assert _rerun(job) == 0
    chunk = PostingChunk.objects.get(pk=chunk_id)
    assert chunk.stats_pending and (chunk.stats_from, chunk.stats_to) == (account.pk, account.pk)
    assert posting.chunk_stats_run(chunk_id=chunk_id) is True
    assert stats.stats_check() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_of_one_job_run_at_once(settings, monkeypatch):
    """A refresh locks its chunk row only: locking the job row as well made every refresh of a job
    wait for the one before it (the dashboard trailed a 2.2 M-bill job by 27 s instead of 14 s)."""
    import threading
    import time

    from django.db import connection

    settings.PORTAL_POSTING_CHUNK_ACCOUNTS = 1
    monkeypatch.setattr(services, "job_enqueue", lambda *, job_id: None)
    accounts = [AccountFactory(category="general_commercial", industry_code="5211") for _ in range(2)]
    for account in accounts:
        BillFactory(account=account, period=MAR, energy_charge=Decimal("100.00"))
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=47, account_ids=[a.pk for a in accounts])
    first, second = posting.job_plan(job=job)
    for chunk_id in (first, second):
        posting.chunk_run(chunk_id=chunk_id, enqueue_stats=False)

    inside, release = threading.Event(), threading.Event()
    real = posting.stats_refresh

    def held_open(**kwargs):
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(10)  # holds the first refresh's transaction open
        return real(**kwargs)

    monkeypatch.setattr(posting, "stats_refresh", held_open)

    def run_first():
        try:
            posting.chunk_stats_run(chunk_id=first)
        finally:
            connection.close()

    thread = threading.Thread(target=run_first, name="first")
    thread.start()
    try:
        assert inside.wait(10)
        started = time.monotonic()
        assert posting.chunk_stats_run(chunk_id=second) is True
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join(20)
    assert waited < 5
    assert posting.chunks_stats_pending() == []
    assert stats.stats_check() == []
