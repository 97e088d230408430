"""``GET /healthz``: does this installation work? The database, the broker and a worker, each probed briefly.

The answer (docs/operations.md "Health")::

    {"database": "ok", "broker": "ok", "worker": "ok", "pending_jobs": 0, "oldest_unsettled_seconds": null}

``200`` when the database, the broker and at least one Celery worker answer, else ``503``; a
probe that fails says why in a few words (never a stack trace, a password or customer data).
``pending_jobs`` counts posting jobs not done; ``oldest_unsettled_seconds`` is the age of the
oldest item approved but not settled yet (null when there is none). They inform; they do not
change the status.

Every probe has its own short timeout, and nothing here goes through the publishing path (whose
connection timeout and retries are meant for approvals), so the answer comes within a few seconds
even when PostgreSQL or Redis is down or unreachable. The answer is kept
``PORTAL_HEALTH_CACHE_SECONDS`` in the process: the endpoint needs no login, and must not let
anyone hammer the broker through it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from .observability import text_bounded

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 2  # seconds: connecting, and the statement
BROKER_TIMEOUT = 2  # seconds: connecting to the broker (one retry after a quarter of a second)
WORKER_TIMEOUT = 1  # seconds: how long to wait for workers' answers to a ping
OK = "ok"

_URL_CREDENTIALS = re.compile(r"(\w[\w+.-]*://)[^/@\s]*@")
_PASSWORD_FIELD = re.compile(r"(password\s*[=:]\s*)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Health:
    database: str
    broker: str
    worker: str
    pending_jobs: int | None
    oldest_unsettled_seconds: int | None

    @property
    def ok(self) -> bool:
        return self.database == OK and self.broker == OK and self.worker == OK


def _secrets() -> list[str]:
    from .celery import app

    found = [connection.settings_dict.get("PASSWORD") or ""]
    with contextlib.suppress(Exception):  # only used to mask: an unparsable URL has nothing to mask
        found.append(app.connection_for_write().password or "")
    return [s for s in found if s]


def reason(what: str, exc: BaseException) -> str:
    """A short, safe reason: ``"unreachable: OperationalError: Connection refused"``, no credentials."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    text = _PASSWORD_FIELD.sub(r"\1***", text)
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text_bounded(f"{what}: {type(exc).__name__}" + (f": {text}" if text else ""), 160)


# --- probes ---------------------------------------------------------------------------------------


def probe_database() -> str:
    """A ``SELECT 1`` on a connection of its own with short timeouts (PostgreSQL), or on the usual one."""
    try:
        if connection.vendor == "postgresql":
            params = connection.get_connection_params()
            params["connect_timeout"] = DATABASE_TIMEOUT
            params["options"] = f"{params.get('options', '')} -c statement_timeout={DATABASE_TIMEOUT * 1000}".strip()
            raw = connection.Database.connect(**params)
            try:
                with raw.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
            finally:
                raw.close()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:
        return reason("unreachable", exc)
    return OK


def backlog() -> tuple[int | None, int | None]:
    """(posting jobs not done, seconds since the oldest unsettled approval) — once the database answered."""
    from billing.selectors import posting_jobs_pending_count
    from workflow.selectors import unsettled_oldest_at

    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL statement_timeout = {DATABASE_TIMEOUT * 1000}")
            pending = posting_jobs_pending_count()
            oldest = unsettled_oldest_at()
    except Exception:
        return None, None
    age = None if oldest is None else max(0, int((timezone.now() - oldest).total_seconds()))
    return pending, age


def probe_broker_and_worker() -> tuple[str, str]:
    """Connect to the broker with a short timeout; then ask every worker for a ``pong``.

    The ping is Celery's remote control (a broadcast): Redis and the file-system transport of
    ``make run`` both support it. A worker answers from its main process, so a prefork worker busy
    with tasks still answers; a ``--pool=solo`` worker (``make run``) does not while a task runs.
    """
    from .celery import app

    url = app.conf.broker_write_url or app.conf.broker_url or ""
    options = {}
    if url.startswith(("redis://", "rediss://")):
        # The socket timeout stays above the ping's wait, which reads replies on this connection.
        options = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT + WORKER_TIMEOUT}
    try:
        conn = app.connection_for_write(connect_timeout=BROKER_TIMEOUT, transport_options=options)
    except Exception as exc:
        return reason("misconfigured", exc), "not checked: no broker"
    with conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0.25, interval_step=0, timeout=BROKER_TIMEOUT)
        except Exception as exc:
            return reason("unreachable", exc), "not checked: no broker"
        if "fanout" not in conn.transport.implements.exchange_type:
            return OK, f"not checked: the {conn.transport_cls} transport cannot broadcast a ping"
        try:
            replies = app.control.ping(timeout=WORKER_TIMEOUT, connection=conn)
        except Exception as exc:
            return OK, reason("ping failed", exc)
    if not replies:
        return OK, f"no worker answered within {WORKER_TIMEOUT}s"
    return OK, OK


def health_check() -> Health:
    """Run every probe now (uncached)."""
    database = probe_database()
    pending, age = backlog() if database == OK else (None, None)
    broker, worker = probe_broker_and_worker()
    return Health(database=database, broker=broker, worker=worker, pending_jobs=pending, oldest_unsettled_seconds=age)


_lock = threading.Lock()
_cached: tuple[float, Health] | None = None


def health_report() -> Health:
    """The last answer if it is younger than ``PORTAL_HEALTH_CACHE_SECONDS``, else a new one.

    One check at a time per process: callers arriving during a check wait for it and share it.
    A failed check is logged (a warning) when it is made.
    """
    global _cached
    ttl = float(getattr(settings, "PORTAL_HEALTH_CACHE_SECONDS", 5))
    with _lock:
        if _cached is not None and time.monotonic() - _cached[0] < ttl:
            return _cached[1]
        report = health_check()
        _cached = (time.monotonic(), report)
        if not report.ok:  # once per check, not once per request
            log.warning(
                "health check failed: database=%s broker=%s worker=%s",
                report.database,
                report.broker,
                report.worker,
                extra={"health": asdict(report)},
            )
    return report


def cache_clear() -> None:
    global _cached
    with _lock:
        _cached = None


@login_not_required
@require_safe
def healthz(request):
    """``GET /healthz``: 200 when database, broker and a worker answer, else 503 naming what failed."""
    report = health_report()
    response = JsonResponse(asdict(report), status=200 if report.ok else 503, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    # Django would log a 503 as a server error, and mail it to ADMINS every few seconds while the
    # broker is down; health_report() logged the failure (a warning) when it found it.
    response._has_been_logged = True
    return response
