"""The programme's rules read from the ``Policy`` rows: one source for every caller (programme.md M1, M7, M10).

Every decision "is this account eligible for the 95%", "is this month or date in the policy's
window", "how early may a seal date be", "which normal rule does the relief waive" and "is this
account protected from disconnection" is made here, never from a constant elsewhere. Each rule is
offered in the three forms its callers need:

* a **Python predicate** for one account (:meth:`PolicyRules.admits`, :meth:`PolicyRules.refusal`,
  :meth:`PolicyRules.in_window`, :func:`is_protected`);
* an **ORM condition**: with the row in hand, its values as parameters (:meth:`PolicyRules.admits_q`,
  :func:`protected_q`); without it, :func:`admits_q_in_db` reads the row inside the same statement
  (two uncorrelated sub-selects, evaluated once per statement, not per row), so that a page pinned
  to a number of queries needs none more;
* an **SQL fragment** for the set-based paths (:func:`admits_sql` on a joined policy row,
  :func:`protected_sql` with its parameters); values are never formatted into the SQL.

Loading (:func:`all_policy_rules`, :func:`policy_rules`): one query for every policy. Inside a
request or a Celery task the rows are read once and kept until it ends (the scope is opened by
``request_started``/``task_prerun`` and closed by ``request_finished``/``task_postrun``; saving or
deleting a policy empties it); outside any scope every call reads them afresh, so a shell, a
command or a test never sees an old row. A caller that already holds the row passes it
(``PolicyRules.of(policy)``).

``Account.high_energy`` and ``Industry.high_energy`` (``billing.industry``) stay as facts about the
industry, for display and filtering; eligibility reads ``Policy.excluded_divisions`` only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Expression, F, Q
from django.db.models.functions import Substr
from django.db.models.lookups import In

from . import engine
from .models import Category, EnterpriseSize, Policy, PriorityRole

# The shipped policies (billing/policies.py) the code refers to by their code.
DISCOUNT_POLICY = "discount-2020"
TWO_PART_POLICY = "two-part-relief-2020"

# Why M1 does not admit an account (PolicyRules.refusal).
REFUSED_CATEGORY = "category"
REFUSED_DIVISION = "division"


def _month(label: str) -> dt.date:
    year, month = (int(x) for x in label.split("-"))
    return dt.date(year, month, 1)


def _month_end(first: dt.date) -> dt.date:
    following = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _months(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    while first <= last:
        yield first
        first = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)


@dataclass(frozen=True)
class PolicyRules:
    """One policy's terms as its rules read them (built from the row by :meth:`of`)."""

    code: str
    name: str
    kind: str
    rate: Decimal | None
    # Each window as (its first day, its last day): ["2020-02", "2020-06"] is 2020-02-01 … 2020-06-30.
    windows: tuple[tuple[dt.date, dt.date], ...]
    # Every billing month (first day) inside the windows.
    periods: frozenset[dt.date]
    categories: frozenset[str]
    excluded_divisions: frozenset[str]
    # The lines the rate applies to, of those the engine can discount.
    components: frozenset[str]
    earliest_seal_date: dt.date | None
    waived_rules: frozenset[str]

    @classmethod
    def of(cls, policy: Policy) -> PolicyRules:
        windows = tuple((_month(start), _month_end(_month(end))) for start, end in policy.windows)
        return cls(
            code=policy.code,
            name=policy.name,
            kind=policy.kind,
            rate=policy.rate,
            windows=windows,
            periods=frozenset(m for first, last in windows for m in _months(first, last)),
            categories=frozenset(policy.eligible_categories),
            excluded_divisions=frozenset(policy.excluded_divisions),
            components=frozenset(c for c in policy.components if c in engine.DISCOUNTABLE),
            earliest_seal_date=policy.earliest_seal_date,
            waived_rules=frozenset(policy.waived_rules),
        )

    # --- M1: who the policy admits ----------------------------------------------------------------

    def refusal(self, account) -> str | None:
        """Why M1 does not admit ``account``: :data:`REFUSED_CATEGORY`, :data:`REFUSED_DIVISION`, or None.

        By the account's tariff category and the first two digits of its GB/T 4754-2017 code, never
        by the industry's name.
        """
        if account.category not in self.categories:
            return REFUSED_CATEGORY
        if (account.industry_code or "")[:2] in self.excluded_divisions:
            return REFUSED_DIVISION
        return None

    def admits(self, account) -> bool:
        """M1: the category is in scope and the industry division is not excluded."""
        return self.refusal(account) is None

    def admits_q(self, prefix: str = "") -> Q:
        """M1 as a condition on accounts (``prefix``: the path to the account, e.g. ``"account__"``)."""
        condition = Q(**{f"{prefix}category__in": sorted(self.categories)})
        if self.excluded_divisions:
            condition &= ~Q(In(Substr(F(f"{prefix}industry_code"), 1, 2), sorted(self.excluded_divisions)))
        return condition

    # --- windows, seal date, waivers (M2, M7) ----------------------------------------------------

    @property
    def months(self) -> list[dt.date]:
        """The billing months of the windows, in order."""
        return sorted(self.periods)

    @property
    def start(self) -> dt.date | None:
        """The first day of the earliest window (None: no window)."""
        return min((first for first, _ in self.windows), default=None)

    @property
    def end(self) -> dt.date | None:
        """The last day of the latest window (None: no window)."""
        return max((last for _, last in self.windows), default=None)

    def in_window(self, day: dt.date | None) -> bool:
        """Whether ``day`` lies in one of the windows; for a billing month give its first day."""
        return day is not None and any(first <= day <= last for first, last in self.windows)

    def waives(self, rule: str) -> bool:
        """Whether the policy waives the normal rule ``rule`` (a key of ``PORTAL_CAPACITY_RULES``)."""
        return rule in self.waived_rules


# --- loading -----------------------------------------------------------------------------------------

# The rows read in the current request or task (None: no scope open, read every time).
_scope: ContextVar[dict | None] = ContextVar("billing_policy_rules", default=None)


def all_policy_rules() -> dict[str, PolicyRules]:
    """Every policy's rules by code: one query, none more inside a request or task that read them."""
    scope = _scope.get()
    if scope is not None and "all" in scope:
        return scope["all"]
    rules = {policy.code: PolicyRules.of(policy) for policy in Policy.objects.all()}
    if scope is not None:
        scope["all"] = rules
    return rules


def policy_rules(code: str) -> PolicyRules:
    """The rules of policy ``code`` (``Policy.DoesNotExist`` when there is no such row)."""
    try:
        return all_policy_rules()[code]
    except KeyError:
        raise Policy.DoesNotExist(f"no policy {code!r}") from None


def discount_rules() -> PolicyRules:
    """The 95% policy's rules (``discount-2020``, programme.md M1–M3)."""
    return policy_rules(DISCOUNT_POLICY)


def two_part_rules() -> PolicyRules:
    """The supportive two-part tariff's rules (``two-part-relief-2020``, programme.md M7)."""
    return policy_rules(TWO_PART_POLICY)


@contextmanager
def rules_cached() -> Iterator[None]:
    """Read the policy rows at most once inside the block (what a request or task gets by itself)."""
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def scope_open(**kwargs) -> None:
    _scope.set({})


def scope_close(**kwargs) -> None:
    _scope.set(None)


def scope_forget(**kwargs) -> None:
    """A policy was saved or deleted: the rows read so far are stale."""
    scope = _scope.get()
    if scope is not None:
        scope.clear()


# --- M1 in the database, without the row in hand --------------------------------------------------


class _PolicyList(Expression):
    """The elements of one JSON list column of policy ``code``, as an uncorrelated sub-select."""

    def __init__(self, code: str, field: str):
        super().__init__(output_field=CharField())
        self.code = code
        self.column_field = field

    def as_sql(self, compiler, connection):
        quote = connection.ops.quote_name
        table = quote(Policy._meta.db_table)
        column = quote(Policy._meta.get_field(self.column_field).column)
        key = quote(Policy._meta.get_field("code").column)
        if connection.vendor == "postgresql":
            sql = f"(SELECT jsonb_array_elements_text(rp.{column}) FROM {table} rp WHERE rp.{key} = %s)"  # noqa: S608 - names from the model, the code a parameter
        else:
            sql = f"(SELECT rj.value FROM {table} rp, json_each(rp.{column}) rj WHERE rp.{key} = %s)"  # noqa: S608 - as above
        return sql, (self.code,)


def admits_q_in_db(code: str = DISCOUNT_POLICY, prefix: str = "") -> Q:
    """M1 of policy ``code`` as a condition that reads the policy row in the same statement.

    For pages pinned to a number of queries (the accounts list, an account, the API's account):
    ``category IN (the row's categories) AND NOT left(industry_code, 2) IN (the row's divisions)``.
    """
    return Q(**{f"{prefix}category__in": _PolicyList(code, "eligible_categories")}) & ~Q(
        In(Substr(F(f"{prefix}industry_code"), 1, 2), _PolicyList(code, "excluded_divisions"))
    )


# --- M1 as SQL for the set-based posting path --------------------------------------------------------

_ALIAS = re.compile(r"^[a-z_][a-z0-9_]*$")


def _alias(name: str) -> str:
    if not _ALIAS.match(name):
        raise ValueError(f"not an SQL alias: {name!r}")
    return name


def admits_sql(*, policy: str, account: str) -> str:
    """M1 as a PostgreSQL boolean on a joined policy row ``policy`` and account row ``account`` (aliases).

    Two ``jsonb_exists`` on the row already joined: no parameter, nothing per row but the two tests.
    """
    p, a = _alias(policy), _alias(account)
    categories = Policy._meta.get_field("eligible_categories").column
    divisions = Policy._meta.get_field("excluded_divisions").column
    return (
        f"(jsonb_exists({p}.{categories}, {a}.category)"
        f" AND NOT jsonb_exists({p}.{divisions}, left({a}.industry_code, 2)))"
    )


# --- M10: protection from disconnection ---------------------------------------------------------------

# Protected by class (欠费不停电, programme.md M10): residential accounts, small and micro enterprises,
# and epidemic-prevention units — designated hospitals, community prevention points and makers of
# protective supplies (every priority role of the 三零 measure). During the window no disconnection
# order may be created for them and no late fee charged; whether a date falls in the window is the
# caller's question (``discount_rules().in_window(day)``, Deviation 2 of M10).
PROTECTED_CATEGORIES = frozenset({Category.RESIDENTIAL})
PROTECTED_ENTERPRISE_SIZES = frozenset({EnterpriseSize.SMALL, EnterpriseSize.MICRO})
PREVENTION_UNIT_ROLES = frozenset({PriorityRole.HOSPITAL, PriorityRole.PREVENTION_POINT, PriorityRole.SUPPLIES_MAKER})


def is_protected(account) -> bool:
    """Whether the account is protected from disconnection by its class (M10)."""
    return (
        account.category in PROTECTED_CATEGORIES
        or account.enterprise_size in PROTECTED_ENTERPRISE_SIZES
        or account.priority_role in PREVENTION_UNIT_ROLES
    )


def protected_q(prefix: str = "") -> Q:
    """M10's classes as a condition on accounts (``prefix``: the path to the account)."""
    return (
        Q(**{f"{prefix}category__in": sorted(PROTECTED_CATEGORIES)})
        | Q(**{f"{prefix}enterprise_size__in": sorted(PROTECTED_ENTERPRISE_SIZES)})
        | Q(**{f"{prefix}priority_role__in": sorted(PREVENTION_UNIT_ROLES)})
    )


def protected_sql(account: str) -> tuple[str, list[str]]:
    """M10's classes as an SQL boolean on the account row ``account`` (an alias), with its parameters."""
    a = _alias(account)
    groups = (
        ("category", sorted(PROTECTED_CATEGORIES)),
        ("enterprise_size", sorted(PROTECTED_ENTERPRISE_SIZES)),
        ("priority_role", sorted(PREVENTION_UNIT_ROLES)),
    )
    sql = " OR ".join(f"{a}.{column} IN ({', '.join(['%s'] * len(values))})" for column, values in groups)
    return f"({sql})", [str(v) for _, values in groups for v in values]


# --- the scope of a request or task ----------------------------------------------------------------


def connect_signals() -> None:
    """Open the scope per request and per task; forget the rows when a policy changes (BillingConfig.ready)."""
    from celery.signals import task_postrun, task_prerun
    from django.core.signals import request_finished, request_started
    from django.db.models.signals import post_delete, post_save

    request_started.connect(scope_open, dispatch_uid="billing.rules.request_started")
    request_finished.connect(scope_close, dispatch_uid="billing.rules.request_finished")
    task_prerun.connect(scope_open, dispatch_uid="billing.rules.task_prerun", weak=False)
    task_postrun.connect(scope_close, dispatch_uid="billing.rules.task_postrun", weak=False)
    post_save.connect(scope_forget, sender=Policy, dispatch_uid="billing.rules.policy_saved")
    post_delete.connect(scope_forget, sender=Policy, dispatch_uid="billing.rules.policy_deleted")
