"""The dashboard's figures (programme.md M11) as summary rows the posting keeps up to date.

The dashboard and ``GET /api/v1/stats/`` never scan the ledger: they read two small tables of
cells that :func:`stats_refresh` maintains from the ledger: after each posting chunk, for the
accounts it changed, in a transaction of its own (``billing.posting.chunk_stats_run``, a task the
chunk queues after it commits), so the figures trail the ledger by the time the workers take to
get there, and :func:`refreshes_pending` says how many chunks are not counted yet.

Three tables (``billing.models``):

* :class:`~billing.models.StatsAccountMonth` — per (account, billing month): the ledger's sum of
  each kind (``discount``, ``basic_charge_credit``, ``demand_relief_credit``,
  ``investment_waiver``, ``late_fee_waiver``), ``two_part`` (basic-charge + demand-relief credits),
  ``total`` (every kind), and, for a protected account (M10) with a bill that month,
  ``protected`` and the bill's ``arrears``. It is the exact, per-account level the cells are
  derived from, and the list behind every figure (the dashboard's drill-down pages read it).
* :class:`~billing.models.StatsMonth` — per (month, district, category, metric): ``accounts``
  (how many account-months count) and ``amount`` (the yuan). Counts add up over districts and
  categories (an account has one of each) but not over months.
* :class:`~billing.models.StatsTotal` — per (district, category, metric) for the whole programme:
  ``accounts`` is the number of *distinct* accounts over all months, which monthly cells cannot
  give by addition; ``amount`` is the sum over all months.

Definitions (M11 where it speaks, our convention where it is silent):

* **Accounts benefited** by a measure in a month: accounts whose ledger sum for the measure's
  kinds in that month is above zero (a discount posted and fully corrected away is no benefit).
  Over the whole programme: accounts that benefited in at least one month.
* **Yuan** of a measure: the ledger's sum of its kinds (corrections included), to the fen.
* **Measures** (metrics): ``discount`` (the 95% settlement, 普惠餐), ``two_part`` (supportive
  two-part tariff: ``basic_charge_credit`` + ``demand_relief_credit``), ``investment_waiver``
  (三零), ``late_fee_waiver``, and ``all`` (any relief: the company's "惠及客户" figure).
* **Protected accounts** (欠费不停电, M10): residential accounts, small and micro enterprises,
  epidemic-prevention units (``billing.rules.is_protected``), and any account with
  an approved arrears-protection application (a ``late_fee_waiver`` grant). ``protected`` counts
  those with a bill in the month; **arrears** of a bill = ``gross − paid`` as billed when positive
  (``gross`` = energy + basic + power factor + late fee; relief in the ledger is not deducted:
  credits offset later bills, M8); ``in_arrears`` counts protected accounts whose bill that month
  has arrears. Both metrics' ``amount`` is the arrears.

Why every figure equals the ledger to the fen: a cell's amount is a sum of account-month sums,
each the exact sum of that (account, month)'s entries of the kinds (rounded to the fen only to
shed SQLite's binary floating point; on PostgreSQL the sums are exact numerics). The
``StatsMonth``/``StatsTotal`` cells are changed only by adding the difference between the
account-month rows of the refreshed accounts after and before the refresh (``INSERT … ON
CONFLICT DO UPDATE SET x = x + excluded.x``), under locks on those accounts (the refresh takes
the same ``FOR UPDATE`` locks as a posting), so two refreshes never compute a difference over the
same account at once, a refresh never runs beside a posting of its accounts, and concurrent
increments of a cell do not lose each other. The difference is taken against the ledger as it is
when the refresh runs, so a refresh that runs late, twice, or after later postings of the same
accounts leaves the same cells. ``refresh_stats`` (a full rebuild) takes table locks
that exclude chunks while it runs.

Units (M11): 万户 = count / 10,000 and 万元 = yuan / 10,000, 亿元 = yuan / 10⁸, each to 2 decimals
ROUND_HALF_UP (``billing.engine.to_wan`` / ``to_yi``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum

from . import rules
from .models import (
    Account,
    Bill,
    Grant,
    GrantKind,
    LedgerEntry,
    LedgerKind,
    PostingChunk,
    StatsAccountMonth,
    StatsMetric,
    StatsMonth,
    StatsTotal,
)

ZERO = Decimal("0.00")
# Account ids per statement when refreshing a list of ids (SQLite's parameter limit is far above).
ID_BATCH = 1000
# Level-2 cells per INSERT statement.
CELL_BATCH = 500

# The ledger kinds as account-month columns (the column is named after the kind).
KIND_COLUMNS: tuple[str, ...] = (
    LedgerKind.DISCOUNT,
    LedgerKind.BASIC_CHARGE_CREDIT,
    LedgerKind.DEMAND_RELIEF_CREDIT,
    LedgerKind.INVESTMENT_WAIVER,
    LedgerKind.LATE_FEE_WAIVER,
)


@dataclass(frozen=True)
class MetricRule:
    """How a metric is read from account-month rows: the column summed, the rows counted."""

    column: str
    counted: Q


METRIC_RULES: dict[str, MetricRule] = {
    **{kind: MetricRule(column=str(kind), counted=Q(**{f"{kind}__gt": 0})) for kind in KIND_COLUMNS},
    StatsMetric.TWO_PART: MetricRule(column="two_part", counted=Q(two_part__gt=0)),
    StatsMetric.ALL: MetricRule(column="total", counted=Q(total__gt=0)),
    StatsMetric.PROTECTED: MetricRule(column="arrears", counted=Q(protected=True)),
    StatsMetric.IN_ARREARS: MetricRule(column="arrears", counted=Q(protected=True, arrears__gt=0)),
}
METRICS: tuple[str, ...] = tuple(METRIC_RULES)

# The ledger kinds each metric sums (for tests and the ledger list behind a figure).
METRIC_KINDS: dict[str, tuple[str, ...]] = {
    **{str(kind): (str(kind),) for kind in KIND_COLUMNS},
    StatsMetric.TWO_PART: (LedgerKind.BASIC_CHARGE_CREDIT, LedgerKind.DEMAND_RELIEF_CREDIT),
    StatsMetric.ALL: tuple(str(k) for k in KIND_COLUMNS),
    StatsMetric.PROTECTED: (),
    StatsMetric.IN_ARREARS: (),
}


def protected_q() -> Q:
    """programme.md M10 as a condition on accounts (``billing.rules.protected_q``), plus an approved
    arrears-protection application (a late-fee-waiver grant)."""
    return rules.protected_q() | Q(grants__kind=GrantKind.LATE_FEE_WAIVER)


# --- refresh ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    account_months: int
    cells_changed: int


def stats_refresh(
    *,
    account_ids: Iterable[int] | None = None,
    account_from: int | None = None,
    account_to: int | None = None,
) -> RefreshResult:
    """Recompute the summary rows of some accounts from the ledger and bills; everything if none given.

    ``account_from``/``account_to`` (inclusive ids, a posting chunk's range) or ``account_ids``.
    Set-based (a fixed number of statements per call, whatever the number of accounts), on SQLite
    and PostgreSQL. Run it holding those accounts' locks (``billing.posting.chunk_stats_run``
    does), so no posting of them runs meanwhile.
    """
    if account_ids is None and account_from is None and account_to is None:
        return _refresh_all()
    if account_ids is not None:
        ids = sorted(set(account_ids))
        months = cells = 0
        for i in range(0, len(ids), ID_BATCH):
            batch = ids[i : i + ID_BATCH]
            result = _refresh_some(_Scope(ids=tuple(batch)))
            months += result.account_months
            cells += result.cells_changed
        return RefreshResult(months, cells)
    if account_from is None or account_to is None:
        raise ValueError("give both account_from and account_to")
    return _refresh_some(_Scope(low=account_from, high=account_to))


@dataclass(frozen=True)
class _Scope:
    """Which accounts a refresh concerns: an id range or a list of ids."""

    low: int | None = None
    high: int | None = None
    ids: tuple[int, ...] = ()

    def q(self, field: str = "account_id") -> Q:
        if self.ids:
            return Q(**{f"{field}__in": self.ids})
        return Q(**{f"{field}__gte": self.low, f"{field}__lte": self.high})

    def sql(self, column: str) -> tuple[str, list]:
        if self.ids:
            return f"{column} IN ({', '.join(['%s'] * len(self.ids))})", list(self.ids)
        return f"{column} BETWEEN %s AND %s", [self.low, self.high]


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _lock(mode: str) -> None:
    """PostgreSQL: a chunk's refresh (ROW EXCLUSIVE) and a full rebuild (EXCLUSIVE) exclude each other.

    SQLite serialises every writer anyway.
    """
    if connection.vendor == "postgresql":
        tables = ", ".join(_table(m) for m in (StatsAccountMonth, StatsMonth, StatsTotal))
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN {mode} MODE")


def _refresh_some(scope: _Scope) -> RefreshResult:
    with transaction.atomic():
        _lock("ROW EXCLUSIVE")
        before_months, before_totals = _aggregate(scope)
        StatsAccountMonth.objects.filter(scope.q()).delete()
        written = _insert_account_months(scope)
        after_months, after_totals = _aggregate(scope)
        _constraints_now()
        changed = _add_cells(StatsMonth, ("period", "district_id", "category", "metric"), before_months, after_months)
        changed += _add_cells(StatsTotal, ("district_id", "category", "metric"), before_totals, after_totals)
    return RefreshResult(written, changed)


def _constraints_now() -> None:
    """PostgreSQL: run the transaction's deferred constraint checks before the cells are updated.

    The cells are few and shared: every posting chunk adds to the same (month, district, category)
    rows and holds their locks until it commits. Left to the commit, a chunk's foreign-key checks
    (≈ 0.2 s for 22,000 ledger entries) would run while it holds them, and the other chunks would
    wait; checked first, the cells are held only for the last few statements.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _refresh_all() -> RefreshResult:
    with transaction.atomic():
        _lock("EXCLUSIVE")
        StatsMonth.objects.all().delete()
        StatsTotal.objects.all().delete()
        StatsAccountMonth.objects.all().delete()
        written = _insert_account_months(None)
        months, totals = _aggregate(None)
        StatsMonth.objects.bulk_create(
            [
                StatsMonth(period=p, district_id=d, category=c, metric=m, accounts=n, amount=a)
                for (p, d, c, m), (n, a) in sorted(months.items())
                if n or a
            ],
            batch_size=2000,
        )
        StatsTotal.objects.bulk_create(
            [
                StatsTotal(district_id=d, category=c, metric=m, accounts=n, amount=a)
                for (d, c, m), (n, a) in sorted(totals.items())
                if n or a
            ],
            batch_size=2000,
        )
    return RefreshResult(written, len(months) + len(totals))


def _gross(alias: str) -> str:
    return f"({alias}.energy_charge + {alias}.basic_charge + {alias}.power_factor_charge + {alias}.late_fee)"


def _insert_account_months(scope: _Scope | None) -> int:
    """One ``INSERT … SELECT``: the ledger's sums per (account, month, kind) and protected accounts' bills."""
    ledger_where, ledger_params = scope.sql("e.account_id") if scope else ("1 = 1", [])
    bill_where, bill_params = scope.sql("b.account_id") if scope else ("1 = 1", [])
    # The same scope on the accounts joined at the end: the planner cannot carry it through the
    # UNION, and without it would read the accounts' index from the first id (docs/benchmarks.md).
    account_where, account_params = scope.sql("a.id") if scope else ("1 = 1", [])
    kind_cases = ",\n".join(f"CASE WHEN e.kind = %s THEN e.amount ELSE 0 END AS {kind}" for kind in KIND_COLUMNS)
    zeros = ", ".join(f"0 AS {kind}" for kind in KIND_COLUMNS)
    sums = ", ".join(f"ROUND(SUM(s.{kind}), 2)" for kind in KIND_COLUMNS)
    nonzero = " OR ".join(f"SUM(s.{kind}) <> 0" for kind in KIND_COLUMNS)
    gross = _gross("b")
    protected, protected_params = rules.protected_sql("p")
    sql = f"""
        INSERT INTO {_table(StatsAccountMonth)}
            (account_id, period, district_id, category, {", ".join(KIND_COLUMNS)},
             two_part, total, protected, arrears)
        SELECT s.account_id, s.period, a.district_id, a.category, {sums},
               ROUND(SUM(s.basic_charge_credit + s.demand_relief_credit), 2),
               ROUND(SUM({" + ".join(f"s.{kind}" for kind in KIND_COLUMNS)}), 2),
               MAX(s.has_bill) = 1,
               ROUND(SUM(s.arrears), 2)
        FROM (
            SELECT e.account_id, e.period, {kind_cases}, 0 AS has_bill, 0 AS arrears
            FROM {_table(LedgerEntry)} e
            WHERE {ledger_where}
            UNION ALL
            SELECT b.account_id, b.period, {zeros}, 1 AS has_bill,
                   CASE WHEN {gross} > b.paid THEN {gross} - b.paid ELSE 0 END AS arrears
            FROM {_table(Bill)} b
            JOIN {_table(Account)} p ON p.id = b.account_id
            WHERE {bill_where}
              AND ({protected}
                   OR EXISTS (SELECT 1 FROM {_table(Grant)} g WHERE g.account_id = p.id AND g.kind = %s))
        ) s
        JOIN {_table(Account)} a ON a.id = s.account_id
        WHERE {account_where}
        GROUP BY s.account_id, s.period, a.district_id, a.category
        HAVING {nonzero} OR MAX(s.has_bill) = 1
    """  # noqa: S608 - table and column names are the models' own; every value is a parameter
    params = [
        *[str(kind) for kind in KIND_COLUMNS],
        *ledger_params,
        *bill_params,
        *protected_params,
        GrantKind.LATE_FEE_WAIVER.value,
        *account_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _aggregate(scope: _Scope | None) -> tuple[dict, dict]:
    """Cells of the account-month rows in ``scope`` (all if None): per month and for the whole programme.

    Two queries. Returns ``{(period, district_id, category, metric): (accounts, amount)}`` and
    ``{(district_id, category, metric): (distinct accounts, amount)}``.
    """
    rows = StatsAccountMonth.objects.all()
    if scope is not None:
        rows = rows.filter(scope.q())
    month_aggs, total_aggs = {}, {}
    for metric, rule in METRIC_RULES.items():
        month_aggs[f"{metric}__n"] = Count("pk", filter=rule.counted)
        month_aggs[f"{metric}__a"] = Sum(rule.column)
        total_aggs[f"{metric}__n"] = Count("account_id", filter=rule.counted, distinct=True)
        total_aggs[f"{metric}__a"] = Sum(rule.column)
    months: dict[tuple, tuple[int, Decimal]] = {}
    for row in rows.values("period", "district_id", "category").annotate(**month_aggs).order_by():
        for metric in METRICS:
            months[(row["period"], row["district_id"], row["category"], metric)] = (
                row[f"{metric}__n"],
                row[f"{metric}__a"] or ZERO,
            )
    totals: dict[tuple, tuple[int, Decimal]] = {}
    for row in rows.values("district_id", "category").annotate(**total_aggs).order_by():
        for metric in METRICS:
            totals[(row["district_id"], row["category"], metric)] = (row[f"{metric}__n"], row[f"{metric}__a"] or ZERO)
    return months, totals


def _add_cells(model, key_fields: tuple[str, ...], before: dict, after: dict) -> int:
    """Add ``after − before`` to the cells (created when missing), in key order (no deadlock between chunks)."""
    deltas = []
    for key in sorted(set(before) | set(after)):
        n0, a0 = before.get(key, (0, ZERO))
        n1, a1 = after.get(key, (0, ZERO))
        if n1 != n0 or a1 != a0:
            deltas.append((*key, n1 - n0, a1 - a0))
    if not deltas:
        return 0
    table = _table(model)
    columns = [model._meta.get_field(f.removesuffix("_id")).column for f in key_fields]
    quoted = [connection.ops.quote_name(c) for c in columns]
    placeholders = "(" + ", ".join(["%s"] * (len(columns) + 2)) + ")"
    with connection.cursor() as cursor:
        for i in range(0, len(deltas), CELL_BATCH):
            batch = deltas[i : i + CELL_BATCH]
            sql = f"""
                INSERT INTO {table} ({", ".join(quoted)}, accounts, amount)
                VALUES {", ".join([placeholders] * len(batch))}
                ON CONFLICT ({", ".join(quoted)}) DO UPDATE SET
                    accounts = {table}.accounts + excluded.accounts,
                    amount = ROUND({table}.amount + excluded.amount, 2)
            """  # noqa: S608 - names are the model's own; every value is a parameter
            params = [value for row in batch for value in row]
            cursor.execute(sql, params)
    return len(deltas)


# --- reads -----------------------------------------------------------------------------------------


def refreshes_pending() -> int:
    """Posted chunks whose summary refresh has not run yet (the dashboard says its figures trail).

    One query on the partial index ``chunk_stats_pending``.
    """
    return PostingChunk.objects.filter(stats_from__isnull=False, stats_done_at__isnull=True).count()


@dataclass(frozen=True)
class Cell:
    """One summary cell as read: ``period`` is None for the whole programme's cells."""

    period: dt.date | None
    district_id: int
    category: str
    metric: str
    accounts: int
    amount: Decimal


def stats_cells(*, district_id: int | None = None, category: str | None = None) -> list[Cell]:
    """Every monthly cell (all months, districts, categories, metrics), optionally narrowed: one query."""
    queryset = StatsMonth.objects.all()
    if district_id is not None:
        queryset = queryset.filter(district_id=district_id)
    if category:
        queryset = queryset.filter(category=category)
    return [
        Cell(*row)
        for row in queryset.order_by("period", "district_id", "category", "metric").values_list(
            "period", "district_id", "category", "metric", "accounts", "amount"
        )
    ]


def stats_total_cells(*, district_id: int | None = None, category: str | None = None) -> list[Cell]:
    """Every whole-programme cell, optionally narrowed: one query."""
    queryset = StatsTotal.objects.all()
    if district_id is not None:
        queryset = queryset.filter(district_id=district_id)
    if category:
        queryset = queryset.filter(category=category)
    return [
        Cell(None, *row)
        for row in queryset.order_by("district_id", "category", "metric").values_list(
            "district_id", "category", "metric", "accounts", "amount"
        )
    ]


def _account_months(
    *, period: dt.date | None, district_id: int | None, categories: Iterable[str] | None
) -> QuerySet[StatsAccountMonth]:
    queryset = StatsAccountMonth.objects.all()
    if period is not None:
        queryset = queryset.filter(period=period)
    if district_id is not None:
        queryset = queryset.filter(district_id=district_id)
    if categories:
        queryset = queryset.filter(category__in=list(categories))
    return queryset


def stats_accounts(
    *,
    metric: str,
    period: dt.date | None = None,
    district_id: int | None = None,
    categories: Iterable[str] | None = None,
) -> QuerySet:
    """The accounts behind a figure: per account counted, its months counted and their amount.

    Rows are dicts ``account_id, account__account_no, account__name, district_id, category, months,
    amount``, largest amount first. Their number is the figure's ``accounts``; their amounts add up
    to the figure's yuan less :func:`stats_accounts_summary`'s ``amount_not_counted``.
    """
    rule = METRIC_RULES[metric]
    queryset = _account_months(period=period, district_id=district_id, categories=categories).filter(rule.counted)
    return (
        queryset.values("account_id", "account__account_no", "account__name", "district_id", "category")
        .annotate(months=Count("pk"), amount=Sum(rule.column))
        .order_by("-amount", "account__account_no")
    )


def stats_accounts_summary(
    *,
    metric: str,
    period: dt.date | None = None,
    district_id: int | None = None,
    categories: Iterable[str] | None = None,
) -> dict:
    """What the list behind a figure adds up to (one query): ``accounts`` (distinct, counted), ``amount``
    (the figure's yuan), ``amount_counted`` (on the listed accounts' counted months) and
    ``amount_not_counted`` (months whose net is not above zero: normally 0.00)."""
    rule = METRIC_RULES[metric]
    row = _account_months(period=period, district_id=district_id, categories=categories).aggregate(
        accounts=Count("account_id", filter=rule.counted, distinct=True),
        amount=Sum(rule.column),
        amount_counted=Sum(rule.column, filter=rule.counted),
    )
    amount = row["amount"] or ZERO
    counted = row["amount_counted"] or ZERO
    return {
        "accounts": row["accounts"],
        "amount": amount,
        "amount_counted": counted,
        "amount_not_counted": amount - counted,
    }


def stats_cells_from_ledger(*, month: bool = True) -> dict[tuple, tuple[int, Decimal]]:
    """The cells recomputed straight from the ledger and the bills, without the summary tables.

    Slow (a scan of both); for ``refresh_stats --check`` and the tests, never for a page.
    """
    per_account: dict[tuple[int, dt.date], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in LedgerEntry.objects.values("account_id", "period", "kind").annotate(total=Sum("amount")).order_by():
        per_account[(row["account_id"], row["period"])][row["kind"]] += row["total"]
    accounts = {a.pk: a for a in Account.objects.only("id", "district_id", "category")}
    protected_ids = set(Account.objects.filter(protected_q()).values_list("id", flat=True))
    arrears: dict[tuple[int, dt.date], Decimal] = {}
    for bill in Bill.objects.filter(account_id__in=protected_ids).only(
        "account_id", "period", "energy_charge", "basic_charge", "power_factor_charge", "late_fee", "paid"
    ):
        owed = bill.gross - bill.paid
        arrears[(bill.account_id, bill.period)] = owed if owed > 0 else ZERO
    cells: dict[tuple, list] = defaultdict(lambda: [set(), ZERO])
    for key in set(per_account) | set(arrears):
        account_id, period = key
        account = accounts[account_id]
        kinds = per_account.get(key, {})
        values = {
            **{str(kind): kinds.get(str(kind), ZERO) for kind in KIND_COLUMNS},
            StatsMetric.TWO_PART: kinds.get(LedgerKind.BASIC_CHARGE_CREDIT, ZERO)
            + kinds.get(LedgerKind.DEMAND_RELIEF_CREDIT, ZERO),
            StatsMetric.ALL: sum(kinds.values(), ZERO),
        }
        for metric in METRICS:
            if metric in (StatsMetric.PROTECTED, StatsMetric.IN_ARREARS):
                if key not in arrears:
                    continue
                amount = arrears[key]
                counted = metric == StatsMetric.PROTECTED or amount > 0
            else:
                amount = values[metric]
                counted = amount > 0
            cell_key = (
                (period, account.district_id, account.category, metric)
                if month
                else (account.district_id, account.category, metric)
            )
            cell = cells[cell_key]
            if counted:
                cell[0].add(account_id)
            cell[1] += amount
    return {key: (len(ids), amount) for key, (ids, amount) in cells.items() if ids or amount}


def stats_check() -> list[str]:
    """Every cell whose stored figures differ from the ledger's (empty when all agree)."""
    problems = []
    for model, month in ((StatsMonth, True), (StatsTotal, False)):
        expected = stats_cells_from_ledger(month=month)
        fields = ("period", "district_id", "category", "metric") if month else ("district_id", "category", "metric")
        stored = {
            tuple(row[:-2]): (row[-2], row[-1])
            for row in model.objects.values_list(*fields, "accounts", "amount")
            if row[-2] or row[-1]
        }
        for key in sorted(set(expected) | set(stored), key=str):
            want, have = expected.get(key, (0, ZERO)), stored.get(key, (0, ZERO))
            if want != have:
                problems.append(f"{model.__name__} {key}: stored {have}, ledger {want}")
    return problems
