"""Change history (django-simple-history): the first record of rows that existed before it was kept."""

from __future__ import annotations

from django.utils import timezone

INITIAL_REASON = "history starts"


def history_populate(model, history_model) -> int:
    """Write one "created" record for every row of ``model`` that has no history yet (idempotent).

    Used by the data migrations that follow the history tables: without it, the first change of a
    row that existed before would have no "before" to compare with.
    """
    have = set(history_model.objects.values_list("id", flat=True).distinct())
    names = [
        f.attname for f in model._meta.concrete_fields if f.attname in {h.attname for h in history_model._meta.fields}
    ]
    now = timezone.now()
    rows = [
        history_model(
            **{name: getattr(obj, name) for name in names},
            history_date=now,
            history_type="+",
            history_change_reason=INITIAL_REASON,
        )
        for obj in model.objects.exclude(pk__in=have).iterator()
    ]
    history_model.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
