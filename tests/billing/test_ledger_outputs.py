"""What the ledger shows (programme.md M2, M3, M8): the account page, the bills API, the bill's PDF,
``export_ledger``, ``GET /api/v1/ledger/`` and the posting job's progress on the item pages.

The ledger is built through the services, as the workflow does on approval: the M8 account (eligible,
1,000 kVA at 25 元 on the capacity basis, power-factor rate 0, bills of January–April 2020) is on an
approved eligibility list (the 95% settlement) and has an approved suspension sealed 2020-03-05,
restored 2020-03-20. March then holds ``basic_charge_credit`` 11,666.67 from the application and a
discount of 500.00 (energy) + 666.67 (basic line) = 1,166.67:

    gross 10,000.00 + 25,000.00 + 0.00 + 12.34 (late fee)      = 35,012.34
    due   35,012.34 − 1,166.67 (discount) − 11,666.67 (credit) = 22,179.00
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import re
import shutil
import subprocess
import zlib
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from billing import ledger, posting, services
from billing.models import JobState, LedgerEntry, PostingJob
from billing.posting import job_run_inline
from tests.factories import AccountFactory, ApplicationFactory, BillFactory, EligibilityListFactory

MARCH = dt.date(2020, 3, 1)
DISCOUNT_WORDING = "阶段性降低企业用电成本优惠（按95%结算）"
CREDIT_WORDING = "支持性两部制电价减免（退补）"

# March of the M8 account, to the fen.
M8_GROSS = Decimal("35012.34")
M8_DISCOUNT = Decimal("1166.67")
M8_CREDIT = Decimal("11666.67")
M8_DUE = Decimal("22179.00")
# February and April: the plain 5% on energy and basic (M2: never the late fee).
PLAIN_DISCOUNT = Decimal("1750.00")


# --- data built through the services -----------------------------------------------------------


def m8_bills(account, months=(1, 2, 3, 4)):
    for month in months:
        BillFactory(
            account=account,
            period=dt.date(2020, month, 1),
            energy_charge=Decimal("10000.00"),
            basic_rate=Decimal("25"),
            basic_charge=Decimal("25000.00"),
            power_factor_rate=Decimal("0"),
            power_factor_charge=Decimal("0.00"),
            late_fee=Decimal("12.34"),
        )


def m8_new_account(**kwargs):
    return AccountFactory(
        category="large_industrial",
        industry_code="2770",
        basic_charge_method="capacity",
        capacity_kva=Decimal(1000),
        voltage_kv=Decimal(10),
        **kwargs,
    )


def approve_list(lst, accounts, *, run=True) -> PostingJob:
    with transaction.atomic():
        job = services.grant_discount(
            policy_code="discount-2020", cause_id=lst.pk, account_ids=[account.pk for account in accounts]
        )
    return job_run_inline(job=job) if run else job


def approve_suspension(app, account, *, run=True) -> PostingJob:
    with transaction.atomic():
        job = services.grant_seal(
            cause_id=app.pk,
            account_id=account.pk,
            capacity_kva=Decimal(1000),
            seal_date=dt.date(2020, 3, 5),
            restore_date=dt.date(2020, 3, 20),
        )
    return job_run_inline(job=job) if run else job


@pytest.fixture
def m8(db):
    """The M8 account in 南岗 with its list (approved) and suspension (approved), both posted."""
    account = m8_new_account(account_no="2301000088", name="哈尔滨示例机械有限公司", district_name="南岗")
    m8_bills(account)
    lst = EligibilityListFactory(district_name="南岗", state="approved")
    app = ApplicationFactory(
        account=account,
        kind="suspension",
        state="approved",
        capacity_kva=Decimal(1000),
        seal_date=dt.date(2020, 3, 5),
        restore_date=dt.date(2020, 3, 20),
    )
    approve_list(lst, [account])
    approve_suspension(app, account)

    class M8:
        pass

    data = M8()
    data.account, data.list, data.application = account, lst, app
    return data


def ledger_sum(account, period, kind) -> Decimal:
    total = LedgerEntry.objects.filter(account=account, period=period, kind=kind).aggregate(t=Sum("amount"))["t"]
    return total or Decimal("0.00")


@pytest.fixture
def client_as(client, make_staff):
    def login(*roles: str, district: str | None = None, language: str | None = None):
        client.force_login(make_staff(*roles, district=district))
        if language:
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        return client

    return login


@pytest.fixture
def api_as(make_staff):
    def make(*roles: str, district: str | None = None) -> APIClient:
        api = APIClient()
        api.force_login(make_staff(*roles, district=district))
        return api

    return make


# --- the statements (billing.ledger) ----------------------------------------------------------


def test_the_m8_ledger_is_what_the_statements_start_from(m8):
    assert ledger_sum(m8.account, MARCH, "basic_charge_credit") == M8_CREDIT
    assert ledger_sum(m8.account, MARCH, "discount") == M8_DISCOUNT
    statements = ledger.account_statements(account=m8.account)
    march = next(s for s in statements.statements if s.period == "2020-03")
    assert (march.gross, march.discount, march.credits, march.due) == (M8_GROSS, M8_DISCOUNT, M8_CREDIT, M8_DUE)
    assert march.due == march.gross - march.discount - march.credits
    assert march.pending is False
    assert {line.kind: line.discount for line in march.lines} == {
        "energy": Decimal("500.00"),
        "basic": Decimal("666.67"),  # 5% of the recomputed 13,333.33 (not 1,250.00)
        "power_factor": Decimal("0.00"),
        "late_fee": Decimal("0.00"),  # M2: never the late fee
    }
    [credit] = march.credit_relief
    assert (credit.kind, credit.amount, credit.cause.type, credit.cause.id) == (
        "basic_charge_credit",
        M8_CREDIT,
        "application",
        m8.application.pk,
    )
    assert credit.cause.url == f"/work/applications/{m8.application.pk}/"
    # The discount by cause: the list's 1,750.00 and the application's correction of −583.33 (M9).
    assert sorted((r.cause.type, r.amount) for r in march.discount_relief) == [
        ("application", Decimal("-583.33")),
        ("eligibility_list", PLAIN_DISCOUNT),
    ]
    assert statements.balance == M8_CREDIT


def test_per_line_discounts_add_up_to_the_ledgers_discount_on_every_bill(m8):
    other = m8_new_account(district_name="道外")
    BillFactory(
        account=other,
        period=MARCH,
        energy_charge=Decimal("10.10"),  # an exact tie: 0.505 → 0.51 (ROUND_HALF_UP)
        basic_rate=Decimal("25"),
        basic_charge=Decimal("12345.67"),
        power_factor_rate=Decimal("-0.0075"),
        power_factor_charge=Decimal("-92.67"),
        late_fee=Decimal("3.00"),
    )
    approve_list(EligibilityListFactory(district_name="道外", state="approved"), [other])
    for account in (m8.account, other):
        for statement in ledger.account_statements(account=account).statements:
            posted = ledger_sum(account, statement.bill.period, "discount")
            assert statement.discount == posted
            assert sum(line.discount for line in statement.lines) == posted
    [statement] = ledger.account_statements(account=other).statements
    assert [line.discount for line in statement.lines] == [
        Decimal("0.51"),
        Decimal("617.28"),  # M3's example: 12,345.67 → 617.28
        Decimal("-4.63"),
        Decimal("0.00"),
    ]


def test_before_posting_the_statement_is_pending_and_lines_still_add_up(db):
    account = m8_new_account(district_name="南岗")
    m8_bills(account, months=(3,))
    lst = EligibilityListFactory(district_name="南岗", state="approved")
    app = ApplicationFactory(account=account, kind="suspension", state="approved")
    approve_list(lst, [account])
    approve_suspension(app, account, run=False)  # approved, its job not run yet
    [march] = ledger.account_statements(account=account).statements
    assert march.pending is True
    assert march.discount == PLAIN_DISCOUNT  # what the ledger holds: the list's posting only
    assert march.credits == Decimal("0.00")
    # The ledger's 1,750.00 apportioned in the engine's proportions (500.00 : 666.67).
    discounts = {line.kind: line.discount for line in march.lines}
    assert sum(discounts.values()) == PLAIN_DISCOUNT
    assert discounts == {
        "energy": Decimal("750.00"),
        "basic": Decimal("1000.00"),
        "power_factor": Decimal("0.00"),
        "late_fee": Decimal("0.00"),
    }


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        ("100.00", {"a": "1", "b": "1", "c": "1"}, {"a": "33.34", "b": "33.33", "c": "33.33"}),
        ("0.01", {"a": "500", "b": "666.67"}, {"a": "0.00", "b": "0.01"}),
        ("-583.33", {"a": "1", "b": "3"}, {"a": "-145.83", "b": "-437.50"}),
        ("12.00", {"a": "0", "b": "0"}, {"a": "12.00", "b": "0.00"}),
        ("0.00", {"a": "2", "b": "3"}, {"a": "0.00", "b": "0.00"}),
    ],
)
def test_apportion_adds_up_to_the_total_exactly(total, weights, expected):
    shares = ledger.apportion(Decimal(total), {k: Decimal(v) for k, v in weights.items()})
    assert shares == {k: Decimal(v) for k, v in expected.items()}
    assert sum(shares.values()) == Decimal(total)


# --- the account page ----------------------------------------------------------------------------


def statement_section(body: str, period: str) -> str:
    pattern = rf'<section class="card h-100 table-card bill-statement" id="statement-{period}".*?</section>'
    match = re.search(pattern, body, re.S)
    assert match, f"no statement for {period}"
    return match.group(0)


def test_account_page_shows_the_discount_line_the_credit_with_its_application_and_the_due(m8, client_as):
    client = client_as("clerk", district="南岗")  # zh-hans, the portal's default
    response = client.get(reverse("billing:account-detail", args=[m8.account.account_no]))
    assert response.status_code == 200
    march = statement_section(response.content.decode(), "2020-03")
    discount_row = re.search(r'<tr class="table-warning discount-line".*?</tr>', march, re.S).group(0)
    assert DISCOUNT_WORDING in discount_row
    assert "-1,166.67" in discount_row
    credit_row = re.search(r'<tr class="table-info credit-line" data-relief="basic_charge_credit".*?</tr>', march, re.S)
    credit_row = credit_row.group(0)
    assert CREDIT_WORDING in credit_row
    assert "-11,666.67" in credit_row
    assert f'href="/work/applications/{m8.application.pk}/"' in credit_row
    assert re.search(r"<td [^>]*data-due>22,179.00</td>", march)
    # Each line with its own discount: the basic line's 666.67 is shown beside it.
    assert re.search(r'data-line="basic">.*?25,000.00.*?666.67', march, re.S)
    body = response.content.decode()
    assert re.search(r'id="account-balance">11,666.67', body)
    # February: the plain discount and no credit; January (outside the window): neither.
    february = statement_section(body, "2020-02")
    assert "-1,750.00" in february and "credit-line" not in february
    january = statement_section(body, "2020-01")
    assert "discount-line" not in january and re.search(r"data-due>35,012.34<", january)


def test_account_page_links_the_list_a_discount_comes_from(m8, client_as):
    response = client_as("manager", language="en").get(reverse("billing:account-detail", args=[m8.account.account_no]))
    february = statement_section(response.content.decode(), "2020-02")
    assert f'href="/work/lists/{m8.list.pk}/"' in february
    assert "Eligibility list #" in february


@pytest.mark.parametrize("months", [(3,), (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)])
def test_account_page_query_count_is_fixed_whatever_the_number_of_bills(client_as, django_assert_num_queries, months):
    account = m8_new_account(district_name="南岗")
    m8_bills(account, months=months)
    approve_list(EligibilityListFactory(district_name="南岗", state="approved"), [account])
    approve_suspension(ApplicationFactory(account=account, kind="suspension", state="approved"), account)
    client = client_as("manager")
    # session, user, permissions (user + groups), roles, the account with its district, its
    # industry, its bills, the ledger's sums per (bill, kind, cause), its grants, the policies.
    with django_assert_num_queries(11):
        response = client.get(reverse("billing:account-detail", args=[account.account_no]))
    assert len(response.context["statements"]) == len(months)


# --- the bills API ----------------------------------------------------------------------------------


def test_bills_api_returns_the_same_figures_as_the_page(m8, api_as):
    api = api_as("clerk", district="南岗")
    body = api.get(f"/api/v1/customers/{m8.account.account_no}/bills/").json()
    assert [b["period"] for b in body] == ["2020-01", "2020-02", "2020-03", "2020-04"]
    march = body[2]
    assert [(line["kind"], line["amount"], line["discount"]) for line in march["lines"]] == [
        ("energy", "10000.00", "500.00"),
        ("basic", "25000.00", "666.67"),
        ("power_factor", "0.00", "0.00"),
        ("late_fee", "12.34", "0.00"),
    ]
    assert (march["gross"], march["discount"], march["credits"], march["due"]) == (
        "35012.34",
        "1166.67",
        "11666.67",
        "22179.00",
    )
    assert sum(Decimal(line["discount"]) for line in march["lines"]) == Decimal(march["discount"])
    assert march["pending"] is False
    credit = next(r for r in march["relief"] if r["kind"] == "basic_charge_credit")
    assert credit == {
        "kind": "basic_charge_credit",
        "label": credit["label"],
        "amount": "11666.67",
        "cause_type": "application",
        "cause_id": m8.application.pk,
    }
    assert (body[1]["discount"], body[1]["credits"], body[1]["due"]) == ("1750.00", "0.00", "33262.34")
    assert (body[0]["discount"], body[0]["due"]) == ("0.00", "35012.34")
    detail = api.get(f"/api/v1/customers/{m8.account.account_no}/").json()
    assert detail["balance"] == "11666.67"


def test_customer_balance_is_read_with_the_account(m8, api_as, django_assert_num_queries):
    api = api_as("manager")
    # session + user (2), permissions (2), roles (1), the account with its district and balance (1).
    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/customers/{m8.account.account_no}/")
    assert response.json()["balance"] == "11666.67"


@pytest.mark.parametrize("months", [(3,), (1, 2, 3, 4, 5, 6)])
def test_bills_api_query_count_with_ledger_data(api_as, django_assert_num_queries, months):
    account = m8_new_account(district_name="南岗")
    m8_bills(account, months=months)
    approve_list(EligibilityListFactory(district_name="南岗", state="approved"), [account])
    approve_suspension(ApplicationFactory(account=account, kind="suspension", state="approved"), account)
    api = api_as("clerk", district="南岗")
    # session + user (2), permissions (2), roles (1), account, bills, ledger sums, grants, policies.
    with django_assert_num_queries(10):
        response = api.get(f"/api/v1/customers/{account.account_no}/bills/")
    assert len(response.json()) == len(months)


# --- the PDF ---------------------------------------------------------------------------------------


def _pdf_unescape(literal: bytes) -> bytes:
    """The bytes of a PDF literal string's body (escapes resolved)."""
    out = bytearray()
    i = 0
    while i < len(literal):
        c = literal[i]
        if c != 0x5C:  # backslash
            out.append(c)
            i += 1
            continue
        nxt = literal[i + 1 : i + 2]
        if nxt.isdigit():
            digits = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4]).group(0)
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        else:
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(nxt, nxt)
            i += 2
    return bytes(out)


def pdf_text(data: bytes) -> str:
    """The text shown on the PDF's pages, one string per line (no PDF library needed).

    Streams are decoded (ASCII85, Flate); text shown in a CID font (the CJK font) is UTF-16BE, other
    text Latin-1.
    """
    objects = {int(m[1]): m[2] for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}
    cid_fonts = set()
    for body in objects.values():
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", body):
            if b"/Type0" in objects.get(int(ref), b""):
                cid_fonts.add(name)
    shown = []
    for body in objects.values():
        match = re.search(rb"stream\r?\n(.*?)\s*endstream", body, re.S)
        if not match:
            continue
        raw = match.group(1)
        if b"ASCII85Decode" in body[: match.start()]:
            raw = base64.a85decode(raw.strip(), adobe=True)
        if b"FlateDecode" in body[: match.start()]:
            raw = zlib.decompress(raw)
        font = None
        for token in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", raw, re.S):
            if token.group(1):
                font = token.group(1)
                continue
            string = _pdf_unescape(token.group(2))
            shown.append(string.decode("utf-16-be") if font in cid_fonts else string.decode("latin-1"))
    return "\n".join(shown)


def pdf_url(account, period="2020-03"):
    return reverse("billing:bill-statement-pdf", args=[account.account_no, period])


def test_pdf_statement_holds_the_same_figures_in_chinese(m8, client_as):
    response = client_as("clerk", district="南岗", language="en").get(pdf_url(m8.account))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="statement-2301000088-2020-03.pdf"'
    data = response.content
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in (
        "2301000088",
        "哈尔滨示例机械有限公司",
        "南岗",
        "2020-03",
        "25,000.00",  # the basic line as billed
        "666.67",  # its discount
        "35,012.34",  # gross
        DISCOUNT_WORDING,
        "-1,166.67",
        CREDIT_WORDING,
        "-11,666.67",
        f"申请 #{m8.application.pk}",  # the credit's cause
        "22,179.00",  # amount due
        "应缴金额",
    ):
        assert expected in text, expected
    assert "Amount due" not in text  # Chinese whatever the viewer's language


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (apt-get install poppler-utils)")
def test_pdf_statement_text_as_a_pdf_reader_extracts_it(m8, client_as, tmp_path):
    path = tmp_path / "statement.pdf"
    path.write_bytes(client_as("manager").get(pdf_url(m8.account)).content)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True).stdout.decode()
    for expected in ("2301000088", "-11,666.67", "-1,166.67", "22,179.00", "25,000.00"):
        assert expected in text


def test_pdf_is_scoped_and_404_for_a_bad_month(m8, client_as, client):
    assert client_as("clerk", district="道里").get(pdf_url(m8.account)).status_code == 404
    client.logout()
    manager = client_as("manager")
    assert manager.get(pdf_url(m8.account, "2020-13")).status_code == 404
    assert manager.get(pdf_url(m8.account, "2020-3")).status_code == 404
    assert manager.get(pdf_url(m8.account, "2021-03")).status_code == 404  # no such bill
    assert manager.get(pdf_url(m8.account, "2020-04")).status_code == 200


def test_account_page_links_each_bill_to_its_pdf(m8, client_as):
    body = client_as("manager").get(reverse("billing:account-detail", args=[m8.account.account_no])).content.decode()
    assert f'href="{pdf_url(m8.account)}"' in body


# --- export_ledger -----------------------------------------------------------------------------------

HEADER = "account_no,period,kind,amount,cause_type,cause_id,posted_at"


def export(*args) -> str:
    out = io.StringIO()
    call_command("export_ledger", *args, stdout=out)
    return out.getvalue()


def expected_rows(queryset) -> list[list[str]]:
    rows = queryset.select_related("account").order_by("account__account_no", "period", "kind", "seq")
    return [
        [
            e.account.account_no,
            f"{e.period:%Y-%m}",
            e.kind,
            f"{e.amount:.2f}",
            e.cause_type,
            str(e.cause_id),
            timezone.localtime(e.posted_at).isoformat(),
        ]
        for e in rows
    ]


@pytest.fixture
def two_accounts(m8):
    """The M8 account and one more (listed first by number) on another list."""
    other = m8_new_account(account_no="2301000011", district_name="道里")
    m8_bills(other, months=(2,))
    approve_list(EligibilityListFactory(district_name="道里", state="approved"), [other])
    return m8, other


def test_export_ledger_writes_every_entry_in_order_with_the_documented_formats(two_accounts):
    output = export()
    lines = output.splitlines()
    assert lines[0] == HEADER
    rows = list(csv.reader(io.StringIO(output)))[1:]
    assert rows == expected_rows(LedgerEntry.objects.all())
    assert len(rows) == LedgerEntry.objects.count() == 1 + 5  # other: Feb; m8: Feb, Mar (credit, discount ×2), Apr
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    march = [r for r in rows if r[0] == "2301000088" and r[1] == "2020-03"]
    assert [(r[2], r[3], r[4]) for r in march] == [
        ("basic_charge_credit", "11666.67", "application"),
        ("discount", "1750.00", "eligibility_list"),
        ("discount", "-583.33", "application"),  # seq 2: the correction
    ]
    for row in rows:
        assert re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", row[1])
        assert re.fullmatch(r"-?\d+\.\d{2}", row[3])
        assert dt.datetime.fromisoformat(row[6]).utcoffset() is not None


def test_export_ledger_filters_by_account_and_cause_type(two_accounts):
    m8, other = two_accounts
    by_account = list(csv.reader(io.StringIO(export("--account", other.account_no))))
    assert by_account[0] == HEADER.split(",")
    assert by_account[1:] == expected_rows(LedgerEntry.objects.filter(account=other))
    by_cause = list(csv.reader(io.StringIO(export("--cause-type", "application"))))[1:]
    assert by_cause == expected_rows(LedgerEntry.objects.filter(cause_type="application"))
    assert {r[4] for r in by_cause} == {"application"} and len(by_cause) == 2
    both = list(csv.reader(io.StringIO(export("--account", other.account_no, "--cause-type", "application"))))
    assert both == [HEADER.split(",")]


def test_export_ledger_refuses_an_unknown_account_or_cause_type(db):
    with pytest.raises(CommandError, match="2399999999"):
        export("--account", "2399999999")
    with pytest.raises(CommandError, match="eligibility_list, application") as error:
        export("--cause-type", "list")
    assert "'list'" in str(error.value)


def test_export_ledger_streams_with_an_iterator(two_accounts, monkeypatch):
    from django.db.models.query import QuerySet

    calls = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        calls.append((self.model, chunk_size))
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    export()
    assert calls == [(LedgerEntry, 5000)]


# --- GET /api/v1/ledger/ ---------------------------------------------------------------------------

LEDGER_URL = "/api/v1/ledger/"


def test_ledger_api_lists_entries_with_the_documented_fields(two_accounts, api_as):
    m8, _other = two_accounts
    body = api_as("manager").get(LEDGER_URL, {"account_no": m8.account.account_no}).json()
    entries = body["results"]
    assert len(entries) == LedgerEntry.objects.filter(account=m8.account).count()
    credit = next(e for e in entries if e["kind"] == "basic_charge_credit")
    entry = LedgerEntry.objects.get(account=m8.account, kind="basic_charge_credit")
    assert credit == {
        "account_no": "2301000088",
        "period": "2020-03",
        "kind": "basic_charge_credit",
        "amount": "11666.67",
        "cause_type": "application",
        "cause_id": m8.application.pk,
        "posted_at": credit["posted_at"],
    }
    assert dt.datetime.fromisoformat(credit["posted_at"]) == entry.posted_at
    assert "-583.33" in [e["amount"] for e in entries]


def test_ledger_api_filters_by_cause(two_accounts, api_as):
    m8, other = two_accounts
    api = api_as("manager")
    applications = api.get(LEDGER_URL, {"cause_type": "application"}).json()["results"]
    assert {(e["cause_type"], e["cause_id"]) for e in applications} == {("application", m8.application.pk)}
    by_list = api.get(LEDGER_URL, {"cause_type": "eligibility_list", "cause_id": m8.list.pk}).json()["results"]
    assert {e["account_no"] for e in by_list} == {"2301000088"} and len(by_list) == 3
    assert api.get(LEDGER_URL, {"account_no": other.account_no, "cause_type": "application"}).json()["results"] == []


def test_ledger_api_is_scoped_to_the_callers_district(two_accounts, api_as):
    m8, other = two_accounts
    nangang = api_as("clerk", district="南岗").get(LEDGER_URL).json()["results"]
    assert {e["account_no"] for e in nangang} == {m8.account.account_no}
    daoli = api_as("district_reviewer", district="道里")
    assert {e["account_no"] for e in daoli.get(LEDGER_URL).json()["results"]} == {other.account_no}
    # Another district's account gives no rows, exactly as an unknown account does.
    outside = daoli.get(LEDGER_URL, {"account_no": m8.account.account_no})
    unknown = daoli.get(LEDGER_URL, {"account_no": "2399999999"})
    assert outside.status_code == unknown.status_code == 200
    assert outside.json()["results"] == unknown.json()["results"] == []
    assert {e["account_no"] for e in api_as("leader").get(LEDGER_URL).json()["results"]} == {
        m8.account.account_no,
        other.account_no,
    }


def test_ledger_api_refuses_a_bad_cause_type_or_account_number(m8, api_as):
    api = api_as("manager")
    response = api.get(LEDGER_URL, {"cause_type": "grant"})
    assert response.status_code == 400
    [message] = response.json()["cause_type"]
    assert "eligibility_list" in message and "application" in message and "grant" in message
    response = api.get(LEDGER_URL, {"account_no": "23010"})
    assert response.status_code == 400 and response.json()["account_no"]
    assert api.get(LEDGER_URL, {"cause_id": "x"}).status_code == 400
    assert APIClient().get(LEDGER_URL).status_code == 401


def test_ledger_api_pages_with_a_cursor(two_accounts, api_as):
    api = api_as("manager")
    seen = []
    page = api.get(LEDGER_URL, {"page_size": 3}).json()
    while True:
        assert len(page["results"]) <= 3
        seen += page["results"]
        if not page["next"]:
            break
        page = api.get(page["next"]).json()
    assert len(seen) == LedgerEntry.objects.count()
    ids = list(LedgerEntry.objects.order_by("id").values_list("amount", flat=True))
    assert [Decimal(e["amount"]) for e in seen] == ids


@pytest.mark.parametrize("role", ["manager", "clerk"])
def test_ledger_api_query_count_is_fixed(two_accounts, api_as, django_assert_num_queries, role):
    api = api_as(role, district="南岗" if role == "clerk" else None)
    # session + user (2), permissions (2), roles (1), one page of entries with their accounts (1).
    with django_assert_num_queries(6):
        response = api.get(LEDGER_URL, {"page_size": 2})
    assert len(response.json()["results"]) == 2


# --- the posting job's progress --------------------------------------------------------------------


def job_url(item, kind="application"):
    name = "api:application-posting-job" if kind == "application" else "api:eligibility-list-posting-job"
    return reverse(name, args=[item.pk])


@pytest.fixture
def list_in_progress(db, monkeypatch, settings):
    """An approved list of 3 accounts whose job is planned in 3 chunks, none run yet."""
    monkeypatch.setattr(posting, "CHUNK_ACCOUNTS", 1)
    settings.PORTAL_POSTING_CHUNK_ACCOUNTS = 1
    accounts = [m8_new_account(district_name="香坊") for _ in range(3)]
    for account in accounts:
        m8_bills(account, months=(3,))
    lst = EligibilityListFactory(district_name="香坊", state="approved")
    job = approve_list(lst, accounts, run=False)
    return lst, job


def test_progress_endpoint_follows_the_jobs_chunks(list_in_progress, api_as):
    lst, job = list_in_progress
    api = api_as("clerk", district="香坊")
    body = api.get(job_url(lst, "list")).json()
    assert (body["state"], body["chunks_done"], body["chunks_total"], body["progress"], body["done"]) == (
        "pending",
        0,
        0,
        0,
        False,
    )
    chunk_ids = posting.job_plan(job=job)
    assert len(chunk_ids) == 3
    posting.chunk_run(chunk_id=chunk_ids[0])
    body = api.get(job_url(lst, "list")).json()
    assert (body["state"], body["chunks_done"], body["chunks_total"], body["progress"]) == ("running", 1, 3, 33)
    assert body["entries_posted"] == 1
    posting.job_fail(job_id=job.pk, error="OperationalError: database is locked")
    body = api.get(job_url(lst, "list")).json()
    assert (body["state"], body["error"], body["done"]) == ("failed", "OperationalError: database is locked", False)
    for chunk_id in chunk_ids[1:]:
        posting.chunk_run(chunk_id=chunk_id)
    body = api.get(job_url(lst, "list")).json()
    assert (body["state"], body["chunks_done"], body["progress"], body["error"], body["done"]) == (
        "done",
        3,
        100,
        "",
        True,
    )


def test_progress_endpoint_is_scoped_like_the_item(list_in_progress, api_as, m8):
    lst, _job = list_in_progress
    assert api_as("clerk", district="道里").get(job_url(lst, "list")).status_code == 404
    assert api_as("manager").get(job_url(lst, "list")).status_code == 200
    api = api_as("manager")
    assert api.get(job_url(m8.application)).json()["state"] == "done"
    assert api.get("/api/v1/applications/999999/posting-job/").status_code == 404
    assert api.get("/api/v1/applications/abc/posting-job/").status_code == 404
    draft = ApplicationFactory()
    assert api.get(job_url(draft)).status_code == 404  # no job before approval
    assert APIClient().get(job_url(lst, "list")).status_code == 401


def test_progress_endpoint_query_count(list_in_progress, api_as, django_assert_num_queries):
    lst, _job = list_in_progress
    api = api_as("clerk", district="香坊")
    # session + user (2), roles (1), the list (1), its job (1).
    with django_assert_num_queries(5):
        assert api.get(job_url(lst, "list")).status_code == 200


def test_list_page_shows_the_progress_bar_that_polls_the_endpoint(list_in_progress, client_as):
    lst, job = list_in_progress
    chunk_ids = posting.job_plan(job=job)
    posting.chunk_run(chunk_id=chunk_ids[0])
    body = client_as("clerk", district="香坊", language="en").get(reverse("workflow:list-detail", args=[lst.pk]))
    body = body.content.decode()
    box = re.search(r"<section class=\"card mb-3 posting-job\".*?</section>", body, re.S).group(0)
    assert f'data-poll-url="{job_url(lst, "list")}"' in box
    assert 'data-state="running"' in box
    assert 'aria-valuenow="33"' in box and "width: 33%" in box
    assert "1 of 3 chunks done" in box
    assert re.search(r"data-job-error\s+hidden", box)
    assert '<script src="/static/js/posting-job.js" defer></script>' in body
    # No inline script: every script element loads a static file.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", body))


def test_a_failed_job_shows_its_error_and_the_item_stays_approved(list_in_progress, client_as):
    lst, job = list_in_progress
    posting.job_plan(job=job)
    posting.job_fail(job_id=job.pk, error="OperationalError: database is locked")
    response = client_as("city_reviewer", language="en").get(reverse("workflow:list-detail", args=[lst.pk]))
    body = response.content.decode()
    box = re.search(r"<section class=\"card mb-3 posting-job\".*?</section>", body, re.S).group(0)
    assert "OperationalError: database is locked" in box
    assert "retried" in box and "bg-danger" in box
    assert response.context["item"].state == "approved"
    assert response.context["posting_job"]["state"] == JobState.FAILED


def test_application_page_shows_its_done_job(m8, client_as):
    body = client_as("clerk", district="南岗").get(reverse("workflow:application-detail", args=[m8.application.pk]))
    box = re.search(r"<section class=\"card mb-3 posting-job\".*?</section>", body.content.decode(), re.S).group(0)
    assert 'data-state="done"' in box and "width: 100%" in box and "bg-success" in box


def test_pending_items_have_no_progress_bar_and_no_extra_query(client_as, django_assert_num_queries):
    app = ApplicationFactory(state="pending_city")
    client = client_as("leader")
    # session, user, groups, the application with its joins, its decisions, its scans: as before.
    with django_assert_num_queries(6):
        response = client.get(reverse("workflow:application-detail", args=[app.pk]))
    assert response.context["posting_job"] is None
    assert "posting-job" not in response.content.decode()


def test_approved_item_page_adds_one_query_for_its_job(m8, client_as, django_assert_num_queries):
    client = client_as("leader")
    with django_assert_num_queries(7):
        response = client.get(reverse("workflow:application-detail", args=[m8.application.pk]))
    assert response.context["posting_job"]["state"] == "done"
