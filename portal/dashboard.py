"""The managers' dashboard (programme.md §1, M11): every measure in the company's units, from summary rows.

Who sees what: a manager (``portal.view_dashboard``) sees the whole city and may narrow it to a
district; a district reviewer sees the dashboard of their own district only (the district filter
is fixed); anyone else gets 403.

Where the figures come from: money and accounts from the summary cells of ``billing.stats`` (kept by
the posting, never a scan of the ledger per request), the chain from ``workflow.stats``. The page
runs a fixed number of queries whatever the size of the data (pinned in the tests).

Filters (in the URL, so that a view can be shared): ``period`` (``YYYY-MM``, blank: the whole
programme), ``district`` (code), ``category``. The period narrows money figures to the billing
month and applications to those received in it; the chain's health is the chain now.

Every figure links to the list behind it: accounts with their relief (from the account-month
rows, each account linking to its page and its ledger), applications or eligibility lists.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView
from django_tables2.paginators import LazyPaginator

from billing import stats as billing_stats
from billing.engine import to_wan, to_yi
from billing.models import Category, LedgerKind, StatsMetric, period_label
from portal.models import District
from portal.roles import Role
from workflow import stats as workflow_stats
from workflow.chain import Action, Level, ReasonCode, State
from workflow.models import ApplicationKind, Channel

ZERO = Decimal("0.00")
PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")
OTHER = "other"  # residential and agricultural accounts, in one column
OTHER_CATEGORIES = (Category.RESIDENTIAL.value, Category.AGRICULTURAL.value)
# The dashboard's category columns: 大工业 and 一般工商业 apart (M11), the rest together.
CATEGORY_COLUMNS: tuple[tuple[str, object], ...] = (
    (Category.LARGE_INDUSTRIAL.value, Category.LARGE_INDUSTRIAL.label),
    (Category.GENERAL_COMMERCIAL.value, Category.GENERAL_COMMERCIAL.label),
    (OTHER, gettext_lazy("Other categories")),
)
# The measures of programme.md §1 that post money, and their summary metric.
MEASURES: tuple[tuple[str, object], ...] = (
    (StatsMetric.DISCOUNT.value, gettext_lazy("95 percent settlement (普惠餐)")),
    (StatsMetric.TWO_PART.value, gettext_lazy("Two-part tariff relief (自助餐)")),
    (StatsMetric.INVESTMENT_WAIVER.value, gettext_lazy("Connection investment waived (三零服务)")),
    (StatsMetric.LATE_FEE_WAIVER.value, gettext_lazy("Late fees waived (欠费不停电)")),
    (StatsMetric.ALL.value, gettext_lazy("All measures")),
)
PENDING = [str(s) for s in (State.PENDING_DISTRICT, State.PENDING_CITY, State.PENDING_HEAD, State.PENDING_LEADER)]
STATE_GROUPS: tuple[tuple[str, object, list[str]], ...] = (
    ("draft", State.DRAFT.label, [State.DRAFT.value]),
    ("pending", gettext_lazy("In the chain"), PENDING),
    ("approved", State.APPROVED.label, [State.APPROVED.value]),
    ("settled", State.SETTLED.label, [State.SETTLED.value]),
    ("rejected", State.REJECTED.label, [State.REJECTED.value]),
    ("withdrawn", State.WITHDRAWN.label, [State.WITHDRAWN.value]),
)
SECONDS_PER_HOUR = Decimal(3600)


# --- who sees what ---------------------------------------------------------------------------------


def dashboard_district(user) -> District | None:
    """None for the whole city (managers), the user's own district (district reviewers); else 403."""
    if user.has_perm("portal.view_dashboard"):
        return None
    if user.has_role(Role.DISTRICT_REVIEWER) and user.district_id:
        return user.district
    raise PermissionDenied(_("The dashboard is for managers; a district reviewer sees the part of their own district."))


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


# --- tables ----------------------------------------------------------------------------------------

COUNT, YUAN, WAN, YI, HOURS, TEXT, PERCENT = "count", "yuan", "wan", "yi", "hours", "text", "percent"


@dataclass(frozen=True)
class Column:
    key: str
    label: object
    fmt: str = COUNT
    chart: bool = False  # a dataset of the table's chart

    @property
    def numeric(self) -> bool:
        return self.fmt != TEXT


@dataclass
class Row:
    label: object
    values: dict[str, object]
    links: dict[str, str] = field(default_factory=dict)
    label_link: str = ""
    highlight: bool = False


@dataclass
class Table:
    """One table of the dashboard: what the page shows, the chart draws and the exports write."""

    slug: str
    title: object
    label_header: object
    columns: list[Column]
    rows: list[Row]
    footer: Row | None = None
    chart_type: str = "bar"
    stacked: bool = False
    horizontal: bool = False
    note: object = ""

    @property
    def chart_columns(self) -> list[Column]:
        return [c for c in self.columns if c.chart]

    def chart(self) -> dict | None:
        """Chart.js data: the rows' labels and, per charted column, the same numbers the table shows."""
        columns = self.chart_columns
        if not columns:
            return None
        return {
            "type": self.chart_type,
            "stacked": self.stacked,
            "horizontal": self.horizontal,
            "labels": [str(row.label) for row in self.rows],
            "datasets": [
                {"label": str(c.label), "key": c.key, "data": [_number(row.values.get(c.key)) for row in self.rows]}
                for c in columns
            ],
        }

    def cells(self, row: Row) -> list[dict]:
        return [
            {
                "column": c,
                "value": row.values.get(c.key),
                "text": format_value(row.values.get(c.key), c.fmt),
                "link": row.links.get(c.key, ""),
            }
            for c in self.columns
        ]

    @property
    def body(self) -> list[dict]:
        return [{"row": row, "cells": self.cells(row)} for row in self.rows]

    @property
    def foot(self) -> dict | None:
        return {"row": self.footer, "cells": self.cells(self.footer)} if self.footer else None

    def export_rows(self) -> list[list]:
        """Header, rows and footer as plain values (yuan as Decimal to the fen, counts as int)."""
        out = [[str(self.label_header), *[str(c.label) for c in self.columns]]]
        for row in [*self.rows, *([self.footer] if self.footer else [])]:
            out.append([str(row.label), *[_plain(row.values.get(c.key), c.fmt) for c in self.columns]])
        return out


def _number(value):
    """A chart value for JSON: yuan stay exact decimal strings ("1234.56"); the chart script turns
    them into numbers only to draw them. Counts stay integers."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    return value


def _plain(value, fmt: str):
    """A cell for the exports: numbers as numbers (yuan as Decimal to the fen), text as text."""
    if value is None:
        return ""
    if isinstance(value, (int, Decimal)) and fmt != TEXT:
        return value
    return str(value)


def format_value(value, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == COUNT:
        return f"{int(value):,}"
    if fmt in (YUAN, WAN, YI):
        return f"{Decimal(value):,.2f}"
    if fmt == HOURS:
        return f"{Decimal(value):,.1f}"
    if fmt == PERCENT:
        return f"{Decimal(value):.1f}%"
    return str(value)


def hours(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / SECONDS_PER_HOUR).quantize(Decimal("0.1"))


# --- the figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    accounts: int = 0
    amount: Decimal = ZERO

    def __add__(self, other: Figure) -> Figure:
        return Figure(self.accounts + other.accounts, self.amount + other.amount)

    @property
    def accounts_wan(self) -> Decimal:
        return to_wan(self.accounts)

    @property
    def amount_wan(self) -> Decimal:
        return to_wan(self.amount)

    @property
    def amount_yi(self) -> Decimal:
        return to_yi(self.amount)


def _category_of(category: str) -> str:
    return OTHER if category in OTHER_CATEGORIES else category


class Figures:
    """Every figure of the dashboard for one set of filters, read in a fixed number of queries.

    Queries: the districts, the monthly cells, the whole-programme cells, the 95% lists with their
    forecasts, applications by kind/state/channel, items waiting (two), stays per level, returns
    and rejections: nine, whatever the data.
    """

    def __init__(self, *, user, data, now: dt.datetime | None = None):
        self.now = now or timezone.now()
        self.scope_district = dashboard_district(user)
        self.districts = (
            [self.scope_district]
            if self.scope_district is not None
            else list(District.objects.order_by("sort_order", "code"))
        )
        scope_id = self.scope_district.pk if self.scope_district else None
        # Cells for every category (the forecast compares with all categories); narrowed in Python.
        self._month_cells = billing_stats.stats_cells(district_id=scope_id)
        self._total_cells = billing_stats.stats_total_cells(district_id=scope_id)
        self.months = sorted({c.period for c in self._month_cells})
        self.filters, self.form = filters_from(data, user=user, districts=self.districts, months=self.months)
        self.district_names = {d.pk: d.name for d in self.districts}
        self.district_codes = {d.pk: d.code for d in self.districts}
        f = self.filters
        self.forecasts = workflow_stats.list_forecasts(district_id=f.district_id)
        self.application_counts = workflow_stats.application_counts(
            district_id=f.district_id, category=f.category, period=f.period
        )
        self.waiting = workflow_stats.chain_waiting(district_id=f.district_id, category=f.category, now=self.now)
        self.times = workflow_stats.chain_times(district_id=f.district_id, category=f.category)
        self.reasons = workflow_stats.decision_reasons(district_id=f.district_id, category=f.category)
        # Posted chunks not yet counted: their refresh is queued behind the posting (billing.stats).
        self.refresh_pending = billing_stats.refreshes_pending()
        self._index()

    # -- the cells, summed ------------------------------------------------------------------------

    def _index(self) -> None:
        f = self.filters
        self._month: dict[tuple, Figure] = defaultdict(Figure)  # (period, district_id, category column, metric)
        self._total: dict[tuple, Figure] = defaultdict(Figure)  # (district_id, category column, metric)
        self._total_all_categories: dict[tuple, Figure] = defaultdict(Figure)  # (district_id, metric)
        for cell in self._month_cells:
            if f.district_id is not None and cell.district_id != f.district_id:
                continue
            if f.category and cell.category != f.category:
                continue
            key = (cell.period, cell.district_id, _category_of(cell.category), cell.metric)
            self._month[key] += Figure(cell.accounts, cell.amount)
        for cell in self._total_cells:
            if f.district_id is not None and cell.district_id != f.district_id:
                continue
            self._total_all_categories[(cell.district_id, cell.metric)] += Figure(cell.accounts, cell.amount)
            if f.category and cell.category != f.category:
                continue
            self._total[(cell.district_id, _category_of(cell.category), cell.metric)] += Figure(
                cell.accounts, cell.amount
            )

    def figure(
        self, metric: str, *, period: dt.date | None | bool = True, district_id: int | None = None, category=None
    ) -> Figure:
        """The figure of ``metric`` for a month (``period=True``: the filter's; None: the whole
        programme, accounts distinct over months), one district or all, one category column or all."""
        if period is True:
            period = self.filters.period
        total = Figure()
        if period is None:
            for (d, c, m), fig in self._total.items():
                if m == metric and (district_id is None or d == district_id) and (category is None or c == category):
                    total += fig
        else:
            for (p, d, c, m), fig in self._month.items():
                if (
                    m == metric
                    and p == period
                    and (district_id is None or d == district_id)
                    and (category is None or c == category)
                ):
                    total += fig
        return total

    def forecast_actual(self, district_id: int) -> Figure:
        """The 95% measure's actual figure for the whole programme and every category (beside the forecast)."""
        return self._total_all_categories.get((district_id, StatsMetric.DISCOUNT.value), Figure())

    # -- links --------------------------------------------------------------------------------------

    def accounts_link(self, metric: str, *, period=True, district_id=None, category=None) -> str:
        f = self.filters
        params = f.params(period=False, category=False)
        if period is True:
            period = f.period
        if period is not None:
            params["period"] = period_label(period)
        if district_id is not None and not f.district_fixed:
            params["district"] = self.district_codes[district_id]
        params["category"] = category or f.category or ""
        params["metric"] = metric
        return f"{reverse('dashboard-accounts')}?{urlencode({k: v for k, v in params.items() if v})}"

    def items_link(self, *, items: str = "applications", period: bool = True, category: bool = True, **extra) -> str:
        params = {**self.filters.params(period=period, category=category), "items": items}
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return f"{reverse('dashboard-items')}?{urlencode(params)}"

    # -- the tables ---------------------------------------------------------------------------------

    @staticmethod
    def _categories(with_other: bool) -> tuple[tuple[str, object], ...]:
        return CATEGORY_COLUMNS if with_other else CATEGORY_COLUMNS[:2]

    def _category_columns(
        self, *, chart_yuan: bool = False, chart_accounts: bool = False, with_other: bool = True
    ) -> list[Column]:
        columns = []
        for key, label in self._categories(with_other):
            columns.append(
                Column(
                    f"{key}_accounts", _("%(category)s: accounts") % {"category": label}, COUNT, chart=chart_accounts
                )
            )
            columns.append(Column(f"{key}_yuan", _("%(category)s: yuan") % {"category": label}, YUAN, chart=chart_yuan))
        return columns

    def _category_values(self, row: Row, metric: str, *, with_other: bool = True, **where) -> Figure:
        total = Figure()
        for key, _label in self._categories(with_other):
            fig = self.figure(metric, category=key, **where)
            row.values[f"{key}_accounts"] = fig.accounts
            row.values[f"{key}_yuan"] = fig.amount
            row.links[f"{key}_accounts"] = row.links[f"{key}_yuan"] = self.accounts_link(
                metric, category=key if key != OTHER else OTHER, **where
            )
            total += fig
        return total

    @cached_property
    def measures_table(self) -> Table:
        """M11's overview: per measure, accounts benefited and yuan by category, in 万户 and 万元/亿元."""
        columns = [
            *self._category_columns(),
            Column("accounts", _("Accounts benefited"), COUNT),
            Column("accounts_wan", _("10,000 accounts (万户)"), WAN),
            Column("yuan", _("Yuan saved"), YUAN),
            Column("yuan_wan", _("10,000 yuan (万元)"), WAN),
            Column("yuan_yi", _("100 million yuan (亿元)"), YI),
        ]
        rows = []
        for metric, label in MEASURES:
            row = Row(label=label, values={})
            self._category_values(row, metric)
            fig = self.figure(metric)
            row.values.update(
                accounts=fig.accounts,
                accounts_wan=fig.accounts_wan,
                yuan=fig.amount,
                yuan_wan=fig.amount_wan,
                yuan_yi=fig.amount_yi,
            )
            link = self.accounts_link(metric)
            for key in ("accounts", "accounts_wan", "yuan", "yuan_wan", "yuan_yi"):
                row.links[key] = link
            row.highlight = metric == StatsMetric.ALL
            rows.append(row)
        return Table(
            "measures",
            _("Every measure in the company's units"),
            _("Measure"),
            columns,
            rows,
            note=_(
                "Accounts benefited: distinct accounts with relief from the measure in the period (over the whole "
                "programme an account counts once). 万户 = accounts ÷ 10,000, 万元 = yuan ÷ 10,000, "
                "亿元 = yuan ÷ 100,000,000, to 2 decimals rounded half up."
            ),
        )

    def _months_table(self, slug: str, title, metric: str, *, extra: list[tuple[str, object, str]] = ()) -> Table:
        """A measure by month: accounts and yuan per category column, then the totals."""
        columns = [
            *self._category_columns(chart_yuan=not extra, with_other=False),
            Column("accounts", _("Accounts benefited"), COUNT),
            *[Column(key, label, YUAN, chart=True) for key, label, _m in extra],
            Column("yuan", _("Yuan saved"), YUAN),
        ]
        rows = []
        for month in self.months:
            row = Row(label=period_label(month), values={}, highlight=month == self.filters.period)
            self._category_values(row, metric, period=month, with_other=False)
            fig = self.figure(metric, period=month)
            row.values.update(accounts=fig.accounts, yuan=fig.amount)
            row.links["accounts"] = row.links["yuan"] = self.accounts_link(metric, period=month)
            for key, _label, extra_metric in extra:
                row.values[key] = self.figure(extra_metric, period=month).amount
                row.links[key] = self.accounts_link(extra_metric, period=month)
            if fig.accounts or fig.amount:
                rows.append(row)
        footer = Row(label=_("Whole programme"), values={})
        self._category_values(footer, metric, period=None, with_other=False)
        fig = self.figure(metric, period=None)
        footer.values.update(accounts=fig.accounts, yuan=fig.amount)
        footer.links["accounts"] = footer.links["yuan"] = self.accounts_link(metric, period=None)
        for key, _label, extra_metric in extra:
            footer.values[key] = self.figure(extra_metric, period=None).amount
            footer.links[key] = self.accounts_link(extra_metric, period=None)
        return Table(
            slug,
            title,
            _("Billing month"),
            columns,
            rows,
            footer=footer,
            stacked=True,
            note=_(
                "The measure applies to 大工业 and 一般工商业 accounts. Whole programme: each account once, however "
                "many months it benefited in."
            ),
        )

    @cached_property
    def discount_months_table(self) -> Table:
        return self._months_table("discount-months", _("95 percent settlement by month"), StatsMetric.DISCOUNT.value)

    @cached_property
    def discount_districts_table(self) -> Table:
        metric = StatsMetric.DISCOUNT.value
        columns = [
            *self._category_columns(with_other=False),
            Column("accounts", _("Accounts benefited"), COUNT),
            Column("yuan", _("Yuan saved"), YUAN, chart=True),
        ]
        rows = []
        total = Row(label=_("All districts"), values={})
        for district in self.districts:
            if self.filters.district_id is not None and district.pk != self.filters.district_id:
                continue
            row = Row(label=district.name, values={})
            self._category_values(row, metric, district_id=district.pk, with_other=False)
            fig = self.figure(metric, district_id=district.pk)
            row.values.update(accounts=fig.accounts, yuan=fig.amount)
            row.links["accounts"] = row.links["yuan"] = self.accounts_link(metric, district_id=district.pk)
            rows.append(row)
        self._category_values(total, metric, with_other=False)
        fig = self.figure(metric)
        total.values.update(accounts=fig.accounts, yuan=fig.amount)
        total.links["accounts"] = total.links["yuan"] = self.accounts_link(metric)
        return Table(
            "discount-districts", _("95 percent settlement by district"), _("District"), columns, rows, footer=total
        )

    @cached_property
    def forecast_table(self) -> Table:
        columns = [
            Column("state", _("List state"), TEXT),
            Column("forecast_accounts", _("Forecast: accounts"), COUNT),
            Column("forecast_accounts_wan", _("Forecast: 万户"), WAN),
            Column("forecast_yuan", _("Forecast: yuan"), YUAN, chart=True),
            Column("forecast_yuan_yi", _("Forecast: 亿元"), YI),
            Column("actual_accounts", _("Actual: accounts"), COUNT),
            Column("actual_yuan", _("Actual: yuan"), YUAN, chart=True),
            Column("actual_share", _("Actual of forecast"), PERCENT),
        ]
        by_district = {lst.district_id: lst for lst in self.forecasts}
        rows = []
        total = Row(label=_("All districts"), values={})
        sums = defaultdict(lambda: ZERO)
        for district in self.districts:
            if self.filters.district_id is not None and district.pk != self.filters.district_id:
                continue
            lst = by_district.get(district.pk)
            actual = self.forecast_actual(district.pk)
            row = Row(label=district.name, values={})
            link = self.accounts_link(StatsMetric.DISCOUNT.value, period=None, district_id=district.pk, category=None)
            if lst is not None:
                forecast_yuan = lst.forecast_reduction.quantize(Decimal("0.01"))
                row.values.update(
                    state=State(lst.state).label,
                    forecast_accounts=lst.forecast_accounts,
                    forecast_accounts_wan=to_wan(lst.forecast_accounts),
                    forecast_yuan=forecast_yuan,
                    forecast_yuan_yi=to_yi(forecast_yuan),
                )
                list_url = reverse("workflow:list-detail", args=[lst.pk])
                for key in ("state", "forecast_accounts", "forecast_accounts_wan", "forecast_yuan", "forecast_yuan_yi"):
                    row.links[key] = list_url
                sums["forecast_accounts"] += lst.forecast_accounts
                sums["forecast_yuan"] += forecast_yuan
                if forecast_yuan:
                    row.values["actual_share"] = (actual.amount * 100 / forecast_yuan).quantize(Decimal("0.1"))
            else:
                row.values["state"] = _("No list")
            row.values.update(actual_accounts=actual.accounts, actual_yuan=actual.amount)
            row.links["actual_accounts"] = row.links["actual_yuan"] = link
            sums["actual_accounts"] += actual.accounts
            sums["actual_yuan"] += actual.amount
            rows.append(row)
        total.values.update(
            forecast_accounts=int(sums["forecast_accounts"]),
            forecast_accounts_wan=to_wan(int(sums["forecast_accounts"])),
            forecast_yuan=sums["forecast_yuan"],
            forecast_yuan_yi=to_yi(sums["forecast_yuan"]),
            actual_accounts=int(sums["actual_accounts"]),
            actual_yuan=sums["actual_yuan"],
        )
        if sums["forecast_yuan"]:
            total.values["actual_share"] = (sums["actual_yuan"] * 100 / sums["forecast_yuan"]).quantize(Decimal("0.1"))
        return Table(
            "forecast",
            _("95 percent settlement: forecast before approval and actual after"),
            _("District"),
            columns,
            rows,
            footer=total,
            note=_(
                "The forecast is the district list's (every category, the whole window, computed when the list "
                "was drawn up); the actual is the ledger's for the whole programme and every category."
            ),
        )

    @cached_property
    def two_part_months_table(self) -> Table:
        return self._months_table(
            "two-part-months",
            _("Two-part tariff relief by month: basic charges credited"),
            StatsMetric.TWO_PART.value,
            extra=[
                ("basic_charge_credit", LedgerKind.BASIC_CHARGE_CREDIT.label, StatsMetric.BASIC_CHARGE_CREDIT.value),
                (
                    "demand_relief_credit",
                    LedgerKind.DEMAND_RELIEF_CREDIT.label,
                    StatsMetric.DEMAND_RELIEF_CREDIT.value,
                ),
            ],
        )

    @cached_property
    def applications_table(self) -> Table:
        columns = [Column(key, label, COUNT, chart=True) for key, label, _states in STATE_GROUPS]
        columns.append(Column("total", _("Total"), COUNT))
        group_of = {state: key for key, _label, states in STATE_GROUPS for state in states}
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.application_counts:
            counts[row["kind"]][group_of[row["state"]]] += row["n"]
        rows = []
        for kind in ApplicationKind:
            row = Row(label=kind.label, values={})
            for key, _label, states in STATE_GROUPS:
                row.values[key] = counts[kind.value][key]
                row.links[key] = self.items_link(kind=kind.value, states=",".join(states))
            row.values["total"] = sum(counts[kind.value].values())
            row.links["total"] = self.items_link(kind=kind.value)
            row.label_link = row.links["total"]
            rows.append(row)
        footer = Row(label=_("All kinds"), values={})
        for key, _label, states in STATE_GROUPS:
            footer.values[key] = sum(r.values[key] for r in rows)
            footer.links[key] = self.items_link(states=",".join(states))
        footer.values["total"] = sum(r.values["total"] for r in rows)
        footer.links["total"] = self.items_link()
        return Table(
            "applications",
            _("Applications by kind and state"),
            _("Kind"),
            columns,
            rows,
            footer=footer,
            stacked=True,
            horizontal=True,
            note=_("Applications received in the billing month (all of them for the whole programme)."),
        )

    @cached_property
    def chain_table(self) -> Table:
        columns = [
            Column("applications", _("Applications waiting"), COUNT, chart=True),
            Column("overdue_applications", _("Applications overdue"), COUNT, chart=True),
            Column("lists", _("Lists waiting"), COUNT),
            Column("overdue_lists", _("Lists overdue"), COUNT),
            Column("decisions", _("Decisions timed"), COUNT),
            Column("median_hours", _("Median time (hours)"), HOURS),
            Column("p90_hours", _("90th percentile (hours)"), HOURS),
        ]
        rows = []
        for level in workflow_stats.LEVELS:
            waiting = self.waiting[level]
            times = self.times[level]
            state = workflow_stats.STATE_OF_LEVEL[level]
            row = Row(
                label=Level(level).label,
                values={
                    "applications": waiting.applications,
                    "overdue_applications": waiting.overdue_applications,
                    "lists": waiting.lists if not self.filters.category else None,
                    "overdue_lists": waiting.overdue_lists if not self.filters.category else None,
                    "decisions": times.decisions,
                    "median_hours": hours(times.median_seconds),
                    "p90_hours": hours(times.p90_seconds),
                },
                links={
                    "applications": self.items_link(period=False, states=state),
                    "overdue_applications": self.items_link(period=False, overdue=level),
                    "lists": self.items_link(items="lists", period=False, category=False, states=state),
                    "overdue_lists": self.items_link(items="lists", period=False, category=False, overdue=level),
                },
            )
            decided = self.items_link(period=False, decided_level=level)
            row.links["decisions"] = row.links["median_hours"] = row.links["p90_hours"] = decided
            rows.append(row)
        footer = Row(label=_("All levels"), values={})
        for key in ("applications", "overdue_applications", "decisions"):
            footer.values[key] = sum(r.values[key] for r in rows)
        if not self.filters.category:
            for key in ("lists", "overdue_lists"):
                footer.values[key] = sum(r.values[key] for r in rows)
        footer.links["applications"] = self.items_link(period=False, states=",".join(PENDING + [State.DRAFT.value]))
        return Table(
            "chain",
            _("Chain health: items waiting, overdue and time per level"),
            _("Level"),
            columns,
            rows,
            footer=footer,
            note=_(
                "The chain now (the billing month does not apply). Time at a level runs from the item's arrival "
                "at the level to the decision that ended its stay (submit, approve, return or reject), for "
                "applications and lists alike; lists have no category and are left out when one is chosen."
            ),
        )

    @cached_property
    def reasons_table(self) -> Table:
        columns = [
            Column("returns", _("Returns"), COUNT, chart=True),
            Column("rejections", _("Rejections"), COUNT, chart=True),
            Column("total", _("Total"), COUNT),
        ]
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.reasons:
            counts[row["reason_code"] or ""][row["action"]] += row["n"]
        rows = []
        codes = [("", _("No code (returns carry a text reason)")), *[(c.value, c.label) for c in ReasonCode]]
        for code, label in codes:
            returns = counts[code][Action.RETURN.value]
            rejections = counts[code][Action.REJECT.value]
            rows.append(
                Row(
                    label=label,
                    values={"returns": returns, "rejections": rejections, "total": returns + rejections},
                    links={
                        "returns": self.items_link(period=False, decision=Action.RETURN.value, reason_code=code or "-"),
                        "rejections": self.items_link(
                            period=False, decision=Action.REJECT.value, reason_code=code or "-"
                        ),
                    },
                )
            )
        footer = Row(
            label=_("All reasons"),
            values={k: sum(r.values[k] for r in rows) for k in ("returns", "rejections", "total")},
            links={
                "returns": self.items_link(period=False, decision=Action.RETURN.value),
                "rejections": self.items_link(period=False, decision=Action.REJECT.value),
            },
        )
        return Table(
            "reasons",
            _("Returns and rejections by reason code"),
            _("Reason code"),
            columns,
            rows,
            footer=footer,
            horizontal=True,
            stacked=True,
            note=_("Decisions on applications and (without a category filter) eligibility lists, at every level."),
        )

    @cached_property
    def arrears_months_table(self) -> Table:
        protected, in_arrears = StatsMetric.PROTECTED.value, StatsMetric.IN_ARREARS.value
        waiver = StatsMetric.LATE_FEE_WAIVER.value
        columns = [
            Column("protected", _("Protected accounts"), COUNT),
            Column("in_arrears", _("Of which in arrears"), COUNT),
            Column("arrears", _("Arrears they carry (yuan)"), YUAN, chart=True),
            Column("waived_accounts", _("Accounts with late fees waived"), COUNT),
            Column("waived", _("Late fees waived (yuan)"), YUAN, chart=True),
        ]

        def fill(row: Row, period) -> Row:
            p, a, w = (self.figure(m, period=period) for m in (protected, in_arrears, waiver))
            row.values.update(
                protected=p.accounts,
                in_arrears=a.accounts,
                arrears=p.amount,
                waived_accounts=w.accounts,
                waived=w.amount,
            )
            row.links.update(
                protected=self.accounts_link(protected, period=period),
                in_arrears=self.accounts_link(in_arrears, period=period),
                arrears=self.accounts_link(in_arrears, period=period),
                waived_accounts=self.accounts_link(waiver, period=period),
                waived=self.accounts_link(waiver, period=period),
            )
            return row

        rows = []
        for month in self.months:
            row = fill(Row(label=period_label(month), values={}, highlight=month == self.filters.period), month)
            if any(row.values.values()):
                rows.append(row)
        footer = fill(Row(label=_("Whole programme"), values={}), None)
        return Table(
            "arrears-months",
            _("Arrears protection: protected accounts and the arrears they carry"),
            _("Billing month"),
            columns,
            rows,
            footer=footer,
            note=_(
                "Protected (programme.md M10): residential accounts, small and micro enterprises, epidemic-prevention "
                "units and accounts with approved arrears protection, counted in the months they have a bill (each "
                "account once for the whole programme). "
                "Arrears of a bill: what was billed (energy, basic charge, power factor, late fee) less what was "
                "paid, when positive; relief in the ledger is not deducted (it offsets later bills)."
            ),
        )

    @cached_property
    def channels_table(self) -> Table:
        groups = (
            ("open", _("In progress"), [State.DRAFT.value, *PENDING]),
            ("approved", _("Approved or settled"), [State.APPROVED.value, State.SETTLED.value]),
            ("closed", _("Rejected or withdrawn"), [State.REJECTED.value, State.WITHDRAWN.value]),
        )
        columns = [Column(key, label, COUNT, chart=True) for key, label, _s in groups]
        columns.append(Column("total", _("Total"), COUNT))
        group_of = {state: key for key, _label, states in groups for state in states}
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.application_counts:
            counts[row["channel"]][group_of[row["state"]]] += row["n"]
        rows = []
        for channel in Channel:
            row = Row(label=channel.label, values={}, highlight=channel == Channel.PAPER_PROXY)
            for key, _label, states in groups:
                row.values[key] = counts[channel.value][key]
                row.links[key] = self.items_link(channel=channel.value, states=",".join(states))
            row.values["total"] = sum(counts[channel.value].values())
            row.links["total"] = self.items_link(channel=channel.value)
            rows.append(row)
        footer = Row(
            label=_("All channels"),
            values={k: sum(r.values[k] for r in rows) for k in [*[g[0] for g in groups], "total"]},
            links={"total": self.items_link()},
        )
        return Table(
            "channels",
            _("Applications by channel"),
            _("Channel"),
            columns,
            rows,
            footer=footer,
            stacked=True,
            note=_("“Paper, by proxy” is the green channel: a relative acting for an elderly customer (亲人代办)."),
        )

    TABLES: tuple[str, ...] = (
        "measures",
        "discount-months",
        "discount-districts",
        "forecast",
        "two-part-months",
        "applications",
        "chain",
        "reasons",
        "arrears-months",
        "channels",
    )

    def table(self, slug: str) -> Table:
        builders: dict[str, Callable[[], Table]] = {
            "measures": lambda: self.measures_table,
            "discount-months": lambda: self.discount_months_table,
            "discount-districts": lambda: self.discount_districts_table,
            "forecast": lambda: self.forecast_table,
            "two-part-months": lambda: self.two_part_months_table,
            "applications": lambda: self.applications_table,
            "chain": lambda: self.chain_table,
            "reasons": lambda: self.reasons_table,
            "arrears-months": lambda: self.arrears_months_table,
            "channels": lambda: self.channels_table,
        }
        if slug not in builders:
            raise Http404
        return builders[slug]()

    @property
    def headline(self) -> list[dict]:
        """The company's sentence per measure: 惠及客户X万户，减少企业电费支出X万元（X亿元）."""
        out = []
        for metric, label in MEASURES:
            fig = self.figure(metric)
            out.append({"metric": metric, "label": label, "figure": fig, "link": self.accounts_link(metric)})
        return out

    @property
    def scope_label(self) -> str:
        f = self.filters
        parts = [period_label(f.period) if f.period else _("Whole programme")]
        parts.append(f.district.name if f.district else _("All districts"))
        parts.append(str(Category(f.category).label) if f.category else _("All categories"))
        return " · ".join(parts)


# --- views -----------------------------------------------------------------------------------------

SECTIONS: tuple[tuple[str, object, tuple[str, ...]], ...] = (
    ("discount", gettext_lazy("95 percent settlement (普惠餐)"), ("discount-months", "discount-districts", "forecast")),
    ("two-part", gettext_lazy("Two-part tariff relief (自助餐)"), ("two-part-months", "applications")),
    ("chain", gettext_lazy("Chain health"), ("chain", "reasons")),
    ("arrears", gettext_lazy("Arrears protection (欠费不停电)"), ("arrears-months",)),
    ("channels", gettext_lazy("Channels (线上餐 and the green channel)"), ("channels",)),
)


class DashboardView(TemplateView):
    """The dashboard: headline, the M11 overview, then each measure's tables with their charts."""

    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        figures = Figures(user=self.request.user, data=self.request.GET)
        query = figures.filters.query()

        def item(slug: str) -> dict:
            table = figures.table(slug)
            return {
                "table": table,
                "chart": table.chart(),
                "csv": f"{reverse('dashboard-export', args=[slug, 'csv'])}?{query}",
                "xlsx": f"{reverse('dashboard-export', args=[slug, 'xlsx'])}?{query}",
            }

        sections = [
            {"key": key, "title": title, "tables": [item(slug) for slug in slugs]} for key, title, slugs in SECTIONS
        ]
        report_period = figures.filters.period or (figures.months[-1] if figures.months else None)
        context.update(
            figures=figures,
            filters=figures.filters,
            form=figures.form,
            headline=figures.headline,
            overview=item("measures"),
            sections=sections,
            report_url=(
                f"{reverse('dashboard-report')}?{figures.filters.query(period=period_label(report_period))}"
                if report_period
                else ""
            ),
            report_period=period_label(report_period) if report_period else "",
            api_url=f"{reverse('api:stats')}?{query}",
        )
        return context


class DashboardExportView(View):
    """One table of the dashboard as CSV (UTF-8 with a byte-order mark, for Excel) or XLSX."""

    def get(self, request, table: str, fmt: str):
        if fmt not in ("csv", "xlsx"):
            raise Http404
        figures = Figures(user=request.user, data=request.GET)
        data = figures.table(table)
        stem = f"dashboard-{table}-{_filename_scope(figures.filters)}"
        if fmt == "csv":
            return csv_response(data, f"{stem}.csv")
        return xlsx_response(data, f"{stem}.xlsx", scope=figures.scope_label)


def _filename_scope(filters: Filters) -> str:
    parts = [period_label(filters.period) if filters.period else "all"]
    if filters.district:
        parts.append(filters.district.code)
    if filters.category:
        parts.append(filters.category)
    return "-".join(parts)


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in table.export_rows():
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def csv_response(table: Table, filename: str) -> HttpResponse:
    response = HttpResponse(("\ufeff" + csv_text(table)).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_bytes(table: Table, *, scope: str = "") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = table.slug[:31]
    rows = table.export_rows()
    formats = {COUNT: "#,##0", YUAN: "#,##0.00", WAN: "0.00", YI: "0.00", HOURS: "0.0", PERCENT: "0.0"}
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c, value=None if value == "" else value)
            if r == 1:
                cell.font = Font(bold=True)
            elif c > 1 and isinstance(value, (int, Decimal)):
                cell.number_format = formats.get(table.columns[c - 2].fmt, "General")
    sheet.column_dimensions["A"].width = 28
    if scope:
        sheet.cell(row=len(rows) + 2, column=1, value=f"{table.title} · {scope}")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_response(table: Table, filename: str, *, scope: str) -> HttpResponse:
    response = HttpResponse(
        xlsx_bytes(table, scope=scope),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class DashboardReportView(View):
    """The month's one-page report for the leadership, in Chinese (PDF)."""

    def get(self, request):
        from .dashboard_pdf import report_filename, report_pdf

        data = request.GET.copy()
        figures = Figures(user=request.user, data=data)
        if figures.filters.period is None:
            if not figures.months:
                raise Http404(_("No month has figures yet."))
            data["period"] = period_label(figures.months[-1])
            figures = Figures(user=request.user, data=data)
        pdf = report_pdf(figures)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{report_filename(figures)}"'
        return response


# --- the lists behind the figures ------------------------------------------------------------------

PER_PAGE = 50


class _DrillDownMixin:
    def _filters(self) -> tuple[Filters, list[District]]:
        user = self.request.user
        fixed = dashboard_district(user)
        districts = [fixed] if fixed is not None else list(District.objects.order_by("sort_order", "code"))
        filters, _form = filters_from(self.request.GET, user=user, districts=districts, months=())
        return filters, districts

    def _page(self, queryset):
        try:
            number = max(int(self.request.GET.get("page", "1")), 1)
        except ValueError:
            number = 1
        return LazyPaginator(queryset, PER_PAGE).page(number)

    def _page_url(self, number: int) -> str:
        params = self.request.GET.copy()
        params["page"] = str(number)
        return f"?{params.urlencode()}"


class DashboardAccountsView(_DrillDownMixin, TemplateView):
    """The accounts behind a money or accounts figure, each with its amount; they add up to the figure."""

    template_name = "portal/dashboard_accounts.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters, districts = self._filters()
        metric = self.request.GET.get("metric", StatsMetric.ALL.value)
        if metric not in billing_stats.METRICS:
            raise Http404
        raw_category = self.request.GET.get("category", "")
        categories = (
            list(OTHER_CATEGORIES) if raw_category == OTHER else ([filters.category] if filters.category else None)
        )
        where = {
            "metric": metric,
            "period": filters.period,
            "district_id": filters.district_id,
            "categories": categories,
        }
        rows = billing_stats.stats_accounts(**where)
        summary = billing_stats.stats_accounts_summary(**where)
        page = self._page(rows)
        names = {d.pk: d.name for d in districts}
        for row in page.object_list:
            row["district_name"] = names.get(row["district_id"], "")
            row["category_label"] = Category(row["category"]).label if row["category"] in Category.values else ""
            row["url"] = reverse("billing:account-detail", args=[row["account__account_no"]])
            row["ledger_url"] = f"{reverse('api:ledger')}?{urlencode({'account_no': row['account__account_no']})}"
        context.update(
            filters=filters,
            metric=metric,
            metric_label=StatsMetric(metric).label,
            category_label=_("Other categories")
            if raw_category == OTHER
            else (Category(filters.category).label if filters.category else _("All categories")),
            page=page,
            summary=summary,
            figure=Figure(summary["accounts"], summary["amount"]),
            is_arrears=metric in (StatsMetric.PROTECTED, StatsMetric.IN_ARREARS),
            previous_url=self._page_url(page.number - 1) if page.has_previous() else "",
            next_url=self._page_url(page.number + 1) if page.has_next() else "",
            back_url=f"{reverse('dashboard')}?{filters.query()}",
        )
        return context


class DashboardItemsView(_DrillDownMixin, TemplateView):
    """The applications (or eligibility lists) behind a count of the dashboard."""

    template_name = "portal/dashboard_items.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters, _districts = self._filters()
        get = self.request.GET
        items = get.get("items", "applications")
        states = [s for s in get.get("states", "").split(",") if s in State.values] or None
        overdue = get.get("overdue") if get.get("overdue") in workflow_stats.LEVELS else None
        decided_level = get.get("decided_level") if get.get("decided_level") in workflow_stats.LEVELS else None
        described = []
        if items == "lists":
            queryset = workflow_stats.lists_behind(
                district_id=filters.district_id, states=states, overdue_level=overdue
            )
        elif items == "applications":
            kind = get.get("kind") if get.get("kind") in ApplicationKind.values else None
            channel = get.get("channel") if get.get("channel") in Channel.values else None
            decision = get.get("decision") if get.get("decision") in (Action.RETURN, Action.REJECT) else None
            reason_code = get.get("reason_code")
            if reason_code == "-":
                reason_code = ""
            elif reason_code not in ReasonCode.values:
                reason_code = None
            queryset = workflow_stats.applications_behind(
                district_id=filters.district_id,
                category=filters.category,
                period=filters.period,
                kind=kind,
                states=states,
                channel=channel,
                overdue_level=overdue,
                decision_action=decision,
                reason_code=reason_code,
                decided_level=decided_level,
            )
            if kind:
                described.append(ApplicationKind(kind).label)
            if channel:
                described.append(Channel(channel).label)
            if decision:
                described.append(Action(decision).label)
            if reason_code:
                described.append(ReasonCode(reason_code).label)
            if decided_level:
                described.append(_("decided at %(level)s") % {"level": Level(decided_level).label})
        else:
            raise Http404
        if states:
            described.append(" / ".join(str(State(s).label) for s in states))
        if overdue:
            described.append(_("overdue at %(level)s") % {"level": Level(overdue).label})
        page = self._page(queryset)
        context.update(
            filters=filters,
            items=items,
            page=page,
            described=described,
            previous_url=self._page_url(page.number - 1) if page.has_previous() else "",
            next_url=self._page_url(page.number + 1) if page.has_next() else "",
            back_url=f"{reverse('dashboard')}?{filters.query()}",
            now=timezone.now(),
        )
        return context
