"""``manage.py load_demo [--accounts N] [--seed S]``: deterministic demo data for a demo or a dev box.

Loads (idempotently) the GB/T 4754-2017 industries and the demo tariffs, generates N accounts in
every district and category with their bills for 2020-01 … 2020-12 (``billing.demo``), feeds them
as CSV text through the real imports (``billing.imports``, interfaces.md §1), and creates a demo
member of staff for every role. A second run with the same options changes nothing and says so.

The staff password is a published demo password: never run this against a real installation.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.demo import DEFAULT_ACCOUNTS, DEFAULT_SEED, generate
from billing.reference import load_demo_tariffs, load_industries
from portal.models import District, User
from portal.roles import Role
from portal.services import staff_upsert

DEMO_PASSWORD = "demo-pass-2020"  # noqa: S105 - a published demo password, printed on purpose
# Chinese display names for the demo staff (first_name), by role.
ROLE_TITLES = {
    Role.CLERK: "受理员",
    Role.DISTRICT_REVIEWER: "区县审核",
    Role.CITY_REVIEWER: "营销部专责",
    Role.DEPARTMENT_HEAD: "营销部主任",
    Role.LEADER: "分管领导",
    Role.MANAGER: "管理人员",
    Role.ADMIN: "系统管理员",
}


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    district: District | None

    @property
    def title(self) -> str:
        title = ROLE_TITLES[Role(self.role)]
        return f"{self.district.name}{title}" if self.district else title


def demo_staff(districts: list[District]) -> list[DemoStaff]:
    """A clerk and a district reviewer per district, and one person for each city-level role."""
    staff = []
    for district in districts:
        staff.append(DemoStaff(f"clerk_{district.code}", Role.CLERK.value, district))
        staff.append(DemoStaff(f"reviewer_{district.code}", Role.DISTRICT_REVIEWER.value, district))
    for role in (Role.CITY_REVIEWER, Role.DEPARTMENT_HEAD, Role.LEADER, Role.MANAGER, Role.ADMIN):
        staff.append(DemoStaff(role.value, role.value, None))
    return staff


class Command(BaseCommand):
    help = (
        "Load deterministic demo data (示例数据): industries, demo tariffs, accounts with 2020 bills "
        "through the CSV imports, and demo staff for every role (password demo-pass-2020)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--accounts", type=int, default=DEFAULT_ACCOUNTS, help=f"number of accounts (default {DEFAULT_ACCOUNTS})"
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"random seed of the generator (default {DEFAULT_SEED})"
        )

    def handle(self, *args, accounts: int, seed: int, verbosity: int, **options):
        from billing.imports import ImportFailed, import_bills, import_customers

        if accounts < 0:
            raise CommandError("--accounts must not be negative")
        districts = list(District.objects.order_by("sort_order", "code"))
        if not districts:
            raise CommandError("no districts: run `manage.py migrate` first")

        industries = load_industries()
        tariffs = load_demo_tariffs()
        self.stdout.write(f"industries (GB/T 4754-2017): {industries}")
        self.stdout.write(f"demo tariffs (示例数据，非官方电价): {tariffs}")

        data = generate(accounts=accounts, seed=seed, districts=[d.name for d in districts])
        self.stdout.write(f"generated {len(data.accounts):,} accounts and {len(data.bills):,} bills (seed {seed})")
        customer_bar = self._progress(len(data.accounts), verbosity)
        bill_bar = self._progress(len(data.bills), verbosity)
        try:
            # One transaction: a rejected bills file must not leave the customers half-changed.
            with transaction.atomic():
                customers = import_customers(io.StringIO(data.customers_csv()), progress=customer_bar)
                bills = import_bills(io.StringIO(data.bills_csv()), progress=bill_bar)
        except ImportFailed as exc:
            raise CommandError(
                "the demo data was rejected and nothing was imported (was other demo data loaded with another "
                f"--seed?):\n{exc.report()}"
            ) from exc
        finally:
            for bar in (customer_bar, bill_bar):
                if bar is not None:
                    bar.close()
        for result in (customers, bills):
            self.stdout.write(
                f"{result.kind}: {result.created:,} created, {result.updated:,} updated, "
                f"{result.unchanged:,} unchanged ({result.seconds:.1f} s)"
            )

        if customers.created + customers.updated + bills.created:
            # The imports queue a rebuild of the dashboard's summary rows for the worker; the demo's
            # dashboard should be right at once, worker or not (a few seconds at this size).
            from billing.stats import stats_refresh

            refreshed = stats_refresh()
            self.stdout.write(f"dashboard summary rows: {refreshed.account_months:,} account-months")

        staff = demo_staff(districts)
        created, updated = self._staff(staff)
        self.stdout.write(
            f"demo staff: {created} created, {updated} updated, {len(staff) - created - updated} unchanged"
        )

        changes = industries.changed + tariffs.changed + customers.created + customers.updated + bills.created
        changes += created + updated
        if changes:
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        else:
            self.stdout.write(self.style.SUCCESS("Nothing to do: the demo data is already loaded; nothing changed."))
        self._print_logins(staff)

    def _progress(self, total: int, verbosity: int):
        if verbosity < 1 or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit=" rows", leave=False)

    def _staff(self, staff: list[DemoStaff]) -> tuple[int, int]:
        """Create missing demo staff with the demo password; put existing ones in their role
        (keeping the password they have). Returns (created, updated)."""
        created = updated = 0
        existing = {u.username: u for u in User.objects.filter(username__in=[s.username for s in staff])}
        with transaction.atomic():
            for person in staff:
                user = existing.get(person.username)
                wanted_district = person.district.pk if person.district else None
                if user is not None and user.roles == {person.role} and user.district_id == wanted_district:
                    pass
                else:
                    user, was_created = staff_upsert(
                        username=person.username,
                        roles=[person.role],
                        district=person.district,
                        password=DEMO_PASSWORD if user is None else None,
                    )
                    created += was_created
                    updated += not was_created
                # A display name, only where none is set (never overwrites a real one).
                User.objects.filter(pk=user.pk, first_name="").update(first_name=person.title)
        return created, updated

    def _print_logins(self, staff: list[DemoStaff]) -> None:
        self.stdout.write("")
        self.stdout.write(
            self.style.WARNING(f"DEMO LOGINS — password for all: {DEMO_PASSWORD} (demo only, never in production)")
        )
        for person in staff:
            where = f"  {person.district.name}" if person.district else ""
            self.stdout.write(f"  {person.username:<22} {person.role:<18}{where}")
