"""``manage.py import_bills bills.csv`` (interfaces.md §1): bills as billed, immutable once imported."""

from billing.imports import import_bills
from billing.management.commands.import_customers import ImportCommand


class Command(ImportCommand):
    help = (
        "Import monthly bills from a CSV file, all or nothing. Every account must exist; a bill already "
        "imported with other amounts rejects the file (bills are immutable, corrections are credits)."
    )
    service = staticmethod(import_bills)
    file_help = "bills CSV (interfaces.md §1)"
