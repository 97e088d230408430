"""Every write of the workflow app. One service runs every transition of the chain.

``item_transition`` locks the row, checks the state, the person (role, district, separation of
duties) and the evidence, transitions, saves, records exactly one ``Decision`` (the one audit trail
of the chain) and enqueues effects after commit — all in one atomic block.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from billing.models import Account
from organisation.errors import Conflict
from organisation.scoping import scope_to_user

from . import chain
from .chain import Action, Level, State
from .effects import approved_effects, cause_of
from .models import (
    Application,
    ApplicationKind,
    ChainItem,
    Channel,
    Decision,
    EligibilityList,
    Proxy,
    Scan,
    ScanKind,
    Verification,
)
from .rules import SEAL_KINDS, SUSPENSION_KINDS, check_capacity_application

ACTION_METHOD = {
    Action.SUBMIT: "submit",
    Action.APPROVE: "approve",
    Action.RETURN: "send_back",
    Action.REJECT: "reject",
    Action.WITHDRAW: "withdraw",
}
# Stored in Decision.policy_reason as the (English) message id, shown translated (Decision.policy_reason_display).
FAST_TRACK_POLICY = gettext_noop(
    "三零服务: new connection of a priority unit (hospital, prevention point, supplies maker)"
)

SCAN_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
SCAN_MAX_BYTES = 10 * 1024 * 1024
# The first bytes of each allowed type: the declared content type alone is not trusted.
SCAN_MAGIC = {"application/pdf": (b"%PDF-",), "image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}


def reason_code_labels() -> str:
    """The reason codes as the person reads them (translated labels), for a message."""
    return _("; ").join(str(label) for label in chain.ReasonCode.labels)


def _model_of(item: ChainItem) -> type[ChainItem]:
    return type(item)._meta.concrete_model


def _decision_fk(item: ChainItem) -> dict:
    return {"application": item} if isinstance(item, Application) else {"eligibility_list": item}


def item_transition(
    *,
    item: ChainItem,
    action: str,
    by,
    reason: str = "",
    reason_code: str = "",
    expected_state: str | None = None,
) -> ChainItem:
    """Take ``action`` on ``item`` as ``by``; returns the item as saved.

    Raises Conflict (409) when the item is not in the state the caller saw or the action cannot be
    taken from its state, PermissionDenied (403) with the reason, ValidationError (400) for a
    missing reason or missing evidence.
    """
    if action not in ACTION_METHOD:
        raise ValidationError({"action": _("unknown action %(action)s") % {"action": action}})
    seen_state = expected_state or item.state
    with transaction.atomic():
        model = _model_of(item)
        locked = model.objects.select_for_update().get(pk=item.pk)
        if locked.state != seen_state:
            raise Conflict(
                _("The item changed meanwhile: it is now %(state)s.") % {"state": State(locked.state).label},
                current_state=locked.state,
            )
        method = getattr(locked, ACTION_METHOD[action])
        if not can_proceed(method, check_conditions=False):
            raise Conflict(
                _("“%(action)s” is not possible for an item in the state “%(state)s”.")
                % {"state": State(locked.state).label, "action": Action(action).label},
                current_state=locked.state,
            )
        why = chain.refusal(locked, by, action)
        if why:
            raise PermissionDenied(why)
        if not can_proceed(method):
            raise ValidationError(
                {"verification": [_("Record the meter-data check and the site survey before approving.")]}
            )
        if not has_transition_perm(method, by):  # the state machine's own permission, as a safeguard
            raise PermissionDenied(_("not allowed"))
        reason = (reason or "").strip()
        if action in chain.REASON_REQUIRED and not reason:
            raise ValidationError({"reason": [_("%(action)s needs a reason.") % {"action": Action(action).label}]})
        if action == Action.REJECT and reason_code not in chain.ReasonCode.values:
            raise ValidationError(
                {"reason_code": [_("Choose one of the reasons: %(codes)s.") % {"codes": reason_code_labels()}]}
            )
        from_state = locked.state
        level = chain.LEVEL_OF_STATE.get(from_state, Level.REPORT_1)
        if action == Action.WITHDRAW:
            level = Level.REPORT_1
        snapshot = item_snapshot(locked)
        method(by=by)
        try:
            locked.save()
        except ConcurrentTransition as exc:
            raise Conflict(_("The item changed meanwhile."), current_state=None) from exc
        Decision.objects.create(
            **_decision_fk(locked),
            arrived_at=_arrived_at(locked),
            level=level,
            action=action,
            from_state=from_state,
            to_state=locked.state,
            reason_code=reason_code if action == Action.REJECT else "",
            reason=reason,
            actor=by,
            snapshot=snapshot,
        )
        if action == Action.SUBMIT and _fast_track_applies(locked):
            _system_transition(locked, "fast_track", policy_reason=str(FAST_TRACK_POLICY))
        if locked.state == State.APPROVED:
            # The money: grants and a posting job, committed with the approval; enqueued after commit.
            approved_effects(locked)
    return locked


def _arrived_at(item: ChainItem):
    """When the item reached its current state: its latest decision's time, or its creation."""
    latest = item.decisions.order_by("-at", "-id").values_list("at", flat=True).first()
    return latest or item.created_at


def _fast_track_applies(item: ChainItem) -> bool:
    return (
        isinstance(item, Application)
        and item.kind == ApplicationKind.NEW_CONNECTION
        and bool(item.account.priority_role)
    )


def _system_transition(item: ChainItem, method_name: str, *, policy_reason: str, reason: str = "") -> None:
    from_state = item.state
    snapshot = item_snapshot(item)
    getattr(item, method_name)()
    if method_name == "fast_track":
        item.fast_tracked = True
    item.save()
    Decision.objects.create(
        **_decision_fk(item),
        arrived_at=_arrived_at(item),
        level=Level.SYSTEM,
        action=Action.FAST_TRACK if method_name == "fast_track" else Action.SETTLE,
        reason=reason,
        from_state=from_state,
        to_state=item.state,
        actor=None,
        policy_reason=policy_reason,
        snapshot=snapshot,
    )


def item_snapshot(item: ChainItem) -> dict:
    """What the decider saw, kept with the decision."""
    base = {"state": item.state, "district": item.district.name}
    if isinstance(item, Application):
        verification = getattr(item, "verification", None)
        base.update(
            kind=item.kind,
            account_no=item.account.account_no,
            channel=item.channel,
            received_on=item.received_on.isoformat(),
            capacity_kva=str(item.capacity_kva) if item.capacity_kva is not None else None,
            seal_date=item.seal_date.isoformat() if item.seal_date else None,
            restore_date=item.restore_date.isoformat() if item.restore_date else None,
            relief=item.relief,
            verification=(
                {
                    "meter_check": verification.meter_check,
                    "survey_date": verification.survey_date.isoformat(),
                    "surveyor": verification.surveyor,
                    "seal_number": verification.seal_number,
                }
                if verification
                else None
            ),
        )
    elif isinstance(item, EligibilityList):
        base.update(
            policy=item.policy_id,
            accounts=item.entries.filter(included=True).count(),
            forecast_accounts=item.forecast_accounts,
            forecast_reduction=str(item.forecast_reduction),
        )
    return base


# --- applications -----------------------------------------------------------------------------


@dataclass
class ProxyData:
    name: str
    relation: str
    id_number: str
    phone: str


@dataclass
class ScanData:
    kind: str
    file: UploadedFile


def _validate_scan(scan: ScanData, index: int) -> None:
    field_name = "scans"
    upload = scan.file
    if scan.kind not in ScanKind.values:
        raise ValidationError({field_name: [_("Unknown document kind %(kind)s.") % {"kind": scan.kind}]})
    if upload.size > SCAN_MAX_BYTES:
        raise ValidationError({field_name: [_("%(name)s is larger than 10 MB.") % {"name": upload.name}]})
    head = upload.read(16)
    upload.seek(0)
    kind = next((ct for ct, magics in SCAN_MAGIC.items() if any(head.startswith(m) for m in magics)), None)
    if kind is None:
        raise ValidationError({field_name: [_("%(name)s is not a PDF, JPEG or PNG file.") % {"name": upload.name}]})
    upload.content_type = kind


def application_create(
    *,
    by,
    kind: str,
    account_no: str,
    channel: str,
    received_on: dt.date | None = None,
    capacity_kva: Decimal | None = None,
    seal_date: dt.date | None = None,
    restore_date: dt.date | None = None,
    reason: str = "",
    proxy: ProxyData | None = None,
    scans: Iterable[ScanData] = (),
) -> Application:
    """Create a draft application for an account the person may see; all or nothing."""
    account = scope_to_user(Account.objects.select_related("district"), by).filter(account_no=account_no).first()
    errors: dict[str, list[str]] = {}
    if account is None:
        errors["account_no"] = [_("No account %(no)s in your district.") % {"no": account_no}]
    if kind not in ApplicationKind.values:
        errors["kind"] = [_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(ApplicationKind.values)}]
    if channel not in Channel.values:
        errors["channel"] = [_("Choose one of: %(channels)s.") % {"channels": ", ".join(Channel.values)}]
    if channel == Channel.PAPER_PROXY and proxy is None:
        errors["proxy"] = [_("A paper application by proxy needs the proxy's details.")]
    if not (by.has_role(chain.ROLE_OF_LEVEL[Level.REPORT_1]) or by.is_superuser):
        raise PermissionDenied(_("Only clerks enter applications."))
    if errors:
        raise ValidationError(errors)
    received_on = received_on or timezone.localdate()
    relief = False
    if kind in (*SEAL_KINDS, "suspension_restore", "reduction_restore"):
        year_start = dt.date((seal_date or received_on).year, 1, 1)
        earlier = Application.objects.filter(
            account=account,
            kind__in=SUSPENSION_KINDS,
            seal_date__gte=year_start,
            seal_date__lt=year_start.replace(year=year_start.year + 1),
        ).exclude(state__in=[State.REJECTED, State.WITHDRAWN])
        suspended_days = sum((a.restore_date - a.seal_date).days for a in earlier if a.restore_date and a.seal_date)
        check = check_capacity_application(
            kind=kind,
            received_on=received_on,
            seal_date=seal_date,
            restore_date=restore_date,
            capacity_kva=capacity_kva,
            account_capacity_kva=account.capacity_kva,
            demand_basis=account.basic_charge_method == "demand",
            suspensions_this_year=earlier.count(),
            suspended_days_this_year=suspended_days,
        )
        if not check.ok:
            raise ValidationError(check.errors)
        relief = check.relief
    scans = list(scans)
    for index, scan in enumerate(scans):
        _validate_scan(scan, index)

    with transaction.atomic():
        application = Application(
            kind=kind,
            account=account,
            district=account.district,
            channel=channel,
            received_on=received_on,
            capacity_kva=capacity_kva,
            seal_date=seal_date,
            restore_date=restore_date,
            reason=reason,
            relief=relief,
            created_by=by,
        )
        application.full_clean(exclude=["state"])  # protected FSM field: set only by transitions
        application.save()
        if proxy is not None:
            proxy_obj = Proxy(application=application, **proxy.__dict__)
            proxy_obj.full_clean()
            proxy_obj.save()
        for scan in scans:
            Scan.objects.create(
                application=application,
                kind=scan.kind,
                file=scan.file,
                original_name=scan.file.name[:200],
                content_type=scan.file.content_type,
                size=scan.file.size,
                uploaded_by=by,
            )
    return application


def verification_record(
    *,
    application: Application,
    by,
    meter_check: str,
    survey_date: dt.date,
    surveyor: str,
    findings: str,
    seal_number: str,
) -> Verification:
    """Record (or correct) the meter-data check and site survey of a capacity application.

    Only a district reviewer of the application's district, while it waits for district review.
    """
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if locked.state != State.PENDING_DISTRICT:
            raise Conflict(
                _("Verification is recorded while the application waits for district review; it is %(state)s.")
                % {"state": State(locked.state).label},
                current_state=locked.state,
            )
        if not by.has_role(chain.ROLE_OF_LEVEL[Level.REPORT_2]) or by.district_id != locked.district_id:
            raise PermissionDenied(_("Only a district reviewer of the application's district records verification."))
        verification = getattr(locked, "verification", None) or Verification(application=locked)
        verification.meter_check = meter_check
        verification.survey_date = survey_date
        verification.surveyor = surveyor
        verification.findings = findings
        verification.seal_number = seal_number
        verification.recorded_by = by
        verification.recorded_at = timezone.now()
        verification.full_clean()
        verification.save()
    return verification


# --- settlement ---------------------------------------------------------------------------------

SETTLE_POLICY = gettext_noop("Money posted by the relief engine")


def _item_for_cause(cause_type: str, cause_id: int) -> type[ChainItem] | None:
    return {"eligibility_list": EligibilityList, "application": Application}.get(cause_type)


def item_settle(*, cause_type: str, cause_id: int) -> bool:
    """Move an approved item to ``settled`` once its posting job is done (idempotent)."""
    from billing.models import JobState, PostingJob

    model = _item_for_cause(cause_type, cause_id)
    if model is None:
        return False
    with transaction.atomic():
        item = model.objects.select_for_update().filter(pk=cause_id).first()
        if item is None or item.state != State.APPROVED:
            return False
        job = PostingJob.objects.filter(cause_type=cause_type, cause_id=cause_id).first()
        if job is None or job.state != JobState.DONE:
            return False
        summary = _("%(n)s ledger entries posted by job %(job)s") % {"n": job.entries_posted, "job": job.pk}
        _system_transition(item, "settle", policy_reason=str(SETTLE_POLICY), reason=summary)
    return True


def settle_sweep() -> int:
    """Settle approved items whose job is done; create the job of an approved item that has none."""
    from billing.models import JobState, PostingJob

    settled = 0
    for model in (Application, EligibilityList):
        for item in model.objects.filter(state=State.APPROVED).only("pk"):
            cause_type, cause_id = cause_of(item)
            job = PostingJob.objects.filter(cause_type=cause_type, cause_id=cause_id).first()
            if job is None:
                with transaction.atomic():
                    approved_effects(model.objects.select_for_update().get(pk=item.pk))
            elif job.state == JobState.DONE:
                settled += item_settle(cause_type=cause_type, cause_id=cause_id)
    return settled
