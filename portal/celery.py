"""The portal's Celery application.

Configuration lives in Django settings under the ``CELERY_`` namespace; ``celery -A portal worker``
starts a worker.
"""

import os

from celery import Celery
from celery.signals import setup_logging, task_failure, task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _django_logging(**kwargs) -> None:
    """Configure the worker's and beat's logging from Django's ``LOGGING`` (JSON lines), not Celery's."""
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@app.on_after_configure.connect
def _json_logs_from_django(sender, **kwargs) -> None:
    """With ``PORTAL_LOG_JSON``, worker and beat log through Django's configuration.

    Celery configures logging itself (its own plain format, replacing the root logger's handlers)
    unless something listens to ``setup_logging``; the receiver is connected only with JSON logs,
    so that without them the worker's lines stay Celery's as before. The configuration is loaded
    before the worker or beat sets up its logging, so this runs first.
    """
    from django.conf import settings

    if getattr(settings, "PORTAL_LOG_JSON", False):
        setup_logging.connect(_django_logging, weak=False, dispatch_uid="portal-django-logging")


@task_failure.connect
def _log_task_failure(**kwargs) -> None:
    """A task that failed for good (after its retries) is logged with its name, id, arguments and item."""
    from .observability import task_failed

    task_failed(**kwargs)


@task_postrun.connect
def _close_broken_connections(**kwargs) -> None:
    """Close a database connection that failed during the task (e.g. the server restarted).

    Workers keep their connection between tasks (``CELERY_DB_REUSE_MAX``); Django would close a
    broken one at the end of a request, which a task is not. As Django does: a connection on which
    an error occurred is kept only if it still answers.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()
