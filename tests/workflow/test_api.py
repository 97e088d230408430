"""The workflow API (interfaces.md §2): applications and eligibility lists, every documented status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation
from rest_framework.test import APIClient

from organisation.roles import Role
from tests.factories import AccountFactory, ApplicationFactory, BillFactory
from workflow.chain import Action, State
from workflow.eligibility import eligibility_prescreen
from workflow.models import Application, Decision, EligibilityList, Proxy
from workflow.services import item_transition

pytestmark = pytest.mark.django_db

APPS = "/api/v1/applications/"
LISTS = "/api/v1/eligibility-lists/"
ID_NUMBER = "23010219450101123X"


def client_for(user=None, language: str = "en") -> APIClient:
    """A client logged in as ``user`` (a session), with messages in ``language`` (the language switch's cookie)."""
    client = APIClient()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    if user is not None:
        client.force_login(user)
    return client


def detail(pk) -> str:
    return f"{APPS}{pk}/"


def act(pk, action) -> str:
    return f"{APPS}{pk}/transitions/{action}/"


@pytest.fixture
def staff(make_staff):
    """One person per role; district roles in 南岗."""
    return {
        "clerk": make_staff(Role.CLERK, district="南岗", username="clerk"),
        "district": make_staff(Role.DISTRICT_REVIEWER, district="南岗", username="district"),
        "city": make_staff(Role.CITY_REVIEWER, username="city"),
        "head": make_staff(Role.DEPARTMENT_HEAD, username="head"),
        "leader": make_staff(Role.LEADER, username="leader"),
        "manager": make_staff(Role.MANAGER, username="manager"),
    }


@pytest.fixture
def capacity_account(db):
    return AccountFactory(
        district_name="南岗", category="large_industrial", basic_charge_method="capacity", capacity_kva=Decimal(1000)
    )


def capacity_body(account, **overrides) -> dict:
    body = {
        "kind": "suspension",
        "account_no": account.account_no,
        "channel": "counter",
        "received_on": "2020-03-01",
        "capacity_kva": "1000",
        "seal_date": "2020-03-05",
        "restore_date": "2020-03-20",
        "reason": "疫情停产",
    }
    body.update(overrides)
    return body


VERIFICATION = {
    "meter_check": "confirmed",
    "survey_date": "2020-03-06",
    "surveyor": "王工",
    "findings": "变压器已加封",
    "seal_number": "FS-001",
}


def submitted(clerk, **kwargs) -> Application:
    """An application of 南岗 submitted by ``clerk`` (arrears protection: no verification needed)."""
    app = ApplicationFactory(account=AccountFactory(district_name="南岗"), created_by=clerk, **kwargs)
    return item_transition(item=app, action=Action.SUBMIT, by=clerk)


# --- POST /applications/ ------------------------------------------------------------------------


def test_clerk_enters_a_paper_application_by_proxy_201(staff):
    account = AccountFactory(district_name="南岗")
    body = {
        "kind": "arrears_protection",
        "account_no": account.account_no,
        "channel": "paper_proxy",
        "received_on": "2020-03-02",
        "reason": "老人委托子女代办",
        "proxy": {"name": "张小明", "relation": "子女", "id_number": ID_NUMBER, "phone": "13800000000"},
    }
    response = client_for(staff["clerk"]).post(APPS, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    app = Application.objects.get(pk=data["id"])
    assert data["state"] == "draft" == app.state
    assert (data["kind"], data["channel"], data["account_no"]) == (
        "arrears_protection",
        "paper_proxy",
        account.account_no,
    )
    assert data["received_on"] == "2020-03-02"
    assert data["district"] == "南岗"
    assert data["created_by"] == "clerk"
    assert data["history"] == []
    assert data["transitions"] == ["submit", "withdraw"]
    assert data["proxy"]["name"] == "张小明"
    assert data["proxy"]["id_number"] == "230***********123X"
    assert data["proxy"]["id_number_masked"] is True
    assert Proxy.objects.get(application=app).id_number == ID_NUMBER


def test_received_on_defaults_to_today(staff):
    from django.utils import timezone

    account = AccountFactory(district_name="南岗")
    response = client_for(staff["clerk"]).post(
        APPS, {"kind": "arrears_protection", "account_no": account.account_no, "channel": "counter"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["received_on"] == timezone.localdate().isoformat()


def test_create_without_kind_is_400_on_kind(staff):
    account = AccountFactory(district_name="南岗")
    response = client_for(staff["clerk"]).post(
        APPS, {"account_no": account.account_no, "channel": "counter"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"kind"}
    assert isinstance(response.json()["kind"], list)
    assert not Application.objects.exists()


def test_m7_seal_date_before_february_2020_is_400_naming_the_date(staff, capacity_account):
    body = capacity_body(capacity_account, seal_date="2020-01-20")
    response = client_for(staff["clerk"]).post(APPS, body, format="json")
    assert response.status_code == 400
    assert "2020-02-01" in " ".join(response.json()["seal_date"])
    assert "M7" in " ".join(response.json()["seal_date"])
    assert not Application.objects.exists()


def test_m7_15_day_rule_outside_the_window_is_400_on_restore_date(staff, capacity_account):
    body = capacity_body(capacity_account, received_on="2019-02-20", seal_date="2019-03-05", restore_date="2019-03-15")
    response = client_for(staff["clerk"]).post(APPS, body, format="json")
    assert response.status_code == 400
    assert "15-day rule" in " ".join(response.json()["restore_date"])


def test_paper_proxy_without_proxy_is_400_on_proxy(staff):
    account = AccountFactory(district_name="南岗")
    body = {"kind": "arrears_protection", "account_no": account.account_no, "channel": "paper_proxy"}
    response = client_for(staff["clerk"]).post(APPS, body, format="json")
    assert response.status_code == 400
    assert "proxy" in response.json()


def test_bad_proxy_id_number_is_400_on_the_flat_field_name(staff):
    account = AccountFactory(district_name="南岗")
    body = {
        "kind": "arrears_protection",
        "account_no": account.account_no,
        "channel": "paper_proxy",
        "proxy": {"name": "张小明", "relation": "子女", "id_number": "12345", "phone": "13800000000"},
    }
    response = client_for(staff["clerk"]).post(APPS, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["proxy.id_number"]
    assert all(isinstance(m, str) for m in response.json()["proxy.id_number"])


def test_account_of_another_district_is_400_on_account_no(staff):
    account = AccountFactory(district_name="道里")
    response = client_for(staff["clerk"]).post(
        APPS, {"kind": "arrears_protection", "account_no": account.account_no, "channel": "counter"}, format="json"
    )
    assert response.status_code == 400
    assert account.account_no in response.json()["account_no"][0]


@pytest.mark.parametrize("who", ["district", "city", "manager"])
def test_non_clerk_create_is_403_saying_why(staff, who):
    account = AccountFactory(district_name="南岗")
    response = client_for(staff[who]).post(
        APPS, {"kind": "arrears_protection", "account_no": account.account_no, "channel": "counter"}, format="json"
    )
    assert response.status_code == 403
    assert "clerk" in response.json()["detail"].lower()
    assert not Application.objects.exists()


def test_non_clerk_with_a_bad_body_is_still_403(staff):
    response = client_for(staff["city"]).post(APPS, {"kind": "nonsense"}, format="json")
    assert response.status_code == 403


# --- 401 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", APPS),
        ("post", APPS),
        ("get", f"{APPS}1/"),
        ("post", f"{APPS}1/transitions/approve/"),
        ("post", f"{APPS}1/verification/"),
        ("get", LISTS),
        ("get", f"{LISTS}1/"),
        ("get", f"{LISTS}1/entries/"),
        ("post", f"{LISTS}1/entries/"),
        ("post", f"{LISTS}1/transitions/submit/"),
    ],
)
def test_anonymous_is_401(method, path):
    response = getattr(client_for(None), method)(path, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_token_authenticates(staff):
    from rest_framework.authtoken.models import Token

    app = submitted(staff["clerk"])
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff['district']).key}")
    assert client.get(detail(app.pk)).json()["state"] == "pending_district"


# --- GET /applications/{id}/ and 404 ----------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CLERK, Role.DISTRICT_REVIEWER])
def test_other_districts_staff_get_404_on_read_and_on_actions(staff, make_staff, role):
    app = submitted(staff["clerk"])
    outsider = client_for(make_staff(role, district="道里"))
    assert outsider.get(detail(app.pk)).status_code == 404
    assert outsider.post(act(app.pk, "approve"), {}, format="json").status_code == 404
    assert outsider.post(act(app.pk, "withdraw"), {}, format="json").status_code == 404
    assert outsider.post(f"{APPS}{app.pk}/verification/", VERIFICATION, format="json").status_code == 404
    app.refresh_from_db()
    assert app.state == State.PENDING_DISTRICT
    assert Decision.objects.filter(application=app).count() == 1


@pytest.mark.parametrize("pk", ["999999", "abc", "0", "-1", "1.5", "99999999999999999999"])
def test_unknown_or_malformed_id_is_404(staff, pk):
    client = client_for(staff["city"])
    assert client.get(detail(pk)).status_code == 404
    assert client.post(act(pk, "approve"), {}, format="json").status_code == 404
    assert client.get(f"{LISTS}{pk}/").status_code == 404


def test_user_without_a_role_sees_nothing(staff, make_staff):
    app = submitted(staff["clerk"])
    nobody = client_for(make_staff(district="南岗"))
    assert nobody.get(detail(app.pk)).status_code == 404
    assert nobody.get(APPS).json()["results"] == []


def test_unknown_action_is_404(staff):
    app = submitted(staff["clerk"])
    client = client_for(staff["district"])
    for action in ("approve-all", "fast_track", "settle", "send_back"):
        response = client.post(act(app.pk, action), {}, format="json")
        assert response.status_code == 404
        assert "submit" in response.json()["detail"]
    app.refresh_from_db()
    assert app.state == State.PENDING_DISTRICT


# --- transitions: 403, 409, 400 -------------------------------------------------------------


def test_submitter_holding_the_district_role_may_not_approve_403_separation_of_duties(make_staff):
    both = make_staff(Role.CLERK, Role.DISTRICT_REVIEWER, district="南岗", username="both")
    client = client_for(both)
    account = AccountFactory(district_name="南岗")
    created = client.post(
        APPS, {"kind": "arrears_protection", "account_no": account.account_no, "channel": "counter"}, format="json"
    ).json()
    submitted_ = client.post(act(created["id"], "submit"), {}, format="json")
    assert submitted_.status_code == 200
    assert submitted_.json()["state"] == "pending_district"
    # They may still withdraw what they submitted, but approving is not offered …
    assert submitted_.json()["transitions"] == ["withdraw"]
    # … and refused with the reason.
    response = client.post(act(created["id"], "approve"), {}, format="json")
    assert response.status_code == 403
    assert "separation of duties" in response.json()["detail"]
    assert Application.objects.get(pk=created["id"]).state == State.PENDING_DISTRICT


def test_wrong_role_is_403_naming_the_role(staff):
    app = submitted(staff["clerk"])
    response = client_for(staff["city"]).post(act(app.pk, "approve"), {}, format="json")
    assert response.status_code == 403
    with translation.override("en"):
        assert str(Role.DISTRICT_REVIEWER.label) in response.json()["detail"]


def test_approving_with_a_stale_expected_state_is_409_naming_the_current_state(staff):
    app = ApplicationFactory(state=State.PENDING_CITY)
    response = client_for(staff["city"]).post(
        act(app.pk, "approve"), {"expected_state": "pending_district"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["state"] == "pending_city"
    with translation.override("en"):
        assert str(State.PENDING_CITY.label) in body["detail"]
    app.refresh_from_db()
    assert app.state == State.PENDING_CITY
    assert not Decision.objects.exists()


def test_conflict_message_names_the_state_in_the_callers_language(staff):
    app = ApplicationFactory(state=State.PENDING_HEAD)
    response = client_for(staff["city"], language="zh-hans").post(
        act(app.pk, "approve"), {"expected_state": "pending_city"}, format="json"
    )
    assert response.status_code == 409
    with translation.override("zh-hans"):
        label = str(State.PENDING_HEAD.label)
    assert label != "Pending department head"
    assert label in response.json()["detail"]


def test_approving_an_approved_item_is_409_naming_its_state(staff):
    app = ApplicationFactory(state=State.APPROVED)
    response = client_for(staff["leader"]).post(act(app.pk, "approve"), {"expected_state": "approved"}, format="json")
    assert response.status_code == 409
    assert response.json()["state"] == "approved"
    with translation.override("en"):
        assert str(State.APPROVED.label) in response.json()["detail"]
    without_expectation = client_for(staff["leader"]).post(act(app.pk, "approve"), {}, format="json")
    assert without_expectation.status_code == 409


def test_capacity_application_approved_without_verification_is_400(staff, capacity_account):
    clerk = client_for(staff["clerk"])
    app = clerk.post(APPS, capacity_body(capacity_account), format="json").json()
    assert clerk.post(act(app["id"], "submit"), {}, format="json").status_code == 200
    reviewer = client_for(staff["district"])
    shown = reviewer.get(detail(app["id"])).json()
    assert shown["evidence_complete"] is False
    assert "approve" not in shown["transitions"]
    assert set(shown["transitions"]) == {"return", "reject"}
    response = reviewer.post(act(app["id"], "approve"), {}, format="json")
    assert response.status_code == 400
    assert "verification" in response.json()
    assert Application.objects.get(pk=app["id"]).state == State.PENDING_DISTRICT


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("return", {}, "reason"),
        ("return", {"reason": "   "}, "reason"),
        ("reject", {"reason": "不符合"}, "reason_code"),
        ("reject", {"reason": "不符合", "reason_code": "nonsense"}, "reason_code"),
        ("reject", {"reason_code": "not_eligible"}, "reason"),
    ],
)
def test_return_and_reject_without_their_reason_are_400(staff, action, body, field):
    app = submitted(staff["clerk"])
    response = client_for(staff["district"]).post(act(app.pk, action), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    app.refresh_from_db()
    assert app.state == State.PENDING_DISTRICT


def test_return_and_reject_with_reasons_are_recorded(staff):
    app = submitted(staff["clerk"])
    district = client_for(staff["district"])
    returned = district.post(act(app.pk, "return"), {"reason": "补充材料"}, format="json").json()
    assert returned["state"] == "draft"
    assert returned["history"][-1]["reason"] == "补充材料"
    assert client_for(staff["clerk"]).post(act(app.pk, "submit"), {}, format="json").status_code == 200
    rejected = district.post(
        act(app.pk, "reject"), {"reason": "不符合条件", "reason_code": "not_eligible"}, format="json"
    ).json()
    assert rejected["state"] == "rejected"
    assert rejected["transitions"] == []
    last = rejected["history"][-1]
    assert (last["action"], last["from"], last["to"], last["reason_code"], last["level"]) == (
        "reject",
        "pending_district",
        "rejected",
        "not_eligible",
        "report_2",
    )


def test_submitter_withdraws_through_the_api(staff):
    app = submitted(staff["clerk"])
    response = client_for(staff["clerk"]).post(act(app.pk, "withdraw"), {}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"


# --- the whole chain ---------------------------------------------------------------------------


def test_full_chain_through_the_api_by_five_people(staff, capacity_account):
    clerk = client_for(staff["clerk"])
    created = clerk.post(APPS, capacity_body(capacity_account), format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert created.json()["relief"] is True
    assert clerk.post(act(pk, "submit"), {"expected_state": "draft"}, format="json").json()["state"] == (
        "pending_district"
    )

    district = client_for(staff["district"])
    verified = district.post(f"{APPS}{pk}/verification/", VERIFICATION, format="json")
    assert verified.status_code == 200
    assert verified.json()["verification"]["complete"] is True
    assert verified.json()["verification"]["seal_number"] == "FS-001"
    assert verified.json()["verification"]["recorded_by"] == "district"
    assert verified.json()["transitions"] == ["approve", "return", "reject"]

    for who, seen, then in [
        ("district", "pending_district", "pending_city"),
        ("city", "pending_city", "pending_head"),
        ("head", "pending_head", "pending_leader"),
        ("leader", "pending_leader", "approved"),
    ]:
        response = client_for(staff[who]).post(act(pk, "approve"), {"expected_state": seen}, format="json")
        assert response.status_code == 200, (who, response.content)
        assert response.json()["state"] == then

    final = client_for(staff["manager"]).get(detail(pk)).json()
    assert final["state"] == "approved"
    assert final["transitions"] == []
    assert [(h["action"], h["from"], h["to"], h["by"], h["level"]) for h in final["history"]] == [
        ("submit", "draft", "pending_district", "clerk", "report_1"),
        ("approve", "pending_district", "pending_city", "district", "report_2"),
        ("approve", "pending_city", "pending_head", "city", "approval_1"),
        ("approve", "pending_head", "pending_leader", "head", "approval_2"),
        ("approve", "pending_leader", "approved", "leader", "approval_3"),
    ]
    for who in ("clerk", "district", "city", "leader"):
        assert client_for(staff[who]).get(detail(pk)).json()["transitions"] == []


def test_fast_track_shows_a_system_decision_with_no_actor(staff):
    hospital = AccountFactory(district_name="南岗", priority_role="hospital")
    clerk = client_for(staff["clerk"])
    pk = clerk.post(
        APPS, {"kind": "new_connection", "account_no": hospital.account_no, "channel": "counter"}, format="json"
    ).json()["id"]
    data = clerk.post(act(pk, "submit"), {}, format="json").json()
    assert data["state"] == "approved"
    assert data["fast_tracked"] is True
    system = data["history"][-1]
    assert (system["action"], system["by"], system["level"]) == ("fast_track", None, "system")
    assert "三零" in system["policy_reason"]


# --- verification -----------------------------------------------------------------------------


def test_verification_errors(staff, capacity_account):
    clerk = client_for(staff["clerk"])
    pk = clerk.post(APPS, capacity_body(capacity_account), format="json").json()["id"]
    district = client_for(staff["district"])
    # A draft is not waiting for district review: 409 with its state.
    draft = district.post(f"{APPS}{pk}/verification/", VERIFICATION, format="json")
    assert draft.status_code == 409
    assert draft.json()["state"] == "draft"
    clerk.post(act(pk, "submit"), {}, format="json")
    bad = district.post(
        f"{APPS}{pk}/verification/",
        {**VERIFICATION, "meter_check": "maybe", "survey_date": "2020-02-30"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"meter_check", "survey_date"}
    assert client_for(staff["city"]).post(f"{APPS}{pk}/verification/", VERIFICATION, format="json").status_code == 403


# --- proxy masking ---------------------------------------------------------------------------


def test_proxy_id_number_is_masked_except_for_the_district_reviewer_of_the_district(staff, make_staff):
    account = AccountFactory(district_name="南岗")
    body = {
        "kind": "arrears_protection",
        "account_no": account.account_no,
        "channel": "paper_proxy",
        "proxy": {"name": "张小明", "relation": "子女", "id_number": ID_NUMBER, "phone": "13800000000"},
    }
    pk = client_for(staff["clerk"]).post(APPS, body, format="json").json()["id"]

    def proxy_seen_by(user):
        return client_for(user).get(detail(pk)).json()["proxy"]

    for who in ("clerk", "city", "manager"):
        seen = proxy_seen_by(staff[who])
        assert seen["id_number"] == "230***********123X", who
        assert seen["id_number_masked"] is True
        assert ID_NUMBER not in client_for(staff[who]).get(detail(pk)).content.decode()
    # A city reviewer who is also a district reviewer elsewhere does not see it either.
    elsewhere = make_staff(Role.CITY_REVIEWER, Role.DISTRICT_REVIEWER, district="道里")
    assert proxy_seen_by(elsewhere)["id_number_masked"] is True
    seen = proxy_seen_by(staff["district"])
    assert seen["id_number"] == ID_NUMBER
    assert seen["id_number_masked"] is False


def test_application_without_proxy_shows_null(staff):
    app = submitted(staff["clerk"])
    data = client_for(staff["clerk"]).get(detail(app.pk)).json()
    assert data["proxy"] is None
    assert data["verification"] is None
    assert data["scans"] == []


# --- GET /applications/ ------------------------------------------------------------------------


def test_list_is_scoped_filtered_and_paginated(staff, make_staff):
    mine = [submitted(staff["clerk"]) for _ in range(3)]
    draft = ApplicationFactory(account=AccountFactory(district_name="南岗"))
    daoli_clerk = make_staff(Role.CLERK, district="道里")
    other = ApplicationFactory(account=AccountFactory(district_name="道里"), channel="wechat")

    def ids(client, query=""):
        response = client.get(APPS + query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    clerk = client_for(staff["clerk"])
    assert ids(clerk) == sorted([a.pk for a in mine] + [draft.pk], reverse=True)
    assert ids(client_for(daoli_clerk)) == [other.pk]
    city = client_for(staff["city"])
    assert len(ids(city)) == 5
    assert ids(city, "?district=道里") == [other.pk]
    assert ids(city, "?state=draft") == sorted([draft.pk, other.pk], reverse=True)
    assert ids(city, "?channel=wechat&state=draft") == [other.pk]
    assert ids(city, "?kind=suspension") == []
    assert ids(clerk, "?district=道里") == []  # scoping first: a filter cannot widen it

    rows = city.get(APPS + "?district=南岗&state=pending_district").json()["results"]
    assert {r["district"] for r in rows} == {"南岗"}
    assert all(r["transitions"] == [] for r in rows)  # a city reviewer does not act at district level
    district_rows = client_for(staff["district"]).get(APPS + "?state=pending_district").json()["results"]
    assert all(r["transitions"] == ["approve", "return", "reject"] for r in district_rows)

    first = city.get(APPS + "?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = city.get(first["next"]).json()
    third = city.get(second["next"]).json()
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5
    assert third["next"] is None


@pytest.mark.parametrize("query", ["?state=nonsense", "?kind=x", "?channel=fax"])
def test_list_with_an_unknown_filter_value_is_400(staff, query):
    response = client_for(staff["city"]).get(APPS + query)
    assert response.status_code == 400
    assert query[1:].split("=")[0] in response.json()


# --- never a 500 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "arrears_protection", "channel": "counter", "received_on": "2020-13-01"}, "received_on"),
        ({"kind": "arrears_protection", "channel": "counter", "received_on": "yesterday"}, "received_on"),
        ({"kind": "teleport", "channel": "counter"}, "kind"),
        ({"kind": "arrears_protection", "channel": "pigeon"}, "channel"),
        ({"kind": "suspension", "channel": "counter", "capacity_kva": "NaN"}, "capacity_kva"),
        ({"kind": "suspension", "channel": "counter", "capacity_kva": "12.5"}, "capacity_kva"),
        ({"kind": "suspension", "channel": "counter", "capacity_kva": "1" * 40}, "capacity_kva"),
        ({"kind": "arrears_protection", "channel": "counter", "proxy": "someone"}, "proxy"),
        ({"kind": ["suspension"], "channel": "counter"}, "kind"),
        ({"kind": "arrears_protection", "channel": "counter", "reason": "a\x00b"}, "reason"),
    ],
)
def test_bad_values_are_400_not_500(staff, body, field):
    account = AccountFactory(district_name="南岗")
    response = client_for(staff["clerk"]).post(APPS, {"account_no": account.account_no, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_bad_bodies_and_queries_are_4xx_not_500(staff):
    app = submitted(staff["clerk"])
    clerk = client_for(staff["clerk"])
    district = client_for(staff["district"])
    assert clerk.post(APPS, "{not json", content_type="application/json").status_code == 400
    assert clerk.post(APPS, "[1, 2]", content_type="application/json").status_code == 400
    assert clerk.post(APPS, "kind=x", content_type="text/plain").status_code == 415
    assert district.post(act(app.pk, "approve"), "{", content_type="application/json").status_code == 400
    assert district.post(act(app.pk, "approve"), {"expected_state": "limbo"}, format="json").status_code == 400
    assert district.post(act(app.pk, "approve"), {"expected_state": 7}, format="json").status_code == 400
    assert clerk.get(APPS + "?cursor=garbage").status_code == 404
    assert clerk.get(APPS + "?page_size=abc").status_code == 200
    assert clerk.get(APPS + "?page_size=-5").status_code == 200
    assert client_for(staff["city"]).get(LISTS + "?state=limbo").status_code == 400
    assert clerk.delete(detail(app.pk)).status_code == 405
    assert clerk.put(detail(app.pk), {}, format="json").status_code == 405


# --- query counts -------------------------------------------------------------------------------


def _with_decisions(clerk, reviewer, count: int) -> Application:
    """An application with ``count`` decisions (submit, return, submit, …)."""
    app = ApplicationFactory(account=AccountFactory(district_name="南岗"), created_by=clerk, channel="paper_proxy")
    Proxy.objects.create(application=app, name="张", relation="子女", id_number=ID_NUMBER, phone="13800000000")
    for i in range(count):
        if i % 2 == 0:
            app = item_transition(item=app, action=Action.SUBMIT, by=clerk)
        else:
            app = item_transition(item=app, action=Action.RETURN, by=reviewer, reason=f"退回{i}")
    assert Decision.objects.filter(application=app).count() == count
    return app


def test_detail_query_count_does_not_grow_with_history(staff, django_assert_num_queries):
    one = _with_decisions(staff["clerk"], staff["district"], 1)
    five = _with_decisions(staff["clerk"], staff["district"], 5)
    client = client_for(staff["district"])
    # session, user, the user's groups (roles), the application with its joins, decisions, scans.
    with django_assert_num_queries(6):
        assert len(client.get(detail(one.pk)).json()["history"]) == 1
    with django_assert_num_queries(6):
        data = client.get(detail(five.pk)).json()
    assert len(data["history"]) == 5
    assert data["history"][1]["by"] == "district"
    assert data["transitions"] == ["approve", "return", "reject"]


def test_list_query_count_does_not_grow_with_rows(staff, django_assert_num_queries):
    client = client_for(staff["district"])
    _with_decisions(staff["clerk"], staff["district"], 3)
    # session, user, groups, the page, its decisions.
    with django_assert_num_queries(5):
        assert len(client.get(APPS).json()["results"]) == 1
    for n in (2, 4, 5):
        _with_decisions(staff["clerk"], staff["district"], n)
    with django_assert_num_queries(5):
        assert len(client.get(APPS).json()["results"]) == 4


# --- eligibility lists --------------------------------------------------------------------------


@pytest.fixture
def nangang_list(db):
    shop = AccountFactory(district_name="南岗", category="general_commercial", industry_code="5211")
    AccountFactory(district_name="南岗", category="large_industrial", industry_code="2770")
    AccountFactory(district_name="南岗", category="large_industrial", industry_code="2611")  # chemicals: excluded
    AccountFactory(district_name="道里", category="general_commercial", industry_code="5211")
    BillFactory(account=shop, period=dt.date(2020, 3, 1), energy_charge=Decimal("7399.00"))
    eligibility_prescreen(policy_code="discount-2020")
    return EligibilityList.objects.get(district__name="南岗", policy_id="discount-2020")


def list_act(pk, action) -> str:
    return f"{LISTS}{pk}/transitions/{action}/"


def test_eligibility_list_shows_accounts_forecast_and_transitions(staff, nangang_list):
    data = client_for(staff["clerk"]).get(f"{LISTS}{nangang_list.pk}/").json()
    assert (data["id"], data["policy"], data["district"], data["state"]) == (
        nangang_list.pk,
        "discount-2020",
        "南岗",
        "draft",
    )
    assert data["accounts"] == 2
    # March's bill: 7,399.00 × 5% = 369.95; ten more window months estimated at that average.
    assert data["forecast"]["accounts"] == 2
    assert data["forecast"]["reduction_yuan"] == "4069.45"
    assert data["forecast"]["billed_yuan"] == "369.95"
    assert data["forecast"]["reduction_wan"] == "0.41"
    assert data["forecast"]["accounts_wan"] == "0.00"
    assert data["forecast"]["computed_at"]
    assert data["transitions"] == ["submit"]
    assert data["history"] == []
    assert client_for(staff["city"]).get(f"{LISTS}{nangang_list.pk}/").json()["transitions"] == []


def test_eligibility_list_query_count_does_not_grow_with_history(staff, nangang_list, django_assert_num_queries):
    client = client_for(staff["city"])
    # session, user, groups, the list with its count of accounts, its decisions.
    with django_assert_num_queries(5):
        assert client.get(f"{LISTS}{nangang_list.pk}/").json()["history"] == []
    item = item_transition(item=nangang_list, action=Action.SUBMIT, by=staff["clerk"])
    item = item_transition(item=item, action=Action.RETURN, by=staff["district"], reason="核对")
    item_transition(item=item, action=Action.SUBMIT, by=staff["clerk"])
    with django_assert_num_queries(5):
        assert len(client.get(f"{LISTS}{nangang_list.pk}/").json()["history"]) == 3


def test_eligibility_lists_are_scoped(staff, make_staff, nangang_list):
    assert [r["district"] for r in client_for(staff["clerk"]).get(LISTS).json()["results"]] == ["南岗"]
    city = client_for(staff["city"])
    assert len(city.get(LISTS).json()["results"]) == 9
    assert [r["id"] for r in city.get(LISTS + "?district=南岗").json()["results"]] == [nangang_list.pk]
    assert client_for(make_staff(Role.CLERK, district="道里")).get(f"{LISTS}{nangang_list.pk}/").status_code == 404
    daoli_reviewer = client_for(make_staff(Role.DISTRICT_REVIEWER, district="道里"))
    assert daoli_reviewer.post(list_act(nangang_list.pk, "submit"), {}, format="json").status_code == 404


def test_eligibility_list_transitions_through_the_api(staff, nangang_list):
    pk = nangang_list.pk
    submitted_ = client_for(staff["clerk"]).post(list_act(pk, "submit"), {"expected_state": "draft"}, format="json")
    assert submitted_.status_code == 200
    assert submitted_.json()["state"] == "pending_district"
    assert submitted_.json()["transitions"] == ["withdraw"]
    district = client_for(staff["district"])
    assert district.get(f"{LISTS}{pk}/").json()["transitions"] == ["approve", "return", "reject"]
    assert district.post(list_act(pk, "approve"), {}, format="json").json()["state"] == "pending_city"
    city = client_for(staff["city"])
    stale = city.post(list_act(pk, "approve"), {"expected_state": "pending_district"}, format="json")
    assert stale.status_code == 409
    assert stale.json()["state"] == "pending_city"
    assert city.post(list_act(pk, "return"), {}, format="json").status_code == 400
    assert city.post(list_act(pk, "reject"), {"reason": "数据有误"}, format="json").status_code == 400
    assert client_for(staff["head"]).post(list_act(pk, "approve"), {}, format="json").status_code == 403
    returned = city.post(list_act(pk, "return"), {"reason": "核对户数"}, format="json")
    assert returned.status_code == 200
    data = returned.json()
    assert data["state"] == "pending_district"
    assert [(h["action"], h["by"]) for h in data["history"]] == [
        ("submit", "clerk"),
        ("approve", "district"),
        ("return", "city"),
    ]
    assert data["history"][-1]["reason"] == "核对户数"
    assert client_for(staff["clerk"]).post(list_act(pk, "approve"), {}, format="json").status_code == 403
    assert client_for(staff["clerk"]).post(list_act(pk, "settle"), {}, format="json").status_code == 404


def test_eligibility_entries_are_paginated_and_a_clerk_changes_them(staff, nangang_list):
    entries_url = f"{LISTS}{nangang_list.pk}/entries/"
    clerk = client_for(staff["clerk"])
    first = clerk.get(entries_url + "?page_size=1").json()
    assert len(first["results"]) == 1 and first["next"]
    second = clerk.get(first["next"]).json()
    rows = first["results"] + second["results"]
    numbers = [r["account_no"] for r in rows]
    assert numbers == sorted(numbers) and len(numbers) == 2
    assert rows[0]["source"] == "prescreen" and rows[0]["included"] is True and rows[0]["changed_by"] is None

    removed = clerk.post(entries_url, {"account_no": numbers[0], "include": False, "reason": "已销户"}, format="json")
    assert removed.status_code == 200, removed.content
    assert (removed.json()["included"], removed.json()["changed_by"], removed.json()["reason"]) == (
        False,
        "clerk",
        "已销户",
    )
    data = clerk.get(f"{LISTS}{nangang_list.pk}/").json()
    assert data["accounts"] == 1 == data["forecast"]["accounts"]
    assert [r["account_no"] for r in clerk.get(entries_url + "?included=false").json()["results"]] == [numbers[0]]

    no_reason = clerk.post(entries_url, {"account_no": numbers[0], "include": True, "reason": " "}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    chem = AccountFactory(district_name="南岗", category="large_industrial", industry_code="2611")
    refused = clerk.post(entries_url, {"account_no": chem.account_no, "include": True, "reason": "x"}, format="json")
    assert refused.status_code == 400 and "M1" in refused.json()["account_no"][0]
    assert (
        client_for(staff["district"])
        .post(entries_url, {"account_no": numbers[0], "include": True, "reason": "x"}, format="json")
        .status_code
        == 403
    )

    clerk.post(list_act(nangang_list.pk, "submit"), {}, format="json")
    late = clerk.post(entries_url, {"account_no": numbers[0], "include": True, "reason": "恢复"}, format="json")
    assert late.status_code == 409
    assert late.json()["state"] == "pending_district"


# --- schema ---------------------------------------------------------------------------------------


def test_schema_still_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/v1/applications/{id}/transitions/{action}/",
        "/api/v1/eligibility-lists/{id}/entries/",
        "/api/v1/applications/{id}/verification/",
    ):
        assert path in text
