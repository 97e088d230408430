"""GET /api/v1/customers/{account_no}/ and …/bills/: fields, amounts, district scoping, query count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import Account, Category, EnterpriseSize, PriorityRole
from billing.serializers import account_is_protected
from tests.factories import AccountFactory, BillFactory


def detail_url(account_no: str) -> str:
    return f"/api/v1/customers/{account_no}/"


def bills_url(account_no: str) -> str:
    return f"/api/v1/customers/{account_no}/bills/"


@pytest.fixture
def api_as(make_staff):
    """api_as("clerk", district="南岗") → an APIClient logged in as a new user with the role(s)."""

    def make(*roles: str, district: str | None = None) -> APIClient:
        client = APIClient()
        client.force_login(make_staff(*roles, district=district))
        return client

    return make


@pytest.fixture
def nangang(db):
    return AccountFactory(district_name="南岗")


@pytest.fixture
def daoli(db):
    return AccountFactory(district_name="道里")


# --- Scoping ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clerk", "district_reviewer"])
@pytest.mark.parametrize("url", [detail_url, bills_url])
def test_district_roles_see_their_own_district_only(api_as, nangang, daoli, role, url):
    client = api_as(role, district="南岗")
    assert client.get(url(nangang.account_no)).status_code == 200
    response = client.get(url(daoli.account_no))
    assert response.status_code == 404
    assert daoli.name not in response.content.decode()


@pytest.mark.parametrize("role", ["manager", "city_reviewer", "leader"])
@pytest.mark.parametrize("url", [detail_url, bills_url])
def test_city_roles_see_every_district(api_as, nangang, daoli, role, url):
    client = api_as(role)
    assert client.get(url(nangang.account_no)).status_code == 200
    assert client.get(url(daoli.account_no)).status_code == 200


@pytest.mark.parametrize("url", [detail_url, bills_url])
def test_out_of_district_looks_exactly_like_unknown(api_as, daoli, url):
    client = api_as("clerk", district="南岗")
    outside = client.get(url(daoli.account_no))
    unknown = client.get(url("9999999999"))
    assert outside.status_code == unknown.status_code == 404
    assert outside.json() == unknown.json()


@pytest.mark.parametrize("url", [detail_url, bills_url])
@pytest.mark.parametrize(
    "account_no",
    [
        "abc",
        "123",
        "12345678901",
        "１２３４５６７８９０",
        "2300000000%00",
        "%E6%88%B7",
        "2300000000%20",
        "'%20OR%201=1",
    ],
)
def test_malformed_account_no_is_404_not_500(api_as, nangang, url, account_no):
    client = api_as("manager")
    response = client.get(url(account_no))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("url", [detail_url, bills_url])
def test_anonymous_is_401(nangang, url):
    response = APIClient().get(url(nangang.account_no))
    assert response.status_code == 401


def test_clerk_without_district_sees_nothing(make_staff, nangang):
    # A misconfigured clerk (no district) must not fall through to "every district".
    client = APIClient()
    clerk = make_staff("clerk")
    client.force_login(clerk)
    assert client.get(detail_url(nangang.account_no)).status_code == 404


# --- The account --------------------------------------------------------------------------------------


def test_customer_detail_fields_and_values(api_as):
    account = AccountFactory(
        account_no="2301000001",
        name="哈尔滨示例机械有限公司",
        district_name="南岗",
        category=Category.LARGE_INDUSTRIAL,
        industry_code="3411",
        voltage_kv=Decimal("10"),
        basic_charge_method="capacity",
        capacity_kva=Decimal("1000"),
        contract_demand_kw=None,
        enterprise_size=EnterpriseSize.MEDIUM,
        priority_role="",
    )
    response = api_as("clerk", district="南岗").get(detail_url(account.account_no))
    assert response.status_code == 200
    assert response.json() == {
        "account_no": "2301000001",
        "name": "哈尔滨示例机械有限公司",
        "district": "南岗",
        "category": "large_industrial",
        "industry_code": "3411",
        "voltage_kv": "10.0",
        "basic_charge_method": "capacity",
        "capacity_kva": "1000",
        "contract_demand_kw": None,
        "enterprise_size": "medium",
        "priority_role": "",
        "high_energy": False,
        "eligible_discount": True,
        "protected": False,
        "balance": "0.00",  # no credit in the ledger (tests/billing/test_ledger_outputs.py has some)
    }


def test_high_energy_account_is_not_eligible(api_as):
    account = AccountFactory(district_name="南岗", industry_code="3110", category=Category.LARGE_INDUSTRIAL)
    body = api_as("manager").get(detail_url(account.account_no)).json()
    assert body["high_energy"] is True
    assert body["eligible_discount"] is False


def test_residential_account_is_protected_and_not_eligible(api_as):
    account = AccountFactory(district_name="南岗", category=Category.RESIDENTIAL, industry_code="")
    body = api_as("manager").get(detail_url(account.account_no)).json()
    assert body["eligible_discount"] is False
    assert body["protected"] is True
    assert body["industry_code"] == ""


def test_demand_basis_account_reports_contract_demand_as_string(api_as):
    account = AccountFactory(
        district_name="南岗",
        basic_charge_method="demand",
        capacity_kva=Decimal("2000"),
        contract_demand_kw=Decimal("800"),
    )
    body = api_as("manager").get(detail_url(account.account_no)).json()
    assert body["contract_demand_kw"] == "800"
    assert body["basic_charge_method"] == "demand"


@pytest.mark.parametrize(
    ("category", "size", "role", "expected"),
    [
        (Category.RESIDENTIAL, "", "", True),
        (Category.GENERAL_COMMERCIAL, EnterpriseSize.SMALL, "", True),
        (Category.LARGE_INDUSTRIAL, EnterpriseSize.MICRO, "", True),
        (Category.LARGE_INDUSTRIAL, EnterpriseSize.MEDIUM, PriorityRole.HOSPITAL, True),
        (Category.GENERAL_COMMERCIAL, "", PriorityRole.PREVENTION_POINT, True),
        (Category.LARGE_INDUSTRIAL, EnterpriseSize.LARGE, PriorityRole.SUPPLIES_MAKER, True),
        (Category.LARGE_INDUSTRIAL, EnterpriseSize.LARGE, "", False),
        (Category.GENERAL_COMMERCIAL, EnterpriseSize.MEDIUM, "", False),
        (Category.GENERAL_COMMERCIAL, "", "", False),
        (Category.AGRICULTURAL, "", "", False),
    ],
)
def test_arrears_protection_rule_m10(category, size, role, expected):
    account = Account(category=category, enterprise_size=size, priority_role=role)
    assert account_is_protected(account) is expected


# --- The bills ----------------------------------------------------------------------------------------


def test_bills_show_lines_gross_discount_due_and_credits(api_as, nangang):
    BillFactory(
        account=nangang,
        period=dt.date(2020, 3, 1),
        energy_charge=Decimal("7399.00"),
        basic_charge=Decimal("25000.00"),
        power_factor_charge=Decimal("-240.74"),
        late_fee=Decimal("12.35"),
    )
    response = api_as("clerk", district="南岗").get(bills_url(nangang.account_no))
    assert response.status_code == 200
    [bill] = response.json()
    assert bill["period"] == "2020-03"
    assert bill["lines"] == [
        {"kind": "energy", "label": bill["lines"][0]["label"], "amount": "7399.00", "discount": "0.00"},
        {"kind": "basic", "label": bill["lines"][1]["label"], "amount": "25000.00", "discount": "0.00"},
        {"kind": "power_factor", "label": bill["lines"][2]["label"], "amount": "-240.74", "discount": "0.00"},
        {"kind": "late_fee", "label": bill["lines"][3]["label"], "amount": "12.35", "discount": "0.00"},
    ]
    assert all(line["label"] for line in bill["lines"])
    assert bill["gross"] == "32170.61"
    assert Decimal(bill["gross"]) == sum(Decimal(line["amount"]) for line in bill["lines"])
    # Nothing in the ledger for this bill: no discount, no credit (figures with relief are in
    # tests/billing/test_ledger_outputs.py).
    assert bill["discount"] == "0.00"
    assert bill["credits"] == "0.00"
    assert bill["relief"] == []
    assert bill["pending"] is False
    assert bill["due"] == "32170.61"
    assert Decimal(bill["due"]) == Decimal(bill["gross"]) - Decimal(bill["discount"]) - Decimal(bill["credits"])


def test_bills_are_in_month_order_and_only_the_accounts_own(api_as, nangang):
    for month in (5, 2, 3):
        BillFactory(account=nangang, period=dt.date(2020, month, 1))
    BillFactory(account=AccountFactory(district_name="南岗"), period=dt.date(2020, 4, 1))
    body = api_as("manager").get(bills_url(nangang.account_no)).json()
    assert [b["period"] for b in body] == ["2020-02", "2020-03", "2020-05"]


def test_account_without_bills_answers_an_empty_list(api_as, nangang):
    response = api_as("manager").get(bills_url(nangang.account_no))
    assert response.status_code == 200
    assert response.json() == []


def _bills(account: Account, count: int) -> None:
    for i in range(count):
        BillFactory(account=account, period=dt.date(2019 + (i + 1) // 12, (i + 1) % 12 + 1, 1))


# Session + user (2), the user's permissions (2), the user's roles (1), the account (1), its bills (1),
# the ledger's sums per (bill, kind, cause) (1), the account's grants (1), the policies (1).
BILLS_QUERIES = 10


@pytest.mark.parametrize("count", [2, 12])
def test_bills_query_count_does_not_grow_with_bills(api_as, nangang, count, django_assert_num_queries):
    _bills(nangang, count)
    client = api_as("clerk", district="南岗")
    with django_assert_num_queries(BILLS_QUERIES):
        response = client.get(bills_url(nangang.account_no))
    assert response.status_code == 200
    assert len(response.json()) == count


@pytest.mark.parametrize("count", [2, 12])
def test_bills_query_count_with_token_auth(make_staff, nangang, count, django_assert_num_queries):
    from rest_framework.authtoken.models import Token

    _bills(nangang, count)
    user = make_staff("manager")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    # Token + user (1), permissions (2), roles (1), the account (1), its bills (1), ledger sums (1),
    # grants (1), policies (1).
    with django_assert_num_queries(9):
        response = client.get(bills_url(nangang.account_no))
    assert response.status_code == 200
    assert len(response.json()) == count
