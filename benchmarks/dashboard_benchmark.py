"""Benchmark of the managers' dashboard and ``GET /api/v1/stats/`` on the engine benchmark's data set.

    eval "$(scripts/test-servers.sh start /tmp/dbench)"     # throwaway PostgreSQL 15 + Redis
    DATABASE_URL=… .venv/bin/python benchmarks/dashboard_benchmark.py --accounts 200000

Migrates, then builds (or reuses, when it is there at the requested size) the data set of the
engine benchmark (``benchmarks/posting_benchmark.py``) directly in SQL, as if the posting had run:

* ``--accounts`` eligible accounts over the nine districts, every fifth large industrial, the rest
  general commercial (same ``INSERT … SELECT generate_series`` as the engine benchmark; here 20% of
  the general-commercial ones are small or micro enterprises and 0.2% of the large industrial ones
  protective-supplies makers, so that the arrears-protection figures have accounts);
* one bill per account and month 2020-02 … 2020-12 (2,200,000 for 200,000 accounts; the engine
  benchmark's amounts, two thirds of them paid in full so that not every protected bill is in
  arrears);
* one live, settled 95% eligibility list per district (with its decisions and a forecast), a
  discount grant per account, and a ``discount`` ledger entry for every bill whose 5% is not zero
  (``round(numeric, 2)`` per line, as the engine posts it);
* ``--applications`` applications (every kind, state and channel; states set at creation,
  ``bulk_create``) with the decisions that brought them where they are (returns, rejections with
  reason codes, withdrawals, settlements; each decision keeps a snapshot as wide as the portal's,
  ≈ 290 bytes of JSON), a few more eligibility lists (rejected ones, two-part lists waiting in the
  chain), and the ledger of the approved ones: ``basic_charge_credit``
  (suspensions and capacity reductions in the two-part window), ``demand_relief_credit``,
  ``investment_waiver`` (new connections) and ``late_fee_waiver`` (arrears protection, with its
  grant).

Then the summary rows are rebuilt for the whole data set with ``manage.py refresh_stats`` (timed:
what a full rebuild costs), one posting chunk's ``stats_refresh(account_from=…, account_to=…)`` is
timed (what each chunk adds to the posting), the rebuilt cells are reconciled with the ledger in
SQL, and each page is requested through ``django.test.Client`` (``force_login`` as a manager, in
process: server time without the network, ``DEBUG=False``): 3 untimed requests, then ``--repeat``
timed ones (median, p90). The queries of one request are captured (``CaptureQueriesContext``) and
timed (an execute wrapper), and the slowest is run under ``EXPLAIN (ANALYZE, BUFFERS)``.

Targets (issue 5, docs/benchmarks.md "Dashboard"): the dashboard under 200 ms and the stats API
under 100 ms at the median. ``--profile`` prints where one request of each page spends its time
(cProfile); ``--sql "CREATE INDEX …"`` runs statements before measuring (to try an index by hand;
they stay until dropped); ``--rebuild`` regenerates the data. PostgreSQL only (SQLite is refused):
only ever against a throwaway database — it empties the billing and workflow tables. Not part of
the test run.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import re
import statistics
import sys
import time
from decimal import Decimal

import common

SEED = 20200501
MONTHS = range(2, 13)  # 2020-02 … 2020-12
TAG = "dashboard benchmark"  # Application.reason of the benchmark's applications
HOME_DISTRICT = "nangang"  # the district filter and the district reviewer's district
PERIOD = "2020-06"  # the period filter
TARGETS = {"dashboard": 200.0, "api": 100.0}  # ms, median


# --- the data set: accounts and bills as the engine benchmark's -------------------------------

# The engine benchmark's accounts (common.ACCOUNTS_SQL), plus enterprise sizes and priority roles
# (M10's protected accounts).
ACCOUNTS_SQL = common.accounts_sql(
    enterprise_size="CASE n %% 10 WHEN 3 THEN 'small' WHEN 7 THEN 'micro' WHEN 0 THEN 'large' WHEN 5 THEN 'medium'"
    " ELSE '' END",
    priority_role="CASE WHEN n %% 500 = 0 THEN 'supplies_maker' ELSE '' END",
)

# The engine benchmark's bills (common.BILL_AMOUNTS_SQL); ``paid``: two bills in three paid in full, the
# third not at all.
BILLS_SQL = f"""{common.BILLS_INSERT}
SELECT x.account_id, x.period, x.kwh, x.energy, x.basic_rate, x.max_demand, x.basic, x.pf_rate, x.pf, x.late_fee,
       CASE WHEN x.h %% 3 = 0 THEN 0 ELSE greatest(x.energy + x.basic + x.pf + x.late_fee, 0) END, now()
  FROM (
    SELECT y.*, round((y.energy + y.basic) * y.pf_rate, 2) AS pf
      FROM (
        {common.BILL_AMOUNTS_SQL}
      ) AS y
  ) AS x
 ORDER BY x.account_id, x.period
"""  # noqa: S608 - common.py's constants

# One live 95% list per district; the grant and each bill's discount name the district's list.
GRANTS_SQL = """
INSERT INTO billing_grant (account_id, kind, policy_id, cause_type, cause_id, created_at)
SELECT a.id, 'discount', 'discount-2020', 'eligibility_list', l.id, now()
  FROM billing_account a
  JOIN workflow_eligibilitylist l ON l.district_id = a.district_id AND l.policy_id = 'discount-2020'
       AND l.state NOT IN ('rejected', 'withdrawn')
 ORDER BY a.id
"""

# The engine's arithmetic (posting_benchmark.SINGLE_SQL): 5% of each line, each rounded half away from zero.
DISCOUNT_SQL = """
INSERT INTO billing_ledgerentry (account_id, bill_id, period, kind, seq, amount, cause_type, cause_id, job_id,
                                 posted_at)
SELECT b.account_id, b.id, b.period, 'discount', 1, d.amount, g.cause_type, g.cause_id, NULL, now()
  FROM billing_bill b
  JOIN billing_grant g ON g.account_id = b.account_id AND g.kind = 'discount' AND g.policy_id = 'discount-2020'
 CROSS JOIN LATERAL (
       SELECT round(b.energy_charge * 0.05, 2) + round(b.basic_charge * 0.05, 2)
            + round(b.power_factor_charge * 0.05, 2) AS amount
 ) AS d
 WHERE d.amount <> 0
 ORDER BY b.account_id, b.period
"""

# The approved and settled applications' relief (one posting per bill and kind: ON CONFLICT keeps the first).
CREDITS_SQL = {
    # Suspensions and capacity reductions in the two-part window: half the basic charge, three months.
    "basic_charge_credit": """
        SELECT b.account_id, b.id, b.period, round(b.basic_charge * 0.5, 2), ap.id
          FROM workflow_application ap
          JOIN billing_bill b ON b.account_id = ap.account_id
               AND b.period >= date_trunc('month', ap.received_on)::date
               AND b.period < (date_trunc('month', ap.received_on) + interval '3 months')::date
               AND b.period <= '2020-06-01'
         WHERE ap.kind IN ('capacity_reduction', 'suspension') AND ap.relief
           AND ap.state IN ('approved', 'settled') AND b.basic_charge > 0
    """,
    # Expanded-capacity demand relief: 15% of the basic charge, three months.
    "demand_relief_credit": """
        SELECT b.account_id, b.id, b.period, round(b.basic_charge * 0.15, 2), ap.id
          FROM workflow_application ap
          JOIN billing_bill b ON b.account_id = ap.account_id
               AND b.period >= date_trunc('month', ap.received_on)::date
               AND b.period < (date_trunc('month', ap.received_on) + interval '3 months')::date
         WHERE ap.kind = 'demand_relief' AND ap.state IN ('approved', 'settled') AND b.basic_charge > 0
    """,
    # 三零服务: the connection investment waived, on the bill of the month received.
    "investment_waiver": """
        SELECT b.account_id, b.id, b.period, 2000 + (ap.id %% 40) * 500, ap.id
          FROM workflow_application ap
          JOIN billing_bill b ON b.account_id = ap.account_id
               AND b.period = date_trunc('month', ap.received_on)::date
         WHERE ap.kind = 'new_connection' AND ap.state IN ('approved', 'settled')
    """,
    # 欠费不停电: late fees waived from the month received on.
    "late_fee_waiver": """
        SELECT b.account_id, b.id, b.period, b.late_fee, ap.id
          FROM workflow_application ap
          JOIN billing_bill b ON b.account_id = ap.account_id
               AND b.period >= date_trunc('month', ap.received_on)::date
         WHERE ap.kind = 'arrears_protection' AND ap.state IN ('approved', 'settled') AND b.late_fee > 0
    """,
}
CREDIT_INSERT = """
INSERT INTO billing_ledgerentry (account_id, bill_id, period, amount, cause_id, kind, seq, cause_type, job_id,
                                 posted_at)
SELECT c.*, %(kind)s, 1, 'application', NULL, now() FROM ({select}) AS c (account_id, bill_id, period, amount, app)
 ORDER BY 1, 3
ON CONFLICT (bill_id, kind, seq) DO NOTHING
"""
# The grants the approvals wrote (a late-fee waiver makes the account protected, M10).
APPLICATION_GRANTS_SQL = """
INSERT INTO billing_grant (account_id, kind, policy_id, cause_type, cause_id, capacity_kva, seal_date, created_at)
SELECT ap.account_id,
       CASE ap.kind WHEN 'arrears_protection' THEN 'late_fee_waiver' WHEN 'demand_relief' THEN 'demand_relief'
                    ELSE 'seal' END,
       CASE WHEN ap.kind = 'arrears_protection' THEN 'discount-2020' ELSE 'two-part-relief-2020' END,
       'application', ap.id, ap.capacity_kva, ap.seal_date, now()
  FROM workflow_application ap
 WHERE ap.state IN ('approved', 'settled')
   AND (ap.kind IN ('arrears_protection', 'demand_relief') OR (ap.kind IN ('capacity_reduction', 'suspension')
        AND ap.relief))
"""


# --- the data set: lists, applications and decisions ------------------------------------------

# (state, weight) of applications.
STATE_WEIGHTS = (
    ("draft", 8),
    ("pending_district", 10),
    ("pending_city", 8),
    ("pending_head", 6),
    ("pending_leader", 5),
    ("approved", 15),
    ("settled", 28),
    ("rejected", 12),
    ("withdrawn", 8),
)
# (kind, weight, which accounts may apply).
KIND_WEIGHTS = (
    ("capacity_reduction", 10, "capacity"),
    ("suspension", 12, "capacity"),
    ("reduction_restore", 4, "capacity"),
    ("suspension_restore", 4, "capacity"),
    ("method_change", 5, "large_industrial"),
    ("demand_relief", 8, "demand"),
    ("new_connection", 10, "any"),
    ("capacity_increase", 5, "large_industrial"),
    ("arrears_protection", 42, "general_commercial"),
)
CHANNEL_WEIGHTS = (
    ("counter", 25),
    ("paper_proxy", 5),
    ("hotline_95598", 10),
    ("wechat", 25),
    ("app_wsgw", 20),
    ("app_zsdl", 10),
    ("site_visit", 5),
)
CAPACITY_KINDS = ("capacity_reduction", "suspension", "reduction_restore", "suspension_restore")
# The path up the chain: (level, action, from state, to state).
CHAIN = (
    ("report_1", "submit", "draft", "pending_district"),
    ("report_2", "approve", "pending_district", "pending_city"),
    ("approval_1", "approve", "pending_city", "pending_head"),
    ("approval_2", "approve", "pending_head", "pending_leader"),
    ("approval_3", "approve", "pending_leader", "approved"),
)
FORWARD = {"draft": 0, "pending_district": 1, "pending_city": 2, "pending_head": 3, "pending_leader": 4, "approved": 5}
LEVEL_OF = {
    "pending_district": "report_2",
    "pending_city": "approval_1",
    "pending_head": "approval_2",
    "pending_leader": "approval_3",
}
REASON_CODES = ("not_eligible", "incomplete", "verification_failed", "wrong_data", "duplicate", "outside_window")


def build_staff(districts: list) -> dict:
    from organisation.services import staff_upsert

    def person(username, roles, district=None):
        return staff_upsert(username=username, roles=roles, district=district, password=None)[0]

    return {
        "manager": person("dbench-manager", ["manager"]),
        "clerks": {d.pk: person(f"dbench-clerk-{d.code}", ["clerk"], d) for d in districts},
        "reviewers": {d.pk: person(f"dbench-reviewer-{d.code}", ["district_reviewer"], d) for d in districts},
        "approval_1": person("dbench-city", ["city_reviewer"]),
        "approval_2": person("dbench-head", ["department_head"]),
        "approval_3": person("dbench-leader", ["leader"]),
    }


def _path(item, state: str, start: dt.datetime, step: dt.timedelta, rng: random.Random, actors, seen: dict) -> list:
    """The decisions that brought ``item`` from draft to ``state``; sets its ``state_changed_at``.

    ``seen``: the snapshot each decision keeps (what the decider saw, ``workflow.services.item_snapshot``),
    so that decision rows are as wide as the portal's (≈ 350 bytes of JSON for an application).

    Some items were returned once by the district reviewer on the way; rejections happen at the
    level the item had reached, with a reason code; withdrawals at report level 1; settlements
    are system decisions.
    """
    from workflow.models import Application, Decision

    field = "application" if isinstance(item, Application) else "eligibility_list"
    rows: list[Decision] = []
    at = start

    def decide(level, action, from_state, to_state, **extra):
        nonlocal at
        arrived = at  # the item reached this level with the previous decision (or its creation)
        at = at + step * rng.uniform(0.3, 1.7)
        rows.append(
            Decision(
                **{field: item},
                level=level,
                action=action,
                from_state=from_state,
                to_state=to_state,
                actor=actors.get(level),
                at=at,
                arrived_at=arrived,
                snapshot={**seen, "state": from_state},
                **extra,
            )
        )

    forward = FORWARD.get(state, 0)
    end = None
    if state == "settled":
        forward = 5
    elif state == "rejected":
        forward = rng.randint(1, 4)
        end = ("reject", CHAIN[forward - 1][3])
    elif state == "withdrawn":
        forward = rng.randint(0, 1)
        end = ("withdraw", CHAIN[forward - 1][3] if forward else "draft")
    if forward >= 1 and rng.random() < 0.15:  # returned once by the district reviewer
        decide(*CHAIN[0])
        decide("report_2", "return", "pending_district", "draft", reason="材料不全，请补充")
    for level, action, from_state, to_state in CHAIN[:forward]:
        decide(level, action, from_state, to_state)
    if end and end[0] == "reject":
        reached = end[1]
        decide(
            LEVEL_OF[reached], "reject", reached, "rejected", reason_code=rng.choice(REASON_CODES), reason="不予受理"
        )
    elif end:
        decide("report_1", "withdraw", end[1], "withdrawn", reason="客户撤回")
    elif state == "settled":
        decide("system", "settle", "approved", "settled", policy_reason="posted")
    item.state_changed_at = at
    return rows


def build_lists(districts: list, staff: dict) -> int:
    """One settled 95% list per district, three rejected ones before them, three two-part lists in
    the chain. Returns how many lists it made."""
    from django.db import transaction

    from workflow.models import Decision, EligibilityList

    rng = random.Random(SEED + 1)
    items, decisions = [], []
    specs = [(d, "discount-2020", "settled") for d in districts]
    specs += [(d, "discount-2020", "rejected") for d in districts[:3]]
    specs += [
        (d, "two-part-relief-2020", s)
        for d, s in zip(districts[3:6], ("pending_city", "pending_head", "pending_leader"), strict=True)
    ]
    for district, policy, state in specs:
        created = dt.datetime(2020, 1, 20 if state == "rejected" else 25, 9, tzinfo=dt.UTC)
        item = EligibilityList(
            policy_id=policy,
            district=district,
            state=state,
            created_by=staff["clerks"][district.pk],
            submitted_by=staff["clerks"][district.pk],
            created_at=created,
        )
        actors = {
            "report_1": staff["clerks"][district.pk],
            "report_2": staff["reviewers"][district.pk],
            **{k: staff[k] for k in ("approval_1", "approval_2", "approval_3")},
        }
        seen = {
            "district": district.name,
            "policy": policy,
            "accounts": 20_000,
            "forecast_accounts": 20_000,
            "forecast_reduction": "12345678.90",
        }
        item_decisions = _path(item, state, created, dt.timedelta(hours=20), rng, actors, seen)
        items.append(item)
        decisions.append(item_decisions)
    with transaction.atomic():
        EligibilityList.objects.bulk_create(items)
        for item, rows in zip(items, decisions, strict=True):
            for row in rows:
                row.eligibility_list = item
        Decision.objects.bulk_create([row for rows in decisions for row in rows])
    return len(items)


def build_applications(n: int, staff: dict, batch: int = 5000) -> int:
    """``n`` applications with their decisions (states set at creation). Returns the decisions' count."""
    from django.db import transaction

    from billing.models import Account
    from organisation.models import District
    from workflow.models import Application, Decision

    rng = random.Random(SEED + 2)
    pools: dict[str, list[tuple[int, int, str]]] = {"any": [], "large_industrial": [], "general_commercial": []}
    pools["capacity"], pools["demand"] = [], []
    for pk, district_id, category, method, account_no in Account.objects.values_list(
        "pk", "district_id", "category", "basic_charge_method", "account_no"
    ).order_by("pk"):
        pools["any"].append((pk, district_id, account_no))
        pools[category].append((pk, district_id, account_no))
        if method:
            pools[method].append((pk, district_id, account_no))
    names = dict(District.objects.values_list("pk", "name"))
    states, state_w = zip(*STATE_WEIGHTS, strict=True)
    kinds = [k for k, _w, _p in KIND_WEIGHTS]
    kind_w = [w for _k, w, _p in KIND_WEIGHTS]
    pool_of = {k: p for k, _w, p in KIND_WEIGHTS}
    channels, channel_w = zip(*CHANNEL_WEIGHTS, strict=True)
    first, days = dt.date(2020, 2, 1), (dt.date(2020, 12, 28) - dt.date(2020, 2, 1)).days
    decisions = 0
    for start in range(0, n, batch):
        apps, paths = [], []
        for _ in range(min(batch, n - start)):
            kind = rng.choices(kinds, kind_w)[0]
            account_id, district_id, account_no = rng.choice(pools[pool_of[kind]])
            state = rng.choices(states, state_w)[0]
            received = first + dt.timedelta(days=rng.randrange(days))
            created = dt.datetime.combine(received, dt.time(9), tzinfo=dt.UTC) + dt.timedelta(hours=rng.uniform(0, 8))
            clerk = staff["clerks"][district_id]
            app = Application(
                state=state,
                district_id=district_id,
                account_id=account_id,
                kind=kind,
                channel=rng.choices(channels, channel_w)[0],
                received_on=received,
                capacity_kva=Decimal(rng.choice((315, 630, 1000))) if kind in CAPACITY_KINDS else None,
                seal_date=received + dt.timedelta(days=3) if kind in ("capacity_reduction", "suspension") else None,
                relief=kind in CAPACITY_KINDS and received <= dt.date(2020, 6, 30),
                created_by=clerk,
                submitted_by=None if state == "draft" else clerk,
                created_at=created,
                state_changed_at=created,
                reason=TAG,
            )
            actors = {
                "report_1": clerk,
                "report_2": staff["reviewers"][district_id],
                **{k: staff[k] for k in ("approval_1", "approval_2", "approval_3")},
            }
            seen = {
                "district": names[district_id],
                "kind": kind,
                "account_no": account_no,
                "channel": app.channel,
                "received_on": received.isoformat(),
                "capacity_kva": str(app.capacity_kva) if app.capacity_kva is not None else None,
                "seal_date": app.seal_date.isoformat() if app.seal_date else None,
                "restore_date": None,
                "relief": app.relief,
                "verification": (
                    {
                        "meter_check": "confirmed",
                        "survey_date": received.isoformat(),
                        "surveyor": "王工",
                        "seal_number": f"FH{account_id:08d}",
                    }
                    if kind in CAPACITY_KINDS
                    else None
                ),
            }
            step = dt.timedelta(hours=rng.choice((6, 20, 40, 70)))
            paths.append(_path(app, state, created, step, rng, actors, seen))
            apps.append(app)
        with transaction.atomic():
            Application.objects.bulk_create(apps)
            rows = []
            for app, path in zip(apps, paths, strict=True):
                for row in path:
                    row.application = app
                    rows.append(row)
            Decision.objects.bulk_create(rows, batch_size=batch)
        decisions += len(rows)
    return decisions


def build(accounts: int, applications: int, rebuild: bool, staff_fn) -> dict:
    """The whole data set (reused when it is there at this size). Returns the staff."""
    from django.db import transaction

    from organisation.models import District
    from workflow.models import Application

    districts = list(District.objects.order_by("sort_order", "code"))
    have = (
        common.scalar("SELECT count(*) FROM billing_account"),
        common.scalar("SELECT count(*) FROM billing_bill"),
        Application.objects.filter(reason=TAG).count(),
        common.scalar("SELECT count(*) FROM workflow_application"),
    )
    staff = staff_fn(districts)
    if not rebuild and have == (accounts, accounts * len(MONTHS), applications, applications):
        print(f"reusing {have[0]:,} accounts, {have[1]:,} bills, {have[2]:,} applications")
        return staff
    started = time.perf_counter()
    common.execute(
        "TRUNCATE billing_statsaccountmonth, billing_statsmonth, billing_statstotal, billing_ledgerentry,"
        " billing_postingchunk, billing_postingjob, billing_grant, billing_bill, billing_account,"
        " workflow_decision, workflow_application, workflow_eligibilityentry, workflow_eligibilitylist"
        " RESTART IDENTITY CASCADE"
    )

    def step(name, fn):
        t0 = time.perf_counter()
        rows = fn()
        print(f"  {name}: {rows:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)

    step("accounts", lambda: common.execute(ACCOUNTS_SQL, {"accounts": accounts}))
    step("bills", lambda: common.execute(BILLS_SQL, {"first": MONTHS[0], "last": MONTHS[-1]}))
    step("eligibility lists (with their decisions)", lambda: build_lists(districts, staff))
    step("discount grants", lambda: common.execute(GRANTS_SQL))
    step("discount ledger entries", lambda: common.execute(DISCOUNT_SQL))
    decisions = [0]

    def apps():
        decisions[0] = build_applications(applications, staff)
        return applications

    step("applications", apps)
    print(f"  (with {decisions[0]:,} decisions)")
    step("application grants", lambda: common.execute(APPLICATION_GRANTS_SQL))
    for kind, select in CREDITS_SQL.items():
        step(
            f"{kind} entries",
            lambda kind=kind, select=select: common.execute(CREDIT_INSERT.format(select=select), {"kind": kind}),
        )
    # The lists' forecast before approval: the accounts and the discount as the ledger has them, give or take.
    with transaction.atomic():
        common.execute(
            """
            UPDATE workflow_eligibilitylist l
               SET forecast_accounts = f.accounts * (97 + l.district_id % 6) / 100,
                   forecast_reduction = round(f.amount * (94 + l.district_id % 9) / 100, 2),
                   forecast_billed = round(f.amount * 2 / 11, 2),
                   forecast_at = l.created_at
              FROM (SELECT cause_id, count(DISTINCT account_id) AS accounts, sum(amount) AS amount
                      FROM billing_ledgerentry WHERE kind = 'discount' GROUP BY cause_id) f
             WHERE f.cause_id = l.id
            """
        )
    t0 = time.perf_counter()
    common.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
    print(f"built in {time.perf_counter() - started:.1f} s")
    return staff


# --- the summary rows ---------------------------------------------------------------------------


def refresh(chunk_accounts: int) -> dict:
    from django.core.management import call_command

    from billing import stats

    out = io.StringIO()
    t0 = time.perf_counter()
    call_command("refresh_stats", stdout=out)
    full_s = time.perf_counter() - t0
    print(f"refresh_stats (full rebuild): {full_s:.1f} s — {out.getvalue().strip()}", flush=True)
    t0 = time.perf_counter()
    common.execute("VACUUM ANALYZE billing_statsaccountmonth, billing_statsmonth, billing_statstotal")
    print(f"  VACUUM ANALYZE of the summary tables in {time.perf_counter() - t0:.1f} s")
    low = common.scalar("SELECT min(id) FROM billing_account") + 10 * chunk_accounts
    t0 = time.perf_counter()
    result = stats.stats_refresh(account_from=low, account_to=low + chunk_accounts - 1)
    chunk_s = time.perf_counter() - t0
    print(
        f"stats_refresh of one posting chunk ({chunk_accounts:,} accounts, {result.account_months:,} account-months, "
        f"nothing changed): {chunk_s * 1000:.0f} ms"
    )
    sizes = {
        t: common.scalar(f"SELECT count(*) FROM {t}")  # noqa: S608 - the benchmark's own table names
        for t in ("billing_statsaccountmonth", "billing_statsmonth", "billing_statstotal")
    }
    print("summary rows: " + ", ".join(f"{t.removeprefix('billing_')} {n:,}" for t, n in sizes.items()))
    return {"full_s": full_s, "chunk_s": chunk_s, "sizes": sizes, "chunk_months": result.account_months}


def reconcile() -> list[str]:
    """The whole programme's yuan per measure: the summary cells against the ledger, in SQL."""
    problems = []
    ledger = dict(_rows("SELECT kind, sum(amount) FROM billing_ledgerentry GROUP BY kind"))
    cells = dict(_rows("SELECT metric, sum(amount) FROM billing_statstotal GROUP BY metric"))
    months = dict(_rows("SELECT metric, sum(amount) FROM billing_statsmonth GROUP BY metric"))
    for kind, amount in sorted(ledger.items()):
        if cells.get(kind) != amount or months.get(kind) != amount:
            problems.append(f"{kind}: ledger {amount}, totals {cells.get(kind)}, months {months.get(kind)}")
    if cells.get("all") != sum(ledger.values()):
        problems.append(f"all: ledger {sum(ledger.values())}, totals {cells.get('all')}")
    benefited = common.scalar("SELECT count(DISTINCT account_id) FROM billing_ledgerentry WHERE kind = 'discount'")
    counted = common.scalar("SELECT sum(accounts) FROM billing_statstotal WHERE metric = 'discount'")
    if benefited != counted:
        problems.append(f"discount accounts: ledger {benefited}, totals {counted}")
    print(
        "ledger: "
        + ", ".join(f"{k} {v:,.2f}" for k, v in sorted(ledger.items()))
        + f"; accounts with a discount {benefited:,}"
    )
    print("summary cells reconcile with the ledger: " + ("yes" if not problems else "NO\n  " + "\n  ".join(problems)))
    return problems


def _rows(sql: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- the measurement ---------------------------------------------------------------------------


def table_of(sql: str) -> str:
    match = re.search(r'FROM "?(\w+)"?', sql)
    return match.group(1) if match else "?"


def table_row(r: dict) -> str:
    """One page's line of the results table."""
    slowest = f"{r['slowest_ms']:.1f}ms {r['slowest_table']}"
    return (
        f"{r['label']:<44} {r['median']:>6.1f}ms {r['p90']:>6.1f}ms {r['min']:>6.1f}ms {r['queries']:>7} "
        f"{r['sql_ms']:>6.1f}ms {slowest:>24} {r['bytes'] / 1024:>6.0f}"
    )


def measure(label: str, client, url: str, query: dict, *, repeat: int, warmup: int, profile: bool) -> dict:
    response, times = common.time_requests(
        client, url, query, label=label, repeat=repeat, warmup=warmup, show_body=True
    )
    size = len(response.content)
    # The queries of one request (apart from the timed ones), each timed with an execute wrapper.
    sql_ms: list[float] = []
    for _ in range(5):
        captured, timings = common.traced_request(client, url, query)
        sql_ms.append(sum(ms for _sql, ms in timings))
    queries = [q["sql"] for q in captured]
    slowest_i = max(range(len(timings)), key=lambda i: timings[i][1])
    slowest_sql = queries[slowest_i]
    summary, plan = common.explain(slowest_sql)
    result = {
        "label": label,
        "median": statistics.median(times),
        "p90": common.percentile(times, 90),
        "min": min(times),
        "queries": len(queries),
        "sql_ms": statistics.median(sql_ms),
        "bytes": size,
        "slowest_ms": timings[slowest_i][1],
        "slowest_sql": slowest_sql,
        "slowest_table": table_of(slowest_sql),
        "plan_summary": summary,
        "plan": plan,
        "all": [(sql, ms) for sql, (_raw, ms) in zip(queries, timings, strict=True)],
    }
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(url, query)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        result["profile"] = out.getvalue()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--applications", type=int, default=20_000)
    common.add_request_options(parser)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the data set")
    parser.add_argument("--no-refresh", action="store_true", help="keep the summary rows as they are")
    parser.add_argument("--sql", action="append", default=[], help="statements to run before measuring")
    parser.add_argument("--profile", action="store_true", help="cProfile one request of each page")
    parser.add_argument("--queries", action="store_true", help="print every query of one request per page")
    parser.add_argument("--plans", action="store_true", help="print the slowest query's full plan per page")
    args = parser.parse_args()

    common.setup_django(no_debug=True)  # no query log while building
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from django.utils import translation

    from billing.posting import chunk_accounts

    common.refuse_sqlite("a throwaway database")

    call_command("migrate", interactive=False, verbosity=0)
    print(common.machine(load_average=True))
    staff = build(args.accounts, args.applications, args.rebuild, build_staff)
    counts = {
        "accounts": common.scalar("SELECT count(*) FROM billing_account"),
        "bills": common.scalar("SELECT count(*) FROM billing_bill"),
        "ledger entries": common.scalar("SELECT count(*) FROM billing_ledgerentry"),
        "applications": common.scalar("SELECT count(*) FROM workflow_application"),
        "decisions": common.scalar("SELECT count(*) FROM workflow_decision"),
        "eligibility lists": common.scalar("SELECT count(*) FROM workflow_eligibilitylist"),
    }
    print("data set: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    per_kind = _rows("SELECT kind, count(*) FROM billing_ledgerentry GROUP BY 1 ORDER BY 2 DESC")
    print("ledger entries by kind: " + ", ".join(f"{k} {n:,}" for k, n in per_kind))
    if not args.no_refresh:
        refresh(chunk_accounts())
    reconcile()
    for statement in args.sql:
        t0 = time.perf_counter()
        common.execute(statement)
        print(f"ran {statement!r} in {time.perf_counter() - t0:.2f} s")
    if args.sql:
        common.execute("ANALYZE")

    manager = staff["manager"]
    reviewer = next(u for pk, u in staff["reviewers"].items() if u.district.code == HOME_DISTRICT)
    dashboard, api = reverse("dashboard"), reverse("api:stats")
    pages = [
        ("dashboard, no filter", manager, dashboard, {}, "dashboard"),
        (f"dashboard, district={HOME_DISTRICT}", manager, dashboard, {"district": HOME_DISTRICT}, "dashboard"),
        (f"dashboard, period={PERIOD}", manager, dashboard, {"period": PERIOD}, "dashboard"),
        ("GET /api/v1/stats/, no filter", manager, api, {}, "api"),
        # Beyond the brief: the other filters, a district reviewer, the API filtered.
        ("dashboard, category=large_industrial", manager, dashboard, {"category": "large_industrial"}, "dashboard"),
        (
            "dashboard, all three filters",
            manager,
            dashboard,
            {"period": PERIOD, "district": HOME_DISTRICT, "category": "general_commercial"},
            "dashboard",
        ),
        (f"dashboard, district reviewer ({HOME_DISTRICT})", reviewer, dashboard, {}, "dashboard"),
        (f"GET /api/v1/stats/?period={PERIOD}", manager, api, {"period": PERIOD}, "api"),
        (f"GET /api/v1/stats/?district={HOME_DISTRICT}", manager, api, {"district": HOME_DISTRICT}, "api"),
    ]

    translation.activate("zh-hans")
    load_before = os.getloadavg()[0]
    results = []
    with common.as_in_production():
        for label, user, url, query, kind in pages:
            client = Client()
            client.force_login(user)
            r = measure(label, client, url, query, repeat=args.repeat, warmup=args.warmup, profile=args.profile)
            r["kind"] = kind
            results.append(r)
            print(f"  measured {label}: {r['median']:.1f} ms", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]

    print(
        f"\n{args.repeat} requests per page after {args.warmup} untimed, in process (no network), DEBUG=False, "
        f"zh-hans; load average {load_before:.2f} before, {load:.2f} after"
    )
    header = (
        f"{'page':<44} {'median':>8} {'p90':>8} {'min':>8} {'queries':>7} {'SQL':>8} {'slowest query':>24} {'KB':>6}"
    )
    common.print_table(header, map(table_row, results))
    common.print_plan_summaries("the slowest query of each page, EXPLAIN (ANALYZE, BUFFERS)", results, 44)
    first = results[0]
    common.print_plan(f"slowest query of '{first['label']}'", first["slowest_sql"], first["plan"])
    if args.plans:
        for r in results[1:]:
            common.print_plan(r["label"], r["slowest_sql"], r["plan"])
    if args.queries:
        for r in results:
            print(f"\n{r['label']}:")
            for sql, ms in r["all"]:
                print(f"  {ms:7.2f} ms  {sql[:300]}")
    if args.profile:
        for r in results:
            print(f"\n--- profile: {r['label']}\n{r['profile']}")
    missed = [
        f"{r['label']} ({r['median']:.0f} ms ≥ {TARGETS[r['kind']]:.0f})"
        for r in results[:4]
        if r["median"] >= TARGETS[r["kind"]]
    ]
    print(
        "\ntargets (dashboard median < 200 ms, stats API median < 100 ms): "
        + ("met" if not missed else "missed by " + ", ".join(missed))
    )


if __name__ == "__main__":
    main()
