"""The managers' dashboard (programme.md §1, M11): every measure in the company's units, from summary rows.

Where the figures come from: money and accounts from the summary cells of ``billing.stats`` (kept by
the posting, never a scan of the ledger per request), the chain from ``workflow.stats``. The page
runs a fixed number of queries whatever the size of the data (pinned in the tests).

Every figure links to the list behind it (``drilldowns``): accounts with their relief (from the
account-month rows, each account linking to its page and its ledger), applications or eligibility
lists. :class:`Figures` holds one request's figures; its tables come from the mixins
``money_tables.MoneyTables`` and ``chain_tables.ChainTables``; the page (``views``), the exports
(``exports``), the report (``pdf``) and the API (``api``) all read it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import urlencode

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import stats as billing_stats
from billing.models import Category, StatsMetric, period_label
from workflow import stats as workflow_stats

from .chain_tables import ChainTables
from .filters import dashboard_district, filters_from, scope_districts
from .measures import MEASURES, Figure, category_column
from .money_tables import MoneyTables
from .tables import Table


class Figures(MoneyTables, ChainTables):
    """Every figure of the dashboard for one set of filters, read in a fixed number of queries.

    Queries: the districts, the monthly cells, the whole-programme cells, the 95% lists with their
    forecasts, applications by kind/state/channel, items waiting (two), stays per level, returns
    and rejections: nine, whatever the data.
    """

    def __init__(self, *, user, data, now: dt.datetime | None = None):
        self.now = now or timezone.now()
        self.scope_district = dashboard_district(user)
        self.districts = scope_districts(self.scope_district)
        scope_id = self.scope_district.pk if self.scope_district else None
        # Cells for every category (the forecast compares with all categories); narrowed in Python.
        self.month_cells = billing_stats.stats_cells(district_id=scope_id)
        self.total_cells = billing_stats.stats_total_cells(district_id=scope_id)
        self.months = sorted({c.period for c in self.month_cells})
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
        for cell in self.month_cells:
            if f.district_id is not None and cell.district_id != f.district_id:
                continue
            if f.category and cell.category != f.category:
                continue
            key = (cell.period, cell.district_id, category_column(cell.category), cell.metric)
            self._month[key] += Figure(cell.accounts, cell.amount)
        for cell in self.total_cells:
            if f.district_id is not None and cell.district_id != f.district_id:
                continue
            self._total_all_categories[(cell.district_id, cell.metric)] += Figure(cell.accounts, cell.amount)
            if f.category and cell.category != f.category:
                continue
            self._total[(cell.district_id, category_column(cell.category), cell.metric)] += Figure(
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

    # -- the tables (built by the mixins) ------------------------------------------------------------

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
