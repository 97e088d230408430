"""Thin Celery tasks of the workflow: settle approved items once billing has posted their money."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workflow.item_settle", acks_late=True)
def item_settle(cause_type: str, cause_id: int) -> bool:
    from .services import item_settle as settle

    return settle(cause_type=cause_type, cause_id=cause_id)


@shared_task(name="workflow.settle_sweep")
def settle_sweep() -> int:
    """Settle approved items whose job is done; give a job to any approved item that lacks one."""
    from .services import settle_sweep as sweep

    return sweep()


@shared_task(name="workflow.prescreen_run", acks_late=True)
def prescreen_run(run_id: int) -> bool:
    """A pre-screen started from the eligibility lists page (progress recorded on the run row)."""
    from .eligibility import prescreen_run as run

    return run(run_id=run_id)
