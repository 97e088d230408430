"""The relief policies as data (programme.md §1, M1–M7): loaded by migration, readable by admins."""

from __future__ import annotations

from django.db import models

POLICIES = [
    {
        "code": "discount-2020",
        "name": "阶段性降低企业用电成本（按95%结算）",
        "kind": "discount",
        "source": "发改价格〔2020〕258号、994号",
        "rate": "0.0500",
        "windows": [["2020-02", "2020-06"], ["2020-07", "2020-12"]],
        "eligible_categories": ["general_commercial", "large_industrial"],
        "excluded_divisions": ["25", "26", "30", "31", "32", "44"],
        "components": ["energy", "basic", "power_factor"],
        "earliest_seal_date": None,
        "waived_rules": [],
    },
    {
        "code": "two-part-relief-2020",
        "name": "支持性两部制电价政策",
        "kind": "two_part_relief",
        "source": "发改办价格〔2020〕110号",
        "rate": None,
        "windows": [["2020-02", "2020-06"]],
        "eligible_categories": ["large_industrial"],
        "excluded_divisions": [],
        "components": ["basic", "power_factor"],
        "earliest_seal_date": "2020-02-01",
        "waived_rules": ["min_suspension_days", "notice_days"],
    },
]


def load_policies(*, model: type[models.Model] | None = None) -> int:
    """Create the policies that are missing (idempotent; an admin's later edits are kept)."""
    if model is None:
        from .models import Policy as model
    created = 0
    for row in POLICIES:
        _, was_created = model.objects.get_or_create(
            code=row["code"], defaults={k: v for k, v in row.items() if k != "code"}
        )
        created += was_created
    return created
