import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from organisation.errors import Conflict
from organisation.roles import Role
from tests.factories import AccountFactory, BillFactory
from workflow.chain import Action, State
from workflow.eligibility import eligibility_entry_change, eligibility_prescreen
from workflow.models import EligibilityList
from workflow.services import item_transition


@pytest.fixture
def accounts(db):
    return {
        "shop": AccountFactory(district_name="南岗", category="general_commercial", industry_code="5211"),
        "factory": AccountFactory(district_name="南岗", category="large_industrial", industry_code="2770"),
        "mine": AccountFactory(district_name="南岗", category="large_industrial", industry_code="0610"),
        "chem": AccountFactory(district_name="南岗", category="large_industrial", industry_code="2611"),
        "heat": AccountFactory(district_name="南岗", category="general_commercial", industry_code="4430"),
        "home": AccountFactory(district_name="南岗", category="residential", industry_code=""),
        "farm": AccountFactory(district_name="南岗", category="agricultural", industry_code="0111"),
        "daoli": AccountFactory(district_name="道里", category="general_commercial", industry_code="5211"),
    }


def _list(district="南岗"):
    return EligibilityList.objects.get(district__name=district, policy_id="discount-2020")


def _accounts_on(lst):
    return set(lst.entries.filter(included=True).values_list("account__account_no", flat=True))


@pytest.mark.django_db
def test_prescreen_builds_a_list_per_district_by_m1(accounts):
    results = eligibility_prescreen(policy_code="discount-2020")
    assert len(results) == 9
    nangang = _accounts_on(_list())
    assert nangang == {accounts[k].account_no for k in ("shop", "factory", "mine")}
    assert _accounts_on(_list("道里")) == {accounts["daoli"].account_no}


@pytest.mark.django_db
def test_prescreen_is_idempotent_and_keeps_clerk_decisions(accounts, make_staff):
    eligibility_prescreen(policy_code="discount-2020")
    clerk = make_staff(Role.CLERK, district="南岗")
    eligibility_entry_change(
        eligibility_list=_list(), account_no=accounts["mine"].account_no, include=False, reason="已销户", by=clerk
    )
    again = [r for r in eligibility_prescreen(policy_code="discount-2020") if r.district == "南岗"][0]
    assert (again.added, again.dropped) == (0, 0)
    assert accounts["mine"].account_no not in _accounts_on(_list())
    assert EligibilityList.objects.count() == 9


@pytest.mark.django_db
def test_lists_past_draft_are_never_changed(accounts, make_staff):
    eligibility_prescreen(policy_code="discount-2020")
    lst = _list()
    item_transition(item=lst, action=Action.SUBMIT, by=make_staff(Role.CLERK, district="南岗"))
    before = _accounts_on(lst)
    AccountFactory(district_name="南岗", category="general_commercial", industry_code="6510")
    result = [r for r in eligibility_prescreen(policy_code="discount-2020") if r.district == "南岗"][0]
    assert result.state == State.PENDING_DISTRICT
    assert _accounts_on(_list()) == before


@pytest.mark.django_db
def test_clerk_changes_need_a_reason_the_district_and_m1(accounts, make_staff):
    eligibility_prescreen(policy_code="discount-2020")
    clerk = make_staff(Role.CLERK, district="南岗")
    with pytest.raises(ValidationError) as err:
        eligibility_entry_change(
            eligibility_list=_list(), account_no=accounts["shop"].account_no, include=False, reason=" ", by=clerk
        )
    assert "reason" in err.value.message_dict
    with pytest.raises(PermissionDenied):
        eligibility_entry_change(
            eligibility_list=_list(),
            account_no=accounts["shop"].account_no,
            include=False,
            reason="x",
            by=make_staff(Role.CLERK, district="道里"),
        )
    with pytest.raises(ValidationError) as err:
        eligibility_entry_change(
            eligibility_list=_list(), account_no=accounts["chem"].account_no, include=True, reason="x", by=clerk
        )
    assert "M1" in err.value.message_dict["account_no"][0]


@pytest.mark.django_db
def test_changes_refused_once_submitted(accounts, make_staff):
    eligibility_prescreen(policy_code="discount-2020")
    clerk = make_staff(Role.CLERK, district="南岗")
    lst = item_transition(item=_list(), action=Action.SUBMIT, by=clerk)
    with pytest.raises(Conflict):
        eligibility_entry_change(
            eligibility_list=lst, account_no=accounts["shop"].account_no, include=False, reason="x", by=clerk
        )


@pytest.mark.django_db
def test_forecast_counts_bills_so_far_and_estimates_the_rest(accounts):
    shop = accounts["shop"]
    # Two billed window months of 10,000.00 energy + 1,010.10 power factor: 500.00 + 50.51 each.
    for month in (2, 3):
        BillFactory(
            account=shop,
            period=dt.date(2020, month, 1),
            energy_charge=Decimal("10000.00"),
            power_factor_charge=Decimal("1010.10"),
            late_fee=Decimal("99.00"),
        )
    BillFactory(account=shop, period=dt.date(2020, 1, 1), energy_charge=Decimal("50000.00"))  # outside window
    eligibility_prescreen(policy_code="discount-2020")
    lst = _list()
    assert lst.forecast_accounts == 3
    assert lst.forecast_billed == Decimal("1101.02")
    # 9 months to come at the average of 550.51
    assert lst.forecast_reduction == Decimal("1101.02") + Decimal("4954.59")


@pytest.mark.django_db
def test_prescreen_command_reports_in_company_units(accounts, capsys):
    call_command("prescreen", "discount-2020")
    out = capsys.readouterr().out
    assert "南岗" in out and "万户" in out and "万元" in out


@pytest.mark.django_db
def test_prescreen_unknown_policy_is_a_clear_error():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="unknown policy"):
        call_command("prescreen", "nope")


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_change_locks_its_list_row_and_not_the_policy(accounts, make_staff):
    """Locking the joined policy row as well would make changes to any two lists of the policy
    (nine districts' clerks) wait for each other."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    eligibility_prescreen(policy_code="discount-2020")
    clerk = make_staff(Role.CLERK, district="南岗")
    with CaptureQueriesContext(connection) as queries:
        eligibility_entry_change(
            eligibility_list=_list(), account_no=accounts["mine"].account_no, include=False, reason="已销户", by=clerk
        )
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locks, "the change locks its list"
    table = EligibilityList._meta.db_table
    assert all(sql.rstrip().endswith(f'FOR UPDATE OF "{table}"') for sql in locks), locks
