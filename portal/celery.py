"""The portal's Celery application.

Configuration lives in Django settings under the ``CELERY_`` namespace; ``celery -A portal worker``
starts a worker.
"""

import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
