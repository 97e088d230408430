"""Tariffs with effective dates: when one is "used", and how a later one supersedes it.

A tariff is **used** when a bill already imported falls under it: the bill's account is in the
tariff's category, its supply voltage is in the tariff's band (``voltage_min_kv <= voltage <
voltage_max_kv``, blank max: no upper bound) and the bill's month overlaps the tariff's dates
(``period <= effective_to`` or no end, and the month is not wholly before ``effective_from``). A
used tariff is never edited or deleted: a new tariff for the same category, component and band
starting later supersedes it, and the old one is closed the day before. No tariff, new or
changed, may cover a bill already imported, so that no imported bill ever changes tariff.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from .models import Bill, Tariff, period_label

KEY_FIELDS = ("category", "component", "voltage_min_kv", "voltage_max_kv")
EDITABLE_FIELDS = (*KEY_FIELDS, "rate", "unit", "effective_from", "effective_to", "is_demo", "source")


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def bills_under(
    *,
    category: str,
    voltage_min_kv: Decimal,
    voltage_max_kv: Decimal | None,
    effective_from: dt.date,
    effective_to: dt.date | None,
) -> QuerySet[Bill]:
    """Imported bills a tariff with these terms would cover (see the module docstring)."""
    bills = Bill.objects.filter(
        account__category=category,
        account__voltage_kv__gte=voltage_min_kv,
        period__gte=_month_start(effective_from),
    )
    if voltage_max_kv is not None:
        bills = bills.filter(account__voltage_kv__lt=voltage_max_kv)
    if effective_to is not None:
        bills = bills.filter(period__lte=effective_to)
    return bills


def tariff_bills(tariff: Tariff) -> QuerySet[Bill]:
    """The imported bills that fall under ``tariff``."""
    return bills_under(
        category=tariff.category,
        voltage_min_kv=tariff.voltage_min_kv,
        voltage_max_kv=tariff.voltage_max_kv,
        effective_from=tariff.effective_from,
        effective_to=tariff.effective_to,
    )


def tariff_is_used(tariff: Tariff) -> bool:
    """Whether any imported bill falls under ``tariff`` (then it is read-only and never deleted)."""
    return tariff.pk is not None and tariff_bills(tariff).exists()


def _same_band(values: dict) -> QuerySet[Tariff]:
    return Tariff.objects.filter(
        category=values["category"],
        component=values["component"],
        voltage_min_kv=values["voltage_min_kv"],
        voltage_max_kv=values["voltage_max_kv"],
    )


def _terms_errors(values: dict) -> dict[str, str]:
    errors = {}
    if values["effective_to"] is not None and values["effective_to"] < values["effective_from"]:
        errors["effective_to"] = gettext("A tariff cannot end before it starts.")
    if values["voltage_max_kv"] is not None and values["voltage_max_kv"] <= values["voltage_min_kv"]:
        errors["voltage_max_kv"] = gettext("The upper voltage must be above the lower one.")
    if values["rate"] is not None and values["rate"] < 0:
        errors["rate"] = gettext("A rate cannot be negative.")
    return errors


def _covered_bill_error(values: dict) -> dict[str, str]:
    """An error if a tariff with these terms would cover an imported bill."""
    terms = {k: values[k] for k in ("category", "voltage_min_kv", "voltage_max_kv", "effective_from", "effective_to")}
    last = bills_under(**terms).order_by("-period").values_list("period", flat=True).first()
    if last is None:
        return {}
    return {
        "effective_from": gettext(
            "Bills already imported would fall under this tariff (the last is for %(month)s): "
            "a tariff may start only after the last imported bill's month."
        )
        % {"month": period_label(last)}
    }


def _normalised(values: dict) -> dict:
    values = {field: values.get(field) for field in EDITABLE_FIELDS}
    values["is_demo"] = bool(values["is_demo"])
    values["source"] = values["source"] or ""
    return values


def tariff_add_errors(values: dict, *, band: list[Tariff] | None = None) -> dict[str, str]:
    """Why a new tariff with ``values`` cannot be added (empty: it can). ``tariff_add``'s rule."""
    values = _normalised(values)
    errors = _terms_errors(values)
    if errors:
        return errors
    if band is None:
        band = list(_same_band(values).order_by("effective_from"))
    start = values["effective_from"]
    later = [t for t in band if t.effective_from >= start]
    if later:
        return {
            "effective_from": gettext(
                "A tariff of this category, component and voltage band already starts on %(date)s: "
                "a new one must start after the latest one."
            )
            % {"date": later[-1].effective_from.isoformat()}
        }
    errors = _covered_bill_error(values)
    for old in _superseded(band, start):
        # What the superseded tariff gives up must hold no imported bill either.
        errors = errors or _covered_bill_error({**values, "effective_to": old.effective_to})
    return errors


def _superseded(band: list[Tariff], start: dt.date) -> list[Tariff]:
    return [t for t in band if t.effective_from < start and (t.effective_to is None or t.effective_to >= start)]


def tariff_change_errors(tariff_id: int, values: dict, *, tariff: Tariff | None = None) -> dict[str, str]:
    """Why tariff ``tariff_id`` cannot take ``values`` (empty: it can). ``tariff_change``'s rule."""
    tariff = tariff or Tariff.objects.get(pk=tariff_id)
    if tariff_is_used(tariff):
        return {"__all__": tariff_used_reason(tariff)}
    values = _normalised({field: values.get(field, getattr(tariff, field)) for field in EDITABLE_FIELDS})
    errors = _terms_errors(values) or _covered_bill_error(values)
    if errors:
        return errors
    others = (
        _same_band(values)
        .exclude(pk=tariff.pk)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=values["effective_from"]))
    )
    if values["effective_to"] is not None:
        others = others.filter(effective_from__lte=values["effective_to"])
    overlapping = others.order_by("effective_from").first()
    if overlapping is not None:
        return {
            "effective_from": gettext(
                "These dates overlap the tariff of the same band from %(date)s; a band has one tariff at a time."
            )
            % {"date": overlapping.effective_from.isoformat()}
        }
    return {}


def tariff_used_reason(tariff: Tariff) -> str:
    """The message the admin shows on a used tariff."""
    last = tariff_bills(tariff).order_by("-period").values_list("period", flat=True).first()
    return gettext(
        "Bills already imported (up to %(month)s) were billed under this tariff, so it cannot be changed "
        "or deleted. To change the rate, add a new tariff for the same category, component and voltage "
        "band with a later start date: it supersedes this one, which then ends the day before."
    ) % {"month": period_label(last) if last else "—"}


@transaction.atomic
def tariff_add(**values) -> Tariff:
    """Add a tariff; the one of the same category, component and band in force on its start ends the day before.

    Refused (``ValidationError`` naming the field) when the new tariff or what the superseded one
    gives up would cover an imported bill, when another tariff of the band starts on or after the
    new start, or when the terms are invalid. Nothing is written then.
    """
    values = _normalised(values)
    band = list(_same_band(values).select_for_update().order_by("effective_from"))
    errors = tariff_add_errors(values, band=band)
    if errors:
        raise ValidationError(errors)
    start = values["effective_from"]
    for old in _superseded(band, start):
        old.effective_to = start - dt.timedelta(days=1)
        old.save(update_fields=["effective_to"])
    tariff = Tariff(**values)
    tariff.full_clean()
    tariff.save()
    return tariff


@transaction.atomic
def tariff_change(*, tariff_id: int, **values) -> Tariff:
    """Change a tariff no imported bill used, so that it still covers none; a used one is refused."""
    tariff = Tariff.objects.select_for_update().get(pk=tariff_id)
    errors = tariff_change_errors(tariff_id, values, tariff=tariff)
    if errors:
        raise ValidationError(errors)
    merged = _normalised({**{field: getattr(tariff, field) for field in EDITABLE_FIELDS}, **values})
    for field, value in merged.items():
        setattr(tariff, field, value)
    tariff.full_clean()
    tariff.save()
    return tariff


@transaction.atomic
def tariff_delete(*, tariff_id: int) -> None:
    """Delete a tariff no imported bill used; a used one is refused."""
    tariff = Tariff.objects.select_for_update().get(pk=tariff_id)
    if tariff_is_used(tariff):
        raise ValidationError(tariff_used_reason(tariff))
    tariff.delete()
