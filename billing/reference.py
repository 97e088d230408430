"""Reference data: the GB/T 4754-2017 industry table and the demo tariffs, and their loaders.

Both loaders are idempotent (re-running them changes nothing) and take an optional ``model`` so
that a data migration can pass its historical model (``apps.get_model(...)``).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.db import models, transaction
from django.db.models import Q

from .industry import is_high_energy, is_valid_industry_code
from .models import Category, Industry, Tariff, TariffComponent

DATA_DIR = Path(__file__).resolve().parent / "data"
INDUSTRY_CSV = DATA_DIR / "gbt4754_2017.csv"


@dataclass(frozen=True)
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


# --- industries -------------------------------------------------------------------------------


def read_industries(path: Path = INDUSTRY_CSV) -> list[tuple[str, str]]:
    """(code, name) of every class in the CSV, validated: 4-digit GB/T codes, each once."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != ["code", "name"]:
            raise ValueError(f"{path.name}: expected the header code,name, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            code, name = (row["code"] or "").strip(), (row["name"] or "").strip()
            if not is_valid_industry_code(code):
                raise ValueError(f"{path.name} line {line}: code {code!r} is not a GB/T 4754-2017 class code")
            if not name:
                raise ValueError(f"{path.name} line {line}: code {code} has no name")
            if code in seen:
                raise ValueError(f"{path.name} line {line}: code {code} appears twice")
            seen.add(code)
            rows.append((code, name))
    return rows


def load_industries(*, model: type[models.Model] | None = None, path: Path = INDUSTRY_CSV) -> LoadResult:
    """Create or update ``Industry`` rows from the CSV; ``high_energy`` comes from the code.

    Never deletes: accounts keep their codes even if a later table drops one.
    """
    model = model or Industry
    wanted = {code: (name, is_high_energy(code)) for code, name in read_industries(path)}
    with transaction.atomic():
        existing = {obj.code: obj for obj in model.objects.filter(code__in=wanted)}
        to_create, to_update = [], []
        for code, (name, high_energy) in wanted.items():
            obj = existing.get(code)
            if obj is None:
                to_create.append(model(code=code, name=name, high_energy=high_energy))
            elif (obj.name, obj.high_energy) != (name, high_energy):
                obj.name, obj.high_energy = name, high_energy
                to_update.append(obj)
        model.objects.bulk_create(to_create, batch_size=500)
        model.objects.bulk_update(to_update, ["name", "high_energy"], batch_size=500)
    return LoadResult(
        created=len(to_create), updated=len(to_update), unchanged=len(wanted) - len(to_create) - len(to_update)
    )


# --- demo tariffs -----------------------------------------------------------------------------

DEMO_SOURCE = "示例数据，非官方电价"
DEMO_EFFECTIVE_FROM = dt.date(2020, 1, 1)
PEAK_FACTOR = Decimal("1.47")
VALLEY_FACTOR = Decimal("0.53")
RATE_PLACES = Decimal("0.0001")

UNIT_ENERGY = "元/kWh"
UNIT_CAPACITY = "元/kVA·月"
UNIT_DEMAND = "元/kW·月"


def _rate(value: Decimal) -> Decimal:
    return value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TariffRow:
    """One tariff line: applies to ``voltage_min_kv <= voltage < voltage_max_kv`` (no max: no upper bound)."""

    category: str
    component: str
    voltage_min_kv: Decimal
    voltage_max_kv: Decimal | None
    rate: Decimal
    unit: str

    def covers(self, voltage_kv: Decimal) -> bool:
        return self.voltage_min_kv <= voltage_kv and (self.voltage_max_kv is None or voltage_kv < self.voltage_max_kv)


def _energy_rows(category: str, bands: list[tuple[str, str | None, str]]) -> list[TariffRow]:
    """Flat rate per voltage band, with peak and valley derived by the §5 factors (4 places)."""
    rows = []
    for vmin, vmax, flat in bands:
        lo, hi, flat_rate = Decimal(vmin), (Decimal(vmax) if vmax else None), Decimal(flat)
        for component, rate in (
            (TariffComponent.ENERGY_FLAT, flat_rate),
            (TariffComponent.ENERGY_PEAK, _rate(flat_rate * PEAK_FACTOR)),
            (TariffComponent.ENERGY_VALLEY, _rate(flat_rate * VALLEY_FACTOR)),
        ):
            rows.append(TariffRow(category, component.value, lo, hi, rate, UNIT_ENERGY))
    return rows


def _single_part(category: str, vmin: str, vmax: str | None, flat: str) -> TariffRow:
    return TariffRow(
        category,
        TariffComponent.ENERGY_FLAT.value,
        Decimal(vmin),
        Decimal(vmax) if vmax else None,
        Decimal(flat),
        UNIT_ENERGY,
    )


# programme.md §5. 一般工商业: below 1 kV, 1–10 kV (up to 35), 35 kV and above. 大工业: 1–10 kV,
# 35–66 kV, 110 kV, 220 kV and above, a monotone series inside 0.58–0.62. Residential and
# agricultural rates are plausible single-part figures of our own choosing. All demo figures.
DEMO_TARIFFS: tuple[TariffRow, ...] = (
    *_energy_rows(
        Category.GENERAL_COMMERCIAL.value,
        [("0", "1", "0.7499"), ("1", "35", "0.7399"), ("35", None, "0.7299")],
    ),
    *_energy_rows(
        Category.LARGE_INDUSTRIAL.value,
        [("1", "35", "0.6200"), ("35", "110", "0.6050"), ("110", "220", "0.5900"), ("220", None, "0.5800")],
    ),
    TariffRow(
        Category.LARGE_INDUSTRIAL.value,
        TariffComponent.BASIC_CAPACITY.value,
        Decimal("0"),
        None,
        Decimal("25.0000"),
        UNIT_CAPACITY,
    ),
    TariffRow(
        Category.LARGE_INDUSTRIAL.value,
        TariffComponent.BASIC_DEMAND.value,
        Decimal("0"),
        None,
        Decimal("37.5000"),
        UNIT_DEMAND,
    ),
    _single_part(Category.RESIDENTIAL.value, "0", "1", "0.5100"),
    _single_part(Category.RESIDENTIAL.value, "1", None, "0.5000"),
    _single_part(Category.AGRICULTURAL.value, "0", "1", "0.4860"),
    _single_part(Category.AGRICULTURAL.value, "1", None, "0.4760"),
)


def demo_rate(*, category: str, voltage_kv: Decimal, component: str) -> Decimal:
    """The demo rate for an account, from ``DEMO_TARIFFS`` (no database; used by the demo generator)."""
    for row in DEMO_TARIFFS:
        if row.category == category and row.component == component and row.covers(Decimal(voltage_kv)):
            return row.rate
    raise LookupError(f"no demo tariff for {category} {component} at {voltage_kv} kV")


def load_demo_tariffs(*, model: type[models.Model] | None = None) -> LoadResult:
    """Create or update the demo tariffs (effective 2020-01-01, ``is_demo``, labelled as demo)."""
    model = model or Tariff
    created = updated = unchanged = 0
    with transaction.atomic():
        for row in DEMO_TARIFFS:
            values = {
                "voltage_max_kv": row.voltage_max_kv,
                "rate": row.rate,
                "unit": row.unit,
                "effective_to": None,
                "is_demo": True,
                "source": DEMO_SOURCE,
            }
            obj = model.objects.filter(
                category=row.category,
                component=row.component,
                voltage_min_kv=row.voltage_min_kv,
                effective_from=DEMO_EFFECTIVE_FROM,
            ).first()
            if obj is None:
                model.objects.create(
                    category=row.category,
                    component=row.component,
                    voltage_min_kv=row.voltage_min_kv,
                    effective_from=DEMO_EFFECTIVE_FROM,
                    **values,
                )
                created += 1
            elif any(getattr(obj, field) != value for field, value in values.items()):
                for field, value in values.items():
                    setattr(obj, field, value)
                obj.save(update_fields=list(values))
                updated += 1
            else:
                unchanged += 1
    return LoadResult(created=created, updated=updated, unchanged=unchanged)


def unload_demo_tariffs(*, model: type[models.Model] | None = None) -> int:
    """Delete exactly the rows ``load_demo_tariffs`` writes (for the migration's reverse)."""
    model = model or Tariff
    deleted, _ = model.objects.filter(is_demo=True, source=DEMO_SOURCE, effective_from=DEMO_EFFECTIVE_FROM).delete()
    return deleted


def tariff_for(*, category: str, voltage_kv: Decimal | str | int, component: str, on: dt.date) -> Tariff:
    """The tariff in force on ``on`` for an account's category and supply voltage.

    A tariff covers ``voltage_min_kv <= voltage < voltage_max_kv`` (blank max: no upper bound) and
    the dates ``effective_from <= on <= effective_to`` (blank: still in force). When several rows
    match, the one that started last wins (a newer official figure replaces a demo one), then the
    narrowest voltage band. Raises ``Tariff.DoesNotExist`` naming what was looked for.
    """
    voltage = Decimal(str(voltage_kv))
    tariff = (
        Tariff.objects.filter(
            category=category, component=component, voltage_min_kv__lte=voltage, effective_from__lte=on
        )
        .filter(Q(voltage_max_kv__isnull=True) | Q(voltage_max_kv__gt=voltage))
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=on))
        .order_by("-effective_from", "-voltage_min_kv")
        .first()
    )
    if tariff is None:
        raise Tariff.DoesNotExist(f"no tariff for {category} {component} at {voltage} kV on {on.isoformat()}")
    return tariff
