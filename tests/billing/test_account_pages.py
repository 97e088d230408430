"""The accounts list (/customers/) and the account page (/customers/<account_no>/)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Category
from billing.rules import discount_rules
from tests.factories import AccountFactory, BillFactory

LIST_URL = "/customers/"


def detail_url(account_no: str) -> str:
    return reverse("billing:account-detail", args=[account_no])


def listed(response) -> list[str]:
    """Account numbers on the page, in table order."""
    return [row.record.account_no for row in response.context["table"].paginated_rows]


@pytest.fixture
def client_as(client, make_staff):
    def login(*roles: str, district: str | None = None):
        user = make_staff(*roles, district=district)
        client.force_login(user)
        return client

    return login


# --- district scoping ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_clerk_gets_404_on_another_districts_account(client_as):
    daoli = AccountFactory(district_name="道里")
    nangang = AccountFactory(district_name="南岗")
    client = client_as("clerk", district="南岗")
    response = client.get(detail_url(daoli.account_no))
    assert response.status_code == 404
    assert "不属于您的区县" in response.content.decode()  # the portal's 404 page
    assert client.get(detail_url(nangang.account_no)).status_code == 200


@pytest.mark.django_db
def test_clerk_list_shows_only_own_district(client_as):
    daoli = AccountFactory.create_batch(3, district_name="道里")
    nangang = AccountFactory.create_batch(2, district_name="南岗")
    response = client_as("clerk", district="南岗").get(LIST_URL)
    assert response.status_code == 200
    assert listed(response) == [a.account_no for a in nangang]
    body = response.content.decode()
    for account in daoli:
        assert account.account_no not in body


@pytest.mark.django_db
def test_clerk_cannot_reach_other_district_through_the_filter(client_as):
    AccountFactory(district_name="道里")
    response = client_as("clerk", district="南岗").get(LIST_URL, {"district": "daoli"})
    assert listed(response) == []
    assert "district" not in response.context["filter"].form.fields


@pytest.mark.django_db
def test_manager_sees_both_districts(client_as):
    daoli = AccountFactory(district_name="道里")
    nangang = AccountFactory(district_name="南岗")
    client = client_as("manager")
    assert set(listed(client.get(LIST_URL))) == {daoli.account_no, nangang.account_no}
    assert client.get(detail_url(daoli.account_no)).status_code == 200
    assert client.get(detail_url(nangang.account_no)).status_code == 200


@pytest.mark.django_db
def test_district_filter_offered_to_city_roles_only(client_as, make_staff, client):
    response = client_as("manager").get(LIST_URL)
    form = response.context["filter"].form
    assert [label for _value, label in form.fields["district"].choices][1:] == [
        "道里",
        "南岗",
        "道外",
        "香坊",
        "平房",
        "松北",
        "呼兰",
        "阿城",
        "双城",
    ]
    assert 'name="district"' in response.content.decode()
    client.force_login(make_staff("district_reviewer", district="道里"))
    assert 'name="district"' not in client.get(LIST_URL).content.decode()


@pytest.mark.django_db
def test_staff_without_a_role_is_refused(client, make_staff):
    account = AccountFactory()
    client.force_login(make_staff())
    response = client.get(LIST_URL)
    assert response.status_code == 403
    assert "无权访问" in response.content.decode()  # the portal's 403 page
    assert client.get(detail_url(account.account_no)).status_code == 403


# --- query count and pagination ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [5, 50])
def test_list_runs_the_same_queries_whatever_the_page_size(client_as, django_assert_num_queries, per_page):
    AccountFactory.create_batch(30, district_name="道里")
    AccountFactory.create_batch(30, district_name="南岗", industry_code="3110")
    client = client_as("manager")
    # session, user, the user's permissions (user + groups), the user's roles (groups), the
    # district choices of the filter, and one page of accounts with their districts: no COUNT(*).
    with django_assert_num_queries(7) as captured:
        response = client.get(LIST_URL, {"per_page": per_page})
    assert len(listed(response)) == per_page
    sqls = [q["sql"].upper() for q in captured.captured_queries]
    assert not any("COUNT(" in sql for sql in sqls)
    account_queries = [sql for sql in sqls if '"BILLING_ACCOUNT"' in sql]
    assert len(account_queries) == 1
    assert 'INNER JOIN "PORTAL_DISTRICT"' in account_queries[0]


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [5, 50])
def test_clerk_list_query_count_is_pinned(client_as, django_assert_num_queries, per_page):
    AccountFactory.create_batch(60, district_name="南岗")
    client = client_as("clerk", district="南岗")
    # As for a manager, plus the clerk's district for the navbar, minus the district choices.
    with django_assert_num_queries(7):
        response = client.get(LIST_URL, {"per_page": per_page})
    assert len(listed(response)) == per_page


@pytest.mark.django_db
def test_list_pages_forward_without_counting(client_as):
    accounts = AccountFactory.create_batch(12, district_name="南岗")
    client = client_as("manager")
    first = client.get(LIST_URL, {"per_page": 5})
    assert listed(first) == [a.account_no for a in accounts[:5]]
    assert "page=2" in first.content.decode()
    third = client.get(LIST_URL, {"per_page": 5, "page": 3})
    assert listed(third) == [a.account_no for a in accounts[10:]]
    assert not third.context["table"].page.has_next()


@pytest.mark.django_db
@pytest.mark.parametrize(("per_page", "rows"), [("0", 25), ("-3", 1), ("abc", 25), ("1000", 30)])
def test_page_size_from_the_query_string_is_bounded(client_as, per_page, rows, monkeypatch):
    monkeypatch.setattr("billing.tables.MAX_PER_PAGE", 30)
    AccountFactory.create_batch(31, district_name="南岗")
    response = client_as("manager").get(LIST_URL, {"per_page": per_page})
    assert response.status_code == 200
    assert len(listed(response)) == rows


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"sort": "no_such_column"}, {"sort": "district"}, {"page": "abc"}, {"page": "99"}])
def test_odd_query_strings_do_not_break_the_list(client_as, params):
    account = AccountFactory(district_name="南岗")
    response = client_as("clerk", district="南岗").get(LIST_URL, params)
    assert response.status_code == 200
    assert listed(response) == [account.account_no]


@pytest.mark.django_db
def test_list_sorts_by_a_column(client_as):
    AccountFactory(name="乙公司", district_name="南岗")
    AccountFactory(name="甲公司", district_name="道里")
    response = client_as("manager").get(LIST_URL, {"sort": "district"})
    assert [row.record.district.name for row in response.context["table"].paginated_rows] == ["道里", "南岗"]


# --- filters ------------------------------------------------------------------------------------


@pytest.fixture
def mixed_accounts(db):
    return {
        "commercial": AccountFactory(account_no="2301000001", name="哈尔滨红星商贸有限公司"),
        "industrial": AccountFactory(
            account_no="2301000002", name="松花江机械厂", category=Category.LARGE_INDUSTRIAL, industry_code="3411"
        ),
        "steel": AccountFactory(
            account_no="2302000001", name="北方钢铁公司", category=Category.LARGE_INDUSTRIAL, industry_code="3110"
        ),
        "heat": AccountFactory(account_no="2302000002", name="南岗热力公司", industry_code="4430"),
        "home": AccountFactory(
            account_no="2303000001", name="张三", category=Category.RESIDENTIAL, industry_code="", district_name="道里"
        ),
    }


def filtered(client, **params) -> set[str]:
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return set(listed(response))


@pytest.mark.django_db
def test_search_by_account_number_prefix(client_as, mixed_accounts):
    client = client_as("manager")
    assert filtered(client, q="2301") == {"2301000001", "2301000002"}
    assert filtered(client, q="2302000002") == {"2302000002"}
    # A prefix, not a substring: the middle of a number finds nothing.
    assert filtered(client, q="000001") == set()


@pytest.mark.django_db
def test_search_by_part_of_the_name(client_as, mixed_accounts):
    client = client_as("manager")
    assert filtered(client, q="钢铁") == {"2302000001"}
    assert filtered(client, q="公司") == {"2301000001", "2302000001", "2302000002"}
    assert filtered(client, q="  红星 ") == {"2301000001"}


@pytest.mark.django_db
def test_filter_by_eligibility_for_the_95_percent_measure(client_as, mixed_accounts):
    client = client_as("manager")
    assert filtered(client, eligible="yes") == {"2301000001", "2301000002"}
    assert filtered(client, eligible="no") == {"2302000001", "2302000002", "2303000001"}


@pytest.mark.django_db
def test_filter_by_high_energy(client_as, mixed_accounts):
    client = client_as("manager")
    assert filtered(client, high_energy="yes") == {"2302000001", "2302000002"}
    assert filtered(client, high_energy="no") == {"2301000001", "2301000002", "2303000001"}


@pytest.mark.django_db
def test_filter_by_category_and_district_together(client_as, mixed_accounts):
    client = client_as("manager")
    assert filtered(client, category="large_industrial") == {"2301000002", "2302000001"}
    assert filtered(client, district="daoli") == {"2303000001"}
    assert filtered(client, district="nangang", category="residential") == set()
    assert filtered(client, q="23", eligible="yes", high_energy="no", category="general_commercial") == {"2301000001"}


@pytest.mark.django_db
def test_eligible_badge_matches_the_model_rule(client_as, mixed_accounts):
    response = client_as("manager").get(LIST_URL)
    for row in response.context["table"].paginated_rows:
        assert row.record.eligible == discount_rules().admits(row.record)


@pytest.mark.django_db
def test_invalid_filter_value_shows_an_error_not_a_500(client_as, mixed_accounts):
    response = client_as("manager").get(LIST_URL, {"category": "nuclear"})
    assert response.status_code == 200
    assert listed(response) == []
    assert response.context["filter"].form.errors


@pytest.mark.django_db
def test_filters_run_as_sql_not_in_python(client_as, mixed_accounts):
    client = client_as("manager")
    with CaptureQueriesContext(connection) as captured:
        client.get(LIST_URL, {"eligible": "yes", "high_energy": "no"})
    account_sql = [q["sql"] for q in captured.captured_queries if '"billing_account"' in q["sql"]]
    assert len(account_sql) == 1
    assert '"billing_account"."category" IN' in account_sql[0]
    assert '"billing_account"."high_energy"' in account_sql[0]


# --- the account page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_account_page_shows_fields_and_bills_with_totals(client_as):
    account = AccountFactory(
        account_no="2301009999",
        name="示例机械厂",
        category=Category.LARGE_INDUSTRIAL,
        industry_code="3411",
        basic_charge_method="capacity",
        capacity_kva=Decimal("1000"),
        enterprise_size="small",
    )
    BillFactory(
        account=account,
        period=dt.date(2020, 3, 1),
        energy_kwh=Decimal("10000"),
        energy_charge=Decimal("12345.67"),
        basic_charge=Decimal("25000.00"),
        power_factor_charge=Decimal("-100.50"),
        late_fee=Decimal("10.00"),
        paid=Decimal("1000.00"),
    )
    BillFactory(
        account=account,
        period=dt.date(2020, 2, 1),
        energy_kwh=Decimal("5000"),
        energy_charge=Decimal("100.00"),
        basic_charge=Decimal("25000.00"),
        paid=Decimal("25100.00"),
    )
    BillFactory(account=AccountFactory(), period=dt.date(2020, 2, 1), energy_charge=Decimal("99999.00"))
    response = client_as("clerk", district="南岗").get(detail_url(account.account_no))
    assert response.status_code == 200
    table = response.context["bill_table"]
    rows = [row.record for row in table.rows]
    assert [r.period for r in rows] == ["2020-02", "2020-03"]
    assert rows[1].gross == Decimal("37255.17")  # 12,345.67 + 25,000 − 100.50 + 10
    assert rows[1].outstanding == Decimal("36255.17")
    assert rows[0].outstanding == Decimal("0.00")
    totals = response.context["bill_totals"]
    assert totals["energy_kwh"] == Decimal("15000")
    assert totals["gross"] == Decimal("62355.17")
    assert totals["paid"] == Decimal("26100.00")
    assert totals["outstanding"] == Decimal("36255.17")
    body = response.content.decode()
    for text in ("2301009999", "示例机械厂", "2020-03", "37,255.17", "62,355.17", "36,255.17", "-100.50", "1,000"):
        assert text in body
    assert "99,999.00" not in body


@pytest.mark.django_db
def test_account_page_states_eligibility_and_why(client_as, mixed_accounts):
    client = client_as("manager")
    with_reason = {
        "2301000002": (True, "高耗能"),
        "2302000001": (False, "31"),
        "2303000001": (False, "居民"),
    }
    for account_no, (eligible, text) in with_reason.items():
        response = client.get(detail_url(account_no))
        assert response.context["account"].eligible is eligible
        assert text in response.context["eligibility_reason"]


@pytest.mark.django_db
def test_account_page_runs_a_fixed_number_of_queries(client_as, django_assert_num_queries):
    account = AccountFactory()
    for month in range(1, 7):
        BillFactory(account=account, period=dt.date(2020, month, 1))
    client = client_as("manager")
    # session, user, permissions (user + groups), roles, the account with its district, its
    # industry, its bills, the ledger's sums per (bill, kind, cause), its grants, the policies.
    with django_assert_num_queries(11):
        response = client.get(detail_url(account.account_no))
    assert len(response.context["bill_table"].rows) == 6


@pytest.mark.django_db
def test_unknown_account_is_404(client_as):
    assert client_as("manager").get(detail_url("2399999999")).status_code == 404


@pytest.mark.django_db
def test_district_column_shown_to_city_roles_only(client_as, make_staff, client):
    AccountFactory()
    columns = [c.name for c in client_as("manager").get(LIST_URL).context["table"].columns]
    assert columns == [
        "account_no",
        "name",
        "district",
        "category",
        "industry_code",
        "high_energy",
        "eligible",
        "voltage_kv",
        "basic_charge_method",
        "capacity_kva",
    ]
    client.force_login(make_staff("clerk", district="南岗"))
    assert "district" not in [c.name for c in client.get(LIST_URL).context["table"].columns]
