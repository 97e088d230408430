"""``manage.py import_customers customers.csv`` (interfaces.md §1).

The logic lives in ``billing.imports``; this module holds the command and ``ImportCommand``, the
shared command-line handling of both imports (file opening, progress bar, summary, errors).
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from tqdm import tqdm

from billing.imports import ImportFailed, ImportProgress, ImportResult, import_customers


def count_data_lines(path: Path) -> int:
    """Lines after the header (a close estimate of rows, for the progress bar's total)."""
    lines = 0
    last = b"\n"
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1  # no newline after the last line
    return max(lines - 1, 0)


class ImportCommand(BaseCommand):
    """Run an import service on a CSV file given on the command line (``-`` reads standard input)."""

    service: Callable[..., ImportResult]
    file_help = "CSV file (UTF-8, header row)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help=f"{self.file_help}; - reads standard input")
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show a progress bar on standard error (default: when it is a terminal and verbosity > 0)",
        )

    def handle(self, *args: Any, file: str, progress: bool | None, verbosity: int, **options: Any) -> None:
        show = progress if progress is not None else (verbosity > 0 and self.stderr.isatty())
        name = _("standard input") if file == "-" else file
        try:
            if file == "-":
                stream: Iterable[str] = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
                result = self._run(stream, total=None, show=show)
            else:
                path = Path(file)
                total = count_data_lines(path) if show else None
                with path.open(encoding="utf-8-sig", newline="") as stream:
                    result = self._run(stream, total=total, show=show)
        except OSError as exc:
            message = _("%(file)s: cannot read: %(error)s") % {"file": name, "error": exc.strerror or exc}
            raise CommandError(message) from exc
        except ImportFailed as exc:
            message = ngettext(
                "%(file)s: rejected, nothing was imported (%(count)d error):",
                "%(file)s: rejected, nothing was imported (%(count)d errors):",
                exc.total,
            ) % {"file": name, "count": exc.total}
            raise CommandError(f"{message}\n{exc.report()}") from exc
        if verbosity > 0:
            self.stdout.write(self.style.SUCCESS(f"{name}: {result.summary()}"))

    def _run(self, stream: Iterable[str], *, total: int | None, show: bool) -> ImportResult:
        service = type(self).service
        if not show:
            return service(stream)
        out = getattr(self.stderr, "_out", sys.stderr)  # the raw stream: tqdm writes carriage returns
        with tqdm(total=total, unit=" rows", file=out, dynamic_ncols=True) as bar:
            bar_progress: ImportProgress = bar
            return service(stream, progress=bar_progress)


class Command(ImportCommand):
    help = "Import customer accounts from a CSV file, all or nothing; re-importing the same rows changes nothing."
    service = staticmethod(import_customers)
    file_help = "customers CSV (interfaces.md §1)"
