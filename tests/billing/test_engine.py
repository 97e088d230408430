"""The relief engine's arithmetic against every worked example of programme.md §4 (M3–M9)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from billing.engine import (
    CAPACITY,
    DEMAND,
    BasicChargeTerms,
    BillLines,
    MonthRelief,
    Seal,
    Targets,
    basic_charge,
    billed_demand,
    capacity_basic_charge,
    days_charged,
    demand_basic_charge,
    line_discount,
    monthly_basic_charge,
    posting_delta,
    power_factor_charge,
    prorate,
    recompute_month,
)

D = Decimal
FEB = dt.date(2020, 2, 1)
MAR = dt.date(2020, 3, 1)
APR = dt.date(2020, 4, 1)
RATE_5 = D("0.05")
CAPACITY_1000 = BasicChargeTerms(method=CAPACITY, capacity_kva=D(1000), rate=D(25))
M4_DEMAND = BasicChargeTerms(
    method=DEMAND, capacity_kva=D(1000), rate=D("37.5"), contract_demand_kw=D(800), max_demand_kw=D(900)
)


def d(month: int, day: int) -> dt.date:
    return dt.date(2020, month, day)


def lines(energy: str = "0.00", basic: str = "0.00", power_factor: str = "0.00", late_fee: str = "0.00") -> BillLines:
    return BillLines(energy=D(energy), basic=D(basic), power_factor=D(power_factor), late_fee=D(late_fee))


# --- M3 ---------------------------------------------------------------------------------------------


def test_m3_discount_of_a_line():
    assert line_discount(D("12345.67"), RATE_5) == D("617.28")


def test_m3_discount_in_a_recomputed_month():
    result = recompute_month(
        period=MAR,
        original=lines(energy="12345.67"),
        power_factor_rate=D(0),
        terms=None,
        relief=MonthRelief(discount_rate=RATE_5),
    )
    assert result.targets.discount == D("617.28")
    assert result.due == D("11728.39")


def test_half_fen_tie_on_a_discount_line_rounds_up():
    result = recompute_month(
        period=MAR,
        original=lines(energy="10.10", basic="10.30"),
        power_factor_rate=D(0),
        terms=None,
        relief=MonthRelief(discount_rate=RATE_5),
    )
    assert result.line_discounts.energy == D("0.51")  # 0.505, not half-even 0.50
    assert result.line_discounts.basic == D("0.52")  # 0.515
    assert result.targets.discount == D("1.03")


# --- M4 ---------------------------------------------------------------------------------------------


def test_m4_capacity_basis():
    assert capacity_basic_charge(capacity_kva=1000, rate=D(25)) == D("25000.00")
    assert monthly_basic_charge(CAPACITY_1000) == D("25000.00")


@pytest.mark.parametrize(
    ("demand_relief", "expected"),
    [(False, D("36000.00")), (True, D("33750.00"))],
)
def test_m4_demand_example(demand_relief, expected):
    charge = demand_basic_charge(
        contract_demand_kw=800, capacity_kva=1000, max_demand_kw=900, rate=D("37.5"), demand_relief=demand_relief
    )
    assert charge == expected
    assert monthly_basic_charge(M4_DEMAND, demand_relief=demand_relief) == expected


@pytest.mark.parametrize(
    ("max_demand", "demand_relief", "expected"),
    [
        (None, False, "15000.00"),  # no demand recorded: the billed demand, 400 kW
        (D(100), False, "15000.00"),  # below the billed demand: still the billed demand
        (D(420), False, "15000.00"),  # exactly 105%: not above it
        (D(500), False, "21750.00"),  # 500 × 37.5 + (500 − 420) × 37.5
        (D(500), True, "18750.00"),  # with relief: 500 × 37.5
    ],
)
def test_m4_forty_percent_floor(max_demand, demand_relief, expected):
    # contract 300 kW < 40% of 1,000 kVA: the billed demand is 400 kW.
    assert billed_demand(contract_demand_kw=300, capacity_kva=1000) == D(400)
    charge = demand_basic_charge(
        contract_demand_kw=300, capacity_kva=1000, max_demand_kw=max_demand, rate=D("37.5"), demand_relief=demand_relief
    )
    assert charge == D(expected)


# --- M5 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, "0.00"), (10, "8333.33"), (16, "13333.33"), (29, "24166.67"), (30, "25000.00"), (31, "25000.00")],
)
def test_m5_one_thirtieth_capped_at_the_month(days, expected):
    assert prorate(D("25000.00"), days) == D(expected)


def test_m5_a_thirty_one_day_month_sealed_one_day_is_charged_in_full():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 31))
    assert days_charged(MAR, seal) == 30
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=[seal]) == D("25000.00")


def test_m5_a_month_with_no_seal_is_charged_in_full_even_in_february():
    assert basic_charge(period=FEB, terms=CAPACITY_1000) == D("25000.00")


# --- M6 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seal_date", "restore_date", "period", "days", "expected"),
    [
        (d(2, 1), d(2, 20), FEB, 10, "8333.33"),
        (d(3, 5), d(3, 20), MAR, 16, "13333.33"),
        (d(2, 1), d(3, 1), FEB, 0, "0.00"),
        (d(2, 1), d(3, 1), MAR, 31, "25000.00"),
    ],
)
def test_m6_worked_examples(seal_date, restore_date, period, days, expected):
    seal = Seal(capacity_kva=D(1000), seal_date=seal_date, restore_date=restore_date)
    assert days_charged(period, seal) == days
    assert basic_charge(period=period, terms=CAPACITY_1000, seals=[seal]) == D(expected)


def test_m6_restore_less_seal_is_sealed_to_the_month_end():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 20))
    assert days_charged(MAR, seal) == 19
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=[seal]) == D("15833.33")  # 25,000 × 19/30
    assert basic_charge(period=APR, terms=CAPACITY_1000, seals=[seal]) == D("0.00")


def test_m6_only_the_sealed_capacity_is_prorated():
    # 400 of 1,000 kVA sealed 03-05 … 03-19: 600 kVA in full, 400 kVA for 16 days, rounded once.
    seal = Seal(capacity_kva=D(400), seal_date=d(3, 5), restore_date=d(3, 20))
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=[seal]) == D("20333.33")


def test_m6_two_suspensions_of_the_same_capacity_in_one_month():
    first = Seal(capacity_kva=D(1000), seal_date=d(3, 2), restore_date=d(3, 5))  # 3 days sealed
    second = Seal(capacity_kva=D(1000), seal_date=d(3, 20), restore_date=d(3, 25))  # 5 days sealed
    expected = D("19166.67")  # 25,000 × 23/30
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=[first, second]) == expected
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=[second, first]) == expected


def test_m6_overlapping_seals_of_different_capacity_stack():
    # 400 kVA sealed 03-05 … 03-19 and 600 kVA sealed 03-10 … 03-14: 400 × 16 + 600 × 26 kVA·days.
    seals = [
        Seal(capacity_kva=D(400), seal_date=d(3, 5), restore_date=d(3, 20)),
        Seal(capacity_kva=D(600), seal_date=d(3, 10), restore_date=d(3, 15)),
    ]
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=seals) == D("18333.33")


def test_m6_unit_labels_tell_different_transformers_apart():
    # Two 500 kVA transformers sealed at different times of a 31-day month.
    one = {"capacity_kva": D(500), "seal_date": d(3, 1), "restore_date": d(3, 10)}  # in service 22 days
    two = {"capacity_kva": D(500), "seal_date": d(3, 20)}  # in service 19 days
    same = [Seal(**one), Seal(**two)]
    apart = [Seal(**one, unit="T1"), Seal(**two, unit="T2")]
    # Same capacity: 500 kVA never sealed + 500 kVA in service 10 days.
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=same) == D("16666.67")
    # Different transformers: 500 kVA × 22 days + 500 kVA × 19 days.
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=apart) == D("17083.33")


def test_a_seal_outside_the_month_changes_nothing():
    seal = Seal(capacity_kva=D(1000), seal_date=d(2, 1), restore_date=d(3, 1))
    result = recompute_month(
        period=MAR,
        original=lines(energy="1000.00", basic="25000.00"),
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(seal,)),
    )
    assert result.target == result.original
    assert result.targets == Targets()


# --- M7: demand basis and seals ---------------------------------------------------------------------


@pytest.mark.parametrize(("demand_relief", "expected"), [(False, "19200.00"), (True, "18000.00")])
def test_m7_demand_basis_prorates_the_whole_demand_charge(demand_relief, expected):
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    charge = basic_charge(period=MAR, terms=M4_DEMAND, seals=[seal], demand_relief=demand_relief)
    assert charge == D(expected)  # 36,000 or 33,750 × 16/30


def test_m7_demand_basis_refuses_a_partial_seal():
    seal = Seal(capacity_kva=D(400), seal_date=d(3, 5), restore_date=d(3, 20))
    with pytest.raises(ValueError, match="M7"):
        basic_charge(period=MAR, terms=M4_DEMAND, seals=[seal])


# --- power factor -----------------------------------------------------------------------------------


def test_power_factor_applies_to_energy_plus_basic():
    assert power_factor_charge(energy=D("10000.00"), basic=D("25000.00"), rate=D("0.02")) == D("700.00")
    assert power_factor_charge(energy=D("10000.00"), basic=D("25000.00"), rate=D("-0.0075")) == D("-262.50")


def test_power_factor_is_recomputed_on_the_recomputed_basic_charge():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    result = recompute_month(
        period=MAR,
        original=lines(energy="10000.00", basic="25000.00", power_factor="700.00"),
        power_factor_rate=D("0.02"),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(seal,)),
    )
    assert result.target.power_factor == D("466.67")  # 23,333.33 × 2%
    assert result.targets.basic_charge_credit == D("11900.00")  # 25,700.00 − 13,800.00


def test_negative_power_factor_line():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    result = recompute_month(
        period=MAR,
        original=lines(energy="10000.00", basic="25000.00", power_factor="-262.50"),
        power_factor_rate=D("-0.0075"),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(seal,), discount_rate=RATE_5),
    )
    assert result.target.power_factor == D("-175.00")  # round(23,333.33 × −0.75%) = round(−174.999975)
    assert result.targets.basic_charge_credit == D("11579.17")  # 24,737.50 − 13,158.33
    assert result.line_discounts.power_factor == D("-8.75")  # 5% of a bonus is a smaller bonus
    assert result.targets.discount == D("1157.92")  # 500.00 + 666.67 − 8.75


# --- M8 ---------------------------------------------------------------------------------------------


def test_m8_worked_example():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    result = recompute_month(
        period=MAR,
        original=lines(basic="25000.00"),
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(seal,), discount_rate=RATE_5),
    )
    assert result.target.basic == D("13333.33")
    assert result.targets.basic_charge_credit == D("11666.67")
    assert result.line_discounts.basic == D("666.67")  # not 1,250.00
    assert result.targets.discount == D("666.67")
    assert result.targets.demand_relief_credit == D("0.00")
    line_due_before = result.original.basic
    line_due_after = result.target.basic - result.line_discounts.basic
    assert line_due_before - line_due_after == D("12333.34")
    assert result.gross - result.due == D("12333.34")
    assert result.due == D("12666.66")


def test_m8_with_energy_and_late_fee():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    result = recompute_month(
        period=MAR,
        original=lines(energy="10000.00", basic="25000.00", late_fee="120.00"),
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(seal,), discount_rate=RATE_5),
    )
    assert result.targets.discount == D("1166.67")  # 500.00 + 666.67; the late fee never
    assert result.line_discounts.late_fee == D("0.00")
    assert result.targets.late_fee_waiver == D("0.00")
    assert result.due == D("35120.00") - D("1166.67") - D("11666.67")


def test_m10_late_fee_waiver_is_the_late_fee_as_billed():
    result = recompute_month(
        period=MAR,
        original=lines(energy="10000.00", late_fee="120.00"),
        power_factor_rate=D(0),
        terms=None,
        relief=MonthRelief(discount_rate=RATE_5, waive_late_fee=True),
    )
    assert result.targets.late_fee_waiver == D("120.00")
    assert result.targets.discount == D("500.00")
    assert result.due == D("9500.00")


def test_demand_relief_credit_with_its_power_factor_share():
    result = recompute_month(
        period=MAR,
        original=lines(energy="50000.00", basic="36000.00", power_factor="860.00"),
        power_factor_rate=D("0.01"),
        terms=M4_DEMAND,
        relief=MonthRelief(demand_relief=True),
    )
    assert result.target.basic == D("33750.00")
    assert result.target.power_factor == D("837.50")
    assert result.targets.demand_relief_credit == D("2272.50")  # 2,250.00 + 22.50
    assert result.targets.basic_charge_credit == D("0.00")


def test_demand_relief_without_a_double_charge_changes_nothing():
    terms = BasicChargeTerms(
        method=DEMAND, capacity_kva=D(1000), rate=D("37.5"), contract_demand_kw=D(800), max_demand_kw=D(840)
    )
    result = recompute_month(
        period=MAR,
        original=lines(energy="50000.00", basic="30000.00", power_factor="800.00"),
        power_factor_rate=D("0.01"),
        terms=terms,
        relief=MonthRelief(demand_relief=True),
    )
    assert result.target == result.original
    assert result.targets == Targets()


def test_demand_relief_then_seals_split_the_credit():
    # Demand relief first (no double charge, full month), then the seal prorates that charge.
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    result = recompute_month(
        period=MAR,
        original=lines(energy="50000.00", basic="36000.00", power_factor="860.00"),
        power_factor_rate=D("0.01"),
        terms=M4_DEMAND,
        relief=MonthRelief(seals=(seal,), demand_relief=True),
    )
    assert result.target.basic == D("18000.00")  # 33,750 × 16/30
    assert result.target.power_factor == D("680.00")
    assert result.targets.demand_relief_credit == D("2272.50")  # 36,860.00 − 34,587.50
    assert result.targets.basic_charge_credit == D("15907.50")  # 34,587.50 − 18,680.00
    total = result.targets.demand_relief_credit + result.targets.basic_charge_credit
    assert total == (D("36000.00") + D("860.00")) - (D("18000.00") + D("680.00"))


# --- M9 ---------------------------------------------------------------------------------------------


def test_m9_correcting_entry_for_a_discount_posted_earlier():
    assert posting_delta(D("666.67"), D("1250.00")) == D("-583.33")


def test_m9_rerunning_posts_nothing():
    assert posting_delta(D("666.67"), D("666.67")) == D("0.00")
    assert str(posting_delta(D("666.67"), D("666.67"))) == "0.00"


def test_m9_deltas_per_kind():
    targets = Targets(discount=D("666.67"), basic_charge_credit=D("11666.67"))
    deltas = targets.deltas({"discount": D("1250.00")})
    assert deltas == {
        "discount": D("-583.33"),
        "basic_charge_credit": D("11666.67"),
        "demand_relief_credit": D("0.00"),
        "late_fee_waiver": D("0.00"),
    }
    with pytest.raises(ValueError, match="unknown ledger kinds"):
        targets.deltas({"investment": D("1.00")})


def test_m9_list_or_application_first_gives_the_same_targets():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 5), restore_date=d(3, 20))
    original = lines(basic="25000.00")
    # The list is approved first: only the discount.
    list_first = recompute_month(
        period=MAR,
        original=original,
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(discount_rate=RATE_5),
    )
    assert list_first.targets.discount == D("1250.00")
    # Then the application: the discount's correcting entry.
    both = recompute_month(
        period=MAR,
        original=original,
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(seal,), discount_rate=RATE_5),
    )
    assert both.targets.deltas(list_first.targets.by_kind()) == {
        "discount": D("-583.33"),
        "basic_charge_credit": D("11666.67"),
        "demand_relief_credit": D("0.00"),
        "late_fee_waiver": D("0.00"),
    }


def test_m9_a_later_restore_date_posts_only_the_change():
    original = lines(basic="25000.00")
    first = recompute_month(
        period=MAR,
        original=original,
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(Seal(D(1000), d(3, 5), d(3, 20)),), discount_rate=RATE_5),
    )
    corrected = recompute_month(
        period=MAR,
        original=original,
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(seals=(Seal(D(1000), d(3, 5), d(3, 25)),), discount_rate=RATE_5),
    )
    # 11 days charged instead of 16: 9,166.67, discount 458.33.
    assert corrected.targets.deltas(first.targets.by_kind()) == {
        "discount": D("-208.34"),
        "basic_charge_credit": D("4166.66"),
        "demand_relief_credit": D("0.00"),
        "late_fee_waiver": D("0.00"),
    }


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: capacity_basic_charge(capacity_kva=1000, rate=25.0),
        lambda: capacity_basic_charge(capacity_kva=1000.0, rate=D(25)),
        lambda: BillLines(energy=1.0, basic=D(0), power_factor=D(0), late_fee=D(0)),
        lambda: Seal(capacity_kva=400.0, seal_date=d(3, 5)),
        lambda: Seal(capacity_kva=D(400), seal_date=dt.datetime(2020, 3, 5)),  # noqa: DTZ001 - the point
        lambda: BasicChargeTerms(method=CAPACITY, capacity_kva=D(1000), rate=0.25),
        lambda: MonthRelief(discount_rate=0.05),
        lambda: posting_delta(666.67, D("1250.00")),
        lambda: prorate(25000.0, 10),
        lambda: power_factor_charge(energy=D(1), basic=D(1), rate=0.02),
        lambda: recompute_month(period=MAR, original=lines(), power_factor_rate=0.0, terms=None, relief=MonthRelief()),
    ],
)
def test_float_is_refused(build):
    with pytest.raises(TypeError):
        build()


def test_restore_before_seal_is_refused():
    with pytest.raises(ValueError, match="before seal date"):
        Seal(capacity_kva=D(1000), seal_date=d(3, 20), restore_date=d(3, 5))


def test_restore_on_the_seal_date_seals_nothing():
    seal = Seal(capacity_kva=D(1000), seal_date=d(3, 20), restore_date=d(3, 20))
    assert days_charged(MAR, seal) == 31
    assert basic_charge(period=MAR, terms=CAPACITY_1000, seals=[seal]) == D("25000.00")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BillLines(energy=D("1.005"), basic=D(0), power_factor=D(0), late_fee=D(0)), "whole fen"),
        (lambda: posting_delta(D("1.001"), D(0)), "whole fen"),
        (lambda: Seal(capacity_kva=D(0), seal_date=d(3, 5)), "capacity_kva > 0"),
        (lambda: Seal(capacity_kva=D(-1), seal_date=d(3, 5)), "negative"),
        (lambda: BasicChargeTerms(method="flat", capacity_kva=D(1), rate=D(1)), "method"),
        (lambda: BasicChargeTerms(method=DEMAND, capacity_kva=D(1), rate=D(1)), "contract_demand_kw"),
        (lambda: MonthRelief(discount_rate=D("1.5")), "between 0 and 1"),
        (lambda: MonthRelief(discount_components=frozenset({"energy", "late_fee"})), "M2"),
        (lambda: basic_charge(period=dt.date(2020, 3, 5), terms=CAPACITY_1000), "first day"),
        (lambda: prorate(D("25000.00"), -1), "negative"),
        (
            lambda: basic_charge(
                period=MAR,
                terms=CAPACITY_1000,
                seals=[Seal(D(1000), d(3, 5), d(3, 20)), Seal(D(600), d(3, 10), d(3, 15))],
            ),
            "exceed the capacity",
        ),
        (
            lambda: basic_charge(
                period=MAR,
                terms=CAPACITY_1000,
                seals=[Seal(D(600), d(3, 5), unit="a"), Seal(D(600), d(3, 25), unit="b")],
            ),
            "exceed the capacity",
        ),
        (
            lambda: recompute_month(
                period=MAR,
                original=lines(),
                power_factor_rate=D(0),
                terms=None,
                relief=MonthRelief(seals=(Seal(D(1), d(3, 5)),)),
            ),
            "two-part tariff",
        ),
    ],
)
def test_invalid_input_is_refused_with_the_reason(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_every_amount_keeps_two_decimal_places():
    result = recompute_month(
        period=MAR,
        original=BillLines(energy=D(100), basic=D("25000"), power_factor=D("0"), late_fee=D("5.5")),
        power_factor_rate=D(0),
        terms=CAPACITY_1000,
        relief=MonthRelief(discount_rate=RATE_5, waive_late_fee=True),
    )
    amounts = [
        *(amount for _, amount in result.original.items()),
        *(amount for _, amount in result.target.items()),
        *(amount for _, amount in result.line_discounts.items()),
        *result.targets.by_kind().values(),
        result.gross,
        result.due,
    ]
    assert all(amount.as_tuple().exponent == -2 for amount in amounts)


def test_the_engine_imports_no_django():
    root = Path(__file__).resolve().parents[2]
    code = "import sys, billing.engine; sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
