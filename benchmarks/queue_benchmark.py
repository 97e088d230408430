"""Benchmark of the queue pages (workflow.queues / QueueView) over a large applications table.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/queue_benchmark.py --applications 100000

Migrates if needed, then builds a deterministic data set — accounts over the nine districts,
applications over every state, kind, channel and district with ``state_changed_at`` spread over
0–30 days (``--closed-age-days 365``: items out of the queues — approved, settled, rejected,
withdrawn — over a year instead, as a live system's history is), decisions for part of them,
one eligibility list per policy and district, and staff for each role (``bench-*`` users) —
reusing it when it is already there at the requested size.
Then it requests each queue page ``--repeat`` times through ``django.test.Client`` (force_login,
in process: server time without the network) and prints the median and p90, the SQL queries of
one request split into the queue's own data and the per-request overhead (session, user, roles,
districts), and ``EXPLAIN ANALYZE`` of each page's applications query (which index, any sort).

Pages are rendered as in production: ``DEBUG=False``, no query log. Static URLs use the plain
storage (no ``collectstatic`` manifest needed; the lookup it saves is a dict access).

``--sql "CREATE INDEX …"`` runs statements before measuring (to try an index by hand; they stay
in the database until ``--sql "DROP INDEX …"``). Targets (docs/benchmarks.md, "Queues"): each
page under 100 ms at the median, its data in one or two queries. Not part of the test run; only
ever against a throwaway database: it writes rows tagged as the benchmark's own, and when the
applications table holds nothing else a new data set starts with ``TRUNCATE … CASCADE`` (every
table referring to applications — decisions, scans, verifications — is emptied too).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import statistics
import sys
import time
from decimal import Decimal

import common

SEED = 20200301
ACCOUNT_BASE = 2_900_000_000  # account numbers 29xxxxxxxx: apart from imports and demo data
TAG = "queue benchmark"  # Application.reason of the benchmark's applications
BATCH = 5_000
HOME_DISTRICT = "南岗"  # the clerk's and district reviewer's district

# (state, weight): every state, the open ones heavy so that the queues are large.
STATE_WEIGHTS = (
    ("draft", 10),
    ("pending_district", 15),
    ("pending_city", 12),
    ("pending_head", 10),
    ("pending_leader", 8),
    ("approved", 10),
    ("settled", 20),
    ("rejected", 10),
    ("withdrawn", 5),
)
# Items out of the queues: how long ago they got there is ``--closed-age-days`` (history).
CLOSED_STATES = ("approved", "settled", "rejected", "withdrawn")
OPEN_AGE_DAYS = 30
# The path up the chain: (state reached, level that moved it there, action).
CHAIN_PATH = (
    ("pending_district", "report_1", "submit"),
    ("pending_city", "report_2", "approve"),
    ("pending_head", "approval_1", "approve"),
    ("pending_leader", "approval_2", "approve"),
    ("approved", "approval_3", "approve"),
)


# --- the data set ------------------------------------------------------------------------------


def build_accounts(n: int, districts: list) -> None:
    from billing.industry import is_high_energy
    from billing.models import Account, Category

    rng = random.Random(SEED)
    have = Account.objects.filter(account_no__startswith="29").count()
    if have >= n:
        print(f"reusing {have:,} accounts")
        return
    started = time.perf_counter()
    codes = ("5211", "6110", "7010", "2611", "3011", "4430", "0111", "")
    batch = []
    for i in range(have, n):
        category = rng.choice(list(Category))
        code = "" if category == Category.RESIDENTIAL else rng.choice(codes)
        batch.append(
            Account(
                account_no=f"{ACCOUNT_BASE + i:010d}",
                name=f"基准企业{i}有限公司",
                district=districts[i % len(districts)],
                category=category,
                industry_code=code,
                high_energy=is_high_energy(code),
                voltage_kv=Decimal(rng.choice(("0.4", "10", "35"))),
                capacity_kva=Decimal(rng.choice((0, 315, 630, 1000))),
            )
        )
        if len(batch) == BATCH:
            Account.objects.bulk_create(batch)
            batch = []
    Account.objects.bulk_create(batch)
    print(f"created {n - have:,} accounts in {time.perf_counter() - started:.1f} s")


def build_staff(districts: list) -> dict:
    """One clerk and one district reviewer per district, each city role once, and a two-role person."""
    from organisation.services import staff_upsert

    def person(username, roles, district=None):
        return staff_upsert(username=username, roles=roles, district=district, password=None)[0]

    staff = {
        "clerks": {d.pk: person(f"bench-clerk-{d.code}", ["clerk"], d) for d in districts},
        "reviewers": {d.pk: person(f"bench-reviewer-{d.code}", ["district_reviewer"], d) for d in districts},
        "city_reviewer": person("bench-city", ["city_reviewer"]),
        "department_head": person("bench-head", ["department_head"]),
        "leader": person("bench-leader", ["leader"]),
    }
    home = next(d for d in districts if d.name == HOME_DISTRICT)
    staff["clerk"] = staff["clerks"][home.pk]
    staff["district_reviewer"] = staff["reviewers"][home.pk]
    staff["clerk_and_reviewer"] = person("bench-clerk-reviewer", ["clerk", "district_reviewer"], home)
    staff["city_three_levels"] = person("bench-city-all", ["city_reviewer", "department_head", "leader"])
    return staff


def build_applications(n: int, staff: dict, districts: list, *, closed_age_days: int) -> None:
    from django.db import connection, transaction

    from billing.models import Account
    from workflow.models import CAPACITY_KINDS, Application, ApplicationKind, Channel, Decision

    tag = f"{TAG}, closed over {closed_age_days} days"
    if Application.objects.filter(reason=tag).count() == n:
        print(f"reusing {n:,} applications")
        return
    have = Application.objects.filter(reason__startswith=TAG).count()
    if have and connection.vendor == "postgresql" and not Application.objects.exclude(reason__startswith=TAG).exists():
        # Only the benchmark's rows: start from an empty table, not one bloated by a big DELETE.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Application._meta.db_table} RESTART IDENTITY CASCADE")
        print(f"emptied the applications table ({have:,} of an earlier run, another data set)")
    elif have:
        with transaction.atomic():
            Decision.objects.filter(application__reason__startswith=TAG).delete()
            Application.objects.filter(reason__startswith=TAG).delete()
        print(f"deleted {have:,} applications of an earlier run (another data set)")
    rng = random.Random(SEED + 1)
    accounts = list(Account.objects.filter(account_no__startswith="29").values_list("pk", "district_id"))
    states = [s for s, _ in STATE_WEIGHTS]
    weights = [w for _, w in STATE_WEIGHTS]
    kinds, channels = list(ApplicationKind), list(Channel)
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    created = decisions = 0
    for start in range(0, n, BATCH):
        batch, paths = [], []
        for _ in range(min(BATCH, n - start)):
            account_id, district_id = rng.choice(accounts)
            state = rng.choices(states, weights)[0]
            days = closed_age_days if state in CLOSED_STATES else OPEN_AGE_DAYS
            changed = now - dt.timedelta(seconds=rng.uniform(0, days * 86400))
            created_at = changed - dt.timedelta(seconds=rng.uniform(0, 20 * 86400)) if state != "draft" else changed
            kind = rng.choice(kinds)
            clerk = staff["clerks"][district_id]
            # The state is set at creation: FSMField(protected=True) refuses only a later assignment.
            batch.append(
                Application(
                    state=state,
                    district_id=district_id,
                    account_id=account_id,
                    kind=kind,
                    channel=rng.choice(channels),
                    received_on=created_at.date(),
                    capacity_kva=Decimal(rng.choice((315, 630, 1000))) if kind in CAPACITY_KINDS else None,
                    relief=rng.random() < 0.4,
                    created_by=clerk,
                    submitted_by=None if state == "draft" else clerk,
                    created_at=created_at,
                    state_changed_at=changed,
                    reason=tag,
                )
            )
            paths.append((state, changed, district_id) if state != "draft" and rng.random() < 0.5 else None)
        with transaction.atomic():
            Application.objects.bulk_create(batch, batch_size=BATCH)
            rows = [
                decision
                for app, path in zip(batch, paths, strict=True)
                if path
                for decision in _decisions(app, *path, staff=staff)
            ]
            Decision.objects.bulk_create(rows, batch_size=BATCH)
        created += len(batch)
        decisions += len(rows)
    print(f"created {created:,} applications and {decisions:,} decisions in {time.perf_counter() - started:.1f} s")


def _decisions(app, state: str, changed: dt.datetime, district_id: int, *, staff: dict) -> list:
    """The decisions that brought ``app`` up the chain to ``state`` (the last one at ``changed``)."""
    from workflow.models import Decision

    actors = {
        "report_1": staff["clerks"][district_id],
        "report_2": staff["reviewers"][district_id],
        "approval_1": staff["city_reviewer"],
        "approval_2": staff["department_head"],
        "approval_3": staff["leader"],
    }
    rows, previous = [], "draft"
    final = {"settled": "approved", "rejected": "pending_city", "withdrawn": "pending_district"}.get(state, state)
    for reached, level, action in CHAIN_PATH:
        rows.append(
            Decision(
                application=app,
                level=level,
                action=action,
                from_state=previous,
                to_state=reached,
                actor=actors[level],
                at=changed - dt.timedelta(hours=6 * (len(CHAIN_PATH) - len(rows))),
            )
        )
        previous = reached
        if reached == final:
            break
    if state == "rejected":
        rows.append(
            Decision(
                application=app,
                level="approval_1",
                action="reject",
                from_state="pending_city",
                to_state="rejected",
                reason_code="not_eligible",
                reason="不符合政策条件",
                actor=actors["approval_1"],
                at=changed,
            )
        )
    return rows


def build_lists(districts: list, staff: dict) -> None:
    """One live eligibility list per policy and district, in an open state."""
    from billing.models import Policy
    from workflow.models import EligibilityList

    if EligibilityList.objects.exists():
        return
    rng = random.Random(SEED + 2)
    now = dt.datetime.now(dt.UTC)
    open_states = ("draft", "pending_district", "pending_city", "pending_head", "pending_leader")
    EligibilityList.objects.bulk_create(
        EligibilityList(
            policy=policy,
            district=district,
            state=rng.choice(open_states),
            state_changed_at=now - dt.timedelta(days=rng.uniform(0, 30)),
            created_by=staff["clerks"][district.pk],
            forecast_accounts=rng.randint(100, 20_000),
            forecast_reduction=Decimal(rng.randint(10_000, 5_000_000)),
        )
        for policy in Policy.objects.all()
        for district in districts
    )


# --- the measurement ---------------------------------------------------------------------------


def pages(staff: dict) -> list[tuple[str, object, str, dict]]:
    """(label, user, level, query) of each queue page measured."""
    return [
        (f"clerk: draft ({HOME_DISTRICT})", staff["clerk"], "report_1", {}),
        (f"district reviewer: pending_district ({HOME_DISTRICT})", staff["district_reviewer"], "report_2", {}),
        ("city reviewer: pending_city", staff["city_reviewer"], "approval_1", {}),
        ("department head: pending_head", staff["department_head"], "approval_2", {}),
        ("leader: pending_leader", staff["leader"], "approval_3", {}),
        (
            "city reviewer: kind + overdue",
            staff["city_reviewer"],
            "approval_1",
            {"kind": "suspension", "overdue": "yes"},
        ),
        # Beyond the brief's six: the tabs with counts, and a district filter on a city queue.
        ("clerk + reviewer: pending_district, tabs", staff["clerk_and_reviewer"], "report_2", {}),
        ("city, 3 roles: pending_head, tabs", staff["city_three_levels"], "approval_2", {}),
        (
            "city reviewer: district + channel",
            staff["city_reviewer"],
            "approval_1",
            {"district": "daowai", "channel": "wechat"},
        ),
    ]


def classify(sql: str) -> str:
    """What a query of the page is for: the queue's own data, or per-request overhead."""
    if '"workflow_application"' in sql or '"workflow_eligibilitylist"' in sql:
        if "COUNT(" in sql:
            return "counts"
        return "applications" if '"workflow_application"' in sql else "lists"
    if '"django_session"' in sql:
        return "session"
    if '"auth_group"' in sql:
        return "roles"
    if '"portal_user"' in sql:
        return "user"
    if '"portal_district"' in sql:
        return "district"
    return "other"


DATA_KINDS = ("applications", "lists", "counts")


def table_row(r: dict) -> str:
    """One page's line of the results table."""
    overhead = ", ".join(f"{k} {n}" for k, n in r["by_kind"].items() if k not in DATA_KINDS)
    data = ", ".join(f"{k} {n}" for k, n in r["by_kind"].items() if k in DATA_KINDS)
    return (
        f"{r['label']:<52} {r['rows']:>4} {r['median']:>6.1f}ms {r['p90']:>6.1f}ms {r['queries']:>7} "
        f"{r['data']:>4} {r['data_sql_ms']:>7.1f}ms  {overhead}  [data: {data}]"
    )


def measure(label: str, user, level: str, query: dict, *, repeat: int, warmup: int) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(user)
    url = f"/work/queues/{level}/"
    response, times = common.time_requests(client, url, query, label=label, repeat=repeat, warmup=warmup)
    rows = len(re.findall(rb'<input class="form-check-input" type="checkbox" name="applications"', response.content))
    # Queries of one request, apart from the timed ones; the data queries' DB time (round trip
    # included) over a few requests, timed with an execute wrapper (the captured times are in ms).
    data_ms: list[float] = []
    for _ in range(5):
        captured, timings = common.traced_request(client, url, query)
        kinds = [(classify(q["sql"]), q) for q in captured]
        data_ms.append(sum(ms for sql, ms in timings if classify(sql) in DATA_KINDS))
    by_kind: dict[str, int] = {}
    for kind, _q in kinds:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    main_sql = next(q["sql"] for k, q in kinds if k == "applications")
    summary, plan = common.explain(main_sql, sorts=True)
    return {
        "label": label,
        "rows": rows,
        "median": statistics.median(times),
        "p90": common.percentile(times, 90),
        "queries": len(kinds),
        "data": sum(by_kind.get(k, 0) for k in DATA_KINDS),
        "by_kind": by_kind,
        "data_sql_ms": statistics.median(data_ms),
        "sql": main_sql,
        "plan_summary": summary,
        "plan": plan,
        "all_sql": [(k, q["sql"]) for k, q in kinds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument(
        "--closed-age-days",
        type=int,
        default=OPEN_AGE_DAYS,
        help="spread of state_changed_at of approved/settled/rejected/withdrawn items (open ones: 0–30 days)",
    )
    common.add_request_options(parser)
    parser.add_argument("--sql", action="append", default=[], help="SQL to run before measuring (e.g. CREATE INDEX)")
    parser.add_argument("--plans", action="store_true", help="print every page's full EXPLAIN ANALYZE plan")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL of one request per page")
    parser.add_argument("--allow-sqlite", action="store_true", help="run against SQLite anyway")
    args = parser.parse_args()

    common.setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import translation

    from organisation.models import District

    common.refuse_sqlite("or pass --allow-sqlite", allowed=args.allow_sqlite)

    call_command("migrate", interactive=False, verbosity=0)
    districts = list(District.objects.order_by("pk"))
    build_accounts(args.accounts, districts)
    staff = build_staff(districts)
    build_applications(args.applications, staff, districts, closed_age_days=args.closed_age_days)
    build_lists(districts, staff)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE workflow_application")  # as autovacuum would have by now
            cursor.execute("ANALYZE")
        for statement in args.sql:
            print(f"running: {statement}")
            cursor.execute(statement)
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE workflow_application")
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'workflow_application' ORDER BY 1")
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT state, count(*) FROM workflow_application GROUP BY state ORDER BY 2 DESC")
            per_state = cursor.fetchall()
        else:
            indexes, per_state = [], []
    print(common.machine())
    print("applications per state: " + ", ".join(f"{state} {n:,}" for state, n in per_state))
    print("indexes on workflow_application: " + ", ".join(indexes))

    translation.activate("zh-hans")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = []
    with common.as_in_production():
        for label, user, level, query in pages(staff):
            results.append(measure(label, user, level, query, repeat=args.repeat, warmup=args.warmup))
            r = results[-1]
            print(f"  measured {label}: {r['median']:.1f} ms", file=sys.stderr, flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{args.repeat} requests per page after {args.warmup} untimed; rows = applications on the page; "
        f"load average {load_before:.2f} before, {load:.2f} after"
    )
    header = f"{'page':<52} {'rows':>4} {'median':>8} {'p90':>8} {'queries':>7} {'data':>4} {'data SQL':>9}  overhead"
    common.print_table(header, map(table_row, results))
    common.print_plan_summaries("EXPLAIN ANALYZE of each page's applications query", results, 52)
    main_page = results[2]
    common.print_plan(f"plan of the main queue query ({main_page['label']})", main_page["sql"], main_page["plan"])
    if args.plans:
        for r in results:
            common.print_plan(r["label"], r["sql"], r["plan"])
    if args.show_sql:
        for r in results:
            print(f"\n{r['label']}:")
            for kind, sql in r["all_sql"]:
                print(f"  [{kind}] {sql}")
    missed = [r["label"] for r in results if r["median"] >= 100 or r["data"] > 2 + r["by_kind"].get("counts", 0)]
    print(
        "\ntargets (median < 100 ms, data in 1–2 queries plus the tabs' counts): "
        + ("met" if not missed else f"missed by {', '.join(missed)}")
    )


if __name__ == "__main__":
    main()
