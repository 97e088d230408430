"""Customer and bill imports (interfaces.md §1): CSV in, all-or-nothing, idempotent, bounded memory.

How an import runs, inside one ``transaction.atomic()``:

1. The CSV is streamed with the ``csv`` module (never read whole). Each row's format is checked in
   Python; a valid row becomes one tuple of strings that goes straight into a TEMPORARY staging
   table together with its physical line number (PostgreSQL: one ``COPY … FROM STDIN`` fed while
   reading; SQLite: ``executemany`` in chunks). No per-row model instances, no per-row queries.
2. The target table is locked against other writers (PostgreSQL ``SHARE ROW EXCLUSIVE``: readers
   are not blocked; two imports run one after the other), so that what the checks see is what
   the writes find. The checks that need other rows or the database then run set-based in SQL:
   duplicates in the file (window function), unknown accounts (LEFT JOIN), bills already
   imported with other amounts (JOIN). Each check returns its first errors by line and a count.
3. If any check failed, ``ImportFailed`` is raised inside the atomic block, so nothing is written.
   Otherwise ``UPDATE … FROM`` (customers that changed) and ``INSERT … SELECT … WHERE NOT EXISTS``
   (new rows) write everything in a few statements. (No ``ON CONFLICT``: under the lock it could
   never fire, and on PostgreSQL its speculative insertion made the bills insert ~20% slower.)

The same SQL serves PostgreSQL and SQLite; the vendor branches are the staging load (COPY vs
executemany), the table lock, ``ANALYZE``/``work_mem`` on PostgreSQL, and the month-to-date
expression. SQLite needs no lock: it has one writer at a time (transactions begin IMMEDIATE).

Blank cells are staged as ``''`` (never NULL); nullable numeric columns are staged as text and
converted with ``CAST(NULLIF(x, '') AS numeric)``. Amounts are validated as decimal strings and
handed to the database as strings: no float ever touches them, and nothing is rounded.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any, Protocol

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.industry import is_high_energy, is_valid_industry_code
from billing.models import (
    VOLTAGES_KV,
    Account,
    BasicChargeMethod,
    Bill,
    Category,
    EnterpriseSize,
    Grant,
    PriorityRole,
)
from billing.services import job_for_new_bills, stats_refresh_after_commit
from organisation.models import District

# How many errors a failed import lists before "… and N more".
MAX_REPORTED_ERRORS = 20
# Rows per executemany batch (SQLite) and per progress update.
CHUNK_ROWS = 10_000
# PostgreSQL memory for the import's sorts and hash joins (SET LOCAL: this transaction only).
PG_WORK_MEM = "64MB"

CUSTOMER_COLUMNS = (
    "account_no",
    "name",
    "district",
    "category",
    "industry_code",
    "voltage_kv",
    "basic_charge_method",
    "capacity_kva",
    "contract_demand_kw",
    "enterprise_size",
    "priority_role",
)
BILL_COLUMNS = (
    "account_no",
    "period",
    "energy_kwh",
    "energy_charge",
    "basic_rate",
    "max_demand_kw",
    "basic_charge",
    "power_factor_rate",
    "power_factor_charge",
    "late_fee",
    "paid",
)
# Categories whose accounts must carry an industry code (the 95% rule is decided by it).
CATEGORIES_NEEDING_INDUSTRY = frozenset({Category.GENERAL_COMMERCIAL.value, Category.LARGE_INDUSTRIAL.value})


# --- Results and errors ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportRowError:
    """One reason a file was rejected: the physical line (header = 1), the column, the reason."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("line %(line)d, column %(column)s: %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return _("line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


class ImportFailed(Exception):
    """The file was rejected and nothing was written.

    ``errors`` holds the first ``MAX_REPORTED_ERRORS`` errors in line order; ``total`` counts all.
    """

    def __init__(self, errors: list[ImportRowError], *, total: int | None = None) -> None:
        self.errors = errors
        self.total = max(total or 0, len(errors))
        super().__init__(self.report())

    def report(self) -> str:
        lines = [str(error) for error in self.errors]
        if self.total > len(self.errors):
            lines.append(_("… and %(count)d more") % {"count": self.total - len(self.errors)})
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did. ``rows`` counts the data rows of the file."""

    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return _(
            "%(rows)s rows: %(created)s created, %(updated)s updated, %(unchanged)s unchanged "
            "in %(seconds).1f s (%(rate)s rows/s)"
        ) % {
            "rows": f"{self.rows:,}",
            "created": f"{self.created:,}",
            "updated": f"{self.updated:,}",
            "unchanged": f"{self.unchanged:,}",
            "seconds": self.seconds,
            "rate": f"{self.rows_per_second:,.0f}",
        }


class ImportProgress(Protocol):
    """What an import reports progress to; a ``tqdm`` bar fits."""

    def update(self, n: int) -> object: ...

    def set_description(self, desc: str) -> object: ...


class _Errors:
    """Keeps the first errors (in the order found, which is line order) and counts them all."""

    __slots__ = ("first", "count")

    def __init__(self) -> None:
        self.first: list[ImportRowError] = []
        self.count = 0

    def add(self, line: int, column: str | None, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_REPORTED_ERRORS:
            self.first.append(ImportRowError(line, column, message))

    def merge(self, count: int, errors: Iterable[ImportRowError]) -> None:
        """Add the result of a set-based check (its first errors by line, and its count)."""
        self.count += count
        self.first = sorted([*self.first, *errors], key=lambda e: e.line)[:MAX_REPORTED_ERRORS]

    def raise_if_any(self) -> None:
        if self.count:
            raise ImportFailed(self.first, total=self.count)


# --- Field formats -----------------------------------------------------------------------------
#
# Each pattern describes the canonical spelling that is staged as is. A value that does not match
# goes through the slow path, which strips blanks, accepts harmless variants (``1200.00`` kWh) and
# otherwise says precisely what is wrong.

ACCOUNT_NO = r"\d{10}"
PERIOD = r"[12]\d{3}-(?:0[1-9]|1[0-2])"
_DECIMAL_RE = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?", re.ASCII)


@dataclass(frozen=True, slots=True)
class _Number:
    """A decimal column: ``places`` after the point, ``digits`` before it, optional sign/blank."""

    what: Any  # a lazily translated description
    places: int
    digits: int
    signed: bool = False
    blank: bool = False
    pattern: str = field(init=False)

    def __post_init__(self) -> None:
        sign = "-?" if self.signed else ""
        frac = rf"(?:\.\d{{1,{self.places}}})?" if self.places else ""
        body = rf"{sign}\d{{1,{self.digits}}}{frac}"
        object.__setattr__(self, "pattern", rf"(?:{body})?" if self.blank else body)

    def check(self, value: str) -> str:
        """The value to stage, or ``ValueError`` saying why it is not acceptable."""
        if not value:
            if self.blank:
                return ""
            raise ValueError(_("required: %(what)s") % {"what": self.what})
        match = _DECIMAL_RE.fullmatch(value)
        if not match or not (match[2] or match[3]) or match[3] == "":
            raise ValueError(_("'%(value)s' is not %(what)s") % {"value": value, "what": self.what})
        sign, whole, frac = match[1], match[2] or "0", match[3] or ""
        if sign == "-" and not self.signed and (whole.strip("0") or frac.strip("0")):
            raise ValueError(_("'%(value)s' is negative; expected %(what)s") % {"value": value, "what": self.what})
        if len(frac) > self.places:
            if not self.places and not frac.strip("0"):
                frac = ""  # 1200.00 kWh is a whole number written with a point
            elif not self.places:
                raise ValueError(_("'%(value)s' is not %(what)s") % {"value": value, "what": self.what})
            else:
                raise ValueError(
                    _("'%(value)s' has %(n)d decimal places, at most %(places)d allowed (values are never rounded)")
                    % {"value": value, "n": len(frac), "places": self.places}
                )
        whole = whole.lstrip("0") or "0"
        if len(whole) > self.digits:
            raise ValueError(_("'%(value)s' is too large for %(what)s") % {"value": value, "what": self.what})
        sign = "-" if sign == "-" and self.signed else ""
        return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


_YUAN = gettext_lazy("an amount in yuan with at most 2 decimal places")
AMOUNT = _Number(_YUAN, places=2, digits=12)
SIGNED_AMOUNT = _Number(_YUAN, places=2, digits=12, signed=True)
KWH = _Number(gettext_lazy("a whole number of kWh"), places=0, digits=14)
KW_OR_BLANK = _Number(gettext_lazy("a whole number of kW"), places=0, digits=10, blank=True)
RATE_OR_BLANK = _Number(gettext_lazy("a rate with at most 4 decimal places"), places=4, digits=6, blank=True)
SIGNED_RATE = _Number(
    gettext_lazy("a rate with at most 4 decimal places, e.g. -0.0075"), places=4, digits=3, signed=True
)
KVA = _Number(gettext_lazy("a whole number of kVA (0 if none)"), places=0, digits=10)

# Bills: one format per column, in BILL_COLUMNS order (account_no and period handled apart).
_BILL_NUMBERS: tuple[tuple[str, _Number], ...] = (
    ("energy_kwh", KWH),
    ("energy_charge", AMOUNT),
    ("basic_rate", RATE_OR_BLANK),
    ("max_demand_kw", KW_OR_BLANK),
    ("basic_charge", AMOUNT),
    ("power_factor_rate", SIGNED_RATE),
    ("power_factor_charge", SIGNED_AMOUNT),
    ("late_fee", AMOUNT),
    ("paid", AMOUNT),
)
# The whole canonical row in one regular expression: the fast path for a clean file.
_BILL_ROW_RE = re.compile(
    "\t".join([ACCOUNT_NO, PERIOD, *(number.pattern for _column, number in _BILL_NUMBERS)]), re.ASCII
)
_ACCOUNT_NO_RE = re.compile(ACCOUNT_NO, re.ASCII)
_PERIOD_RE = re.compile(PERIOD, re.ASCII)
_VOLTAGE_RE = re.compile(r"\d{1,4}(?:\.\d{1,3})?", re.ASCII)
# Accepted voltages by value (10 and 10.0 are the same) and the spelling staged for each.
_VOLTAGES = {voltage: str(voltage) for voltage in VOLTAGES_KV}


def _choices(values: Iterable[str]) -> str:
    return ", ".join(values)


# --- Reading and staging ----------------------------------------------------------------------


def _vendor() -> str:
    return connection.vendor


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


class _Staging:
    """A TEMPORARY table filled row by row: COPY on PostgreSQL, batched executemany elsewhere."""

    def __init__(self, cursor: Any, table: str, columns: Sequence[tuple[str, str]]) -> None:
        self.cursor = cursor
        self.table = table
        self.columns = columns
        self._buffer: list[tuple[Any, ...]] = []
        self._copy_cm: Any = None
        self.add: Callable[[tuple[Any, ...]], object] = self._buffer.append

    def __enter__(self) -> _Staging:
        table = _qn(self.table)
        self.cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608 - identifiers are ours
        ddl = ", ".join(f"{_qn(name)} {sql_type}" for name, sql_type in self.columns)
        self.cursor.execute(f"CREATE TEMPORARY TABLE {table} ({ddl})")
        names = ", ".join(_qn(name) for name, _type in self.columns)
        if _vendor() == "postgresql":
            self._copy_cm = self.cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN")
            self.add = self._copy_cm.__enter__().write_row
        else:
            marks = ", ".join(["%s"] * len(self.columns))
            self._insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
        return self

    def flush(self) -> None:
        """Send buffered rows (SQLite); a no-op for COPY, which streams by itself."""
        if self._buffer:
            self.cursor.executemany(self._insert, self._buffer)
            self._buffer.clear()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._copy_cm is not None:
            self._copy_cm.__exit__(exc_type, exc, tb)
        elif exc is None:
            self.flush()
        if exc is None and _vendor() == "postgresql":
            self.cursor.execute(f"ANALYZE {_qn(self.table)}")

    def drop(self) -> None:
        self.cursor.execute(f"DROP TABLE IF EXISTS {_qn(self.table)}")


def _read_header(reader: Any, expected: Sequence[str]) -> tuple[int, Callable[[list[str]], Sequence[str]]]:
    """Check the header row; return the row width and a getter of the expected columns in order."""
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed([ImportRowError(1, None, _("the file is empty; expected a header row"))]) from None
    header = [name.strip().lstrip("\ufeff").strip() for name in header]
    missing = [name for name in expected if name not in header]
    if missing:
        message = _("missing columns: %(missing)s (expected: %(expected)s)") % {
            "missing": ", ".join(missing),
            "expected": ", ".join(expected),
        }
        raise ImportFailed([ImportRowError(1, None, message)])
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        message = _("columns named more than once: %(names)s") % {"names": ", ".join(repeated)}
        raise ImportFailed([ImportRowError(1, None, message)])
    indexes = [header.index(name) for name in expected]
    if indexes == list(range(len(header))):
        return len(header), lambda row: row
    return len(header), itemgetter(*indexes)


def _read_rows(
    stream: Iterable[str],
    *,
    columns: Sequence[str],
    handle: Callable[[int, Sequence[str]], tuple[Any, ...] | None],
    stage: _Staging,
    errors: _Errors,
    progress: ImportProgress | None,
) -> int:
    """Stream the CSV through ``handle`` into the staging table; return the number of data rows."""
    reader = csv.reader(stream)
    rows = 0
    try:
        width, pick = _read_header(reader, columns)
        previous = reader.line_num
        add = stage.add
        for row in reader:
            line = previous + 1  # the physical line where this record starts
            previous = reader.line_num
            if len(row) != width:
                if not any(cell.strip() for cell in row):
                    continue  # a blank line
                message = _("expected %(width)d fields as in the header, found %(found)d")
                errors.add(line, None, message % {"width": width, "found": len(row)})
                rows += 1
                continue
            before = errors.count
            values = handle(line, pick(row))
            if values is not None:
                add(values)
            elif errors.count == before:
                continue  # the handler skipped a row of empty cells
            rows += 1
            if rows % CHUNK_ROWS == 0:
                stage.flush()
                if progress is not None:
                    progress.update(CHUNK_ROWS)
    except UnicodeDecodeError:
        # Decoding runs ahead of the reader by a buffer: the bad bytes are at or after this line.
        message = _("not UTF-8 text at or after this line (save the file as CSV UTF-8)")
        errors.add(reader.line_num + 1, None, message)
        errors.raise_if_any()
    except csv.Error as exc:
        errors.add(reader.line_num, None, _("not readable as CSV: %(error)s") % {"error": exc})
        errors.raise_if_any()
    if progress is not None:
        progress.update(rows % CHUNK_ROWS)
    return rows


def _check(cursor: Any, sql: str, params: Sequence[Any], make: Callable[..., ImportRowError], errors: _Errors) -> None:
    """Run a set-based check whose rows are ``(line, …, total)``; merge its errors."""
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    if rows:
        errors.merge(rows[0][-1], [make(*row[:-1]) for row in rows])


def _set_phase(progress: ImportProgress | None, phase: str) -> None:
    if progress is not None:
        progress.set_description(phase)


def _begin(cursor: Any) -> None:
    if _vendor() == "postgresql":
        cursor.execute(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")


def _lock(cursor: Any, table: str) -> None:
    """Keep other writers out of ``table`` until commit; reads go on (SQLite: one writer anyway)."""
    if _vendor() == "postgresql":
        cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def _now_param() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


# --- Customers ---------------------------------------------------------------------------------

_CUSTOMER_STAGE = "billing_import_customers"
# (column, SQL type) of the staging table; the same DDL works on PostgreSQL and SQLite.
_CUSTOMER_STAGE_COLUMNS = (
    ("line", "integer"),
    ("account_no", "text"),
    ("name", "text"),
    ("district_id", "bigint"),
    ("category", "text"),
    ("industry_code", "text"),
    ("high_energy", "boolean"),
    ("voltage_kv", "numeric"),
    ("basic_charge_method", "text"),
    ("capacity_kva", "numeric"),
    ("contract_demand_kw", "text"),
    ("enterprise_size", "text"),
    ("priority_role", "text"),
)
# Account columns written from the staging table, with the SQL that reads each from it.
_CUSTOMER_VALUES = (
    ("account_no", "s.account_no"),
    ("name", "s.name"),
    ("district_id", "s.district_id"),
    ("category", "s.category"),
    ("industry_code", "s.industry_code"),
    ("high_energy", "s.high_energy"),
    ("voltage_kv", "s.voltage_kv"),
    ("basic_charge_method", "s.basic_charge_method"),
    ("capacity_kva", "s.capacity_kva"),
    ("contract_demand_kw", "CAST(NULLIF(s.contract_demand_kw, '') AS numeric)"),
    ("enterprise_size", "s.enterprise_size"),
    ("priority_role", "s.priority_role"),
)


def _customer_row_handler(errors: _Errors) -> Callable[[int, Sequence[str]], tuple[Any, ...] | None]:
    districts: dict[str, int] = {}
    names: list[str] = []
    for pk, code, name in District.objects.order_by("sort_order", "code").values_list("pk", "code", "name"):
        districts[name] = districts[code] = pk
        names.append(name)
    district_choices = _choices(names)
    categories = frozenset(Category.values)
    methods = frozenset(BasicChargeMethod.values)
    sizes = frozenset(EnterpriseSize.values)
    roles = frozenset(PriorityRole.values)
    high_energy_by_code: dict[str, bool] = {}
    name_max = Account._meta.get_field("name").max_length or 200

    def handle(line: int, fields: Sequence[str]) -> tuple[Any, ...] | None:
        values = [value.strip() for value in fields]
        if not any(values):
            return None  # a row of empty cells (spreadsheets write them): skipped
        (account_no, name, district, category, industry_code, voltage, method, capacity, demand, size, role) = values
        before = errors.count
        if not _ACCOUNT_NO_RE.fullmatch(account_no):
            errors.add(line, "account_no", _("'%(value)s' is not 10 digits") % {"value": account_no})
        if not name:
            errors.add(line, "name", _("required"))
        elif len(name) > name_max:
            errors.add(line, "name", _("longer than %(max)d characters") % {"max": name_max})
        district_id = districts.get(district)
        if district_id is None:
            message = _("unknown district '%(value)s' (one of %(choices)s)")
            errors.add(line, "district", message % {"value": district, "choices": district_choices})
        if category not in categories:
            message = _("'%(value)s' is not a category (one of %(choices)s)")
            errors.add(line, "category", message % {"value": category, "choices": _choices(Category.values)})
        high_energy = False
        if industry_code:
            high_energy_or_none = high_energy_by_code.get(industry_code)
            if high_energy_or_none is None and is_valid_industry_code(industry_code):
                high_energy_or_none = high_energy_by_code[industry_code] = is_high_energy(industry_code)
            if high_energy_or_none is None:
                message = _("'%(value)s' is not a GB/T 4754-2017 industry code (4 digits, division 01-97)")
                errors.add(line, "industry_code", message % {"value": industry_code})
            else:
                high_energy = high_energy_or_none
        elif category in CATEGORIES_NEEDING_INDUSTRY:
            message = _("required for category %(category)s (the 95%% rule is decided by it)")
            errors.add(line, "industry_code", message % {"category": category})
        voltage_value = _VOLTAGES.get(Decimal(voltage)) if _VOLTAGE_RE.fullmatch(voltage) else None
        if voltage_value is None:
            message = _("'%(value)s' is not a supply voltage in kV (one of %(choices)s)")
            choices = _choices(str(v) for v in VOLTAGES_KV)
            errors.add(line, "voltage_kv", message % {"value": voltage, "choices": choices})
        if method and method not in methods:
            message = _("'%(value)s' is not a basic charge method (%(choices)s, or blank)")
            choices = _choices(BasicChargeMethod.values)
            errors.add(line, "basic_charge_method", message % {"value": method, "choices": choices})
        try:
            capacity = KVA.check(capacity)
        except ValueError as exc:
            errors.add(line, "capacity_kva", str(exc))
        try:
            demand = KW_OR_BLANK.check(demand)
        except ValueError as exc:
            errors.add(line, "contract_demand_kw", str(exc))
        else:
            if method == BasicChargeMethod.DEMAND and not demand:
                errors.add(line, "contract_demand_kw", _("required when basic_charge_method is demand"))
            elif demand and method != BasicChargeMethod.DEMAND:
                errors.add(line, "contract_demand_kw", _("must be blank unless basic_charge_method is demand"))
        if size and size not in sizes:
            message = _("'%(value)s' is not an enterprise size (%(choices)s, or blank)")
            errors.add(line, "enterprise_size", message % {"value": size, "choices": _choices(EnterpriseSize.values)})
        if role and role not in roles:
            message = _("'%(value)s' is not a priority role (%(choices)s, or blank)")
            errors.add(line, "priority_role", message % {"value": role, "choices": _choices(PriorityRole.values)})
        if errors.count != before:
            return None
        return (
            line,
            account_no,
            name,
            district_id,
            category,
            industry_code,
            high_energy,
            voltage_value,
            method,
            capacity,
            demand,
            size,
            role,
        )

    return handle


def import_customers(stream: Iterable[str], *, progress: ImportProgress | None = None) -> ImportResult:
    """Import a customers CSV (interfaces.md §1) from an open text stream, all or nothing.

    New account numbers are created, known ones whose fields differ are updated, identical ones
    are left alone. ``high_energy`` is set from the industry code. Raises ``ImportFailed``.
    """
    started = time.perf_counter()
    errors = _Errors()
    account = _qn(Account._meta.db_table)
    columns = [Account._meta.get_field(name).column for name, _sql in _CUSTOMER_VALUES]
    with transaction.atomic(), connection.cursor() as cursor:
        _begin(cursor)
        handle = _customer_row_handler(errors)  # queries the districts: before COPY holds the connection
        _set_phase(progress, _("reading"))
        with _Staging(cursor, _CUSTOMER_STAGE, _CUSTOMER_STAGE_COLUMNS) as stage:
            rows = _read_rows(
                stream,
                columns=CUSTOMER_COLUMNS,
                handle=handle,
                stage=stage,
                errors=errors,
                progress=progress,
            )
        stage_table = _qn(_CUSTOMER_STAGE)
        _set_phase(progress, _("checking"))
        _lock(cursor, account)
        _check(
            cursor,
            f"""
            SELECT line, account_no, first_line, count(*) OVER ()
            FROM (SELECT line, account_no, min(line) OVER (PARTITION BY account_no) AS first_line
                  FROM {stage_table}) d
            WHERE line <> first_line ORDER BY line LIMIT {MAX_REPORTED_ERRORS}
            """,  # noqa: S608 - identifiers are ours
            [],
            lambda line, account_no, first_line: ImportRowError(
                line,
                "account_no",
                _("duplicate account_no %(account_no)s (also on line %(first)d)")
                % {"account_no": account_no, "first": first_line},
            ),
            errors,
        )
        errors.raise_if_any()

        _set_phase(progress, _("writing"))
        now = _now_param()
        key, *pairs = zip(columns, (expr for _name, expr in _CUSTOMER_VALUES), strict=True)  # key: account_no
        changed = " OR ".join(f"a.{_qn(column)} IS DISTINCT FROM {expr}" for column, expr in pairs)
        assignments = ", ".join(f"{_qn(column)} = {expr}" for column, expr in pairs)
        updated_at = _qn(Account._meta.get_field("updated_at").column)
        created_at = _qn(Account._meta.get_field("created_at").column)
        cursor.execute(
            f"""
            UPDATE {account} AS a SET {assignments}, {updated_at} = %s
            FROM {stage_table} s
            WHERE a.{_qn(key[0])} = s.account_no AND ({changed})
            """,  # noqa: S608
            [now],
        )
        updated = max(cursor.rowcount, 0)
        names = ", ".join(_qn(column) for column in columns)
        exprs = ", ".join(expr for _n, expr in _CUSTOMER_VALUES)
        cursor.execute(
            f"""
            INSERT INTO {account} ({names}, {created_at}, {updated_at})
            SELECT {exprs}, %s, %s FROM {stage_table} s
            WHERE NOT EXISTS (SELECT 1 FROM {account} a WHERE a.{_qn(key[0])} = s.account_no)
            ORDER BY s.line
            """,  # noqa: S608
            [now, now],
        )
        created = max(cursor.rowcount, 0)
        stage.drop()
        if updated:
            # A changed category or enterprise size can change who is protected (dashboard).
            stats_refresh_after_commit()
    return ImportResult(
        kind="customers",
        rows=rows,
        created=created,
        updated=updated,
        unchanged=rows - created - updated,
        seconds=time.perf_counter() - started,
    )


# --- Bills -------------------------------------------------------------------------------------

_BILL_STAGE = "billing_import_bills"
_BILL_STAGE_COLUMNS = (
    ("line", "integer"),
    ("account_no", "text"),
    ("period", "text"),
    ("energy_kwh", "numeric"),
    ("energy_charge", "numeric"),
    ("basic_rate", "text"),
    ("max_demand_kw", "text"),
    ("basic_charge", "numeric"),
    ("power_factor_rate", "numeric"),
    ("power_factor_charge", "numeric"),
    ("late_fee", "numeric"),
    ("paid", "numeric"),
)
# Bill value columns and the SQL that reads each from the staging table ``s``.
_BILL_VALUES = (
    ("energy_kwh", "s.energy_kwh"),
    ("energy_charge", "s.energy_charge"),
    ("basic_rate", "CAST(NULLIF(s.basic_rate, '') AS numeric)"),
    ("max_demand_kw", "CAST(NULLIF(s.max_demand_kw, '') AS numeric)"),
    ("basic_charge", "s.basic_charge"),
    ("power_factor_rate", "s.power_factor_rate"),
    ("power_factor_charge", "s.power_factor_charge"),
    ("late_fee", "s.late_fee"),
    ("paid", "s.paid"),
)


def _month_start_sql(expr: str) -> str:
    """SQL turning a staged ``YYYY-MM`` into the first day of the month, as the period column holds it."""
    if _vendor() == "postgresql":
        return f"CAST({expr} || '-01' AS date)"
    return f"({expr} || '-01')"  # SQLite stores dates as ISO text


def _bill_row_handler(errors: _Errors) -> Callable[[int, Sequence[str]], tuple[Any, ...] | None]:
    fast = _BILL_ROW_RE.fullmatch

    def slow(line: int, fields: Sequence[str]) -> tuple[Any, ...] | None:
        account_no, period, *numbers = values = [value.strip() for value in fields]
        if not any(values):
            return None  # a row of empty cells (spreadsheets write them): skipped
        before = errors.count
        if not _ACCOUNT_NO_RE.fullmatch(account_no):
            errors.add(line, "account_no", _("'%(value)s' is not 10 digits") % {"value": account_no})
        if not _PERIOD_RE.fullmatch(period):
            errors.add(line, "period", _("'%(value)s' is not a billing month YYYY-MM") % {"value": period})
        checked: list[str] = []
        for (column, number), value in zip(_BILL_NUMBERS, numbers, strict=True):
            try:
                checked.append(number.check(value))
            except ValueError as exc:
                errors.add(line, column, str(exc))
        if errors.count != before:
            return None
        return (line, account_no, period, *checked)

    def handle(line: int, fields: Sequence[str]) -> tuple[Any, ...] | None:
        if fast("\t".join(fields)):
            return (line, *fields)
        return slow(line, fields)

    return handle


def _bill_difference(line: int, account_no: str, period: str, account_id: Any, *pairs: Any) -> ImportRowError:
    if account_id is None:
        message = _("unknown account_no %(account_no)s (import it with import_customers first)")
        return ImportRowError(line, "account_no", message % {"account_no": account_no})
    stored, given = pairs[: len(pairs) // 2], pairs[len(pairs) // 2 :]
    differing = [
        (name, old, new)
        for (name, _sql), old, new in zip(_BILL_VALUES, stored, given, strict=True)
        if _as_decimal(old) != _as_decimal(new)
    ]
    name, old, new = differing[0] if differing else ("account_no", None, None)
    message = _(
        "the bill of %(period)s was already imported with different amounts (%(column)s %(old)s, here %(new)s); "
        "bills are immutable, corrections are credits"
    ) % {"period": period, "column": name, "old": _show(old, name), "new": _show(new, name)}
    return ImportRowError(line, name, message)


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _show(value: Any, column: str) -> str:
    """A bill value as the model holds it (SQLite hands numbers back as floats)."""
    number = _as_decimal(value)
    if number is None:
        return _("blank")
    places = Bill._meta.get_field(column).decimal_places or 0
    return f"{number.quantize(Decimal(1).scaleb(-places)):f}"


def import_bills(stream: Iterable[str], *, progress: ImportProgress | None = None) -> ImportResult:
    """Import a bills CSV (interfaces.md §1) from an open text stream, all or nothing.

    Every account must already exist. Bills are immutable originals: a bill already imported
    with identical values is left alone; with different values the file is rejected.
    Raises ``ImportFailed``.
    """
    started = time.perf_counter()
    errors = _Errors()
    account = _qn(Account._meta.db_table)
    bill = _qn(Bill._meta.db_table)
    account_id = _qn(Bill._meta.get_field("account").column)
    value_columns = [Bill._meta.get_field(name).column for name, _sql in _BILL_VALUES]
    account_pk = _qn(Account._meta.pk.column)
    bill_pk = _qn(Bill._meta.pk.column)
    with transaction.atomic(), connection.cursor() as cursor:
        _begin(cursor)
        handle = _bill_row_handler(errors)
        _set_phase(progress, _("reading"))
        with _Staging(cursor, _BILL_STAGE, _BILL_STAGE_COLUMNS) as stage:
            rows = _read_rows(
                stream,
                columns=BILL_COLUMNS,
                handle=handle,
                stage=stage,
                errors=errors,
                progress=progress,
            )
        stage_table = _qn(_BILL_STAGE)
        period = _month_start_sql("s.period")
        _set_phase(progress, _("checking"))
        _lock(cursor, bill)
        _check(
            cursor,
            f"""
            SELECT line, account_no, period, first_line, count(*) OVER ()
            FROM (SELECT line, account_no, period,
                         min(line) OVER (PARTITION BY account_no, period) AS first_line
                  FROM {stage_table}) d
            WHERE line <> first_line ORDER BY line LIMIT {MAX_REPORTED_ERRORS}
            """,  # noqa: S608 - identifiers are ours
            [],
            lambda line, account_no, month, first_line: ImportRowError(
                line,
                "period",
                _("duplicate bill for account_no %(account_no)s and period %(period)s (also on line %(first)d)")
                % {"account_no": account_no, "period": month, "first": first_line},
            ),
            errors,
        )
        differs = " OR ".join(
            f"b.{_qn(column)} IS DISTINCT FROM {expr}"
            for column, (_n, expr) in zip(value_columns, _BILL_VALUES, strict=True)
        )
        stored = ", ".join(f"b.{_qn(column)}" for column in value_columns)
        given = ", ".join(expr for _n, expr in _BILL_VALUES)
        account_no = _qn(Account._meta.get_field("account_no").column)
        bill_period = _qn(Bill._meta.get_field("period").column)
        _check(
            cursor,
            f"""
            SELECT s.line, s.account_no, s.period, a.{account_pk}, {stored}, {given}, count(*) OVER ()
            FROM {stage_table} s
            LEFT JOIN {account} a ON a.{account_no} = s.account_no
            LEFT JOIN {bill} b ON b.{account_id} = a.{account_pk} AND b.{bill_period} = {period}
            WHERE a.{account_pk} IS NULL OR (b.{bill_pk} IS NOT NULL AND ({differs}))
            ORDER BY s.line LIMIT {MAX_REPORTED_ERRORS}
            """,  # noqa: S608
            [],
            _bill_difference,
            errors,
        )
        errors.raise_if_any()

        _set_phase(progress, _("writing"))
        names = ", ".join(_qn(column) for column in value_columns)
        imported_at = _qn(Bill._meta.get_field("imported_at").column)
        cursor.execute(
            f"""
            INSERT INTO {bill} ({account_id}, {bill_period}, {names}, {imported_at})
            SELECT a.{account_pk}, {period}, {given}, %s
            FROM {stage_table} s JOIN {account} a ON a.{account_no} = s.account_no
            WHERE NOT EXISTS (
                SELECT 1 FROM {bill} b WHERE b.{account_id} = a.{account_pk} AND b.{bill_period} = {period}
            )
            """,  # noqa: S608
            [_now_param()],
        )
        created = max(cursor.rowcount, 0)
        stage.drop()
        if created and Grant.objects.exists():
            # New bills get what approved lists and applications give them, without anyone acting.
            job_for_new_bills()
        if created:
            stats_refresh_after_commit()
    return ImportResult(
        kind="bills",
        rows=rows,
        created=created,
        updated=0,
        unchanged=rows - created,
        seconds=time.perf_counter() - started,
    )
