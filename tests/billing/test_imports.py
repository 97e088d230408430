"""The customer and bill imports (interfaces.md §1): values, all-or-nothing, idempotence, errors.

These run on SQLite by default and on PostgreSQL with DATABASE_URL=postgres://… (where the staging
table is loaded with COPY); the behaviour is the same on both, so none is marked ``postgres``.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from billing.imports import ImportFailed, import_bills, import_customers
from billing.models import Account, Bill, Category
from billing.rules import discount_rules

pytestmark = pytest.mark.django_db

CUSTOMER_HEADER = (
    "account_no,name,district,category,industry_code,voltage_kv,basic_charge_method,capacity_kva,"
    "contract_demand_kw,enterprise_size,priority_role"
)
CUSTOMERS = [
    "2300000001,哈尔滨示例电子有限公司,南岗,general_commercial,2611,10,,0,,small,",
    "2300000002,示例热力有限公司,道里,large_industrial,4430,35,capacity,3150,,large,",
    "2300000003,示例印刷厂,香坊,large_industrial,2770,10,demand,2000,800,medium,supplies_maker",
    '2300000004,"示例农场, 呼兰",hulan,agricultural,0610,0.4,,0,,micro,',
    "2300000005,张三,松北,residential,,0.4,,0,,,",
]
BILL_HEADER = (
    "account_no,period,energy_kwh,energy_charge,basic_rate,max_demand_kw,basic_charge,"
    "power_factor_rate,power_factor_charge,late_fee,paid"
)
BILLS = [
    "2300000001,2020-02,10000,7399.00,,,0.00,0,0.00,0.00,7399.00",
    "2300000002,2020-02,500000,300000.00,25,,78750.00,-0.0075,-2840.63,0,375909.37",
    "2300000003,2020-03,400000,240000.50,37.5,900,33750,0.02,5475.01,12.34,0",
]


@pytest.fixture(autouse=True)
def english():
    """The messages are asserted in English (the default language is zh-hans)."""
    with translation.override("en"):
        yield


def csv_text(header: str, rows: list[str], *, bom: bool = False) -> str:
    return ("\ufeff" if bom else "") + "\n".join([header, *rows]) + "\n"


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(command: str, path: str) -> str:
    out = io.StringIO()
    call_command(command, path, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def customers_file(tmp_path):
    return write(tmp_path, "customers.csv", csv_text(CUSTOMER_HEADER, CUSTOMERS))


@pytest.fixture
def customers(customers_file):
    run("import_customers", customers_file)


def snapshot() -> tuple[int, int]:
    return Account.objects.count(), Bill.objects.count()


# --- Good files --------------------------------------------------------------------------------


def test_customers_import_with_their_values(customers_file):
    output = run("import_customers", customers_file)

    assert "5 rows: 5 created, 0 updated, 0 unchanged" in output
    assert "rows/s" in output
    assert Account.objects.count() == 5
    electronics = Account.objects.get(account_no="2300000001")
    assert electronics.name == "哈尔滨示例电子有限公司"
    assert electronics.district.name == "南岗"
    assert electronics.category == Category.GENERAL_COMMERCIAL
    assert electronics.voltage_kv == Decimal("10")
    assert electronics.contract_demand_kw is None
    assert electronics.enterprise_size == "small"
    printing = Account.objects.get(account_no="2300000003")
    assert printing.basic_charge_method == "demand"
    assert printing.capacity_kva == Decimal("2000")
    assert printing.contract_demand_kw == Decimal("800")
    assert printing.priority_role == "supplies_maker"
    farm = Account.objects.get(account_no="2300000004")
    assert farm.name == "示例农场, 呼兰"
    assert farm.district.name == "呼兰"  # matched by the district's code
    assert farm.voltage_kv == Decimal("0.4")
    assert Account.objects.get(account_no="2300000005").industry_code == ""


def test_high_energy_is_decided_by_the_industry_code(customers):
    high_energy = dict(Account.objects.values_list("industry_code", "high_energy"))

    assert high_energy == {"2611": True, "4430": True, "2770": False, "0610": False, "": False}
    assert not discount_rules().admits(Account.objects.get(industry_code="4430"))
    assert discount_rules().admits(Account.objects.get(industry_code="2770"))


def test_bills_import_as_decimals(customers, tmp_path):
    output = run("import_bills", write(tmp_path, "bills.csv", csv_text(BILL_HEADER, BILLS)))

    assert "3 rows: 3 created, 0 updated, 0 unchanged" in output
    heat = Bill.objects.get(account__account_no="2300000002")
    assert heat.period == dt.date(2020, 2, 1)
    assert heat.energy_kwh == Decimal("500000")
    assert heat.energy_charge == Decimal("300000.00")
    assert heat.basic_rate == Decimal("25")
    assert heat.max_demand_kw is None
    assert heat.basic_charge == Decimal("78750.00")
    assert heat.power_factor_rate == Decimal("-0.0075")
    assert heat.power_factor_charge == Decimal("-2840.63")
    assert heat.paid == Decimal("375909.37")
    printing = Bill.objects.get(account__account_no="2300000003")
    assert printing.period == dt.date(2020, 3, 1)
    assert printing.energy_charge == Decimal("240000.50")
    assert printing.basic_rate == Decimal("37.5")
    assert printing.max_demand_kw == Decimal("900")
    assert printing.late_fee == Decimal("12.34")
    assert printing.gross == Decimal("240000.50") + Decimal("33750") + Decimal("5475.01") + Decimal("12.34")


def test_a_bom_and_spaces_around_values_are_accepted(tmp_path):
    rows = [" 2300000009 , 示例商店 , 道外 ,general_commercial, 5211 ,10.0,,0,,,"]
    path = tmp_path / "bom.csv"
    path.write_bytes(csv_text(CUSTOMER_HEADER, rows, bom=True).encode("utf-8"))

    run("import_customers", str(path))

    account = Account.objects.get(account_no="2300000009")
    assert (account.name, account.district.name, account.industry_code) == ("示例商店", "道外", "5211")
    assert account.voltage_kv == Decimal("10")


def test_columns_may_come_in_any_order_and_extra_columns_are_ignored(customers):
    header = "period,account_no,remark,paid,late_fee,power_factor_charge,power_factor_rate,basic_charge,"
    header += "max_demand_kw,basic_rate,energy_charge,energy_kwh"
    text = csv_text(header, ["2020-04,2300000001,备注,10.5,0,0,0,0,,,10.50,14"])

    result = import_bills(io.StringIO(text))

    assert (result.rows, result.created) == (1, 1)
    bill = Bill.objects.get(period=dt.date(2020, 4, 1))
    assert (bill.energy_kwh, bill.energy_charge, bill.paid) == (Decimal("14"), Decimal("10.50"), Decimal("10.50"))


def test_services_take_an_open_text_stream_and_report_progress(customers):
    class Bar:
        def __init__(self):
            self.rows = 0
            self.phases = []

        def update(self, n):
            self.rows += n

        def set_description(self, desc):
            self.phases.append(desc)

    bar = Bar()
    result = import_bills(io.StringIO(csv_text(BILL_HEADER, BILLS)), progress=bar)

    assert (result.kind, result.rows, result.created, result.unchanged) == ("bills", 3, 3, 0)
    assert bar.rows == 3
    assert bar.phases == ["reading", "checking", "writing"]


# --- Idempotence ------------------------------------------------------------------------------


def test_reimporting_the_same_files_changes_nothing(customers_file, tmp_path):
    bills_file = write(tmp_path, "bills.csv", csv_text(BILL_HEADER, BILLS))
    run("import_customers", customers_file)
    run("import_bills", bills_file)
    before = list(Account.objects.values_list("account_no", "updated_at").order_by("account_no"))
    bills_before = list(Bill.objects.values_list("pk", "imported_at").order_by("pk"))

    customers_output = run("import_customers", customers_file)
    bills_output = run("import_bills", bills_file)

    assert "5 rows: 0 created, 0 updated, 5 unchanged" in customers_output
    assert "3 rows: 0 created, 0 updated, 3 unchanged" in bills_output
    assert list(Account.objects.values_list("account_no", "updated_at").order_by("account_no")) == before
    assert list(Bill.objects.values_list("pk", "imported_at").order_by("pk")) == bills_before


def test_same_bill_spelled_differently_is_unchanged(customers, tmp_path):
    run("import_bills", write(tmp_path, "a.csv", csv_text(BILL_HEADER, BILLS)))
    respelled = ["2300000003,2020-03,400000.00,240000.5,37.50,900,33750.00,0.0200,5475.01,12.34,0.00"]

    result = import_bills(io.StringIO(csv_text(BILL_HEADER, respelled)))

    assert (result.created, result.unchanged) == (0, 1)


def test_changed_customer_fields_are_updated(customers, tmp_path):
    changed = list(CUSTOMERS)
    changed[0] = "2300000001,哈尔滨示例电子股份有限公司,南岗,large_industrial,3011,10,capacity,1000,,medium,"
    changed.append("2300000006,新客户,平房,general_commercial,5211,10,,0,,,")

    output = run("import_customers", write(tmp_path, "changed.csv", csv_text(CUSTOMER_HEADER, changed)))

    assert "6 rows: 1 created, 1 updated, 4 unchanged" in output
    account = Account.objects.get(account_no="2300000001")
    assert account.name == "哈尔滨示例电子股份有限公司"
    assert account.category == Category.LARGE_INDUSTRIAL
    assert account.industry_code == "3011"
    assert account.high_energy is True
    assert account.capacity_kva == Decimal("1000")
    assert account.enterprise_size == "medium"
    assert account.updated_at > account.created_at
    assert Account.objects.get(account_no="2300000006").district.name == "平房"


def test_a_customer_leaving_a_high_energy_industry_is_updated(customers):
    row = "2300000002,示例热力有限公司,道里,large_industrial,5211,35,capacity,3150,,large,"

    result = import_customers(io.StringIO(csv_text(CUSTOMER_HEADER, [row])))

    assert result.updated == 1
    assert Account.objects.get(account_no="2300000002").high_energy is False


def test_a_changed_bill_is_refused(customers, tmp_path):
    run("import_bills", write(tmp_path, "bills.csv", csv_text(BILL_HEADER, BILLS)))
    changed = [*BILLS, "2300000005,2020-02,100,51.00,,,0,0,0,0,0"]
    changed[1] = "2300000002,2020-02,500000,300001.00,25,,78750.00,-0.0075,-2840.63,0,375909.37"
    before = snapshot()

    with pytest.raises(CommandError) as error:
        run("import_bills", write(tmp_path, "changed.csv", csv_text(BILL_HEADER, changed)))

    message = str(error.value)
    assert "line 3, column energy_charge:" in message
    assert "300000.00" in message and "300001.00" in message
    assert "bills are immutable, corrections are credits" in message
    assert snapshot() == before
    assert Bill.objects.get(account__account_no="2300000002").energy_charge == Decimal("300000.00")


# --- Rejected files: nothing is written -------------------------------------------------------


def test_unknown_district_rejects_the_whole_file(tmp_path):
    rows = [*CUSTOMERS[:5], "2300000006,示例公司,朝阳,general_commercial,5211,10,,0,,,"]
    before = snapshot()

    with pytest.raises(CommandError) as error:
        run("import_customers", write(tmp_path, "c.csv", csv_text(CUSTOMER_HEADER, rows)))

    assert "line 7, column district: unknown district '朝阳' (one of 道里, 南岗, 道外" in str(error.value)
    assert "nothing was imported" in str(error.value)
    assert snapshot() == before


def test_malformed_amount_rejects_the_whole_file(customers, tmp_path):
    rows = [*BILLS[:2], "2300000003,2020-03,400000,12.345,37.5,900,33750,0.02,5475.01,12.34,0"]
    before = snapshot()

    with pytest.raises(CommandError) as error:
        run("import_bills", write(tmp_path, "b.csv", csv_text(BILL_HEADER, rows)))

    message = str(error.value)
    assert "line 4, column energy_charge: '12.345' has 3 decimal places, at most 2 allowed" in message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e5", "is not an amount in yuan"),
        ("12.3000001", "has 7 decimal places"),
        ("-5.00", "is negative"),
        ('"1,234.00"', "is not an amount in yuan"),  # quoted: one field
        ("", "required"),
        ("１２.００", "is not an amount in yuan"),  # full-width digits
    ],
)
def test_amounts_are_never_rounded_or_guessed(customers, value, reason):
    row = f"2300000001,2020-05,100,{value},,,0,0,0,0,0"

    with pytest.raises(ImportFailed) as error:
        import_bills(io.StringIO(csv_text(BILL_HEADER, [row])))

    [problem] = error.value.errors
    assert (problem.line, problem.column) == (2, "energy_charge")
    assert reason in problem.message
    assert Bill.objects.count() == 0


def test_duplicate_account_in_the_file_names_both_lines(tmp_path):
    rows = [*CUSTOMERS, CUSTOMERS[1]]
    before = snapshot()

    with pytest.raises(CommandError) as error:
        run("import_customers", write(tmp_path, "dup.csv", csv_text(CUSTOMER_HEADER, rows)))

    assert "line 7, column account_no: duplicate account_no 2300000002 (also on line 3)" in str(error.value)
    assert snapshot() == before


def test_duplicate_bill_in_the_file_names_both_lines(customers):
    rows = [*BILLS, BILLS[0].replace("7399.00,", "7399.01,", 1)]

    with pytest.raises(ImportFailed) as error:
        import_bills(io.StringIO(csv_text(BILL_HEADER, rows)))

    assert [str(e) for e in error.value.errors] == [
        "line 5, column period: duplicate bill for account_no 2300000001 and period 2020-02 (also on line 2)"
    ]
    assert Bill.objects.count() == 0


def test_bill_of_an_unknown_account_is_refused(customers):
    rows = [*BILLS, "2399999999,2020-02,1,1.00,,,0,0,0,0,1.00"]

    with pytest.raises(ImportFailed) as error:
        import_bills(io.StringIO(csv_text(BILL_HEADER, rows)))

    [problem] = error.value.errors
    assert (problem.line, problem.column) == (5, "account_no")
    assert "unknown account_no 2399999999" in problem.message
    assert Bill.objects.count() == 0


def test_customer_field_rules(tmp_path):
    rows = [
        "230000001,甲,南岗,general_commercial,5211,10,,0,,,",  # 9 digits
        "2300000002,乙,南岗,commercial,5211,10,,0,,,",
        "2300000003,丙,南岗,general_commercial,,10,,0,,,",  # industry required
        "2300000004,丁,南岗,large_industrial,9911,10,,0,,,",  # no division 99
        "2300000005,戊,南岗,large_industrial,2611,11,,0,,,",
        "2300000006,己,南岗,large_industrial,2611,10,kva,0,,,",
        "2300000007,庚,南岗,large_industrial,2611,10,capacity,-5,,,",
        "2300000008,辛,南岗,large_industrial,2611,10,demand,1000,,,",  # contract demand required
        "2300000009,壬,南岗,large_industrial,2611,10,capacity,1000,800,,",  # must be blank
        "2300000010,癸,南岗,general_commercial,5211,10,,0,,huge,",
        "2300000011,子,南岗,general_commercial,5211,10,,0,,,school",
        "2300000012,,南岗,general_commercial,5211,10,,0,,,",
        "2300000013,丑,南岗,general_commercial,5211,10,,0,,",  # a field short
    ]

    with pytest.raises(ImportFailed) as error:
        import_customers(io.StringIO(csv_text(CUSTOMER_HEADER, rows)))

    found = [(e.line, e.column) for e in error.value.errors]
    assert found == [
        (2, "account_no"),
        (3, "category"),
        (4, "industry_code"),
        (5, "industry_code"),
        (6, "voltage_kv"),
        (7, "basic_charge_method"),
        (8, "capacity_kva"),
        (9, "contract_demand_kw"),
        (10, "contract_demand_kw"),
        (11, "enterprise_size"),
        (12, "priority_role"),
        (13, "name"),
        (14, None),
    ]
    assert Account.objects.count() == 0


def test_bill_field_rules(customers):
    rows = [
        "2300000001,2020-13,1,1.00,,,0,0,0,0,0",
        "2300000001,2020-01,12.5,1.00,,,0,0,0,0,0",
        "2300000001,2020-02,1,1.00,25.12345,,0,0,0,0,0",
        "2300000001,2020-03,1,1.00,,,0,,0,0,0",  # power_factor_rate required (0 if none)
        "2300000001,2020-04,1200.00,1.00,,,0,0,0,0,0",  # a whole number written with a point: fine
    ]

    with pytest.raises(ImportFailed) as error:
        import_bills(io.StringIO(csv_text(BILL_HEADER, rows)))

    assert [(e.line, e.column) for e in error.value.errors] == [
        (2, "period"),
        (3, "energy_kwh"),
        (4, "basic_rate"),
        (5, "power_factor_rate"),
    ]


def test_errors_are_capped_with_a_count_of_the_rest(customers):
    rows = [f"2300000001,2020-{month:02d},1,1.001,,,0,0,0,0,0" for month in range(1, 13)]
    rows += [f"2399999{n:03d},2020-01,1,1.00,,,0,0,0,0,0" for n in range(20)]

    with pytest.raises(ImportFailed) as error:
        import_bills(io.StringIO(csv_text(BILL_HEADER, rows)))

    assert error.value.total == 32
    assert len(error.value.errors) == 20
    assert [e.line for e in error.value.errors] == list(range(2, 22))  # the first 20, in line order
    assert error.value.report().endswith("… and 12 more")


def test_line_numbers_are_physical_lines(customers):
    text = csv_text(BILL_HEADER, ['2300000001,2020-06,1,"1.00",,,0,0,0,0,0', "", "2300000001,2020-07,1,x,,,0,0,0,0,0"])

    with pytest.raises(ImportFailed) as error:
        import_bills(io.StringIO(text))

    assert [(e.line, e.column) for e in error.value.errors] == [(4, "energy_charge")]


def test_line_numbers_count_the_lines_of_a_quoted_multiline_field():
    rows = [
        '2300000001,"示例公司\n第二行",南岗,general_commercial,5211,10,,0,,,',
        "2300000002,乙,南岗,shop,5211,10,,0,,,",
    ]

    with pytest.raises(ImportFailed) as error:
        import_customers(io.StringIO(csv_text(CUSTOMER_HEADER, rows)))

    assert [(e.line, e.column) for e in error.value.errors] == [(4, "category")]


def test_rows_of_empty_cells_are_skipped(customers):
    text = csv_text(BILL_HEADER, [BILLS[0], ",,,,,,,,,,", " , ,,,,,,,,,"])

    result = import_bills(io.StringIO(text))

    assert (result.rows, result.created) == (1, 1)


def test_missing_columns_are_named(tmp_path):
    header = CUSTOMER_HEADER.replace(",district", "").replace(",priority_role", "")
    rows = ["2300000001,甲,general_commercial,5211,10,,0,,"]

    with pytest.raises(CommandError) as error:
        run("import_customers", write(tmp_path, "m.csv", csv_text(header, rows)))

    assert "line 1: missing columns: district, priority_role" in str(error.value)
    assert Account.objects.count() == 0


def test_an_empty_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="line 1: the file is empty"):
        run("import_bills", write(tmp_path, "empty.csv", ""))


def test_a_file_that_is_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_text(CUSTOMER_HEADER, CUSTOMERS).encode("gbk"))

    with pytest.raises(CommandError, match="not UTF-8"):
        run("import_customers", str(path))
    assert Account.objects.count() == 0


def test_a_missing_file_is_an_error():
    with pytest.raises(CommandError, match="cannot read"):
        run("import_customers", "/nonexistent/customers.csv")


def test_progress_bar_on_request(customers_file):
    err = io.StringIO()
    call_command("import_customers", customers_file, "--progress", stdout=io.StringIO(), stderr=err)

    assert "5/5" in err.getvalue()
    assert Account.objects.count() == 5


def test_no_progress_bar_when_not_a_terminal_or_at_verbosity_0(customers_file):
    err = io.StringIO()
    call_command("import_customers", customers_file, verbosity=0, stdout=io.StringIO(), stderr=err)

    assert err.getvalue() == ""
    assert Account.objects.count() == 5


# --- PostgreSQL: two imports at once ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_concurrent_import_of_the_same_bill_with_other_amounts_waits_and_is_refused():
    """The second import waits for the first one's table lock and then sees its bill.

    Without the lock it would not see the uncommitted bill, and its insert would die on the
    unique constraint (or, with ON CONFLICT DO NOTHING, silently keep the other amounts).
    """
    import threading
    import time

    from django.db import connection, transaction

    import_customers(io.StringIO(csv_text(CUSTOMER_HEADER, CUSTOMERS)))
    mine = csv_text(BILL_HEADER, [BILLS[0]])
    theirs = csv_text(BILL_HEADER, [BILLS[0].replace(",7399.00,", ",7400.00,", 1)])
    outcome: list[object] = []

    def other_import():
        try:
            with translation.override("en"):
                outcome.append(import_bills(io.StringIO(theirs)))
        except Exception as exc:  # the test inspects whatever happened
            outcome.append(exc)
        finally:
            connection.close()

    other = threading.Thread(target=other_import)
    with transaction.atomic():
        import_bills(io.StringIO(mine))
        other.start()
        with connection.cursor() as cursor:
            for _ in range(200):  # until the other import waits for the bill table's lock
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    [Bill._meta.db_table],
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the second import never waited for the lock")
    other.join(timeout=30)

    [result] = outcome
    assert isinstance(result, ImportFailed), result
    assert result.errors[0].column == "energy_charge"
    assert "already imported with different amounts" in result.errors[0].message
    assert list(Bill.objects.values_list("energy_charge", flat=True)) == [Decimal("7399.00")]
