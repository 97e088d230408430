"""A table of the dashboard: what the page shows, the chart draws and the exports write.

The structure (:class:`Column`, :class:`Row`, :class:`Table`) and how a value is written; the
dashboard's own tables are built in ``money_tables`` and ``chain_tables``, written out in
``exports`` and ``pdf``. At the bottom of the app: it imports no other module of ``dashboard``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SECONDS_PER_HOUR = Decimal(3600)


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
