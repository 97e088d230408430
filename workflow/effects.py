"""What an approval does to the money: grants and a posting job in billing, then settlement.

Called by the transition service inside the approving transaction. When billing reports the
job done (signal after commit), a task moves the item to ``settled`` with a system decision.
"""

from __future__ import annotations

import logging

from billing import services as billing
from billing.models import CauseType, GrantKind, PostingJob

from .models import Application, ApplicationKind, ChainItem, EligibilityList

log = logging.getLogger(__name__)


def cause_of(item: ChainItem) -> tuple[str, int]:
    if isinstance(item, EligibilityList):
        return CauseType.ELIGIBILITY_LIST, item.pk
    return CauseType.APPLICATION, item.pk


def approved_effects(item: ChainItem) -> PostingJob:
    """Write the grants the approved item gives and the job that posts them (same transaction)."""
    if isinstance(item, EligibilityList):
        account_ids = item.entries.filter(included=True).values_list("account_id", flat=True)
        return billing.grant_discount(policy_code=item.policy_id, cause_id=item.pk, account_ids=list(account_ids))
    if not isinstance(item, Application):
        raise TypeError(f"no money effects for {type(item).__name__}")
    if item.kind in (ApplicationKind.SUSPENSION, ApplicationKind.CAPACITY_REDUCTION) and item.seal_date:
        return billing.grant_seal(
            cause_id=item.pk,
            account_id=item.account_id,
            capacity_kva=item.capacity_kva,
            seal_date=item.seal_date,
            restore_date=item.restore_date,
        )
    if item.kind in (ApplicationKind.SUSPENSION_RESTORE, ApplicationKind.REDUCTION_RESTORE) and item.restore_date:
        return billing.grant_restore(cause_id=item.pk, account_id=item.account_id, restore_date=item.restore_date)
    if item.kind == ApplicationKind.DEMAND_RELIEF:
        return billing.grant_simple(
            kind=GrantKind.DEMAND_RELIEF,
            policy_code=billing.TWO_PART_POLICY,
            cause_id=item.pk,
            account_id=item.account_id,
        )
    if item.kind == ApplicationKind.ARREARS_PROTECTION:
        return billing.grant_simple(
            kind=GrantKind.LATE_FEE_WAIVER,
            policy_code=billing.DISCOUNT_POLICY,
            cause_id=item.pk,
            account_id=item.account_id,
        )
    # New connections, capacity increases and method changes post nothing yet: they settle at once.
    return billing.job_without_effect(cause_type=CauseType.APPLICATION, cause_id=item.pk)
