"""Reads of accounts and bills for the pages (and anything else that needs them).

Every queryset here is scoped to the user with ``organisation.scoping.scope_to_user``: a clerk or
district reviewer never gets another district's rows, whichever page asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BooleanField, ExpressionWrapper, QuerySet

from organisation.scoping import scope_to_user

from . import rules
from .models import Account, Bill, JobState, PostingJob


def with_eligible(queryset: QuerySet[Account]) -> QuerySet[Account]:
    """``eligible`` (M1, the ``discount-2020`` row's rule) annotated, read in the accounts' own query."""
    return queryset.annotate(eligible=ExpressionWrapper(rules.admits_q_in_db(), output_field=BooleanField()))


def account_list(*, user) -> QuerySet[Account]:
    """The accounts ``user`` may see, with their district and ``eligible`` (M1) annotated.

    Ordered by account number (the unique index), so that paging needs no sort of the table.
    """
    queryset = with_eligible(Account.objects.select_related("district"))
    return scope_to_user(queryset, user).order_by("account_no")


def account_list_filter_eligible(queryset: QuerySet[Account], eligible: bool) -> QuerySet[Account]:
    """Accounts that are (or are not) eligible for the 95% measure, decided in the database."""
    condition = rules.admits_q_in_db()
    return queryset.filter(condition) if eligible else queryset.exclude(condition)


@dataclass(frozen=True)
class BillRow:
    """One month of an account's bills as billed (before any relief in the ledger)."""

    bill: Bill
    period: str
    energy_kwh: Decimal
    energy_charge: Decimal
    basic_charge: Decimal
    power_factor_charge: Decimal
    late_fee: Decimal
    gross: Decimal
    paid: Decimal
    outstanding: Decimal


BILL_TOTAL_FIELDS = (
    "energy_kwh",
    "energy_charge",
    "basic_charge",
    "power_factor_charge",
    "late_fee",
    "gross",
    "paid",
    "outstanding",
)

# Bill.lines kinds → BillRow fields.
LINE_FIELDS = {
    "energy": "energy_charge",
    "basic": "basic_charge",
    "power_factor": "power_factor_charge",
    "late_fee": "late_fee",
}


def _bill_row(bill: Bill) -> BillRow:
    amounts = {LINE_FIELDS[kind]: amount for kind, _label, amount in bill.lines}
    gross = bill.gross
    return BillRow(
        bill=bill,
        period=bill.period_label,
        energy_kwh=bill.energy_kwh,
        gross=gross,
        paid=bill.paid,
        outstanding=gross - bill.paid,
        **amounts,
    )


@dataclass(frozen=True)
class AccountBills:
    rows: list[BillRow]
    totals: dict[str, Decimal]


def account_bills(*, account: Account, bills: Iterable[Bill] | None = None) -> AccountBills:
    """The account's bills by month (one query, none if ``bills`` are given), with the column totals."""
    if bills is None:
        bills = Bill.objects.filter(account=account).order_by("period")
    rows = [_bill_row(bill) for bill in bills]
    totals = {name: sum((getattr(row, name) for row in rows), Decimal(0)) for name in BILL_TOTAL_FIELDS}
    return AccountBills(rows=rows, totals=totals)


# --- posting jobs ----------------------------------------------------------------------------------


def posting_job_for(*, cause_type: str, cause_id: int) -> PostingJob | None:
    """The posting job of an approved list or application (one query), or None if it has none yet."""
    return PostingJob.objects.filter(cause_type=cause_type, cause_id=cause_id).first()


def posting_jobs_pending_count() -> int:
    """How many posting jobs are not done (pending, running or failed): the health check's backlog."""
    return PostingJob.objects.exclude(state=JobState.DONE).count()


def posting_job_status(job: PostingJob) -> dict:
    """What a progress bar shows of a job: state, chunks done of total, percent, entries, last error."""
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": str(JobState(job.state).label),
        "chunks_done": job.chunks_done,
        "chunks_total": job.chunks_total,
        "progress": job.progress,
        "entries_posted": job.entries_posted,
        "error": job.error if job.state != JobState.DONE else "",
        "attempts": job.attempts,
        "updated_at": job.updated_at,
        "finished_at": job.finished_at,
        "done": job.state == JobState.DONE,
    }
