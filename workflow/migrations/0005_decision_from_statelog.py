"""Keep django-fsm-log's history in our one audit trail, ``workflow.Decision``.

Until this migration every transition was recorded twice: by django-fsm-log's ``StateLog`` (table
``django_fsm_log_statelog``) and by our ``Decision``. django-fsm-log is gone now; before it goes,
every StateLog row of an application or eligibility list that has no matching Decision (same item,
same action, same actor, times within a second) becomes a Decision carrying what StateLog had:
from/to state, transition (as our action), actor, time and description (as the reason; for the
system's fast track and settlement, as the policy applied). Such a Decision's ``snapshot`` says it
was migrated (``{"migrated_from": "django_fsm_log.StateLog", "statelog_id": …}``): the StateLog
did not record what the decider saw. A reject recorded only by StateLog has no reason code; it gets
``other`` (the text is kept), as the ``decision_reject_has_code`` constraint asks.

Works whether or not the table exists (a fresh install never has it) and does not import
django_fsm_log (it is uninstalled). The table itself is left in place, unread: dropping it would be
irreversible, and it still holds the rows no Decision can carry (an item deleted since, a model
outside the chain). Drop it by hand once those are no longer wanted (docs/architecture.md).

Reversing deletes exactly the Decisions this migration created.
"""

import datetime as dt

from django.db import migrations

STATELOG_TABLE = "django_fsm_log_statelog"
MIGRATED_FROM = "django_fsm_log.StateLog"
MATCH_WINDOW = dt.timedelta(seconds=1)
BATCH_ITEMS = 1000

# Frozen copies of workflow.chain as it stood (a migration must not follow later code).
ACTION_OF_TRANSITION = {
    "submit": "submit",
    "approve": "approve",
    "send_back": "return",
    "reject": "reject",
    "withdraw": "withdraw",
    "fast_track": "fast_track",
    "settle": "settle",
}
SYSTEM_ACTIONS = {"fast_track", "settle"}
LEVEL_OF_STATE = {
    "draft": "report_1",
    "pending_district": "report_2",
    "pending_city": "approval_1",
    "pending_head": "approval_2",
    "pending_leader": "approval_3",
}
# Where a transition came from when StateLog did not record its source (rows older than
# django-fsm-log 0004) and the item's previous row does not say either: only where it is certain.
SOURCE_OF = {
    ("submit", "pending_district"): "draft",
    ("approve", "pending_city"): "pending_district",
    ("approve", "pending_head"): "pending_city",
    ("approve", "pending_leader"): "pending_head",
    ("approve", "approved"): "pending_leader",
    ("send_back", "draft"): "pending_district",
    ("send_back", "pending_district"): "pending_city",
    ("send_back", "pending_city"): "pending_head",
    ("send_back", "pending_head"): "pending_leader",
    ("fast_track", "approved"): "pending_district",
    ("settle", "settled"): "approved",
}
COLUMNS = (
    "id",
    "timestamp",
    "by_id",
    "source_state",
    "state",
    "transition",
    "content_type_id",
    "object_id",
    "description",
)
# The chain's models and the Decision field that points at each.
ITEM_MODELS = {"application": "application_id", "eligibilitylist": "eligibility_list_id"}


def _aware(value):
    """A timestamp as read by a raw cursor: aware on PostgreSQL, naive UTC on SQLite/MySQL."""
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def _statelog_rows(connection, content_type_ids):
    with connection.cursor() as cursor:
        present = {column.name for column in connection.introspection.get_table_description(cursor, STATELOG_TABLE)}
    select = ", ".join(connection.ops.quote_name(c) if c in present else "NULL" for c in COLUMNS)
    placeholders = ", ".join(["%s"] * len(content_type_ids))
    sql = (
        f"SELECT {select} FROM {connection.ops.quote_name(STATELOG_TABLE)} "  # noqa: S608 (names are constants)
        f"WHERE content_type_id IN ({placeholders}) ORDER BY content_type_id, object_id, timestamp, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(content_type_ids))
        for row in cursor.fetchall():
            yield dict(zip(COLUMNS, row, strict=True))


def _batches(rows):
    """Rows grouped by item ((content type, object id)), BATCH_ITEMS items at a time."""
    batch, items, current = [], 0, None
    for row in rows:
        key = (row["content_type_id"], row["object_id"])
        if key != current:
            if items >= BATCH_ITEMS:
                yield batch
                batch, items = [], 0
            current, items = key, items + 1
        batch.append(row)
    if batch:
        yield batch


def _decision_for(row, *, fk_name, previous_state, existing, consumed):
    """The Decision a StateLog row needs, or None when one already records it."""
    transition = row["transition"]
    action = ACTION_OF_TRANSITION.get(transition)
    if action is None:
        return None
    at = _aware(row["timestamp"])
    item_id = row["object_id"]
    for decision in existing.get(item_id, ()):
        if (
            decision["id"] not in consumed
            and decision["action"] == action
            and decision["actor_id"] == row["by_id"]
            and abs(decision["at"] - at) <= MATCH_WINDOW
        ):
            consumed.add(decision["id"])
            return None
    to_state = row["state"]
    from_state = row["source_state"] or previous_state or SOURCE_OF.get((transition, to_state), "")
    description = row["description"] or ""
    if action in SYSTEM_ACTIONS:
        level, reason, policy_reason = "system", description if len(description) > 200 else "", description[:200]
    else:
        level = "report_1" if action == "withdraw" else LEVEL_OF_STATE.get(from_state, "report_1")
        reason, policy_reason = description, ""
    return {
        fk_name: item_id,
        "level": level,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason_code": "other" if action == "reject" else "",
        "reason": reason,
        "actor_id": row["by_id"],
        "policy_reason": policy_reason,
        "at": at,
        "snapshot": {
            "migrated_from": MIGRATED_FROM,
            "statelog_id": row["id"],
            "transition": transition,
            **({"reason_code_assumed": True} if action == "reject" else {}),
        },
    }


def statelog_to_decisions(apps, schema_editor):
    connection = schema_editor.connection
    if STATELOG_TABLE not in connection.introspection.table_names():
        return  # a fresh install: django-fsm-log never wrote anything here
    ContentType = apps.get_model("contenttypes", "ContentType")
    Decision = apps.get_model("workflow", "Decision")
    User = Decision._meta.get_field("actor").related_model
    models = {
        ct.pk: (apps.get_model("workflow", ct.model), ITEM_MODELS[ct.model])
        for ct in ContentType.objects.filter(app_label="workflow", model__in=list(ITEM_MODELS))
    }
    if not models:
        return
    user_ids = set(User.objects.values_list("pk", flat=True))
    for batch in _batches(_statelog_rows(connection, list(models))):
        by_model: dict = {}
        for row in batch:
            by_model.setdefault(row["content_type_id"], []).append(row)
        for content_type_id, rows in by_model.items():
            model, fk_name = models[content_type_id]
            item_ids = {row["object_id"] for row in rows}
            created_at = dict(model.objects.filter(pk__in=item_ids).values_list("pk", "created_at"))
            existing: dict = {}
            for decision in Decision.objects.filter(**{f"{fk_name}__in": item_ids}).values(
                "id", fk_name, "action", "actor_id", "at"
            ):
                existing.setdefault(decision[fk_name], []).append(decision)
            consumed: set = set()
            previous: dict = {}
            new = []
            for row in rows:
                item_id = row["object_id"]
                if item_id not in created_at:
                    continue  # the item is gone (its decisions with it): the row stays in the old table
                if row["by_id"] is not None and row["by_id"] not in user_ids:
                    row = {**row, "by_id": None}
                decision = _decision_for(
                    row, fk_name=fk_name, previous_state=previous.get(item_id), existing=existing, consumed=consumed
                )
                previous[item_id] = row["state"]
                if decision is not None:
                    new.append(decision)
            created = Decision.objects.bulk_create([Decision(**fields) for fields in new], batch_size=500)
            _set_arrived_at(Decision, fk_name, created, created_at)


def _set_arrived_at(Decision, fk_name, created, created_at):
    """A migrated decision arrived when the item's previous decision was taken, or when it was created."""
    if not created:
        return
    item_ids = {getattr(d, fk_name) for d in created}
    migrated = {d.pk for d in created} if all(d.pk for d in created) else None
    history: dict = {}
    for decision in Decision.objects.filter(**{f"{fk_name}__in": item_ids}).order_by("at", "id"):
        history.setdefault(getattr(decision, fk_name), []).append(decision)
    changed = []
    for item_id, decisions in history.items():
        before = created_at[item_id]
        for decision in decisions:
            is_migrated = (
                decision.pk in migrated
                if migrated is not None
                else decision.snapshot.get("migrated_from") == MIGRATED_FROM
            )
            if is_migrated:
                decision.arrived_at = before
                changed.append(decision)
            before = decision.at
    Decision.objects.bulk_update(changed, ["arrived_at"], batch_size=500)


def delete_migrated_decisions(apps, schema_editor):
    Decision = apps.get_model("workflow", "Decision")
    Decision.objects.filter(snapshot__migrated_from=MIGRATED_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("workflow", "0004_prescreen_run"),
    ]

    operations = [
        migrations.RunPython(statelog_to_decisions, delete_migrated_decisions, elidable=False),
    ]
