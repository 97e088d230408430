"""``GET /healthz``: the database, the broker and a worker, probed briefly, for anyone, without data."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from billing.models import JobState, PostingJob
from portal import health
from tests.factories import AccountFactory, ApplicationFactory, EligibilityListFactory
from workflow.chain import State

KEYS = {"database", "broker", "worker", "pending_jobs", "oldest_unsettled_seconds"}
BROKER_PASSWORD = "S3cret-Broker-Pw"


@pytest.fixture(autouse=True)
def _fresh_answer():
    """Each test sees a new check, not the answer an earlier test left in the process."""
    health.cache_clear()
    yield
    health.cache_clear()


def _repoint(url):
    from portal.celery import app

    os.environ["CELERY_BROKER_URL"] = url  # Celery reads the environment before its own setting
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    """The portal's Celery app points at a closed port on loopback (with a password in the URL)."""
    from portal.celery import app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    previous, previous_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    _repoint(f"redis://:{BROKER_PASSWORD}@127.0.0.1:{port}/0")
    yield
    _repoint(previous)
    if previous_env is None:
        os.environ.pop("CELERY_BROKER_URL", None)


def _get(client):
    started = time.monotonic()
    response = client.get("/healthz")
    return response, time.monotonic() - started


def _assert_no_secrets_or_data(response, *texts):
    body = response.content.decode()
    assert set(response.json()) == KEYS
    assert response["Cache-Control"] == "no-store"
    assert "Traceback" not in body
    for text in texts:
        assert text not in body


def _some_customer():
    return AccountFactory(name="保密客户有限公司")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery
def test_200_with_database_broker_and_a_real_worker(celery_worker_process, client):
    account = _some_customer()
    PostingJob.objects.create(cause_type="eligibility_list", cause_id=987654, state=JobState.PENDING)
    response, elapsed = _get(client)  # anonymous: no login
    assert response.status_code == 200, response.content
    assert response.json() == {
        "database": "ok",
        "broker": "ok",
        "worker": "ok",
        "pending_jobs": 1,
        "oldest_unsettled_seconds": None,
    }
    _assert_no_secrets_or_data(response, account.account_no, account.name)
    assert elapsed < 5


def test_counts_backlog_and_oldest_unsettled_approval(db, client, districts):
    """Without a worker (the tests' in-memory broker) the answer is 503, and still counts the backlog."""
    account = _some_customer()
    two_hours_ago = timezone.now() - dt.timedelta(hours=2)
    one, two, three = list(districts)[:3]  # one live list per district
    EligibilityListFactory(state=State.APPROVED, state_changed_at=two_hours_ago, district_name=one)
    ApplicationFactory(account=account, state=State.APPROVED, state_changed_at=timezone.now())
    EligibilityListFactory(
        state=State.SETTLED, state_changed_at=timezone.now() - dt.timedelta(days=9), district_name=two
    )
    EligibilityListFactory(
        state=State.PENDING_LEADER, state_changed_at=timezone.now() - dt.timedelta(days=8), district_name=three
    )
    PostingJob.objects.create(cause_type="eligibility_list", cause_id=1, state=JobState.FAILED)
    PostingJob.objects.create(cause_type="eligibility_list", cause_id=2, state=JobState.RUNNING)
    PostingJob.objects.create(cause_type="eligibility_list", cause_id=3, state=JobState.DONE)

    response, _ = _get(client)

    answer = response.json()
    assert response.status_code == 503
    assert answer["database"] == "ok" and answer["broker"] == "ok"
    assert answer["worker"] == "no worker answered within 1s"
    assert answer["pending_jobs"] == 2
    assert 7200 <= answer["oldest_unsettled_seconds"] < 7200 + 60
    _assert_no_secrets_or_data(response, account.account_no, account.name)


def test_no_unsettled_item_is_null(db, client):
    EligibilityListFactory(state=State.SETTLED)
    assert _get(client)[0].json()["oldest_unsettled_seconds"] is None


def test_503_names_the_broker_when_it_is_down_and_answers_in_bounded_time(db, client, broker_down):
    response, elapsed = _get(client)
    answer = response.json()
    assert response.status_code == 503  # not a redirect to the login page
    assert answer["database"] == "ok"
    assert answer["broker"].startswith("unreachable: ")
    assert "Connection refused" in answer["broker"]
    assert answer["worker"] == "not checked: no broker"
    _assert_no_secrets_or_data(response, BROKER_PASSWORD)
    assert elapsed < 5


def test_a_503_is_not_mailed_to_the_admins(db, client, broker_down):
    with override_settings(ADMINS=[("Ops", "ops@example.com")]):
        assert _get(client)[0].status_code == 503
    assert mail.outbox == []


@pytest.mark.redis
def test_503_names_the_worker_when_redis_is_up_and_no_worker_answers(throwaway_redis, db, client):
    response, elapsed = _get(client)
    answer = response.json()
    assert response.status_code == 503
    assert (answer["database"], answer["broker"]) == ("ok", "ok")
    assert answer["worker"] == "no worker answered within 1s"
    assert elapsed < 5


@pytest.mark.redis
def test_503_when_a_real_redis_stops(throwaway_redis, db, client):
    throwaway_redis.stop()
    response, elapsed = _get(client)
    assert response.status_code == 503
    assert response.json()["broker"].startswith("unreachable: ")
    assert elapsed < 5


def test_503_names_the_database_without_its_password(db, client, monkeypatch):
    from django.db import connection

    def refuse(**params):
        raise connection.Database.OperationalError(
            'connection to server at "127.0.0.1", port 1 failed: password=hunter2-db FATAL postgres://u:hunter2-db@h/db'
        )

    monkeypatch.setattr(connection, "vendor", "postgresql")
    monkeypatch.setattr(connection, "get_connection_params", lambda: {})
    monkeypatch.setattr(connection.Database, "connect", refuse, raising=False)
    response, _ = _get(client)
    answer = response.json()
    assert response.status_code == 503
    assert answer["database"].startswith("unreachable: OperationalError")
    assert (answer["pending_jobs"], answer["oldest_unsettled_seconds"]) == (None, None)
    _assert_no_secrets_or_data(response, "hunter2-db")


def test_the_answer_is_kept_a_few_seconds(db, client, monkeypatch):
    calls = []
    real = health.health_check

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(health, "health_check", counted)
    for _ in range(3):
        client.get("/healthz")
    assert len(calls) == 1
    with override_settings(PORTAL_HEALTH_CACHE_SECONDS=0):
        client.get("/healthz")
    assert len(calls) == 2


def test_only_get_and_head(db, client):
    assert client.post("/healthz").status_code == 405


def test_answer_is_json_with_a_request_id(db, client):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content).keys() == KEYS
    assert response["X-Request-ID"]
