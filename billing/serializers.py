"""Serializers of the customer API (interfaces.md §2): an account, and its bills month by month.

Amounts are decimal strings with two places (``"11083.34"``), periods ``YYYY-MM``.

TODO(relief engine + ledger issue — programme.md M8/M9): discounts, credits and the balance
are reported as ``0.00`` because the ledger does not exist yet. When it lands, feed
:func:`bill_statements` the ledger sums per (bill, kind) from a billing selector (one query for
all the bills, keeping the endpoint's query count fixed) and compute ``balance`` from the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import MONEY, Account, BasicChargeMethod, Bill, Category, EnterpriseSize, PriorityRole

ZERO = Decimal("0.00")

# --- Arrears protection (programme.md M10) ------------------------------------------------------

PROTECTED_ENTERPRISE_SIZES = frozenset({EnterpriseSize.SMALL, EnterpriseSize.MICRO})
# Epidemic-prevention units: designated hospitals, community prevention points and makers of
# protective supplies (every priority role of the 三零 measure).
PREVENTION_UNIT_ROLES = frozenset({PriorityRole.HOSPITAL, PriorityRole.PREVENTION_POINT, PriorityRole.SUPPLIES_MAKER})


def account_is_protected(account: Account) -> bool:
    """Whether the account qualifies for arrears protection (欠费不停电, programme.md M10).

    Protected are residential accounts, small and micro enterprises, and epidemic-prevention
    units (``priority_role`` hospital, prevention point or protective-supplies maker). During
    the relief window no disconnection order may be created for them and no late fee charged;
    whether a date falls in the window is the caller's question, not this one.
    """
    return (
        account.category == Category.RESIDENTIAL
        or account.enterprise_size in PROTECTED_ENTERPRISE_SIZES
        or account.priority_role in PREVENTION_UNIT_ROLES
    )


# --- Bills as statements --------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    kind: str
    label: str
    amount: Decimal
    discount: Decimal


@dataclass(frozen=True)
class BillStatement:
    """One month's bill as the customer sees it: lines as billed, the relief on them, what is due."""

    period: str
    lines: tuple[StatementLine, ...]
    gross: Decimal
    credits: Decimal

    @property
    def discount(self) -> Decimal:
        return sum((line.discount for line in self.lines), ZERO)

    @property
    def due(self) -> Decimal:
        """Σ lines − Σ discounts (programme.md M3); credits offset later bills and are shown apart."""
        return self.gross - self.discount


def bill_statement(bill: Bill) -> BillStatement:
    """The statement of one bill; discounts and credits are 0.00 until the ledger exists (TODO above)."""
    lines = tuple(
        StatementLine(kind=kind, label=label, amount=amount, discount=ZERO) for kind, label, amount in bill.lines
    )
    return BillStatement(period=bill.period_label, lines=lines, gross=bill.gross, credits=ZERO)


def bill_statements(bills: Iterable[Bill]) -> list[BillStatement]:
    return [bill_statement(bill) for bill in bills]


# --- Serializers ----------------------------------------------------------------------------------


def money_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(read_only=True, **MONEY, **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2020-03"})
class PeriodField(serializers.CharField):
    """A billing month as ``YYYY-MM``."""


class CustomerSerializer(serializers.ModelSerializer):
    """An account: the columns of interfaces.md §1 plus the relief facts about it."""

    district = serializers.CharField(source="district.name", read_only=True)
    # Blank ("") is a value of these columns (interfaces.md §1): say so in the schema.
    basic_charge_method = serializers.ChoiceField(choices=BasicChargeMethod.choices, allow_blank=True, read_only=True)
    enterprise_size = serializers.ChoiceField(choices=EnterpriseSize.choices, allow_blank=True, read_only=True)
    priority_role = serializers.ChoiceField(choices=PriorityRole.choices, allow_blank=True, read_only=True)
    eligible_discount = serializers.BooleanField(
        read_only=True, help_text="Eligible for the 95% measure (programme.md M1)."
    )
    protected = serializers.SerializerMethodField(help_text="Arrears protection applies (programme.md M10).")
    balance = serializers.SerializerMethodField(
        help_text="Relief credited and not yet used, yuan (0.00 until the ledger exists)."
    )

    class Meta:
        model = Account
        fields = [
            "account_no",
            "name",
            "district",
            "category",
            "industry_code",
            "voltage_kv",
            "basic_charge_method",
            "capacity_kva",
            "contract_demand_kw",
            "enterprise_size",
            "priority_role",
            "high_energy",
            "eligible_discount",
            "protected",
            "balance",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_protected(self, account: Account) -> bool:
        return account_is_protected(account)

    @extend_schema_field(money_field())
    def get_balance(self, account: Account) -> str:
        # TODO(relief engine + ledger issue — programme.md M8/M9): the ledger's balance.
        return money_field().to_representation(ZERO)


class BillLineSerializer(serializers.Serializer):
    kind = serializers.CharField(read_only=True, help_text="energy, basic, power_factor or late_fee")
    label = serializers.CharField(read_only=True)
    amount = money_field()
    discount = money_field(help_text="The 5% on this line (0.00 until the ledger exists).")


class BillStatementSerializer(serializers.Serializer):
    period = PeriodField(read_only=True)
    lines = BillLineSerializer(many=True, read_only=True)
    gross = money_field(help_text="Σ lines as billed.")
    discount = money_field(help_text="Σ line discounts.")
    due = money_field(help_text="gross − discount.")
    credits = money_field(help_text="Relief credits posted for this month (0.00 until the ledger exists).")
