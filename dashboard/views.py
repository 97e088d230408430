"""The dashboard's pages: the dashboard itself, a table's export, the month's report (PDF).

The lists behind the figures are in ``drilldowns``, ``GET /api/v1/stats/`` in ``api``.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from billing.models import period_label

from .exports import csv_response, filename_scope, xlsx_response
from .figures import Figures
from .pdf import report_filename, report_pdf

SECTIONS: tuple[tuple[str, object, tuple[str, ...]], ...] = (
    ("discount", gettext_lazy("95 percent settlement (普惠餐)"), ("discount-months", "discount-districts", "forecast")),
    ("two-part", gettext_lazy("Two-part tariff relief (自助餐)"), ("two-part-months", "applications")),
    ("chain", gettext_lazy("Chain health"), ("chain", "reasons")),
    ("arrears", gettext_lazy("Arrears protection (欠费不停电)"), ("arrears-months",)),
    ("channels", gettext_lazy("Channels (线上餐 and the green channel)"), ("channels",)),
)


class DashboardView(TemplateView):
    """The dashboard: headline, the M11 overview, then each measure's tables with their charts."""

    template_name = "dashboard/dashboard.html"

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
        stem = f"dashboard-{table}-{filename_scope(figures.filters)}"
        if fmt == "csv":
            return csv_response(data, f"{stem}.csv")
        return xlsx_response(data, f"{stem}.xlsx", scope=figures.scope_label)


class DashboardReportView(View):
    """The month's one-page report for the leadership, in Chinese (PDF)."""

    def get(self, request):
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
