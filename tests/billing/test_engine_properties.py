"""Invariants of the relief engine (architecture.md "Money"), checked with hypothesis."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.engine import (
    CAPACITY,
    DEMAND,
    BasicChargeTerms,
    BillLines,
    MonthRelief,
    MonthResult,
    Seal,
    basic_charge,
    monthly_basic_charge,
    posting_delta,
    power_factor_charge,
    recompute_month,
)

ENGINE = settings(max_examples=200, deadline=None)

D = Decimal
FEN = D("0.01")
HALF_FEN = D("0.005")
TRANSFORMERS_KVA = (100, 200, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000)
FIRST_DAY = dt.date(2020, 1, 1)
LAST_DAY = dt.date(2021, 1, 31)

periods = st.integers(min_value=1, max_value=12).map(lambda month: dt.date(2020, month, 1))


def money(low: int = 0, high: int = 10**8) -> st.SearchStrategy[Decimal]:
    """Whole fen between ``low`` and ``high`` fen."""
    return st.integers(min_value=low, max_value=high).map(lambda fen: D(fen).scaleb(-2))


discount_rates = st.one_of(st.just(D("0.05")), st.integers(min_value=0, max_value=1000).map(lambda n: D(n).scaleb(-4)))
pf_rates = st.integers(min_value=-150, max_value=600).map(lambda n: D(n).scaleb(-4))  # −1.5% … +6%
basic_rates = st.one_of(
    st.sampled_from((D(25), D("37.5"))), st.integers(min_value=1, max_value=600_000).map(lambda n: D(n).scaleb(-4))
)


@st.composite
def unit_seals(draw: st.DrawFn, kva: int, unit: str) -> list[Seal]:
    """Non-overlapping seals of one transformer: alternate seal / restore dates, the last maybe open."""
    span = (LAST_DAY - FIRST_DAY).days
    offsets = sorted(draw(st.sets(st.integers(min_value=0, max_value=span), max_size=6)))
    dates = [FIRST_DAY + dt.timedelta(days=offset) for offset in offsets]
    if dates and draw(st.booleans()):
        dates.append(None)  # the last seal is not restored
    return [
        Seal(capacity_kva=D(kva), seal_date=seal, restore_date=restore, unit=unit)
        for seal, restore in zip(dates[::2], dates[1::2], strict=False)
    ]


@st.composite
def capacity_account(draw: st.DrawFn, *, labelled: bool = True) -> tuple[BasicChargeTerms, list[Seal]]:
    """A capacity-basis account of 1–4 transformers and seals of some of them."""
    transformers = draw(st.lists(st.sampled_from(TRANSFORMERS_KVA), min_size=1, max_size=4))
    terms = BasicChargeTerms(method=CAPACITY, capacity_kva=D(sum(transformers)), rate=draw(basic_rates))
    if not labelled:  # unlabelled seals of one transformer (they are the same capacity)
        return terms, draw(unit_seals(transformers[0], ""))
    seals: list[Seal] = []
    for index, kva in enumerate(transformers):
        if draw(st.booleans()):
            seals.extend(draw(unit_seals(kva, f"T{index}")))
    return terms, seals


@st.composite
def demand_account(draw: st.DrawFn) -> tuple[BasicChargeTerms, list[Seal]]:
    """A demand-basis account; its seals cover the whole capacity (M7)."""
    capacity = draw(st.sampled_from(TRANSFORMERS_KVA))
    contract = draw(st.integers(min_value=0, max_value=capacity))
    max_demand = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=2 * capacity)))
    terms = BasicChargeTerms(
        method=DEMAND,
        capacity_kva=D(capacity),
        rate=draw(basic_rates),
        contract_demand_kw=D(contract),
        max_demand_kw=None if max_demand is None else D(max_demand),
    )
    return terms, draw(unit_seals(capacity, ""))


accounts = st.one_of(capacity_account(), capacity_account(labelled=False), demand_account())


@st.composite
def months(draw: st.DrawFn) -> dict:
    """Everything recompute_month takes, with the bill as billed consistent with the account's tariff."""
    terms, seals = draw(accounts)
    pf_rate = draw(pf_rates)
    energy = draw(money(0, 10**9))
    basic = monthly_basic_charge(terms)
    original = BillLines(
        energy=energy,
        basic=basic,
        power_factor=power_factor_charge(energy=energy, basic=basic, rate=pf_rate),
        late_fee=draw(money(0, 10**6)),
    )
    relief = MonthRelief(
        seals=tuple(seals),
        demand_relief=draw(st.booleans()),
        discount_rate=draw(st.one_of(st.none(), discount_rates)),
        discount_components=draw(
            st.sets(st.sampled_from(("energy", "basic", "power_factor"))).map(frozenset)
            | st.just(frozenset({"energy", "basic", "power_factor"}))
        ),
        waive_late_fee=draw(st.booleans()),
    )
    return {
        "period": draw(periods),
        "original": original,
        "power_factor_rate": pf_rate,
        "terms": terms,
        "relief": relief,
    }


def all_amounts(result: MonthResult) -> list[Decimal]:
    return [
        *(amount for _, amount in result.original.items()),
        *(amount for _, amount in result.target.items()),
        *(amount for _, amount in result.line_discounts.items()),
        *result.targets.by_kind().values(),
        result.targets.credits,
        result.gross,
        result.due,
    ]


# --- the discount -----------------------------------------------------------------------------------


@ENGINE
@given(months())
def test_discount_is_the_rate_of_the_component_lines_within_half_a_fen_per_line(month):
    result = recompute_month(**month)
    relief = month["relief"]
    rate = relief.discount_rate or D(0)
    components = relief.discount_components if relief.discount_rate is not None else frozenset()
    exact = rate * sum((result.target[c] for c in components), D(0))
    assert abs(result.targets.discount - exact) <= HALF_FEN * len(components)
    assert result.targets.discount <= exact + HALF_FEN * len(components)


@ENGINE
@given(months(), money(0, 10**6))
def test_discount_never_touches_the_late_fee(month, other_late_fee):
    result = recompute_month(**month)
    assert result.line_discounts.late_fee == D("0.00")
    original = month["original"]
    changed = BillLines(
        energy=original.energy, basic=original.basic, power_factor=original.power_factor, late_fee=other_late_fee
    )
    assert recompute_month(**{**month, "original": changed}).targets.discount == result.targets.discount


# --- credits ----------------------------------------------------------------------------------------


@ENGINE
@given(months())
def test_credits_are_what_the_recomputation_removes(month):
    result = recompute_month(**month)
    original, target, targets = result.original, result.target, result.targets
    assert targets.basic_charge_credit + targets.demand_relief_credit == (original.basic + original.power_factor) - (
        target.basic + target.power_factor
    )
    assert target.energy == original.energy and target.late_fee == original.late_fee
    assert result.due == sum((a for _, a in target.items()), D(0)) - targets.discount - targets.late_fee_waiver


@ENGINE
@given(months())
def test_credits_never_exceed_what_was_billed(month):
    result = recompute_month(**month)
    original, target, targets = result.original, result.target, result.targets
    assert D(0) <= target.basic <= original.basic
    assert targets.basic_charge_credit >= 0 and targets.demand_relief_credit >= 0
    # The basic charge removed, with its power-factor share, within the two roundings of the power factor.
    removed = original.basic - target.basic
    credit = targets.basic_charge_credit + targets.demand_relief_credit
    assert abs(credit - removed * (1 + month["power_factor_rate"])) <= FEN
    if month["power_factor_rate"] >= 0:  # a surcharge: never more than basic + power factor as billed
        assert credit <= original.basic + original.power_factor
    assert D(0) <= targets.late_fee_waiver <= original.late_fee


@ENGINE
@given(months())
def test_only_seals_never_raise_the_basic_charge(month):
    relief = month["relief"]
    only_seals = MonthRelief(seals=relief.seals)
    result = recompute_month(**{**month, "relief": only_seals})
    assert D(0) <= result.target.basic <= result.original.basic
    assert result.targets.demand_relief_credit == D("0.00")


@ENGINE
@given(accounts, periods, st.data())
def test_dropping_a_seal_never_lowers_the_charge(account, period, data):
    terms, seals = account
    if not seals:
        return
    dropped = data.draw(st.integers(min_value=0, max_value=len(seals) - 1))
    fewer = seals[:dropped] + seals[dropped + 1 :]
    assert basic_charge(period=period, terms=terms, seals=fewer) >= basic_charge(
        period=period, terms=terms, seals=seals
    )


# --- idempotence and order --------------------------------------------------------------------------


@ENGINE
@given(months(), st.lists(money(-(10**7), 10**7), max_size=4))
def test_recomputation_is_idempotent_and_posting_reaches_the_target(month, earlier_postings):
    first = recompute_month(**month)
    assert recompute_month(**month) == first
    for target in first.targets.by_kind().values():
        assert posting_delta(target, target) == D("0.00")
        already = sum(earlier_postings, D("0.00"))
        delta = posting_delta(target, already)
        assert already + delta == target
        assert posting_delta(target, already + delta) == D("0.00")  # re-running posts nothing


@ENGINE
@given(months(), st.randoms(use_true_random=False))
def test_the_order_of_the_seals_does_not_matter(month, rng):
    relief = month["relief"]
    shuffled = list(relief.seals)
    rng.shuffle(shuffled)
    reordered = MonthRelief(
        seals=tuple(shuffled),
        demand_relief=relief.demand_relief,
        discount_rate=relief.discount_rate,
        discount_components=relief.discount_components,
        waive_late_fee=relief.waive_late_fee,
    )
    assert recompute_month(**month).targets == recompute_month(**{**month, "relief": reordered}).targets
    terms = month["terms"]
    assert basic_charge(period=month["period"], terms=terms, seals=shuffled) == basic_charge(
        period=month["period"], terms=terms, seals=relief.seals
    )


# --- form -------------------------------------------------------------------------------------------


@ENGINE
@given(months())
def test_every_amount_has_exactly_two_decimal_places(month):
    assert all(amount.as_tuple().exponent == -2 for amount in all_amounts(recompute_month(**month)))


@ENGINE
@given(accounts, periods, st.booleans())
def test_the_month_basic_charge_is_whole_fen_and_capped(account, period, demand_relief):
    terms, seals = account
    charge = basic_charge(period=period, terms=terms, seals=seals, demand_relief=demand_relief)
    assert charge.as_tuple().exponent == -2
    assert D(0) <= charge <= monthly_basic_charge(terms, demand_relief=demand_relief)
