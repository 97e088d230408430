"""Reads of the ledger: bill statements, the account's balance, the ledger's rows (programme.md M2, M3, M8).

A bill's statement is its lines as billed (original bills are immutable), the relief the ledger
holds for it and what is due:

* ``discount`` — the ledger's sum of kind ``discount`` for the bill (the 5% of M2/M3). The ledger
  holds it per bill, not per line; the per-line split shown beside each line is the engine's
  recomputation of the month (``billing.posting.bill_targets``) from the account's grants. When the
  ledger has not reached the engine's targets yet (a posting job pending, running or failed), the
  ledger's discount is apportioned over the lines in the proportions of that recomputation, so the
  lines always add up to the bill's discount; the statement is then marked ``pending``.
* ``credits`` — every other kind (``basic_charge_credit``, ``demand_relief_credit``,
  ``investment_waiver``, ``late_fee_waiver``), per kind and cause: the eligibility list or the
  application the amount comes from, with a link to its page.
* ``due = gross − discount − credits`` (M3, M8); ``gross`` is the bill as billed.

The account's ``balance`` is the sum of its credits (every kind but the discount).

Each read runs a fixed number of queries whatever the number of bills or entries. Billing never
imports the workflow: a cause's page is found by its URL name only (:data:`CAUSE_URL_NAMES`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from organisation.scoping import scope_to_user

from . import engine
from .models import MONEY, Account, Bill, CauseType, Grant, LedgerEntry, LedgerKind, period_label
from .posting import bill_targets, policy_terms

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")

# Every ledger kind but the discount is a credit (interfaces.md §2: positive in the customer's favour).
CREDIT_KINDS: tuple[str, ...] = tuple(kind for kind in LedgerKind.values if kind != LedgerKind.DISCOUNT)
# The lines the 5% may apply to (M2), in bill order.
DISCOUNT_LINES: tuple[str, ...] = (engine.ENERGY, engine.BASIC, engine.POWER_FACTOR)

# The page of each cause, by URL name (the workflow's item pages; billing does not import workflow).
CAUSE_URL_NAMES = {
    CauseType.ELIGIBILITY_LIST: "workflow:list-detail",
    CauseType.APPLICATION: "workflow:application-detail",
}


# --- causes and relief --------------------------------------------------------------------------


@dataclass(frozen=True)
class Cause:
    """What a ledger amount comes from: an eligibility list or an application."""

    type: str
    id: int

    @property
    def type_label(self) -> str:
        return str(CauseType(self.type).label) if self.type in CauseType.values else self.type

    @property
    def label(self) -> str:
        """``Application #202`` / ``Eligibility list #101`` (in the current language)."""
        return f"{self.type_label} #{self.id}"

    @property
    def url(self) -> str | None:
        name = CAUSE_URL_NAMES.get(self.type)
        if name is None:
            return None
        try:
            return reverse(name, args=[self.id])
        except NoReverseMatch:
            return None


@dataclass(frozen=True)
class Relief:
    """The ledger's sum for one bill, kind and cause (the entries' corrections included)."""

    kind: str
    amount: Decimal
    cause: Cause

    @property
    def kind_label(self) -> str:
        return str(LedgerKind(self.kind).label) if self.kind in LedgerKind.values else self.kind

    @property
    def less(self) -> Decimal:
        """The amount as it shows on the bill: taken off (negative), a correction added back."""
        return -self.amount if self.amount else ZERO


@dataclass(frozen=True)
class StatementLine:
    kind: str
    label: str
    amount: Decimal
    discount: Decimal


@dataclass(frozen=True)
class BillStatement:
    """One bill as the customer owes it: lines as billed, the relief on them, what is due."""

    bill: Bill
    lines: tuple[StatementLine, ...]
    discount: Decimal
    relief: tuple[Relief, ...]
    pending: bool

    @property
    def account_no(self) -> str:
        return self.bill.account.account_no

    @property
    def period(self) -> str:
        return period_label(self.bill.period)

    @property
    def gross(self) -> Decimal:
        return self.bill.gross

    @property
    def discount_relief(self) -> tuple[Relief, ...]:
        """The discount by cause (a correction by a later cause shows as a negative amount)."""
        return tuple(r for r in self.relief if r.kind == LedgerKind.DISCOUNT)

    @property
    def credit_relief(self) -> tuple[Relief, ...]:
        """Every credit by kind and cause, in ledger-kind order."""
        return tuple(r for r in self.relief if r.kind != LedgerKind.DISCOUNT)

    @property
    def credits(self) -> Decimal:
        return sum((r.amount for r in self.credit_relief), ZERO)

    @property
    def due(self) -> Decimal:
        """gross − discount − credits, to the fen (M3, M8)."""
        return self.gross - self.discount - self.credits

    @property
    def discount_less(self) -> Decimal:
        return -self.discount if self.discount else ZERO

    @property
    def has_discount(self) -> bool:
        return bool(self.discount or self.discount_relief)


@dataclass(frozen=True)
class AccountStatements:
    account: Account
    statements: list[BillStatement]

    @property
    def balance(self) -> Decimal:
        """The sum of the account's credits (every kind but the discount)."""
        return sum((s.credits for s in self.statements), ZERO)

    @property
    def totals(self) -> dict[str, Decimal]:
        return {
            "gross": sum((s.gross for s in self.statements), ZERO),
            "discount": sum((s.discount for s in self.statements), ZERO),
            "credits": sum((s.credits for s in self.statements), ZERO),
            "due": sum((s.due for s in self.statements), ZERO),
        }


# --- the per-line split ---------------------------------------------------------------------------


def apportion(total: Decimal, weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """Split ``total`` over ``weights`` in proportion, each share to the fen, adding up to ``total`` exactly.

    The rounding remainder goes to the heaviest line. No weight at all: everything on the first key.
    """
    keys = list(weights)
    shares = dict.fromkeys(keys, ZERO)
    if not keys or not total:
        return shares
    weight_sum = sum(weights.values(), Decimal(0))
    if not weight_sum:
        shares[keys[0]] = total
        return shares
    for key in keys:
        shares[key] = engine.round_fen(total * weights[key] / weight_sum)
    heaviest = max(keys, key=lambda k: abs(weights[k]))
    shares[heaviest] += total - sum(shares.values(), ZERO)
    return shares


def _line_discounts(bill: Bill, ledger_discount: Decimal, result: engine.MonthResult | None) -> dict[str, Decimal]:
    """The discount per line, adding up to the ledger's: the engine's split when it agrees with the
    ledger, else the ledger's discount apportioned in the engine's proportions (or the lines')."""
    if result is not None:
        split = {kind: result.line_discounts[kind] for kind in DISCOUNT_LINES}
        if sum(split.values(), ZERO) == ledger_discount:
            return split
        weights = split if any(split.values()) else {kind: result.target[kind] for kind in DISCOUNT_LINES}
    else:
        amounts = {kind: amount for kind, _label, amount in bill.lines}
        weights = {kind: amounts[kind] for kind in DISCOUNT_LINES}
    return apportion(ledger_discount, weights)


def _statement(bill: Bill, sums: dict[tuple[str, str, int], Decimal], grants: list[Grant], policies) -> BillStatement:
    """One bill's statement from the ledger's sums per (kind, cause type, cause id) for it."""
    by_kind: dict[str, Decimal] = defaultdict(lambda: ZERO)
    relief: list[Relief] = []
    kind_order = {kind: i for i, kind in enumerate(LedgerKind.values)}
    for (kind, cause_type, cause_id), amount in sorted(
        sums.items(), key=lambda item: (kind_order.get(item[0][0], 99), item[0][1], item[0][2])
    ):
        by_kind[kind] += amount
        if amount:
            relief.append(Relief(kind=kind, amount=amount, cause=Cause(type=cause_type, id=cause_id)))
    result = None
    if grants:
        try:
            result = bill_targets(bill=bill, account=bill.account, grants=grants, policies=policies)
        except (ValueError, TypeError, KeyError):
            # Data the engine refuses (its posting job fails the same way and shows the error).
            log.warning("bill %s: the engine could not recompute it for display", bill.pk, exc_info=True)
    ledger_discount = by_kind[LedgerKind.DISCOUNT]
    split = _line_discounts(bill, ledger_discount, result)
    if result is not None:
        pending = any(by_kind[kind] != target for kind, target in result.targets.by_kind().items())
    else:
        pending = False
    lines = tuple(
        StatementLine(kind=kind, label=label, amount=amount, discount=split.get(kind, ZERO))
        for kind, label, amount in bill.lines
    )
    return BillStatement(bill=bill, lines=lines, discount=ledger_discount, relief=tuple(relief), pending=pending)


def _statements(account: Account, bills: Iterable[Bill], *, every_bill: bool) -> list[BillStatement]:
    """Statements of ``bills`` (the account's; ``every_bill``: all of them): three queries (ledger
    sums, grants, policies) besides the bills."""
    bills = list(bills)
    if not bills:
        return []
    sums: dict[int, dict[tuple[str, str, int], Decimal]] = defaultdict(dict)
    entries = LedgerEntry.objects.filter(account=account)
    if not every_bill:
        entries = entries.filter(bill__in=[b.pk for b in bills])
    rows = entries.values("bill_id", "kind", "cause_type", "cause_id").annotate(total=Sum("amount")).order_by()
    for row in rows:
        sums[row["bill_id"]][(row["kind"], row["cause_type"], row["cause_id"])] = row["total"]
    grants = list(Grant.objects.filter(account=account).order_by("id"))
    policies = policy_terms()
    statements = []
    for bill in bills:
        bill.account = account  # no query per bill for the account
        statements.append(_statement(bill, sums.get(bill.pk, {}), grants, policies))
    return statements


def account_statements(*, account: Account, bills: Iterable[Bill] | None = None) -> AccountStatements:
    """Every bill of ``account`` by month with its relief and due, and the balance.

    Four queries whatever the number of bills: the bills (unless given), the ledger's sums per
    (bill, kind, cause), the account's grants and the policies.
    """
    every_bill = bills is None
    if bills is None:
        bills = Bill.objects.filter(account=account).order_by("period")
    return AccountStatements(account=account, statements=_statements(account, bills, every_bill=every_bill))


def bill_statement(*, account: Account, period: dt.date) -> BillStatement | None:
    """The statement of ``account``'s bill for ``period`` (first day of the month), or None."""
    bill = Bill.objects.filter(account=account, period=period).first()
    if bill is None:
        return None
    return _statements(account, [bill], every_bill=False)[0]


# --- balance ------------------------------------------------------------------------------------


def balance_subquery() -> Coalesce:
    """The account's balance as an expression to annotate an Account queryset with (no extra query)."""
    credits = (
        LedgerEntry.objects.filter(account=OuterRef("pk"), kind__in=CREDIT_KINDS)
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(**MONEY)
    return Coalesce(Subquery(credits, output_field=money), Value(ZERO, output_field=money), output_field=money)


def account_balance(*, account: Account) -> Decimal:
    """The sum of the account's credits (one query)."""
    total = LedgerEntry.objects.filter(account=account, kind__in=CREDIT_KINDS).aggregate(total=Sum("amount"))["total"]
    return engine.round_fen(total or ZERO)


# --- the ledger's rows (API and export) ----------------------------------------------------------

LEDGER_COLUMNS = ("account_no", "period", "kind", "amount", "cause_type", "cause_id", "posted_at")


def ledger_entries(
    *, user, account_no: str | None = None, cause_type: str | None = None, cause_id: int | None = None
) -> QuerySet[LedgerEntry]:
    """Ledger entries ``user`` may see (their accounts' district), optionally filtered; one query.

    In posting order (``id``), which the API's cursor pages follow.
    """
    queryset = LedgerEntry.objects.select_related("account").only(
        "id", "account", "period", "kind", "amount", "cause_type", "cause_id", "posted_at", "account__account_no"
    )
    queryset = scope_to_user(queryset, user, district_field="account__district")
    if account_no:
        queryset = queryset.filter(account__account_no=account_no)
    if cause_type:
        queryset = queryset.filter(cause_type=cause_type)
    if cause_id is not None:
        queryset = queryset.filter(cause_id=cause_id)
    return queryset.order_by("id")


def ledger_export_rows(
    *, account: Account | None = None, cause_type: str | None = None, chunk_size: int = 5000
) -> Iterator[tuple]:
    """The ledger as tuples of :data:`LEDGER_COLUMNS`, ordered by account_no, period, kind, seq.

    Streamed with ``.iterator()`` (a server-side cursor on PostgreSQL): bounded memory whatever
    the size of the ledger.
    """
    queryset = LedgerEntry.objects.all()
    if account is not None:
        queryset = queryset.filter(account=account)
    if cause_type:
        queryset = queryset.filter(cause_type=cause_type)
    queryset = queryset.order_by("account__account_no", "period", "kind", "seq").values_list(
        "account__account_no", "period", "kind", "amount", "cause_type", "cause_id", "posted_at"
    )
    return queryset.iterator(chunk_size=chunk_size)


def cause_type_error(value: str) -> str:
    """The message for an unknown cause type, naming the choices."""
    return _("Unknown cause type %(value)s: choose one of %(choices)s.") % {
        "value": repr(value),
        "choices": ", ".join(CauseType.values),
    }
