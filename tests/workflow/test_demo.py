"""``manage.py load_demo`` (workflow/management/commands/load_demo.py): accounts, bills and staff
through the real imports and services, then the pre-screened lists and the chain worked by the demo
staff (workflow.demo) — alive on first login, and a second run changes nothing."""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.urls import reverse

from billing.demo import generate
from billing.engine import line_discount
from billing.industry import is_high_energy
from billing.models import Account, Bill, Category, LedgerEntry, Policy, PostingJob, StatsMonth
from billing.rules import PolicyRules
from billing.stats import stats_check
from organisation.models import District, User
from organisation.roles import Role
from workflow.chain import LEVEL_OF_STATE, ROLE_OF_LEVEL, Action, Level, State
from workflow.eligibility import COMPONENT_FIELDS
from workflow.models import Application, Decision, EligibilityList, Verification
from workflow.queues import QUEUE_LEVELS, STATE_OF_LEVEL, queue_applications, queue_lists

ACCOUNTS = "60"  # small: every district has a few accounts of each kind the plan needs
CHAIN_STATES = (State.DRAFT, State.PENDING_DISTRICT, State.PENDING_CITY, State.PENDING_HEAD, State.PENDING_LEADER)


def run_load_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def snapshot():
    return (
        list(Account.objects.order_by("pk").values_list("pk", "account_no", "name", "updated_at")),
        Bill.objects.count(),
        list(User.objects.order_by("pk").values_list("pk", "username", "password", "first_name")),
        list(EligibilityList.objects.order_by("pk").values_list("pk", "state", "forecast_reduction", "forecast_at")),
        list(Application.objects.order_by("pk").values_list("pk", "state", "state_changed_at")),
        Decision.objects.count(),
        list(LedgerEntry.objects.order_by("pk").values_list("pk", "amount")),
        PostingJob.objects.count(),
        list(StatsMonth.objects.order_by("pk").values_list("pk", "accounts")),
    )


@pytest.fixture
def demo(db):
    """The demo loaded once with 60 accounts; returns the command's output."""
    return run_load_demo("--accounts", ACCOUNTS, "--seed", "2020")


# --- accounts, bills, staff (as before the chain) ----------------------------------------------


@pytest.mark.django_db
def test_load_demo_imports_accounts_bills_and_staff_for_every_role_and_a_second_run_changes_nothing(demo):
    output = demo
    assert Account.objects.count() == 60
    assert set(Account.objects.values_list("district__name", flat=True)) == set(
        District.objects.values_list("name", flat=True)
    )
    assert len(District.objects.all()) == 9
    assert set(Account.objects.values_list("category", flat=True)) == set(Category.values)
    assert set(Account.objects.annotate(n=Count("bills")).values_list("n", flat=True)) == {12}
    assert Bill.objects.count() == 720
    for account in Account.objects.exclude(industry_code=""):
        assert account.high_energy == is_high_energy(account.industry_code)

    # The imports stored the generated money exactly.
    data = generate(accounts=60, seed=2020)
    totals = Bill.objects.aggregate(energy=Sum("energy_charge"), basic=Sum("basic_charge"), paid=Sum("paid"))
    assert totals["energy"] == sum(b.energy_charge for b in data.bills)
    assert totals["basic"] == sum(b.basic_charge for b in data.bills)
    assert totals["paid"] == sum(b.paid for b in data.bills)

    for role in Role.values:
        assert User.objects.filter(groups__name=role).exists(), role
    for district in District.objects.all():
        clerk = User.objects.get(username=f"clerk_{district.code}")
        reviewer = User.objects.get(username=f"reviewer_{district.code}")
        assert (clerk.roles, clerk.district) == ({"clerk"}, district)
        assert (reviewer.roles, reviewer.district) == ({"district_reviewer"}, district)
    for username in ("city_reviewer", "department_head", "leader", "manager", "admin"):
        user = User.objects.get(username=username)
        assert user.roles == {username} and user.district is None
        assert user.check_password("demo-pass-2020")
    assert User.objects.get(username="admin").is_staff
    assert User.objects.get(username="clerk_nangang").first_name == "南岗受理员"
    assert "clerk_nangang" in output and "demo-pass-2020" in output
    assert "Demo data loaded." in output
    # The dashboard's summary rows are right without a worker (protected accounts and arrears).
    assert stats_check() == []
    assert StatsMonth.objects.filter(metric="protected", accounts__gt=0).exists()

    before = snapshot()
    again = run_load_demo("--accounts", ACCOUNTS, "--seed", "2020")

    assert snapshot() == before  # lists, applications, decisions, ledger, jobs, summary rows too
    assert "Nothing to do" in again
    assert "customers: 0 created, 0 updated, 60 unchanged" in again
    assert "bills: 0 created, 0 updated, 720 unchanged" in again
    assert "approval chain: already worked by the demo staff, left as it is" in again


@pytest.mark.django_db
def test_load_demo_with_more_accounts_adds_only_the_new_ones():
    run_load_demo("--accounts", "20")
    first_accounts = set(Account.objects.values_list("account_no", flat=True))
    applications = Application.objects.count()

    output = run_load_demo("--accounts", "30")

    assert first_accounts < set(Account.objects.values_list("account_no", flat=True))
    assert Account.objects.count() == 30
    assert Bill.objects.count() == 360
    assert "customers: 10 created, 0 updated, 20 unchanged" in output
    assert "bills: 120 created, 0 updated, 240 unchanged" in output
    # The new accounts reach the draft lists (a pre-screen refresh); the chain is left as it was.
    assert Application.objects.count() == applications
    assert "refreshed" in output and "approval chain: already worked" in output
    for lst in EligibilityList.objects.filter(state=State.DRAFT):
        on_list = set(lst.entries.values_list("account__account_no", flat=True))
        new_eligible = {
            a.account_no
            for a in Account.objects.filter(district=lst.district, category__in=lst.policy.eligible_categories)
            if a.industry_code[:2] not in lst.policy.excluded_divisions
        }
        assert on_list == new_eligible


@pytest.mark.django_db
def test_load_demo_with_another_seed_over_loaded_data_is_rejected_whole():
    run_load_demo("--accounts", "20", "--seed", "1")
    before = snapshot()

    with pytest.raises(CommandError, match="the demo data was rejected and nothing was imported"):
        run_load_demo("--accounts", "20", "--seed", "2")

    assert snapshot() == before  # the customers file was not applied either


def test_the_command_lives_in_workflow_only():
    """Billing lies below workflow: the command that drives the chain is the workflow's, alone."""
    from django.core.management import get_commands

    assert get_commands()["load_demo"] == "workflow"
    assert not (settings.BASE_DIR / "billing" / "management" / "commands" / "load_demo.py").exists()


# --- the chain ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_load_demo_pre_screens_every_district_and_leaves_lists_at_every_level(demo):
    lists = EligibilityList.objects.filter(policy_id="discount-2020")
    assert set(lists.values_list("district__name", flat=True)) == set(District.objects.values_list("name", flat=True))
    states = Counter(lists.values_list("state", flat=True))
    assert states[State.DRAFT] >= 3
    for state in (*CHAIN_STATES, State.SETTLED):
        assert states[state] >= 1, state
    assert lists.get(district__code="nangang").state == State.DRAFT  # the smoke scenario's list
    # One list was returned to its clerk with the reason.
    assert Decision.objects.filter(eligibility_list__isnull=False, action=Action.RETURN).exclude(reason="").exists()
    assert "eligibility lists (discount-2020): 9 created" in demo


@pytest.mark.django_db
def test_the_settled_list_has_its_discount_posted_to_the_ledger(demo):
    settled = EligibilityList.objects.get(policy_id="discount-2020", state=State.SETTLED)
    policy = Policy.objects.get(code="discount-2020")
    entries = LedgerEntry.objects.filter(cause_type="eligibility_list", cause_id=settled.pk)
    posted = entries.aggregate(total=Sum("amount"))["total"]
    assert entries.exists() and posted > 0

    # Independently: the policy's rate on each component line of every window bill of the list's accounts.
    fields = [COMPONENT_FIELDS[c] for c in policy.components if c in COMPONENT_FIELDS]
    accounts = settled.entries.filter(included=True).values_list("account_id", flat=True)
    expected = sum(
        (
            line_discount(getattr(bill, name), policy.rate)
            for bill in Bill.objects.filter(account_id__in=accounts, period__in=PolicyRules.of(policy).months)
            for name in fields
        ),
        Decimal("0.00"),
    )
    assert posted == expected == settled.forecast_billed
    assert set(entries.values_list("kind", flat=True)) == {"discount"}
    assert PostingJob.objects.get(cause_type="eligibility_list", cause_id=settled.pk).state == "done"
    assert settled.decisions.filter(action=Action.SETTLE, actor__isnull=True).exists()


@pytest.mark.django_db
def test_load_demo_leaves_applications_at_every_level_settled_rejected_and_returned(demo):
    states = Counter(Application.objects.values_list("state", flat=True))
    for state in (*CHAIN_STATES, State.SETTLED, State.REJECTED):
        assert states[state] >= 1, state
    assert Decision.objects.filter(application__isnull=False, action=Action.RETURN).count() >= 2
    rejected = Decision.objects.filter(application__isnull=False, action=Action.REJECT)
    assert rejected.exists() and all(d.reason_code and d.reason for d in rejected)
    kinds = set(Application.objects.values_list("kind", flat=True))
    assert {"capacity_reduction", "suspension", "arrears_protection", "new_connection"} <= kinds

    # Settled applications had their money posted: the suspension's basic-charge credit among them.
    settled = Application.objects.filter(state=State.SETTLED)
    credits = LedgerEntry.objects.filter(
        cause_type="application", cause_id__in=settled.values("pk"), kind="basic_charge_credit"
    )
    assert credits.exists() and credits.aggregate(total=Sum("amount"))["total"] != 0
    assert settled.filter(fast_tracked=True, kind="new_connection").exists()

    # Capacity applications past district review were verified first; M7's relief window applies.
    for application in Application.objects.filter(kind__in=["suspension", "capacity_reduction"]):
        assert application.relief and application.seal_date.year == 2020
        if application.state not in (State.DRAFT, State.PENDING_DISTRICT, State.REJECTED):
            assert Verification.objects.get(application=application).complete


@pytest.mark.django_db
def test_every_decision_is_a_service_decision_by_the_levels_role_and_one_level_per_person(demo):
    decisions = Decision.objects.select_related("actor")
    assert decisions.exists()
    # The Decision trail is the one record of every transition: each item's decisions chain from
    # draft to the state it is in now, with no step missing.
    trails: dict[tuple, list] = {}
    for decision in decisions.order_by("at", "id"):
        trails.setdefault((decision.application_id, decision.eligibility_list_id), []).append(decision)
    states = {(a.pk, None): a.state for a in Application.objects.all()}
    states |= {(None, lst.pk): lst.state for lst in EligibilityList.objects.all()}
    for key, state in states.items():
        trail = trails.get(key, [])
        steps = [State.DRAFT] + [d.to_state for d in trail]
        assert [d.from_state for d in trail] == steps[:-1] and steps[-1] == state, (key, trail)
    per_person_item: dict[tuple, set] = {}
    for decision in decisions:
        if decision.level == Level.SYSTEM:
            assert decision.actor is None and decision.action in (Action.SETTLE, Action.FAST_TRACK)
            continue
        assert decision.actor.has_role(ROLE_OF_LEVEL[decision.level]), decision
        item = (
            ("application", decision.application_id)
            if decision.application_id
            else ("list", decision.eligibility_list_id)
        )
        per_person_item.setdefault((decision.actor_id, item), set()).add(decision.level)
    assert all(len(levels) == 1 for levels in per_person_item.values())  # separation of duties


@pytest.mark.django_db
def test_after_load_demo_every_demo_persons_first_screen_has_work(demo, client):
    for level in QUEUE_LEVELS:
        role = ROLE_OF_LEVEL[level]
        people = User.objects.filter(groups__name=role)
        assert people.exists()
        for user in people:
            waiting = queue_applications(level=level, user=user).count() + queue_lists(level=level, user=user).count()
            assert waiting >= 1, (user.username, level)
            client.force_login(user)
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
            response = client.get(reverse("workflow:queue", args=[level]))
            assert response.status_code == 200
            body = response.content.decode()
            assert "/work/applications/" in body or "/work/lists/" in body, user.username
            assert STATE_OF_LEVEL[level] in LEVEL_OF_STATE
    # The manager's dashboard has figures: lists and applications counted, money posted.
    client.force_login(User.objects.get(username="manager"))
    assert client.get("/").status_code == 200
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert StatsMonth.objects.exclude(accounts=0).exists()
    assert LedgerEntry.objects.exists() and stats_check() == []
