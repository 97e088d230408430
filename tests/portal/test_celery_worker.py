"""A task enqueued after commit is executed by a real Celery worker on the test Redis."""

import time

import pytest
from django.core.management import call_command
from django.db import transaction

from organisation.models import Heartbeat
from organisation.services import heartbeat_send

pytestmark = [pytest.mark.redis, pytest.mark.celery, pytest.mark.postgres]


def _wait_seen(pk: int, timeout: float = 30.0) -> Heartbeat:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = Heartbeat.objects.get(pk=pk)
        if beat.seen_at:
            return beat
        time.sleep(0.1)
    raise AssertionError(f"heartbeat {pk} not seen by a worker within {timeout}s")


def test_task_enqueued_after_commit_runs_on_real_worker(celery_worker_process):
    beat = heartbeat_send()
    seen = _wait_seen(beat.pk)
    assert seen.worker.startswith("test-")
    assert seen.seen_at >= seen.created_at


def test_nothing_is_enqueued_when_the_transaction_rolls_back(celery_worker_process):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        heartbeat_send()
        raise Abort
    assert not Heartbeat.objects.exists()
    # A later heartbeat still goes through: the worker is alive and got no orphan task.
    assert _wait_seen(heartbeat_send().pk).seen_at


def test_check_worker_command_reports_the_worker(celery_worker_process, capsys):
    call_command("check_worker", "--timeout", "30")
    assert "answered" in capsys.readouterr().out
