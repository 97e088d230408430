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


@pytest.fixture
def districts(db):
    from portal.models import District

    return {d.name: d for d in District.objects.all()}


@pytest.fixture
def make_staff(db):
    """make_staff("clerk", district="南岗") → a saved user holding the role(s)."""
    from tests.factories import StaffFactory

    def make(*roles: str, district: str | None = None, **kwargs):
        return StaffFactory(roles=roles, district_name=district, **kwargs)

    return make
