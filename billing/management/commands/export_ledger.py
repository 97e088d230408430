"""``python manage.py export_ledger [--account ACCOUNT_NO] [--cause-type TYPE]`` (interfaces.md §1).

Writes the ledger as CSV (UTF-8, header row, comma-separated) to standard output:
``account_no,period,kind,amount,cause_type,cause_id,posted_at`` — period ``YYYY-MM``, amount a
decimal string with two places (negative: a correction), posted_at ISO 8601 in the portal's time
zone with its offset. Rows are ordered by account_no, period, kind and posting number, and streamed
from the database (bounded memory whatever the size of the ledger).
"""

from __future__ import annotations

import csv
import io

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.ledger import LEDGER_COLUMNS, cause_type_error, ledger_export_rows
from billing.models import Account, CauseType, period_label

# Rows written to stdout at a time.
FLUSH_EVERY = 5000


class Command(BaseCommand):
    help = "Write the ledger as CSV to standard output: " + ",".join(LEDGER_COLUMNS) + "."

    def add_arguments(self, parser):
        parser.add_argument("--account", metavar="ACCOUNT_NO", help="Only this account's entries (户号).")
        parser.add_argument(
            "--cause-type",
            metavar="TYPE",
            help="Only entries caused by this type: " + ", ".join(CauseType.values) + ".",
        )

    def handle(self, *args, account=None, cause_type=None, **options):
        account_obj = None
        if account is not None:
            account_obj = Account.objects.filter(account_no=account).first()
            if account_obj is None:
                raise CommandError(f"Unknown account {account!r}: no account has this number.")
        if cause_type is not None and cause_type not in CauseType.values:
            raise CommandError(cause_type_error(cause_type))

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(LEDGER_COLUMNS)
        rows = ledger_export_rows(account=account_obj, cause_type=cause_type)
        for count, (account_no, period, kind, amount, ctype, cause_id, posted_at) in enumerate(rows, start=1):
            writer.writerow(
                (
                    account_no,
                    period_label(period),
                    kind,
                    f"{amount:.2f}",
                    ctype,
                    cause_id,
                    timezone.localtime(posted_at).isoformat(),
                )
            )
            if count % FLUSH_EVERY == 0:
                self._flush(buffer)
        self._flush(buffer)

    def _flush(self, buffer: io.StringIO) -> None:
        self.stdout.write(buffer.getvalue(), ending="")
        buffer.seek(0)
        buffer.truncate()
