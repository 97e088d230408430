"""Reads of accounts and bills for the pages (and anything else that needs them).

Every queryset here is scoped to the user with ``portal.scoping.scope_to_user``: a clerk or
district reviewer never gets another district's rows, whichever page asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from portal.scoping import scope_to_user

from .models import DISCOUNT_CATEGORIES, Account, Bill

# programme.md M1 as a database condition (the same rule as ``Account.eligible_discount``).
ELIGIBLE_DISCOUNT_Q = Q(category__in=DISCOUNT_CATEGORIES, high_energy=False)


def account_list(*, user) -> QuerySet[Account]:
    """The accounts ``user`` may see, with their district and ``eligible`` (M1) annotated.

    Ordered by account number (the unique index), so that paging needs no sort of the table.
    """
    queryset = Account.objects.select_related("district").annotate(
        eligible=ExpressionWrapper(ELIGIBLE_DISCOUNT_Q, output_field=BooleanField())
    )
    return scope_to_user(queryset, user).order_by("account_no")


def account_list_filter_eligible(queryset: QuerySet[Account], eligible: bool) -> QuerySet[Account]:
    """Accounts that are (or are not) eligible for the 95% measure, decided in the database."""
    return queryset.filter(ELIGIBLE_DISCOUNT_Q) if eligible else queryset.exclude(ELIGIBLE_DISCOUNT_Q)


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


def account_bills(*, account: Account) -> AccountBills:
    """The account's bills by month (one query), with the column totals."""
    rows = [_bill_row(bill) for bill in Bill.objects.filter(account=account).order_by("period")]
    totals = {name: sum((getattr(row, name) for row in rows), Decimal(0)) for name in BILL_TOTAL_FIELDS}
    return AccountBills(rows=rows, totals=totals)
