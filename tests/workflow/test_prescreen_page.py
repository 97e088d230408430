"""The city reviewer's pre-screen button on the eligibility lists page (/work/lists/).

The POST starts a run enqueued after commit (a Celery task: docs/workflow.md says why); here the
task's ``delay`` runs it in-process, as the worker would."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.shortcuts import resolve_url
from django.urls import reverse

from tests.factories import AccountFactory
from workflow import tasks
from workflow.chain import Action, State
from workflow.models import EligibilityEntry, EligibilityList, PrescreenRun
from workflow.services import item_transition

INDEX = "/work/lists/"
PRESCREEN = "/work/lists/prescreen/"


@pytest.fixture
def run_inline(monkeypatch):
    """The task's ``delay`` runs the task here (no worker in these tests)."""
    monkeypatch.setattr(tasks.prescreen_run, "delay", lambda run_id: tasks.prescreen_run(run_id))


@pytest.fixture
def accounts(db):
    """Two eligible accounts and a residential one in 南岗, an eligible one in 道里."""
    return {
        "nangang": [AccountFactory(district_name="南岗"), AccountFactory(district_name="南岗")],
        "residential": AccountFactory(district_name="南岗", category="residential", industry_code=""),
        "daoli": AccountFactory(district_name="道里"),
    }


def login(client, user):
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def post(client, policy="discount-2020", **kwargs):
    return client.post(PRESCREEN, {"policy": policy}, **kwargs)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_the_button_is_on_the_lists_page_for_the_city_reviewer_only(client, make_staff):
    body = login(client, make_staff("city_reviewer")).get(INDEX).content.decode()
    assert f'action="{PRESCREEN}"' in body and 'name="csrfmiddlewaretoken"' in body
    assert '<option value="discount-2020" selected>' in body
    assert "<script>" not in body  # the progress script is a static file (CSP without unsafe-inline)
    assert '<script src="/static/js/prescreen.js" defer></script>' in body
    for role, district in (("clerk", "南岗"), ("district_reviewer", "南岗"), ("manager", None)):
        response = login(client, make_staff(role, district=district)).get(INDEX)
        assert response.status_code == 200
        assert PRESCREEN not in response.content.decode(), role


@pytest.mark.django_db
def test_a_city_reviewers_post_creates_the_lists_and_the_page_shows_the_result(
    client, make_staff, accounts, run_inline, django_capture_on_commit_callbacks
):
    client = login(client, make_staff("city_reviewer"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, follow=True)
    assert len(callbacks) == 1  # enqueued after commit
    assert response.redirect_chain == [(INDEX, 302)]
    assert any("Pre-screen of" in m and "started" in m for m in messages_of(response))

    lists = EligibilityList.objects.filter(policy_id="discount-2020")
    assert lists.count() == 9 and set(lists.values_list("state", flat=True)) == {State.DRAFT}
    nangang = lists.get(district__name="南岗")
    assert set(nangang.entries.values_list("account_id", flat=True)) == {a.pk for a in accounts["nangang"]}
    run = PrescreenRun.objects.get()
    assert (run.state, run.districts_done, run.districts_total) == ("done", 9, 9)

    body = client.get(INDEX).content.decode()
    assert "9 lists created, 0 refreshed, 0 unchanged, 0 past draft left as they are." in body
    assert f"南岗: list #{nangang.pk} created (+2 −0 accounts)" in body


@pytest.mark.django_db
def test_a_refresh_updates_drafts_and_never_changes_a_list_past_draft(
    client, make_staff, accounts, run_inline, django_capture_on_commit_callbacks
):
    client = login(client, make_staff("city_reviewer"))
    with django_capture_on_commit_callbacks(execute=True):
        post(client)
    daoli = EligibilityList.objects.get(district__name="道里")
    item_transition(item=daoli, action=Action.SUBMIT, by=make_staff("clerk", district="道里"))
    daoli_entries = list(EligibilityEntry.objects.filter(eligibility_list=daoli).values_list("account_id", flat=True))
    daoli.refresh_from_db()
    daoli_before = (daoli.state, daoli.forecast_at, daoli.forecast_reduction)
    AccountFactory(district_name="道里")  # new accounts in both districts
    new_nangang = AccountFactory(district_name="南岗")

    with django_capture_on_commit_callbacks(execute=True):
        post(client)

    daoli.refresh_from_db()
    assert (daoli.state, daoli.forecast_at, daoli.forecast_reduction) == daoli_before
    assert list(EligibilityEntry.objects.filter(eligibility_list=daoli).values_list("account_id", flat=True)) == (
        daoli_entries
    )
    nangang = EligibilityList.objects.get(district__name="南岗")
    assert nangang.entries.filter(account=new_nangang).exists()
    body = client.get(INDEX).content.decode()
    assert "0 lists created, 1 refreshed, 7 unchanged, 1 past draft left as they are." in body
    assert f"道里: list #{daoli.pk} is Pending district review, left unchanged" in body
    assert PrescreenRun.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "district"), [("clerk", "南岗"), ("district_reviewer", "南岗"), ("manager", None)])
def test_other_roles_are_refused_and_nothing_is_written(client, make_staff, accounts, role, district):
    response = post(login(client, make_staff(role, district=district)))
    assert response.status_code == 403
    assert not PrescreenRun.objects.exists() and not EligibilityList.objects.exists()


@pytest.mark.django_db
def test_anonymous_goes_to_login_and_get_is_not_allowed(client, make_staff):
    response = post(client)
    assert response.status_code == 302 and response["Location"] == f"{resolve_url(settings.LOGIN_URL)}?next={PRESCREEN}"
    assert login(client, make_staff("city_reviewer")).get(PRESCREEN).status_code == 405
    assert not PrescreenRun.objects.exists()


@pytest.mark.django_db
def test_an_unknown_policy_or_one_without_rules_is_a_message_not_a_500(client, make_staff):
    client = login(client, make_staff("city_reviewer"))
    response = post(client, policy="no-such-policy", follow=True)
    assert response.status_code == 200
    assert any(m.startswith("Policy:") for m in messages_of(response))
    response = post(client, policy="two-part-relief-2020", follow=True)
    assert response.status_code == 200 and any("Policy:" in m for m in messages_of(response))
    assert not PrescreenRun.objects.exists()


@pytest.mark.django_db
def test_a_second_start_while_one_runs_is_refused_with_a_message(client, make_staff, monkeypatch):
    monkeypatch.setattr(tasks.prescreen_run, "delay", lambda run_id: None)  # queued, no worker yet
    client = login(client, make_staff("city_reviewer"))
    post(client)
    response = post(client, follow=True)
    assert any("already under way" in m for m in messages_of(response))
    assert PrescreenRun.objects.count() == 1
    assert "disabled" in client.get(INDEX).content.decode().split("Start the pre-screen")[0].rsplit("<button", 1)[1]


@pytest.mark.django_db
def test_the_progress_endpoint_for_the_city_reviewer(
    client, make_staff, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.prescreen_run, "delay", lambda run_id: None)
    city = make_staff("city_reviewer")
    with django_capture_on_commit_callbacks(execute=True):
        post(login(client, city))
    run = PrescreenRun.objects.get()
    url = reverse("workflow:list-prescreen-run", args=[run.pk])
    data = client.get(url).json()
    assert data == {
        "id": run.pk,
        "state": "queued",
        "state_label": "Queued",
        "active": True,
        "districts_done": 0,
        "districts_total": 9,
        "percent": 0,
        "error": "",
    }
    tasks.prescreen_run(run.pk)
    assert client.get(url).json()["percent"] == 100
    assert tasks.prescreen_run(run.pk) is False  # a duplicate task does nothing
    assert login(client, make_staff("clerk", district="南岗")).get(url).status_code == 403


@pytest.mark.django_db
def test_a_broker_that_is_down_fails_the_run_with_a_message(
    client, make_staff, monkeypatch, django_capture_on_commit_callbacks
):
    def down(run_id):
        raise OSError("connection refused")

    monkeypatch.setattr(tasks.prescreen_run, "delay", down)
    client = login(client, make_staff("city_reviewer"))
    with django_capture_on_commit_callbacks(execute=True):
        post(client)
    run = PrescreenRun.objects.get()
    assert run.state == "failed" and "connection refused" in run.error
    assert "The pre-screen failed:" in client.get(INDEX).content.decode()


@pytest.mark.django_db
def test_the_service_refuses_a_policy_without_district_lists(make_staff):
    from django.core.exceptions import ValidationError

    from workflow.eligibility import prescreen_start

    with pytest.raises(ValidationError, match="no district eligibility lists"):
        prescreen_start(policy_code="two-part-relief-2020", by=make_staff("city_reviewer"))
    assert not PrescreenRun.objects.exists()
