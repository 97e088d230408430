"""What operators read: request ids on log records, JSON log lines, failed logins and failed tasks.

``LOGGING`` (portal/settings/base.py) names :class:`RequestIdFilter` and, with ``PORTAL_LOG_JSON=1``,
:class:`JsonFormatter`; this module is imported while logging is configured, before the apps are
loaded, so it must not import models at import time.

- :class:`portal.middleware.RequestIdMiddleware` puts the request's id in :data:`request_id_var`;
  the filter copies it to every record as ``request_id`` (``None`` outside a request) and, inside
  a Celery task, adds ``task_id`` and ``task_name``.
- :func:`login_failed` (``user_login_failed``) logs the user name and the client address of every
  failed login, never the password.
- :func:`task_failed` (Celery's ``task_failure``) logs the task, its id, its arguments (the
  project's tasks take ids) and the item they name.
"""

from __future__ import annotations

import contextvars
import inspect
import ipaddress
import logging
import re
import unicodedata
import uuid

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

auth_log = logging.getLogger("portal.auth")
task_log = logging.getLogger("organisation.tasks")

REQUEST_ID_HEADER = "X-Request-ID"
#: The id of the request being served in this thread (None outside a request).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# What a proxy or client may send: UUIDs, nginx's $request_id, short tokens. Anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

USERNAME_MAX = 150
_ARG_TEXT_MAX = 40


def request_id_sane(value: str | None) -> str | None:
    """The incoming id if it is short and made of safe characters, else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_clear(**kwargs) -> None:
    """``request_finished``: the thread's next log lines belong to no request (until the next one)."""
    request_id_var.set(None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (and ``task_id``/``task_name`` inside a Celery task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "task_id"):
            from celery._state import get_current_task  # what Celery's own TaskFormatter reads

            task = get_current_task()
            if task is not None and task.request.id:
                record.task_id = task.request.id
                record.task_name = task.name
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: ``timestamp`` (UTC), ``levelname``, ``name``, ``message``, the
    filter's ids and any ``extra=`` fields.

    Django attaches the request object to ``django.request`` records; its repr carries the query
    string, which may hold what someone searched for (an account number), so it is left out.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time"])
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)


# --- the client and its credentials -----------------------------------------------------------


def text_bounded(value: object, limit: int = USERNAME_MAX) -> str:
    """``value`` as text without control (or other non-printing) characters, at most ``limit`` long."""
    text = "".join(ch for ch in str(value) if not unicodedata.category(ch).startswith("C"))
    return text[:limit]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    from django.conf import settings

    networks = []
    for entry in getattr(settings, "PORTAL_TRUSTED_PROXIES", []) or []:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            continue
    return networks


def client_address(request) -> str:
    """The client's address: ``REMOTE_ADDR``, unless that is a trusted proxy (``PORTAL_TRUSTED_PROXIES``).

    Behind trusted proxies the address is the last one of ``X-Forwarded-For`` that is not a
    trusted proxy (each proxy appends the address it saw; only the trusted ones' additions can be
    believed, anything left of them may have been sent by the client).
    """
    if request is None:
        return "-"
    meta = getattr(request, "META", {}) or {}
    remote = str(meta.get("REMOTE_ADDR") or "")
    trusted = _trusted_networks()
    remote_ip = _ip(remote)

    def is_trusted(ip) -> bool:
        return any(ip.version == net.version and ip in net for net in trusted)

    if remote_ip is None or not trusted or not is_trusted(remote_ip):
        return text_bounded(remote, 64) or "-"
    hops = [_ip(part) for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    for ip in reversed(hops):
        if ip is None:  # garbage in the header: what is left of it cannot be believed
            break
        if not is_trusted(ip):
            return str(ip)
    return str(remote_ip)


def login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    """``user_login_failed``: one warning with the user name and the address, never the password.

    Django hands over the credentials with the password already masked; only the user name is
    read from them.
    """
    from django.contrib.auth import get_user_model

    field = get_user_model().USERNAME_FIELD
    username = text_bounded((credentials or {}).get(field, (credentials or {}).get("username", "")))
    address = client_address(request)
    path = text_bounded(getattr(request, "path", "") or "", 200) if request is not None else ""
    auth_log.warning(
        "login failed for user %r from %s (%s)",
        username,
        address,
        path or "no request",
        extra={"username": username, "client_address": address, "path": path},
    )


# --- Celery tasks ------------------------------------------------------------------------------


def _arg_safe(value: object) -> object:
    """Ids and short codes as they are; anything else only by its type (no customer data in logs)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return text_bounded(value, _ARG_TEXT_MAX)
    return f"<{type(value).__name__}>"


def task_arguments(task, args, kwargs) -> dict[str, object]:
    """The task's arguments by parameter name (``arg0``… when they do not fit its signature)."""
    args, kwargs = list(args or ()), dict(kwargs or {})
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {f"arg{i}": v for i, v in enumerate(args)} | kwargs
    return {name: _arg_safe(value) for name, value in bound.items()}


def task_item(arguments: dict[str, object]) -> str:
    """The item a task's arguments name: ``eligibility_list 12``, ``posting chunk 7``… or ``-``."""
    if "cause_type" in arguments and "cause_id" in arguments:
        return f"{arguments['cause_type']} {arguments['cause_id']}"
    for name, value in arguments.items():
        if name.endswith("_id"):
            return f"{name[:-3].replace('_', ' ')} {value}"
    return "-"


def task_failed(sender=None, task_id=None, exception=None, args=None, kwargs=None, **rest) -> None:
    """Celery's ``task_failure`` (after the last retry): task name, id, arguments, item, exception."""
    name = getattr(sender, "name", None) or str(sender)
    arguments = task_arguments(sender, args, kwargs) if sender is not None else {}
    item = task_item(arguments)
    error = text_bounded(f"{type(exception).__name__}: {exception}", 300) if exception is not None else "-"
    task_log.error(
        "task %s[%s] failed on %s (arguments %s): %s",
        name,
        task_id,
        item,
        arguments,
        error,
        extra={"task_id": task_id, "task_name": name, "task_args": arguments, "item": item, "error": error},
    )
