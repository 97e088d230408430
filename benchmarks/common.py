"""Helpers shared by the benchmark scripts of this folder (not a benchmark itself).

The scripts run as ``.venv/bin/python benchmarks/<name>.py``, so this folder is ``sys.path[0]`` and
they import this module as ``common``. Django is imported only inside the helpers that need it:
``setup_django()`` comes first.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(*, no_debug: bool = False) -> None:
    """Django with the local settings; ``no_debug``: ``DJANGO_DEBUG`` false unless set (no query log in
    this process, nor in the processes it starts)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
    if no_debug:
        os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()


def refuse_sqlite(hint: str, *, allowed: bool = False) -> None:
    """Exit unless the database is PostgreSQL (or SQLite is ``allowed``); ``hint`` ends the message."""
    from django.db import connection

    if connection.vendor != "postgresql" and not allowed:
        sys.exit(f"refusing to benchmark on SQLite: set DATABASE_URL=postgres://… ({hint})")


# --- SQL ----------------------------------------------------------------------------------------


def execute(sql: str, params=None) -> int:
    """Run one statement; returns its row count."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params=None):
    """The first column of the first row of a query."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def server_version() -> str:
    """The database server, e.g. ``PostgreSQL 15.4`` (without the platform ``version()`` adds)."""
    from django.db import connection

    sql = "SELECT version()" if connection.vendor == "postgresql" else "SELECT 'SQLite ' || sqlite_version()"
    return scalar(sql).split(" on ")[0]


def machine(*, load_average: bool = False) -> str:
    """The ``machine:`` line of the benchmarks' output (with the 1-minute load average if asked)."""
    line = (
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
        f"{server_version()}; {time.strftime('%Y-%m-%d')}"
    )
    if load_average:
        line += f"; load average {os.getloadavg()[0]:.2f}"
    return line


def explain(sql: str, *, sorts: bool = False) -> tuple[str, list[str]]:
    """A one-line summary of ``EXPLAIN (ANALYZE, BUFFERS)`` of ``sql``, and the plan.

    The summary names the indexes used, any sequential scan, with ``sorts`` any sort (and its method),
    and the execution time.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = [row[0] for row in cursor.fetchall()]
    text = "\n".join(plan)
    indexes = list(
        dict.fromkeys(
            re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) (?:Backward )?(?:using|on) (\S+)", text)
        )
    )
    seq = sorted(set(re.findall(r"Seq Scan on (\S+)", text)))
    executed = re.search(r"Execution Time: ([\d.]+) ms", text)
    parts = [f"index {', '.join(indexes)}" if indexes else "no index"]
    if seq:
        parts.append(f"seq scan {', '.join(seq)}")
    if sorts and (found := re.findall(r"(Incremental Sort|Sort)  \(cost", text)):
        sort_methods = re.findall(r"Sort Method: (top-N heapsort|quicksort|external merge|external sort)", text)
        methods = "; ".join(dict.fromkeys(sort_methods))
        parts.append(" + ".join(dict.fromkeys(found)) + (f" ({methods})" if methods else ""))
    parts.append(f"{float(executed.group(1)):.2f} ms" if executed else "?")
    return "; ".join(parts), plan


# --- requesting pages ---------------------------------------------------------------------------


def add_request_options(parser: argparse.ArgumentParser) -> None:
    """``--repeat`` and ``--warmup``: how many timed and untimed requests each page gets."""
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page first")


def as_in_production():
    """The settings to request pages with, as in production: no DEBUG (no query log, no template debug),
    the test client's host allowed, static URLs from the plain storage (no ``collectstatic`` manifest
    needed; the lookup it saves is a dict access). Also silences WhiteNoise's "No directory at" warning.
    """
    from django.conf import settings
    from django.test.utils import override_settings

    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers.base")
    return override_settings(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p90 of 30 requests: the 27th fastest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(p / 100 * len(ordered))) - 1)]


def time_requests(client, url: str, query: dict, *, label: str, repeat: int, warmup: int, show_body: bool = False):
    """``warmup`` untimed requests (each must answer 200), then ``repeat`` timed ones.

    Returns the last untimed response and the timed requests' milliseconds. ``show_body``: a failed
    request's message shows the start of its response too.
    """
    for _ in range(warmup):
        response = client.get(url, query)
        if response.status_code != 200:
            body = f": {response.content[:500]!r}" if show_body else ""
            sys.exit(f"{label}: {url} answered {response.status_code}{body}")
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url, query)
        times.append((time.perf_counter() - started) * 1000)
    return response, times


def traced_request(client, url: str, query: dict) -> tuple[list[dict], list[tuple[str, float]]]:
    """One request with its queries captured (``CaptureQueriesContext``) and timed by an execute wrapper.

    Returns the captured queries and (SQL, milliseconds) of each, round trip included.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings: list[tuple[str, float]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((sql, (time.perf_counter() - started) * 1000))

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
        client.get(url, query)
    return captured.captured_queries, timings


# --- printing the results ---------------------------------------------------------------------


def print_table(header: str, rows: Iterable[str]) -> None:
    """``header``, a rule as long, then the rows."""
    print(header)
    print("-" * len(header))
    for row in rows:
        print(row)


def print_plan_summaries(title: str, results: list[dict], width: int) -> None:
    """``title``, then each page's label (in ``width`` columns) and ``plan_summary`` (see explain())."""
    print(f"\n{title}:")
    for r in results:
        print(f"  {r['label']:<{width}} {r['plan_summary']}")


def print_plan(title: str, sql: str, plan: list[str]) -> None:
    """``title``, then the query and its plan (as explain() returns it), indented."""
    print(f"\n{title}:\n  {sql}")
    for line in plan:
        print(f"    {line}")


# --- the engine benchmark's data set (posting_benchmark.py; dashboard_benchmark.py builds on it) -

# ``--accounts`` eligible accounts (M1): general commercial or large industrial, no excluded division.
# ``{enterprise_size}`` and ``{priority_role}``: SQL expressions of ``n`` (see accounts_sql()).
ACCOUNTS_SQL = """
INSERT INTO billing_account (account_no, name, district_id, category, industry_code, high_energy, voltage_kv,
                             basic_charge_method, capacity_kva, contract_demand_kw, enterprise_size, priority_role,
                             created_at, updated_at)
SELECT lpad((2400000000 + n)::text, 10, '0'),
       '基准企业' || n || '有限公司',
       d.ids[1 + n %% array_length(d.ids, 1)],
       CASE WHEN n %% 5 = 0 THEN 'large_industrial' ELSE 'general_commercial' END,
       (ARRAY['5211', '5261', '6110', '2770', '1713', '3311', '2221', '1391', '3670', '8610'])[1 + n %% 10],
       false,
       CASE WHEN n %% 5 = 0 THEN 10 ELSE 0.4 END,
       CASE WHEN n %% 10 = 0 THEN 'capacity' WHEN n %% 10 = 5 THEN 'demand' ELSE '' END,
       CASE WHEN n %% 5 = 0 THEN (ARRAY[315, 630, 1000, 2000, 3150])[1 + (n / 5) %% 5] ELSE 0 END,
       CASE WHEN n %% 10 = 5 THEN (ARRAY[315, 630, 1000, 2000, 3150])[1 + (n / 5) %% 5] * 6 / 10 END,
       {enterprise_size},
       {priority_role},
       now(), now()
  FROM generate_series(0, %(accounts)s - 1) AS n,
       (SELECT array_agg(id ORDER BY id) AS ids FROM portal_district) AS d
"""


def accounts_sql(enterprise_size: str = "''", priority_role: str = "''") -> str:
    """ACCOUNTS_SQL with these SQL expressions (of ``n``) for the two columns; none by default."""
    return ACCOUNTS_SQL.format(enterprise_size=enterprise_size, priority_role=priority_role)


# The bills' columns, for an ``INSERT … SELECT`` from BILL_AMOUNTS_SQL.
BILLS_INSERT = """
INSERT INTO billing_bill (account_id, period, energy_kwh, energy_charge, basic_rate, max_demand_kw, basic_charge,
                          power_factor_rate, power_factor_charge, late_fee, paid, imported_at)"""

# One bill per account and month ``%(first)s`` … ``%(last)s`` of 2020: amounts from a hash ``h`` of
# (account, month), basic and power-factor lines as the import would hold them (the power-factor
# charge and ``paid`` are left to the statement around it).
BILL_AMOUNTS_SQL = """SELECT a.id AS account_id, make_date(2020, m, 1) AS period, h.h, h.kwh,
       round(h.kwh * (50 + h.h %% 26) / 100.0, 2) AS energy,
       CASE a.basic_charge_method WHEN 'capacity' THEN 25 WHEN 'demand' THEN 37.5 END AS basic_rate,
       CASE WHEN a.basic_charge_method = 'demand' THEN a.contract_demand_kw * (90 + h.h %% 30) / 100 END
           AS max_demand,
       CASE a.basic_charge_method
           WHEN 'capacity' THEN a.capacity_kva * 25
           WHEN 'demand' THEN a.contract_demand_kw * 37.5
           ELSE 0 END::numeric(14, 2) AS basic,
       (ARRAY[0, -0.0075, 0.015, -0.003, 0])[1 + (h.h / 7) %% 5]::numeric(7, 4) AS pf_rate,
       CASE WHEN h.h %% 4 = 0 THEN (h.h / 11 %% 50000) / 100.0 ELSE 0 END::numeric(14, 2) AS late_fee
  FROM billing_account a
  CROSS JOIN generate_series(%(first)s, %(last)s) AS m
  CROSS JOIN LATERAL (SELECT (a.id * 1103515245 + m * 12345) %% 2147483647 AS h) AS hh
  CROSS JOIN LATERAL (SELECT hh.h, 50 + hh.h %% 200000 AS kwh) AS h"""
