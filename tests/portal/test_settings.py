"""Production settings pass ``check --deploy`` (only the HSTS-preload notice) and refuse to start without secrets."""

import os
import subprocess
import sys

from django.conf import settings


def _check(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings.production", DATABASE_URL="sqlite:////tmp/deploy-check.sqlite3")
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _check(
        {
            "DJANGO_SECRET_KEY": "x" * 20 + "-Long-Random-Secret-Value-0123456789",
            "DJANGO_ALLOWED_HOSTS": "portal.example",
        }
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("?:")]
    assert [w.split(")")[0] for w in warnings] == ["?: (security.W021"]


def test_production_settings_have_no_default_secret():
    result = _check({"DJANGO_ALLOWED_HOSTS": "portal.example"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
