"""The demo's approval chain: pre-screened district lists and applications at every level.

``manage.py load_demo`` (``workflow/management/commands/load_demo.py``) first loads billing's demo
accounts and bills (``billing.demo`` through the CSV imports) and the demo staff, then calls
:func:`chain_seed`, which

- pre-screens every district's eligibility list for ``discount-2020`` (``eligibility_prescreen``,
  the service of ``manage.py prescreen``);
- moves some lists along the chain — one settled with its discount posted, one waiting at each of
  the four pending levels, one returned to its clerk — and leaves the others in ``draft``
  (:data:`LIST_PLAN`: the clerks and the CI smoke test need drafts);
- enters applications of every kind through ``application_create`` (dates inside the 2020 relief
  window, so M7's waivers apply), records verification where a capacity change needs it, and
  moves them with ``item_transition`` as the demo person of each level: every district's clerk
  and district reviewer has work, and there are applications waiting at each city level,
  approved-and-settled ones with their credits posted, rejected, returned and withdrawn ones.

Nothing writes a state directly: every move is the real service with the person of the level
(separation of duties holds: each person acts at one level of an item). The money of approved
items is posted in this process (``billing.posting.job_run_inline``) and the items settled
(``item_settle``), so the demo needs no worker. Deterministic: accounts are chosen in account
number order by what the scenario needs. Idempotent: once the demo staff have worked the chain
(a decision or an application of theirs exists) the chain is left as it is; only the draft lists'
pre-screen is refreshed (which changes nothing when the accounts did not change).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.db.models import Count

from billing.models import Account, BasicChargeMethod, Bill, Category, LedgerEntry, PostingJob
from billing.posting import job_run_inline
from billing.services import DISCOUNT_POLICY
from organisation.models import District, User
from organisation.roles import Role

from .chain import Action, State
from .effects import cause_of
from .eligibility import PrescreenResult, eligibility_prescreen
from .models import Application, ApplicationKind, ChainItem, Channel, Decision, EligibilityList, MeterCheck
from .services import ProxyData, application_create, item_settle, item_transition, verification_record

DEMO_PASSWORD = "demo-pass-2020"  # noqa: S105 - a published demo password, printed on purpose
# Chinese display names for the demo staff (first_name), by role.
ROLE_TITLES = {
    Role.CLERK: "受理员",
    Role.DISTRICT_REVIEWER: "区县审核",
    Role.CITY_REVIEWER: "营销部专责",
    Role.DEPARTMENT_HEAD: "营销部主任",
    Role.LEADER: "分管领导",
    Role.MANAGER: "管理人员",
    Role.ADMIN: "系统管理员",
}


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    district: District | None

    @property
    def title(self) -> str:
        title = ROLE_TITLES[Role(self.role)]
        return f"{self.district.name}{title}" if self.district else title


def demo_staff(districts: list[District]) -> list[DemoStaff]:
    """A clerk and a district reviewer per district, and one person for each city-level role."""
    staff = []
    for district in districts:
        staff.append(DemoStaff(f"clerk_{district.code}", Role.CLERK.value, district))
        staff.append(DemoStaff(f"reviewer_{district.code}", Role.DISTRICT_REVIEWER.value, district))
    for role in (Role.CITY_REVIEWER, Role.DEPARTMENT_HEAD, Role.LEADER, Role.MANAGER, Role.ADMIN):
        staff.append(DemoStaff(role.value, role.value, None))
    return staff


# --- the plan -----------------------------------------------------------------------------------

# The steps that take an item from draft to each state, as (action, level's person). "clerk" and
# "reviewer" are the item's district's; the others the city's. A return or reject step carries
# its reason (and code).
SUBMIT = (Action.SUBMIT, "clerk")
DISTRICT_OK = (Action.APPROVE, "reviewer")
CITY_OK = (Action.APPROVE, "city_reviewer")
HEAD_OK = (Action.APPROVE, "department_head")
LEADER_OK = (Action.APPROVE, "leader")
TO_PENDING_CITY = (SUBMIT, DISTRICT_OK)
TO_PENDING_HEAD = (*TO_PENDING_CITY, CITY_OK)
TO_PENDING_LEADER = (*TO_PENDING_HEAD, HEAD_OK)
TO_APPROVED = (*TO_PENDING_LEADER, LEADER_OK)

# Eligibility lists by district code; the other districts' lists stay draft (南岗's among them: the
# production smoke scenario and the clerks' first screen work on a draft list).
LIST_PLAN: dict[str, tuple] = {
    "daoli": TO_APPROVED,  # settled, its 95% discount posted
    "daowai": TO_PENDING_LEADER,
    "xiangfang": TO_PENDING_HEAD,
    "pingfang": TO_PENDING_CITY,
    "songbei": (SUBMIT,),  # waiting for its district reviewer
    "hulan": (SUBMIT, (Action.RETURN, "reviewer", "请核对新增的两户后重新上报。")),  # returned to its clerk
}
# 南岗, 阿城, 双城 (and 呼兰, returned) are the clerks' drafts.


def _two_part(account: Account) -> bool:
    return account.basic_charge_method in (BasicChargeMethod.CAPACITY, BasicChargeMethod.DEMAND)


def _business(account: Account) -> bool:
    return account.category != Category.RESIDENTIAL


NEEDS: dict[str, Callable[[Account], bool]] = {
    "two_part": lambda a: _two_part(a) and a.capacity_kva > 0,
    "has_capacity": lambda a: _business(a) and a.capacity_kva > 0 and not a.priority_role,
    "capacity_basis": lambda a: a.basic_charge_method == BasicChargeMethod.CAPACITY and a.capacity_kva > 0,
    "demand_basis": lambda a: a.basic_charge_method == BasicChargeMethod.DEMAND,
    "business": lambda a: _business(a) and not a.priority_role,
    "priority": lambda a: bool(a.priority_role),
}
KIND_NEEDS = {
    ApplicationKind.CAPACITY_REDUCTION: "has_capacity",
    ApplicationKind.SUSPENSION: "has_capacity",
    ApplicationKind.DEMAND_RELIEF: "demand_basis",
    ApplicationKind.METHOD_CHANGE: "two_part",
    ApplicationKind.CAPACITY_INCREASE: "business",
    ApplicationKind.NEW_CONNECTION: "business",
    ApplicationKind.ARREARS_PROTECTION: "business",
}
REASONS = {
    ApplicationKind.CAPACITY_REDUCTION: "受疫情影响订单减少，申请减少一台变压器容量。",
    ApplicationKind.SUSPENSION: "疫情期间停工停产，申请暂停变压器。",
    ApplicationKind.DEMAND_RELIEF: "复工复产扩大产能，申请超合同需量部分不加倍收取。",
    ApplicationKind.METHOD_CHANGE: "申请基本电费计费方式由容量改为需量。",
    ApplicationKind.CAPACITY_INCREASE: "扩大生产申请增容。",
    ApplicationKind.NEW_CONNECTION: "新建门店申请新装用电。",
    ApplicationKind.ARREARS_PROTECTION: "受疫情影响暂时无力缴费，申请欠费不停供。",
}


@dataclass(frozen=True)
class AppPlan:
    """One demo application: its kind, where it goes, and how it is entered."""

    kind: str
    steps: tuple = ()
    district: int = 0  # index into the districts (the account is taken there, else in the next one)
    verify: str = ""  # "confirmed" / "not_confirmed": the district reviewer records verification first
    needs: str = ""  # overrides KIND_NEEDS
    channel: str = Channel.COUNTER
    proxy: bool = False
    restore_days: int | None = 45  # seal kinds: restore date this many days after the seal date
    own_district: bool = False  # the account must be of ``district`` (else an arrears protection there)


K = ApplicationKind
_DRAFT_KINDS = (
    K.CAPACITY_REDUCTION,
    K.ARREARS_PROTECTION,
    K.NEW_CONNECTION,
    K.SUSPENSION,
    K.CAPACITY_INCREASE,
    K.ARREARS_PROTECTION,
    K.METHOD_CHANGE,
    K.DEMAND_RELIEF,
    K.NEW_CONNECTION,
)
# (kind, verification) of each district's application waiting for its district reviewer.
_DISTRICT_KINDS = (
    (K.SUSPENSION, "confirmed"),
    (K.ARREARS_PROTECTION, ""),
    (K.CAPACITY_REDUCTION, ""),  # the reviewer records the verification first
    (K.NEW_CONNECTION, ""),
    (K.SUSPENSION, ""),
    (K.ARREARS_PROTECTION, ""),
    (K.CAPACITY_INCREASE, ""),
    (K.CAPACITY_REDUCTION, "confirmed"),
    (K.ARREARS_PROTECTION, ""),
)
APPLICATION_PLAN: tuple[AppPlan, ...] = (
    # Waiting at the city's three levels.
    AppPlan(K.SUSPENSION, TO_PENDING_CITY, district=1, verify="confirmed"),
    AppPlan(K.ARREARS_PROTECTION, TO_PENDING_CITY, district=2, channel=Channel.HOTLINE_95598),
    AppPlan(K.CAPACITY_REDUCTION, TO_PENDING_HEAD, district=3, verify="confirmed", restore_days=None),
    AppPlan(K.METHOD_CHANGE, TO_PENDING_HEAD, district=4, channel=Channel.APP_WSGW),
    AppPlan(K.SUSPENSION, TO_PENDING_LEADER, district=0, verify="confirmed"),
    AppPlan(K.DEMAND_RELIEF, TO_PENDING_LEADER, district=1, channel=Channel.APP_ZSDL),
    # Approved and settled, their money posted.
    AppPlan(K.SUSPENSION, TO_APPROVED, district=0, verify="confirmed", needs="capacity_basis"),
    AppPlan(K.CAPACITY_REDUCTION, TO_APPROVED, district=5, verify="confirmed", needs="capacity_basis"),
    AppPlan(K.ARREARS_PROTECTION, TO_APPROVED, district=1, channel=Channel.PAPER_PROXY, proxy=True),
    AppPlan(K.NEW_CONNECTION, (SUBMIT,), district=2, needs="priority"),  # 三零: fast-tracked on submit
    # Rejected, returned, withdrawn.
    AppPlan(
        K.CAPACITY_INCREASE,
        (SUBMIT, DISTRICT_OK, (Action.REJECT, "city_reviewer", "增容不属于本次疫情减免政策范围。", "not_eligible")),
        district=6,
    ),
    AppPlan(
        K.SUSPENSION,
        (SUBMIT, (Action.REJECT, "reviewer", "现场勘查变压器仍在运行，暂停不属实。", "verification_failed")),
        district=7,
        verify="not_confirmed",
    ),
    AppPlan(
        K.ARREARS_PROTECTION,
        (SUBMIT, DISTRICT_OK, (Action.RETURN, "city_reviewer", "请补充欠费金额说明和客户承诺书。")),
        district=3,
    ),
    AppPlan(
        K.CAPACITY_REDUCTION,
        (SUBMIT, (Action.RETURN, "reviewer", "减容容量与铭牌不符，请核对后重新上报。")),
        district=8,
    ),
    AppPlan(K.NEW_CONNECTION, (SUBMIT, (Action.WITHDRAW, "clerk", "客户改为线上办理，撤回。")), district=4),
    # Every district: a clerk's draft and an application waiting for the district reviewer (their
    # accounts are taken last: the ones above need the rarer accounts).
    *(AppPlan(kind, district=i, own_district=True) for i, kind in enumerate(_DRAFT_KINDS)),
    *(
        AppPlan(
            kind,
            (SUBMIT,),
            district=i,
            verify=verify,
            channel=Channel.WECHAT if i % 2 else Channel.COUNTER,
            own_district=True,
        )
        for i, (kind, verify) in enumerate(_DISTRICT_KINDS)
    ),
)

RECEIVED_FROM = dt.date(2020, 2, 3)  # inside the two-part relief window (2020-02-01 … 2020-06-30)
SEAL_AFTER_DAYS = 2


# --- seeding ------------------------------------------------------------------------------------


@dataclass
class ChainResult:
    prescreen: list[PrescreenResult] = field(default_factory=list)
    lists_created: int = 0
    seeded: bool = False  # False: the demo staff had worked the chain already, left as it was
    lists_moved: int = 0
    applications: int = 0
    decisions: int = 0
    entries_posted: int = 0
    skipped: list[str] = field(default_factory=list)  # applications without a fitting account

    @property
    def lists_refreshed(self) -> int:
        return sum(1 for r in self.prescreen if r.changed and not r.created)

    @property
    def changed(self) -> bool:
        return self.seeded or any(r.changed for r in self.prescreen)


def chain_worked(usernames: list[str]) -> bool:
    """Whether the demo staff have already worked the chain (then it is left as it is)."""
    return (
        Decision.objects.filter(actor__username__in=usernames).exists()
        or Application.objects.filter(created_by__username__in=usernames).exists()
    )


class _Accounts:
    """Accounts for the plan, in account-number order, each used once."""

    def __init__(self, districts: list[District]):
        self.districts = districts
        self.by_district: dict[int, list[Account]] = {d.pk: [] for d in districts}
        fields = ("id", "account_no", "district", "category", "basic_charge_method", "capacity_kva", "priority_role")
        for account in Account.objects.only(*fields).order_by("account_no").iterator(chunk_size=5000):
            self.by_district.setdefault(account.district_id, []).append(account)
        # Arrears protection shows its waiver best on an account with late fees in the policy's months.
        self.late_fees = set(
            Bill.objects.filter(late_fee__gt=0, period__gte=dt.date(2020, 2, 1))
            .values_list("account_id", flat=True)
            .distinct()
        )
        self.used: set[int] = set()

    def take(
        self, district_index: int, need: Callable[[Account], bool], *, prefer=None, own_district: bool = False
    ) -> Account | None:
        n = len(self.districts)
        for offset in range(1 if own_district else n):
            district = self.districts[(district_index + offset) % n]
            candidates = [a for a in self.by_district[district.pk] if a.pk not in self.used and need(a)]
            if prefer is not None:
                candidates.sort(key=lambda a: not prefer(a))  # stable: account-number order within
            if candidates:
                self.used.add(candidates[0].pk)
                return candidates[0]
        return None


def chain_seed(*, districts: list[District] | None = None) -> ChainResult:
    """Pre-screen the lists and, unless the demo staff worked the chain already, seed it (see the module)."""
    districts = districts if districts is not None else list(District.objects.order_by("sort_order", "code"))
    result = ChainResult(prescreen=eligibility_prescreen(policy_code=DISCOUNT_POLICY))
    result.lists_created = sum(1 for r in result.prescreen if r.created)
    staff = demo_staff(districts)
    people = {u.username: u for u in User.objects.filter(username__in=[s.username for s in staff])}
    if chain_worked(list(people)):
        return result
    decisions_before = Decision.objects.count()
    entries_before = LedgerEntry.objects.count()
    with transaction.atomic():  # all or nothing: a half-seeded chain would never be completed
        _seed_lists(districts, people, result)
        _seed_applications(districts, people, result)
    result.seeded = True
    result.decisions = Decision.objects.count() - decisions_before
    result.entries_posted = LedgerEntry.objects.count() - entries_before
    return result


def _person(people: dict[str, User], who: str, district: District) -> User:
    if who in ("clerk", "reviewer"):
        return people[f"{who}_{district.code}"]
    return people[who]


def _run_steps(item: ChainItem, steps: tuple, people: dict[str, User]) -> ChainItem:
    for step in steps:
        action, who, *why = step
        reason, reason_code = (why + ["", ""])[:2]
        item = item_transition(
            item=item, action=action, by=_person(people, who, item.district), reason=reason, reason_code=reason_code
        )
    if item.state == State.APPROVED:
        item = _post_and_settle(item)
    return item


def _post_and_settle(item: ChainItem) -> ChainItem:
    """Post the approved item's money in this process and settle it (what the worker would do)."""
    cause_type, cause_id = cause_of(item)
    job = PostingJob.objects.get(cause_type=cause_type, cause_id=cause_id)
    job_run_inline(job=job)
    item_settle(cause_type=cause_type, cause_id=cause_id)
    item.refresh_from_db()
    return item


def _seed_lists(districts: list[District], people: dict[str, User], result: ChainResult) -> None:
    lists = {
        lst.district_id: lst
        for lst in EligibilityList.objects.filter(policy_id=DISCOUNT_POLICY, state=State.DRAFT).select_related(
            "district"
        )
    }
    for district in districts:
        lst, steps = lists.get(district.pk), LIST_PLAN.get(district.code)
        if lst is None or steps is None:
            continue
        _run_steps(lst, steps, people)
        result.lists_moved += 1


def _account_for(plan: AppPlan, accounts: _Accounts, districts: list[District]) -> Account | None:
    if not districts:
        return None
    need = NEEDS[plan.needs or KIND_NEEDS[plan.kind]]
    prefer = (lambda a: a.pk in accounts.late_fees) if plan.kind == K.ARREARS_PROTECTION else None
    return accounts.take(plan.district % len(districts), need, prefer=prefer, own_district=plan.own_district)


def _seed_applications(districts: list[District], people: dict[str, User], result: ChainResult) -> None:
    accounts = _Accounts(districts)
    for number, plan in enumerate(APPLICATION_PLAN):
        account = _account_for(plan, accounts, districts)
        if account is None and plan.own_district:
            # Too few accounts of the kind in the district: its people still get an item to work.
            plan = replace(plan, kind=K.ARREARS_PROTECTION, verify="", needs="")
            account = _account_for(plan, accounts, districts)
        if account is None:
            result.skipped.append(f"{plan.kind} → {plan.steps[-1][0] if plan.steps else 'draft'}")
            continue
        district = next(d for d in districts if d.pk == account.district_id)
        received = RECEIVED_FROM + dt.timedelta(days=number % 40)
        kwargs = {}
        if plan.kind in (K.SUSPENSION, K.CAPACITY_REDUCTION):
            seal = received + dt.timedelta(days=SEAL_AFTER_DAYS)
            whole = plan.kind == K.SUSPENSION or account.capacity_kva < 2
            kwargs = {
                "seal_date": seal,
                "restore_date": seal + dt.timedelta(days=plan.restore_days) if plan.restore_days else None,
                "capacity_kva": account.capacity_kva if whole else (account.capacity_kva / 2).quantize(Decimal(1)),
            }
        proxy = None
        if plan.proxy:
            proxy = ProxyData(name="王建国", relation="儿子", id_number="230103196001010018", phone="13904510000")
        application = application_create(
            by=people[f"clerk_{district.code}"],
            kind=plan.kind,
            account_no=account.account_no,
            channel=plan.channel,
            received_on=received,
            reason=REASONS[plan.kind],
            proxy=proxy,
            **kwargs,
        )
        result.applications += 1
        steps = plan.steps
        if plan.verify:
            # Submitted first: verification is recorded while the application waits for district review.
            application = _run_steps(application, steps[:1], people)
            verification_record(
                application=application,
                by=people[f"reviewer_{district.code}"],
                meter_check=MeterCheck.CONFIRMED if plan.verify == "confirmed" else MeterCheck.NOT_CONFIRMED,
                survey_date=received + dt.timedelta(days=1),
                surveyor="张志强",
                findings="用电信息采集系统数据与申请一致，现场已加封。"
                if plan.verify == "confirmed"
                else "现场变压器仍带负荷运行。",
                seal_number=f"HRB-2020-{application.pk:05d}",
            )
            steps = steps[1:]
        _run_steps(application, steps, people)


def demo_chain_counts() -> dict[str, dict[str, int]]:
    """Items per state, lists and applications (for the command's summary and the tests)."""
    return {
        name: dict(model.objects.values_list("state").annotate(n=Count("id")).order_by("state"))
        for name, model in (("lists", EligibilityList), ("applications", Application))
    }
