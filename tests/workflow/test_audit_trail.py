"""One audit trail of decisions: ``workflow.Decision``.

django-fsm-log is gone; workflow migration 0005 turned every StateLog row that no Decision recorded
into a Decision. These tests build such a database (a table made like django-fsm-log's, rows with no
Decision), run the migration with Django's MigrationExecutor, and check that nothing was lost; and
that a transition now writes exactly one Decision, atomically, and no StateLog.
"""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest
from django.apps import apps as installed_apps
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, models
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import isolate_apps

from organisation.roles import Role
from tests.factories import ApplicationFactory, EligibilityListFactory
from workflow.chain import Action, ReasonCode, State
from workflow.models import Application, Decision, EligibilityList
from workflow.services import item_transition

BEFORE = ("workflow", "0004_prescreen_run")
AFTER = ("workflow", "0005_decision_from_statelog")
STATELOG_TABLE = "django_fsm_log_statelog"
T0 = dt.datetime(2020, 3, 2, 1, 0, tzinfo=dt.UTC)


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.fixture
def statelog_table(transactional_db):
    """A table shaped like django-fsm-log 5.0's ``django_fsm_log_statelog`` (by its columns), removed after."""
    with isolate_apps("workflow"):  # a registry of its own: the stand-in never joins the real one

        class StateLog(models.Model):
            timestamp = models.DateTimeField()
            by_id = models.IntegerField(null=True)
            source_state = models.CharField(max_length=255, null=True, db_index=True)
            state = models.CharField(max_length=255, db_index=True)
            transition = models.CharField(max_length=255)
            content_type_id = models.IntegerField()
            object_id = models.PositiveIntegerField(db_index=True)
            description = models.TextField(null=True)

            class Meta:
                app_label = "workflow"
                db_table = STATELOG_TABLE

            def __str__(self) -> str:
                return f"{self.transition} {self.object_id}"

        with connection.schema_editor() as editor:
            editor.create_model(StateLog)
        try:
            yield StateLog
        finally:
            with connection.schema_editor() as editor:
                editor.delete_model(StateLog)


def _insert(table, **row) -> int:
    """Insert one StateLog row with raw SQL, as django-fsm-log's signal handler left it."""
    row["timestamp"] = connection.ops.adapt_datetimefield_value(row["timestamp"])
    columns = ", ".join(connection.ops.quote_name(c) for c in row)
    placeholders = ", ".join(["%s"] * len(row))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(STATELOG_TABLE)} ({columns}) VALUES ({placeholders})",  # noqa: S608
            list(row.values()),
        )
    return table.objects.order_by("-id").values_list("id", flat=True).first()


@pytest.mark.django_db(transaction=True)
def test_migration_turns_every_statelog_row_without_a_decision_into_one(statelog_table, make_staff):
    _migrate(BEFORE)
    clerk = make_staff(Role.CLERK, district="南岗")
    reviewer = make_staff(Role.DISTRICT_REVIEWER, district="南岗")
    city = make_staff(Role.CITY_REVIEWER)
    app_ct = ContentType.objects.get_for_model(Application).pk
    list_ct = ContentType.objects.get_for_model(EligibilityList).pk

    # 1. An application worked through the service: its StateLog rows match its Decisions.
    recorded = item_transition(item=ApplicationFactory(), action=Action.SUBMIT, by=clerk)
    recorded = item_transition(item=recorded, action=Action.APPROVE, by=reviewer)
    for decision in Decision.objects.filter(application=recorded):
        _insert(
            statelog_table,
            timestamp=decision.at - dt.timedelta(milliseconds=300),  # StateLog was written just before
            by_id=decision.actor_id,
            source_state=decision.from_state,
            state=decision.to_state,
            transition="approve" if decision.action == Action.APPROVE else "submit",
            content_type_id=app_ct,
            object_id=recorded.pk,
            description="",
        )
    matched_before = Decision.objects.count()

    # 2. An application whose history only StateLog has: submitted, approved, returned, rejected.
    lost = ApplicationFactory(state=State.REJECTED, created_at=T0 - dt.timedelta(days=1))
    only_statelog = [
        dict(by_id=clerk.pk, source_state="draft", state="pending_district", transition="submit", description=""),
        dict(
            by_id=reviewer.pk,
            source_state="pending_district",
            state="pending_city",
            transition="approve",
            description=None,
        ),
        dict(
            by_id=city.pk,
            source_state="pending_city",
            state="pending_district",
            transition="send_back",
            description="补充营业执照",
        ),
        # An old row (django-fsm-log before 0004 had no source_state): taken from the previous row.
        dict(by_id=reviewer.pk, source_state=None, state="rejected", transition="reject", description="重复申请"),
    ]
    ids = [
        _insert(statelog_table, timestamp=T0 + dt.timedelta(hours=i), content_type_id=app_ct, object_id=lost.pk, **row)
        for i, row in enumerate(only_statelog)
    ]

    # 3. An eligibility list settled by the system (no actor), only in StateLog.
    lst = EligibilityListFactory(state=State.SETTLED, created_at=T0)
    settle_id = _insert(
        statelog_table,
        timestamp=T0 + dt.timedelta(days=3),
        by_id=None,
        source_state="approved",
        state="settled",
        transition="settle",
        content_type_id=list_ct,
        object_id=lst.pk,
        description="Money posted by the relief engine",
    )

    # 4. A row of an item deleted since: nothing can carry it; it stays in the old table.
    _insert(
        statelog_table,
        timestamp=T0,
        by_id=clerk.pk,
        source_state="draft",
        state="pending_district",
        transition="submit",
        content_type_id=app_ct,
        object_id=999_999,
        description="",
    )

    _migrate(AFTER)

    # The matched rows made no second Decision.
    assert Decision.objects.filter(application=recorded).count() == 2
    migrated = Decision.objects.filter(snapshot__migrated_from="django_fsm_log.StateLog")
    assert migrated.count() == len(only_statelog) + 1
    assert Decision.objects.count() == matched_before + len(only_statelog) + 1

    trail = list(Decision.objects.filter(application=lost).order_by("at", "id"))
    assert [(d.action, d.from_state, d.to_state) for d in trail] == [
        (Action.SUBMIT, State.DRAFT, State.PENDING_DISTRICT),
        (Action.APPROVE, State.PENDING_DISTRICT, State.PENDING_CITY),
        (Action.RETURN, State.PENDING_CITY, State.PENDING_DISTRICT),
        (Action.REJECT, State.PENDING_DISTRICT, State.REJECTED),
    ]
    assert [d.actor_id for d in trail] == [clerk.pk, reviewer.pk, city.pk, reviewer.pk]
    assert [d.at for d in trail] == [T0 + dt.timedelta(hours=i) for i in range(4)]
    assert [d.reason for d in trail] == ["", "", "补充营业执照", "重复申请"]
    assert [d.level for d in trail] == ["report_1", "report_2", "approval_1", "report_2"]
    assert [d.snapshot["statelog_id"] for d in trail] == ids
    # A reject needs a code; StateLog had none: "other", and the snapshot says it was assumed.
    assert trail[-1].reason_code == ReasonCode.OTHER and trail[-1].snapshot["reason_code_assumed"] is True
    # arrived_at chains the migrated history: creation, then each previous decision.
    assert [d.arrived_at for d in trail] == [lost.created_at] + [d.at for d in trail[:-1]]

    settled = Decision.objects.get(eligibility_list=lst)
    assert (settled.action, settled.level, settled.actor_id) == (Action.SETTLE, "system", None)
    assert (settled.from_state, settled.to_state, settled.at) == (
        State.APPROVED,
        State.SETTLED,
        T0 + dt.timedelta(days=3),
    )
    assert settled.policy_reason == "Money posted by the relief engine"
    assert settled.snapshot["statelog_id"] == settle_id

    # The old table is left as it was (documented): every row is still there.
    assert statelog_table.objects.count() == 2 + len(only_statelog) + 2

    # Reversing removes exactly what the migration added; forward again gives the same trail.
    _migrate(BEFORE)
    assert Decision.objects.count() == matched_before
    _migrate(AFTER)
    assert Decision.objects.count() == matched_before + len(only_statelog) + 1


@pytest.mark.django_db(transaction=True)
def test_migration_without_the_statelog_table_changes_nothing(make_staff):
    """A fresh install never had django-fsm-log's table: the migration only checks for it."""
    assert STATELOG_TABLE not in connection.introspection.table_names()
    clerk = make_staff(Role.CLERK, district="南岗")
    item_transition(item=ApplicationFactory(), action=Action.SUBMIT, by=clerk)
    before = list(Decision.objects.values_list("pk", "action", "at"))
    _migrate(BEFORE)
    _migrate(AFTER)
    assert list(Decision.objects.values_list("pk", "action", "at")) == before


def test_django_fsm_log_is_gone():
    assert not installed_apps.is_installed("django_fsm_log")
    assert importlib.util.find_spec("django_fsm_log") is None


@pytest.mark.django_db
def test_every_transition_writes_exactly_one_decision_and_no_statelog(make_staff):
    clerk = make_staff(Role.CLERK, district="南岗")
    steps = [
        (Action.SUBMIT, clerk, ""),
        (Action.APPROVE, make_staff(Role.DISTRICT_REVIEWER, district="南岗"), ""),
        (Action.RETURN, make_staff(Role.CITY_REVIEWER), "补充材料"),
    ]
    item = ApplicationFactory(created_by=clerk)
    for action, by, reason in steps:
        before = Decision.objects.count()
        item = item_transition(item=item, action=action, by=by, reason=reason)
        assert Decision.objects.count() == before + 1
        decision = Decision.objects.latest("at", "id")
        assert (decision.application_id, decision.action, decision.actor_id, decision.reason) == (
            item.pk,
            action,
            by.pk,
            reason,
        )
        assert decision.to_state == item.state
    item = item_transition(item=item, action=Action.REJECT, by=steps[1][1], reason="重复", reason_code="duplicate")
    item = ApplicationFactory(created_by=clerk)
    item_transition(item=item, action=Action.WITHDRAW, by=clerk)
    assert Decision.objects.filter(application=item).count() == 1
    assert STATELOG_TABLE not in connection.introspection.table_names()


@pytest.mark.django_db
def test_a_transition_whose_decision_fails_changes_nothing(make_staff, monkeypatch):
    """Transition and Decision are one atomic write: no Decision, no change of state."""
    clerk = make_staff(Role.CLERK, district="南岗")
    item = ApplicationFactory()

    def refuse(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(Decision.objects, "create", refuse)
    with pytest.raises(DatabaseError):
        item_transition(item=item, action=Action.SUBMIT, by=clerk)
    item.refresh_from_db()
    assert item.state == State.DRAFT and item.submitted_by_id is None
    assert not Decision.objects.exists()
