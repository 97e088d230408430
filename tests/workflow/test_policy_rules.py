"""One source for every policy rule: editing a ``Policy`` row changes every decision (billing.rules).

The 95% policy is edited as an admin would (``billing.policy_rules.policy_update``): division 13
(农副食品加工业) is excluded and the second window ends in November. An account of division 13 is
then eligible nowhere — pre-screen, account page, API, both posting paths, forecast, dashboard — and
nothing is posted for December. The two-part policy's window, earliest seal date and waived rules
decide the capacity rules (workflow.rules).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from billing import posting_sql, services
from billing.models import LedgerEntry, Policy
from billing.policy_rules import policy_update
from billing.posting import job_run_inline
from billing.rules import discount_rules
from organisation.roles import Role
from tests.factories import AccountFactory, BillFactory
from workflow.eligibility import eligibility_prescreen, forecast_compute
from workflow.models import EligibilityList
from workflow.rules import check_capacity_application

MONTHS = [dt.date(2020, m, 1) for m in range(1, 13)]
DECEMBER = dt.date(2020, 12, 1)
# Each bill: energy 1,000.00 only, so 50.00 of discount per month in the windows.
MONTHLY_DISCOUNT = Decimal("50.00")
LIST_CAUSE = 9101


@pytest.fixture
def accounts(db):
    food = AccountFactory(district_name="南岗", category="general_commercial", industry_code="1310")
    shop = AccountFactory(district_name="南岗", category="general_commercial", industry_code="5211")
    for account in (food, shop):
        for month in MONTHS:
            BillFactory(account=account, period=month, energy_charge=Decimal("1000.00"))
    return {"food": food, "shop": shop}


def _edit_discount_policy() -> Policy:
    policy = Policy.objects.get(code="discount-2020")
    return policy_update(
        policy_id=policy.pk,
        values={
            "excluded_divisions": [*policy.excluded_divisions, "13"],
            "windows": [["2020-02", "2020-06"], ["2020-07", "2020-11"]],
        },
    )


def _nangang_list() -> EligibilityList:
    return EligibilityList.objects.get(district__name="南岗", policy_id="discount-2020")


def _on_list(lst) -> set[str]:
    return set(lst.entries.filter(included=True).values_list("account__account_no", flat=True))


def _post_both(accounts) -> None:
    """A list holding both accounts approved: M1 is applied again at posting time."""
    with transaction.atomic():
        job = services.grant_discount(
            policy_code="discount-2020", cause_id=LIST_CAUSE, account_ids=[a.pk for a in accounts.values()]
        )
    job_run_inline(job=job)


def _discounts(account) -> dict[dt.date, Decimal]:
    return dict(LedgerEntry.objects.filter(account=account, kind="discount").values_list("period", "amount"))


def _assert_posted_by_the_edited_rule(accounts) -> None:
    assert _discounts(accounts["food"]) == {}
    shop = _discounts(accounts["shop"])
    assert sorted(shop) == MONTHS[1:11]  # February … November: January and December are outside
    assert DECEMBER not in shop
    assert set(shop.values()) == {MONTHLY_DISCOUNT}
    assert not LedgerEntry.objects.filter(period=DECEMBER).exists()


@pytest.mark.django_db
def test_the_shipped_rows_admit_division_13_and_december(accounts):
    """The starting point: without the edit the account of division 13 is eligible everywhere."""
    assert discount_rules().admits(accounts["food"]) is True
    eligibility_prescreen(policy_code="discount-2020")
    assert accounts["food"].account_no in _on_list(_nangang_list())
    with override_settings(PORTAL_POSTING_SQL=False):
        _post_both(accounts)
    assert sorted(_discounts(accounts["food"])) == MONTHS[1:]


@pytest.mark.django_db
def test_editing_the_policy_row_changes_every_decision(accounts, client, make_staff):
    food, shop = accounts["food"], accounts["shop"]
    # A draft list pre-screened before the edit still holds the account of division 13.
    eligibility_prescreen(policy_code="discount-2020")
    lst = _nangang_list()
    assert _on_list(lst) == {food.account_no, shop.account_no}

    _edit_discount_policy()

    # The forecast of that list counts only what the rule admits, over February … November.
    forecast = forecast_compute(eligibility_list=lst)
    assert (forecast.accounts, forecast.billed, forecast.estimated) == (1, MONTHLY_DISCOUNT * 10, Decimal("0.00"))

    # The pre-screen drops the account again and refreshes the stored forecast.
    result = next(r for r in eligibility_prescreen(policy_code="discount-2020") if r.district == "南岗")
    assert (result.added, result.dropped) == (0, 1)
    lst.refresh_from_db()
    assert _on_list(lst) == {shop.account_no}
    assert (lst.forecast_accounts, lst.forecast_reduction) == (1, Decimal("500.00"))

    # The model's rule, the account page (badge and reason), the list's filter and the API.
    food.refresh_from_db()
    assert discount_rules().admits(food) is False and food.high_energy is False  # not high-energy, yet excluded
    client.force_login(make_staff(Role.MANAGER))
    page = client.get(reverse("billing:account-detail", args=[food.account_no]))
    assert page.context["account"].eligible is False
    assert "13" in page.context["eligibility_reason"]
    assert client.get(reverse("billing:account-detail", args=[shop.account_no])).context["account"].eligible is True
    listed = client.get("/customers/", {"eligible": "yes"}).context["table"].paginated_rows
    assert {row.record.account_no for row in listed} == {shop.account_no}
    assert client.get(f"/api/v1/customers/{food.account_no}/").json()["eligible_discount"] is False
    assert client.get(f"/api/v1/customers/{shop.account_no}/").json()["eligible_discount"] is True

    # The engine's posting path: nothing for the account of division 13, nothing for December.
    with override_settings(PORTAL_POSTING_SQL=False):
        _post_both(accounts)
    _assert_posted_by_the_edited_rule(accounts)

    # The dashboard (its figures and forecast, as the stats API answers them) follows the ledger.
    data = client.get(reverse("api:stats")).json()
    discount_cells = [c for c in data["cells"] if c["measure"] == "discount"]
    assert discount_cells and "2020-12" not in {c["period"] for c in discount_cells}
    measures = {m["measure"]: m for m in data["measures"]}
    assert (measures["discount"]["accounts"], measures["discount"]["amount"]) == (1, "500.00")
    nangang = next(row for row in data["forecast"] if row["district"] == "nangang")
    assert (nangang["forecast"]["accounts"], nangang["forecast"]["reduction_yuan"]) == (1, "500.00")


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_set_based_posting_path_follows_the_edited_row(accounts):
    _edit_discount_policy()
    real = posting_sql.post_discounts
    results = []

    def spy(**kwargs):
        results.append(real(**kwargs))
        return results[-1]

    with override_settings(PORTAL_POSTING_SQL=True), mock.patch.object(posting_sql, "post_discounts", side_effect=spy):
        _post_both(accounts)
    # Both accounts took the SQL path (discount grants only), which posted the shop's ten months.
    assert results and sum(r.inserted for r in results) == 10 and not any(r.others for r in results)
    _assert_posted_by_the_edited_rule(accounts)


# --- the two-part policy decides the capacity rules (programme.md M7) ----------------------------------


def _suspension(*, received: dt.date, seal: dt.date, restore: dt.date):
    return check_capacity_application(
        kind="suspension",
        received_on=received,
        seal_date=seal,
        restore_date=restore,
        capacity_kva=Decimal(500),
        account_capacity_kva=Decimal(1000),
        demand_basis=False,
    )


def _edit_two_part(**values) -> None:
    policy_update(policy_id=Policy.objects.get(code="two-part-relief-2020").pk, values=values)


@pytest.mark.django_db
def test_the_two_part_rows_window_seal_date_and_waivers_decide_the_capacity_rules():
    back_dated = dict(received=dt.date(2020, 3, 10), seal=dt.date(2020, 2, 5), restore=dt.date(2020, 2, 10))
    june = dict(received=dt.date(2020, 6, 1), seal=dt.date(2020, 6, 10), restore=dt.date(2020, 6, 15))
    short_notice = dict(received=dt.date(2020, 3, 10), seal=dt.date(2020, 3, 12), restore=dt.date(2020, 3, 20))
    # The shipped row: back-dating to 2020-02-05 and a June seal are relief; 15-day and notice rules waived.
    for case in (back_dated, june, short_notice):
        check = _suspension(**case)
        assert check.ok and check.relief, check.errors

    _edit_two_part(earliest_seal_date=dt.date(2020, 2, 10))
    check = _suspension(**back_dated)
    assert not check.ok and "2020-02-10" in check.errors["seal_date"][0]

    _edit_two_part(windows=[["2020-02", "2020-05"]])
    check = _suspension(**june)
    assert not check.relief and "15-day rule" in check.errors["restore_date"][0]

    _edit_two_part(waived_rules=["min_suspension_days"])
    check = _suspension(**short_notice)
    assert check.relief and "Notice rule" in check.errors["seal_date"][0]
