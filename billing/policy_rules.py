"""Which changes a relief policy may take: well-formed terms, and no change to money already posted.

A policy is **in use** once an item approved under it gave money: a grant refers to it (the
workflow writes grants in the transaction that approves an eligibility list or an application,
and every ledger entry is posted from a grant's cause), or an eligibility list under it is
approved or settled (the workflow answers ``billing.signals.policy_in_use``; billing never reads
the workflow's tables). Once in use, the fields that decide amounts (``MONEY_FIELDS``) are
locked: changing one would change what the ledger says was due. ``code`` is the key grants and
lists refer to and never changes. The descriptive fields (``FREE_FIELDS``) always may.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from . import engine
from .models import Category, Grant, Policy, PolicyKind
from .signals import policy_in_use

# The fields that decide how much relief an account gets, for which months and lines.
MONEY_FIELDS = (
    "kind",
    "rate",
    "windows",
    "eligible_categories",
    "excluded_divisions",
    "components",
    "earliest_seal_date",
    "waived_rules",
)
FREE_FIELDS = ("name", "source")
KEY_FIELDS = ("code",)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_DIVISION = re.compile(r"^\d{2}$")


def policy_uses(policy: Policy) -> list[str]:
    """Why money was already given under ``policy`` (empty: it is not in use)."""
    uses = []
    if Grant.objects.filter(policy_id=policy.code).exists():
        uses.append(gettext("accounts hold grants from approved items"))
    for _receiver, reason in policy_in_use.send(sender=Policy, policy=policy):
        if reason:
            uses.append(str(reason))
    return uses


def policy_change_errors(policy: Policy, values: dict) -> dict[str, str]:
    """The rule "may this policy field change": ``{field: why not}`` for each refused change.

    ``policy`` is the stored row, ``values`` the new values of the fields that are given. A field
    whose value does not change is never refused.
    """
    changed = [f for f in (*KEY_FIELDS, *MONEY_FIELDS) if f in values and values[f] != getattr(policy, f)]
    errors = {}
    for field in changed:
        if field in KEY_FIELDS:
            errors[field] = gettext("The code is the key grants and eligibility lists refer to; it never changes.")
    money = [f for f in changed if f in MONEY_FIELDS]
    if money:
        uses = policy_uses(policy)
        if uses:
            for field in money:
                errors[field] = gettext(
                    "%(field)s cannot change: money was already given under this policy (%(uses)s), and a change "
                    "would alter amounts already posted. Only the name and the source may still change."
                ) % {"field": Policy._meta.get_field(field).verbose_name, "uses": "; ".join(uses)}
    return errors


def policy_terms_errors(values: dict) -> dict[str, str]:
    """Shape of the terms the engine reads, so that a typing mistake is refused here, not at posting."""
    errors = {}
    kind, rate = values.get("kind"), values.get("rate")
    if rate is not None and not (Decimal(0) <= rate <= Decimal(1)):
        errors["rate"] = gettext("A rate is a share between 0 and 1 (0.05 for the 95 percent settlement).")
    elif kind == PolicyKind.DISCOUNT and rate is None:
        errors["rate"] = gettext("A price-reduction policy needs a rate.")
    windows = values.get("windows")
    if "windows" in values and not _windows_ok(windows):
        errors["windows"] = gettext(
            'Windows are a list of [first month, last month] pairs such as [["2020-02", "2020-06"]], '
            "each first month not after its last."
        )
    checks = {
        "eligible_categories": (lambda v: v in Category.values, ", ".join(Category.values)),
        "excluded_divisions": (lambda v: isinstance(v, str) and bool(_DIVISION.match(v)), gettext("two digits each")),
        "components": (lambda v: v in engine.DISCOUNTABLE, ", ".join(sorted(engine.DISCOUNTABLE))),
        "waived_rules": (lambda v: v in settings.PORTAL_CAPACITY_RULES, ", ".join(settings.PORTAL_CAPACITY_RULES)),
    }
    for field, (ok, allowed) in checks.items():
        if field not in values:
            continue
        items = values[field]
        if not isinstance(items, list) or not all(ok(v) for v in items) or len(set(map(str, items))) != len(items):
            errors[field] = gettext("A list without repeats of: %(allowed)s.") % {"allowed": allowed}
    return errors


def _windows_ok(windows) -> bool:
    if not isinstance(windows, list):
        return False
    for pair in windows:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(m, str) and _MONTH.match(m) for m in pair)
        ):
            return False
        if pair[0] > pair[1]:
            return False
    return True


@transaction.atomic
def policy_update(*, policy_id: int, values: dict) -> Policy:
    """Change a policy by the rules above, under a row lock; refused (nothing written) with a ``ValidationError``."""
    policy = Policy.objects.select_for_update().get(pk=policy_id)
    errors = policy_terms_errors(values)
    errors.update({k: v for k, v in policy_change_errors(policy, values).items() if k not in errors})
    if errors:
        raise ValidationError(errors)
    changed = [
        field for field in (*FREE_FIELDS, *MONEY_FIELDS) if field in values and values[field] != getattr(policy, field)
    ]
    if changed:
        for field in changed:
            setattr(policy, field, values[field])
        # The lists may be empty ([]: no excluded division, no waived rule); their shape is checked above.
        policy.full_clean(exclude=[f.name for f in Policy._meta.fields if f.get_internal_type() == "JSONField"])
        policy.save()
    return policy
