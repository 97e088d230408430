"""The set-based posting path (billing.posting_sql) gives the engine's ledger to the fen (M1–M3, M8, M9).

One varied data set is posted twice on PostgreSQL — once by the engine alone
(``PORTAL_POSTING_SQL=False``), once with the ``INSERT … SELECT`` fast path — from the same
starting ledger, through the same jobs and chunks; the two ledgers must be identical entry by
entry: (bill, kind, seq, amount, cause, job).
"""

import datetime as dt
import random
from contextlib import contextmanager
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings

from billing import posting, posting_sql, services
from billing.models import Bill, Grant, JobState, LedgerEntry, PostingChunk, PostingJob
from tests.factories import AccountFactory, BillFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# 2020-01 and 2021-01 are outside the policy's windows (2020-02 … 2020-12).
PERIODS = [dt.date(2020, m, 1) for m in range(1, 13)] + [dt.date(2021, 1, 1)]
LIST_A, LIST_B, LIST_OLD = 501, 502, 499
SEAL_APP, DEMAND_APP, ARREARS_APP = 601, 602, 603
# Lines whose 5% is an exact half fen, in both signs (ROUND_HALF_UP: away from zero).
TIES = [Decimal("10.10"), Decimal("0.10"), Decimal("0.30"), Decimal("12345.67"), Decimal("1.90"), Decimal("-10.10")]


def _money(rng, low, high):
    return Decimal(rng.randint(low, high)) / 100


def _bills(account, rng, *, two_part=False, demand=False):
    for n, period in enumerate(PERIODS):
        energy = TIES[n % 3] if rng.random() < 0.3 else _money(rng, 0, 5_000_000)
        basic_rate = basic = max_demand = None
        if two_part:
            basic_rate = Decimal("37.5") if demand else Decimal("25")
            basic = Decimal("36000.00") if demand else Decimal("25000.00")
            max_demand = Decimal(900) if demand else None
        pf_rate = rng.choice([Decimal("0"), Decimal("-0.0075"), Decimal("0.015")])
        pf = Decimal("0.00") if not pf_rate else ((energy + (basic or 0)) * pf_rate).quantize(Decimal("0.01"))
        if rng.random() < 0.15:
            pf = TIES[5]  # a negative power-factor line with a half-fen tie
        BillFactory(
            account=account,
            period=period,
            energy_charge=energy,
            basic_rate=basic_rate,
            max_demand_kw=max_demand,
            basic_charge=basic if basic is not None else (TIES[rng.randrange(5)] if rng.random() < 0.2 else Decimal(0)),
            power_factor_rate=pf_rate,
            power_factor_charge=pf,
            late_fee=rng.choice([Decimal("0.00"), _money(rng, 1, 50_000)]),
        )


@pytest.fixture
def dataset(db):
    """≈ 60 accounts × 13 months (≈ 780 bills), grants from two lists and three applications, old postings."""
    rng = random.Random(20200201)
    plain = []
    for n in range(40):
        category = "large_industrial" if n % 3 == 0 else "general_commercial"
        code = rng.choice(["5211", "2770", "1713", "6110", "8610", "", "3670"])
        account = AccountFactory(category=category, industry_code=code)
        _bills(account, rng)
        plain.append(account)
    # On a list, but M1 excludes them again when posting: high-energy divisions 25/26/30/31/32/44, residential, farm.
    excluded = [
        AccountFactory(category="large_industrial", industry_code=code) for code in ("3011", "2611", "4430", "2520")
    ] + [
        AccountFactory(category="residential", industry_code=""),
        AccountFactory(category="agricultural", industry_code="0111"),
    ]
    for account in excluded:
        _bills(account, rng)
    two_part = dict(category="large_industrial", industry_code="2770", basic_charge_method="capacity")
    sealed = AccountFactory(**two_part, capacity_kva=Decimal(1000))
    _bills(sealed, rng, two_part=True)
    demand = AccountFactory(
        category="large_industrial",
        industry_code="1713",
        basic_charge_method="demand",
        capacity_kva=Decimal(2000),
        contract_demand_kw=Decimal(800),
    )
    _bills(demand, rng, two_part=True, demand=True)
    protected = AccountFactory(category="general_commercial", industry_code="5211", enterprise_size="micro")
    _bills(protected, rng)
    # A discount granted under the two-part policy (no rate: the discount is 0), and one under both policies.
    odd_policy, two_policies = AccountFactory(**two_part), AccountFactory(**two_part)
    for account in (odd_policy, two_policies):
        _bills(account, rng, two_part=True)
    # A stale credit with no seal grant behind it: the engine reverses it, so the account is not "fast".
    stale_credit = AccountFactory(category="general_commercial", industry_code="6110")
    _bills(stale_credit, rng)
    no_bills = AccountFactory(category="general_commercial", industry_code="5211")
    not_granted = AccountFactory(category="general_commercial", industry_code="5211")
    _bills(not_granted, rng)

    with transaction.atomic():
        old = plain[::5] + [stale_credit]
        services.grant_discount(policy_code="discount-2020", cause_id=LIST_OLD, account_ids=[a.pk for a in old])
        list_a = plain[:25] + excluded + [sealed, demand, protected, stale_credit, no_bills, two_policies]
        services.grant_discount(policy_code="discount-2020", cause_id=LIST_A, account_ids=[a.pk for a in list_a])
        list_b = plain[20:]
        services.grant_discount(policy_code="discount-2020", cause_id=LIST_B, account_ids=[a.pk for a in list_b])
        services.grant_discount(
            policy_code="two-part-relief-2020", cause_id=LIST_B + 1, account_ids=[odd_policy.pk, two_policies.pk]
        )
        services.grant_seal(
            cause_id=SEAL_APP,
            account_id=sealed.pk,
            capacity_kva=Decimal(1000),
            seal_date=dt.date(2020, 3, 5),
            restore_date=dt.date(2020, 3, 20),
        )
        services.grant_simple(
            kind="demand_relief", policy_code="two-part-relief-2020", cause_id=DEMAND_APP, account_id=demand.pk
        )
        services.grant_simple(
            kind="late_fee_waiver", policy_code="discount-2020", cause_id=ARREARS_APP, account_id=protected.pk
        )

    # Earlier postings the batch must correct (M9): wrong amounts, a reversal outside the window, an
    # entry on an excluded account, a pair that cancels out, one already right, a stale credit, and a
    # discount on an account whose only discount grant is under a policy with no rate.
    bills = {(b.account_id, b.period): b for b in Bill.objects.all()}
    march, july, jan = dt.date(2020, 3, 1), dt.date(2020, 7, 1), dt.date(2020, 1, 1)
    right = posting.bill_targets(
        bill=bills[(plain[3].pk, july)],
        account=plain[3],
        grants=list(Grant.objects.filter(account=plain[3])),
        policies=posting.policy_terms(),
    ).targets.discount
    existing = [
        (plain[0], march, "discount", [Decimal("1.00")]),
        (plain[1], march, "discount", [Decimal("99999.99"), Decimal("-0.01")]),
        (plain[2], jan, "discount", [Decimal("12.34")]),
        (plain[3], july, "discount", [right]),
        (plain[4], july, "discount", [Decimal("5.00"), Decimal("-5.00")]),
        (plain[30], march, "discount", [Decimal("7.77")]),
        (excluded[0], march, "discount", [Decimal("50.00")]),
        (sealed, march, "discount", [Decimal("1250.00")]),
        (odd_policy, march, "discount", [Decimal("3.00")]),  # a policy with no rate: reversed to 0
        (stale_credit, march, "basic_charge_credit", [Decimal("100.00")]),
    ]
    PostingJob.objects.create(cause_type="", cause_id=None)  # new bills imported: a job with no cause
    return {"existing": existing, "bills": bills}


def _reset(dataset):
    """Back to the starting ledger, with every job unplanned."""
    LedgerEntry.objects.all().delete()
    PostingChunk.objects.all().delete()
    PostingJob.objects.update(state=JobState.PENDING, chunks_total=0, chunks_done=0, entries_posted=0, finished_at=None)
    for account, period, kind, amounts in dataset["existing"]:
        for seq, amount in enumerate(amounts, start=1):
            LedgerEntry.objects.create(
                account=account,
                bill=dataset["bills"][(account.pk, period)],
                period=period,
                kind=kind,
                seq=seq,
                amount=amount,
                cause_type="eligibility_list",
                cause_id=LIST_OLD,
            )


def _jobs():
    """Every cause's job in approval order, then the job for new bills (no cause)."""
    return list(PostingJob.objects.order_by("id"))


@contextmanager
def _fast_path_calls():
    """Record what each call of the fast path returned: (entries inserted, accounts left to the engine)."""
    results = []
    real = posting_sql.post_discounts

    def recording(**kwargs):
        results.append(real(**kwargs))
        return results[-1]

    with mock.patch.object(posting_sql, "post_discounts", recording):
        yield results


def _ledger():
    return list(
        LedgerEntry.objects.order_by("bill_id", "kind", "seq").values_list(
            "account_id", "bill_id", "period", "kind", "seq", "amount", "cause_type", "cause_id", "job_id"
        )
    )


def _post_all(dataset, *, sql: bool):
    """Post every job from the starting ledger, in chunks of 7 accounts; the ledger and each job's count."""
    _reset(dataset)
    with override_settings(PORTAL_POSTING_SQL=sql, PORTAL_POSTING_CHUNK_ACCOUNTS=7), _fast_path_calls() as calls:
        posted = [posting.job_run_inline(job=job).entries_posted for job in _jobs()]
    return _ledger(), posted, calls


def test_the_set_based_path_posts_exactly_the_engines_ledger(dataset):
    engine_ledger, engine_posted, engine_calls = _post_all(dataset, sql=False)
    assert engine_calls == []
    sql_ledger, sql_posted, sql_calls = _post_all(dataset, sql=True)

    assert sql_ledger == engine_ledger  # (account, bill, period, kind, seq, amount, cause, job), entry by entry
    assert sql_posted == engine_posted
    # The data set is varied enough to mean something: corrections, every kind, several causes.
    assert len(engine_ledger) > 400
    assert {row[3] for row in engine_ledger} == {
        "discount",
        "basic_charge_credit",
        "demand_relief_credit",
        "late_fee_waiver",
    }
    assert any(row[5] < 0 for row in engine_ledger if row[4] > 1)  # correcting entries
    assert {row[7] for row in engine_ledger} >= {LIST_OLD, LIST_A, LIST_B, SEAL_APP, DEMAND_APP, ARREARS_APP}
    # The fast path did the bulk of the work; the engine the accounts with other grants or kinds.
    inserted_by_sql = sum(call.inserted for call in sql_calls)
    left_to_engine = {account_id for call in sql_calls for account_id in call.others}
    assert inserted_by_sql > 0.8 * len(engine_ledger)
    assert len(left_to_engine) == 5  # sealed, demand relief, late-fee waiver, two policies, stale credit


def test_half_fen_ties_round_away_from_zero_in_sql(db):
    """M3's worked example and ties of both signs, through the fast path (half-even would differ)."""
    account = AccountFactory(category="general_commercial", industry_code="5211")
    lines = [("12345.67", "0.00"), ("10.10", "-0.30"), ("0.30", "-10.10"), ("0.01", "-0.01")]
    for month, (energy, pf) in enumerate(lines, start=2):
        BillFactory(
            account=account,
            period=dt.date(2020, month, 1),
            energy_charge=Decimal(energy),
            power_factor_charge=Decimal(pf),
        )
    with transaction.atomic():
        job = services.grant_discount(policy_code="discount-2020", cause_id=777, account_ids=[account.pk])
    with _fast_path_calls() as calls:
        assert posting.job_run_inline(job=job).entries_posted == 3
    assert calls == [posting_sql.FastResult(inserted=3, account_from=account.pk, account_to=account.pk, others=[])]
    amounts = dict(LedgerEntry.objects.filter(account=account).values_list("period", "amount"))
    assert amounts == {
        dt.date(2020, 2, 1): Decimal("617.28"),  # M3: 12,345.67 → 617.28
        dt.date(2020, 3, 1): Decimal("0.49"),  # 0.505 → 0.51, −0.015 → −0.02 (half-even: 0.48)
        dt.date(2020, 4, 1): Decimal("-0.49"),  # 0.015 → 0.02, −0.505 → −0.51 (half-even: −0.48)
        # May: 0.0005 → 0.00 and −0.0005 → −0.00: nothing to post.
    }


def test_rerunning_after_the_set_based_path_posts_nothing_on_either_path(dataset):
    _, posted, _ = _post_all(dataset, sql=True)
    assert sum(posted) > 0
    before = _ledger()
    for sql in (True, False):
        with override_settings(PORTAL_POSTING_SQL=sql, PORTAL_POSTING_CHUNK_ACCOUNTS=7):
            for job in PostingJob.objects.order_by("id"):
                job.chunks.update(done_at=None)
                for chunk_id in posting.job_plan(job=job):
                    assert posting.chunk_run(chunk_id=chunk_id) == 0
            # And by account range directly, over everything at once.
            with transaction.atomic():
                assert posting.post_accounts(account_from=0, account_to=10**12, job=None) == posting.Posted(0)
    assert _ledger() == before
