"""Thin Celery tasks of billing: they take ids, call billing.posting, and own retries."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import posting
from .models import JobState, PostingJob

# A job not updated for this long while not done is taken to have lost its worker. It must exceed
# the longest chunk (a chunk updates its job when it commits), or busy jobs get duplicate (harmless,
# idempotent, but wasted) chunk tasks. settings.PORTAL_POSTING_STALE_SECONDS overrides it.
STALE_AFTER = dt.timedelta(minutes=2)


def stale_after() -> dt.timedelta:
    seconds = getattr(settings, "PORTAL_POSTING_STALE_SECONDS", None)
    return STALE_AFTER if seconds is None else dt.timedelta(seconds=float(seconds))


@shared_task(name="billing.posting_job_run", acks_late=True)
def posting_job_run(job_id: int) -> int:
    """Plan the job's chunks and hand each one not done to a worker: one task per chunk, never per bill."""
    job = PostingJob.objects.filter(pk=job_id).first()
    if job is None or job.state == JobState.DONE:
        return 0
    chunk_ids = posting.job_plan(job=job)
    for chunk_id in chunk_ids:
        posting_chunk_run.delay(chunk_id)
    return len(chunk_ids)


@shared_task(
    name="billing.posting_chunk_run",
    bind=True,
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=10,
)
def posting_chunk_run(self, chunk_id: int) -> int:
    try:
        return posting.chunk_run(chunk_id=chunk_id)
    except Exception as exc:
        from .models import PostingChunk

        chunk = PostingChunk.objects.filter(pk=chunk_id).only("job_id").first()
        if chunk is not None:
            posting.job_fail(job_id=chunk.job_id, error=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(
    name="billing.posting_chunk_stats",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=10,
)
def posting_chunk_stats(chunk_id: int) -> bool:
    """Refresh the dashboard's summary rows a posted chunk left pending (idempotent)."""
    return posting.chunk_stats_run(chunk_id=chunk_id)


@shared_task(name="billing.stats_sweep")
def stats_sweep() -> int:
    """Queue every summary refresh still pending a while after its chunk was posted (lost task,
    broker down, crash). Returns how many it queued."""
    ids = posting.chunks_stats_pending(older_than=timezone.now() - stale_after())
    for chunk_id in ids:
        posting_chunk_stats.delay(chunk_id)
    return len(ids)


@shared_task(name="billing.posting_sweep")
def posting_sweep() -> int:
    """Resume every job that is not done and has not moved lately (lost task, broker down, crash)."""
    cutoff = timezone.now() - stale_after()
    stale = PostingJob.objects.exclude(state=JobState.DONE).filter(updated_at__lt=cutoff)
    ids = list(stale.values_list("id", flat=True))
    for job_id in ids:
        PostingJob.objects.filter(pk=job_id).update(updated_at=timezone.now())
        posting_job_run.delay(job_id)
    return len(ids)


@shared_task(name="billing.stats_refresh_all", acks_late=True)
def stats_refresh_all() -> None:
    """Rebuild the dashboard's summary rows (after an import changed bills or accounts)."""
    from django.db import transaction

    from .stats import stats_refresh

    with transaction.atomic():
        stats_refresh()
