"""The full matrix of programme.md §3: every state × action × role, allowed or refused."""

import itertools

import pytest
from django.core.exceptions import PermissionDenied

from organisation.errors import Conflict
from organisation.roles import Role
from tests.factories import ApplicationFactory, EligibilityListFactory
from workflow.chain import Action, State
from workflow.models import Decision
from workflow.services import item_transition

# (from state, action) → (to state, role that acts) for every move the chain allows a person.
ALLOWED = {
    (State.DRAFT, Action.SUBMIT): (State.PENDING_DISTRICT, Role.CLERK),
    (State.PENDING_DISTRICT, Action.APPROVE): (State.PENDING_CITY, Role.DISTRICT_REVIEWER),
    (State.PENDING_CITY, Action.APPROVE): (State.PENDING_HEAD, Role.CITY_REVIEWER),
    (State.PENDING_HEAD, Action.APPROVE): (State.PENDING_LEADER, Role.DEPARTMENT_HEAD),
    (State.PENDING_LEADER, Action.APPROVE): (State.APPROVED, Role.LEADER),
    (State.PENDING_DISTRICT, Action.RETURN): (State.DRAFT, Role.DISTRICT_REVIEWER),
    (State.PENDING_CITY, Action.RETURN): (State.PENDING_DISTRICT, Role.CITY_REVIEWER),
    (State.PENDING_HEAD, Action.RETURN): (State.PENDING_CITY, Role.DEPARTMENT_HEAD),
    (State.PENDING_LEADER, Action.RETURN): (State.PENDING_HEAD, Role.LEADER),
    (State.PENDING_DISTRICT, Action.REJECT): (State.REJECTED, Role.DISTRICT_REVIEWER),
    (State.PENDING_CITY, Action.REJECT): (State.REJECTED, Role.CITY_REVIEWER),
    (State.PENDING_HEAD, Action.REJECT): (State.REJECTED, Role.DEPARTMENT_HEAD),
    (State.PENDING_LEADER, Action.REJECT): (State.REJECTED, Role.LEADER),
}
# Withdraw is the submitter's: allowed from these states, by the submitter only.
WITHDRAWABLE = {State.DRAFT, State.PENDING_DISTRICT, State.PENDING_CITY, State.PENDING_HEAD, State.PENDING_LEADER}
PERSON_ACTIONS = [Action.SUBMIT, Action.APPROVE, Action.RETURN, Action.REJECT, Action.WITHDRAW]


def _make_item(kind, state, submitter):
    if kind == "application":
        return ApplicationFactory(state=state, submitted_by=submitter, created_by=submitter)
    return EligibilityListFactory(state=state, submitted_by=submitter, created_by=submitter)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["application", "eligibility_list"])
@pytest.mark.parametrize(
    ("state", "action", "role"),
    list(itertools.product(list(State), PERSON_ACTIONS, list(Role))),
)
def test_matrix(kind, state, action, role, make_staff):
    submitter = make_staff(Role.CLERK, district="南岗")
    item = _make_item(kind, state, submitter)
    actor = make_staff(role, district="南岗" if role in (Role.CLERK, Role.DISTRICT_REVIEWER) else None)
    expected = ALLOWED.get((state, action))
    can_move = expected is not None or (action == Action.WITHDRAW and state in WITHDRAWABLE)
    kwargs = {"reason": "理由", "reason_code": "not_eligible"}

    if not can_move:
        with pytest.raises(Conflict):
            item_transition(item=item, action=action, by=actor, **kwargs)
    elif action == Action.WITHDRAW or expected[1] != role:
        with pytest.raises(PermissionDenied):
            item_transition(item=item, action=action, by=actor, **kwargs)
    else:
        result = item_transition(item=item, action=action, by=actor, **kwargs)
        assert result.state == expected[0]
        decision = Decision.objects.get()
        assert (decision.from_state, decision.to_state, decision.actor) == (state, expected[0], actor)
        return
    item.refresh_from_db()
    assert item.state == state
    assert not Decision.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("state", sorted(WITHDRAWABLE))
def test_submitter_withdraws_before_approval(state, make_staff):
    submitter = make_staff(Role.CLERK, district="南岗")
    item = ApplicationFactory(state=state, submitted_by=submitter, created_by=submitter)
    assert item_transition(item=item, action=Action.WITHDRAW, by=submitter).state == State.WITHDRAWN


@pytest.mark.django_db
@pytest.mark.parametrize("state", [State.APPROVED, State.SETTLED, State.REJECTED, State.WITHDRAWN])
def test_submitter_cannot_withdraw_after_the_chain(state, make_staff):
    submitter = make_staff(Role.CLERK, district="南岗")
    item = ApplicationFactory(state=state, submitted_by=submitter, created_by=submitter)
    with pytest.raises(Conflict):
        item_transition(item=item, action=Action.WITHDRAW, by=submitter)
