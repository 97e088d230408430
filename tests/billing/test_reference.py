"""The GB/T 4754-2017 table, the demo tariffs and ``tariff_for`` (billing.reference)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from billing.demo import INDUSTRY_CODES_USED
from billing.industry import HIGH_ENERGY_DIVISIONS
from billing.models import Category, Industry, Tariff, TariffComponent
from billing.reference import (
    DEMO_SOURCE,
    DEMO_TARIFFS,
    load_demo_tariffs,
    load_industries,
    read_industries,
    tariff_for,
)

GC, LI = Category.GENERAL_COMMERCIAL, Category.LARGE_INDUSTRIAL
FLAT, PEAK, VALLEY = TariffComponent.ENERGY_FLAT, TariffComponent.ENERGY_PEAK, TariffComponent.ENERGY_VALLEY
JUNE = dt.date(2020, 6, 15)


# --- the industry table -------------------------------------------------------------------------


def test_industry_csv_covers_all_97_divisions_and_the_high_energy_classes_completely():
    rows = read_industries()
    codes = [code for code, _name in rows]
    assert len(codes) >= 1380
    assert {code[:2] for code in codes} == {f"{n:02d}" for n in range(1, 98)}
    assert len({code[:3] for code in codes}) == 473  # groups (中类) of GB/T 4754-2017
    per_division = {d: sum(code.startswith(d) for code in codes) for d in sorted(HIGH_ENERGY_DIVISIONS)}
    assert per_division == {"25": 10, "26": 38, "30": 37, "31": 4, "32": 21, "44": 10}
    names = dict(rows)
    assert names["0111"] == "稻谷种植"
    assert names["2611"] == "无机酸制造"
    assert names["4430"] == "热力生产和供应"


@pytest.mark.django_db
def test_migration_loads_the_industry_table_with_high_energy_decided_by_code():
    assert Industry.objects.count() == len(read_industries())
    flags = dict(Industry.objects.values_list("code", "high_energy"))
    assert flags["2611"] is True  # 无机酸制造, division 26
    assert flags["4430"] is True  # heat supply is excluded from the 95% (division 44)
    assert flags["3011"] is True
    assert flags["2770"] is False  # 卫生材料及医药用品制造: a chemical-sounding name, division 27
    assert flags["0610"] is False  # coal mining is not one of the six divisions
    assert {code for code, high in flags.items() if high} == {
        code for code in flags if code[:2] in HIGH_ENERGY_DIVISIONS
    }


@pytest.mark.django_db
def test_load_industries_is_idempotent_and_repairs_what_changed():
    assert load_industries().changed == 0
    Industry.objects.filter(code="4430").update(name="改过的名字", high_energy=False)
    Industry.objects.filter(code="2611").delete()

    result = load_industries()

    assert (result.created, result.updated) == (1, 1)
    assert Industry.objects.get(code="4430").name == "热力生产和供应"
    assert Industry.objects.get(code="4430").high_energy is True
    assert Industry.objects.get(code="2611").high_energy is True
    assert load_industries().changed == 0


@pytest.mark.django_db
def test_every_industry_code_the_demo_uses_is_in_the_table():
    assert INDUSTRY_CODES_USED - set(Industry.objects.values_list("code", flat=True)) == set()


# --- demo tariffs -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_migration_loads_the_demo_tariffs_labelled_as_demo():
    tariffs = list(Tariff.objects.all())
    assert len(tariffs) == len(DEMO_TARIFFS)
    assert all(t.is_demo and t.source == DEMO_SOURCE == "示例数据，非官方电价" for t in tariffs)
    assert {t.effective_from for t in tariffs} == {dt.date(2020, 1, 1)}
    assert all(t.effective_to is None for t in tariffs)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("category", "voltage", "rate"),
    [
        (GC, "0.4", "0.7499"),
        (GC, "1", "0.7399"),  # 1 kV is the bottom of the 1–10 kV band
        (GC, "10", "0.7399"),
        (GC, "35", "0.7299"),
        (GC, "110", "0.7299"),
        (LI, "10", "0.6200"),
        (LI, "35", "0.6050"),
        (LI, "66", "0.6050"),
        (LI, "110", "0.5900"),
        (LI, "220", "0.5800"),
    ],
)
def test_tariff_for_picks_the_energy_rate_by_voltage_band(category, voltage, rate):
    assert tariff_for(category=category, voltage_kv=voltage, component=FLAT, on=JUNE).rate == Decimal(rate)


@pytest.mark.django_db
@pytest.mark.parametrize(("voltage", "flat"), [("0.4", "0.7499"), ("10", "0.7399"), ("35", "0.7299")])
def test_peak_and_valley_are_the_flat_rate_times_1_47_and_0_53_to_four_places(voltage, flat):
    peak = tariff_for(category=GC, voltage_kv=voltage, component=PEAK, on=JUNE).rate
    valley = tariff_for(category=GC, voltage_kv=voltage, component=VALLEY, on=JUNE).rate
    places = Decimal("0.0001")
    assert peak == (Decimal(flat) * Decimal("1.47")).quantize(places, rounding=ROUND_HALF_UP)
    assert valley == (Decimal(flat) * Decimal("0.53")).quantize(places, rounding=ROUND_HALF_UP)
    if voltage == "0.4":
        assert (peak, valley) == (Decimal("1.1024"), Decimal("0.3974"))


@pytest.mark.django_db
def test_large_industrial_energy_rates_fall_with_voltage_and_basic_rates_are_25_and_37_5():
    rates = [tariff_for(category=LI, voltage_kv=v, component=FLAT, on=JUNE).rate for v in ("10", "35", "110", "220")]
    assert rates == sorted(rates, reverse=True)
    assert all(Decimal("0.58") <= r <= Decimal("0.62") for r in rates)
    capacity = tariff_for(category=LI, voltage_kv="10", component=TariffComponent.BASIC_CAPACITY, on=JUNE)
    demand = tariff_for(category=LI, voltage_kv="110", component=TariffComponent.BASIC_DEMAND, on=JUNE)
    assert (capacity.rate, capacity.unit) == (Decimal("25"), "元/kVA·月")
    assert (demand.rate, demand.unit) == (Decimal("37.5"), "元/kW·月")


@pytest.mark.django_db
def test_tariff_for_picks_by_date_so_official_figures_replace_demo_ones():
    Tariff.objects.create(
        category=GC,
        component=FLAT,
        voltage_min_kv=Decimal("1"),
        voltage_max_kv=Decimal("35"),
        rate=Decimal("0.7100"),
        unit="元/kWh",
        effective_from=dt.date(2020, 7, 1),
        is_demo=False,
        source="official notice",
    )

    def rate(on):
        return tariff_for(category=GC, voltage_kv="10", component=FLAT, on=on).rate

    assert rate(dt.date(2020, 6, 30)) == Decimal("0.7399")
    assert rate(dt.date(2020, 7, 1)) == Decimal("0.7100")
    # Other voltage bands keep the demo figure.
    assert tariff_for(category=GC, voltage_kv="0.4", component=FLAT, on=dt.date(2020, 8, 1)).rate == Decimal("0.7499")
    with pytest.raises(Tariff.DoesNotExist, match="2019-12-31"):
        rate(dt.date(2019, 12, 31))


@pytest.mark.django_db
def test_tariff_for_respects_effective_to_as_the_last_day_in_force():
    Tariff.objects.filter(category=GC, component=FLAT, voltage_min_kv=Decimal("0")).update(
        effective_to=dt.date(2020, 3, 31)
    )
    assert tariff_for(category=GC, voltage_kv="0.4", component=FLAT, on=dt.date(2020, 3, 31)).rate == Decimal("0.7499")
    with pytest.raises(Tariff.DoesNotExist):
        tariff_for(category=GC, voltage_kv="0.4", component=FLAT, on=dt.date(2020, 4, 1))


@pytest.mark.django_db
def test_tariff_for_without_a_matching_band_says_what_was_asked():
    with pytest.raises(Tariff.DoesNotExist, match=r"large_industrial energy_flat at 0.4 kV"):
        tariff_for(category=LI, voltage_kv="0.4", component=FLAT, on=JUNE)


@pytest.mark.django_db
def test_load_demo_tariffs_is_idempotent_and_restores_a_changed_rate():
    assert load_demo_tariffs().changed == 0
    Tariff.objects.filter(category=LI, component=TariffComponent.BASIC_DEMAND).update(rate=Decimal("40"))

    result = load_demo_tariffs()

    assert (result.created, result.updated) == (0, 1)
    assert tariff_for(category=LI, voltage_kv="10", component=TariffComponent.BASIC_DEMAND, on=JUNE).rate == Decimal(
        "37.5"
    )
    assert Tariff.objects.count() == len(DEMO_TARIFFS)
