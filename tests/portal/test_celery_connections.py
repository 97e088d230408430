"""Workers keep their database connection between tasks, and drop one that failed."""

from __future__ import annotations

from unittest import mock

from django.conf import settings

from portal import celery


class FakeConnection:
    def __init__(self, *, errors: bool, usable: bool) -> None:
        self.connection = object()  # connected
        self.errors_occurred = errors
        self.usable = usable
        self.closed = False

    def is_usable(self) -> bool:
        return self.usable

    def close(self) -> None:
        self.closed = True
        self.connection = None


def _after_task(*connections: FakeConnection) -> None:
    with mock.patch("django.db.connections.all", return_value=list(connections)):
        celery._close_broken_connections(sender=None)


def test_workers_reuse_their_connection():
    assert settings.CELERY_DB_REUSE_MAX > 0
    assert celery.app.conf.get("CELERY_DB_REUSE_MAX") == settings.CELERY_DB_REUSE_MAX  # what Celery's fixup reads


def test_a_healthy_connection_stays_open_after_a_task():
    healthy = FakeConnection(errors=False, usable=True)
    _after_task(healthy)
    assert not healthy.closed


def test_a_connection_that_failed_and_no_longer_answers_is_closed():
    broken = FakeConnection(errors=True, usable=False)
    _after_task(broken)
    assert broken.closed


def test_a_connection_that_failed_but_answers_is_kept_and_cleared():
    """E.g. a unique violation rolled back: the connection itself is fine."""
    fine = FakeConnection(errors=True, usable=True)
    _after_task(fine)
    assert not fine.closed
    assert fine.errors_occurred is False
