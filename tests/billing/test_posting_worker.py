"""Approvals post their money through a real worker on Redis, and survive a broker that is down."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import override_settings

from billing import stats
from billing.models import JobState, LedgerEntry, PostingChunk, PostingJob, StatsMonth
from organisation.roles import Role
from tests.factories import AccountFactory, BillFactory, EligibilityListFactory
from workflow.chain import Action, State
from workflow.models import EligibilityEntry, EligibilityList
from workflow.services import item_transition

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _list_awaiting_leader(make_staff):
    account = AccountFactory(category="general_commercial", industry_code="5211", district_name="南岗")
    for month in (1, 3, 7):
        BillFactory(
            account=account,
            period=dt.date(2020, month, 1),
            energy_charge=Decimal("10.10"),
            basic_charge=Decimal("0.00"),
            power_factor_charge=Decimal("1000.00"),
            late_fee=Decimal("5.00"),
        )
    lst = EligibilityListFactory(state=State.PENDING_LEADER, district_name="南岗")
    EligibilityEntry.objects.create(eligibility_list=lst, account=account, source="prescreen")
    return lst, account, make_staff(Role.LEADER)


def _wait(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _discounts(account):
    rows = LedgerEntry.objects.filter(account=account, kind="discount").values("period").annotate(t=Sum("amount"))
    return {r["period"]: r["t"] for r in rows}


def _settled(lst):
    return EligibilityList.objects.get(pk=lst.pk).state == State.SETTLED


def test_leader_approval_is_posted_and_settled_by_the_worker(celery_worker_process, make_staff):
    lst, account, leader = _list_awaiting_leader(make_staff)
    item_transition(item=lst, action=Action.APPROVE, by=leader)
    _wait(lambda: _settled(lst), what="the list to be settled")
    # 10.10 → 0.51 (half-fen tie rounds up) + 1,000.00 → 50.00; January is outside the window.
    assert _discounts(account) == {dt.date(2020, 3, 1): Decimal("50.51"), dt.date(2020, 7, 1): Decimal("50.51")}
    # The chunk queued its dashboard refresh after it committed; the worker runs it next.
    _wait(
        lambda: not PostingChunk.objects.filter(stats_done_at__isnull=True, stats_from__isnull=False).exists(),
        what="the summary refresh",
    )
    assert stats.stats_check() == []
    cell = StatsMonth.objects.get(period=dt.date(2020, 3, 1), metric="discount")
    assert (cell.accounts, cell.amount) == (1, Decimal("50.51"))
    settle = lst.decisions.get(action="settle")
    assert settle.actor is None and settle.level == "system"


def test_broker_down_at_approval_the_approval_stands_and_the_sweep_settles_later(
    throwaway_redis, celery_worker_factory, make_staff
):
    from billing.tasks import posting_sweep

    lst, account, leader = _list_awaiting_leader(make_staff)
    throwaway_redis.stop()
    started = time.monotonic()
    item_transition(item=lst, action=Action.APPROVE, by=leader)  # no exception: the approval stands
    assert time.monotonic() - started < 15
    lst.refresh_from_db()
    assert lst.state == State.APPROVED
    job = PostingJob.objects.get(cause_type="eligibility_list", cause_id=lst.pk)
    assert job.state == JobState.PENDING
    assert not LedgerEntry.objects.exists()

    throwaway_redis.start()
    celery_worker_factory(broker_url=throwaway_redis.url)
    with override_settings(PORTAL_POSTING_STALE_SECONDS=0):
        assert posting_sweep() == 1  # what beat runs every minute
    _wait(lambda: _settled(lst), what="the sweep to post and settle the list")
    assert _discounts(account)[dt.date(2020, 3, 1)] == Decimal("50.51")
