"""The chain's pages (/work/…): clerk entry, queues, item pages, actions, bulk approve, scans, lists."""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.factories import AccountFactory, ApplicationFactory, EligibilityListFactory
from workflow.chain import Action, State
from workflow.models import Application, Decision, EligibilityEntry, Scan
from workflow.services import item_transition

CREATE_URL = "/work/applications/new/"


def tiny_png() -> bytes:
    """A valid 1×1 PNG, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG = tiny_png()


@pytest.fixture(autouse=True)
def private_scans(tmp_path, monkeypatch):
    """Scans of these tests go to a temporary directory, not var/media."""
    field = Scan._meta.get_field("file")
    monkeypatch.setattr(field, "storage", FileSystemStorage(location=tmp_path / "media", base_url=None))


@pytest.fixture
def as_user(client, make_staff):
    """as_user("clerk", district="南岗") → (client logged in as a new member of staff, in English)."""

    def login(*roles: str, district: str | None = None, user=None, **kwargs):
        user = user or make_staff(*roles, district=district, **kwargs)
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return login


@pytest.fixture
def people(make_staff):
    """One person per level of the chain for 南岗, and a clerk and reviewer of 道里."""
    return {
        "clerk": make_staff("clerk", district="南岗", first_name="Clerk Nangang"),
        "reviewer": make_staff("district_reviewer", district="南岗", first_name="Reviewer Nangang"),
        "city": make_staff("city_reviewer", first_name="City Reviewer"),
        "head": make_staff("department_head", first_name="Head"),
        "leader": make_staff("leader", first_name="Leader"),
        "clerk_daoli": make_staff("clerk", district="道里"),
        "reviewer_daoli": make_staff("district_reviewer", district="道里"),
    }


def detail_url(item) -> str:
    return reverse("workflow:application-detail", args=[item.pk])


def action_url(item, action: str) -> str:
    return reverse(f"workflow:application-{action}", args=[item.pk])


def advance(item, *steps):
    """Run (action, person) steps through the one transition service."""
    for action, person in steps:
        item = item_transition(item=item, action=action, by=person)
    return item


def pending_city(people, **kwargs):
    app = ApplicationFactory(**kwargs)
    return advance(app, (Action.SUBMIT, people["clerk"]), (Action.APPROVE, people["reviewer"]))


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def entry_data(account, **overrides) -> dict:
    data = {
        "account_no": account.account_no,
        "kind": "arrears_protection",
        "channel": "paper_proxy",
        "received_on": "2020-03-02",
        "capacity_kva": "",
        "seal_date": "",
        "restore_date": "",
        "reason": "老人行动不便，由儿子代办",
        "proxy_name": "张伟",
        "proxy_relation": "儿子",
        "proxy_id_number": "23010219800101123X",
        "proxy_phone": "13800000000",
    }
    data.update(overrides)
    return data


def errors_of(body: str, field: str) -> str:
    """The text of the error block rendered right after the field's widget."""
    match = re.search(rf'<div class="invalid-feedback d-block" id="id_{field}_errors">(.*?)</div>\s*</div>', body, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


# --- 1. clerk entry ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_entry_form_is_keyboard_ready(as_user):
    body = as_user("clerk", district="南岗").get(CREATE_URL).content.decode()
    assert 'enctype="multipart/form-data"' in body
    first_input = re.search(r"<input(?![^>]*type=\"hidden\")[^>]*>", body.split('id="application-form"')[1]).group(0)
    assert 'name="account_no"' in first_input and "autofocus" in first_input
    assert body.count('accept=".pdf,.jpg,.jpeg,.png"') == 2
    assert '<label class="form-label" for="id_proxy_id_number">' in body
    assert 'type="date"' in body and 'name="received_on"' in body


@pytest.mark.django_db
def test_only_clerks_enter_applications(as_user):
    assert as_user("city_reviewer").get(CREATE_URL).status_code == 403


@pytest.mark.django_db
def test_entry_form_creates_a_draft_with_proxy_and_a_png_scan(as_user, people):
    account = AccountFactory(district_name="南岗", category="residential", industry_code="")
    client = as_user(user=people["clerk"])
    data = entry_data(account, scan_paper_form=SimpleUploadedFile("申请表.png", PNG, content_type="image/png"))
    response = client.post(CREATE_URL, data)
    application = Application.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(application)
    assert application.state == State.DRAFT
    assert (application.channel, application.received_on) == ("paper_proxy", dt.date(2020, 3, 2))
    assert application.proxy.name == "张伟" and application.proxy.id_number == "23010219800101123X"
    scan = application.scans.get()
    assert (scan.kind, scan.content_type, scan.original_name, scan.size) == (
        "paper_form",
        "image/png",
        "申请表.png",
        len(PNG),
    )
    page = client.get(response["Location"])
    assert any("saved as a draft" in m for m in page_messages(page))
    body = page.content.decode()
    assert f'action="{action_url(application, "submit")}"' in body  # the item page offers Submit
    assert "230***********123X" in body and "23010219800101123X" not in body  # masked for the clerk


@pytest.mark.django_db
def test_a_bad_field_comes_back_beside_the_field_with_the_typed_values(as_user, people):
    account = AccountFactory(district_name="南岗")
    client = as_user(user=people["clerk"])
    data = entry_data(
        account,
        proxy_id_number="12345",
        scan_paper_form=SimpleUploadedFile("form.png", PNG, content_type="image/png"),
    )
    response = client.post(CREATE_URL, data)
    assert response.status_code == 400
    assert not Application.objects.exists()
    body = response.content.decode()
    assert "17 digits and a check digit" in errors_of(body, "proxy_id_number")
    assert 'value="12345"' in body and 'value="张伟"' in body and "老人行动不便，由儿子代办" in body
    assert re.search(r'<option value="paper_proxy" selected>', body)
    # Files are never re-sent by a browser: the page says to choose them again.
    assert 'id="files-again"' in body
    # The first field with an error takes the focus instead of the account number.
    id_input = re.search(r'<input[^>]*name="proxy_id_number"[^>]*>', body).group(0)
    assert "autofocus" in id_input and 'aria-invalid="true"' in id_input
    assert "autofocus" not in re.search(r'<input[^>]*name="account_no"[^>]*>', body).group(0)


@pytest.mark.django_db
def test_paper_by_proxy_needs_the_proxy(as_user, people):
    account = AccountFactory(district_name="南岗")
    data = entry_data(account, proxy_name="", proxy_relation="", proxy_id_number="", proxy_phone="")
    body = as_user(user=people["clerk"]).post(CREATE_URL, data).content.decode()
    assert "Required for a paper application by proxy." in errors_of(body, "proxy_name")
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_an_account_of_another_district_is_refused_on_the_account_field(as_user, people):
    other = AccountFactory(district_name="道里")
    body = as_user(user=people["clerk"]).post(CREATE_URL, entry_data(other)).content.decode()
    assert f"No account {other.account_no} in your district." in errors_of(body, "account_no")
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_an_m7_refusal_shows_the_rule_beside_the_dates(as_user, people):
    account = AccountFactory(district_name="南岗", capacity_kva=Decimal("1000"), basic_charge_method="capacity")
    data = entry_data(
        account,
        kind="suspension",
        channel="counter",
        received_on="2020-08-01",
        capacity_kva="400",
        seal_date="2020-08-03",
        restore_date="2020-08-10",
        proxy_name="",
        proxy_relation="",
        proxy_id_number="",
        proxy_phone="",
    )
    response = as_user(user=people["clerk"]).post(CREATE_URL, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Notice rule (M7)" in errors_of(body, "seal_date")
    assert "15-day rule (M7)" in errors_of(body, "restore_date")
    assert 'value="2020-08-03"' in body and 'value="400"' in body
    assert not Application.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("notes.txt", b"hello", "text/plain"), ("fake.png", b"not really a png", "image/png")],
)
def test_a_file_that_is_not_pdf_jpeg_or_png_is_refused(as_user, people, name, content, content_type):
    account = AccountFactory(district_name="南岗")
    data = entry_data(account, scan_authorisation=SimpleUploadedFile(name, content, content_type=content_type))
    response = as_user(user=people["clerk"]).post(CREATE_URL, data)
    assert response.status_code == 400
    assert errors_of(response.content.decode(), "scan_authorisation")
    assert not Application.objects.exists() and not Scan.objects.exists()


# --- 2. queues -----------------------------------------------------------------------------------


def queue_ids(response) -> list[int]:
    return [row.record.pk for row in response.context["table"].paginated_rows]


def list_queue_ids(response) -> list[int]:
    table = response.context["list_table"]
    return [row.record.pk for row in table.paginated_rows] if table is not None else []


@pytest.mark.django_db
def test_queues_show_each_role_its_level_and_district(as_user, people):
    draft = ApplicationFactory(account__district_name="南岗")
    draft_daoli = ApplicationFactory(account__district_name="道里")
    at_district = advance(ApplicationFactory(account__district_name="南岗"), (Action.SUBMIT, people["clerk"]))
    at_district_daoli = advance(
        ApplicationFactory(account__district_name="道里"), (Action.SUBMIT, people["clerk_daoli"])
    )
    at_city = pending_city(people, account__district_name="南岗")

    assert queue_ids(as_user(user=people["clerk"]).get("/work/queues/report_1/")) == [draft.pk]
    assert queue_ids(as_user(user=people["clerk_daoli"]).get("/work/queues/report_1/")) == [draft_daoli.pk]
    assert queue_ids(as_user(user=people["reviewer"]).get("/work/queues/report_2/")) == [at_district.pk]
    assert queue_ids(as_user(user=people["reviewer_daoli"]).get("/work/queues/report_2/")) == [at_district_daoli.pk]
    city = as_user(user=people["city"])
    assert queue_ids(city.get("/work/queues/approval_1/")) == [at_city.pk]
    assert queue_ids(city.get("/work/queues/approval_1/", {"district": "daoli"})) == []
    assert queue_ids(as_user(user=people["head"]).get("/work/queues/approval_2/")) == []
    # A queue belongs to its level's role; an item outside the district is not found.
    assert as_user(user=people["clerk"]).get("/work/queues/approval_1/").status_code == 403
    assert as_user(user=people["clerk_daoli"]).get(detail_url(draft)).status_code == 404
    assert as_user(user=people["reviewer_daoli"]).get(detail_url(at_district)).status_code == 404
    assert as_user(user=people["clerk"]).get("/work/queues/nonsense/").status_code == 404


@pytest.mark.django_db
def test_my_queues_goes_to_the_roles_queue(as_user, make_staff):
    client = as_user("clerk", "district_reviewer", district="南岗")
    assert client.get("/work/queues/")["Location"] == "/work/queues/report_1/"
    assert client.get("/work/queues/", {"level": "report_2"})["Location"] == "/work/queues/report_2/"
    assert as_user("manager").get("/work/queues/").status_code == 403


@pytest.mark.django_db
def test_navigation_offers_the_queues_and_entry_by_role(as_user):
    nav = [item["url"] for item in as_user("clerk", district="南岗").get("/").context["nav_items"]]
    assert "/work/queues/" in nav and CREATE_URL in nav
    nav = [item["url"] for item in as_user("leader").get("/").context["nav_items"]]
    assert "/work/queues/" in nav and CREATE_URL not in nav
    nav = [item["url"] for item in as_user("manager").get("/").context["nav_items"]]
    assert "/work/queues/" not in nav


@pytest.mark.django_db
def test_overdue_rows_are_highlighted_against_the_level_limit(as_user, people):
    fresh = advance(ApplicationFactory(), (Action.SUBMIT, people["clerk"]))
    old = advance(ApplicationFactory(), (Action.SUBMIT, people["clerk"]))
    limit = settings.PORTAL_LEVEL_LIMIT_DAYS["report_2"]
    Application.objects.filter(pk=old.pk).update(state_changed_at=timezone.now() - dt.timedelta(days=limit + 1))
    client = as_user(user=people["reviewer"])
    response = client.get("/work/queues/report_2/")
    assert queue_ids(response) == [old.pk, fresh.pk]  # oldest first
    body = response.content.decode()
    rows = dict(re.findall(r'<tr class="([^"]*)" data-item="(\d+)">', body)[i][::-1] for i in range(2))
    assert {"table-warning", "overdue"} <= set(rows[str(old.pk)].split())
    assert "overdue" not in rows[str(fresh.pk)].split() and "table-warning" not in rows[str(fresh.pk)].split()
    assert "Overdue" in body
    assert queue_ids(client.get("/work/queues/report_2/", {"overdue": "yes"})) == [old.pk]
    assert queue_ids(client.get("/work/queues/report_2/", {"min_age": limit})) == [old.pk]


@pytest.mark.django_db
def test_eligibility_lists_are_in_the_queues(as_user, people):
    lst = advance(EligibilityListFactory(district_name="南岗"), (Action.SUBMIT, people["clerk"]))
    EligibilityListFactory(district_name="道里")
    response = as_user(user=people["reviewer"]).get("/work/queues/report_2/")
    assert list_queue_ids(response) == [lst.pk]
    assert as_user(user=people["reviewer_daoli"]).get("/work/queues/report_2/").context["list_table"] is not None
    assert list_queue_ids(as_user(user=people["reviewer_daoli"]).get("/work/queues/report_2/")) == []
    # Kind and channel belong to applications: filtering by them hides the lists.
    filtered = as_user(user=people["reviewer"]).get("/work/queues/report_2/", {"kind": "suspension"})
    assert filtered.context["list_table"] is None


def _fill_city_queue(people, n: int) -> None:
    """n applications in pending_city across two districts, with a decision history each."""
    for i in range(n):
        district = "南岗" if i % 2 else "道里"
        clerk = people["clerk"] if district == "南岗" else people["clerk_daoli"]
        reviewer = people["reviewer"] if district == "南岗" else people["reviewer_daoli"]
        app = ApplicationFactory(account__district_name=district)
        advance(app, (Action.SUBMIT, clerk), (Action.APPROVE, reviewer))
    for district, clerk in (("南岗", people["clerk"]), ("道里", people["clerk_daoli"])):
        lst = EligibilityListFactory(district_name=district)
        reviewer = people["reviewer"] if district == "南岗" else people["reviewer_daoli"]
        advance(lst, (Action.SUBMIT, clerk), (Action.APPROVE, reviewer))


# session, user, the user's groups (roles), the districts of the filter, the page of applications,
# the page of eligibility lists.
CITY_QUEUE_QUERIES = 6
# A district reviewer: no district filter, but the navbar shows the user's district.
DISTRICT_QUEUE_QUERIES = 6
# Someone working two levels also gets the tabs with their counts (applications, lists).
TWO_LEVEL_QUEUE_QUERIES = 8


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [5, 50])
def test_queue_runs_the_same_queries_whatever_the_page_size(as_user, people, django_assert_num_queries, per_page):
    _fill_city_queue(people, 60)
    client = as_user(user=people["city"])
    with django_assert_num_queries(CITY_QUEUE_QUERIES):
        response = client.get("/work/queues/approval_1/", {"per_page": per_page})
    assert len(queue_ids(response)) == per_page
    assert len(list_queue_ids(response)) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [5, 50])
def test_district_queue_runs_the_same_queries_whatever_the_page_size(
    as_user, people, make_staff, django_assert_num_queries, per_page
):
    for _ in range(60):
        advance(ApplicationFactory(account__district_name="南岗"), (Action.SUBMIT, people["clerk"]))
    client = as_user(user=people["reviewer"])
    with django_assert_num_queries(DISTRICT_QUEUE_QUERIES):
        response = client.get("/work/queues/report_2/", {"per_page": per_page})
    assert len(queue_ids(response)) == per_page
    client = as_user(user=make_staff("clerk", "district_reviewer", district="南岗"))
    with django_assert_num_queries(TWO_LEVEL_QUEUE_QUERIES):
        response = client.get("/work/queues/report_2/", {"per_page": per_page})
    assert len(queue_ids(response)) == per_page
    tabs = {tab["queue"].level: tab["count"] for tab in response.context["tabs"]}
    assert (tabs["report_1"].waiting, tabs["report_2"].waiting) == (0, 60)


@pytest.mark.django_db
@pytest.mark.parametrize("approvals", [0, 3])
def test_item_page_runs_the_same_queries_whatever_its_history(as_user, people, django_assert_num_queries, approvals):
    app = advance(ApplicationFactory(), (Action.SUBMIT, people["clerk"]))
    steps = [("reviewer", Action.APPROVE), ("city", Action.APPROVE), ("head", Action.APPROVE)][:approvals]
    app = advance(app, *((action, people[who]) for who, action in steps))
    client = as_user(user=people["leader"])
    # session, user, groups, the application with its joins, its decisions (with actors), its scans
    with django_assert_num_queries(6):
        response = client.get(detail_url(app))
    assert len(response.context["decisions"]) == 1 + approvals


# --- 3. the item page and its actions ------------------------------------------------------------


def offered(response) -> set[str]:
    return {a["name"] for a in response.context["actions"]}


@pytest.mark.django_db
def test_item_page_offers_only_the_viewers_actions(as_user, people, make_staff):
    both = make_staff("clerk", "district_reviewer", district="南岗")
    app = advance(ApplicationFactory(), (Action.SUBMIT, both))
    # The submitter holds the reviewer role too, but may not act at the next level.
    response = as_user(user=both).get(detail_url(app))
    assert offered(response) == {"withdraw"}
    body = response.content.decode()
    assert action_url(app, "approve") not in body and action_url(app, "withdraw") in body
    assert offered(as_user(user=people["reviewer"]).get(detail_url(app))) == {"approve", "return", "reject"}
    assert offered(as_user(user=people["city"]).get(detail_url(app))) == set()

    at_city = pending_city(people)
    response = as_user(user=people["city"]).get(detail_url(at_city))
    assert offered(response) == {"approve", "return", "reject"}
    body = response.content.decode()
    for action in ("approve", "return", "reject"):
        assert f'action="{action_url(at_city, action)}"' in body
    assert '<select class="form-select form-select-sm" name="reason_code"' in body
    assert offered(as_user(user=people["head"]).get(detail_url(at_city))) == set()


@pytest.mark.django_db
def test_item_page_shows_the_history_as_a_timeline(as_user, people):
    app = pending_city(people)
    app = advance(app, (Action.APPROVE, people["city"]))
    item_transition(item=app, action=Action.RETURN, by=people["head"], reason="材料不全")
    response = as_user(user=people["city"]).get(detail_url(app))
    decisions = response.context["decisions"]
    assert [d.action for d in decisions] == ["submit", "approve", "approve", "return"]
    body = response.content.decode()
    for name in ("Clerk Nangang", "Reviewer Nangang", "City Reviewer", "Head"):
        assert f'<span class="decision-actor">{name}</span>' in body
    assert "Pending department head → Pending city review" in body
    assert "材料不全" in body


@pytest.mark.django_db
def test_a_system_decision_names_the_policy(as_user, people):
    hospital = AccountFactory(priority_role="hospital")
    app = advance(ApplicationFactory(account=hospital, kind="new_connection"), (Action.SUBMIT, people["clerk"]))
    assert app.state == State.APPROVED
    body = as_user(user=people["clerk"]).get(detail_url(app)).content.decode()
    assert '<span class="badge text-bg-info">System</span>' in body and "三零服务" in body


@pytest.mark.django_db
def test_the_district_reviewer_sees_the_proxy_id_number_others_see_it_masked(as_user, people):
    account = AccountFactory(district_name="南岗")
    as_user(user=people["clerk"]).post(CREATE_URL, entry_data(account))
    app = advance(Application.objects.get(), (Action.SUBMIT, people["clerk"]))
    assert "23010219800101123X" in as_user(user=people["reviewer"]).get(detail_url(app)).content.decode()
    city_body = as_user(user=people["city"]).get(detail_url(app)).content.decode()
    assert "23010219800101123X" not in city_body and "230***********123X" in city_body


@pytest.mark.django_db
def test_approving_moves_the_item_on_with_a_message(as_user, people):
    app = pending_city(people)
    client = as_user(user=people["city"])
    response = client.post(action_url(app, "approve"), {"expected_state": "pending_city"}, follow=True)
    app.refresh_from_db()
    assert app.state == State.PENDING_HEAD
    assert any("is now Pending department head" in m for m in page_messages(response))


@pytest.mark.django_db
def test_an_action_on_a_stale_page_says_changed_meanwhile_and_changes_nothing(as_user, people):
    app = pending_city(people)
    # The reviewer's page showed pending_district; the item has moved on since.
    client = as_user(user=people["city"])
    decisions = Decision.objects.count()
    response = client.post(action_url(app, "approve"), {"expected_state": "pending_district"}, follow=True)
    assert response.status_code == 200
    assert any("changed meanwhile" in m and "Pending city review" in m for m in page_messages(response))
    app.refresh_from_db()
    assert app.state == State.PENDING_CITY and Decision.objects.count() == decisions


@pytest.mark.django_db
def test_a_refused_action_says_why(as_user, people):
    app = pending_city(people)
    response = as_user(user=people["head"]).post(
        action_url(app, "approve"), {"expected_state": "pending_city"}, follow=True
    )
    assert any("Not allowed" in m and "Department head" not in m for m in page_messages(response))
    assert any("City reviewer" in m for m in page_messages(response))
    app.refresh_from_db()
    assert app.state == State.PENDING_CITY


@pytest.mark.django_db
def test_return_without_a_reason_names_the_field_and_reject_records_its_code(as_user, people):
    app = pending_city(people)
    client = as_user(user=people["city"])
    response = client.post(action_url(app, "return"), {"expected_state": "pending_city", "reason": " "}, follow=True)
    assert any(m.startswith("Reason:") for m in page_messages(response))
    app.refresh_from_db()
    assert app.state == State.PENDING_CITY
    response = client.post(
        action_url(app, "reject"),
        {"expected_state": "pending_city", "reason": "不属于政策范围", "reason_code": "not_eligible"},
        follow=True,
    )
    app.refresh_from_db()
    assert app.state == State.REJECTED
    assert "Not eligible under the policy" in response.content.decode()
    assert offered(response) == set()


@pytest.mark.django_db
def test_actions_are_post_only_and_scoped(as_user, people):
    app = advance(ApplicationFactory(account__district_name="南岗"), (Action.SUBMIT, people["clerk"]))
    assert as_user(user=people["reviewer"]).get(action_url(app, "approve")).status_code == 405
    response = as_user(user=people["reviewer_daoli"]).post(
        action_url(app, "approve"), {"expected_state": "pending_district"}
    )
    assert response.status_code == 404
    app.refresh_from_db()
    assert app.state == State.PENDING_DISTRICT


# --- 4. verification -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_verification_is_recorded_then_approve_is_offered(as_user, people):
    account = AccountFactory(district_name="南岗", capacity_kva=Decimal("1000"), basic_charge_method="capacity")
    app = ApplicationFactory(
        account=account, kind="suspension", capacity_kva=Decimal("1000"), seal_date=dt.date(2020, 3, 5)
    )
    app = advance(app, (Action.SUBMIT, people["clerk"]))
    client = as_user(user=people["reviewer"])
    before = client.get(detail_url(app))
    assert offered(before) == {"return", "reject"}
    assert "Approval is offered once the meter-data check confirms" in before.content.decode()
    url = reverse("workflow:application-verification", args=[app.pk])
    bad = client.post(url, {"meter_check": "confirmed", "survey_date": "", "surveyor": "李工"})
    assert bad.status_code == 200 and bad.context["form"].errors.keys() >= {"survey_date", "findings", "seal_number"}
    response = client.post(
        url,
        {
            "meter_check": "confirmed",
            "survey_date": "2020-03-06",
            "surveyor": "李工",
            "findings": "变压器已停运",
            "seal_number": "HB-0001",
        },
        follow=True,
    )
    assert any("Verification recorded" in m for m in page_messages(response))
    assert offered(response) == {"approve", "return", "reject"}
    assert app.__class__.objects.get(pk=app.pk).verification.seal_number == "HB-0001"
    # Only the district reviewer of the district records it.
    other = as_user(user=people["city"]).get(url, follow=True)
    assert any("district reviewer" in m for m in page_messages(other))


# --- 5. scans ------------------------------------------------------------------------------------


@pytest.fixture
def scan(as_user, people):
    account = AccountFactory(district_name="南岗", category="residential", industry_code="")
    data = entry_data(account, scan_paper_form=SimpleUploadedFile("授权书.png", PNG, content_type="image/png"))
    as_user(user=people["clerk"]).post(CREATE_URL, data)
    return Scan.objects.get()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["clerk", "reviewer", "city", "leader"])
def test_scan_download_for_the_districts_staff_and_city_roles(as_user, people, scan, who):
    url = reverse("workflow:scan-download", args=[scan.pk])
    assert url.startswith("/work/") and not url.startswith((settings.STATIC_URL, "/static/", "/media/"))
    response = as_user(user=people[who]).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;") and "filename" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == PNG
    # The item page links the scan through this view.
    assert f'href="{url}"' in as_user(user=people[who]).get(detail_url(scan.application)).content.decode()


@pytest.mark.django_db
def test_scan_download_is_404_outside_the_district_and_login_for_anonymous(client, as_user, people, scan):
    url = reverse("workflow:scan-download", args=[scan.pk])
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert as_user(user=people["clerk_daoli"]).get(url).status_code == 404
    assert as_user(user=people["reviewer_daoli"]).get(url).status_code == 404


# --- 6. bulk approve -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_approve_reports_each_row(as_user, people, make_staff):
    city = make_staff("city_reviewer", "district_reviewer", district="南岗", first_name="Two Hats")
    fine = pending_city(people)
    # The same person approved this one at district level: refused at city level.
    refused = advance(ApplicationFactory(), (Action.SUBMIT, people["clerk"]), (Action.APPROVE, city))
    moved = pending_city(people)
    client = as_user(user=city)
    page = client.get("/work/queues/approval_1/")
    assert set(queue_ids(page)) == {fine.pk, refused.pk, moved.pk}
    body = page.content.decode()
    assert 'name="expected_state" value="pending_city"' in body
    # Someone else approves one of them while the page is open.
    advance(moved, (Action.APPROVE, people["city"]))
    lst = advance(EligibilityListFactory(), (Action.SUBMIT, people["clerk"]), (Action.APPROVE, people["reviewer"]))
    response = client.post(
        "/work/queues/approval_1/forward/",
        {
            "expected_state": "pending_city",
            "applications": [str(fine.pk), str(refused.pk), str(moved.pk)],
            "lists": [str(lst.pk)],
            "query": "kind=arrears_protection",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/work/queues/approval_1/?kind=arrears_protection"
    notes = page_messages(client.get(response["Location"]))
    assert notes == [
        f"Application #{fine.pk}: Approve, now Pending department head.",
        notes[1],
        notes[2],
        f"Eligibility list #{lst.pk}: Approve, now Pending department head.",
    ]
    assert notes[1].startswith(f"Application #{refused.pk}: refused") and "separation of duties" in notes[1]
    assert notes[2] == f"Application #{moved.pk}: changed meanwhile, it is now Pending department head."
    states = dict(Application.objects.values_list("pk", "state"))
    assert states == {fine.pk: "pending_head", refused.pk: "pending_city", moved.pk: "pending_head"}


@pytest.mark.django_db
def test_bulk_submit_of_drafts_and_other_districts_items(as_user, people):
    mine = ApplicationFactory(account__district_name="南岗")
    theirs = ApplicationFactory(account__district_name="道里")
    client = as_user(user=people["clerk"])
    response = client.post(
        "/work/queues/report_1/forward/",
        {"expected_state": "draft", "applications": [str(mine.pk), str(theirs.pk), "x"]},
        follow=True,
    )
    notes = page_messages(response)
    assert notes[0] == f"Application #{mine.pk}: Submit, now Pending district review."
    assert notes[1] == f"Application #{theirs.pk}: not found in your queues."
    assert len(notes) == 2
    assert Application.objects.get(pk=theirs.pk).state == State.DRAFT
    assert as_user(user=people["clerk"]).post("/work/queues/approval_1/forward/", {}).status_code == 403


# --- 7. eligibility lists ------------------------------------------------------------------------


@pytest.fixture
def draft_list(db):
    from workflow.eligibility import eligibility_forecast_refresh

    lst = EligibilityListFactory(district_name="南岗")
    for i in range(30):
        account = AccountFactory(district_name="南岗")
        EligibilityEntry.objects.create(eligibility_list=lst, account=account, source="prescreen")
        if i < 3:
            from tests.factories import BillFactory

            BillFactory(account=account, energy_charge=Decimal("20000.00"))
    return eligibility_forecast_refresh(eligibility_list=lst)


@pytest.mark.django_db
def test_list_page_shows_the_forecast_in_wan_and_pages_the_entries(as_user, people, draft_list):
    client = as_user(user=people["city"])
    url = reverse("workflow:list-detail", args=[draft_list.pk])
    response = client.get(url, {"per_page": 10})
    assert response.status_code == 200
    body = response.content.decode()
    assert "0.00 10k customer accounts" in body  # 30 accounts = 0.003 万户 → 0.00
    assert "(0.00 万户)" in body and "万元" in body
    assert len(response.context["table"].paginated_rows) == 10
    assert response.context["may_change"] is False and "entry_form" not in body
    assert as_user(user=people["clerk_daoli"]).get(url).status_code == 404


@pytest.mark.django_db
def test_a_clerk_adds_and_removes_accounts_on_a_draft_list_with_a_reason(as_user, people, draft_list):
    newcomer = AccountFactory(district_name="南岗")
    client = as_user(user=people["clerk"])
    url = reverse("workflow:list-entry-change", args=[draft_list.pk])
    assert client.get(reverse("workflow:list-detail", args=[draft_list.pk])).context["may_change"] is True
    missing = client.post(url, {"account_no": newcomer.account_no, "change": "include", "reason": ""})
    assert missing.status_code == 400
    assert 'value="' + newcomer.account_no + '"' in missing.content.decode()
    assert missing.context["entry_form"].errors["reason"]
    response = client.post(
        url, {"account_no": newcomer.account_no, "change": "include", "reason": "新开业"}, follow=True
    )
    assert any(f"Account {newcomer.account_no} added" in m for m in page_messages(response))
    entry = EligibilityEntry.objects.get(eligibility_list=draft_list, account=newcomer)
    assert (entry.included, entry.source, entry.reason) == (True, "added", "新开业")
    heat = AccountFactory(district_name="南岗", industry_code="4430")
    refused = client.post(url, {"account_no": heat.account_no, "change": "include", "reason": "试试"})
    assert refused.status_code == 400 and "M1" in " ".join(refused.context["entry_form"].errors["account_no"])
    # Only a clerk of the district, only on a draft.
    assert (
        as_user(user=people["reviewer"])
        .post(url, {"account_no": newcomer.account_no, "change": "exclude", "reason": "x"})
        .status_code
        == 302
    )
    assert EligibilityEntry.objects.get(eligibility_list=draft_list, account=newcomer).included is True
