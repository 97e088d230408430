"""The chain of programme.md §3: states, levels, who acts at each level, and why someone may not.

Pure rules over an item and a user; the models use them as django-fsm permission callables and
the service uses :func:`refusal` to say *why* an action is refused (the 403 message).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from organisation.roles import Role


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_DISTRICT = "pending_district", _("Pending district review")
    PENDING_CITY = "pending_city", _("Pending city review")
    PENDING_HEAD = "pending_head", _("Pending department head")
    PENDING_LEADER = "pending_leader", _("Pending leader")
    APPROVED = "approved", _("Approved")
    SETTLED = "settled", _("Settled")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Level(models.TextChoices):
    REPORT_1 = "report_1", _("Report level 1 (clerk)")
    REPORT_2 = "report_2", _("Report level 2 (district reviewer)")
    APPROVAL_1 = "approval_1", _("Approval level 1 (city reviewer)")
    APPROVAL_2 = "approval_2", _("Approval level 2 (department head)")
    APPROVAL_3 = "approval_3", _("Approval level 3 (leader)")
    SYSTEM = "system", _("System")


class Action(models.TextChoices):
    SUBMIT = "submit", _("Submit")
    APPROVE = "approve", _("Approve")
    RETURN = "return", _("Return")
    REJECT = "reject", _("Reject")
    WITHDRAW = "withdraw", _("Withdraw")
    FAST_TRACK = "fast_track", _("Fast track")
    SETTLE = "settle", _("Settle")


class ReasonCode(models.TextChoices):
    NOT_ELIGIBLE = "not_eligible", _("Not eligible under the policy")
    INCOMPLETE = "incomplete", _("Documents incomplete")
    VERIFICATION_FAILED = "verification_failed", _("Verification does not confirm the application")
    WRONG_DATA = "wrong_data", _("Data entered wrongly")
    DUPLICATE = "duplicate", _("Duplicate of another item")
    OUTSIDE_WINDOW = "outside_window", _("Outside the policy window")
    OTHER = "other", _("Other (see text)")


# The level at which an item in a state is acted on, and the role that acts there.
LEVEL_OF_STATE: dict[str, str] = {
    State.DRAFT: Level.REPORT_1,
    State.PENDING_DISTRICT: Level.REPORT_2,
    State.PENDING_CITY: Level.APPROVAL_1,
    State.PENDING_HEAD: Level.APPROVAL_2,
    State.PENDING_LEADER: Level.APPROVAL_3,
}
ROLE_OF_LEVEL: dict[str, str] = {
    Level.REPORT_1: Role.CLERK,
    Level.REPORT_2: Role.DISTRICT_REVIEWER,
    Level.APPROVAL_1: Role.CITY_REVIEWER,
    Level.APPROVAL_2: Role.DEPARTMENT_HEAD,
    Level.APPROVAL_3: Role.LEADER,
}
PENDING_STATES = (State.PENDING_DISTRICT, State.PENDING_CITY, State.PENDING_HEAD, State.PENDING_LEADER)
OPEN_STATES = (State.DRAFT, *PENDING_STATES)
FINAL_STATES = (State.SETTLED, State.REJECTED, State.WITHDRAWN)
# Actions a person may take at a level (submit only from draft; the others from pending states).
LEVEL_ACTIONS = (Action.SUBMIT, Action.APPROVE, Action.RETURN, Action.REJECT)
# Actions that need a reason (return: text; reject: code and text).
REASON_REQUIRED = (Action.RETURN, Action.REJECT)


def levels_acted(item, user) -> set[str]:
    """The levels at which ``user`` has decided on ``item`` (system decisions excluded)."""
    if user is None or not user.pk:
        return set()
    return {d.level for d in item.decision_history() if d.actor_id == user.pk and d.level != Level.SYSTEM}


def refusal(item, user, action: str) -> str | None:
    """Why ``user`` may not take ``action`` on ``item`` now, or None if they may.

    Checks role, district and separation of duties. The state itself (can the action be taken
    from here at all?) is the state machine's business and is checked before this.
    """
    if user is None:
        return gettext("a person must act")
    if action == Action.WITHDRAW:
        if item.submitted_by_id != user.pk and not (item.state == State.DRAFT and item.created_by_id == user.pk):
            return gettext("only the submitter may withdraw an item")
        return None
    if action not in LEVEL_ACTIONS:
        return gettext("only the system takes this action")
    level = LEVEL_OF_STATE.get(item.state)
    if level is None:
        return gettext("nobody acts on an item in the state “%(state)s”") % {"state": State(item.state).label}
    role = ROLE_OF_LEVEL[level]
    if not user.has_role(role):
        return gettext("this level needs the role %(role)s") % {"role": Role(role).label}
    if level in (Level.REPORT_1, Level.REPORT_2) and user.district_id != item.district_id:
        return gettext("clerks and district reviewers act only in their own district")
    other = levels_acted(item, user) - {level}
    if other:
        return gettext(
            "separation of duties: you already acted on this item at %(levels)s and may not act at %(level)s"
        ) % {
            "levels": ", ".join(str(Level(lv).label) for lv in sorted(other)),
            "level": Level(level).label,
        }
    return None


def may_act(item, user) -> bool:
    """django-fsm permission for submit/approve/return/reject: the level's person may act."""
    return refusal(item, user, Action.APPROVE if item.state != State.DRAFT else Action.SUBMIT) is None


def may_withdraw(item, user) -> bool:
    return refusal(item, user, Action.WITHDRAW) is None


def is_system(item, user) -> bool:
    """django-fsm permission for transitions only the system takes (settle, fast track)."""
    return user is None
