"""The posting batch on real workers: duplicated tasks and a worker killed mid-batch (M9).

Whatever happens to the tasks — each run twice, twice at once, or a worker SIGKILLed in the middle
of a chunk's transaction and the job resumed by the sweep — the ledger ends identical, to the fen,
to one clean run computed separately by the engine: for each (bill, kind) with a target, exactly
one entry (seq 1) of the target's amount, caused by the job's list.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings

from billing import posting, services
from billing.models import (
    Account,
    Bill,
    CauseType,
    Grant,
    GrantKind,
    JobState,
    LedgerEntry,
    PostingChunk,
    PostingJob,
)
from billing.tasks import posting_chunk_run, posting_job_run, posting_sweep
from organisation.models import District

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery, pytest.mark.django_db(transaction=True)]

LIST_ID = 4242
PERIODS = [dt.date(2020, month, 1) for month in range(1, 13)]  # January is outside the window


# --- data and the clean run -------------------------------------------------------------------


def _dataset(accounts: int) -> PostingJob:
    """``accounts`` accounts on one approved list (≈ 1 in 10 also sealed in March, so the engine posts
    them; a few high-energy ones the rule excludes), a bill for every month of 2020; the list's job."""
    district = District.objects.first()
    rows = []
    for n in range(accounts):
        sealed = n % 10 == 3
        rows.append(
            Account(
                account_no=f"{2500000000 + n:010d}",
                name=f"测试企业{n}",
                district=district,
                category="large_industrial" if n % 4 == 0 or sealed else "general_commercial",
                industry_code="3011" if n % 17 == 5 else ("2770" if sealed else "5211"),
                high_energy=n % 17 == 5,
                voltage_kv=Decimal(10),
                basic_charge_method="capacity" if sealed else "",
                capacity_kva=Decimal(1000) if sealed else Decimal(0),
            )
        )
    created = Account.objects.bulk_create(rows)
    bills = []
    for n, account in enumerate(created):
        sealed = account.basic_charge_method == "capacity"
        for m, period in enumerate(PERIODS):
            energy = Decimal(10.10 if (n + m) % 7 == 0 else (n * 7919 + m * 104729) % 900000) / 100
            energy = energy.quantize(Decimal("0.01"))
            bills.append(
                Bill(
                    account=account,
                    period=period,
                    energy_kwh=Decimal(1000),
                    energy_charge=energy,
                    basic_rate=Decimal(25) if sealed else None,
                    basic_charge=Decimal("25000.00") if sealed else Decimal("0.00"),
                    power_factor_rate=Decimal("-0.0075") if n % 3 == 0 else Decimal(0),
                    power_factor_charge=Decimal("-10.10") if n % 3 == 0 else Decimal("0.00"),
                    late_fee=Decimal("1.00"),
                    paid=Decimal(0),
                )
            )
    Bill.objects.bulk_create(bills)
    with mock.patch("billing.services.job_enqueue"), transaction.atomic():  # the test enqueues
        job = services.grant_discount(
            policy_code="discount-2020", cause_id=LIST_ID, account_ids=[a.pk for a in created]
        )
    Grant.objects.bulk_create(
        [
            Grant(
                account=account,
                kind=GrantKind.SEAL,
                policy_id="two-part-relief-2020",
                cause_type=CauseType.APPLICATION,
                cause_id=9000 + account.pk,
                capacity_kva=Decimal(1000),
                seal_date=dt.date(2020, 3, 5),
                restore_date=dt.date(2020, 3, 20),
            )
            for account in created
            if account.basic_charge_method == "capacity"
        ]
    )
    return job


def _clean_run(job: PostingJob) -> list[tuple]:
    """What one clean run of ``job`` posts on an empty ledger, computed by the engine directly."""
    policies = posting.policy_terms()
    grants: dict[int, list[Grant]] = defaultdict(list)
    for grant in Grant.objects.order_by("id"):
        grants[grant.account_id].append(grant)
    accounts = Account.objects.in_bulk(list(grants))
    expected = []
    for bill in Bill.objects.filter(account_id__in=list(grants)):
        account_grants = grants[bill.account_id]
        result = posting.bill_targets(
            bill=bill, account=accounts[bill.account_id], grants=account_grants, policies=policies
        )
        for kind, amount in result.targets.by_kind().items():
            if amount:
                cause_type, cause_id = posting._cause_for(kind, account_grants, job, None)
                expected.append((bill.pk, kind, 1, amount, cause_type, cause_id, job.pk))
    return sorted(expected)


def _ledger() -> list[tuple]:
    return sorted(
        LedgerEntry.objects.values_list("bill_id", "kind", "seq", "amount", "cause_type", "cause_id", "job_id")
    )


def _plan(job: PostingJob, size: int) -> list[int]:
    with override_settings(PORTAL_POSTING_CHUNK_ACCOUNTS=size):
        return posting.job_plan(job=job)


def _wait(predicate, what: str, timeout: float = 30.0, workers=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    logs = "\n".join(w.log_text()[-3000:] for w in workers)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


# --- workers of this test's own -----------------------------------------------------------------


class Worker:
    """A ``celery -A portal worker`` in its own process group (so SIGKILL takes its pool children too)."""

    def __init__(self, log, concurrency: int) -> None:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                f"/{db['NAME']}"
            ),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--pool=prefork",
                    f"--concurrency={concurrency}",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=INFO",
                    f"--hostname={log.stem}-{os.getpid()}@%h",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=settings.BASE_DIR,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while " ready." not in self.log_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"Celery worker did not start:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def succeeded(self, task: str) -> list[str]:
        """Return values of the task's successful runs, from the log."""
        return re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [0-9.]+s: (\S+)", self.log_text())

    def failures(self) -> list[str]:
        return re.findall(r"Task billing\.\S+ (?:raised|retry)[^\n]*", self.log_text())

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children, as a machine losing power would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    from portal.celery import app

    app.connection_for_write().default_channel.client.flushdb()  # no stale tasks from earlier tests
    started: list[Worker] = []

    def start(concurrency: int = 1) -> Worker:
        started.append(Worker(tmp_path / f"worker{len(started)}.log", concurrency))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
    connection.close()  # the workers' connections are gone; pytest-django may flush the database


# --- the tests ------------------------------------------------------------------------------------


def test_each_task_twice_and_twice_at_once_gives_one_clean_run(start_worker):
    job = _dataset(60)
    expected = _clean_run(job)
    chunk_ids = _plan(job, 8)
    assert len(chunk_ids) == 8
    worker = start_worker(concurrency=2)

    def settle(job_runs: int, direct_chunks: int) -> None:
        """Wait until every task enqueued so far (and every chunk task the job runs enqueued) is done."""

        def all_done():
            runs = worker.succeeded("billing.posting_job_run")
            chunks = worker.succeeded("billing.posting_chunk_run")
            return len(runs) == job_runs and len(chunks) == direct_chunks + sum(int(r) for r in runs)

        _wait(all_done, "the tasks to finish", workers=[worker])
        assert worker.failures() == []

    # Twice at once: the job run twice, and every chunk twice, all enqueued together on 2 processes.
    posting_job_run.delay(job.pk)
    posting_job_run.delay(job.pk)
    for chunk_id in chunk_ids:
        posting_chunk_run.delay(chunk_id)
        posting_chunk_run.delay(chunk_id)
    settle(job_runs=2, direct_chunks=16)
    job.refresh_from_db()
    assert (job.state, job.chunks_done, job.chunks_total) == (JobState.DONE, 8, 8)
    assert _ledger() == expected
    assert job.entries_posted == len(expected)

    # Twice in a row: everything again once the job is done posts nothing.
    posting_job_run.delay(job.pk)
    for chunk_id in chunk_ids:
        posting_chunk_run.delay(chunk_id)
    settle(job_runs=3, direct_chunks=24)
    assert _ledger() == expected

    # A retry from scratch (every chunk not done again), each chunk twice at once: still nothing.
    PostingChunk.objects.filter(job=job).update(done_at=None)
    PostingJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING, chunks_done=0, entries_posted=0)
    for chunk_id in chunk_ids:
        posting_chunk_run.delay(chunk_id)
        posting_chunk_run.delay(chunk_id)
    settle(job_runs=3, direct_chunks=40)
    job.refresh_from_db()
    assert (job.state, job.entries_posted) == (JobState.DONE, 0)
    assert _ledger() == expected


def test_worker_killed_mid_batch_then_the_sweep_finishes_the_job(start_worker):
    job = _dataset(150)
    expected = _clean_run(job)
    chunk_ids = _plan(job, 10)
    assert len(chunk_ids) == 15
    blocked = PostingChunk.objects.get(pk=chunk_ids[5])
    worker = start_worker(concurrency=1)

    # Hold the sixth chunk's accounts: the worker posts chunks 1-5 and then waits inside chunk 6's
    # transaction, which is where it dies.
    with transaction.atomic():
        list(
            Account.objects.select_for_update()
            .filter(id__gte=blocked.account_from, id__lte=blocked.account_to)
            .values_list("id", flat=True)
        )
        posting_job_run.delay(job.pk)

        def waiting_in_chunk_6():
            if PostingJob.objects.get(pk=job.pk).chunks_done < 5:
                return False
            with connection.cursor() as cursor:  # a backend waiting for this test's locks
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
                )
                return cursor.fetchone()[0] == 1

        _wait(waiting_in_chunk_6, "the worker to block in chunk 6", workers=[worker])
        worker.kill()
        assert PostingJob.objects.get(pk=job.pk).chunks_done == 5
    # The lock is released: the dead worker's backend finds its client gone and rolls chunk 6 back.
    done = set(PostingChunk.objects.filter(job=job, done_at__isnull=False).values_list("id", flat=True))
    assert done == set(chunk_ids[:5])
    assert 0 < LedgerEntry.objects.count() < len(expected)

    # A new worker; the broker will not redeliver the lost task for an hour (visibility timeout):
    # the sweep finds the job that has not moved and runs it again.
    # It first drains the chunks still queued (7-15); chunk 6's task is the one that was lost.
    worker = start_worker(concurrency=1)
    _wait(lambda: PostingJob.objects.get(pk=job.pk).chunks_done == 14, "the queued chunks", workers=[worker])
    time.sleep(1.1)
    with override_settings(PORTAL_POSTING_STALE_SECONDS=1):
        assert posting_sweep() == 1
    _wait(lambda: PostingJob.objects.get(pk=job.pk).state == JobState.DONE, "the job to finish", workers=[worker])
    job.refresh_from_db()
    assert (job.chunks_done, job.chunks_total) == (15, 15)
    assert _ledger() == expected
    assert job.entries_posted == len(expected)


@pytest.mark.parametrize("set_based", [True, False], ids=["sql", "engine"])
def test_two_posters_of_the_same_accounts_at_once_post_once(set_based):
    """A second transaction posts the same accounts while the first, having posted, has not committed:
    the account locks make it wait, and then it sees the first's entries and posts nothing (M9)."""
    job = _dataset(30)
    expected = _clean_run(job)
    lo, hi = Account.objects.order_by("id").first().pk, Account.objects.order_by("id").last().pk
    first_posted = threading.Event()
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def post(name: str) -> None:
        try:
            if name == "second":
                first_posted.wait(timeout=10)
            with override_settings(PORTAL_POSTING_SQL=set_based), transaction.atomic():
                results[name] = posting.post_accounts(account_from=lo, account_to=hi, job=job).entries
                if name == "first":
                    first_posted.set()
                    time.sleep(0.5)  # the second poster starts now, while this one holds its locks
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert results == {"first": len(expected), "second": 0}
    assert _ledger() == expected
