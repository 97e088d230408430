"""Every message of the chain in the person's language, naming actions, states, levels and reasons by
their translated labels — never by their codes (zh-hans by default, English on request).

The API keeps its machine-readable codes in fields (``action``, ``state``); only message text is
covered here.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from organisation.errors import Conflict
from organisation.roles import Role
from tests.factories import AccountFactory, ApplicationFactory
from workflow import chain
from workflow.chain import Action, Level, ReasonCode, State
from workflow.models import Decision
from workflow.services import ACTION_METHOD, item_transition
from workflow.views import describe_validation_error

# Every code a message could leak: actions (and the method behind return), states, levels, reasons, roles.
CODES = sorted(
    {*Action.values, "send_back", *State.values, *Level.values, *ReasonCode.values, *Role.values},
    key=len,
    reverse=True,
)
CODE = re.compile(r"(?<![A-Za-z_])(?:" + "|".join(map(re.escape, CODES)) + r")(?![A-Za-z_])")
ASCII_WORD = re.compile(r"[A-Za-z_]{3,}")


def _message(error: Exception) -> str:
    """What a person reads of a service's refusal, as the item pages put it."""
    if isinstance(error, ValidationError):
        return describe_validation_error(error)
    if isinstance(error, Conflict):
        return error.message
    return str(error)


@pytest.fixture
def cast(make_staff):
    """One person per role (district roles in 南岗, and a clerk and reviewer of 道里), someone with no
    role, and one person with every role who has already decided at report level 1."""
    people = {
        role: make_staff(role, district="南岗" if role in (Role.CLERK, Role.DISTRICT_REVIEWER) else None)
        for role in chain.ROLE_OF_LEVEL.values()
    }
    people["clerk_daoli"] = make_staff(Role.CLERK, district="道里")
    people["reviewer_daoli"] = make_staff(Role.DISTRICT_REVIEWER, district="道里")
    people["nobody"] = make_staff(district="南岗")
    people["everyone"] = make_staff(*chain.ROLE_OF_LEVEL.values(), district="南岗")
    people["system"] = None
    return people


def _item(state: str, cast):
    """A capacity application (it needs verification at district level) in ``state``, submitted by
    the all-roles person, who thereby decided at report level 1."""
    item = ApplicationFactory(
        state=state,
        kind="suspension",
        account=AccountFactory(district_name="南岗"),
        created_by=cast["everyone"],
        submitted_by=cast["everyone"],
    )
    if state != State.DRAFT:
        Decision.objects.create(
            application=item,
            level=Level.REPORT_1,
            action=Action.SUBMIT,
            from_state=State.DRAFT,
            to_state=State.PENDING_DISTRICT,
            actor=cast["everyone"],
        )
    return item


@pytest.mark.django_db
def test_every_refusal_and_validation_message_of_the_chain_reads_in_chinese_without_a_code(cast):
    messages: dict[str, tuple] = {}
    with translation.override("zh-hans"):
        for state in State.values:
            item = _item(state, cast)
            for action in Action.values:
                for who, person in cast.items():
                    why = chain.refusal(item, person, action)
                    if why:
                        messages.setdefault(str(why), (state, action, who, "refusal"))
                    if action not in ACTION_METHOD:
                        continue
                    # The service, with no reason and no reason code: every refusal it can give.
                    for reason, code in (("", ""), ("理由", ""), ("理由", "bogus")):
                        try:
                            with transaction.atomic():
                                item_transition(item=item, action=action, by=person, reason=reason, reason_code=code)
                                transaction.set_rollback(True)
                        except (Conflict, PermissionDenied, ValidationError) as error:
                            messages.setdefault(_message(error), (state, action, who, reason, code))
    # Every kind of message was reached: state, role, district, separation of duties, evidence, reasons.
    texts = " ".join(messages)
    for expected in (
        "不能执行",
        "需要角色",
        "本区县",
        "不相容岗位分离",
        "须填写原因",
        "请从以下原因中选择",
        "核对",
        "提交人",
    ):
        assert expected in texts, (expected, sorted(messages))
    for text, where in messages.items():
        assert not CODE.search(text), (text, where)
        assert not ASCII_WORD.search(text), (text, where)


def _pending_city(cast):
    item = ApplicationFactory(account=AccountFactory(district_name="南岗"))
    item = item_transition(item=item, action=Action.SUBMIT, by=cast[Role.CLERK])
    return item_transition(item=item, action=Action.APPROVE, by=cast[Role.DISTRICT_REVIEWER])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "name"),
    [("zh-hans", "原因：退回须填写原因。", "退回"), ("en", "Reason: Return needs a reason.", "Return")],
)
def test_return_without_a_reason_names_the_action_in_the_persons_language(client, cast, language, expected, name):
    item = _pending_city(cast)
    client.force_login(cast[Role.CITY_REVIEWER])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    url = reverse("workflow:application-return", args=[item.pk])
    response = client.post(url, {"expected_state": State.PENDING_CITY, "reason": " "}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [expected]
    assert "return" not in shown[0]
    # The page itself says it too (the message is rendered in the item page).
    assert expected in response.content.decode()

    # The service in the same language, as the API gives it.
    api = APIClient()
    api.force_login(cast[Role.CITY_REVIEWER])
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = api.post(f"/api/v1/applications/{item.pk}/transitions/return/", {"reason": ""}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "reason": [f"{name}须填写原因。" if language == "zh-hans" else f"{name} needs a reason."]
    }


@pytest.mark.django_db
def test_api_conflicts_and_refusals_name_labels_and_keep_codes_in_fields(cast):
    item = _pending_city(cast)
    api = APIClient()
    api.force_login(cast[Role.CITY_REVIEWER])
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    # Seen in another state: 409, message in Chinese, the state code in its field.
    response = api.post(
        f"/api/v1/applications/{item.pk}/transitions/approve/", {"expected_state": "pending_head"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["state"] == "pending_city"
    assert "待市公司审批" in body["detail"] and not CODE.search(body["detail"])
    # Reject without a code: the reasons by their names.
    response = api.post(f"/api/v1/applications/{item.pk}/transitions/reject/", {"reason": "重复"}, format="json")
    assert response.status_code == 400
    message = response.json()["reason_code"][0]
    assert "不符合政策条件" in message and "其他（见说明）" in message and not CODE.search(message)
    # The history keeps codes in its fields.
    history = api.get(f"/api/v1/applications/{item.pk}/").json()["history"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("submit", "draft", "pending_district"),
        ("approve", "pending_district", "pending_city"),
    ]


@pytest.mark.django_db
def test_a_system_decisions_policy_is_shown_in_the_readers_language(cast, client):
    account = AccountFactory(district_name="南岗", priority_role="hospital")
    item = ApplicationFactory(account=account, kind="new_connection")
    item = item_transition(item=item, action=Action.SUBMIT, by=cast[Role.CLERK])
    system = Decision.objects.get(application=item, level=Level.SYSTEM)
    assert system.policy_reason.startswith("三零服务: new connection")  # stored as the message id
    with translation.override("zh-hans"):
        assert system.policy_reason_display.startswith("三零服务：重点保障单位")
    with translation.override("en"):
        assert system.policy_reason_display == system.policy_reason
    client.force_login(cast[Role.CLERK])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("workflow:application-detail", args=[item.pk])).content.decode()
    assert "三零服务：重点保障单位" in page
