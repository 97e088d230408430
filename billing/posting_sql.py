"""The set-based fast path of posting on PostgreSQL (programme.md M1–M3, M8, M9).

Most accounts of a batch have nothing but the 95% discount: no seal, no demand relief, no late-fee
waiver. For them the engine's recomputation reduces to the discount of the bill's lines as billed,
which PostgreSQL computes exactly as ``billing.engine`` does — ``round(numeric, 2)`` rounds half
away from zero, i.e. ROUND_HALF_UP — so one ``INSERT … SELECT`` per chunk posts every difference:

* target = Σ round(line × rate, 2) over the policy's components (energy, basic charge, power
  factor; never the late fee), only in the policy's windows and only for an account the policy
  admits (M1 again, ``billing.rules.admits_sql`` on the joined policy row: category in
  ``eligible_categories``, first two digits of the industry code not in ``excluded_divisions``);
  0 otherwise (so an earlier posting outside them is corrected);
* minus what the ledger already holds per (bill, ``discount``), posted as entry ``max(seq) + 1``
  when the difference is not 0 (M9: re-running posts nothing). What is held is summed per
  (account, month): a bill is unique per (account, month) (``bill_unique_account_period``) and
  every entry carries its bill's account and month, so this is the sum per bill — read in the
  order of ``ledger_account_period`` and merged with the bills without hashing (a re-run's chunk
  50 → 38 ms);
* cause: the job's cause when it granted the account, else the account's newest discount grant
  (as ``billing.posting._cause_for``);
* ``ON CONFLICT (bill_id, kind, seq) DO NOTHING``: a concurrent poster that computed the same
  difference has already inserted it.

Which accounts take this path is decided per chunk by :func:`post_discounts` itself: an account
takes it only when all its grants are discount grants of one policy and its ledger holds no entry
of another kind (an old credit to be reversed is the engine's business). Every other account of
the chunk is returned to the caller for the Python engine. The caller holds the chunk's
transaction and its account locks; nothing here commits.

``tests/billing/test_posting_sql.py`` proves that this path and the engine's give identical ledgers.
One difference is deliberate: the engine refuses a two-part account whose tariff data is
incomplete (e.g. demand basis without a contract demand) even when only its discount is at stake;
this path, which never reads the basic-charge terms, posts the discount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from .models import Account, Bill, Grant, GrantKind, LedgerEntry, LedgerKind, Policy
from .rules import admits_sql

# Table names from the models, never typed by hand.
_T = {
    "account": Account._meta.db_table,
    "bill": Bill._meta.db_table,
    "grant": Grant._meta.db_table,
    "ledger": LedgerEntry._meta.db_table,
    "policy": Policy._meta.db_table,
}

# Per account of the chunk with a grant: whether it can take the fast path (``other_kinds`` reads
# the partial index ``ledger_other_kinds``: entries of kinds other than the discount, a few),
# whether its policy admits it (M1 again: a list can never give the discount to an account the
# rule excludes), its cause.
_CLASSIFY = """
WITH g AS (
    SELECT account_id,
           bool_and(kind = %(discount)s) AS only_discount,
           count(DISTINCT policy_id) AS policies,
           min(policy_id) AS policy_id,
           (array_agg(cause_type ORDER BY id DESC))[1] AS cause_type,
           (array_agg(cause_id ORDER BY id DESC))[1] AS cause_id,
           coalesce(bool_or(cause_type = %(job_cause_type)s AND cause_id = %(job_cause_id)s), false) AS by_job
      FROM {grant}
     WHERE account_id BETWEEN %(lo)s AND %(hi)s
     GROUP BY account_id
), other_kinds AS (
    SELECT DISTINCT account_id
      FROM {ledger}
     WHERE account_id BETWEEN %(lo)s AND %(hi)s AND kind <> %(discount)s
)
SELECT g.account_id,
       g.only_discount AND g.policies = 1 AND o.account_id IS NULL AS fast,
       g.policy_id,
       g.cause_type,
       g.cause_id,
       g.by_job,
       {admits} AS admitted
  FROM g
  JOIN {account} a ON a.id = g.account_id
  JOIN {policy} p ON p.code = g.policy_id
  LEFT JOIN other_kinds o ON o.account_id = g.account_id
 ORDER BY g.account_id
""".format(**_T, admits=admits_sql(policy="p", account="a"))  # noqa: S608 - names from the models and billing.rules, values as parameters

# The discount of every bill of the fast accounts, minus what the ledger holds, inserted at once.
# (Tried: one statement with the choice of accounts as a CTE. Slower — 63 against 44 ms for a
# re-run's chunk — the planner cannot estimate the CTE's rows and leaves the merge joins.)
_INSERT = """
WITH f AS (
    SELECT u.account_id, (%(policies)s::text[])[u.policy] AS policy_id, u.admitted,
           (%(cause_types)s::text[])[u.cause_type] AS cause_type, u.cause_id
      FROM unnest(%(ids)s::bigint[], %(policy_numbers)s::int[], %(admitted)s::boolean[],
                  %(cause_type_numbers)s::int[], %(cause_ids)s::bigint[])
           AS u(account_id, policy, admitted, cause_type, cause_id)
), w AS (
    SELECT * FROM unnest(%(window_policies)s::text[], %(window_periods)s::date[]) AS w(policy_id, period)
), pol AS MATERIALIZED (
    SELECT code,
           coalesce(rate, 0) AS rate,
           jsonb_exists(components, 'energy') AS on_energy,
           jsonb_exists(components, 'basic') AS on_basic,
           jsonb_exists(components, 'power_factor') AS on_power_factor
      FROM {policy}
), target AS (
    SELECT b.id AS bill_id, b.account_id, b.period, f.cause_type, f.cause_id,
           CASE WHEN f.admitted AND w.period IS NOT NULL
                THEN CASE WHEN p.on_energy THEN round(b.energy_charge * p.rate, 2) ELSE 0 END
                   + CASE WHEN p.on_basic THEN round(b.basic_charge * p.rate, 2) ELSE 0 END
                   + CASE WHEN p.on_power_factor THEN round(b.power_factor_charge * p.rate, 2) ELSE 0 END
                ELSE 0
           END AS amount
      FROM {bill} b
      JOIN f ON f.account_id = b.account_id
      JOIN pol p ON p.code = f.policy_id
      LEFT JOIN w ON w.policy_id = f.policy_id AND w.period = b.period
     WHERE b.account_id BETWEEN %(lo)s AND %(hi)s
), posted AS (
    SELECT account_id, period, sum(amount) AS total, max(seq) AS seq
      FROM {ledger}
     WHERE account_id BETWEEN %(lo)s AND %(hi)s AND kind = %(discount)s
     GROUP BY account_id, period
), inserted AS (
    INSERT INTO {ledger} (account_id, bill_id, period, kind, seq, amount, cause_type, cause_id, job_id, posted_at)
    SELECT t.account_id, t.bill_id, t.period, %(discount)s, coalesce(l.seq, 0) + 1,
           t.amount - coalesce(l.total, 0), t.cause_type, t.cause_id, %(job_id)s, %(posted_at)s
      FROM target t
      LEFT JOIN posted l ON l.account_id = t.account_id AND l.period = t.period
     WHERE t.amount <> coalesce(l.total, 0)
    ON CONFLICT (bill_id, kind, seq) DO NOTHING
    RETURNING account_id
)
SELECT count(*), min(account_id), max(account_id) FROM inserted
""".format(**_T)  # noqa: S608 - table names from the models, values as parameters

# The chunk's aggregate of what is posted (≈ 22,000 rows) stays in memory; for this transaction only.
_WORK_MEM = "SET LOCAL work_mem = '64MB'"


class FastResult(NamedTuple):
    """What :func:`post_discounts` did: entries inserted, the ids of the accounts it inserted for
    (lowest, highest; None when it inserted nothing) and the chunk's accounts left to the engine."""

    inserted: int
    account_from: int | None
    account_to: int | None
    others: list[int]


class _Classified(NamedTuple):
    """A row of ``_CLASSIFY``."""

    account_id: int
    fast: bool
    policy_id: str
    cause_type: str
    cause_id: int
    by_job: bool
    admitted: bool


class _Numbering:
    """Numbers 1, 2, … for the distinct texts of a column, in order of appearance (PostgreSQL's
    arrays count from 1): ``numbering[text]`` is the text's number, ``numbering.values`` the texts."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self.values: list[str] = []

    def __getitem__(self, text: str) -> int:
        number = self._numbers.get(text)
        if number is None:
            self.values.append(text)
            number = self._numbers[text] = len(self.values)
        return number


def _array(items: Iterable[int | str]) -> str:
    """A PostgreSQL array literal of integers or booleans (``t``/``f``): ``{1,2,3}``."""
    return "{" + ",".join(map(str, items)) + "}"


def post_discounts(
    *,
    account_from: int,
    account_to: int,
    job_id: int | None,
    job_cause: tuple[str, int] | None,
    windows: Mapping[str, Iterable[dt.date]],
) -> FastResult:
    """Post the discount differences of the chunk's discount-only accounts in one statement.

    ``windows``: every policy's billing months (``billing.rules.PolicyRules.periods``). ``job_cause``: the
    job's (cause_type, cause_id), or None for a job without a cause (new bills).
    The statement returns one row (how many it inserted, for which account ids), not the entries.
    """
    job_cause_type, job_cause_id = job_cause if job_cause else (None, None)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLASSIFY,
            {
                "discount": GrantKind.DISCOUNT.value,
                "job_cause_type": job_cause_type,
                "job_cause_id": job_cause_id,
                "lo": account_from,
                "hi": account_to,
            },
        )
        rows = [_Classified(*row) for row in cursor.fetchall()]
        fast = [row for row in rows if row.fast]
        others = [row.account_id for row in rows if not row.fast]
        if not fast:
            return FastResult(0, None, None, others)
        window_policies = [code for code, periods in windows.items() for _ in periods]
        window_periods = [period for periods in windows.values() for period in periods]
        cursor.execute(_WORK_MEM)
        policies = _Numbering()
        cause_types = _Numbering()
        cursor.execute(
            _INSERT,
            {
                # The per-account columns as array literals built here: psycopg's quoting of a
                # 2,000-element Python list cost a chunk ≈ 9 ms (docs/benchmarks.md "Posting"). Only
                # numbers and booleans; the few texts go by number into short lists.
                "ids": _array(row.account_id for row in fast),
                "policy_numbers": _array(policies[row.policy_id] for row in fast),
                "admitted": _array("t" if row.admitted else "f" for row in fast),
                "cause_type_numbers": _array(
                    cause_types[job_cause_type if row.by_job else row.cause_type] for row in fast
                ),
                "cause_ids": _array(int(job_cause_id if row.by_job else row.cause_id) for row in fast),
                "policies": policies.values,
                "cause_types": cause_types.values,
                "window_policies": window_policies,
                "window_periods": window_periods,
                "discount": LedgerKind.DISCOUNT.value,
                "lo": fast[0].account_id,
                "hi": fast[-1].account_id,
                "job_id": job_id,
                "posted_at": timezone.now(),
            },
        )
        inserted, low, high = cursor.fetchone()
        return FastResult(inserted, low, high, others)
