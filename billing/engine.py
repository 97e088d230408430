"""The money arithmetic of programme.md §4 as pure functions over Decimals and dates.

No ORM, no I/O. Every amount is Decimal yuan; every line is rounded once, to the fen, with
ROUND_HALF_UP (half away from zero, as PostgreSQL's round(numeric, 2) does).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")


def round_fen(amount: Decimal) -> Decimal:
    """Round once to the fen, half away from zero. Floats are refused: money is never float."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def line_discount(line: Decimal, rate: Decimal) -> Decimal:
    """M3: ``discount(line) = round(line × rate)``; 12,345.67 at 5% → 617.28."""
    return round_fen(line * rate)


def lines_discount(lines: Iterable[Decimal], rate: Decimal) -> Decimal:
    """The discount of a bill: the sum of its lines' discounts, each rounded on its own."""
    return sum((line_discount(line, rate) for line in lines), Decimal("0.00"))


def to_wan(value: Decimal | int) -> Decimal:
    """M11: 万户 / 万元 = value / 10⁴ to 2 decimals, ROUND_HALF_UP."""
    return (Decimal(value) / Decimal(10_000)).quantize(FEN, rounding=ROUND_HALF_UP)


def to_yi(value: Decimal | int) -> Decimal:
    """M11: 亿元 = yuan / 10⁸ to 2 decimals, ROUND_HALF_UP."""
    return (Decimal(value) / Decimal(100_000_000)).quantize(FEN, rounding=ROUND_HALF_UP)
