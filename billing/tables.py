"""django-tables2 tables of accounts and bills."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_tables2.paginators import LazyPaginator

from organisation.templatetags.portal_tags import money, quantity

from .models import Account

TABLE_TEMPLATE = "includes/table.html"
MAX_PER_PAGE = 100


class BoundedLazyPaginator(LazyPaginator):
    """LazyPaginator (no ``COUNT(*)``) whose page size, taken from ``?per_page=``, is kept to 1…100."""

    def __init__(self, object_list, per_page, *args, **kwargs):
        try:
            per_page = int(per_page)
        except (TypeError, ValueError):
            per_page = 25
        super().__init__(object_list, min(max(per_page, 1), MAX_PER_PAGE), *args, **kwargs)


class BadgeColumn(tables.Column):
    """A yes/no value shown as a coloured badge; "no" shown quietly (or as its own badge)."""

    def __init__(self, *, yes_label, yes_class, no_label=None, no_class="text-bg-light border", **kwargs):
        kwargs.setdefault("empty_values", ())
        attrs = kwargs.pop("attrs", {})
        attrs.setdefault("td", {"class": "text-center"})
        attrs.setdefault("th", {"class": "text-center"})
        super().__init__(attrs=attrs, **kwargs)
        self.yes_label, self.yes_class = yes_label, yes_class
        self.no_label, self.no_class = no_label, no_class

    def render(self, value):
        if value:
            return format_html('<span class="badge {}">{}</span>', self.yes_class, self.yes_label)
        if self.no_label is None:
            return format_html('<span class="text-body-tertiary" aria-label="{}">—</span>', _("No"))
        return format_html('<span class="badge {}">{}</span>', self.no_class, self.no_label)


class NumberColumn(tables.Column):
    """A right-aligned quantity (kWh, kVA, kV)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "text-end font-monospace-num"}, "th": {"class": "text-end"}})
        super().__init__(**kwargs)

    def render(self, value):
        return quantity(value)


class AccountTable(tables.Table):
    account_no = tables.Column(
        linkify=("billing:account-detail", {"account_no": tables.A("account_no")}),
        attrs={"td": {"class": "font-monospace-num text-nowrap"}},
    )
    name = tables.Column(verbose_name=_("Name"), attrs={"td": {"class": "col-name"}})
    district = tables.Column(order_by=("district__sort_order", "account_no"))
    category = tables.Column(attrs={"td": {"class": "text-nowrap"}})
    industry_code = tables.Column(attrs={"td": {"class": "font-monospace-num"}})
    high_energy = BadgeColumn(yes_label=_("High-energy"), yes_class="text-bg-danger")
    eligible = BadgeColumn(
        verbose_name=_("95% measure"),
        yes_label=_("Eligible"),
        yes_class="text-bg-success",
        no_label=_("Not eligible"),
    )
    voltage_kv = NumberColumn()
    basic_charge_method = tables.Column(attrs={"td": {"class": "text-nowrap"}})
    capacity_kva = NumberColumn()

    class Meta:
        model = Account
        fields = (
            "account_no",
            "name",
            "district",
            "category",
            "industry_code",
            "high_energy",
            "eligible",
            "voltage_kv",
            "basic_charge_method",
            "capacity_kva",
        )
        template_name = TABLE_TEMPLATE
        attrs = {"class": "table table-sm table-hover align-middle mb-0"}
        empty_text = _("No accounts match these filters.")


class MoneyColumn(tables.Column):
    """Yuan, right-aligned, with the column's total in the footer (from ``table.totals``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "attrs",
            {
                "td": {"class": "text-end font-monospace-num"},
                "th": {"class": "text-end"},
                "tf": {"class": "text-end font-monospace-num fw-semibold"},
            },
        )
        kwargs.setdefault("orderable", False)
        super().__init__(**kwargs)

    def render(self, value):
        return money(value)

    def render_footer(self, bound_column, table):
        return money(table.totals.get(bound_column.name))


class QuantityColumn(MoneyColumn):
    def render(self, value):
        return quantity(value)

    def render_footer(self, bound_column, table):
        return quantity(table.totals.get(bound_column.name))


class BillTable(tables.Table):
    """An account's bills by month as billed, with totals (rows from ``selectors.account_bills``)."""

    period = tables.Column(
        verbose_name=_("Month"),
        orderable=False,
        footer=_("Total"),
        attrs={"td": {"class": "font-monospace-num"}, "tf": {"class": "fw-semibold"}},
    )
    energy_kwh = QuantityColumn(verbose_name=_("Energy (kWh)"))
    energy_charge = MoneyColumn(verbose_name=_("Energy charge"))
    basic_charge = MoneyColumn(verbose_name=_("Basic charge"))
    power_factor_charge = MoneyColumn(verbose_name=_("Power-factor adjustment"))
    late_fee = MoneyColumn(verbose_name=_("Late fee"))
    gross = MoneyColumn(verbose_name=_("Gross"))
    paid = MoneyColumn(verbose_name=_("Paid"))
    outstanding = MoneyColumn(verbose_name=_("Outstanding"))

    class Meta:
        template_name = TABLE_TEMPLATE
        attrs = {"class": "table table-sm table-hover align-middle mb-0"}
        empty_text = _("No bills have been imported for this account.")
        orderable = False

    def __init__(self, data, *, totals, **kwargs):
        self.totals = totals
        super().__init__(data, **kwargs)
