"""Reference data every installation has: districts, role groups, industries, demo tariffs, policies.

Data migrations load it; ``reference_data_load`` puts it back (idempotently) where a database was
flushed, e.g. after a transactional test.
"""

from __future__ import annotations

DISTRICTS = [
    ("daoli", "道里"),
    ("nangang", "南岗"),
    ("daowai", "道外"),
    ("xiangfang", "香坊"),
    ("pingfang", "平房"),
    ("songbei", "松北"),
    ("hulan", "呼兰"),
    ("acheng", "阿城"),
    ("shuangcheng", "双城"),
]


def load_districts(*, model=None) -> None:
    if model is None:
        from .models import District as model
    for order, (code, name) in enumerate(DISTRICTS, start=1):
        model.objects.update_or_create(code=code, defaults={"name": name, "sort_order": order})


def reference_data_load() -> None:
    from billing.models import Industry, Policy, Tariff
    from billing.policies import load_policies
    from billing.reference import load_demo_tariffs, load_industries

    from .models import District
    from .services import roles_ensure_groups

    if District.objects.count() != len(DISTRICTS):
        load_districts()
    if not Industry.objects.exists():
        load_industries()
    if not Tariff.objects.exists():
        load_demo_tariffs()
    if not Policy.objects.exists():
        load_policies()
    roles_ensure_groups()
