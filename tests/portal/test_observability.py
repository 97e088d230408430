"""Request ids, JSON log lines, failed logins, error mail to ADMINS and failed tasks in the log."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.urls import reverse

from portal.observability import client_address

WRONG_PASSWORD = "Wr0ng-Passw0rd-Never-Logged"
HEX_ID = re.compile(r"[0-9a-f]{32}")


def _run(script: str, env_extra: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter with its own settings and environment (logging is
    configured once per process, so a configuration is best tried in a process of its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_", "EMAIL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        CELERY_BROKER_URL="memory://",
    )
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- request ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("incoming", ["3f2a9c1e-7b4d-4e8a-9f00-1234567890ab", "nginx.0123abcd", "a" * 64])
def test_a_sane_incoming_request_id_is_kept(client, db, incoming):
    response = client.get(reverse("login"), headers={"X-Request-ID": incoming})
    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["a" * 65, "two words", "<script>", "id;rm -rf", "ünïcode", "-leading", ""])
def test_an_insane_incoming_request_id_is_replaced(client, db, incoming):
    response = client.get(reverse("login"), headers={"X-Request-ID": incoming})
    assert HEX_ID.fullmatch(response["X-Request-ID"])
    assert response["X-Request-ID"] != incoming


def test_every_request_gets_its_own_id_and_redirects_carry_it(client, db):
    first = client.get("/dashboard/")  # anonymous: a redirect to the login page
    second = client.get("/dashboard/")
    assert first.status_code == 302
    assert HEX_ID.fullmatch(first["X-Request-ID"]) and HEX_ID.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_log_records_of_a_request_carry_its_id(client, db, caplog):
    caplog.set_level(logging.WARNING)
    response = client.get("/no-such-page/", headers={"X-Request-ID": "probe-404"})
    assert response.status_code == 404
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.request_id == "probe-404" for r in records)
    logging.getLogger("portal.test").warning("after the request")
    assert caplog.records[-1].request_id is None


JSON_SCRIPT = r"""
import json, django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.test import Client
client = Client()
a = client.get("/no-such-page/", headers={"X-Request-ID": "kept-id-123"})
b = client.get("/healthz", headers={"X-Request-ID": "x" * 200})
print("RESULT " + json.dumps({"a": a["X-Request-ID"], "b": b["X-Request-ID"], "b_status": b.status_code}))
"""


def test_json_log_lines_carry_the_request_id_of_the_response(tmp_path):
    result = _run(JSON_SCRIPT, {"PORTAL_LOG_JSON": "1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert ids["a"] == "kept-id-123"
    assert HEX_ID.fullmatch(ids["b"])  # 200 characters: replaced
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    not_found = [r for r in records if r["name"] == "django.request"]
    assert not_found and not_found[0]["request_id"] == "kept-id-123"
    assert not_found[0]["levelname"] == "WARNING" and "timestamp" in not_found[0]
    assert "request" not in not_found[0]  # the request's repr (query string) stays out
    health = [r for r in records if r["name"] == "portal.health"]
    assert health and health[0]["request_id"] == ids["b"]


def test_without_json_the_lines_stay_plain_text(tmp_path):
    result = _run(JSON_SCRIPT, {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Not Found: /no-such-page/" in result.stderr.splitlines()
    assert not any(line.startswith("{") for line in result.stderr.splitlines())


# --- failed logins -------------------------------------------------------------------------------------


def _auth_records(caplog):
    return [r for r in caplog.records if r.name == "portal.auth"]


def _assert_never_the_password(caplog):
    assert WRONG_PASSWORD not in caplog.text
    for record in caplog.records:
        assert WRONG_PASSWORD not in repr(vars(record))


def test_a_failed_web_login_is_logged_with_user_and_address_never_the_password(client, make_staff, caplog):
    make_staff("clerk", district="南岗", username="ann", password="Right-Passw0rd-123")
    caplog.set_level(logging.WARNING, logger="portal.auth")
    response = client.post(reverse("login"), {"username": "ann", "password": WRONG_PASSWORD})
    assert response.status_code == 200  # the form again, with its error
    [record] = _auth_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.username == "ann" and record.client_address == "127.0.0.1"
    assert "'ann'" in record.getMessage() and "127.0.0.1" in record.getMessage()
    _assert_never_the_password(caplog)


def test_a_failed_token_request_is_logged_too(client, make_staff, caplog):
    make_staff("clerk", district="南岗", username="bob", password="Right-Passw0rd-123")
    caplog.set_level(logging.WARNING, logger="portal.auth")
    response = client.post(reverse("api:token"), {"username": "bob", "password": WRONG_PASSWORD})
    assert response.status_code == 400
    [record] = _auth_records(caplog)
    assert record.username == "bob" and record.client_address == "127.0.0.1"
    assert record.path == "/api/v1/auth/token/"
    _assert_never_the_password(caplog)


def test_a_successful_login_is_not_logged_as_failed(client, make_staff, caplog):
    make_staff("clerk", district="南岗", username="cat", password="Right-Passw0rd-123")
    caplog.set_level(logging.WARNING, logger="portal.auth")
    client.post(reverse("login"), {"username": "cat", "password": "Right-Passw0rd-123"})
    assert _auth_records(caplog) == []


def test_the_logged_user_name_is_bounded_and_without_control_characters(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="portal.auth")
    client.post(reverse("login"), {"username": "evil\r\nFAKE LINE\x1b[31m" + "x" * 500, "password": WRONG_PASSWORD})
    [record] = _auth_records(caplog)
    assert len(record.username) <= 150
    assert not any(ord(ch) < 32 or ch == "\x7f" for ch in record.getMessage())
    assert record.username.startswith("evilFAKE LINE[31m")
    _assert_never_the_password(caplog)


def test_behind_trusted_proxies_the_address_is_the_last_untrusted_forwarded_one(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="portal.auth")
    forwarded = "198.51.100.9, 203.0.113.7, 10.1.2.3"  # spoofed, the client, an inner proxy
    with override_settings(PORTAL_TRUSTED_PROXIES=["127.0.0.1", "10.0.0.0/8"]):
        client.post(
            reverse("login"), {"username": "dan", "password": WRONG_PASSWORD}, headers={"X-Forwarded-For": forwarded}
        )
    client.post(
        reverse("login"), {"username": "eve", "password": WRONG_PASSWORD}, headers={"X-Forwarded-For": forwarded}
    )
    assert [r.client_address for r in _auth_records(caplog)] == ["203.0.113.7", "127.0.0.1"]


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", "", "203.0.113.5"),  # no proxy in between
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not a trusted proxy: its header means nothing
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),  # nginx on the machine
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", "127.0.0.1"),  # only proxies: the nearest
        ("127.0.0.1", "198.51.100.1, garbage", "127.0.0.1"),  # unreadable: nothing beyond it is believed
        ("::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_address(remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(PORTAL_TRUSTED_PROXIES=["127.0.0.1", "::1"]):
        assert client_address(request) == expected


# --- ADMINS and error mail in production ------------------------------------------------------------

MAIL_SCRIPT = r"""
import json, sys, types, django
django.setup()
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import mail
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.urls import path

setup_test_environment()  # the locmem mail backend: mail.outbox

@login_not_required
def boom(request):
    raise RuntimeError("boom for the error mail")

urls = types.ModuleType("failing_urls")
urls.urlpatterns = [path("boom/", boom)]
sys.modules["failing_urls"] = urls
client = Client(raise_request_exception=False)
# No collectstatic here: the 500 page's {% static %} needs no manifest.
plain_static = {
    **settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
}
with override_settings(ROOT_URLCONF="failing_urls", STORAGES=plain_static):
    failed = client.get("/boom/", secure=True, headers={"host": "portal.example"})
health = client.get("/healthz", headers={"host": "portal.example"})  # plain HTTP, as a load balancer
print("RESULT " + json.dumps({
    "admins": settings.ADMINS,
    "status": failed.status_code,
    "to": [m.to for m in mail.outbox],
    "subjects": [m.subject for m in mail.outbox],
    "bodies": [m.body for m in mail.outbox],
    "senders": [m.from_email for m in mail.outbox],
    "health_status": health.status_code,
}))
"""


def test_admins_come_from_the_environment_and_a_500_in_production_mails_them(tmp_path):
    result = _run(
        MAIL_SCRIPT,
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DJANGO_SECRET_KEY": "x" * 20 + "-Long-Random-Secret-Value-0123456789",
            "DJANGO_ALLOWED_HOSTS": "portal.example",
            "DJANGO_ADMINS": "Ops <ops@example.com>,Ann Li <ann@example.com>",
            "DJANGO_SERVER_EMAIL": "portal@example.com",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert answer["admins"] == [["Ops", "ops@example.com"], ["Ann Li", "ann@example.com"]]
    assert answer["status"] == 500
    assert answer["to"] == [["ops@example.com", "ann@example.com"]]  # one mail, to both
    assert answer["subjects"] == ["[relief portal] ERROR (EXTERNAL IP): Internal Server Error: /boom/"]
    assert "boom for the error mail" in answer["bodies"][0] and answer["senders"] == ["portal@example.com"]
    assert answer["health_status"] in (200, 503)  # answered over plain HTTP, not redirected to HTTPS


# --- failed tasks ------------------------------------------------------------------------------------------


def test_a_failing_task_is_logged_with_its_name_id_and_item(db, caplog, monkeypatch):
    from workflow import services
    from workflow.tasks import item_settle

    def broken(**kwargs):
        raise RuntimeError("settlement broke")

    monkeypatch.setattr(services, "item_settle", broken)
    caplog.set_level(logging.ERROR, logger="organisation.tasks")
    result = item_settle.apply(args=("eligibility_list", 42))
    assert result.failed()
    [record] = [r for r in caplog.records if r.name == "organisation.tasks"]
    message = record.getMessage()
    assert "workflow.item_settle" in message and result.id in message
    assert "eligibility_list 42" in message and "RuntimeError: settlement broke" in message
    assert record.task_id == result.id and record.item == "eligibility_list 42"
    assert record.task_args == {"cause_type": "eligibility_list", "cause_id": 42}


def test_a_task_that_succeeds_logs_no_failure(db, caplog):
    from workflow.tasks import item_settle

    caplog.set_level(logging.ERROR, logger="organisation.tasks")
    assert item_settle.apply(args=("eligibility_list", 42)).successful()
    assert not [r for r in caplog.records if r.name == "organisation.tasks"]


def test_a_failed_posting_job_is_logged_with_its_cause(db, caplog):
    from billing import posting
    from billing.models import JobState, PostingJob

    job = PostingJob.objects.create(cause_type="application", cause_id=77, state=JobState.RUNNING)
    done = PostingJob.objects.create(cause_type="application", cause_id=78, state=JobState.DONE)
    caplog.set_level(logging.ERROR, logger="billing.posting")
    posting.job_fail(job_id=job.pk, error="OperationalError: database is locked")
    posting.job_fail(job_id=done.pk, error="late duplicate")  # a done job stays done, unlogged
    [record] = [r for r in caplog.records if r.name == "billing.posting"]
    assert f"posting job {job.pk} (application 77) failed: OperationalError" in record.getMessage()
    assert (record.job_id, record.cause_type, record.cause_id) == (job.pk, "application", 77)
    job.refresh_from_db()
    assert job.state == JobState.FAILED


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery
def test_a_real_worker_logs_json_lines_and_names_the_failed_item(celery_worker_factory):
    from portal.celery import app

    app.connection_for_write().default_channel.client.flushdb()
    worker = celery_worker_factory(extra_env={"PORTAL_LOG_JSON": "1"})
    # A malformed message: the id is not a number, the task fails at once (no retries).
    sent = app.send_task("workflow.item_settle", args=("application", "not-an-id"))
    deadline = time.monotonic() + 30
    while b'"organisation.tasks"' not in worker.log.read_bytes():
        assert time.monotonic() < deadline, worker.log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    worker.stop()
    lines = worker.log.read_text(errors="replace").splitlines()
    # Celery's own format ("[2020-03-01 10:00:00,000: INFO/MainProcess] …") must not appear: the
    # root logger was not taken over. (The start-up banner is printed, not logged.)
    assert not [line for line in lines if re.match(r"\[\d{4}-\d\d-\d\d [\d:,]+: [A-Z]+/", line)]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r["message"].endswith(" ready.") for r in records)
    [failure] = [r for r in records if r["name"] == "organisation.tasks"]
    assert failure["task_name"] == "workflow.item_settle" and failure["task_id"] == sent.id
    assert failure["item"] == "application not-an-id"
    assert "ValueError" in failure["error"]
