"""The dashboard's filters and who sees what.

Who sees what: a manager (``portal.view_dashboard``) sees the whole city and may narrow it to a
district; a district reviewer sees the dashboard of their own district only (the district filter
is fixed); anyone else gets 403.

Filters (in the URL, so that a view can be shared): ``period`` (``YYYY-MM``, blank: the whole
programme), ``district`` (code), ``category``. The period narrows money figures to the billing
month and applications to those received in it; the chain's health is the chain now.

At the bottom of the app with ``measures`` and ``tables``: it imports no other module of ``dashboard``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import Category, period_label
from organisation.models import District
from organisation.roles import Role

PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")


# --- who sees what ---------------------------------------------------------------------------------


def dashboard_district(user) -> District | None:
    """None for the whole city (managers), the user's own district (district reviewers); else 403."""
    if user.has_perm("portal.view_dashboard"):
        return None
    if user.has_role(Role.DISTRICT_REVIEWER) and user.district_id:
        return user.district
    raise PermissionDenied(_("The dashboard is for managers; a district reviewer sees the part of their own district."))


def scope_districts(fixed: District | None) -> list[District]:
    """The districts a dashboard shows: the fixed one (a district reviewer's) or all, in their order."""
    return [fixed] if fixed is not None else list(District.objects.order_by("sort_order", "code"))


# --- filters ---------------------------------------------------------------------------------------


def parse_period(value: str | None) -> dt.date | None:
    match = PERIOD_RE.match(value or "")
    return dt.date(int(match[1]), int(match[2]), 1) if match else None


class FilterForm(forms.Form):
    period = forms.ChoiceField(label=gettext_lazy("Billing month"), required=False)
    district = forms.ChoiceField(label=gettext_lazy("District"), required=False)
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        required=False,
        choices=[("", gettext_lazy("All categories")), *Category.choices],
    )

    def __init__(self, data, *, months: Iterable[dt.date], districts: list[District], fixed_district, **kwargs):
        super().__init__(data, **kwargs)
        wanted = parse_period(data.get("period"))
        months = sorted(set(months) | ({wanted} if wanted else set()))
        self.fields["period"].choices = [
            ("", _("Whole programme")),
            *[(period_label(m), period_label(m)) for m in months],
        ]
        if fixed_district is not None:
            del self.fields["district"]
        else:
            self.fields["district"].choices = [("", _("All districts")), *[(d.code, d.name) for d in districts]]


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters as understood (invalid values are dropped, the form shows why)."""

    period: dt.date | None = None
    district: District | None = None
    category: str | None = None
    district_fixed: bool = False

    @property
    def district_id(self) -> int | None:
        return self.district.pk if self.district else None

    def params(self, *, period: bool = True, category: bool = True) -> dict[str, str]:
        """The filters as query parameters (the fixed district is implied, never sent)."""
        params = {}
        if period and self.period:
            params["period"] = period_label(self.period)
        if self.district and not self.district_fixed:
            params["district"] = self.district.code
        if category and self.category:
            params["category"] = self.category
        return params

    def query(self, **extra) -> str:
        params = {**self.params(), **{k: v for k, v in extra.items() if v not in (None, "")}}
        return urlencode(params)


def filters_from(data, *, user, districts: list[District], months: Iterable[dt.date]) -> tuple[Filters, FilterForm]:
    fixed = dashboard_district(user)
    form = FilterForm(data, months=months, districts=districts, fixed_district=fixed)
    cleaned = form.cleaned_data if form.is_valid() else {}
    if fixed is not None:
        district = fixed
    else:
        code = cleaned.get("district") or ""
        district = next((d for d in districts if d.code == code), None)
    return (
        Filters(
            period=parse_period(cleaned.get("period")),
            district=district,
            category=cleaned.get("category") or None,
            district_fixed=fixed is not None,
        ),
        form,
    )
