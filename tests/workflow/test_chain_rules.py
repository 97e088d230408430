"""Separation of duties, district scoping, evidence, reasons and the fast track."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from organisation.errors import Conflict
from organisation.roles import Role
from tests.factories import AccountFactory, ApplicationFactory
from workflow.chain import Action, Level, State
from workflow.models import Decision
from workflow.services import application_create, item_transition, verification_record

CHAIN = [
    (Role.CLERK, Action.SUBMIT),
    (Role.DISTRICT_REVIEWER, Action.APPROVE),
    (Role.CITY_REVIEWER, Action.APPROVE),
    (Role.DEPARTMENT_HEAD, Action.APPROVE),
    (Role.LEADER, Action.APPROVE),
]


def _district(role):
    return "南岗" if role in (Role.CLERK, Role.DISTRICT_REVIEWER) else None


@pytest.mark.django_db
@pytest.mark.parametrize("later", range(1, 5))
def test_submitter_with_every_role_is_refused_at_any_later_level(later, make_staff):
    """One person holding all roles submits; at every later level they are refused (admins too)."""
    everyone = make_staff(*[r for r, _ in CHAIN], Role.ADMIN, district="南岗", is_superuser=True)
    item = ApplicationFactory(account=AccountFactory(district_name="南岗"))
    item = item_transition(item=item, action=Action.SUBMIT, by=everyone)
    for role, action in CHAIN[1:later]:
        item = item_transition(item=item, action=action, by=make_staff(role, district=_district(role)))
    with pytest.raises(PermissionDenied, match="separation of duties"):
        item_transition(item=item, action=CHAIN[later][1], by=everyone)


@pytest.mark.django_db
def test_earlier_approver_is_refused_later_but_may_act_again_at_own_level_after_return(make_staff):
    clerk = make_staff(Role.CLERK, district="南岗")
    both = make_staff(Role.DISTRICT_REVIEWER, Role.CITY_REVIEWER, district="南岗")
    item = item_transition(item=ApplicationFactory(), action=Action.SUBMIT, by=clerk)
    item = item_transition(item=item, action=Action.APPROVE, by=both)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        item_transition(item=item, action=Action.APPROVE, by=both)
    other_city = make_staff(Role.CITY_REVIEWER)
    item = item_transition(item=item, action=Action.RETURN, by=other_city, reason="补充材料")
    assert item.state == State.PENDING_DISTRICT
    # Acting again at the same level after a return is fine.
    item = item_transition(item=item, action=Action.APPROVE, by=both)
    assert item.state == State.PENDING_CITY
    # The city reviewer who returned acts again at their own level.
    assert item_transition(item=item, action=Action.APPROVE, by=other_city).state == State.PENDING_HEAD


@pytest.mark.django_db
def test_other_district_staff_are_refused(make_staff):
    item = ApplicationFactory(account=AccountFactory(district_name="道里"))
    with pytest.raises(PermissionDenied, match="own district"):
        item_transition(item=item, action=Action.SUBMIT, by=make_staff(Role.CLERK, district="南岗"))
    item = item_transition(item=item, action=Action.SUBMIT, by=make_staff(Role.CLERK, district="道里"))
    with pytest.raises(PermissionDenied, match="own district"):
        item_transition(item=item, action=Action.APPROVE, by=make_staff(Role.DISTRICT_REVIEWER, district="南岗"))


@pytest.mark.django_db
@pytest.mark.parametrize("action", [Action.RETURN, Action.REJECT])
def test_return_and_reject_need_a_reason(action, make_staff):
    item = ApplicationFactory(state=State.PENDING_CITY)
    city = make_staff(Role.CITY_REVIEWER)
    with pytest.raises(ValidationError) as err:
        item_transition(item=item, action=action, by=city, reason="  ", reason_code="other")
    assert "reason" in err.value.message_dict
    item.refresh_from_db()
    assert item.state == State.PENDING_CITY


@pytest.mark.django_db
def test_reject_needs_a_known_reason_code(make_staff):
    item = ApplicationFactory(state=State.PENDING_CITY)
    with pytest.raises(ValidationError) as err:
        item_transition(item=item, action=Action.REJECT, by=make_staff(Role.CITY_REVIEWER), reason="x")
    assert "reason_code" in err.value.message_dict
    done = item_transition(
        item=item, action=Action.REJECT, by=make_staff(Role.CITY_REVIEWER), reason="不符合", reason_code="not_eligible"
    )
    assert done.state == State.REJECTED
    assert Decision.objects.get().reason_code == "not_eligible"


@pytest.mark.django_db
def test_stale_view_is_a_conflict_naming_the_current_state(make_staff):
    item = ApplicationFactory(state=State.PENDING_CITY)
    stale = ApplicationFactory._meta.model.objects.get(pk=item.pk)
    item_transition(item=item, action=Action.APPROVE, by=make_staff(Role.CITY_REVIEWER))
    with pytest.raises(Conflict) as err:
        item_transition(item=stale, action=Action.APPROVE, by=make_staff(Role.CITY_REVIEWER))
    assert err.value.current_state == State.PENDING_HEAD
    with pytest.raises(Conflict):
        item_transition(
            item=stale, action=Action.APPROVE, by=make_staff(Role.DEPARTMENT_HEAD), expected_state=State.PENDING_CITY
        )


def _capacity_application(make_staff, **overrides):
    clerk = make_staff(Role.CLERK, district="南岗")
    account = AccountFactory(
        district_name="南岗", category="large_industrial", basic_charge_method="capacity", capacity_kva=Decimal(1000)
    )
    data = dict(
        kind="suspension",
        account_no=account.account_no,
        channel="counter",
        received_on=dt.date(2020, 3, 1),
        capacity_kva=Decimal(1000),
        seal_date=dt.date(2020, 3, 5),
        restore_date=dt.date(2020, 3, 20),
    )
    data.update(overrides)
    return clerk, application_create(by=clerk, **data)


@pytest.mark.django_db
def test_capacity_application_cannot_be_approved_by_district_without_verification(make_staff):
    clerk, app = _capacity_application(make_staff)
    app = item_transition(item=app, action=Action.SUBMIT, by=clerk)
    reviewer = make_staff(Role.DISTRICT_REVIEWER, district="南岗")
    with pytest.raises(ValidationError) as err:
        item_transition(item=app, action=Action.APPROVE, by=reviewer)
    assert "verification" in err.value.message_dict
    verification_record(
        application=app,
        by=reviewer,
        meter_check="not_confirmed",
        survey_date=dt.date(2020, 3, 6),
        surveyor="王工",
        findings="现场未停运",
        seal_number="FS-001",
    )
    with pytest.raises(ValidationError):
        item_transition(item=app, action=Action.APPROVE, by=reviewer)
    verification_record(
        application=app,
        by=reviewer,
        meter_check="confirmed",
        survey_date=dt.date(2020, 3, 6),
        surveyor="王工",
        findings="变压器已加封",
        seal_number="FS-001",
    )
    app.refresh_from_db()
    assert item_transition(item=app, action=Action.APPROVE, by=reviewer).state == State.PENDING_CITY


@pytest.mark.django_db
def test_verification_only_by_district_reviewer_of_the_district(make_staff):
    clerk, app = _capacity_application(make_staff)
    with pytest.raises(Conflict):  # still a draft
        verification_record(
            application=app,
            by=make_staff(Role.DISTRICT_REVIEWER, district="南岗"),
            meter_check="confirmed",
            survey_date=dt.date(2020, 3, 6),
            surveyor="王工",
            findings="ok",
            seal_number="1",
        )
    app = item_transition(item=app, action=Action.SUBMIT, by=clerk)
    with pytest.raises(PermissionDenied):
        verification_record(
            application=app,
            by=make_staff(Role.DISTRICT_REVIEWER, district="道里"),
            meter_check="confirmed",
            survey_date=dt.date(2020, 3, 6),
            surveyor="王工",
            findings="ok",
            seal_number="1",
        )


@pytest.mark.django_db
def test_new_connection_of_priority_unit_is_fast_tracked_with_a_system_decision(make_staff):
    clerk = make_staff(Role.CLERK, district="南岗")
    hospital = AccountFactory(district_name="南岗", priority_role="hospital")
    app = application_create(by=clerk, kind="new_connection", account_no=hospital.account_no, channel="counter")
    app = item_transition(item=app, action=Action.SUBMIT, by=clerk)
    assert app.state == State.APPROVED
    assert app.fast_tracked
    system = Decision.objects.get(level=Level.SYSTEM)
    assert system.actor is None
    assert system.action == Action.FAST_TRACK
    assert "三零" in system.policy_reason


@pytest.mark.django_db
def test_new_connection_of_ordinary_customer_takes_the_chain(make_staff):
    clerk = make_staff(Role.CLERK, district="南岗")
    shop = AccountFactory(district_name="南岗", priority_role="")
    app = application_create(by=clerk, kind="new_connection", account_no=shop.account_no, channel="counter")
    assert item_transition(item=app, action=Action.SUBMIT, by=clerk).state == State.PENDING_DISTRICT


@pytest.mark.django_db
def test_m7_ten_day_suspension_in_2019_refused_naming_the_15_day_rule(make_staff):
    with pytest.raises(ValidationError) as err:
        _capacity_application(
            make_staff,
            received_on=dt.date(2019, 2, 20),
            seal_date=dt.date(2019, 3, 5),
            restore_date=dt.date(2019, 3, 15),
        )
    assert "15-day rule" in " ".join(err.value.message_dict["restore_date"])


@pytest.mark.django_db
def test_m7_ten_day_suspension_in_march_2020_is_accepted_under_relief(make_staff):
    _, app = _capacity_application(
        make_staff, received_on=dt.date(2020, 3, 5), seal_date=dt.date(2020, 3, 5), restore_date=dt.date(2020, 3, 15)
    )
    assert app.relief
    assert app.state == State.DRAFT


@pytest.mark.django_db
def test_m7_seal_date_before_february_2020_is_refused(make_staff):
    with pytest.raises(ValidationError) as err:
        _capacity_application(make_staff, received_on=dt.date(2020, 3, 1), seal_date=dt.date(2020, 1, 20))
    assert "2020-02-01" in " ".join(err.value.message_dict["seal_date"])


@pytest.mark.django_db
def test_m7_backdated_seal_date_within_window_is_accepted(make_staff):
    _, app = _capacity_application(
        make_staff, received_on=dt.date(2020, 3, 10), seal_date=dt.date(2020, 2, 1), restore_date=dt.date(2020, 3, 1)
    )
    assert app.relief


@pytest.mark.django_db
def test_m7_notice_rule_outside_window(make_staff):
    with pytest.raises(ValidationError) as err:
        _capacity_application(
            make_staff, received_on=dt.date(2020, 8, 3), seal_date=dt.date(2020, 8, 5), restore_date=dt.date(2020, 9, 5)
        )
    assert "Notice rule" in " ".join(err.value.message_dict["seal_date"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_one_wins_the_other_conflicts(make_staff):
    item = ApplicationFactory(state=State.PENDING_CITY)
    reviewers = [make_staff(Role.CITY_REVIEWER), make_staff(Role.CITY_REVIEWER)]
    stale = [type(item).objects.get(pk=item.pk) for _ in reviewers]
    barrier = threading.Barrier(2)
    outcomes = []

    def approve(i):
        try:
            barrier.wait()
            item_transition(item=stale[i], action=Action.APPROVE, by=reviewers[i])
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(("conflict", exc.current_state))
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == sorted(["ok", ("conflict", State.PENDING_HEAD)], key=str)
    assert Decision.objects.filter(application=item).count() == 1
    item.refresh_from_db()
    assert item.state == State.PENDING_HEAD
