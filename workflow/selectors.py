"""Reads of applications and eligibility lists for the API (and anything else that needs them).

Every queryset is scoped to the user with ``organisation.scoping.scope_to_user`` on ``district``: a clerk
or district reviewer never gets another district's items, and someone without a role gets none.
Each one fetches what a representation shows in a fixed number of queries, whatever the length of
an item's history (decisions and their actors, proxy, verification, scans are joined or prefetched).
"""

from __future__ import annotations

from django.db.models import Count, F, IntegerField, Min, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django_fsm import can_proceed

from organisation.scoping import scope_to_user

from . import chain
from .chain import State
from .models import Application, ChainItem, Decision, EligibilityEntry, EligibilityList, Scan
from .services import ACTION_METHOD

# The actions a person takes through the API (the system's fast_track and settle are not among them).
PERSON_ACTIONS: tuple[str, ...] = tuple(str(action) for action in ACTION_METHOD)


def _decisions() -> Prefetch:
    return Prefetch("decisions", queryset=Decision.objects.select_related("actor").order_by("at", "id"))


# --- applications ------------------------------------------------------------------------------


def application_list(*, user) -> QuerySet[Application]:
    """The applications ``user`` may see, newest first, with what a list row shows (and its transitions)."""
    queryset = (
        Application.objects.select_related("account", "district", "verification")
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.order_by("at", "id")))
        .order_by("-id")
    )
    return scope_to_user(queryset, user)


def application_detail_queryset(*, user) -> QuerySet[Application]:
    """The applications ``user`` may see, with everything the full representation shows."""
    queryset = Application.objects.select_related(
        "account",
        "district",
        "created_by",
        "submitted_by",
        "proxy",
        "verification",
        "verification__recorded_by",
    ).prefetch_related(_decisions(), Prefetch("scans", queryset=Scan.objects.order_by("uploaded_at", "id")))
    return scope_to_user(queryset, user)


def application_get(*, user, pk: int) -> Application | None:
    """The application ``pk`` if ``user`` may see it, else None (unknown and out of scope alike)."""
    return application_detail_queryset(user=user).filter(pk=pk).first()


# --- eligibility lists -----------------------------------------------------------------------


def _included_count() -> Subquery:
    included = (
        EligibilityEntry.objects.filter(eligibility_list=OuterRef("pk"), included=True)
        .order_by()
        .values("eligibility_list")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(included, output_field=IntegerField()), Value(0))


def eligibility_list_list(*, user) -> QuerySet[EligibilityList]:
    """The eligibility lists ``user`` may see, with the number of included accounts and history."""
    queryset = (
        EligibilityList.objects.select_related("policy", "district", "created_by", "submitted_by")
        .annotate(included_accounts=_included_count())
        .prefetch_related(_decisions())
        .order_by("policy_id", "district__sort_order", "district__code", "-id")
    )
    return scope_to_user(queryset, user)


def eligibility_list_get(*, user, pk: int) -> EligibilityList | None:
    return eligibility_list_list(user=user).filter(pk=pk).first()


def eligibility_entries(*, eligibility_list: EligibilityList) -> QuerySet[EligibilityEntry]:
    """The list's entries with the account's number and name; ``account_no`` is annotated for paging."""
    return (
        EligibilityEntry.objects.filter(eligibility_list=eligibility_list)
        .select_related("account", "changed_by")
        .annotate(account_no=F("account__account_no"))
    )


# --- what the caller may do now ----------------------------------------------------------------


def item_transitions(item: ChainItem, user) -> list[str]:
    """The actions ``user`` may take on ``item`` now (interfaces.md §2 ``transitions``).

    An action is offered when the state machine allows it from the item's state, the chain's rules
    (role, district, separation of duties) do not refuse it, and the evidence it needs is there
    (a capacity application's verification before the district reviewer approves). No query when
    the item's decisions and verification are prefetched.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    if item.state not in (State.DRAFT, *chain.PENDING_STATES):
        return []
    allowed = []
    for action in PERSON_ACTIONS:
        method = getattr(item, ACTION_METHOD[action])
        if not can_proceed(method, check_conditions=False):
            continue
        if chain.refusal(item, user, action) is not None:
            continue
        if not can_proceed(method):
            continue
        allowed.append(str(action))
    return allowed


def proxy_id_visible(application: Application, user) -> bool:
    """Only a district reviewer of the application's district sees a proxy's full ID number (to check it)."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.has_role(chain.ROLE_OF_LEVEL[chain.Level.REPORT_2])
        and user.district_id is not None
        and user.district_id == application.district_id
    )


# --- health ------------------------------------------------------------------------------------


def unsettled_oldest_at():
    """When the oldest item still ``approved`` (approved, its money not settled yet) reached that state."""
    times = [
        model.objects.filter(state=State.APPROVED).aggregate(at=Min("state_changed_at"))["at"]
        for model in (EligibilityList, Application)
    ]
    times = [t for t in times if t is not None]
    return min(times) if times else None
