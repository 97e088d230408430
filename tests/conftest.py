"""Shared fixtures and the real-server rules.

Tests marked ``postgres``, ``redis``, ``celery`` or ``browser`` need a real server. Locally they
skip with a reason when it is missing; with ``REQUIRE_REAL_SERVERS=1`` (set by ``.ci/run``) any skip
of such a test is turned into a failure, so CI cannot pass without exercising them.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.conf import settings

REAL_MARKERS = ("postgres", "redis", "celery", "browser")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")


def _require_real() -> bool:
    return os.environ.get("REQUIRE_REAL_SERVERS", "") not in ("", "0", "false")


def chromium_path() -> str | None:
    for path in CHROMIUM_PATHS:
        if shutil.which(path):
            return path
    return None


def pytest_runtest_setup(item):
    markers = {m.name for m in item.iter_markers()}
    if "postgres" in markers and settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")
    if markers & {"redis", "celery"} and not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis: run with CELERY_BROKER_URL=redis://…")
    if "browser" in markers and chromium_path() is None:
        pytest.skip("needs Debian's Chromium (apt-get install chromium)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _require_real() and any(item.iter_markers(name=m) for m in REAL_MARKERS):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"real-server test skipped while REQUIRE_REAL_SERVERS is set: {reason}"


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Service messages in tests read in English; requests still pick their own language."""
    from django.utils import translation

    with translation.override("en"):
        yield


def _reference_data_load() -> None:
    """Districts, industries, demo tariffs, policies and role groups, where a flush removed them."""
    from billing.models import Industry, Policy, Tariff
    from billing.policies import load_policies
    from billing.reference import load_demo_tariffs, load_industries
    from organisation.models import District
    from organisation.reference import DISTRICTS, load_districts
    from organisation.services import roles_ensure_groups

    if District.objects.count() != len(DISTRICTS):
        load_districts()
    if not Industry.objects.exists():
        load_industries()
    if not Tariff.objects.exists():
        load_demo_tariffs()
    if not Policy.objects.exists():
        load_policies()
    roles_ensure_groups()


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests (live server, worker) flush the database at teardown, removing the rows
    the data migrations wrote; put them back before such a test runs."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server", "celery_worker_process"} & set(request.fixturenames)
    )
    if transactional:
        request.getfixturevalue("transactional_db")
        _reference_data_load()


@pytest.fixture
def districts(db):
    from organisation.models import District

    return {d.name: d for d in District.objects.all()}


@pytest.fixture
def make_staff(db):
    """make_staff("clerk", district="南岗") → a saved user holding the role(s)."""
    from tests.factories import StaffFactory

    def make(*roles: str, district: str | None = None, password: str | None = None, **kwargs):
        user = StaffFactory(roles=roles, district_name=district, **kwargs)
        if password is not None:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    return make


class WorkerHandle:
    """A ``celery -A portal worker`` subprocess; ``stop()`` ends it (SIGTERM by default)."""

    def __init__(self, proc, log):
        self.proc = proc
        self.log = log

    def stop(self, sig=None):
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def celery_worker_factory(transactional_db, tmp_path):
    """start(broker_url=None, concurrency=1, extra_env=None) → a real worker on the test database.

    Tests using it must commit their data (``transactional_db``) so the worker can see it. Every
    worker started is killed at teardown.
    """
    import signal
    import subprocess
    import sys
    import time

    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("a worker process needs a database it can share: run on PostgreSQL")
    started: list[WorkerHandle] = []

    def start(broker_url=None, concurrency=1, extra_env=None, beat=False):
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="portal.settings.test",
            DATABASE_URL=(
                f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                f"/{db['NAME']}"
            ),
            CELERY_BROKER_URL=broker_url or settings.CELERY_BROKER_URL,
        )
        env.update(extra_env or {})
        log = tmp_path / f"worker{len(started)}.log"
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            f"--hostname=test-{os.getpid()}-{len(started)}@%h",
        ]
        if beat:
            args += ["--beat", f"--schedule={tmp_path / 'beat-schedule'}"]
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=settings.BASE_DIR)  # noqa: S603
        handle = WorkerHandle(proc, log)
        started.append(handle)
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                handle.stop(signal.SIGKILL)
                pytest.fail(f"Celery worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        return handle

    yield start
    for handle in started:
        handle.stop()
    # The workers' connections must be gone before pytest-django flushes or drops the database.
    connection.close()


@pytest.fixture
def celery_worker_process(celery_worker_factory):
    """One real worker on the test broker (flushed first: no stale tasks from earlier tests)."""
    from portal.celery import app

    app.connection_for_write().default_channel.client.flushdb()
    return celery_worker_factory()


@pytest.fixture
def throwaway_redis(tmp_path):
    """A Redis server of this test's own (loopback, free port, no persistence) that it may stop and restart.

    The portal's Celery app in this process is pointed at it for the test.
    """
    import socket
    import subprocess
    import time

    from portal.celery import app

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (apt-get install redis-server)")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        proc = None

        def start(self):
            self.proc = subprocess.Popen(  # noqa: S603
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    return
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("redis-server did not start")

        def stop(self):
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def repoint(url):
        # Celery reads CELERY_BROKER_URL from the environment before its own setting.
        os.environ["CELERY_BROKER_URL"] = url
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    server = Server()
    server.start()
    previous = app.conf.broker_url
    previous_env = os.environ.get("CELERY_BROKER_URL")
    repoint(server.url)
    yield server
    server.stop()
    repoint(previous)
    if previous_env is None:
        os.environ.pop("CELERY_BROKER_URL", None)


@pytest.fixture
def admin_user(make_staff):
    """A member of staff with the admin role (not a superuser): pytest-django's fixture of this name
    is a superuser, who passes checks the admin role must pass by its own permissions."""
    from organisation.roles import Role

    return make_staff(Role.ADMIN, username="sysadmin")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
