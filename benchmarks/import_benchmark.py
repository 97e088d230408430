"""Benchmark of the customer and bill imports (billing.imports) at full size.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/import_benchmark.py \\
        --accounts 300000 --bills 1000000 --truncate

Generates two CSV files deterministically under benchmarks/data/ (git-ignored; reused when they
exist), then runs ``import_customers`` and ``import_bills`` — each in a child process, so that the
peak RSS reported (``ru_maxrss``) is the import's own and not the generator's — and finally
re-imports both files (the idempotent no-op path). Prints rows, seconds, rows/s and peak RSS.

Targets (docs/benchmarks.md, "Imports"): ≥ 20,000 rows/s and peak RSS < 300 MB for 1,000,000
bills against 300,000 accounts on PostgreSQL. Not part of the test run.

``--truncate`` empties the billing tables first (``TRUNCATE … CASCADE`` on PostgreSQL: every table
referring to accounts or bills is emptied too) — only ever against a throwaway database.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import common

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20200201

DISTRICTS = ("道里", "南岗", "道外", "香坊", "平房", "松北", "呼兰", "阿城", "双城")
# (category, weight); industry codes include the high-energy divisions 26, 30, 44.
CATEGORIES = (("residential", 50), ("general_commercial", 35), ("large_industrial", 10), ("agricultural", 5))
COMMERCIAL_CODES = ("5211", "5261", "6110", "6210", "7010", "8411", "4430", "5812", "8610", "7242")
INDUSTRIAL_CODES = ("2611", "2770", "3011", "3130", "1713", "3311", "2221", "4411", "1391", "3670")
AGRICULTURAL_CODES = ("0610", "0111", "0311", "")


def money(cents: int) -> str:
    """Yuan as a decimal string from integer fen (no floats anywhere)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def customer_rows(accounts: int):
    rng = random.Random(SEED)
    population = [c for c, _ in CATEGORIES]
    weights = [w for _, w in CATEGORIES]
    for n in range(accounts):
        category = rng.choices(population, weights)[0]
        method = ""
        capacity = 0
        demand = ""
        size = ""
        role = ""
        if category == "residential":
            code, voltage = "", "0.4"
        elif category == "agricultural":
            code, voltage = rng.choice(AGRICULTURAL_CODES), rng.choice(("0.4", "10"))
        elif category == "general_commercial":
            code, voltage = rng.choice(COMMERCIAL_CODES), rng.choice(("0.4", "10", "10", "35"))
            size = rng.choice(("", "small", "micro", "micro", "medium"))
        else:
            code, voltage = rng.choice(INDUSTRIAL_CODES), rng.choice(("10", "35", "66", "110", "220"))
            method = rng.choice(("capacity", "demand"))
            capacity = rng.choice((315, 630, 1000, 2000, 3150, 6300, 10000))
            demand = str(capacity * rng.randint(4, 9) // 10) if method == "demand" else ""
            size = rng.choice(("large", "medium", "small"))
            role = "supplies_maker" if rng.random() < 0.02 else ""
        name = f"示例客户{n}号" if category == "residential" else f"示例企业{n},有限公司"  # a comma: quoted
        yield (
            f"{2300000000 + n:010d}",
            name,
            DISTRICTS[n % len(DISTRICTS)],
            category,
            code,
            voltage,
            method,
            capacity,
            demand,
            size,
            role,
        )


def bill_rows(accounts: int, bills: int):
    """Account n % accounts, month n // accounts + 1 (2020-01 onwards): no duplicates."""
    rng = random.Random(SEED + 1)
    for n in range(bills):
        month = n // accounts
        year, month = 2020 + month // 12, month % 12 + 1
        kwh = rng.randint(50, 2_000_000)
        energy = kwh * rng.randint(50, 75)  # fen: 0.50 … 0.75 yuan/kWh
        basic_rate = rng.choice(("", "", "25", "37.5"))
        max_demand = str(rng.randint(100, 9000)) if basic_rate == "37.5" else ""
        basic = rng.randint(0, 30_000_000) if basic_rate else 0
        pf_rate = rng.choice(("0", "0", "-0.0075", "0.015", "-0.003"))
        pf = rng.randint(-50_000, 50_000) if pf_rate != "0" else 0
        late = rng.choice((0, 0, 0, rng.randint(1, 50_000)))
        paid = rng.choice((0, max(energy + basic + pf, 0)))
        yield (
            f"{2300000000 + n % accounts:010d}",
            f"{year:04d}-{month:02d}",
            kwh,
            money(energy),
            basic_rate,
            max_demand,
            money(basic),
            pf_rate,
            money(pf),
            money(late),
            money(paid),
        )


def generate(path: Path, header: list[str], rows) -> None:
    if path.exists():
        print(f"reusing {path.relative_to(common.ROOT)}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.rename(path)
    size = path.stat().st_size / 1e6
    print(f"generated {path.relative_to(common.ROOT)} ({size:.0f} MB) in {time.perf_counter() - started:.1f} s")


def child(kind: str, path: str) -> None:
    """Run one import in this (fresh) process and print its figures as JSON."""
    common.setup_django()
    from django.utils import translation

    from billing.imports import ImportFailed, import_bills, import_customers

    translation.activate("en")

    class PhaseClock:
        """A progress sink that times the import's phases (reading, checking, writing)."""

        def __init__(self) -> None:
            self.phases: dict[str, float] = {}
            self._phase, self._since = "", time.perf_counter()

        def update(self, n: int) -> None:
            pass

        def set_description(self, desc: str) -> None:
            self.close()
            self._phase, self._since = desc, time.perf_counter()

        def close(self) -> None:
            if self._phase:
                self.phases[self._phase] = round(time.perf_counter() - self._since, 2)

    service = import_customers if kind == "customers" else import_bills
    clock = PhaseClock()
    started = time.perf_counter()
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            result = service(stream, progress=clock)
        clock.close()
    except ImportFailed as exc:
        print(exc.report(), file=sys.stderr)
        sys.exit(1)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    figures = {
        "kind": kind,
        "rows": result.rows,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "seconds": round(seconds, 2),
        "rows_per_s": round(result.rows / seconds),
        "peak_rss_mb": round(peak_mb, 1),
        "phases": clock.phases,
    }
    print(json.dumps(figures))


def run_child(kind: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        env={**os.environ, "PYTHONPATH": str(common.ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{kind} import failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=300_000)
    parser.add_argument("--bills", type=int, default=1_000_000)
    parser.add_argument(
        "--truncate",
        action="store_true",
        help="empty the billing tables first (CASCADE on PostgreSQL); only on a throwaway database",
    )
    parser.add_argument("--no-reimport", action="store_true", help="skip the second (no-op) pass")
    parser.add_argument("--allow-sqlite", action="store_true", help="run against SQLite anyway")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    common.setup_django()
    from django.db import connection

    from billing.imports import BILL_COLUMNS, CUSTOMER_COLUMNS
    from billing.models import Account, Bill

    common.refuse_sqlite("or pass --allow-sqlite", allowed=args.allow_sqlite)
    if args.bills > args.accounts * 12 * 80:
        sys.exit("too many bills for the accounts (one per account and month)")

    customers = DATA_DIR / f"customers-{args.accounts}.csv"
    bills = DATA_DIR / f"bills-{args.accounts}-{args.bills}.csv"
    generate(customers, list(CUSTOMER_COLUMNS), customer_rows(args.accounts))
    generate(bills, list(BILL_COLUMNS), bill_rows(args.accounts, args.bills))

    if args.truncate:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {Bill._meta.db_table}, {Account._meta.db_table} RESTART IDENTITY CASCADE")
            else:
                cursor.execute(f"DELETE FROM {Bill._meta.db_table}")  # noqa: S608
                cursor.execute(f"DELETE FROM {Account._meta.db_table}")  # noqa: S608
        print("billing tables emptied")
    elif Account.objects.exists():
        print("note: the database already holds accounts (pass --truncate for a fresh run)")

    line = common.machine()
    connection.close()
    print(line)

    passes = [("customers", customers), ("bills", bills)]
    if not args.no_reimport:
        passes += [("customers", customers), ("bills", bills)]
    columns = ("rows", 10), ("created", 10), ("updated", 8), ("unchanged", 10), ("s", 7), ("rows/s", 8), ("RSS MB", 7)
    print(f"{'import':<15}", *(f"{name:>{width}}" for name, width in columns))
    for n, (kind, path) in enumerate(passes):
        figures = run_child(kind, path)
        label = kind if n < 2 else f"{kind} (re)"
        print(
            f"{label:<15} {figures['rows']:>10,} {figures['created']:>10,} {figures['updated']:>8,} "
            f"{figures['unchanged']:>10,} {figures['seconds']:>7.1f} {figures['rows_per_s']:>8,} "
            f"{figures['peak_rss_mb']:>7.0f}   "
            + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in figures["phases"].items()),
            flush=True,
        )


if __name__ == "__main__":
    main()
