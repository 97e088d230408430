"""Migrations keep data: a database at an earlier schema, with data in it, migrated to today's.

The earlier schema is the one at the start of the go-live work (portal 0003, billing 0011,
workflow 0003): before the change history, the pre-screen runs and the one audit trail. Rows are
written through that schema's own (historical) models, every migration since is applied, and every
row is found again, unchanged, through today's models. A new restructuring that moves models
between apps adds its starting point to ``STARTS`` and must pass the same check.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

STARTS = {
    "before go-live (session 3)": [
        ("portal", "0003_heartbeat"),
        ("billing", "0011_ledger_other_kinds"),
        ("workflow", "0003_decision_arrived_at"),
    ],
}


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def _write_rows(apps) -> dict:
    """Staff, an account with a bill, a ledger entry, an application and its decision, at the old schema."""
    District = apps.get_model("portal", "District")
    User = apps.get_model("portal", "User")
    Account = apps.get_model("billing", "Account")
    Bill = apps.get_model("billing", "Bill")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    PostingJob = apps.get_model("billing", "PostingJob")
    Application = apps.get_model("workflow", "Application")
    Decision = apps.get_model("workflow", "Decision")

    district = District.objects.get(name="南岗")
    clerk = User.objects.create(username="old_clerk", first_name="老受理员", district=district, password="!")
    reviewer = User.objects.create(username="old_reviewer", district=district, password="!")
    account = Account.objects.create(
        account_no="2309999001",
        name="迁移测试商店",
        district=district,
        category="general_commercial",
        industry_code="5211",
        voltage_kv=Decimal("0.4"),
        capacity_kva=Decimal("0"),
    )
    bill = Bill.objects.create(
        account=account,
        period=dt.date(2020, 2, 1),
        energy_kwh=Decimal("1400"),
        energy_charge=Decimal("1234.50"),
        basic_charge=Decimal("0.00"),
        power_factor_rate=Decimal("0"),
        power_factor_charge=Decimal("0.00"),
        late_fee=Decimal("0.00"),
        paid=Decimal("1234.50"),
    )
    job = PostingJob.objects.create(cause_type="eligibility_list", cause_id=1, state="done")
    entry = LedgerEntry.objects.create(
        account=account,
        bill=bill,
        period=bill.period,
        kind="discount",
        seq=1,
        amount=Decimal("61.73"),
        cause_type="eligibility_list",
        cause_id=1,
        job_id=job.pk,
    )
    at = timezone.now() - dt.timedelta(days=3)
    application = Application.objects.create(
        district=district,
        created_by=clerk,
        submitted_by=clerk,
        kind="arrears_protection",
        account=account,
        channel="counter",
        state="pending_city",
        state_changed_at=at,
    )
    decisions = [
        Decision.objects.create(
            application=application,
            level="report_1",
            action="submit",
            from_state="draft",
            to_state="pending_district",
            actor=clerk,
            at=at - dt.timedelta(hours=2),
        ),
        Decision.objects.create(
            application=application,
            level="report_2",
            action="approve",
            from_state="pending_district",
            to_state="pending_city",
            actor=reviewer,
            reason="核实无误",
            at=at,
        ),
    ]
    return {
        "users": {clerk.pk: ("old_clerk", "老受理员"), reviewer.pk: ("old_reviewer", "")},
        "account": (account.pk, "2309999001", "迁移测试商店"),
        "bill": (bill.pk, Decimal("1234.50")),
        "entry": (entry.pk, Decimal("61.73"), "discount"),
        "application": (application.pk, "pending_city"),
        "decisions": [(d.pk, d.action, d.actor_id, d.reason) for d in decisions],
    }


@pytest.mark.parametrize("start", list(STARTS))
@pytest.mark.django_db(transaction=True)
def test_every_row_survives_the_migrations_since(start):
    old_apps = _migrate(STARTS[start])
    written = _write_rows(old_apps)
    counts_before = {
        (label, name): old_apps.get_model(label, name).objects.count()
        for label, name in [
            ("portal", "User"),
            ("portal", "District"),
            ("billing", "Account"),
            ("billing", "Bill"),
            ("billing", "LedgerEntry"),
            ("billing", "Policy"),
            ("billing", "Tariff"),
            ("workflow", "Application"),
            ("workflow", "Decision"),
        ]
    }

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from django.apps import apps

    for (label, name), count in counts_before.items():
        assert apps.get_model(label, name).objects.count() == count, (label, name)

    from billing.models import Account, Bill, LedgerEntry
    from organisation.models import User
    from workflow.models import Application, Decision

    for pk, (username, first_name) in written["users"].items():
        user = User.objects.get(pk=pk)
        assert (user.username, user.first_name) == (username, first_name)
    account_pk, account_no, name = written["account"]
    assert Account.objects.filter(pk=account_pk, account_no=account_no, name=name).exists()
    bill_pk, energy = written["bill"]
    assert Bill.objects.get(pk=bill_pk).energy_charge == energy
    entry_pk, amount, kind = written["entry"]
    entry = LedgerEntry.objects.get(pk=entry_pk)
    assert (entry.amount, entry.kind, entry.account_id) == (amount, kind, account_pk)
    application_pk, state = written["application"]
    assert Application.objects.get(pk=application_pk).state == state
    assert [
        (d.pk, d.action, d.actor_id, d.reason)
        for d in Decision.objects.filter(application_id=application_pk).order_by("at")
    ] == written["decisions"]
    # The change history starts from what was there: one record per existing staff member.
    assert User.history.filter(id__in=written["users"]).count() == len(written["users"])
