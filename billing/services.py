"""Writes of billing that other apps call: grants from approved items, and posting jobs.

The workflow calls these inside the transaction that approves an item, so the grant, the job
and the approval commit together; the job is enqueued after commit (a broker that is down then
leaves the job pending for the sweep).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from organisation.queue import enqueue_or_log

from .models import CauseType, Grant, GrantKind, PostingJob
from .rules import DISCOUNT_POLICY, TWO_PART_POLICY  # noqa: F401 - re-exported (workflow.effects, workflow.demo)


def _job_for(cause_type: str, cause_id: int) -> PostingJob:
    job, _ = PostingJob.objects.get_or_create(cause_type=cause_type, cause_id=cause_id)
    transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    return job


def job_enqueue(*, job_id: int) -> None:
    """Hand a job to the workers; if the broker is down, log it — the sweep enqueues it later."""
    enqueue_or_log("billing.posting_job_run", job_id, what=f"posting job {job_id}")


def grant_discount(*, policy_code: str, cause_id: int, account_ids: Iterable[int]) -> PostingJob:
    """An approved eligibility list: the 95% settlement for each of its accounts."""
    Grant.objects.bulk_create(
        [
            Grant(
                account_id=account_id,
                kind=GrantKind.DISCOUNT,
                policy_id=policy_code,
                cause_type=CauseType.ELIGIBILITY_LIST,
                cause_id=cause_id,
            )
            for account_id in account_ids
        ],
        batch_size=5000,
        ignore_conflicts=True,
    )
    return _job_for(CauseType.ELIGIBILITY_LIST, cause_id)


def grant_seal(
    *, cause_id: int, account_id: int, capacity_kva: Decimal, seal_date: dt.date, restore_date: dt.date | None
) -> PostingJob:
    """An approved 减容/暂停: the sealed capacity from the seal date to the restore date (if known)."""
    Grant.objects.get_or_create(
        cause_type=CauseType.APPLICATION,
        cause_id=cause_id,
        account_id=account_id,
        kind=GrantKind.SEAL,
        defaults={
            "policy_id": TWO_PART_POLICY,
            "capacity_kva": capacity_kva,
            "seal_date": seal_date,
            "restore_date": restore_date,
        },
    )
    return _job_for(CauseType.APPLICATION, cause_id)


def grant_restore(*, cause_id: int, account_id: int, restore_date: dt.date) -> PostingJob:
    """An approved 恢复: the account's latest seal before the restore date ends there.

    A corrected (later) restore date posts only the change (M9), as the targets are recomputed.
    """
    seal = (
        Grant.objects.filter(
            account_id=account_id, kind=GrantKind.SEAL, capacity_kva__isnull=False, seal_date__lt=restore_date
        )
        .order_by("-seal_date", "-id")
        .first()
    )
    if seal is not None:
        Grant.objects.filter(pk=seal.pk).update(restore_date=restore_date, restored_by=cause_id)
    # The restore's own (empty) grant ties the job's accounts to this cause.
    Grant.objects.get_or_create(
        cause_type=CauseType.APPLICATION,
        cause_id=cause_id,
        account_id=account_id,
        kind=GrantKind.SEAL,
        defaults={"policy_id": TWO_PART_POLICY, "capacity_kva": None, "seal_date": None},
    )
    return _job_for(CauseType.APPLICATION, cause_id)


def grant_simple(*, kind: str, policy_code: str, cause_id: int, account_id: int) -> PostingJob:
    """Demand relief (no double charge) or late-fee waiver for the policy's months."""
    Grant.objects.get_or_create(
        cause_type=CauseType.APPLICATION,
        cause_id=cause_id,
        account_id=account_id,
        kind=kind,
        defaults={"policy_id": policy_code},
    )
    return _job_for(CauseType.APPLICATION, cause_id)


def job_without_effect(*, cause_type: str, cause_id: int) -> PostingJob:
    """An approved item with no money effect still gets a (trivially done) job, so it settles the same way."""
    return _job_for(cause_type, cause_id)


def job_for_new_bills() -> PostingJob:
    """New bills imported: post what every grant gives them (a job over all accounts with grants)."""
    job = PostingJob.objects.create(cause_type="", cause_id=None)
    transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    return job


def stats_refresh_after_commit() -> None:
    """After an import: rebuild the summary rows in the background (arrears move with new bills)."""

    # Broker down: `manage.py refresh_stats` or the next import catches up.
    transaction.on_commit(lambda: enqueue_or_log("billing.stats_refresh_all", what="the statistics refresh"))
