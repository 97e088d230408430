"""The work queues of the chain: per level, the items waiting there (programme.md §3).

Report level 1 is the clerk's drafts, report level 2 the district reviewer's ``pending_district``,
approval levels 1–3 the city roles' ``pending_city`` / ``pending_head`` / ``pending_leader``.
Clerks and district reviewers see their own district only (``organisation.scoping``). Every row is
annotated with its age in the level (from ``state_changed_at``) and whether it is overdue against
``settings.PORTAL_LEVEL_LIMIT_DAYS[level]``; the querysets join what the queue tables show, so a
page costs one query whatever its size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import BooleanField, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.fields import DateTimeField
from django.utils import timezone

from organisation.scoping import scope_to_user

from .chain import LEVEL_OF_STATE, ROLE_OF_LEVEL, Level, State
from .models import Application, EligibilityList

STATE_OF_LEVEL: dict[str, str] = {level: state for state, level in LEVEL_OF_STATE.items()}
QUEUE_LEVELS: tuple[str, ...] = (
    Level.REPORT_1,
    Level.REPORT_2,
    Level.APPROVAL_1,
    Level.APPROVAL_2,
    Level.APPROVAL_3,
)


@dataclass(frozen=True)
class Queue:
    """One level's queue: the state its items are in and the role that works it."""

    level: str

    @property
    def state(self) -> str:
        return STATE_OF_LEVEL[self.level]

    @property
    def role(self) -> str:
        return ROLE_OF_LEVEL[self.level]

    @property
    def label(self):
        return Level(self.level).label

    @property
    def state_label(self):
        return State(self.state).label

    @property
    def limit_days(self) -> int:
        return level_limit_days(self.level)

    @property
    def forward_action(self) -> str:
        """What moves an item on from this level: submit a draft, approve anything pending."""
        return "submit" if self.level == Level.REPORT_1 else "approve"


def level_limit_days(level: str) -> int:
    """Days an item may wait at ``level`` before it is overdue (a setting: programme convention)."""
    return int(settings.PORTAL_LEVEL_LIMIT_DAYS[level])


def queue_get(level: str) -> Queue | None:
    return Queue(level) if level in QUEUE_LEVELS else None


def queues_of(user) -> list[Queue]:
    """The queues whose level's role ``user`` holds, in chain order."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return [Queue(level) for level in QUEUE_LEVELS if user.has_role(ROLE_OF_LEVEL[level])]


def _aged(queryset: QuerySet, *, level: str, now: dt.datetime) -> QuerySet:
    """``age`` (a timedelta) in the level and ``overdue`` against the level's limit, oldest first."""
    cutoff = now - dt.timedelta(days=level_limit_days(level))
    return queryset.annotate(
        age=ExpressionWrapper(
            Value(now, output_field=DateTimeField()) - F("state_changed_at"), output_field=DurationField()
        ),
        overdue=ExpressionWrapper(Q(state_changed_at__lt=cutoff), output_field=BooleanField()),
    ).order_by("state_changed_at", "id")


def queue_applications(*, level: str, user, now: dt.datetime | None = None) -> QuerySet[Application]:
    """Applications waiting at ``level`` that ``user`` may see, with account and district joined."""
    now = now or timezone.now()
    queryset = Application.objects.filter(state=STATE_OF_LEVEL[level]).select_related("account", "district")
    return scope_to_user(_aged(queryset, level=level, now=now), user)


def queue_lists(*, level: str, user, now: dt.datetime | None = None) -> QuerySet[EligibilityList]:
    """District eligibility lists waiting at ``level`` that ``user`` may see, with policy and district."""
    now = now or timezone.now()
    queryset = EligibilityList.objects.filter(state=STATE_OF_LEVEL[level]).select_related("policy", "district")
    return scope_to_user(_aged(queryset, level=level, now=now), user)


def filter_min_age(queryset: QuerySet, days: int, *, now: dt.datetime | None = None) -> QuerySet:
    """Items in their level for at least ``days`` whole days."""
    now = now or timezone.now()
    return queryset.filter(state_changed_at__lte=now - dt.timedelta(days=days))


@dataclass(frozen=True)
class QueueCount:
    waiting: int = 0
    overdue: int = 0


def queue_counts(*, user, levels: list[str], now: dt.datetime | None = None) -> dict[str, QueueCount]:
    """Items waiting and overdue per level for ``user`` (applications and lists): two queries in all."""
    now = now or timezone.now()
    states = {STATE_OF_LEVEL[level]: level for level in levels}
    totals: dict[str, list[int]] = {level: [0, 0] for level in levels}
    if not states:
        return {}
    # The overdue cutoff differs per level: one conditional count per level, in the same query.
    overdue_by_state = {
        f"overdue_{state}": Count(
            "id",
            filter=Q(state=state, state_changed_at__lt=now - dt.timedelta(days=level_limit_days(states[state]))),
        )
        for state in states
    }
    for model in (Application, EligibilityList):
        rows = (
            scope_to_user(model.objects.filter(state__in=list(states)), user)
            .values("state")
            .annotate(n=Count("id"), **overdue_by_state)
            .order_by()
        )
        for row in rows:
            level = states[row["state"]]
            totals[level][0] += row["n"]
            totals[level][1] += row[f"overdue_{row['state']}"]
    return {level: QueueCount(*counts) for level, counts in totals.items()}


def age_days(age: dt.timedelta | None) -> int:
    """Whole days in the level (a fresh item is 0)."""
    if age is None:
        return 0
    return max(age.days, 0)
