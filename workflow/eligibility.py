"""District eligibility lists for the 95% policy: pre-screening, clerks' changes, the forecast.

``eligibility_prescreen`` builds or refreshes the draft list of every district from programme.md
M1 (decided by category and industry code); lists past ``draft`` are never changed. A clerk may
add or remove an account only with a reason. The forecast — accounts and yuan, from the bills so
far and an estimate for the months still to come — is stored on the list and kept up to date.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.engine import line_discount, round_fen
from billing.models import Account, Bill, Policy, PolicyKind
from billing.rules import REFUSED_CATEGORY, REFUSED_DIVISION, PolicyRules
from organisation.errors import Conflict
from organisation.models import District
from organisation.queue import task_named
from organisation.roles import Role

from .chain import State
from .models import EligibilityEntry, EligibilityList, EntrySource, PrescreenRun, PrescreenRunState

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
COMPONENT_FIELDS = {"energy": "energy_charge", "basic": "basic_charge", "power_factor": "power_factor_charge"}


def eligible_accounts(*, policy: Policy, district: District | None = None) -> QuerySet[Account]:
    """Accounts the policy's rule admits: category in scope, industry division not excluded (M1, billing.rules)."""
    qs = Account.objects.filter(PolicyRules.of(policy).admits_q())
    if district is not None:
        qs = qs.filter(district=district)
    return qs


def account_admitted(*, policy: Policy, account: Account) -> str | None:
    """Why the rule does not admit ``account`` (a message naming M1), or None."""
    refusal = PolicyRules.of(policy).refusal(account)
    if refusal == REFUSED_CATEGORY:
        return _("M1: category %(category)s is not eligible for %(policy)s.") % {
            "category": account.get_category_display(),
            "policy": policy.name,
        }
    if refusal == REFUSED_DIVISION:
        return _("M1: industry %(code)s is high-energy (division %(division)s) and excluded.") % {
            "code": account.industry_code,
            "division": account.industry_code[:2],
        }
    return None


@dataclass
class PrescreenResult:
    district: str
    list_id: int
    state: str
    added: int = 0
    dropped: int = 0
    changed: bool = False
    created: bool = False  # the list did not exist before this pre-screen


def _policy(policy_code: str) -> Policy:
    try:
        return Policy.objects.get(code=policy_code)
    except Policy.DoesNotExist:
        codes = ", ".join(Policy.objects.values_list("code", flat=True))
        raise ValidationError(
            {"policy": _("unknown policy %(code)s; one of: %(codes)s") % {"code": policy_code, "codes": codes}}
        ) from None


def eligibility_prescreen(
    *, policy_code: str, progress: Callable[[PrescreenResult, int, int], None] | None = None
) -> list[PrescreenResult]:
    """Create or refresh the draft list of every district (idempotent), one transaction per district.

    ``progress(result, done, total)`` is called after each district (the lists page's runs).
    """
    policy = _policy(policy_code)
    districts = list(District.objects.all())
    results = []
    for district in districts:
        results.append(_prescreen_district(policy, district))
        if progress is not None:
            progress(results[-1], len(results), len(districts))
    return results


def _live_list(policy: Policy, district: District) -> tuple[EligibilityList, bool]:
    """The district's live list of the policy, and whether it was created now."""
    live = (
        EligibilityList.objects.select_for_update()
        .filter(policy=policy, district=district)
        .exclude(state__in=[State.REJECTED, State.WITHDRAWN])
        .first()
    )
    if live is not None:
        return live, False
    return EligibilityList.objects.create(policy=policy, district=district), True


@transaction.atomic
def _prescreen_district(policy: Policy, district: District) -> PrescreenResult:
    lst, created = _live_list(policy, district)
    result = PrescreenResult(district=district.name, list_id=lst.pk, state=lst.state, created=created)
    if lst.state != State.DRAFT:
        return result
    eligible = set(eligible_accounts(policy=policy, district=district).values_list("id", flat=True))
    existing = dict(lst.entries.values_list("account_id", "changed_by_id"))
    new = [
        EligibilityEntry(eligibility_list=lst, account_id=account_id, source=EntrySource.PRESCREEN)
        for account_id in sorted(eligible - existing.keys())
    ]
    EligibilityEntry.objects.bulk_create(new, batch_size=2000)
    # Entries the rule no longer admits go, unless a clerk decided on them (their decision stands).
    stale = [a for a, changed_by in existing.items() if a not in eligible and changed_by is None]
    if stale:
        lst.entries.filter(account_id__in=stale, source=EntrySource.PRESCREEN, changed_by__isnull=True).delete()
    result.added, result.dropped = len(new), len(stale)
    result.changed = bool(new or stale) or lst.forecast_at is None
    if result.changed:
        eligibility_forecast_refresh(eligibility_list=lst)
    return result


def eligibility_entry_change(
    *, eligibility_list: EligibilityList, account_no: str, include: bool, reason: str, by
) -> EligibilityEntry:
    """A clerk of the district adds (``include``) or removes an account, with a reason, on a draft list."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("A reason is required to add or remove an account.")]})
    with transaction.atomic():
        # The list row only: with the joined policy locked too, changes to any two lists of the
        # policy would wait for each other.
        lst = (
            EligibilityList.objects.select_for_update(of=("self",)).select_related("policy").get(pk=eligibility_list.pk)
        )
        if lst.state != State.DRAFT:
            raise Conflict(
                _("Only a draft list can be changed; this one is %(state)s.") % {"state": State(lst.state).label},
                current_state=lst.state,
            )
        if not by.has_role(Role.CLERK) or by.district_id != lst.district_id:
            raise PermissionDenied(_("Only a clerk of the list's district changes it."))
        account = Account.objects.filter(account_no=account_no, district_id=lst.district_id).first()
        if account is None:
            raise ValidationError({"account_no": [_("No account %(no)s in this district.") % {"no": account_no}]})
        if include:
            why = account_admitted(policy=lst.policy, account=account)
            if why:
                raise ValidationError({"account_no": [why]})
        entry, created = EligibilityEntry.objects.get_or_create(
            eligibility_list=lst, account=account, defaults={"source": EntrySource.ADDED, "included": include}
        )
        entry.included = include
        entry.reason = reason
        entry.changed_by = by
        entry.changed_at = timezone.now()
        entry.save()
        eligibility_forecast_refresh(eligibility_list=lst)
    return entry


@dataclass
class Forecast:
    accounts: int
    billed: Decimal
    estimated: Decimal

    @property
    def reduction(self) -> Decimal:
        return self.billed + self.estimated


def forecast_compute(*, eligibility_list: EligibilityList) -> Forecast:
    """Accounts on the list and the yuan the policy gives them.

    Only accounts the policy's rule admits (M1, ``billing.rules``) count. Bills so far: the policy's
    rate on each component line of every bill in the windows, each line rounded once (M3). Months
    still to come: each account's average per billed window month times the months it has no bill
    for yet (0 for an account with no bill in the windows).
    """
    policy = eligibility_list.policy
    rules = PolicyRules.of(policy)
    periods = rules.months
    rate = rules.rate or ZERO
    fields = [COMPONENT_FIELDS[c] for c in policy.components if c in COMPONENT_FIELDS]
    # Only the accounts the rule admits (M1): posting gives nothing to any other (billing.posting).
    included = EligibilityEntry.objects.filter(
        rules.admits_q("account__"), eligibility_list=eligibility_list, included=True
    )
    accounts = included.count()
    bills = (
        Bill.objects.filter(
            Q(account__eligibility_entries__eligibility_list=eligibility_list)
            & Q(account__eligibility_entries__included=True)
            & rules.admits_q("account__"),
            period__in=periods,
        )
        .values_list("account_id", *fields)
        .order_by()
    )
    per_account: dict[int, list] = defaultdict(lambda: [ZERO, 0])
    for account_id, *lines in bills.iterator(chunk_size=5000):
        acc = per_account[account_id]
        acc[0] += sum((line_discount(line, rate) for line in lines), ZERO)
        acc[1] += 1
    billed = sum((v[0] for v in per_account.values()), ZERO)
    estimated = sum(
        (round_fen(total / count * (len(periods) - count)) for total, count in per_account.values() if count),
        ZERO,
    )
    return Forecast(accounts=accounts, billed=billed, estimated=estimated)


def eligibility_forecast_refresh(*, eligibility_list: EligibilityList) -> EligibilityList:
    forecast = forecast_compute(eligibility_list=eligibility_list)
    EligibilityList.objects.filter(pk=eligibility_list.pk).update(
        forecast_accounts=forecast.accounts,
        forecast_reduction=forecast.reduction,
        forecast_billed=forecast.billed,
        forecast_at=timezone.now(),
    )
    eligibility_list.forecast_accounts = forecast.accounts
    eligibility_list.forecast_reduction = forecast.reduction
    eligibility_list.forecast_billed = forecast.billed
    return eligibility_list


# --- pre-screen runs started from the lists page ---------------------------------------------------

# A queued or running run that has not moved for this long is taken to have lost its worker: a new
# run of the policy may then start (each district's pre-screen is its own transaction, so nothing
# is half-done).
RUN_STALE_AFTER = dt.timedelta(minutes=10)


def prescreen_start(*, policy_code: str, by) -> PrescreenRun:
    """A city reviewer starts (or refreshes) the pre-screen of ``policy_code``: a run, enqueued after commit.

    PermissionDenied for anyone but a city reviewer, ValidationError for an unknown policy or one
    that is not a price reduction (only those have district lists), Conflict while another run of
    the policy is under way.
    """
    if not by.has_role(Role.CITY_REVIEWER):
        raise PermissionDenied(_("Only the city reviewer starts the pre-screen."))
    with transaction.atomic():
        policy = _policy(policy_code)
        if policy.kind != PolicyKind.DISCOUNT or not policy.eligible_categories:
            raise ValidationError(
                {
                    "policy": _("Policy %(code)s has no district eligibility lists to pre-screen.")
                    % {"code": policy.code}
                }
            )
        Policy.objects.select_for_update().filter(pk=policy.pk).first()  # one start per policy at a time
        running = (
            PrescreenRun.objects.filter(
                policy=policy,
                state__in=[PrescreenRunState.QUEUED, PrescreenRunState.RUNNING],
                updated_at__gte=timezone.now() - RUN_STALE_AFTER,
            )
            .order_by("-requested_at")
            .first()
        )
        if running is not None:
            raise Conflict(
                _("A pre-screen of %(policy)s is already under way (#%(id)s); wait for it to finish.")
                % {"policy": policy.name, "id": running.pk},
                current_state=running.state,
            )
        run = PrescreenRun.objects.create(policy=policy, requested_by=by, districts_total=District.objects.count())
        transaction.on_commit(lambda: _prescreen_enqueue(run.pk))
    return run


def _prescreen_enqueue(run_id: int) -> None:
    try:
        task_named("workflow.prescreen_run").delay(run_id)
    except Exception as exc:  # broker down: say so on the page rather than wait for ever
        log.warning("could not enqueue pre-screen run %s", run_id, exc_info=True)
        PrescreenRun.objects.filter(pk=run_id, state=PrescreenRunState.QUEUED).update(
            state=PrescreenRunState.FAILED,
            error=_("The task queue could not be reached (%(error)s); try again later.") % {"error": exc},
            finished_at=timezone.now(),
        )


def prescreen_run(*, run_id: int) -> bool:
    """Run a queued pre-screen (the Celery task), recording progress after each district.

    Returns False when the run is not there or already finished (a duplicate task does nothing).
    """
    with transaction.atomic():
        run = PrescreenRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or not run.active:
            return False
        run.state, run.started_at = PrescreenRunState.RUNNING, timezone.now()
        run.districts_done, run.results = 0, []
        run.save(update_fields=["state", "started_at", "districts_done", "results", "updated_at"])
    done: list[dict] = []

    def progress(result: PrescreenResult, count: int, total: int) -> None:
        done.append(asdict(result))
        PrescreenRun.objects.filter(pk=run_id).update(
            districts_done=count, districts_total=total, results=done, updated_at=timezone.now()
        )

    try:
        eligibility_prescreen(policy_code=run.policy_id, progress=progress)
    except Exception as exc:
        log.exception("pre-screen run %s failed", run_id)
        PrescreenRun.objects.filter(pk=run_id).update(
            state=PrescreenRunState.FAILED, error=str(exc)[:2000], finished_at=timezone.now(), updated_at=timezone.now()
        )
        return True
    PrescreenRun.objects.filter(pk=run_id).update(
        state=PrescreenRunState.DONE, finished_at=timezone.now(), updated_at=timezone.now()
    )
    return True


@dataclass(frozen=True)
class PrescreenSummary:
    created: int
    refreshed: int
    unchanged: int
    past_draft: int
    lines: list[str]


def prescreen_summary(results: list[dict]) -> PrescreenSummary:
    """Counts and one line per district of a run's results (the lists page's message)."""
    created = refreshed = unchanged = past = 0
    lines = []
    for r in results:
        if r["state"] != State.DRAFT:
            past += 1
            lines.append(
                _("%(district)s: list #%(id)s is %(state)s, left unchanged")
                % {"district": r["district"], "id": r["list_id"], "state": State(r["state"]).label}
            )
            continue
        values = {"district": r["district"], "id": r["list_id"], "added": r["added"], "dropped": r["dropped"]}
        if r.get("created"):
            created += 1
            line = _("%(district)s: list #%(id)s created (+%(added)s −%(dropped)s accounts)")
        elif r["changed"]:
            refreshed += 1
            line = _("%(district)s: list #%(id)s refreshed (+%(added)s −%(dropped)s accounts)")
        else:
            unchanged += 1
            line = _("%(district)s: list #%(id)s unchanged")
        lines.append(line % values)
    return PrescreenSummary(created, refreshed, unchanged, past, lines)
