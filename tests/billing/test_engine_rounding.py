from decimal import Decimal

import pytest

from billing.engine import line_discount, lines_discount, round_fen, to_wan, to_yi


def test_m3_worked_example():
    assert line_discount(Decimal("12345.67"), Decimal("0.05")) == Decimal("617.28")


def test_half_fen_tie_rounds_up_not_to_even():
    # 10.10 × 5% = 0.505: half-even would give 0.50.
    assert line_discount(Decimal("10.10"), Decimal("0.05")) == Decimal("0.51")
    assert line_discount(Decimal("10.30"), Decimal("0.05")) == Decimal("0.52")  # 0.515


def test_negative_line_rounds_half_away_from_zero():
    assert line_discount(Decimal("-10.10"), Decimal("0.05")) == Decimal("-0.51")


def test_each_line_is_rounded_on_its_own():
    # 0.505 + 0.505 → 0.51 + 0.51 = 1.02 (rounding the sum would give 1.01)
    assert lines_discount([Decimal("10.10"), Decimal("10.10")], Decimal("0.05")) == Decimal("1.02")


def test_float_is_refused():
    with pytest.raises(TypeError):
        round_fen(0.505)


def test_m11_units():
    assert to_wan(12345) == Decimal("1.23")
    assert to_wan(12350) == Decimal("1.24")
    assert to_yi(Decimal("123456789.00")) == Decimal("1.23")
    assert to_yi(Decimal("125000000.00")) == Decimal("1.25")
