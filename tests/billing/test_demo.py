"""The demo generator (billing.demo); ``manage.py load_demo`` itself is tested in tests/workflow/test_demo.py."""

from __future__ import annotations

import csv
import io
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

import pytest

from billing.demo import PERIODS, generate
from billing.industry import HIGH_ENERGY_DIVISIONS, is_high_energy
from billing.models import Category, TariffComponent
from billing.reference import tariff_for

CUSTOMERS_HEADER = (
    "account_no,name,district,category,industry_code,voltage_kv,basic_charge_method,"
    "capacity_kva,contract_demand_kw,enterprise_size,priority_role"
)
BILLS_HEADER = (
    "account_no,period,energy_kwh,energy_charge,basic_rate,max_demand_kw,basic_charge,"
    "power_factor_rate,power_factor_charge,late_fee,paid"
)
FEN = Decimal("0.01")


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


# --- the generator ------------------------------------------------------------------------------


def test_same_seed_gives_identical_csv_and_another_seed_a_different_one():
    first, again, other = generate(accounts=120, seed=7), generate(accounts=120, seed=7), generate(accounts=120, seed=8)
    assert first.customers_csv() == again.customers_csv()
    assert first.bills_csv() == again.bills_csv()
    assert first.customers_csv() != other.customers_csv()
    assert first.bills_csv() != other.bills_csv()


def test_a_small_run_is_the_start_of_a_larger_one():
    small, large = generate(accounts=60, seed=3), generate(accounts=150, seed=3)
    assert large.customers_csv().splitlines()[:61] == small.customers_csv().splitlines()
    assert large.bills_csv().splitlines()[: 1 + 60 * 12] == small.bills_csv().splitlines()


def test_csv_columns_are_exactly_those_of_interfaces_md():
    data = generate(accounts=5, seed=1)
    customers = data.customers_csv().splitlines()
    bills = data.bills_csv().splitlines()
    assert customers[0] == CUSTOMERS_HEADER
    assert bills[0] == BILLS_HEADER
    assert len(customers) == 1 + 5
    assert len(bills) == 1 + 5 * 12
    assert all(len(row) == 11 for row in csv.reader(io.StringIO(data.bills_csv())))


def test_generated_accounts_cover_districts_categories_roles_and_high_energy_industries():
    data = generate(accounts=1000, seed=2020)
    accounts = data.accounts
    numbers = [a.account_no for a in accounts]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == 10 and n.isdigit() for n in numbers)
    assert {a.district for a in accounts} == {"道里", "南岗", "道外", "香坊", "平房", "松北", "呼兰", "阿城", "双城"}

    categories = Counter(a.category for a in accounts)
    assert set(categories) == set(Category.values)
    assert categories[Category.GENERAL_COMMERCIAL] > categories[Category.LARGE_INDUSTRIAL] > categories["agricultural"]
    assert categories[Category.LARGE_INDUSTRIAL] >= 150
    assert {a.priority_role for a in accounts} == {"", "hospital", "prevention_point", "supplies_maker"}
    assert {"small", "micro"} <= {a.enterprise_size for a in accounts}

    high_energy_divisions = {
        a.industry_code[:2] for a in accounts if a.industry_code and is_high_energy(a.industry_code)
    }
    assert high_energy_divisions == HIGH_ENERGY_DIVISIONS
    for account in accounts:
        if account.category == Category.RESIDENTIAL:
            assert account.industry_code == "" and account.enterprise_size == ""
        elif account.category in (Category.GENERAL_COMMERCIAL, Category.LARGE_INDUSTRIAL):
            assert len(account.industry_code) == 4
        if account.category == Category.LARGE_INDUSTRIAL:
            assert 315 <= account.capacity_kva <= 20000
            assert account.basic_charge_method in ("capacity", "demand")
            if account.basic_charge_method == "demand":
                share = Decimal(account.contract_demand_kw) / account.capacity_kva
                assert Decimal("0.395") <= share <= Decimal("0.905")
            else:
                assert account.contract_demand_kw is None
        else:
            assert account.basic_charge_method == "" and account.contract_demand_kw is None


@pytest.mark.parametrize(
    ("contract", "capacity", "actual", "double", "expected"),
    [
        (800, 1000, 900, True, "36000.00"),  # programme.md M4: above 105%, the excess is charged double
        (800, 1000, 900, False, "33750.00"),  # … and once only with capacity-expansion relief
        (800, 1000, 840, True, "30000.00"),  # exactly 105%: the billed demand
        (800, 1000, 500, True, "30000.00"),  # below the contract: the contract
        (300, 1000, 350, True, "15000.00"),  # billed demand is at least 40% of the kVA (400 kW)
    ],
)
def test_demand_basic_charge_follows_m4(contract, capacity, actual, double, expected):
    from billing.demo import demand_basic_charge

    charge = demand_basic_charge(
        contract_kw=contract, capacity_kva=capacity, actual_kw=actual, rate=Decimal("37.5"), double_excess=double
    )
    assert charge == Decimal(expected)


@pytest.mark.django_db
def test_generated_bills_follow_the_demo_tariffs_to_the_fen():
    """Recompute every line from the tariffs in the database (not from the generator's own table)."""
    data = generate(accounts=300, seed=2020)
    by_account = {a.account_no: a for a in data.accounts}

    @cache
    def rate(category, voltage, component, on):
        return tariff_for(category=category, voltage_kv=voltage, component=component, on=on).rate

    demand_months_above_105 = pf_reward = pf_penalty = late = arrears = 0
    periods = Counter()
    for bill in data.bills:
        account = by_account[bill.account_no]
        periods[bill.account_no] += 1
        for amount in (bill.energy_charge, bill.basic_charge, bill.power_factor_charge, bill.late_fee, bill.paid):
            assert isinstance(amount, Decimal) and amount.as_tuple().exponent == -2

        energy_rate = rate(account.category, account.voltage_kv, TariffComponent.ENERGY_FLAT, bill.period)
        assert bill.energy_charge == fen(bill.energy_kwh * energy_rate)

        if account.basic_charge_method == "capacity":
            basic_rate = rate(account.category, account.voltage_kv, TariffComponent.BASIC_CAPACITY, bill.period)
            assert bill.basic_rate == basic_rate == Decimal("25")
            assert bill.max_demand_kw is None
            assert bill.basic_charge == fen(account.capacity_kva * basic_rate)
        elif account.basic_charge_method == "demand":
            basic_rate = rate(account.category, account.voltage_kv, TariffComponent.BASIC_DEMAND, bill.period)
            assert bill.basic_rate == basic_rate == Decimal("37.5")
            billed = max(Decimal(account.contract_demand_kw), Decimal(account.capacity_kva) * Decimal("0.4"))
            actual = Decimal(bill.max_demand_kw)
            if actual > billed * Decimal("1.05"):
                demand_months_above_105 += 1
                expected = actual * basic_rate + (actual - billed * Decimal("1.05")) * basic_rate
            else:
                expected = billed * basic_rate
            assert bill.basic_charge == fen(expected)
        else:
            assert bill.basic_rate is None and bill.basic_charge == 0

        assert bill.power_factor_charge == fen((bill.energy_charge + bill.basic_charge) * bill.power_factor_rate)
        pf_reward += bill.power_factor_rate < 0
        pf_penalty += bill.power_factor_rate > 0
        assert bill.late_fee >= 0
        late += bill.late_fee > 0
        assert 0 <= bill.paid <= bill.gross
        arrears += bill.paid < bill.gross

    assert set(periods.values()) == {12}
    assert sorted({b.period for b in data.bills}) == list(PERIODS)
    assert demand_months_above_105 > 0
    assert pf_reward > 0 and pf_penalty > 0
    assert late > 0 and arrears > 0
    assert arrears < len(data.bills) * Decimal("0.2")  # most bills are paid in full
