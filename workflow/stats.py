"""Reads of the chain for the managers' dashboard: applications, lists, waiting times, reasons.

Each function is one query (aggregated in the database), narrowed by ``district_id`` (None: every
district) and ``category`` (the account's tariff category; eligibility lists have none, so a
category leaves them out). The portal decides which district a person may see and passes it.

Time at a level (chain health): a decision taken at a level (submit, approve, return, reject)
ends the item's stay there; the stay began with the item's previous decision (whatever its level,
system decisions included) or, for its first one, when the item was created. Withdrawals (always
recorded at report level 1) and system decisions are not stays of a level and are not measured.
The median and 90th percentile are continuous percentiles (linear interpolation, as PostgreSQL's
``percentile_cont``), computed in the database on PostgreSQL and in Python on SQLite.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .chain import LEVEL_OF_STATE, Action, Level, State
from .models import Application, Decision, EligibilityList

# The actions that end a stay at a level (see the module's docstring).
TIMED_ACTIONS = (Action.SUBMIT, Action.APPROVE, Action.RETURN, Action.REJECT)
LEVELS: tuple[str, ...] = (Level.REPORT_1, Level.REPORT_2, Level.APPROVAL_1, Level.APPROVAL_2, Level.APPROVAL_3)
STATE_OF_LEVEL = {level: state for state, level in LEVEL_OF_STATE.items()}
DISCOUNT_POLICY = "discount-2020"


def _limit_days(level: str) -> int:
    return int(settings.PORTAL_LEVEL_LIMIT_DAYS[level])


def _narrow(queryset: QuerySet, *, district_id: int | None, category: str | None, account: str = "account"):
    if district_id is not None:
        queryset = queryset.filter(district_id=district_id)
    if category:
        queryset = queryset.filter(**{f"{account}__category": category})
    return queryset


def _month_range(period: dt.date) -> tuple[dt.date, dt.date]:
    end = dt.date(period.year + (period.month == 12), period.month % 12 + 1, 1)
    return period, end


# --- applications --------------------------------------------------------------------------------


def application_counts(
    *, district_id: int | None = None, category: str | None = None, period: dt.date | None = None
) -> list[dict]:
    """Applications per (kind, state, channel): dicts with ``kind, state, channel, n``. One query.

    ``period``: applications received in that month.
    """
    queryset = _narrow(Application.objects.all(), district_id=district_id, category=category)
    if period is not None:
        start, end = _month_range(period)
        queryset = queryset.filter(received_on__gte=start, received_on__lt=end)
    return list(
        queryset.values("kind", "state", "channel").annotate(n=Count("id")).order_by("kind", "state", "channel")
    )


def applications_behind(
    *,
    district_id: int | None = None,
    category: str | None = None,
    period: dt.date | None = None,
    kind: str | None = None,
    states: list[str] | None = None,
    channel: str | None = None,
    overdue_level: str | None = None,
    decision_action: str | None = None,
    reason_code: str | None = None,
    decided_level: str | None = None,
    now: dt.datetime | None = None,
) -> QuerySet[Application]:
    """The applications behind a dashboard figure, newest first, with account and district joined."""
    queryset = _narrow(
        Application.objects.select_related("account", "district"), district_id=district_id, category=category
    )
    if period is not None:
        start, end = _month_range(period)
        queryset = queryset.filter(received_on__gte=start, received_on__lt=end)
    if kind:
        queryset = queryset.filter(kind=kind)
    if states:
        queryset = queryset.filter(state__in=states)
    if channel:
        queryset = queryset.filter(channel=channel)
    if overdue_level:
        now = now or timezone.now()
        queryset = queryset.filter(
            state=STATE_OF_LEVEL[overdue_level],
            state_changed_at__lt=now - dt.timedelta(days=_limit_days(overdue_level)),
        )
    if decision_action:
        decisions = Decision.objects.filter(application_id__isnull=False, action=decision_action)
        if reason_code is not None:
            decisions = decisions.filter(reason_code=reason_code)
        queryset = queryset.filter(id__in=decisions.values("application_id"))
    if decided_level:
        decided = Decision.objects.filter(application_id__isnull=False, level=decided_level, action__in=TIMED_ACTIONS)
        queryset = queryset.filter(id__in=decided.values("application_id"))
    return queryset.order_by("-id")


# --- eligibility lists ---------------------------------------------------------------------------


def list_forecasts(*, district_id: int | None = None, policy_code: str = DISCOUNT_POLICY) -> list[EligibilityList]:
    """The live (not rejected or withdrawn) eligibility lists of the 95% policy, with their forecasts. One query."""
    queryset = EligibilityList.objects.filter(policy_id=policy_code).exclude(
        state__in=[State.REJECTED, State.WITHDRAWN]
    )
    if district_id is not None:
        queryset = queryset.filter(district_id=district_id)
    return list(
        queryset.select_related("district").only(
            "id",
            "state",
            "district__id",
            "district__name",
            "district__code",
            "district__sort_order",
            "forecast_accounts",
            "forecast_reduction",
            "forecast_billed",
            "forecast_at",
            "policy_id",
        )
    )


def lists_behind(
    *, district_id: int | None = None, states: list[str] | None = None, overdue_level: str | None = None, now=None
) -> QuerySet[EligibilityList]:
    queryset = EligibilityList.objects.select_related("district", "policy")
    if district_id is not None:
        queryset = queryset.filter(district_id=district_id)
    if states:
        queryset = queryset.filter(state__in=states)
    if overdue_level:
        now = now or timezone.now()
        queryset = queryset.filter(
            state=STATE_OF_LEVEL[overdue_level],
            state_changed_at__lt=now - dt.timedelta(days=_limit_days(overdue_level)),
        )
    return queryset.order_by("district__sort_order", "-id")


# --- chain health --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    applications: int = 0
    lists: int = 0
    overdue_applications: int = 0
    overdue_lists: int = 0

    @property
    def total(self) -> int:
        return self.applications + self.lists

    @property
    def overdue(self) -> int:
        return self.overdue_applications + self.overdue_lists


def chain_waiting(
    *, district_id: int | None = None, category: str | None = None, now: dt.datetime | None = None
) -> dict[str, Waiting]:
    """Items waiting at each level now, and how many of them are overdue. Two queries (one without lists)."""
    now = now or timezone.now()
    overdue = {
        f"overdue_{level}": Count(
            "id",
            filter=Q(state=STATE_OF_LEVEL[level], state_changed_at__lt=now - dt.timedelta(days=_limit_days(level))),
        )
        for level in LEVELS
    }
    states = [STATE_OF_LEVEL[level] for level in LEVELS]
    counts: dict[str, dict[str, int]] = {level: defaultdict(int) for level in LEVELS}
    models = [("applications", Application, "account")]
    if not category:
        models.append(("lists", EligibilityList, None))
    for name, model, account in models:
        queryset = model.objects.filter(state__in=states)
        queryset = _narrow(queryset, district_id=district_id, category=category if account else None)
        for row in queryset.values("state").annotate(n=Count("id"), **overdue).order_by():
            level = LEVEL_OF_STATE[row["state"]]
            counts[level][name] += row["n"]
            counts[level][f"overdue_{name}"] += row[f"overdue_{level}"]
    return {level: Waiting(**values) for level, values in counts.items()}


@dataclass(frozen=True)
class LevelTimes:
    """Stays at a level ended by a decision: how many, median and 90th percentile in seconds."""

    decisions: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _stays_sql(*, district_id: int | None, category: str | None) -> tuple[str, list]:
    qn = connection.ops.quote_name
    decision = qn(Decision._meta.db_table)
    application = qn(Application._meta.db_table)
    elist = qn(EligibilityList._meta.db_table)
    account = qn(Application._meta.get_field("account").related_model._meta.db_table)
    where, params = ["1 = 1"], []
    if district_id is not None:
        where.append("COALESCE(ap.district_id, el.district_id) = %s")
        params.append(district_id)
    if category:
        where.append("ac.category = %s")
        params.append(category)
    if district_id is None and not category:
        # No join: the (level, at, arrived_at) index answers alone.
        sql = f"""
            SELECT d.level AS level, d.action AS action, d.at AS at, d.arrived_at AS arrived
            FROM {decision} d
        """  # noqa: S608 - the models' own table names
        return sql, params
    sql = f"""
        SELECT d.level AS level, d.action AS action, d.at AS at, d.arrived_at AS arrived
        FROM {decision} d
        LEFT JOIN {application} ap ON ap.id = d.application_id
        LEFT JOIN {elist} el ON el.id = d.eligibility_list_id
        LEFT JOIN {account} ac ON ac.id = ap.account_id
        WHERE {" AND ".join(where)}
    """  # noqa: S608 - the models' own table names; values are parameters
    return sql, params


def chain_times(*, district_id: int | None = None, category: str | None = None) -> dict[str, LevelTimes]:
    """Median and 90th-percentile stay per level, from the decisions' times. One query."""
    stays, params = _stays_sql(district_id=district_id, category=category)
    actions = [str(a) for a in TIMED_ACTIONS]
    marks = ", ".join(["%s"] * len(actions))
    result: dict[str, LevelTimes] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One row: per level a count and both percentiles from one sort (an array of fractions),
            # each level's aggregates over its own rows (FILTER): no sort of every stay by level, which
            # spilled to disk past ~50,000 decisions. Seconds as float8 (``date_part``), not numeric.
            per_level = ",\n".join(
                "COUNT(*) FILTER (WHERE level = %s), "
                "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE level = %s)"
                for _level in LEVELS
            )
            cursor.execute(
                f"""
                SELECT {per_level}
                FROM (SELECT level, date_part('epoch', at - arrived) AS seconds
                      FROM ({stays}) s0 WHERE action IN ({marks})) s
                """,  # noqa: S608
                [*[level for level in LEVELS for _twice in (1, 2)], *params, *actions],
            )
            row = cursor.fetchone()
            for i, level in enumerate(LEVELS):
                n, (median, p90) = row[2 * i], row[2 * i + 1] or (None, None)
                if n:
                    # Seconds of waiting, not money: float is right here.
                    result[level] = LevelTimes(n, float(median), float(p90))
        else:
            cursor.execute(
                f"""
                SELECT level, (julianday(at) - julianday(arrived)) * 86400.0
                FROM ({stays}) s WHERE action IN ({marks})
                """,  # noqa: S608
                [*params, *actions],
            )
            seconds: dict[str, list[float]] = defaultdict(list)
            for level, value in cursor.fetchall():
                seconds[level].append(max(float(value), 0.0))
            for level, values in seconds.items():
                result[level] = LevelTimes(len(values), percentile_cont(values, 0.5), percentile_cont(values, 0.9))
    return {level: result.get(level, LevelTimes()) for level in LEVELS}


def decision_reasons(*, district_id: int | None = None, category: str | None = None) -> list[dict]:
    """Returns and rejections per (level, action, reason_code): dicts with ``n``. One query.

    Applications and lists alike (lists only without a category). Returns carry a text reason and
    no code (programme.md §3), so their ``reason_code`` is blank.
    """
    queryset = Decision.objects.filter(action__in=[Action.RETURN, Action.REJECT])
    if district_id is not None:
        queryset = queryset.filter(
            Q(application__district_id=district_id) | Q(eligibility_list__district_id=district_id)
        )
    if category:
        queryset = queryset.filter(application__account__category=category)
    # COUNT(*), not COUNT(id): with an index on (level, action, reason_code) this is an index-only scan.
    return list(queryset.values("level", "action", "reason_code").annotate(n=Count("*")).order_by("level", "action"))
