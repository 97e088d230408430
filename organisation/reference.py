"""The districts every installation has, loaded by a data migration.

(Each app loads its own reference data: billing its industries, demo tariffs and policies. The
tests put all of it back after a transactional test flushed it: ``tests/conftest.py``.)
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
