"""A bill's printable statement as PDF, in Chinese, generated on the server (ReportLab).

The Chinese text uses ReportLab's built-in CID font ``STSong-Light`` (Adobe's Simplified Chinese
font, encoding UniGB-UCS2-H): no font file is shipped or installed, the PDF names the font and the
reader supplies it (pdf.js, Chromium, poppler and Acrobat with its Asian font pack all do).
Amounts are drawn as ``12,345.67`` like on the pages.
"""

from __future__ import annotations

import io

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from organisation.templatetags.portal_tags import money

from .ledger import BillStatement
from .models import LedgerKind

FONT = "STSong-Light"
STATEMENT_LANGUAGE = "zh-hans"
# The discount line stands out (醒目) on paper as on the page.
HIGHLIGHT = colors.HexColor("#fff3cd")
RULE = colors.HexColor("#adb5bd")

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#495057")),
        "strong": ParagraphStyle("strong", parent=base, fontSize=11, leading=15),
        "num": ParagraphStyle("num", parent=base, alignment=TA_RIGHT),
        "small_right": ParagraphStyle(
            "small_right", parent=base, fontSize=8, leading=11, alignment=TA_RIGHT, textColor=colors.HexColor("#495057")
        ),
        "num_strong": ParagraphStyle("num_strong", parent=base, fontSize=11, leading=15, alignment=TA_RIGHT),
    }


def _escape(text: str) -> str:
    """Paragraph text is a small markup language: keep names like "A&B <Ltd>" literal.

    The minus sign U+2212 has no glyph in the CJK font (it shows as a box): a hyphen-minus stands for it.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\u2212", "-")


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_escape(str(text)), style)


# For the other PDFs in Chinese (the dashboard's monthly report): the same font, styles and escaping.
pdf_styles = _styles
pdf_paragraph = _p


def _less(amount) -> str:
    """An amount taken off the bill: ``-666.67`` (a negative correction shows as added)."""
    return money(-amount) if amount else money(amount)


def statement_filename(statement: BillStatement) -> str:
    return f"statement-{statement.account_no}-{statement.period}.pdf"


def bill_statement_pdf(statement: BillStatement) -> bytes:
    """The statement of one bill as a PDF (A4, Chinese whatever the viewer's language).

    ``statement.bill.account`` should come with its district (``select_related``).
    """
    with translation.override(STATEMENT_LANGUAGE):
        return _build(statement, title=str(_("Electricity bill statement")))


def _build(statement: BillStatement, *, title: str) -> bytes:
    styles = _styles()
    bill = statement.bill
    account = bill.account
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{title} {account.account_no} {statement.period}",
        author=str(_("COVID-19 electricity relief portal")),
        lang="zh-CN",
    )
    width = doc.width
    story: list = [_p(title, styles["title"])]

    # Who and which month.
    facts = [
        (_("Account number"), account.account_no),
        (_("Name"), account.name),
        (_("District"), account.district.name),
        (_("Category"), account.get_category_display()),
        (_("Billing month"), statement.period),
    ]
    facts_table = Table(
        [[_p(label, styles["small"]), _p(value, styles["base"])] for label, value in facts if value],
        colWidths=[30 * mm, width - 30 * mm],
        hAlign="LEFT",
    )
    facts_table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    story += [facts_table, Spacer(1, 5 * mm)]

    # The bill's lines as billed, with the discount on each.
    rows = [
        [
            _p(_("Item"), styles["strong"]),
            _p(_("Amount"), styles["num_strong"]),
            _p(_("Discount / source"), styles["num_strong"]),
        ]
    ]
    for line in statement.lines:
        rows.append(
            [
                _p(line.label, styles["base"]),
                _p(money(line.amount), styles["num"]),
                _p(money(line.discount), styles["num"]),
            ]
        )
    rows.append([_p(_("Gross (as billed)"), styles["strong"]), _p(money(statement.gross), styles["num_strong"]), ""])
    highlight_row = len(rows)
    rows.append(
        [
            _p(str(_kind_label("discount")), styles["strong"]),
            _p(_less(statement.discount), styles["num_strong"]),
            _p(_causes(statement.discount_relief), styles["small_right"]),
        ]
    )
    for relief in statement.credit_relief:
        rows.append(
            [
                _p(relief.kind_label, styles["base"]),
                _p(_less(relief.amount), styles["num"]),
                _p(_("From %(cause)s") % {"cause": relief.cause.label}, styles["small_right"]),
            ]
        )
    due_row = len(rows)
    rows.append([_p(_("Amount due"), styles["strong"]), _p(money(statement.due), styles["num_strong"]), ""])
    lines_table = Table(rows, colWidths=[width * 0.55, width * 0.18, width * 0.27], hAlign="LEFT", repeatRows=1)
    lines_table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, highlight_row - 1), (-1, highlight_row - 1), 0.5, RULE),
                ("BACKGROUND", (0, highlight_row), (-1, highlight_row), HIGHLIGHT),
                ("BOX", (0, highlight_row), (-1, highlight_row), 0.8, colors.HexColor("#ffc107")),
                ("LINEABOVE", (0, due_row), (-1, due_row), 0.8, colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    story += [lines_table, Spacer(1, 4 * mm)]
    story.append(
        _p(
            _("Amount due = gross − discount − credits. Amounts in yuan."),
            styles["small"],
        )
    )
    if statement.pending:
        story.append(
            _p(
                _("Posting in progress: the relief approved for this bill is not all in the ledger yet."),
                styles["small"],
            )
        )
    story.append(
        _p(
            _("Generated by the portal on %(at)s.") % {"at": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
            styles["small"],
        )
    )
    doc.build(story)
    return buffer.getvalue()


def _kind_label(kind: str) -> str:
    return str(LedgerKind(kind).label)


def _causes(reliefs) -> str:
    """``From Eligibility list #101 (1,750.00); Application #202 (-583.33)`` — one cause: without amounts."""
    reliefs = list(reliefs)
    if not reliefs:
        return ""
    if len(reliefs) == 1:
        return _("From %(cause)s") % {"cause": reliefs[0].cause.label}
    parts = "; ".join(f"{r.cause.label} ({money(r.amount)})" for r in reliefs)
    return _("From %(cause)s") % {"cause": parts}
