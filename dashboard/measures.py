"""What the dashboard counts (programme.md §1, M11): the measures, the category columns, the state
groups, and :class:`Figure` (accounts and yuan, with their 万户/万元/亿元).

The bottom of the app: every other module of ``dashboard`` may import it; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy

from billing.engine import to_wan, to_yi
from billing.models import Category, StatsMetric
from workflow.chain import State

ZERO = Decimal("0.00")
OTHER = "other"  # residential and agricultural accounts, in one column
OTHER_CATEGORIES = (Category.RESIDENTIAL.value, Category.AGRICULTURAL.value)
# The dashboard's category columns: 大工业 and 一般工商业 apart (M11), the rest together.
CATEGORY_COLUMNS: tuple[tuple[str, object], ...] = (
    (Category.LARGE_INDUSTRIAL.value, Category.LARGE_INDUSTRIAL.label),
    (Category.GENERAL_COMMERCIAL.value, Category.GENERAL_COMMERCIAL.label),
    (OTHER, gettext_lazy("Other categories")),
)
# The measures of programme.md §1 that post money, and their summary metric.
MEASURES: tuple[tuple[str, object], ...] = (
    (StatsMetric.DISCOUNT.value, gettext_lazy("95 percent settlement (普惠餐)")),
    (StatsMetric.TWO_PART.value, gettext_lazy("Two-part tariff relief (自助餐)")),
    (StatsMetric.INVESTMENT_WAIVER.value, gettext_lazy("Connection investment waived (三零服务)")),
    (StatsMetric.LATE_FEE_WAIVER.value, gettext_lazy("Late fees waived (欠费不停电)")),
    (StatsMetric.ALL.value, gettext_lazy("All measures")),
)
PENDING = [str(s) for s in (State.PENDING_DISTRICT, State.PENDING_CITY, State.PENDING_HEAD, State.PENDING_LEADER)]
STATE_GROUPS: tuple[tuple[str, object, list[str]], ...] = (
    ("draft", State.DRAFT.label, [State.DRAFT.value]),
    ("pending", gettext_lazy("In the chain"), PENDING),
    ("approved", State.APPROVED.label, [State.APPROVED.value]),
    ("settled", State.SETTLED.label, [State.SETTLED.value]),
    ("rejected", State.REJECTED.label, [State.REJECTED.value]),
    ("withdrawn", State.WITHDRAWN.label, [State.WITHDRAWN.value]),
)


@dataclass(frozen=True)
class Figure:
    accounts: int = 0
    amount: Decimal = ZERO

    def __add__(self, other: Figure) -> Figure:
        return Figure(self.accounts + other.accounts, self.amount + other.amount)

    @property
    def accounts_wan(self) -> Decimal:
        return to_wan(self.accounts)

    @property
    def amount_wan(self) -> Decimal:
        return to_wan(self.amount)

    @property
    def amount_yi(self) -> Decimal:
        return to_yi(self.amount)


def category_column(category: str) -> str:
    """The dashboard's column of an account category (residential and agricultural together)."""
    return OTHER if category in OTHER_CATEGORIES else category
