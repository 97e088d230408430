"""Posting relief to the ledger (programme.md M8, M9).

For each bill of the accounts in a chunk, the engine computes the targets per ledger kind from
every grant the account has; the ledger receives only the difference between the target and
what it already holds for that (bill, kind). Re-running, duplicating or resuming after a crash
therefore posts nothing, and the order in which lists and applications were approved does not
matter.

Concurrency: a chunk runs in one transaction that first locks its accounts (``SELECT … FOR
UPDATE``), so two runs of the same chunk are serialised; the unique ``(bill, kind, seq)``
constraint is the last line: two posters that computed the same difference cannot both insert
it.

On PostgreSQL the chunk's discount-only accounts (nearly all of a list's) are posted by one
set-based ``INSERT … SELECT`` (``billing.posting_sql``) that gives the same ledger as the engine;
the engine posts the chunk's other accounts. Settings (read when used, with these defaults):

* ``PORTAL_POSTING_CHUNK_ACCOUNTS`` (2000): accounts per chunk, i.e. per task and transaction;
* ``PORTAL_POSTING_SQL`` (True): use the set-based path on PostgreSQL (False: the engine only).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Sum
from django.utils import timezone

from organisation.queue import enqueue_or_log

from . import engine
from .models import (
    Account,
    Bill,
    CauseType,
    Grant,
    GrantKind,
    JobState,
    LedgerEntry,
    LedgerKind,
    PostingChunk,
    PostingJob,
)
from .rules import PolicyRules, all_policy_rules
from .signals import posting_job_done
from .stats import stats_refresh

log = logging.getLogger(__name__)

# Accounts per chunk (one task, one transaction): ≈ 22,000 bills of a year's relief months, posted
# in ≈ 0.5 s on PostgreSQL; 1,000 and 5,000 were slower overall (docs/benchmarks.md, "Posting").
CHUNK_ACCOUNTS = 2000
ZERO = Decimal("0.00")

# Which grant a ledger kind comes from, for the entry's cause.
KIND_GRANT = {
    LedgerKind.DISCOUNT: GrantKind.DISCOUNT,
    LedgerKind.BASIC_CHARGE_CREDIT: GrantKind.SEAL,
    LedgerKind.DEMAND_RELIEF_CREDIT: GrantKind.DEMAND_RELIEF,
    LedgerKind.LATE_FEE_WAIVER: GrantKind.LATE_FEE_WAIVER,
}


def policy_terms() -> dict[str, PolicyRules]:
    """Every policy's rules by code (``billing.rules``: rate, window months, components, M1's ``admits``).

    M1 is applied again at posting time: a list can never give the discount to an account the rule
    excludes.
    """
    return all_policy_rules()


def chunk_accounts() -> int:
    """Accounts per chunk: ``settings.PORTAL_POSTING_CHUNK_ACCOUNTS``, else :data:`CHUNK_ACCOUNTS`."""
    size = int(getattr(settings, "PORTAL_POSTING_CHUNK_ACCOUNTS", CHUNK_ACCOUNTS))
    if size < 1:
        raise ValueError(f"PORTAL_POSTING_CHUNK_ACCOUNTS must be at least 1, not {size}")
    return size


def set_based() -> bool:
    """Whether discount-only accounts are posted by ``billing.posting_sql`` (PostgreSQL only)."""
    return connection.vendor == "postgresql" and bool(getattr(settings, "PORTAL_POSTING_SQL", True))


def month_relief(
    *, period: dt.date, account: Account, grants: list[Grant], policies: dict[str, PolicyRules], two_part: bool
):
    """Everything approved for one account and month, as the engine's MonthRelief."""
    seals: list[engine.Seal] = []
    demand_relief = waive_late_fee = False
    rate: Decimal | None = None
    components = engine.DISCOUNTABLE
    for grant in grants:
        terms = policies[grant.policy_id]
        if grant.kind == GrantKind.SEAL:
            if two_part and grant.capacity_kva and grant.seal_date:
                seals.append(
                    engine.Seal(
                        capacity_kva=grant.capacity_kva, seal_date=grant.seal_date, restore_date=grant.restore_date
                    )
                )
        elif period in terms.periods:
            if grant.kind == GrantKind.DISCOUNT:
                if terms.admits(account):
                    rate, components = terms.rate, terms.components
            elif grant.kind == GrantKind.DEMAND_RELIEF:
                demand_relief = True
            elif grant.kind == GrantKind.LATE_FEE_WAIVER:
                waive_late_fee = True
    return engine.MonthRelief(
        seals=tuple(seals),
        demand_relief=demand_relief,
        discount_rate=rate,
        discount_components=components,
        waive_late_fee=waive_late_fee,
    )


def bill_targets(*, bill: Bill, account: Account, grants: list[Grant], policies) -> engine.MonthResult:
    """The engine's recomputation of one bill from the account's grants."""
    terms = None
    if account.basic_charge_method and bill.basic_rate is not None:
        terms = engine.BasicChargeTerms(
            method=account.basic_charge_method,
            capacity_kva=account.capacity_kva,
            rate=bill.basic_rate,
            contract_demand_kw=account.contract_demand_kw,
            max_demand_kw=bill.max_demand_kw,
        )
    relief = month_relief(
        period=bill.period, account=account, grants=grants, policies=policies, two_part=terms is not None
    )
    original = engine.BillLines(
        energy=bill.energy_charge,
        basic=bill.basic_charge,
        power_factor=bill.power_factor_charge,
        late_fee=bill.late_fee,
    )
    return engine.recompute_month(
        period=bill.period,
        original=original,
        power_factor_rate=bill.power_factor_rate,
        terms=terms,
        relief=relief,
    )


def _cause_for(kind: str, grants: list[Grant], job: PostingJob | None, last: tuple[str, int] | None):
    """The entry's cause: the job's cause when it concerns this account, else the kind's grant."""
    if (
        job is not None
        and job.cause_type
        and any(g.cause_type == job.cause_type and g.cause_id == job.cause_id for g in grants)
    ):
        return job.cause_type, job.cause_id
    grant_kind = KIND_GRANT.get(kind)
    matching = [g for g in grants if g.kind == grant_kind]
    if matching:
        newest = max(matching, key=lambda g: g.pk)
        return newest.cause_type, newest.cause_id
    if last is not None:
        return last
    raise ValueError(f"no cause for a {kind} posting")


class Posted(NamedTuple):
    """What a posting did: entries inserted, and the lowest and highest id of the accounts whose
    ledger they changed (None when nothing was posted)."""

    entries: int
    account_from: int | None = None
    account_to: int | None = None

    def and_(self, other: Posted) -> Posted:
        """Both postings' counts and account ranges together."""
        lows = [x for x in (self.account_from, other.account_from) if x is not None]
        highs = [x for x in (self.account_to, other.account_to) if x is not None]
        return Posted(self.entries + other.entries, min(lows, default=None), max(highs, default=None))


def _lock_accounts(account_from: int, account_to: int) -> None:
    """Lock accounts ``account_from`` … ``account_to`` (FOR UPDATE, in id order) for this transaction.

    No join: FOR UPDATE cannot go with DISTINCT. Postings and summary refreshes of the same
    accounts lock them first, so they run one after the other.
    """
    list(
        Account.objects.select_for_update()
        .filter(id__gte=account_from, id__lte=account_to)
        .order_by("id")
        .values_list("id", flat=True)
    )


def post_accounts(*, account_from: int, account_to: int, job: PostingJob | None = None) -> Posted:
    """Bring the ledger of accounts ``account_from … account_to`` to their targets.

    Must run inside a transaction (the chunk's); locks the accounts first. On PostgreSQL the
    discount-only accounts go through one ``INSERT … SELECT`` (:mod:`billing.posting_sql`), the
    others through the engine (:func:`post_accounts_engine`); elsewhere the engine does all.
    """
    _lock_accounts(account_from, account_to)
    policies = policy_terms()
    if set_based():
        from . import posting_sql

        fast = posting_sql.post_discounts(
            account_from=account_from,
            account_to=account_to,
            job_id=job.pk if job is not None else None,
            job_cause=(job.cause_type, job.cause_id) if job is not None and job.cause_type else None,
            windows={code: sorted(terms.periods) for code, terms in policies.items()},
        )
        posted, account_ids = Posted(fast.inserted, fast.account_from, fast.account_to), fast.others
    else:
        posted = Posted(0)
        account_ids = sorted(
            set(
                Grant.objects.filter(account_id__gte=account_from, account_id__lte=account_to).values_list(
                    "account_id", flat=True
                )
            )
        )
    return posted.and_(post_accounts_engine(account_ids=account_ids, job=job, policies=policies))


def post_accounts_engine(*, account_ids: list[int], job: PostingJob | None, policies=None) -> Posted:
    """The engine's path: every bill of ``account_ids`` recomputed in Python, the differences posted.

    The caller holds the accounts' locks (``post_accounts``).
    """
    if not account_ids:
        return Posted(0)
    if policies is None:
        policies = policy_terms()
    accounts = Account.objects.in_bulk(account_ids)
    grants: dict[int, list[Grant]] = defaultdict(list)
    for grant in Grant.objects.filter(account_id__in=account_ids).order_by("id"):
        grants[grant.account_id].append(grant)
    posted: dict[tuple[int, str], list] = {}
    for row in (
        LedgerEntry.objects.filter(account_id__in=account_ids)
        .values("bill_id", "kind")
        .annotate(total=Sum("amount"), seq=Max("seq"))
    ):
        posted[(row["bill_id"], row["kind"])] = [row["total"], row["seq"]]
    last_cause = {
        (e["bill_id"], e["kind"]): (e["cause_type"], e["cause_id"])
        for e in LedgerEntry.objects.filter(account_id__in=account_ids)
        .order_by("bill_id", "kind", "seq")
        .values("bill_id", "kind", "cause_type", "cause_id")
    }
    new: list[LedgerEntry] = []
    for bill in Bill.objects.filter(account_id__in=account_ids).order_by("account_id", "period").iterator(2000):
        account = accounts[bill.account_id]
        account_grants = grants[bill.account_id]
        result = bill_targets(bill=bill, account=account, grants=account_grants, policies=policies)
        for kind, target in result.targets.by_kind().items():
            total, seq = posted.get((bill.pk, kind), (ZERO, 0))
            delta = engine.posting_delta(target, total or ZERO)
            if not delta:
                continue
            cause_type, cause_id = _cause_for(kind, account_grants, job, last_cause.get((bill.pk, kind)))
            new.append(
                LedgerEntry(
                    account_id=bill.account_id,
                    bill=bill,
                    period=bill.period,
                    kind=kind,
                    seq=(seq or 0) + 1,
                    amount=delta,
                    cause_type=cause_type,
                    cause_id=cause_id,
                    job=job,
                )
            )
    LedgerEntry.objects.bulk_create(new, batch_size=2000)
    if not new:
        return Posted(0)
    return Posted(len(new), min(e.account_id for e in new), max(e.account_id for e in new))


# --- jobs and chunks --------------------------------------------------------------------------


def job_plan(*, job: PostingJob) -> list[int]:
    """Split the job's accounts into chunks (idempotent). Returns the ids of chunks not done."""
    with transaction.atomic():
        job = PostingJob.objects.select_for_update(no_key=True).get(pk=job.pk)
        if not job.chunks.exists() and job.state != JobState.DONE:
            accounts = Grant.objects.all()
            if job.cause_type:
                accounts = accounts.filter(cause_type=job.cause_type, cause_id=job.cause_id)
            ids = sorted(set(accounts.values_list("account_id", flat=True)))
            size = chunk_accounts()
            bounds = [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]
            PostingChunk.objects.bulk_create(
                [PostingChunk(job=job, account_from=lo, account_to=hi) for lo, hi in bounds]
            )
            job.chunks_total = len(bounds)
            job.state = JobState.RUNNING
            job.attempts = F("attempts") + 1
            job.save(update_fields=["chunks_total", "state", "attempts", "updated_at"])
            if not bounds:
                _job_finish(job)
        return list(job.chunks.filter(done_at__isnull=True).values_list("id", flat=True))


def chunk_run(*, chunk_id: int, enqueue_stats: bool = True) -> int:
    """Post one chunk in one transaction; a chunk already done posts nothing.

    The chunk records which accounts' dashboard rows are to be refreshed: those whose ledger it
    changed, and an application's accounts whatever was posted (an arrears-protection grant makes
    an account protected without an entry). After commit the refresh is queued as its own task
    (:func:`chunk_stats_run`), behind the job's other chunks; ``enqueue_stats=False`` leaves it to
    the caller (:func:`job_run_inline` runs it at once). A re-run that posts nothing leaves none.
    """
    with transaction.atomic():
        # Lock the chunk row only: without ``of``, the join would lock the job row FOR UPDATE as well,
        # and every chunk of the job would wait for the one before it to commit.
        chunk = PostingChunk.objects.select_for_update(of=("self",)).select_related("job").get(pk=chunk_id)
        if chunk.done_at is not None:
            return 0
        _short_statements()
        result = post_accounts(account_from=chunk.account_from, account_to=chunk.account_to, job=chunk.job)
        posted = result.entries
        low, high = result.account_from, result.account_to
        if chunk.job.cause_type == CauseType.APPLICATION:
            low, high = chunk.account_from, chunk.account_to
        if chunk.stats_pending:  # run again (done_at reset) before its last refresh ran: keep that one
            low = chunk.stats_from if low is None else min(low, chunk.stats_from)
            high = chunk.stats_to if high is None else max(high, chunk.stats_to)
        _check_constraints_now()
        chunk.done_at = timezone.now()
        if low is not None:
            chunk.stats_from, chunk.stats_to, chunk.stats_done_at = low, high, None
        chunk.save(update_fields=["done_at", "stats_from", "stats_to", "stats_done_at"])
        if low is not None and enqueue_stats:
            transaction.on_commit(lambda: chunk_stats_enqueue(chunk_id=chunk_id))
        PostingJob.objects.filter(pk=chunk.job_id).update(
            chunks_done=F("chunks_done") + 1, entries_posted=F("entries_posted") + posted, updated_at=timezone.now()
        )
        job = PostingJob.objects.select_for_update(no_key=True).get(pk=chunk.job_id)
        if job.chunks_done >= job.chunks_total and job.state != JobState.DONE:
            _job_finish(job)
    return posted


def chunk_stats_run(*, chunk_id: int) -> bool:
    """Refresh the dashboard's summary rows a done chunk left pending, in one transaction.

    Returns whether it refreshed anything (False: nothing pending, or already refreshed). It
    locks the chunk row, then the accounts (as a posting does, in id order), so it never runs
    beside a posting of the same accounts; the refresh adds to the cells the difference between
    the accounts' rows and their ledger at this moment, so running it late, twice or after
    later postings of the same accounts gives the same cells (``billing.stats``).
    """
    with transaction.atomic():
        # The chunk row alone: ``first()`` would order by the chunk's Meta ordering, which joins the
        # job, and FOR UPDATE would lock the job row too — every refresh of the job one at a time.
        chunk = PostingChunk.objects.select_for_update(of=("self",)).filter(pk=chunk_id).order_by().first()
        if chunk is None or not chunk.stats_pending:
            return False
        _short_statements()
        _lock_accounts(chunk.stats_from, chunk.stats_to)
        stats_refresh(account_from=chunk.stats_from, account_to=chunk.stats_to)
        chunk.stats_done_at = timezone.now()
        chunk.save(update_fields=["stats_done_at"])
    return True


def chunk_stats_enqueue(*, chunk_id: int) -> None:
    """Queue a chunk's summary refresh; if the broker is down, log it — the stats sweep queues it later."""
    enqueue_or_log("billing.posting_chunk_stats", chunk_id, what=f"the summary refresh of chunk {chunk_id}")


def chunks_stats_pending(*, older_than: dt.datetime | None = None) -> list[int]:
    """Ids of the chunks whose summary refresh is pending (done before ``older_than``, if given)."""
    pending = PostingChunk.objects.filter(stats_from__isnull=False, stats_done_at__isnull=True)
    if older_than is not None:
        pending = pending.filter(done_at__lt=older_than)
    return list(pending.order_by("done_at").values_list("id", flat=True))


def _short_statements() -> None:
    """No JIT compilation for the chunk's statements (PostgreSQL): each reads ≈ 22,000 rows, which
    the planner's cost model overestimates enough to compile them, and compiling (≈ 30–40 ms a
    statement) costs more than it saves at this size. For this transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _check_constraints_now() -> None:
    """Run the ledger's deferred foreign-key checks now, before the chunk touches its job row.

    Django's foreign keys are ``DEFERRABLE INITIALLY DEFERRED``: left to the commit, the checks of
    ≈ 22,000 entries (account and bill, ≈ 0.13 s) would run while the chunk holds its job row's
    lock, and chunks committing at once would queue behind each other.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _job_finish(job: PostingJob) -> None:
    PostingJob.objects.filter(pk=job.pk).update(
        state=JobState.DONE, error="", finished_at=timezone.now(), updated_at=timezone.now()
    )
    cause_type, cause_id, job_id = job.cause_type, job.cause_id, job.pk
    transaction.on_commit(
        lambda: posting_job_done.send(sender=PostingJob, job_id=job_id, cause_type=cause_type, cause_id=cause_id)
    )


def job_fail(*, job_id: int, error: str) -> None:
    """Mark the job failed (the sweep retries it) and log it with its cause: operators find the item."""
    failed = PostingJob.objects.filter(pk=job_id).exclude(state=JobState.DONE)
    cause = failed.values_list("cause_type", "cause_id").first()
    failed.update(state=JobState.FAILED, error=error[:2000], updated_at=timezone.now())
    if cause is not None:
        cause_type, cause_id = cause
        log.error(
            "posting job %s (%s %s) failed: %s",
            job_id,
            cause_type or "new bills",
            cause_id if cause_id is not None else "-",
            error[:300],
            extra={"job_id": job_id, "cause_type": cause_type, "cause_id": cause_id},
        )


def job_run_inline(*, job: PostingJob) -> PostingJob:
    """Plan and post every chunk in this process, each followed by its summary refresh (commands,
    tests and the demo: the dashboard agrees with the ledger when this returns)."""
    for chunk_id in job_plan(job=job):
        chunk_run(chunk_id=chunk_id, enqueue_stats=False)
        chunk_stats_run(chunk_id=chunk_id)
    job.refresh_from_db()
    return job
