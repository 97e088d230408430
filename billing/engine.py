"""The money arithmetic of programme.md §4 as pure functions over Decimals and dates.

No ORM, no I/O, no Django: plain Python, ``decimal``, ``datetime`` and ``dataclasses``. Every amount
is Decimal yuan (a float is refused with ``TypeError``); every line is rounded once, to the fen, with
ROUND_HALF_UP (half away from zero, as PostgreSQL's round(numeric, 2) does).

What is here, by rule:

* M3 — :func:`round_fen`, :func:`line_discount`, :func:`lines_discount`.
* M4 — :func:`billed_demand`, :func:`capacity_basic_charge`, :func:`demand_basic_charge`,
  :func:`monthly_basic_charge` (the month's basic charge with no seal).
* M5/M6 — :class:`Seal`, :func:`days_charged`, :func:`prorate`, :func:`basic_charge` (the month's
  basic charge with its seals).
* Power-factor adjustment — :func:`power_factor_charge` (rate × (energy + basic), as the bills
  import format defines ``power_factor_rate``).
* M8/M9 — :class:`BillLines`, :class:`MonthRelief`, :func:`recompute_month` →
  :class:`MonthResult` with its :class:`Targets`; :func:`posting_delta`.
* M11 — :func:`to_wan`, :func:`to_yi`.

Decisions where programme.md is silent (each is repeated at the function that makes it):

* **Proration is per unit of capacity.** Each kVA of capacity that is sealed on at least one day
  of the month is charged ``min(days in service, 30) / 30`` of its monthly charge; capacity never
  sealed in the month is charged in full (so a 31-day month is never charged 31/30, and a
  29-day February with no seal is not charged 29/30). The month's basic charge is the sum over the
  capacity, rounded once.
* **Which capacity a seal seals.** Seals sharing a ``unit`` label (default ``""``) are taken as the
  same capacity whenever they do not overlap in time (a transformer sealed twice in a month), and
  stack when they do; seals with different labels are different capacity (different
  transformers). Only the daily sealed kVA per label matters, so the order seals are given in
  never changes the result.
* **Demand basis and seals (M7).** A demand-basis account suspends its whole capacity, so each of
  its seals must cover the whole ``capacity_kva`` (otherwise ``ValueError``); the month's
  demand-basis charge (M4, on the month's maximum demand) is then prorated by the days charged.
* **Credits split (M8).** When both the demand relief and seals change a month, the demand relief
  is applied first (it changes the month's tariff: no double charge) and the seals prorate the
  result: ``demand_relief_credit`` = original basic + power factor − (full-month basic without the
  double charge + its power factor); ``basic_charge_credit`` = that − (prorated basic + its power
  factor). Their sum is exactly original − recomputed, and the demand-relief credit never depends
  on the seals.
* **Only what relief changes is recomputed.** With no seal touching the month (or none that
  removes a charged day) and no double charge removed, the bill's basic and power-factor lines
  stay as billed, so relief never "corrects" a bill for reasons of its own.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal, localcontext

FEN = Decimal("0.01")
ZERO = Decimal("0.00")

# M4 constants (sourced: 发改办价格〔2020〕110号 and the two-part tariff rules).
DEMAND_FLOOR_SHARE = Decimal("0.4")  # billed demand is at least 40% of the transformer kVA in service
DEMAND_TOLERANCE = Decimal("1.05")  # actual demand above 105% of billed demand: the excess is charged double
# M5: a day's basic charge is 1/30 of the month's (sourced), whatever the month's length.
DAYS_PER_MONTH = 30

# Basic-charge methods, as billing.models.BasicChargeMethod spells them.
CAPACITY = "capacity"
DEMAND = "demand"
METHODS = (CAPACITY, DEMAND)

# Bill line components, as billing.models.Bill.lines spells them.
ENERGY = "energy"
BASIC = "basic"
POWER_FACTOR = "power_factor"
LATE_FEE = "late_fee"
COMPONENTS = (ENERGY, BASIC, POWER_FACTOR, LATE_FEE)
# M2: the components the 5% may apply to (never the late fee).
DISCOUNTABLE = frozenset({ENERGY, BASIC, POWER_FACTOR})

# Ledger kinds (interfaces.md §2) that recompute_month gives targets for.
KIND_DISCOUNT = "discount"
KIND_BASIC_CHARGE_CREDIT = "basic_charge_credit"
KIND_DEMAND_RELIEF_CREDIT = "demand_relief_credit"
KIND_LATE_FEE_WAIVER = "late_fee_waiver"
KINDS = (KIND_DISCOUNT, KIND_BASIC_CHARGE_CREDIT, KIND_DEMAND_RELIEF_CREDIT, KIND_LATE_FEE_WAIVER)


# --- input checks ---------------------------------------------------------------------------------


def _decimal(value: object, name: str) -> Decimal:
    """A finite Decimal; floats (and anything else) are refused with TypeError."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be finite, not {value}")
    return value


def _quantity(value: object, name: str) -> Decimal:
    """kVA or kW: a Decimal or an int (not a bool, never a float), not negative."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    quantity = _decimal(value, name)
    if quantity < 0:
        raise ValueError(f"{name} must not be negative, not {quantity}")
    return quantity


def _money(value: object, name: str) -> Decimal:
    """An amount as billed: a Decimal on the fen grid, returned with exactly 2 places."""
    amount = _decimal(value, name)
    rounded = round_fen(amount)
    if rounded != amount:
        raise ValueError(f"{name} must be whole fen (at most 2 decimal places), not {amount}")
    return rounded


def _date(value: object, name: str) -> dt.date:
    """A calendar date; a datetime (a subclass of date) is refused as well."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime.date, not {type(value).__name__}")
    return value


def _period(value: object) -> dt.date:
    period = _date(value, "period")
    if period.day != 1:
        raise ValueError(f"period must be the first day of the billing month, not {period.isoformat()}")
    return period


def _next_month(period: dt.date) -> dt.date:
    return dt.date(period.year + 1, 1, 1) if period.month == 12 else dt.date(period.year, period.month + 1, 1)


# --- M3: rounding and the 5% ------------------------------------------------------------------------


def round_fen(amount: Decimal) -> Decimal:
    """Round once to the fen, half away from zero. Floats are refused: money is never float."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def line_discount(line: Decimal, rate: Decimal) -> Decimal:
    """M3: ``discount(line) = round(line × rate)``; 12,345.67 at 5% → 617.28."""
    return round_fen(line * rate)


def lines_discount(lines: Iterable[Decimal], rate: Decimal) -> Decimal:
    """The discount of a bill: the sum of its lines' discounts, each rounded on its own."""
    return sum((line_discount(line, rate) for line in lines), Decimal("0.00"))


# --- M4: the month's basic charge -------------------------------------------------------------------


def billed_demand(*, contract_demand_kw: Decimal | int, capacity_kva: Decimal | int) -> Decimal:
    """M4: billed demand = max(contract demand, 40% of the transformer kVA in service), in kW (unrounded)."""
    contract = _quantity(contract_demand_kw, "contract_demand_kw")
    capacity = _quantity(capacity_kva, "capacity_kva")
    return max(contract, capacity * DEMAND_FLOOR_SHARE)


def _capacity_unrounded(capacity_kva: Decimal, rate: Decimal) -> Decimal:
    return capacity_kva * rate


def _demand_unrounded(
    *,
    contract_demand_kw: Decimal,
    capacity_kva: Decimal,
    max_demand_kw: Decimal | None,
    rate: Decimal,
    demand_relief: bool,
) -> Decimal:
    billed = billed_demand(contract_demand_kw=contract_demand_kw, capacity_kva=capacity_kva)
    threshold = billed * DEMAND_TOLERANCE
    if max_demand_kw is None or max_demand_kw <= threshold:
        return billed * rate
    if demand_relief:
        return max_demand_kw * rate
    return max_demand_kw * rate + (max_demand_kw - threshold) * rate


def capacity_basic_charge(*, capacity_kva: Decimal | int, rate: Decimal) -> Decimal:
    """M4, capacity basis: kVA in service × rate (元/kVA·月), rounded once. 1,000 kVA × 25 → 25,000.00."""
    capacity = _quantity(capacity_kva, "capacity_kva")
    return round_fen(_capacity_unrounded(capacity, _decimal(rate, "rate")))


def demand_basic_charge(
    *,
    contract_demand_kw: Decimal | int,
    capacity_kva: Decimal | int,
    max_demand_kw: Decimal | int | None,
    rate: Decimal,
    demand_relief: bool = False,
) -> Decimal:
    """M4, demand basis (元/kW·月), rounded once.

    Billed demand = max(contract demand, 40% of the transformer kVA in service). Up to 105% of it
    (or with no maximum demand recorded) the billed demand is charged: billed × rate. Above 105%
    the actual demand is charged, and the excess over 105% is charged a second time:
    actual × rate + (actual − 1.05 × billed) × rate — except with approved capacity-expansion
    relief in the relief months (``demand_relief``, decided by the caller from the policy window),
    where the excess is charged once: actual × rate. This is the reading of
    ``billing.demo.demand_basic_charge``. Example: contract 800 kW, actual 900, rate 37.5 →
    36,000.00 normally, 33,750.00 with relief.
    """
    return round_fen(
        _demand_unrounded(
            contract_demand_kw=_quantity(contract_demand_kw, "contract_demand_kw"),
            capacity_kva=_quantity(capacity_kva, "capacity_kva"),
            max_demand_kw=None if max_demand_kw is None else _quantity(max_demand_kw, "max_demand_kw"),
            rate=_decimal(rate, "rate"),
            demand_relief=demand_relief,
        )
    )


@dataclass(frozen=True)
class BasicChargeTerms:
    """An account's two-part tariff for one month (M4): method, capacity, rate, demands.

    ``capacity_kva`` is the transformer capacity in service before any seal of the month.
    ``contract_demand_kw`` is required on the demand basis; ``max_demand_kw`` is the month's actual
    maximum demand as billed (None: none recorded, the billed demand is charged).
    """

    method: str
    capacity_kva: Decimal
    rate: Decimal
    contract_demand_kw: Decimal | None = None
    max_demand_kw: Decimal | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        object.__setattr__(self, "capacity_kva", _quantity(self.capacity_kva, "capacity_kva"))
        object.__setattr__(self, "rate", _decimal(self.rate, "rate"))
        if self.method == DEMAND:
            if self.contract_demand_kw is None:
                raise ValueError("a demand-basis account needs contract_demand_kw")
            object.__setattr__(self, "contract_demand_kw", _quantity(self.contract_demand_kw, "contract_demand_kw"))
        elif self.contract_demand_kw is not None:
            object.__setattr__(self, "contract_demand_kw", _quantity(self.contract_demand_kw, "contract_demand_kw"))
        if self.max_demand_kw is not None:
            object.__setattr__(self, "max_demand_kw", _quantity(self.max_demand_kw, "max_demand_kw"))

    def _contract_demand(self) -> Decimal:
        if self.contract_demand_kw is None:
            raise ValueError("a demand-basis account needs contract_demand_kw")
        return self.contract_demand_kw

    def monthly_unrounded(self, *, demand_relief: bool = False) -> Decimal:
        """The full month's charge before its one rounding (what M5 prorates)."""
        if self.method == CAPACITY:
            return _capacity_unrounded(self.capacity_kva, self.rate)
        return _demand_unrounded(
            contract_demand_kw=self._contract_demand(),
            capacity_kva=self.capacity_kva,
            max_demand_kw=self.max_demand_kw,
            rate=self.rate,
            demand_relief=demand_relief,
        )

    def double_charged(self) -> bool:
        """Whether the month's demand is above 105% of billed demand (the excess is charged double)."""
        if self.method != DEMAND or self.max_demand_kw is None:
            return False
        billed = billed_demand(contract_demand_kw=self._contract_demand(), capacity_kva=self.capacity_kva)
        return self.max_demand_kw > billed * DEMAND_TOLERANCE


def monthly_basic_charge(terms: BasicChargeTerms, *, demand_relief: bool = False) -> Decimal:
    """M4: the month's basic charge with no seal, rounded once."""
    return round_fen(terms.monthly_unrounded(demand_relief=demand_relief))


# --- M5/M6: partial months and seal dates -----------------------------------------------------------


@dataclass(frozen=True)
class Seal:
    """A 减容 or 暂停 of ``capacity_kva`` (M6): sealed on ``seal_date``, restored on ``restore_date``.

    The seal date (加封日) is the first day not charged; the restore date (启封日) is the first day
    charged again; None: still sealed (to the end of any month after the seal date). A day in
    service for any part of it counts whole, which these two dates already say. ``unit`` names the
    sealed capacity (e.g. a transformer): seals with the same label are the same capacity whenever
    they do not overlap in time, seals with different labels are different capacity.
    A restore date before the seal date is refused; equal dates seal nothing.
    """

    capacity_kva: Decimal
    seal_date: dt.date
    restore_date: dt.date | None = None
    unit: str = ""

    def __post_init__(self) -> None:
        capacity = _quantity(self.capacity_kva, "capacity_kva")
        if capacity == 0:
            raise ValueError("a seal must seal some capacity (capacity_kva > 0)")
        object.__setattr__(self, "capacity_kva", capacity)
        _date(self.seal_date, "seal_date")
        if self.restore_date is not None:
            _date(self.restore_date, "restore_date")
            if self.restore_date < self.seal_date:
                raise ValueError(
                    f"restore date {self.restore_date.isoformat()} is before seal date {self.seal_date.isoformat()}"
                )
        if not isinstance(self.unit, str):
            raise TypeError(f"unit must be str, not {type(self.unit).__name__}")

    def sealed_on(self, day: dt.date) -> bool:
        """M6: sealed from the seal date (inclusive) to the restore date (exclusive)."""
        return self.seal_date <= day and (self.restore_date is None or day < self.restore_date)


def _month_days(period: dt.date) -> list[dt.date]:
    length = calendar.monthrange(period.year, period.month)[1]
    return [dt.date(period.year, period.month, day) for day in range(1, length + 1)]


def days_charged(period: dt.date, seal: Seal) -> int:
    """M6: the days of the billing month ``period`` on which ``seal``'s capacity is in service (not capped).

    Sealed 2020-02-01, restored 2020-02-20 → February 10; sealed 2020-03-05, restored 2020-03-20 →
    March 16; sealed 2020-02-01, restored 2020-03-01 → February 0, March 31.
    """
    return sum(1 for day in _month_days(_period(period)) if not seal.sealed_on(day))


def prorate(monthly: Decimal, charged_days: int) -> Decimal:
    """M5: ``round(monthly × charged_days / 30)``, capped at the monthly charge (a 31-day month is not 31/30)."""
    amount = _decimal(monthly, "monthly")
    if isinstance(charged_days, bool) or not isinstance(charged_days, int):
        raise TypeError(f"charged_days must be int, not {type(charged_days).__name__}")
    if charged_days < 0:
        raise ValueError(f"charged_days must not be negative, not {charged_days}")
    with localcontext() as ctx:
        ctx.prec = 50
        return round_fen(amount * min(charged_days, DAYS_PER_MONTH) / DAYS_PER_MONTH)


def _charged_kva_days(period: dt.date, capacity_kva: Decimal, seals: Iterable[Seal]) -> tuple[Decimal, bool]:
    """Σ over the capacity of kVA × charged days (capacity never sealed: 30), and whether any kVA lost a day.

    Per ``unit`` label, the daily sealed kVA is cut into layers: the layer between two successive
    sealed levels is in service on the days the sealed kVA is below its top, and is charged
    min(those days, 30). The labels' largest sealed kVA must add up to no more than the capacity.
    """
    days = _month_days(period)
    by_unit: dict[str, list[Seal]] = defaultdict(list)
    for seal in seals:
        if not isinstance(seal, Seal):
            raise TypeError(f"seals must be Seal, not {type(seal).__name__}")
        by_unit[seal.unit].append(seal)
    kva_days = Decimal(0)
    sealed_width = Decimal(0)
    reduced = False
    for group in by_unit.values():
        sealed = [sum((s.capacity_kva for s in group if s.sealed_on(day)), Decimal(0)) for day in days]
        previous = Decimal(0)
        for level in sorted(set(sealed) - {Decimal(0)}):
            in_service = sum(1 for kva in sealed if kva < level)
            charged = min(in_service, DAYS_PER_MONTH)
            reduced = reduced or charged < DAYS_PER_MONTH
            kva_days += (level - previous) * charged
            previous = level
        sealed_width += previous
    if sealed_width > capacity_kva:
        raise ValueError(f"seals of {sealed_width} kVA in {period:%Y-%m} exceed the capacity of {capacity_kva} kVA")
    kva_days += (capacity_kva - sealed_width) * DAYS_PER_MONTH
    return kva_days, reduced


def _sealed_fraction(period: dt.date, terms: BasicChargeTerms, seals: Iterable[Seal]) -> Decimal | None:
    """The share of the month's charge that is charged given the seals, or None if no charged day is lost."""
    seals = tuple(seals)
    if terms.method == DEMAND:
        for seal in seals:
            if isinstance(seal, Seal) and seal.capacity_kva != terms.capacity_kva:
                raise ValueError(
                    "M7: a demand-basis account suspends its whole capacity "
                    f"({terms.capacity_kva} kVA), not {seal.capacity_kva} kVA"
                )
    kva_days, reduced = _charged_kva_days(period, terms.capacity_kva, seals)
    if not reduced:
        return None
    with localcontext() as ctx:
        ctx.prec = 50
        return kva_days / (terms.capacity_kva * DAYS_PER_MONTH)


def basic_charge(
    *,
    period: dt.date,
    terms: BasicChargeTerms,
    seals: Iterable[Seal] = (),
    demand_relief: bool = False,
) -> Decimal:
    """M4–M7: the basic charge of billing month ``period`` (its first day) given the seals, rounded once.

    Only the sealed capacity is prorated (M6): capacity never sealed in the month is charged in full;
    each kVA sealed on some day of the month is charged min(days in service, 30)/30 of its monthly
    charge (M5, so the result never exceeds the monthly charge). The sum is rounded once:
    1,000 kVA × 25 with 400 kVA sealed 2020-03-05 … 2020-03-20 → round(600 × 25 + 400 × 25 × 16/30)
    = 20,333.33. On the demand basis every seal must cover the whole capacity (M7) and the month's
    demand charge (M4, with ``demand_relief`` if approved) is prorated by the days charged.
    """
    period = _period(period)
    if not isinstance(terms, BasicChargeTerms):
        raise TypeError(f"terms must be BasicChargeTerms, not {type(terms).__name__}")
    monthly = terms.monthly_unrounded(demand_relief=demand_relief)
    fraction = _sealed_fraction(period, terms, seals)
    if fraction is None:
        return round_fen(monthly)
    with localcontext() as ctx:
        ctx.prec = 50
        return round_fen(monthly * fraction)


# --- power-factor adjustment ------------------------------------------------------------------------


def power_factor_charge(*, energy: Decimal, basic: Decimal, rate: Decimal) -> Decimal:
    """力调电费 = round((energy + basic) × power_factor_rate); the rate is signed (e.g. −0.0075 is a bonus).

    This is the bills import format's ``power_factor_rate`` ("adjustment rate applied to energy +
    basic") and the demo generator's reading.
    """
    return round_fen((_decimal(energy, "energy") + _decimal(basic, "basic")) * _decimal(rate, "rate"))


# --- M8/M9: the month's targets ---------------------------------------------------------------------


@dataclass(frozen=True)
class BillLines:
    """A bill's four lines in yuan (whole fen, kept with exactly 2 decimal places)."""

    energy: Decimal
    basic: Decimal
    power_factor: Decimal
    late_fee: Decimal

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _money(getattr(self, f.name), f.name))

    def __getitem__(self, component: str) -> Decimal:
        if component not in COMPONENTS:
            raise KeyError(component)
        return getattr(self, component)

    def items(self) -> list[tuple[str, Decimal]]:
        """(component, amount) in bill order: energy, basic, power_factor, late_fee."""
        return [(component, self[component]) for component in COMPONENTS]

    @property
    def gross(self) -> Decimal:
        return self.energy + self.basic + self.power_factor + self.late_fee


@dataclass(frozen=True)
class MonthRelief:
    """Everything approved for one account and billing month.

    ``seals``: the approved 减容/暂停 (with their restores) of the account — those that do not touch
    the month have no effect. ``demand_relief``: approved capacity-expansion relief and the month in
    its window (M4). ``discount_rate``: the policy's rate (0.05) when the account is on an approved
    list and the month is in a window, else None. ``discount_components``: the lines the policy
    names (never the late fee, M2). ``waive_late_fee``: a protected account in the window (M10).
    """

    seals: tuple[Seal, ...] = ()
    demand_relief: bool = False
    discount_rate: Decimal | None = None
    discount_components: frozenset[str] = field(default=DISCOUNTABLE)
    waive_late_fee: bool = False

    def __post_init__(self) -> None:
        seals = tuple(self.seals)
        for seal in seals:
            if not isinstance(seal, Seal):
                raise TypeError(f"seals must be Seal, not {type(seal).__name__}")
        object.__setattr__(self, "seals", seals)
        if self.discount_rate is not None:
            rate = _decimal(self.discount_rate, "discount_rate")
            if not Decimal(0) <= rate <= Decimal(1):
                raise ValueError(f"discount_rate must be between 0 and 1, not {rate}")
        components = frozenset(self.discount_components)
        unknown = components - DISCOUNTABLE
        if unknown:
            raise ValueError(f"M2: the discount applies only to {sorted(DISCOUNTABLE)}, never to {sorted(unknown)}")
        object.__setattr__(self, "discount_components", components)


@dataclass(frozen=True)
class Targets:
    """What the ledger must hold for one bill, per kind (positive: in the customer's favour)."""

    discount: Decimal = ZERO
    basic_charge_credit: Decimal = ZERO
    demand_relief_credit: Decimal = ZERO
    late_fee_waiver: Decimal = ZERO

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _money(getattr(self, f.name), f.name))

    @property
    def credits(self) -> Decimal:
        """Every target but the discount: basic-charge and demand-relief credits and the late-fee waiver."""
        return self.basic_charge_credit + self.demand_relief_credit + self.late_fee_waiver

    def by_kind(self) -> dict[str, Decimal]:
        """{ledger kind: target}, in the order of ``KINDS``."""
        return {kind: getattr(self, kind) for kind in KINDS}

    def deltas(self, posted: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """M9: per kind, what to post so that the ledger's sum equals the target (kinds not posted: 0)."""
        unknown = set(posted) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown ledger kinds {sorted(unknown)}")
        return {kind: posting_delta(target, posted.get(kind, ZERO)) for kind, target in self.by_kind().items()}


@dataclass(frozen=True)
class MonthResult:
    """One bill recomputed (M8): the lines as billed and as they should be, the discounts and the targets.

    ``gross`` is the bill as billed (original bills are immutable); ``due`` = gross − discount −
    credits, which equals the recomputed lines − their discounts − the late-fee waiver.
    """

    period: dt.date
    original: BillLines
    target: BillLines
    line_discounts: BillLines
    targets: Targets

    @property
    def gross(self) -> Decimal:
        return self.original.gross

    @property
    def due(self) -> Decimal:
        return self.gross - self.targets.discount - self.targets.credits


def recompute_month(
    *,
    period: dt.date,
    original: BillLines,
    power_factor_rate: Decimal,
    terms: BasicChargeTerms | None,
    relief: MonthRelief,
) -> MonthResult:
    """M8: the month's target lines and ledger targets from everything approved for it.

    In order: energy (as billed) → basic charge → power-factor adjustment → discount.

    * Basic charge: with the demand relief and a month whose demand was above 105% of billed
      demand, the full month's charge without the double charge (M4); with seals that remove
      charged days, that month's charge prorated (M5/M6, :func:`basic_charge`). Otherwise as billed.
    * Power factor: recomputed as round((energy + basic) × ``power_factor_rate``) when the basic
      charge changed; otherwise as billed. ``terms`` None (single-part tariff): nothing to recompute.
    * ``demand_relief_credit`` = (original basic + power factor) − (full-month basic without the
      double charge + its power factor); ``basic_charge_credit`` = (basic + power factor after the
      demand relief) − (recomputed basic + power factor). Together: original − recomputed, exactly.
    * ``discount`` = Σ line_discount(recomputed line, rate) over the policy's components — never
      the late fee. ``late_fee_waiver`` = the late fee as billed when waived (M10).

    M8's example: 1,000 kVA at 25, power-factor rate 0, sealed 2020-03-05, restored 2020-03-20:
    March basic 25,000.00 → 13,333.33, ``basic_charge_credit`` 11,666.67, discount on it 666.67.
    The result depends only on its inputs, so computing it again gives the same targets (M9).
    """
    period = _period(period)
    if not isinstance(original, BillLines):
        raise TypeError(f"original must be BillLines, not {type(original).__name__}")
    if not isinstance(relief, MonthRelief):
        raise TypeError(f"relief must be MonthRelief, not {type(relief).__name__}")
    pf_rate = _decimal(power_factor_rate, "power_factor_rate")
    energy = original.energy

    # Step 1: the demand relief (the month's tariff without the double charge), full month.
    basic_relieved, pf_relieved = original.basic, original.power_factor
    demand_relief = False
    if terms is not None:
        if not isinstance(terms, BasicChargeTerms):
            raise TypeError(f"terms must be BasicChargeTerms, not {type(terms).__name__}")
        demand_relief = relief.demand_relief and terms.double_charged()
        if demand_relief:
            basic_relieved = monthly_basic_charge(terms, demand_relief=True)
            pf_relieved = power_factor_charge(energy=energy, basic=basic_relieved, rate=pf_rate)
    elif relief.seals:
        raise ValueError("seals need a two-part tariff (terms with a basic-charge method)")

    # Step 2: the seals prorate that month's charge.
    basic, pf = basic_relieved, pf_relieved
    if terms is not None and relief.seals:
        fraction = _sealed_fraction(period, terms, relief.seals)
        if fraction is not None:
            with localcontext() as ctx:
                ctx.prec = 50
                basic = round_fen(terms.monthly_unrounded(demand_relief=demand_relief) * fraction)
            pf = power_factor_charge(energy=energy, basic=basic, rate=pf_rate)

    target = BillLines(energy=energy, basic=basic, power_factor=pf, late_fee=original.late_fee)

    # Step 3: the discount on the resulting lines.
    rate = relief.discount_rate
    discounts = {
        component: (
            line_discount(target[component], rate)
            if rate is not None and component in relief.discount_components
            else ZERO
        )
        for component in (ENERGY, BASIC, POWER_FACTOR)
    }
    line_discounts = BillLines(late_fee=ZERO, **discounts)

    targets = Targets(
        discount=sum(discounts.values(), ZERO),
        demand_relief_credit=(original.basic + original.power_factor) - (basic_relieved + pf_relieved),
        basic_charge_credit=(basic_relieved + pf_relieved) - (basic + pf),
        late_fee_waiver=original.late_fee if relief.waive_late_fee else ZERO,
    )
    return MonthResult(period=period, original=original, target=target, line_discounts=line_discounts, targets=targets)


def posting_delta(target: Decimal, already_posted: Decimal) -> Decimal:
    """M9: the amount to post so that the ledger's sum for a (bill, kind) equals ``target``.

    Zero when they are equal (re-running posts nothing); negative for a correcting entry: a
    discount of 1,250.00 posted earlier with a target of 666.67 → −583.33.
    """
    return round_fen(_money(target, "target") - _money(already_posted, "already_posted"))


# --- M11: reporting units ---------------------------------------------------------------------------


def to_wan(value: Decimal | int) -> Decimal:
    """M11: 万户 / 万元 = value / 10⁴ to 2 decimals, ROUND_HALF_UP."""
    return (Decimal(value) / Decimal(10_000)).quantize(FEN, rounding=ROUND_HALF_UP)


def to_yi(value: Decimal | int) -> Decimal:
    """M11: 亿元 = yuan / 10⁸ to 2 decimals, ROUND_HALF_UP."""
    return (Decimal(value) / Decimal(100_000_000)).quantize(FEN, rounding=ROUND_HALF_UP)
