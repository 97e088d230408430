"""One real scenario against a running production install, over HTTP (CI's production smoke stage).

    python scripts/smoke/scenario.py --base http://127.0.0.1:PORT --manage "python manage.py" \
        --password-dir DIR --static-root DIR

Standard library only: it runs in the production virtualenv, which has no test tools. What it does,
failing (exit 1) on the first difference:

1. ``/healthz`` answers 200 (within 30 s of the start) with the database, the broker and a worker "ok";
2. each of the five people of the chain gets a token (``POST /api/v1/auth/token/``);
3. the pre-screened draft list of 南岗 for ``discount-2020`` holds exactly the eligible accounts of
   ``customers.csv`` (general commercial and large industrial, not high-energy: division 26 is out);
4. the list goes through the whole chain (clerk submits; district reviewer, city reviewer,
   department head and leader approve), each step with ``expected_state``;
5. the worker posts the money and settles the list (``settled`` within the time limit);
6. the ledger over the API and through ``manage.py export_ledger`` both equal the discount computed
   here, independently, from ``bills.csv``: 5% of each of the energy, basic and power-factor lines,
   each line rounded half up to the fen, for the months of the policy's windows (February onwards);
7. a hashed static file is served by whitenoise with a far-future cache header, compressed on
   request, and byte for byte the collected file.

Over ``https://`` (nginx of ``deploy/nginx/portal.conf`` in front, ``--cafile`` its certificate) the
proxy says the scheme; over plain ``http://`` to gunicorn every request says
``X-Forwarded-Proto: https`` itself, as that nginx site does.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import shlex
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
DISTRICT = "南岗"
POLICY = "discount-2020"
RATE = Decimal("0.05")
FIRST_MONTH = "2020-02"  # the policy's first window opens in February 2020
ELIGIBLE_CATEGORIES = {"general_commercial", "large_industrial"}
EXCLUDED_DIVISIONS = {"25", "26", "30", "31", "32", "44"}
CHAIN = [
    ("clerk_nangang", "submit", "draft"),
    ("reviewer_nangang", "approve", "pending_district"),
    ("city_reviewer", "approve", "pending_city"),
    ("department_head", "approve", "pending_head"),
    ("leader", "approve", "pending_leader"),
]
SETTLE_SECONDS = 120
HEALTH_SECONDS = 30


class SmokeFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


class Client:
    def __init__(self, base: str, cafile: str | None = None):
        self.base = base.rstrip("/")
        self.tls = self.base.startswith("https://")
        self.context = ssl.create_default_context(cafile=cafile) if self.tls else None

    def request(self, method: str, path: str, *, token: str | None = None, body=None, headers=None):
        url = path if path.startswith("http") else self.base + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback URL given by CI
        if not self.tls:
            req.add_header("X-Forwarded-Proto", "https")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Token {token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.context) as resp:  # noqa: S310
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method: str, path: str, *, expect: int = 200, **kwargs):
        status, _, raw = self.request(method, path, **kwargs)
        check(status == expect, f"{method} {path}: expected {expect}, got {status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None


def money(text: str) -> Decimal:
    return Decimal(text or "0")


def fen(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_accounts() -> set[str]:
    with open(HERE / "customers.csv", encoding="utf-8") as fh:
        return {
            row["account_no"]
            for row in csv.DictReader(fh)
            if row["district"] == DISTRICT
            and row["category"] in ELIGIBLE_CATEGORIES
            and row["industry_code"][:2] not in EXCLUDED_DIVISIONS
        }


def expected_discounts(accounts: set[str]) -> dict[tuple[str, str], Decimal]:
    """(account_no, period) → the month's discount: each line's 5% rounded half up, then summed."""
    out = {}
    with open(HERE / "bills.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["account_no"] not in accounts or row["period"] < FIRST_MONTH:
                continue
            lines = (row["energy_charge"], row["basic_charge"], row["power_factor_charge"])
            out[(row["account_no"], row["period"])] = sum((fen(money(line) * RATE) for line in lines), Decimal("0"))
    return out


def summed(rows) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        check(row["kind"] == "discount", f"unexpected ledger kind {row['kind']!r}: {row}")
        check(row["cause_type"] == "eligibility_list", f"unexpected cause {row['cause_type']!r}: {row}")
        key = (row["account_no"], row["period"])
        out[key] = out.get(key, Decimal("0")) + Decimal(row["amount"])
    return out


def step(message: str) -> None:
    print(f"-- {message}", flush=True)


def run(args) -> None:
    client = Client(args.base, args.cafile)

    step("healthz")
    # Each gunicorn worker keeps its answer a few seconds: one asked while the Celery worker was
    # still starting says 503 until its answer expires.
    deadline = time.monotonic() + HEALTH_SECONDS
    while True:
        status, _, raw = client.request("GET", "/healthz")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    check(status == 200, f"/healthz still {status} after {HEALTH_SECONDS}s: {raw[:300]!r}")
    health = json.loads(raw)
    for part in ("database", "broker", "worker"):
        check(health.get(part) == "ok", f"/healthz {part}: {health.get(part)!r}")

    step("tokens")
    tokens = {}
    for username, _, _ in CHAIN:
        password = (Path(args.password_dir) / username).read_text(encoding="utf-8").strip()
        tokens[username] = client.json(
            "POST", "/api/v1/auth/token/", body={"username": username, "password": password}
        )["token"]
    status, _, _ = client.request("GET", "/api/v1/eligibility-lists/", token="not-a-token")  # noqa: S106 - a wrong token on purpose
    check(status == 401, f"a bad token must answer 401, got {status}")

    step("the pre-screened draft list")
    clerk = tokens["clerk_nangang"]
    page = client.json("GET", f"/api/v1/eligibility-lists/?policy={POLICY}&state=draft", token=clerk)
    lists = [item for item in page["results"] if item["district"] == DISTRICT]
    check(len(lists) == 1, f"expected one draft list of {DISTRICT}, got {page['results']}")
    lst = lists[0]
    accounts = expected_accounts()
    check(lst["accounts"] == len(accounts), f"list holds {lst['accounts']} accounts, expected {len(accounts)}")
    entries = client.json("GET", f"/api/v1/eligibility-lists/{lst['id']}/entries/?included=true", token=clerk)
    listed = {entry["account_no"] for entry in entries["results"]}
    check(listed == accounts, f"list entries {sorted(listed)} != eligible {sorted(accounts)}")

    step("the chain")
    for username, action, state in CHAIN:
        lst = client.json(
            "POST",
            f"/api/v1/eligibility-lists/{lst['id']}/transitions/{action}/",
            token=tokens[username],
            body={"expected_state": state, "reason": f"smoke test: {action} by {username}"},
        )
        print(f"   {username} {action}: {state} -> {lst['state']}", flush=True)
    check(lst["state"] in ("approved", "settled"), f"after the leader the list is {lst['state']!r}")

    step("posting and settling by the worker")
    deadline = time.monotonic() + SETTLE_SECONDS
    while lst["state"] != "settled":
        check(time.monotonic() < deadline, f"the list is still {lst['state']!r} after {SETTLE_SECONDS}s")
        time.sleep(1)
        lst = client.json("GET", f"/api/v1/eligibility-lists/{lst['id']}/", token=clerk)

    expected = expected_discounts(accounts)
    step(f"the ledger over the API ({len(expected)} account-months expected)")
    rows, url = [], "/api/v1/ledger/?cause_type=eligibility_list&page_size=1000"
    while url:
        page = client.json("GET", url, token=tokens["city_reviewer"])
        rows.extend(page["results"])
        url = page.get("next")
    got = summed(rows)
    check(
        got == expected, f"ledger over the API differs: got {sorted(got.items())}, expected {sorted(expected.items())}"
    )

    step("the ledger through export_ledger")
    out = subprocess.run(  # noqa: S603 - the command line is CI's own
        [*shlex.split(args.manage), "export_ledger", "--cause-type", "eligibility_list"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    exported = list(csv.DictReader(out.splitlines()))
    check(
        list(exported[0].keys()) == ["account_no", "period", "kind", "amount", "cause_type", "cause_id", "posted_at"],
        f"export_ledger header: {list(exported[0].keys())}",
    )
    check(summed(exported) == expected, f"export_ledger differs: {sorted(summed(exported).items())}")
    check(all(row["cause_id"] == str(lst["id"]) for row in exported), "export_ledger names another cause")

    step("a static file through whitenoise")
    manifest = json.loads((Path(args.static_root) / "staticfiles.json").read_text(encoding="utf-8"))["paths"]
    status, _, login_html = client.request("GET", "/accounts/login/")
    check(status == 200, f"login page: {status}")
    css = re.search(rb'href="/static/([^"]+\.css)"', login_html)
    check(css is not None, "the login page links no stylesheet")
    hashed = css.group(1).decode()
    check(hashed in manifest.values(), f"{hashed} is not a hashed name of the manifest")
    status, headers, body = client.request("GET", f"/static/{hashed}")
    check(status == 200, f"/static/{hashed}: {status}")
    check(headers.get("Content-Type", "").startswith("text/css"), f"Content-Type {headers.get('Content-Type')}")
    check("immutable" in headers.get("Cache-Control", ""), f"Cache-Control {headers.get('Cache-Control')}")
    check(body == (Path(args.static_root) / hashed).read_bytes(), "the served file differs from the collected one")
    status, headers, zipped = client.request("GET", f"/static/{hashed}", headers={"Accept-Encoding": "gzip"})
    check(headers.get("Content-Encoding") == "gzip", f"no gzip: {headers.get('Content-Encoding')}")
    check(gzip.decompress(zipped) == body, "the gzip file differs")

    print(f"smoke scenario passed: list {lst['id']} settled, {len(rows)} ledger entries, {sum(got.values())} yuan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--manage", required=True, help="how to call manage.py, e.g. '.venv/bin/python manage.py'")
    parser.add_argument("--password-dir", required=True)
    parser.add_argument("--static-root", required=True)
    parser.add_argument("--cafile", help="the certificate to trust for an https:// base")
    args = parser.parse_args()
    try:
        run(args)
    except SmokeFailure as exc:
        print(f"SMOKE FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
