"""Benchmark of the posting batch (billing.posting, billing.tasks) at full size, on real workers.

    eval "$(scripts/test-servers.sh start /tmp/pbench)"     # throwaway PostgreSQL 15 + Redis
    DATABASE_URL=… CELERY_BROKER_URL=… .venv/bin/python benchmarks/posting_benchmark.py --accounts 200000

Builds (or reuses, when it is there at the requested size) ``--accounts`` eligible accounts with one
bill for each month 2020-02 … 2020-12 — 2,200,000 bills for 200,000 accounts — with
``INSERT … SELECT generate_series`` (amounts derived from the ids: deterministic, half-fen ties,
negative power-factor lines, two-part tariffs on every fifth account), and one approved
eligibility list granting the 95% discount to all of them (grants in SQL).
Then, against an empty ledger:

(a) the portal's batch: ``--workers`` real ``celery -A portal worker --concurrency=1`` processes on
    the Redis; ``billing.posting_job_run`` is enqueued and the clock stops when the job row says
    ``done``. Reports seconds, entries, chunk task times (from the workers' logs) and each worker
    process's peak RSS (``VmHWM`` of the main process and its pool child, read from /proc);
(a+) informative: when the dashboard caught up — every chunk's summary refresh (a task each chunk
    queues after it commits, behind the job's other chunks) done — and ``stats_check()`` on the
    result (every cell equal to the ledger);
(b) the idempotent re-run: every chunk's ``done_at`` reset, the job enqueued again: seconds and
    entries inserted (must be 0);
(c) one hand-written ``INSERT … SELECT`` computing the same amounts into the portal's ledger, emptied
    for it (the batch's entries kept aside): the same table, constraints and indexes, with
    ``ON CONFLICT (bill_id, kind, seq) DO NOTHING`` as the batch posts, commit included; checked to
    hold exactly the batch's entries;
(c0) informative: the same statement into a scratch copy (``CREATE TABLE … (LIKE billing_ledgerentry
    INCLUDING ALL)``: the ledger's columns, checks and indexes, but no foreign keys) without
    ``ON CONFLICT``: what the rows cost without the ledger's integrity checks.

Prints the times and the ratios, and for each phase the CPU the benchmark's processes used and
what the rest of the machine used meanwhile (other people's test runs share the cores). Targets
(docs/benchmarks.md, "Posting"): (a) no slower than (c); (b) under 20% of (a); every worker
process under 300 MB.

Options: ``--chunk-accounts N`` plans the job in this process with ``PORTAL_POSTING_CHUNK_ACCOUNTS=N``
(timed as part of (a)) instead of letting the worker plan it with the default;
``--sql "…"`` runs statements first (e.g. to try an index by hand: they stay until dropped);
``--rebuild`` regenerates the data. PostgreSQL only (SQLite is refused): only ever against a
throwaway database — it empties the billing tables. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

LIST_ID = 900_001  # the benchmark's eligibility list (cause id)
MONTHS = range(2, 13)  # 2020-02 … 2020-12
TARGETS = {"ratio_single": 1.0, "ratio_rerun": 0.20, "rss_mb": 300}


# --- data -------------------------------------------------------------------------------------

# Every account is eligible (M1): general commercial or large industrial, no excluded division.
ACCOUNTS_SQL = common.accounts_sql()

# Amounts from a hash of (account, month); basic and power-factor lines as the import would hold them.
BILLS_SQL = f"""{common.BILLS_INSERT}
SELECT x.account_id, x.period, x.kwh, x.energy, x.basic_rate, x.max_demand, x.basic, x.pf_rate,
       round((x.energy + x.basic) * x.pf_rate, 2), x.late_fee, 0, now()
  FROM (
    {common.BILL_AMOUNTS_SQL}
  ) AS x
 ORDER BY x.account_id, x.period
"""  # noqa: S608 - common.py's constants

GRANTS_SQL = """
INSERT INTO billing_grant (account_id, kind, policy_id, cause_type, cause_id, created_at)
SELECT id, 'discount', 'discount-2020', 'eligibility_list', %(list)s, now() FROM billing_account ORDER BY id
"""

# (c): the same amounts by hand, in one statement, for an empty ledger: into the portal's ledger with
# ON CONFLICT as the batch posts (``{table}`` billing_ledgerentry), or (c0) into a scratch copy
# without foreign keys and without ON CONFLICT (``{table}`` bench_ledger, ``{conflict}`` empty).
SINGLE_SQL = """
INSERT INTO {table} (account_id, bill_id, period, kind, seq, amount, cause_type, cause_id, job_id, posted_at)
SELECT b.account_id, b.id, b.period, 'discount', 1, d.amount, g.cause_type, g.cause_id, %(job)s, now()
  FROM billing_bill b
  JOIN billing_account a ON a.id = b.account_id
  JOIN billing_grant g ON g.account_id = b.account_id AND g.kind = 'discount' AND g.policy_id = 'discount-2020'
 CROSS JOIN LATERAL (
       SELECT round(b.energy_charge * 0.05, 2) + round(b.basic_charge * 0.05, 2)
            + round(b.power_factor_charge * 0.05, 2) AS amount
 ) AS d
 WHERE b.period BETWEEN '2020-02-01' AND '2020-12-01'
   AND a.category IN ('general_commercial', 'large_industrial')
   AND left(a.industry_code, 2) NOT IN ('25', '26', '30', '31', '32', '44')
   AND d.amount <> 0
{conflict}"""
CONFLICT = "ON CONFLICT (bill_id, kind, seq) DO NOTHING"

# What two ledgers are compared by (the posting time and the entry ids differ by construction).
ENTRY_COLUMNS = "bill_id, kind, seq, amount, cause_type, cause_id"


# --- CPU accounting: how much of the machine the benchmark had --------------------------------


def _jiffies(pid: int) -> int:
    """utime + stime + cutime + cstime of a process (its reaped children included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:15])


def _tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid] + [p for child in children for p in _tree(int(child))]


class CpuClock:
    """CPU seconds used by the machine and by this benchmark's processes (PostgreSQL, workers, self).

    ``others`` is what the rest of the machine used meanwhile (other people's test runs): it tells
    how many of the cores the benchmark really had.
    """

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> tuple[float, float, float]:
        busy = 0
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("cpu "):
                values = [int(x) for x in line.split()[1:]]
                busy = sum(values) - values[3] - values[4]  # all but idle and iowait
                break
        mine = sum(_jiffies(pid) for root in self.roots for pid in _tree(root))
        return time.perf_counter(), busy / self.tick, mine / self.tick

    @staticmethod
    def report(start: tuple[float, float, float], end: tuple[float, float, float]) -> str:
        wall = end[0] - start[0]
        busy, mine = end[1] - start[1], end[2] - start[2]
        return (
            f"CPU: benchmark {mine / wall:.2f} cores, others {max(busy - mine, 0) / wall:.2f} cores "
            f"(of {os.cpu_count()})"
        )


def postmaster_pid() -> int | None:
    """The PostgreSQL server's process when it runs on this machine (for CPU accounting)."""
    pid = common.scalar("SELECT pg_backend_pid()")
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^PPid:\s+(\d+)", status, re.M)
    return int(match.group(1)) if match else None


def autovacuums() -> int:
    return common.scalar(
        "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables"
        " WHERE relname LIKE 'billing_%%'"
    )


def build(accounts: int, rebuild: bool) -> None:
    """The accounts, bills and grants (reused when there at this size)."""
    have = common.scalar("SELECT count(*) FROM billing_account")
    bills = common.scalar("SELECT count(*) FROM billing_bill")
    grants = common.scalar("SELECT count(*) FROM billing_grant WHERE cause_id = %s", [LIST_ID])
    if not rebuild and have == accounts and bills == accounts * len(MONTHS) and grants == accounts:
        print(f"reusing {have:,} accounts, {bills:,} bills, {grants:,} grants")
        return
    started = time.perf_counter()
    common.execute(
        "TRUNCATE billing_ledgerentry, billing_postingchunk, billing_postingjob, billing_grant, billing_bill,"
        " billing_account RESTART IDENTITY CASCADE"
    )
    steps = [
        ("accounts", ACCOUNTS_SQL, {"accounts": accounts}),
        ("bills", BILLS_SQL, {"first": MONTHS[0], "last": MONTHS[-1]}),
        ("grants", GRANTS_SQL, {"list": LIST_ID}),
    ]
    for name, sql, params in steps:
        t0 = time.perf_counter()
        rows = common.execute(sql, params)
        print(f"  {name}: {rows:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    common.execute("VACUUM (ANALYZE) billing_account, billing_bill, billing_grant")
    print(f"built in {time.perf_counter() - started:.1f} s (with VACUUM ANALYZE)")


def empty_ledger():
    """An empty ledger and a fresh, unplanned job for the benchmark's list."""
    from billing.models import PostingJob

    common.execute("TRUNCATE billing_ledgerentry, billing_postingchunk, billing_postingjob RESTART IDENTITY CASCADE")
    common.execute("VACUUM (ANALYZE) billing_ledgerentry")
    return PostingJob.objects.create(cause_type="eligibility_list", cause_id=LIST_ID)


# --- workers ----------------------------------------------------------------------------------


class Worker:
    """One ``celery -A portal worker --concurrency=1`` process group of this benchmark's own."""

    def __init__(self, n: int, logdir: Path) -> None:
        self.log = logdir / f"worker{n}.log"
        env = {**os.environ, "PYTHONPATH": str(common.ROOT)}
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            f"--hostname=bench{n}-{os.getpid()}@%h",
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=common.ROOT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"worker did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        """The main process and its pool children."""
        pids = [self.proc.pid]
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            children = []
        return pids + [int(c) for c in children]

    def peak_rss_mb(self) -> dict[int, float]:
        peaks = {}
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                peaks[pid] = int(match.group(1)) / 1024
        return peaks

    def task_times(self, task: str = "billing.posting_chunk_run") -> list[float]:
        text = self.log.read_text(errors="replace")
        return [float(s) for s in re.findall(re.escape(task) + r"\[[^\]]+\] succeeded in ([0-9.]+)s", text)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # warm shutdown: the main process stops its pool
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this benchmark started
                self.proc.wait()


def run_job(job_id: int, chunk_accounts: int | None, timeout: float) -> float:
    """Enqueue the job and wait for its row to say done. Returns seconds."""
    from django.test import override_settings

    from billing import posting
    from billing.models import JobState, PostingJob
    from billing.tasks import posting_job_run

    started = time.perf_counter()
    if chunk_accounts:
        with override_settings(PORTAL_POSTING_CHUNK_ACCOUNTS=chunk_accounts):
            posting.job_plan(job=PostingJob.objects.get(pk=job_id))
    posting_job_run.delay(job_id)
    while True:
        state, error = PostingJob.objects.filter(pk=job_id).values_list("state", "error").get()
        if state == JobState.DONE:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            sys.exit(f"the job is not done after {timeout:.0f} s (state {state}, error {error!r})")
        time.sleep(0.05)


def wait_stats(job_id: int, timeout: float) -> float:
    """Seconds until no chunk of the job has its summary refresh pending (queued behind the chunks)."""
    from billing.models import PostingChunk

    started = time.perf_counter()
    pending = PostingChunk.objects.filter(job_id=job_id, stats_from__isnull=False, stats_done_at__isnull=True)
    while pending.exists():
        if time.perf_counter() - started > timeout:
            sys.exit(f"summary refreshes still pending after {timeout:.0f} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def rerun(job_id: int) -> None:
    """As if every chunk had to run again (a retry from scratch): done_at reset, the job not done."""
    from billing.models import JobState, PostingChunk, PostingJob

    PostingChunk.objects.filter(job_id=job_id).update(done_at=None)
    PostingJob.objects.filter(pk=job_id).update(
        state=JobState.RUNNING, chunks_done=0, entries_posted=0, finished_at=None
    )


def describe(workers: list[Worker], skip: list[int], task: str = "billing.posting_chunk_run") -> None:
    """The tasks' own times (from the workers' logs), past the first ``skip[n]`` of worker n."""
    times = sorted(t for w, n in zip(workers, skip, strict=True) for t in w.task_times(task)[n:])
    if times:
        print(
            f"    {len(times)} {task} tasks: median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s, "
            f"sum {sum(times):.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-accounts", type=int, default=None, help="plan here with this chunk size")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the accounts, bills and grants")
    parser.add_argument("--single-first", action="store_true", help="time (c) before (a)")
    parser.add_argument("--sql", action="append", default=[], help="statements to run first (e.g. an index)")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    common.setup_django(no_debug=True)  # no query log in this process or the workers
    from django.conf import settings
    from django.db import transaction

    from billing import stats
    from billing.models import LedgerEntry
    from portal.celery import app

    common.refuse_sqlite("a throwaway database")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        sys.exit("the batch runs on real workers: set CELERY_BROKER_URL=redis://… (a throwaway Redis)")

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(common.machine(load_average=True))
    build(args.accounts, args.rebuild)
    for statement in args.sql:
        t0 = time.perf_counter()
        common.execute(statement)
        print(f"ran {statement!r} in {time.perf_counter() - t0:.1f} s")
    bills = common.scalar("SELECT count(*) FROM billing_bill")

    def single(*, into_ledger: bool) -> tuple[float, int]:
        """(c) into the portal's emptied ledger, or (c0) into a scratch copy without foreign keys."""
        if into_ledger:
            common.execute("TRUNCATE billing_ledgerentry")
            common.execute("VACUUM (ANALYZE) billing_ledgerentry")
            sql = SINGLE_SQL.format(table="billing_ledgerentry", conflict=CONFLICT)
        else:
            common.execute("DROP TABLE IF EXISTS bench_ledger")
            common.execute("CREATE TABLE bench_ledger (LIKE billing_ledgerentry INCLUDING ALL)")
            sql = SINGLE_SQL.format(table="bench_ledger", conflict="")
        job_id = common.scalar("SELECT min(id) FROM billing_postingjob")
        clock_start = cpu.sample()
        with transaction.atomic():  # the commit (and the deferred FK checks) inside the time
            rows = common.execute(sql, {"job": job_id})
        clock_end = cpu.sample()
        seconds = clock_end[0] - clock_start[0]
        label = "(c) one INSERT … SELECT into the ledger" if into_ledger else "(c0) the same into a copy without FKs"
        print(
            f"{label}: {rows:,} rows in {seconds:.1f} s; {CpuClock.report(clock_start, clock_end)}",
            flush=True,
        )
        return seconds, rows

    def snapshot(name: str) -> None:
        """The ledger's entries as they are now, kept for the comparison at the end."""
        common.execute(f"DROP TABLE IF EXISTS {name}")
        common.execute(f"CREATE TABLE {name} AS SELECT {ENTRY_COLUMNS} FROM billing_ledgerentry")  # noqa: S608

    def differing(left: str, right: str) -> int:
        return common.scalar(
            f"""SELECT count(*) FROM (
                 (SELECT {ENTRY_COLUMNS} FROM {left} EXCEPT ALL SELECT {ENTRY_COLUMNS} FROM {right})
                 UNION ALL
                 (SELECT {ENTRY_COLUMNS} FROM {right} EXCEPT ALL SELECT {ENTRY_COLUMNS} FROM {left})) AS d"""  # noqa: S608
        )

    cpu = CpuClock([os.getpid()] + ([pm] if (pm := postmaster_pid()) else []))
    if args.single_first:
        scratch_s, _ = single(into_ledger=False)
        single_s, single_rows = single(into_ledger=True)
        snapshot("bench_first")

    job = empty_ledger()
    app.control.purge()  # this benchmark's own Redis: no stale tasks
    logdir = Path(tempfile.mkdtemp(prefix="posting-bench-"))
    workers = [Worker(n, logdir) for n in range(args.workers)]
    cpu.roots += [w.proc.pid for w in workers]
    try:
        for worker in workers:
            worker.wait_ready()
        print(f"{len(workers)} workers ready (logs in {logdir})", flush=True)

        vacuums = autovacuums()
        clock_start = cpu.sample()
        first_s = run_job(job.pk, args.chunk_accounts, args.timeout)
        clock_end = cpu.sample()
        job.refresh_from_db()
        entries = LedgerEntry.objects.count()
        print(
            f"(a) the portal's batch: {job.entries_posted:,} entries ({bills:,} bills) in {first_s:.1f} s, "
            f"{job.chunks_total} chunks; {CpuClock.report(clock_start, clock_end)}",
            flush=True,
        )
        describe(workers, [0] * len(workers))
        caught_s = first_s + wait_stats(job.pk, args.timeout)
        t0 = time.perf_counter()
        problems = stats.stats_check()
        print(
            f"(a+) the dashboard caught up (every chunk's summary refresh done) at {caught_s:.1f} s; "
            f"refresh_stats --check: {len(problems)} cells differ from the ledger (checked in "
            f"{time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        describe(workers, [0] * len(workers), task="billing.posting_chunk_stats")
        seen = [len(w.task_times()) for w in workers]

        rerun(job.pk)
        clock_start = cpu.sample()
        rerun_s = run_job(job.pk, None, args.timeout)
        clock_end = cpu.sample()
        job.refresh_from_db()
        after = LedgerEntry.objects.count()
        rerun_posted = job.entries_posted
        print(
            f"(b) idempotent re-run: {rerun_posted:,} entries inserted (ledger {entries:,} → {after:,}) "
            f"in {rerun_s:.1f} s; {CpuClock.report(clock_start, clock_end)}; "
            f"autovacuum/analyze runs since (a) started: {autovacuums() - vacuums}",
            flush=True,
        )
        describe(workers, seen)
        seen = [len(w.task_times()) for w in workers]

        # Informative: the same re-run once VACUUM has set the new rows' hint bits and visibility map.
        common.execute("VACUUM (ANALYZE) billing_ledgerentry, billing_bill")
        rerun(job.pk)
        clock_start = cpu.sample()
        rested_s = run_job(job.pk, None, args.timeout)
        clock_end = cpu.sample()
        job.refresh_from_db()
        print(
            f"(b′) the re-run again after VACUUM: {job.entries_posted:,} entries in {rested_s:.1f} s; "
            f"{CpuClock.report(clock_start, clock_end)}",
            flush=True,
        )
        describe(workers, seen)
        peaks = {}
        for n, worker in enumerate(workers):
            for pid, mb in worker.peak_rss_mb().items():
                role = "main" if pid == worker.proc.pid else "pool child"
                peaks[f"worker {n} {role} ({pid})"] = mb
        for name, mb in peaks.items():
            print(f"  peak RSS {name}: {mb:.0f} MB")
    finally:
        for worker in workers:
            worker.stop()

    if not args.single_first:
        snapshot("bench_first")  # the batch's entries
        scratch_s, _ = single(into_ledger=False)
        single_s, single_rows = single(into_ledger=True)
    same = differing("billing_ledgerentry", "bench_first")
    same_scratch = differing("bench_ledger", "bench_first")
    print(
        f"    the single statement's entries vs the batch's: {same} differ ({single_rows:,} vs {entries:,}); "
        f"the scratch copy's: {same_scratch} differ"
    )
    common.execute("DROP TABLE bench_ledger, bench_first")

    peak = max(peaks.values()) if peaks else float("nan")
    ratio_single = first_s / single_s
    ratio_rerun = rerun_s / first_s
    ratio_scratch = first_s / scratch_s
    print()
    print(f"{'figure':<48} {'value':>10} {'target':>10} met")
    rows = [
        ("(a) batch, seconds", f"{first_s:.1f}", "", ""),
        ("(a+) dashboard caught up, seconds", f"{caught_s:.1f}", "", ""),
        ("(c) single statement into the ledger, seconds", f"{single_s:.1f}", "", ""),
        ("(a) / (c)", f"{ratio_single:.2f}", "≤ 1.00", ratio_single <= TARGETS["ratio_single"]),
        ("(c0) into a copy without FKs, seconds", f"{scratch_s:.1f}", "", ""),
        ("(a) / (c0)", f"{ratio_scratch:.2f}", "", ""),
        ("(b) re-run, seconds", f"{rerun_s:.1f}", "", ""),
        ("(b) / (a)", f"{ratio_rerun:.2f}", "< 0.20", ratio_rerun < TARGETS["ratio_rerun"]),
        ("(b) entries inserted", f"{rerun_posted}", "0", rerun_posted == 0 and after == entries),
        ("(b′) re-run after VACUUM, seconds", f"{rested_s:.1f}", "", ""),
        ("peak RSS of a worker process, MB", f"{peak:.0f}", "< 300", peak < TARGETS["rss_mb"]),
        ("single statement's ledger = batch's", "yes" if same == 0 else f"{same} differ", "yes", same == 0),
        ("scratch copy = batch's", "yes" if same_scratch == 0 else f"{same_scratch} differ", "yes", same_scratch == 0),
    ]
    for name, value, target, met in rows:
        mark = "" if met == "" else ("yes" if met else "NO")
        print(f"{name:<48} {value:>10} {target:>10} {mark}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
