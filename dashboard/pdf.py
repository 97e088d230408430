"""The month's one-page report for the leadership (PDF, in Chinese whatever the viewer's language).

It says what the company reports (programme.md §1): per measure, "惠及客户X万户，减少企业电费支出X
万元（X亿元）", then the month by category and by district, the chain and arrears protection — the
dashboard's own figures (``dashboard.figures.Figures``), so the paper and the page never differ.
Chinese text uses ReportLab's built-in CID font, as the bill statements do (``billing.pdf``).
"""

from __future__ import annotations

import io

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Category, StatsMetric, period_label
from billing.pdf import pdf_paragraph, pdf_styles

from .figures import Figures
from .measures import CATEGORY_COLUMNS, MEASURES
from .tables import YUAN as YUAN_FMT
from .tables import format_value

REPORT_LANGUAGE = "zh-hans"
HEADER = colors.HexColor("#e6f2f1")
RULE = colors.HexColor("#adb5bd")


def report_filename(figures: Figures) -> str:
    parts = ["relief-report", period_label(figures.filters.period)]
    if figures.filters.district:
        parts.append(figures.filters.district.code)
    if figures.filters.category:
        parts.append(figures.filters.category)
    return "-".join(parts) + ".pdf"


def report_pdf(figures: Figures) -> bytes:
    """One A4 landscape page for ``figures`` (whose period filter must be set)."""
    with translation.override(REPORT_LANGUAGE):
        return _build(figures)


def _table(rows: list[list], widths: list[float], *, total_row: bool = True) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT", repeatRows=1)
    style = [
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("GRID", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if total_row:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black))
    table.setStyle(TableStyle(style))
    return table


def _build(figures: Figures) -> bytes:
    styles = pdf_styles()
    small = styles["small"]
    num = styles["small_right"]
    head = styles["strong"]
    f = figures.filters
    month = period_label(f.period)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=10 * mm,
        bottomMargin=9 * mm,
        title=_("Relief measures in %(month)s: monthly report") % {"month": month},
        author=str(_("COVID-19 electricity relief portal")),
        lang="zh-CN",
    )
    width = doc.width
    story: list = [pdf_paragraph(_("Relief measures in %(month)s: monthly report") % {"month": month}, styles["title"])]
    scope = [
        f.district.name if f.district else _("All districts"),
        str(Category(f.category).label) if f.category else _("All categories"),
    ]
    story.append(pdf_paragraph(_("Scope: %(scope)s. Amounts in yuan.") % {"scope": "，".join(scope)}, small))
    story.append(Spacer(1, 2 * mm))

    # The company's sentence per measure.
    for metric, label in MEASURES:
        fig = figures.figure(metric)
        story.append(
            pdf_paragraph(
                _(
                    "%(measure)s: %(accounts_wan)s ten-thousand accounts benefited (%(accounts)s accounts), "
                    "electricity costs reduced by %(yuan_wan)s ten-thousand yuan (%(yuan_yi)s hundred-million yuan)."
                )
                % {
                    "measure": label,
                    "accounts_wan": fig.accounts_wan,
                    "accounts": f"{fig.accounts:,}",
                    "yuan_wan": f"{fig.amount_wan:,}",
                    "yuan_yi": fig.amount_yi,
                },
                head if metric == StatsMetric.ALL else styles["base"],
            )
        )
    story.append(Spacer(1, 2 * mm))

    # The month by measure and category (M11).
    header = [pdf_paragraph(_("Measure"), small)]
    for _key, label in CATEGORY_COLUMNS:
        header += [pdf_paragraph(_("%(category)s: accounts") % {"category": label}, num), pdf_paragraph(_("yuan"), num)]
    header += [pdf_paragraph(_("Accounts benefited"), num), pdf_paragraph(_("Yuan saved"), num)]
    rows = [header]
    for row in figures.measures_table.rows:
        line = [pdf_paragraph(row.label, small)]
        for key, _label in CATEGORY_COLUMNS:
            line += [
                pdf_paragraph(format_value(row.values[f"{key}_accounts"], "count"), num),
                pdf_paragraph(format_value(row.values[f"{key}_yuan"], YUAN_FMT), num),
            ]
        line += [
            pdf_paragraph(format_value(row.values["accounts"], "count"), num),
            pdf_paragraph(format_value(row.values["yuan"], YUAN_FMT), num),
        ]
        rows.append(line)
    first = 52 * mm
    rest = (width - first) / 8
    story += [_table(rows, [first] + [rest] * 8), Spacer(1, 3 * mm)]

    # Left: 95% by district; right: the chain and arrears protection.
    districts = figures.discount_districts_table
    left_rows = [
        [
            pdf_paragraph(_("District"), small),
            pdf_paragraph(_("Accounts benefited"), num),
            pdf_paragraph(_("Yuan saved"), num),
        ]
    ]
    for row in [*districts.rows, districts.footer]:
        left_rows.append(
            [
                pdf_paragraph(row.label, small),
                pdf_paragraph(format_value(row.values["accounts"], "count"), num),
                pdf_paragraph(format_value(row.values["yuan"], YUAN_FMT), num),
            ]
        )
    left_width = width * 0.42
    left = [
        pdf_paragraph(_("95 percent settlement by district"), head),
        _table(left_rows, [left_width * 0.4, left_width * 0.25, left_width * 0.35]),
    ]

    chain = figures.chain_table
    right_width = width * 0.55
    chain_rows = [
        [
            pdf_paragraph(_("Level"), small),
            pdf_paragraph(_("Applications waiting"), num),
            pdf_paragraph(_("Applications overdue"), num),
            pdf_paragraph(_("Lists waiting"), num),
            pdf_paragraph(_("Median time (hours)"), num),
        ]
    ]
    for row in [*chain.rows, chain.footer]:
        chain_rows.append(
            [
                pdf_paragraph(row.label, small),
                pdf_paragraph(format_value(row.values.get("applications"), "count"), num),
                pdf_paragraph(format_value(row.values.get("overdue_applications"), "count"), num),
                pdf_paragraph(format_value(row.values.get("lists"), "count"), num),
                pdf_paragraph(format_value(row.values.get("median_hours"), "hours"), num),
            ]
        )
    arrears = {
        m: figures.figure(m) for m in (StatsMetric.PROTECTED, StatsMetric.IN_ARREARS, StatsMetric.LATE_FEE_WAIVER)
    }
    right = [
        pdf_paragraph(_("Chain health"), head),
        _table(chain_rows, [right_width * 0.36] + [right_width * 0.16] * 4),
        Spacer(1, 2 * mm),
        pdf_paragraph(
            _(
                "Arrears protection: %(protected)s protected accounts billed, %(in_arrears)s of them in arrears "
                "carrying %(arrears)s yuan; late fees waived %(waived)s yuan."
            )
            % {
                "protected": f"{arrears[StatsMetric.PROTECTED].accounts:,}",
                "in_arrears": f"{arrears[StatsMetric.IN_ARREARS].accounts:,}",
                "arrears": format_value(arrears[StatsMetric.PROTECTED].amount, YUAN_FMT),
                "waived": format_value(arrears[StatsMetric.LATE_FEE_WAIVER].amount, YUAN_FMT),
            },
            styles["base"],
        ),
    ]
    columns = Table([[left, right]], colWidths=[width * 0.44, width * 0.56], hAlign="LEFT")
    columns.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [columns, Spacer(1, 2 * mm)]
    story.append(
        pdf_paragraph(
            _(
                "Every figure equals the sum of the ledger entries it stands for, to the fen. Accounts benefited: "
                "distinct accounts with relief in the month. 万户 = accounts ÷ 10,000; 万元 = yuan ÷ 10,000; "
                "亿元 = yuan ÷ 100,000,000; to 2 decimals, rounded half up. Generated by the portal on %(at)s."
            )
            % {"at": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
            small,
        )
    )
    doc.build(story)
    return buffer.getvalue()
