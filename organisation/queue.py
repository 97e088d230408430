"""Handing work to the Celery workers by the task's registered name.

A service queues a task after its transaction commits; the task module imports the service to run
it. Were the service to import its task module back, the two would import each other. So services
name the task instead — ``"billing.posting_job_run"`` — the same names the beat schedule and the
workers use, and look it up in the Celery app at call time (the same task object: a test that
patches ``tasks.x.delay`` patches this one).

Publishing is tolerant: when the broker is down the committed work stands, the failure is logged,
and the sweeps on beat queue it again later (docs/relief-engine.md).
"""

from __future__ import annotations

import logging

from celery import current_app

log = logging.getLogger(__name__)


def task_named(name: str):
    """The registered task ``name`` (``KeyError`` if no installed app defines it)."""
    return current_app.tasks[name]


def enqueue_or_log(name: str, *args, what: str) -> bool:
    """``task.delay(*args)``; if the broker is down, log it and say so (False).

    Called after commit: the broker being down must never undo or fail what committed.
    """
    try:
        task_named(name).delay(*args)
    except Exception:
        log.warning("could not enqueue %s; the sweep will retry", what, exc_info=True)
        return False
    return True
