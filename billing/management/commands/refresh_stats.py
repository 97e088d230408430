"""``manage.py refresh_stats [--check]``: rebuild the dashboard's summary rows from the ledger.

The posting keeps the rows up to date chunk by chunk (``billing.stats.stats_refresh``); a full
rebuild is for after imports of customers or bills (a new bill or a changed account moves the
arrears-protection figures without any posting), after a restore of the database, or to be sure.
``--check`` rebuilds nothing: it recomputes every cell from the ledger and the bills and reports
any cell that differs (exit status 1), which should never happen.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from billing import stats


class Command(BaseCommand):
    help = "Rebuild the dashboard's summary rows from the ledger and the bills (or --check them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Compare the summary rows with the ledger; change nothing."
        )

    def handle(self, *args, check: bool = False, **options):
        started = time.perf_counter()
        if check:
            differences = stats.stats_check()
            for line in differences[:50]:
                self.stdout.write(line)
            if differences:
                raise CommandError(f"{len(differences)} summary cells differ from the ledger")
            self.stdout.write(self.style.SUCCESS("Every summary cell equals the ledger to the fen."))
            return
        result = stats.stats_refresh()
        seconds = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Summary rows rebuilt: {result.account_months} account-months, {result.cells_changed} cells "
                f"in {seconds:.1f} s."
            )
        )
