"""Validation of capacity-change applications: the normal rules and the relief waivers (programme.md M7).

Pure functions over dates and numbers; each refusal names the rule it comes from. The service
turns the result into a ValidationError keyed by field. The relief's window, earliest seal date
and waived rules are the ``two-part-relief-2020`` policy row's (``billing.rules``); the normal
rules' figures are ``PORTAL_CAPACITY_RULES``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from billing import rules as policy_rules

SUSPENSION_KINDS = ("suspension",)
REDUCTION_KINDS = ("capacity_reduction",)
RESTORE_KINDS = ("suspension_restore", "reduction_restore")
SEAL_KINDS = (*SUSPENSION_KINDS, *REDUCTION_KINDS)

# The normal rules the relief is about (M7: "the 15-day rule and the notice rule are waived"): in
# the window each is waived when the policy row lists it in ``waived_rules``. The other normal rules
# are not checked in the window whatever the row says (programme.md M7, Deviation 1).
RELIEF_RULES = ("min_suspension_days", "notice_days")


@dataclass(frozen=True)
class ReliefWindow:
    """The two-part relief's terms: its windows (first day, last day), earliest seal date, waived rules."""

    windows: tuple[tuple[dt.date, dt.date], ...]
    earliest_seal_date: dt.date | None
    waived_rules: frozenset[str] = frozenset(RELIEF_RULES)

    @classmethod
    def from_policy(cls, rules: policy_rules.PolicyRules | None = None) -> ReliefWindow:
        """From the ``two-part-relief-2020`` row (read once per request or task), or the rules given."""
        rules = rules or policy_rules.two_part_rules()
        return cls(
            windows=rules.windows,
            # No earliest seal date on the row: a seal date may be back-dated to the window's start.
            earliest_seal_date=rules.earliest_seal_date or rules.start,
            waived_rules=rules.waived_rules,
        )

    @property
    def start(self) -> dt.date | None:
        return min((first for first, _ in self.windows), default=None)

    def contains(self, day: dt.date | None) -> bool:
        return day is not None and any(first <= day <= last for first, last in self.windows)

    def waives(self, rule: str) -> bool:
        return rule in self.waived_rules


@dataclass(frozen=True)
class NormalRules:
    min_suspension_days: int
    notice_days: int
    max_suspensions_per_year: int
    max_suspension_months_per_year: int
    reduction_min_months: int
    reduction_max_months: int

    @classmethod
    def from_settings(cls) -> NormalRules:
        return cls(**settings.PORTAL_CAPACITY_RULES)


@dataclass
class CapacityCheck:
    """The outcome: whether the relief applies, and the refusals by field."""

    relief: bool = False
    errors: dict[str, list[str]] = field(default_factory=dict)

    def refuse(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _months_between(start: dt.date, end: dt.date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return months


def check_capacity_application(
    *,
    kind: str,
    received_on: dt.date,
    seal_date: dt.date | None,
    restore_date: dt.date | None,
    capacity_kva: Decimal | None,
    account_capacity_kva: Decimal,
    demand_basis: bool,
    suspensions_this_year: int = 0,
    suspended_days_this_year: int = 0,
    window: ReliefWindow | None = None,
    rules: NormalRules | None = None,
) -> CapacityCheck:
    """Check a 减容/暂停/恢复 application against M7. Other kinds pass unchanged."""
    window = window or ReliefWindow.from_policy()
    rules = rules or NormalRules.from_settings()
    result = CapacityCheck()

    if kind in RESTORE_KINDS:
        if restore_date is None:
            result.refuse("restore_date", _("A restore application needs the restore date."))
        result.relief = window.contains(restore_date)
        return result
    if kind not in SEAL_KINDS:
        return result

    if seal_date is None:
        result.refuse("seal_date", _("A suspension or capacity reduction needs the seal date."))
        return result
    if capacity_kva is None or capacity_kva <= 0:
        result.refuse("capacity_kva", _("Enter the capacity to suspend or reduce, in kVA, above 0."))
    elif capacity_kva > account_capacity_kva:
        result.refuse(
            "capacity_kva",
            _("The capacity (%(asked)s kVA) exceeds the capacity in service (%(has)s kVA).")
            % {"asked": capacity_kva, "has": account_capacity_kva},
        )
    if restore_date is not None and restore_date <= seal_date:
        result.refuse("restore_date", _("The restore date must be after the seal date."))

    # Relief: the effective (seal) date lies in the window; an application received in the window
    # may back-date its seal date, but never before the earliest seal date.
    back_dated = window.contains(received_on) and seal_date < received_on
    if back_dated and window.earliest_seal_date and seal_date < window.earliest_seal_date:
        result.refuse(
            "seal_date",
            _("Two-part relief (M7): the seal date may be back-dated to no earlier than %(date)s.")
            % {"date": window.earliest_seal_date.isoformat()},
        )
        return result
    result.relief = back_dated or window.contains(seal_date)

    def checked(rule: str) -> bool:
        """Outside the relief every normal rule; under it only the relief's rules the row does not waive."""
        return not result.relief or (rule in RELIEF_RULES and not window.waives(rule))

    # The normal rules.
    notice = (seal_date - received_on).days
    if checked("notice_days") and notice < rules.notice_days:
        result.refuse(
            "seal_date",
            _(
                "Notice rule (M7): the seal date must be at least %(days)s days after the application was "
                "received (%(received)s)."
            )
            % {"days": rules.notice_days, "received": received_on.isoformat()},
        )
    if kind in SUSPENSION_KINDS:
        if (
            checked("demand_basis")
            and demand_basis
            and capacity_kva is not None
            and capacity_kva != account_capacity_kva
        ):
            result.refuse(
                "capacity_kva",
                _("Demand-basis rule (M7): a demand-basis account suspends its whole capacity (%(has)s kVA).")
                % {"has": account_capacity_kva},
            )
        if restore_date is not None:
            days = (restore_date - seal_date).days
            if checked("min_suspension_days") and days < rules.min_suspension_days:
                result.refuse(
                    "restore_date",
                    _(
                        "15-day rule (M7): a suspension of %(days)s days is under the minimum of %(min)s days "
                        "and gets no reduction outside the relief window."
                    )
                    % {"days": days, "min": rules.min_suspension_days},
                )
            if (
                checked("max_suspension_months_per_year")
                and suspended_days_this_year + days > rules.max_suspension_months_per_year * 30
            ):
                result.refuse(
                    "restore_date",
                    _("Yearly limit (M7): suspensions may total at most %(months)s months a calendar year.")
                    % {"months": rules.max_suspension_months_per_year},
                )
        if checked("max_suspensions_per_year") and suspensions_this_year >= rules.max_suspensions_per_year:
            result.refuse(
                "seal_date",
                _("Yearly limit (M7): at most %(n)s suspensions per calendar year.")
                % {"n": rules.max_suspensions_per_year},
            )
    if checked("reduction_term") and kind in REDUCTION_KINDS and restore_date is not None:
        months = _months_between(seal_date, restore_date)
        if not rules.reduction_min_months <= months <= rules.reduction_max_months:
            result.refuse(
                "restore_date",
                _("Reduction term (M7): a capacity reduction lasts %(min)s months to %(max)s years.")
                % {"min": rules.reduction_min_months, "max": rules.reduction_max_months // 12},
            )
    return result
