"""The admin's billing side: read-only records, tariffs superseded not edited, policies with history
and with the rule that money already posted does not change (docs/admin.md)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from billing import services
from billing.models import LedgerEntry, Policy, PostingJob, Tariff
from billing.policy_rules import MONEY_FIELDS, policy_change_errors
from billing.posting import job_run_inline
from billing.tariffs import tariff_add, tariff_is_used
from organisation.models import User
from organisation.roles import Role
from tests.factories import AccountFactory, BillFactory, EligibilityListFactory
from workflow.chain import State
from workflow.models import Decision

DISCOUNT = "discount-2020"
TWO_PART = "two-part-relief-2020"


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", password="Root-Pass-2020"))
    return client


@pytest.fixture
def posted(db, make_staff):
    """An account with a bill, a discount posted to the ledger, its job, and a decision."""
    account = AccountFactory(category="general_commercial", voltage_kv=Decimal("10"))
    bill = BillFactory(account=account, period=dt.date(2020, 3, 1), energy_charge=Decimal("7399.00"))
    with transaction.atomic():
        job = services.grant_discount(policy_code=DISCOUNT, cause_id=101, account_ids=[account.pk])
    job_run_inline(job=job)
    entry = LedgerEntry.objects.get(account=account)
    clerk = make_staff(Role.CLERK, district="南岗")
    decision = Decision.objects.create(
        eligibility_list=EligibilityListFactory(),
        level="report_1",
        action="submit",
        from_state=State.DRAFT,
        to_state=State.PENDING_DISTRICT,
        actor=clerk,
    )
    return {
        "account": account,
        "bill": bill,
        "entry": entry,
        "job": PostingJob.objects.get(pk=job.pk),
        "decision": decision,
    }


def _policy_form(policy: Policy, **changes) -> dict:
    data = {
        "name": policy.name,
        "source": policy.source,
        "kind": policy.kind,
        "rate": "" if policy.rate is None else str(policy.rate),
        "windows": json.dumps(policy.windows),
        "eligible_categories": json.dumps(policy.eligible_categories),
        "excluded_divisions": json.dumps(policy.excluded_divisions),
        "components": json.dumps(policy.components),
        "earliest_seal_date": policy.earliest_seal_date.isoformat() if policy.earliest_seal_date else "",
        "waived_rules": json.dumps(policy.waived_rules),
    }
    data.update(changes)
    return data


def _tariff_form(tariff: Tariff | None = None, **changes) -> dict:
    data = {}
    if tariff is not None:
        data = {
            "category": tariff.category,
            "component": tariff.component,
            "voltage_min_kv": str(tariff.voltage_min_kv),
            "voltage_max_kv": "" if tariff.voltage_max_kv is None else str(tariff.voltage_max_kv),
            "rate": str(tariff.rate),
            "unit": tariff.unit,
            "effective_from": tariff.effective_from.isoformat(),
            "effective_to": tariff.effective_to.isoformat() if tariff.effective_to else "",
            "source": tariff.source,
        }
        if tariff.is_demo:
            data["is_demo"] = "on"
    data.update(changes)
    return data


def _demo_tariff(**kw) -> Tariff:
    """General commercial, flat energy, 1–35 kV, from 2020-01-01 (demo data loaded by migration)."""
    terms = {"category": "general_commercial", "component": "energy_flat", "voltage_min_kv": Decimal("1")}
    return Tariff.objects.get(**{**terms, **kw})


# --- read-only records -------------------------------------------------------------------------

READ_ONLY = [
    ("billing", "account", "account"),
    ("billing", "bill", "bill"),
    ("billing", "ledgerentry", "entry"),
    ("billing", "postingjob", "job"),
    ("workflow", "decision", "decision"),
]


def _snapshot(obj):
    return {f.attname: getattr(type(obj).objects.get(pk=obj.pk), f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin_client", "superuser_client"])
@pytest.mark.parametrize(("app", "model", "key"), READ_ONLY)
def test_records_cannot_be_added_changed_or_deleted(request, posted, who, app, model, key):
    client = request.getfixturevalue(who)
    obj = posted[key]
    before = _snapshot(obj)
    count = type(obj).objects.count()
    changelist = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert changelist.status_code == 200
    assert f'href="/admin/{app}/{model}/add/"' not in changelist.content.decode()
    add = reverse(f"admin:{app}_{model}_add")
    assert client.get(add).status_code == 403
    assert client.post(add, {}).status_code == 403
    change = reverse(f"admin:{app}_{model}_change", args=[obj.pk])
    page = client.get(change)
    assert page.status_code == 200  # shown, read-only
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change, {"amount": "1.00", "name": "x", "state": "done", "reason": "x"}).status_code == 403
    delete = reverse(f"admin:{app}_{model}_delete", args=[obj.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse(f"admin:{app}_{model}_changelist"), {"action": "delete_selected", "_selected_action": [obj.pk]}
    )
    assert bulk.status_code in (200, 302)
    assert type(obj).objects.count() == count
    assert _snapshot(obj) == before


@pytest.mark.django_db
def test_read_only_lists_search_by_account_number_and_filter(admin_client, posted):
    account = posted["account"]
    other = AccountFactory()
    BillFactory(account=other, period=dt.date(2020, 4, 1))
    for url in ("/admin/billing/account/", "/admin/billing/bill/", "/admin/billing/ledgerentry/"):
        response = admin_client.get(url, {"q": account.account_no})
        assert response.status_code == 200, url
        shown = list(response.context["cl"].result_list)
        assert shown and all(getattr(row, "account_id", row.pk) == account.pk for row in shown), url
        assert response.context["cl"].show_full_result_count is False
    march = admin_client.get("/admin/billing/bill/", {"month": "2020-03-01"}).context["cl"].result_list
    assert [b.period for b in march] == [dt.date(2020, 3, 1)]
    assert (
        admin_client.get(
            "/admin/billing/ledgerentry/", {"kind": "discount", "cause_type": "eligibility_list"}
        ).status_code
        == 200
    )
    assert admin_client.get("/admin/billing/postingjob/", {"state": "done", "q": "101"}).status_code == 200
    decisions = admin_client.get("/admin/workflow/decision/", {"q": posted["decision"].actor.username})
    assert list(decisions.context["cl"].result_list) == [posted["decision"]]
    assert admin_client.get("/admin/workflow/decision/", {"q": "not-a-number"}).status_code == 200


# --- policies ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_edits_a_policy_and_the_edit_is_in_its_history(admin_client):
    policy = Policy.objects.get(code=TWO_PART)
    old_name, old_seal = policy.name, policy.earliest_seal_date
    url = reverse("admin:billing_policy_change", args=[policy.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, _policy_form(policy, name="支持性两部制电价政策（修订）", earliest_seal_date="2020-02-03")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.name == "支持性两部制电价政策（修订）" and policy.earliest_seal_date == dt.date(2020, 2, 3)
    latest, previous = policy.history.all()[:2]
    assert latest.history_user.username == "sysadmin" and latest.history_type == "~"
    delta = latest.diff_against(previous)
    assert {c.field: (c.old, c.new) for c in delta.changes} == {
        "name": (old_name, "支持性两部制电价政策（修订）"),
        "earliest_seal_date": (old_seal, dt.date(2020, 2, 3)),
    }
    page = admin_client.get(reverse("admin:billing_policy_history", args=[policy.pk])).content.decode()
    assert old_name in page and "支持性两部制电价政策（修订）" in page and "sysadmin" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate", "0.0600"),
        ("windows", json.dumps([["2020-02", "2020-12"]])),
        ("eligible_categories", json.dumps(["general_commercial"])),
        ("excluded_divisions", json.dumps(["25"])),
        ("components", json.dumps(["energy"])),
        ("kind", "two_part_relief"),
        ("earliest_seal_date", "2020-03-01"),
        ("waived_rules", json.dumps(["notice_days"])),
    ],
)
def test_a_policy_with_grants_refuses_a_money_change_and_writes_nothing(admin_client, posted, field, value):
    policy = Policy.objects.get(code=DISCOUNT)
    before = _snapshot(policy)
    history = policy.history.count()
    response = admin_client.post(
        reverse("admin:billing_policy_change", args=[policy.pk]), _policy_form(policy, **{field: value})
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    message = " ".join(errors[field])
    assert str(Policy._meta.get_field(field).verbose_name) in message and "已" in message
    assert _snapshot(policy) == before
    assert policy.history.count() == history


@pytest.mark.django_db
def test_an_approved_eligibility_list_locks_its_policy_even_without_grants(admin_client):
    policy = Policy.objects.get(code=DISCOUNT)
    assert policy_change_errors(policy, {"rate": Decimal("0.06")}) == {}
    EligibilityListFactory(state=State.APPROVED)
    errors = policy_change_errors(policy, {"rate": Decimal("0.06"), "name": "x"})
    assert set(errors) == {"rate"} and "eligibility list" in errors["rate"]
    assert set(policy_change_errors(policy, dict.fromkeys(MONEY_FIELDS, "changed"))) == set(MONEY_FIELDS)


@pytest.mark.django_db
def test_a_policy_in_use_still_takes_a_new_name_and_source(admin_client, posted):
    policy = Policy.objects.get(code=DISCOUNT)
    response = admin_client.post(
        reverse("admin:billing_policy_change", args=[policy.pk]), _policy_form(policy, name="新名称", source="新文号")
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.name, policy.source, policy.rate) == ("新名称", "新文号", Decimal("0.0500"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("windows", json.dumps([["2020-07", "2020-02"]])),
        ("windows", json.dumps("2020-02")),
        ("eligible_categories", json.dumps(["shops"])),
        ("excluded_divisions", json.dumps(["2"])),
        ("components", json.dumps(["late_fee"])),
        ("waived_rules", json.dumps(["no_such_rule"])),
        ("rate", "1.5"),
    ],
)
def test_malformed_policy_terms_are_refused_with_the_field_named(admin_client, field, value):
    policy = Policy.objects.get(code=TWO_PART)
    before = _snapshot(policy)
    response = admin_client.post(
        reverse("admin:billing_policy_change", args=[policy.pk]), _policy_form(policy, **{field: value})
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert _snapshot(policy) == before


@pytest.mark.django_db
def test_policies_cannot_be_added_or_deleted_and_the_code_is_fixed(admin_client):
    policy = Policy.objects.get(code=TWO_PART)
    assert admin_client.get(reverse("admin:billing_policy_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:billing_policy_delete", args=[policy.pk]), {"post": "yes"}).status_code == 403
    )
    admin_client.post(reverse("admin:billing_policy_change", args=[policy.pk]), _policy_form(policy, code="other"))
    assert Policy.objects.filter(code=TWO_PART).exists()


@pytest.mark.django_db
def test_history_cannot_be_reverted(admin_client):
    policy = Policy.objects.get(code=TWO_PART)
    first = policy.history.earliest()
    admin_client.post(reverse("admin:billing_policy_change", args=[policy.pk]), _policy_form(policy, name="改过"))
    url = reverse("admin:billing_policy_simple_history", args=[policy.pk, first.history_id])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, _policy_form(policy)).status_code == 403
    assert Policy.objects.get(pk=policy.pk).name == "改过"


# --- tariffs -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_used_means_a_bill_in_the_category_band_and_dates():
    tariff = _demo_tariff()
    assert not tariff_is_used(tariff)
    BillFactory(account=AccountFactory(category="large_industrial", voltage_kv=Decimal("10")))  # other category
    BillFactory(account=AccountFactory(category="general_commercial", voltage_kv=Decimal("35")))  # above the band
    BillFactory(account=AccountFactory(category="general_commercial", voltage_kv=Decimal("0.4")))  # below it
    assert not tariff_is_used(tariff)
    Tariff.objects.filter(pk=tariff.pk).update(effective_from=dt.date(2020, 4, 1))
    BillFactory(
        account=AccountFactory(category="general_commercial", voltage_kv=Decimal("1")), period=dt.date(2020, 3, 1)
    )
    assert not tariff_is_used(Tariff.objects.get(pk=tariff.pk))  # the bill's month is before it
    Tariff.objects.filter(pk=tariff.pk).update(effective_from=dt.date(2020, 3, 15))
    assert tariff_is_used(Tariff.objects.get(pk=tariff.pk))  # the month overlaps


@pytest.mark.django_db
def test_a_used_tariff_is_read_only_and_cannot_be_deleted(admin_client, posted):
    tariff = _demo_tariff()
    before = _snapshot(tariff)
    url = reverse("admin:billing_tariff_change", args=[tariff.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="_save"' not in body and "2020-03" in body  # the message says which bills
    assert admin_client.post(url, _tariff_form(tariff, rate="0.8000")).status_code == 403
    delete = reverse("admin:billing_tariff_delete", args=[tariff.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert _snapshot(tariff) == before


@pytest.mark.django_db
def test_a_later_tariff_supersedes_a_used_one(admin_client, posted):
    old = _demo_tariff()
    history = old.history.count()
    response = admin_client.post(
        reverse("admin:billing_tariff_add"),
        _tariff_form(old, rate="0.7100", effective_from="2020-07-01", source="黑发改价格〔2020〕1号", is_demo=""),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    old.refresh_from_db()
    assert old.effective_to == dt.date(2020, 6, 30) and old.rate == Decimal("0.7399")
    new = _demo_tariff(effective_from=dt.date(2020, 7, 1))
    assert (new.rate, new.effective_to, new.is_demo) == (Decimal("0.7100"), None, False)
    assert old.history.count() == history + 1


@pytest.mark.django_db
def test_a_new_tariff_may_not_start_before_the_last_imported_bill(admin_client, posted):
    old = _demo_tariff()
    count = Tariff.objects.count()
    response = admin_client.post(
        reverse("admin:billing_tariff_add"), _tariff_form(old, rate="0.7100", effective_from="2020-03-10")
    )
    assert response.status_code == 200
    assert "2020-03" in " ".join(response.context["adminform"].form.errors["effective_from"])
    assert Tariff.objects.count() == count
    old.refresh_from_db()
    assert old.effective_to is None


@pytest.mark.django_db
def test_an_unused_tariff_can_be_edited_and_deleted(admin_client):
    tariff = tariff_add(
        category="general_commercial",
        component="energy_peak",
        voltage_min_kv=Decimal("1"),
        voltage_max_kv=Decimal("35"),
        rate=Decimal("1.0800"),
        unit="元/kWh",
        effective_from=dt.date(2021, 1, 1),
        effective_to=None,
        is_demo=False,
        source="",
    )
    assert _demo_tariff(component="energy_peak", effective_from=dt.date(2020, 1, 1)).effective_to == dt.date(
        2020, 12, 31
    )
    url = reverse("admin:billing_tariff_change", args=[tariff.pk])
    response = admin_client.post(url, _tariff_form(tariff, rate="1.0900"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Tariff.objects.get(pk=tariff.pk).rate == Decimal("1.0900")
    bad = admin_client.post(url, _tariff_form(tariff, effective_to="2020-12-01"))
    assert "effective_to" in bad.context["adminform"].form.errors
    assert (
        admin_client.post(reverse("admin:billing_tariff_delete", args=[tariff.pk]), {"post": "yes"}).status_code == 302
    )
    assert not Tariff.objects.filter(pk=tariff.pk).exists()
