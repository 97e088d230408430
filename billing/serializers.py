"""Serializers of the billing API (interfaces.md §2): an account, its bills month by month, the ledger.

Amounts are decimal strings with two places (``"11083.34"``), periods ``YYYY-MM``. Discounts,
credits, what is due and the balance come from the ledger (``billing.ledger``, programme.md M8).
"""

from __future__ import annotations

import datetime as dt

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import ledger, rules
from .models import (
    MONEY,
    Account,
    BasicChargeMethod,
    CauseType,
    EnterpriseSize,
    JobState,
    LedgerEntry,
    LedgerKind,
    PriorityRole,
    period_label,
)

# Arrears protection (programme.md M10) is ``billing.rules.is_protected``; the name stays for callers.
account_is_protected = rules.is_protected


# --- Serializers ----------------------------------------------------------------------------------


def money_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(read_only=True, **MONEY, **kwargs)


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2020-03"})
class PeriodField(serializers.CharField):
    """A billing month as ``YYYY-MM`` (from a month's first day or the label itself)."""

    def to_representation(self, value) -> str:
        if isinstance(value, dt.date):
            return period_label(value)
        return super().to_representation(value)


class CustomerSerializer(serializers.ModelSerializer):
    """An account: the columns of interfaces.md §1 plus the relief facts about it."""

    district = serializers.CharField(source="district.name", read_only=True)
    # Blank ("") is a value of these columns (interfaces.md §1): say so in the schema.
    basic_charge_method = serializers.ChoiceField(choices=BasicChargeMethod.choices, allow_blank=True, read_only=True)
    enterprise_size = serializers.ChoiceField(choices=EnterpriseSize.choices, allow_blank=True, read_only=True)
    priority_role = serializers.ChoiceField(choices=PriorityRole.choices, allow_blank=True, read_only=True)
    eligible_discount = serializers.SerializerMethodField(help_text="Eligible for the 95% measure (programme.md M1).")
    protected = serializers.SerializerMethodField(help_text="Arrears protection applies (programme.md M10).")
    balance = serializers.SerializerMethodField(
        help_text="The sum of the account's credits in the ledger (every kind but the discount), yuan."
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
    def get_eligible_discount(self, account: Account) -> bool:
        # Annotated by the view from the policy row (billing.selectors.with_eligible): no query of its own.
        eligible = getattr(account, "eligible", None)
        return rules.discount_rules().admits(account) if eligible is None else bool(eligible)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_protected(self, account: Account) -> bool:
        return rules.is_protected(account)

    @extend_schema_field(money_field())
    def get_balance(self, account: Account) -> str:
        # Annotated by the view (billing.ledger.balance_subquery): no query of its own.
        balance = getattr(account, "balance", None)
        if balance is None:
            balance = ledger.account_balance(account=account)
        return money_field().to_representation(balance)


class NamedChoiceField(serializers.CharField):
    """A read-only code whose schema is a named enum component (``enum_name``) shared by every use.

    Named by us rather than by drf-spectacular's enum postprocessing, which names enums after the
    field (``kind``, ``state``): the workflow has its own ``kind`` and ``state`` choice sets, and
    the collision would be a schema warning (the schema check fails on warnings).
    """

    enum_name: str = ""
    choices: type | None = None

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NamedChoiceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        component = ResolvedComponent(
            name=field.enum_name,
            type=ResolvedComponent.SCHEMA,
            object=field.enum_name,
            schema={"type": "string", "enum": list(field.choices.values)},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class LedgerKindField(NamedChoiceField):
    enum_name = "LedgerKindEnum"
    choices = LedgerKind


class CauseTypeOutField(NamedChoiceField):
    enum_name = "LedgerCauseTypeEnum"
    choices = CauseType


class JobStateField(NamedChoiceField):
    enum_name = "PostingJobStateEnum"
    choices = JobState


class BillLineSerializer(serializers.Serializer):
    kind = serializers.CharField(read_only=True, help_text="energy, basic, power_factor or late_fee")
    label = serializers.CharField(read_only=True)
    amount = money_field()
    discount = money_field(
        help_text=(
            "The 5% on this line (programme.md M3). The ledger holds the discount per bill; this is the "
            "relief engine's split of it, and the lines add up to the bill's discount."
        )
    )


class ReliefSerializer(serializers.Serializer):
    kind = LedgerKindField()
    label = serializers.CharField(source="kind_label", read_only=True, help_text="The bill's wording of the kind.")
    amount = money_field(help_text="The ledger's sum for this bill, kind and cause (corrections included).")
    cause_type = CauseTypeOutField(source="cause.type", help_text="What the amount comes from.")
    cause_id = serializers.IntegerField(source="cause.id", read_only=True)


class BillStatementSerializer(serializers.Serializer):
    period = PeriodField(read_only=True)
    lines = BillLineSerializer(many=True, read_only=True)
    gross = money_field(help_text="Σ lines as billed.")
    discount = money_field(help_text="The ledger's discount for this bill (kind discount); Σ line discounts.")
    credits = money_field(help_text="The ledger's credits for this bill (every kind but the discount).")
    due = money_field(help_text="gross − discount − credits.")
    relief = ReliefSerializer(
        many=True, read_only=True, help_text="The discount and credits by kind and cause (list or application)."
    )
    pending = serializers.BooleanField(
        read_only=True,
        help_text=(
            "The ledger has not reached what the approvals give yet (a posting job is pending, running or "
            "failed); the figures are the ledger's as it stands."
        ),
    )


class LedgerEntrySerializer(serializers.ModelSerializer):
    """One ledger entry (interfaces.md §2): positive in the customer's favour, negative a correction."""

    account_no = serializers.CharField(source="account.account_no", read_only=True)
    period = PeriodField(read_only=True)
    kind = LedgerKindField()
    amount = money_field(help_text="Yuan; positive in the customer's favour, negative a correction.")
    cause_type = CauseTypeOutField(help_text="What the entry comes from.")

    class Meta:
        model = LedgerEntry
        fields = ["account_no", "period", "kind", "amount", "cause_type", "cause_id", "posted_at"]
        read_only_fields = fields


class CauseTypeField(serializers.ChoiceField):
    """A cause type; an unknown one is refused with a message naming the choices."""

    def __init__(self, **kwargs):
        super().__init__(choices=CauseType.choices, **kwargs)

    def to_internal_value(self, data):
        if data not in CauseType.values:
            raise serializers.ValidationError(ledger.cause_type_error(str(data)))
        return data


class LedgerFilterSerializer(serializers.Serializer):
    """The ledger's query parameters."""

    account_no = serializers.RegexField(
        r"^\d{10}\Z",
        required=False,
        help_text="户号, 10 digits. An account outside the caller's district gives no entries, like an unknown one.",
        error_messages={"invalid": "An account number has 10 digits."},
    )
    cause_type = CauseTypeField(required=False, help_text="What the entries come from.")
    cause_id = serializers.IntegerField(required=False, min_value=1, help_text="The list's or application's id.")


class PostingJobSerializer(serializers.Serializer):
    """A posting job's progress (what the item pages' progress bar polls)."""

    id = serializers.IntegerField(read_only=True)
    state = JobStateField(help_text="failed: retried by the sweep; the item stays approved meanwhile.")
    state_label = serializers.CharField(read_only=True)
    chunks_done = serializers.IntegerField(read_only=True)
    chunks_total = serializers.IntegerField(read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent of chunks done, 0–100.")
    entries_posted = serializers.IntegerField(read_only=True)
    error = serializers.CharField(read_only=True, help_text="The last error while the job is not done, else empty.")
    attempts = serializers.IntegerField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    done = serializers.BooleanField(read_only=True)
