"""The dashboard's money tables (from ``billing.stats``' summary cells): every measure in the
company's units, the 95% settlement by month and district with the lists' forecast beside it, the
two-part relief by month and arrears protection.

:class:`MoneyTables` is mixed into :class:`dashboard.figures.Figures` and reads what it holds
(``figure()``, ``forecast_actual()``, ``accounts_link()``, ``months``, ``districts``, ``forecasts``,
``filters``); it does not import it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from billing.engine import to_wan, to_yi
from billing.models import LedgerKind, StatsMetric, period_label
from workflow.chain import State

from .measures import CATEGORY_COLUMNS, MEASURES, OTHER, ZERO, Figure
from .tables import COUNT, PERCENT, TEXT, WAN, YI, YUAN, Column, Row, Table


class MoneyTables:
    """The tables of money and accounts (each a cached property, built once per request)."""

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
