"""Thin Celery tasks of the portal package: they take ids and call a service."""

from celery import shared_task


@shared_task(name="portal.heartbeat_record")
def heartbeat_record(heartbeat_id: int) -> None:
    from .services import heartbeat_record as record

    record(heartbeat_id=heartbeat_id, worker=heartbeat_record.request.hostname or "")
