"""``GET /api/v1/stats/`` (interfaces.md §2): the dashboard's figures as JSON.

The same figures as the page (``dashboard.figures.Figures``), for the same people: a manager the
whole city, a district reviewer their own district, anyone else 403. Query parameters as the
page's filters: ``period`` (``YYYY-MM``), ``district`` (code), ``category``; an invalid one is a
400 naming it.

Amounts are decimal strings in yuan (``"11083.34"``); every figure comes with its M11 units:
``accounts_wan`` (万户 = accounts / 10⁴), ``amount_wan`` (万元) and ``amount_yi`` (亿元 = yuan / 10⁸),
2 decimals rounded half up.

The view derives from ``organisation.api.PortalAPIView`` and uses its error bodies for the schema: the
API's shared base (error mapping, base view), which billing's and workflow's API views use too.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing.models import Category, StatsMetric, period_label
from organisation.api import FIELD_ERRORS, NOT_ALLOWED, NOT_LOGGED_IN, PortalAPIView

from .figures import Figures
from .filters import dashboard_district, parse_period
from .measures import MEASURES, Figure, category_column

FEN = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(FEN))


def _figure(fig: Figure) -> dict:
    return {
        "accounts": fig.accounts,
        "accounts_wan": _money(fig.accounts_wan),
        "amount": _money(fig.amount),
        "amount_wan": _money(fig.amount_wan),
        "amount_yi": _money(fig.amount_yi),
    }


def stats_payload(figures: Figures) -> dict:
    """The figures as the API answers them (also what the tests compare with the page)."""
    f = figures.filters
    codes = figures.district_codes
    cells = []
    for cell in figures.month_cells:
        if f.period and cell.period != f.period:
            continue
        if f.district_id is not None and cell.district_id != f.district_id:
            continue
        if f.category and cell.category != f.category:
            continue
        cells.append(
            {
                "measure": cell.metric,
                "period": period_label(cell.period),
                "district": codes.get(cell.district_id),
                "category": cell.category,
                **_figure(Figure(cell.accounts, cell.amount)),
            }
        )
    totals = []
    for cell in figures.total_cells:
        if f.district_id is not None and cell.district_id != f.district_id:
            continue
        if f.category and cell.category != f.category:
            continue
        totals.append(
            {
                "measure": cell.metric,
                "district": codes.get(cell.district_id),
                "category": cell.category,
                **_figure(Figure(cell.accounts, cell.amount)),
            }
        )
    measures = []
    for metric in [m for m, _label in MEASURES] + [StatsMetric.PROTECTED.value, StatsMetric.IN_ARREARS.value]:
        by_category = {}
        for category in Category.values:
            column = category_column(category)
            if column != category:
                continue
            by_category[category] = _figure(figures.figure(metric, category=category))
        by_category["other"] = _figure(figures.figure(metric, category="other"))
        measures.append(
            {
                "measure": metric,
                "label": str(StatsMetric(metric).label),
                **_figure(figures.figure(metric)),
                "by_category": by_category,
            }
        )
    forecast = []
    for row, lst in _forecast_rows(figures):
        forecast.append(
            {
                "district": row["district"],
                "list_id": lst.pk if lst else None,
                "state": lst.state if lst else None,
                "forecast": {
                    "accounts": lst.forecast_accounts if lst else 0,
                    "accounts_wan": _money(Figure(lst.forecast_accounts).accounts_wan) if lst else "0.00",
                    "reduction_yuan": _money(lst.forecast_reduction) if lst else "0.00",
                    "reduction_wan": _money(Figure(0, lst.forecast_reduction).amount_wan) if lst else "0.00",
                    "reduction_yi": _money(Figure(0, lst.forecast_reduction).amount_yi) if lst else "0.00",
                },
                "actual": _figure(row["actual"]),
            }
        )
    return {
        "filters": {
            "period": period_label(f.period) if f.period else None,
            "district": f.district.code if f.district else None,
            "category": f.category,
        },
        "scope": "district" if figures.scope_district is not None else "city",
        # Posting chunks whose summary refresh has not run yet: the money figures trail the ledger
        # until it is 0 (billing.stats).
        "refreshes_pending": figures.refresh_pending,
        "measures": measures,
        "cells": cells,
        "totals": totals,
        "forecast": forecast,
        "applications": [
            {"kind": r["kind"], "state": r["state"], "channel": r["channel"], "count": r["n"]}
            for r in figures.application_counts
        ],
        "chain": [
            {
                "level": level,
                "waiting_applications": waiting.applications,
                "waiting_lists": waiting.lists,
                "overdue_applications": waiting.overdue_applications,
                "overdue_lists": waiting.overdue_lists,
                "decisions": figures.times[level].decisions,
                "median_seconds": figures.times[level].median_seconds,
                "p90_seconds": figures.times[level].p90_seconds,
            }
            for level, waiting in figures.waiting.items()
        ],
        "reasons": [
            {"level": r["level"], "action": r["action"], "reason_code": r["reason_code"], "count": r["n"]}
            for r in figures.reasons
        ],
    }


def _forecast_rows(figures: Figures):
    by_district = {lst.district_id: lst for lst in figures.forecasts}
    for district in figures.districts:
        if figures.filters.district_id is not None and district.pk != figures.filters.district_id:
            continue
        yield (
            {"district": district.code, "actual": figures.forecast_actual(district.pk)},
            by_district.get(district.pk),
        )


@extend_schema(
    tags=["stats"],
    summary="The dashboard's figures",
    description=(
        "Per measure, district, month and category: accounts benefited and yuan, with 万户/万元/亿元 "
        "(M11). `cells` are monthly (accounts counted per month), `totals` the whole programme (each "
        "account once), `measures` the filters' headline figures by category."
    ),
    parameters=[
        OpenApiParameter("period", OpenApiTypes.STR, description="Billing month YYYY-MM; blank: whole programme."),
        OpenApiParameter("district", OpenApiTypes.STR, description="District code (managers only)."),
        OpenApiParameter("category", OpenApiTypes.STR, enum=Category.values),
    ],
    responses={200: OpenApiTypes.OBJECT, 400: FIELD_ERRORS, 401: NOT_LOGGED_IN, 403: NOT_ALLOWED},
)
class StatsView(PortalAPIView):
    """The dashboard's figures, as the page shows them."""

    def get(self, request):
        from django.core.exceptions import PermissionDenied

        try:
            dashboard_district(request.user)
        except PermissionDenied as exc:
            raise ApiPermissionDenied(str(exc)) from None
        errors = {}
        period = request.query_params.get("period", "")
        if period and parse_period(period) is None:
            errors["period"] = ["Give a billing month as YYYY-MM."]
        category = request.query_params.get("category", "")
        if category and category not in Category.values:
            errors["category"] = [f"Unknown category; one of {', '.join(Category.values)}."]
        figures = Figures(user=request.user, data=request.query_params)
        district = request.query_params.get("district", "")
        if district and figures.scope_district is None and figures.filters.district is None:
            errors["district"] = ["Unknown district code."]
        if errors:
            raise ValidationError(errors)
        return Response(stats_payload(figures))
