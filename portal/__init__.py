# The Celery app is imported here so that shared_task and delay_on_commit bind to it
# whenever Django starts (Celery's Django guide).
from .celery import app as celery_app

__all__ = ("celery_app",)
