"""``manage.py load_demo [--accounts N] [--seed S]``: deterministic demo data for a demo or a dev box.

Loads (idempotently) the GB/T 4754-2017 industries and the demo tariffs, generates N accounts in
every district and category with their bills for 2020-01 … 2020-12 (``billing.demo``), feeds them
as CSV text through the real imports (``billing.imports``, interfaces.md §1), creates a demo
member of staff for every role, then pre-screens the district eligibility lists and works the
approval chain as the demo staff (``workflow.demo``): items wait at every level, some are settled
with their money posted in this process, and the dashboard's summary rows are brought up to date.
A second run with the same options changes nothing and says so.

It lives in the workflow app because it drives the chain; billing (below workflow) keeps the
generation of accounts and bills (``billing.demo``).

The staff password is a published demo password: never run this against a real installation.
"""

from __future__ import annotations

import io
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.demo import DEFAULT_ACCOUNTS, DEFAULT_SEED, generate
from billing.reference import load_demo_tariffs, load_industries
from organisation.models import District, User
from organisation.services import staff_upsert
from workflow.demo import DEMO_PASSWORD, DemoStaff, chain_seed, demo_chain_counts, demo_staff


class Command(BaseCommand):
    help = (
        "Load deterministic demo data (示例数据): industries, demo tariffs, accounts with 2020 bills "
        "through the CSV imports, demo staff for every role (password demo-pass-2020), pre-screened "
        "eligibility lists and items at every level of the approval chain."
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

        started = time.perf_counter()
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

        staff = demo_staff(districts)
        created, updated = self._staff(staff)
        self.stdout.write(
            f"demo staff: {created} created, {updated} updated, {len(staff) - created - updated} unchanged"
        )

        chain = chain_seed(districts=districts)
        self._report_chain(chain)

        changes = industries.changed + tariffs.changed + customers.created + customers.updated + bills.created
        changes += created + updated + chain.changed
        if changes:
            # The imports queue a rebuild of the dashboard's summary rows for the worker; the demo's
            # dashboard should be right at once, worker or not (a few seconds at this size).
            from billing.stats import stats_refresh

            refreshed = stats_refresh()
            self.stdout.write(f"dashboard summary rows: {refreshed.account_months:,} account-months")
        self.stdout.write(f"load_demo took {time.perf_counter() - started:.1f} s")
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

    def _report_chain(self, chain) -> None:
        past = [r for r in chain.prescreen if r.state != "draft"]
        self.stdout.write(
            f"eligibility lists (discount-2020): {chain.lists_created} created, {chain.lists_refreshed} refreshed, "
            f"{len(chain.prescreen) - len(past) - chain.lists_created - chain.lists_refreshed} unchanged drafts, "
            f"{len(past)} past draft left as they are"
        )
        if not chain.seeded:
            self.stdout.write("approval chain: already worked by the demo staff, left as it is")
            return
        self.stdout.write(
            f"approval chain: {chain.lists_moved} lists moved on, {chain.applications} applications entered, "
            f"{chain.decisions} decisions, {chain.entries_posted:,} ledger entries posted"
        )
        for name, states in demo_chain_counts().items():
            self.stdout.write(f"  {name}: " + ", ".join(f"{state} {n}" for state, n in states.items()))
        if chain.skipped:
            self.stdout.write(f"  no fitting account (too few accounts) for: {', '.join(chain.skipped)}")

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
