"""The dashboard's tables as files: CSV (UTF-8 with a byte-order mark, for Excel) and XLSX."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.http import HttpResponse

from billing.models import period_label

from .filters import Filters
from .tables import COUNT, HOURS, PERCENT, WAN, YI, YUAN, Table


def filename_scope(filters: Filters) -> str:
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
