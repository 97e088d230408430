"""The portal's Celery application.

Configuration lives in Django settings under the ``CELERY_`` namespace; ``celery -A portal worker``
starts a worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
