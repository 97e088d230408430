"""The UI speaks Chinese by default and English after the language switch; the catalogue is complete."""

from __future__ import annotations

import ast
import gettext
import re

import pytest
from django.conf import settings
from django.utils import translation

from billing.models import Account, Category, PriorityRole
from organisation.roles import Role
from tests.factories import AccountFactory

PO_PATH = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")


def switch_language(client, code: str, next_url: str = "/"):
    return client.post("/i18n/setlang/", {"language": code, "next": next_url})


@pytest.fixture
def manager_client(client, make_staff):
    client.force_login(make_staff("manager"))
    return client


@pytest.mark.django_db
def test_home_page_is_chinese_by_default(manager_client):
    body = manager_client.get("/").content.decode()
    assert '<html lang="zh-hans">' in body
    for text in ("首页", "用电客户", "退出登录", "修改密码", "管理人员", "疫情防控电费优惠工作平台"):
        assert text in body
    assert "Log out" not in body


@pytest.mark.django_db
def test_home_page_is_english_after_the_language_switch(manager_client):
    response = switch_language(manager_client, "en")
    assert response.status_code == 302 and response["Location"] == "/"
    body = manager_client.get("/").content.decode()
    assert '<html lang="en">' in body
    for text in ("Home", "Accounts", "Log out", "Change password", "Manager", "COVID-19 electricity relief portal"):
        assert text in body
    assert "退出登录" not in body
    switch_language(manager_client, "zh-hans")
    assert "退出登录" in manager_client.get("/").content.decode()


@pytest.mark.django_db
def test_language_switch_offers_both_languages_and_marks_the_current_one(manager_client):
    body = manager_client.get("/").content.decode()
    assert 'value="zh-hans" lang="zh-hans">简体中文</button>' in body
    assert 'value="en" lang="en">English</button>' in body
    assert re.search(r'class="dropdown-item active"\s+name="language" value="zh-hans"', body)
    assert not re.search(r'class="dropdown-item active"\s+name="language" value="en"', body)


@pytest.mark.django_db
def test_login_page_can_switch_language_before_signing_in(client):
    assert "登录" in client.get("/accounts/login/").content.decode()
    response = switch_language(client, "en", "/accounts/login/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    body = client.get("/accounts/login/").content.decode()
    assert "Log in" in body and "登录" not in body


@pytest.mark.django_db
def test_accounts_pages_follow_the_language(manager_client):
    account = AccountFactory(category=Category.LARGE_INDUSTRIAL, industry_code="3110", priority_role="hospital")
    listing = manager_client.get("/customers/").content.decode()
    for text in ("户号", "大工业", "高耗能", "不符合", "全部区县", "基本电费计费方式"):
        assert text in listing
    page = manager_client.get(f"/customers/{account.account_no}/").content.decode()
    for text in ("逐月电费账单", "力调电费", "违约金", "欠费", "定点医院", "属于高耗能行业", "不享受95%电价政策"):
        assert text in page
    assert "%%" not in page
    switch_language(manager_client, "en")
    listing = manager_client.get("/customers/").content.decode()
    for text in ("Account number", "Large industrial", "High-energy", "Not eligible", "All districts"):
        assert text in listing
    assert "大工业" not in listing
    page = manager_client.get(f"/customers/{account.account_no}/").content.decode()
    for text in ("Bills by month", "Power-factor adjustment", "Late fee", "Designated hospital", "high-energy"):
        assert text in page


def test_model_labels_and_choices_are_translated():
    with translation.override("zh-hans"):
        assert [str(r.label) for r in Role] == [
            "受理员",
            "区县审核",
            "市公司营销部专责",
            "营销部主任",
            "分管领导",
            "管理人员",
            "系统管理员",
        ]
        assert [str(c.label) for c in Category] == ["居民", "一般工商业及其它", "大工业", "农业"]
        assert str(PriorityRole.HOSPITAL.label) == "定点医院"
        assert str(Account._meta.get_field("account_no").verbose_name) == "户号"
        assert str(Account._meta.get_field("basic_charge_method").verbose_name) == "基本电费计费方式"
    with translation.override("en"):
        assert str(Role.CLERK.label) == "Clerk"


# --- the catalogue itself -------------------------------------------------------------------------


def read_po(path) -> list[dict]:
    """Entries of a .po file (msgid, msgstr, flags, plural); zh-hans has one plural form (msgstr[0])."""
    entries, current, field = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current is not None:
                entries.append(current)
            current, field = None, None
            continue
        if current is None:
            current = {"flags": set(), "msgid": "", "msgstr": "", "plural": False}
        if line.startswith("#,"):
            current["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgid ", "msgstr ", "msgid_plural ", "msgstr[")):
            field, _, literal = line.partition(" ")
            if field == "msgid_plural":
                current["plural"] = True
            field = {"msgstr[0]": "msgstr"}.get(field, field)
            current[field] = ast.literal_eval(literal)
        elif line.startswith('"'):
            current[field] += ast.literal_eval(line)
        else:
            raise AssertionError(f"unexpected line in {path.name}: {line!r}")
    return [e for e in entries if e["msgid"]]


def test_every_message_has_a_chinese_translation():
    entries = read_po(PO_PATH)
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not e["msgstr"]]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy (not used until reviewed): {fuzzy}"


def test_compiled_catalogue_matches_the_po_file():
    """compilemessages was run after the last change to the .po file."""
    with MO_PATH.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    stale = [
        e["msgid"]
        for e in read_po(PO_PATH)
        if catalog.get((e["msgid"], 0) if e["plural"] else e["msgid"]) != e["msgstr"]
    ]
    assert not stale, f"run compilemessages: {stale[:5]}"


def test_chinese_even_when_the_browser_prefers_english(client, make_staff):
    """zh-hans by default: Accept-Language alone does not switch the portal to English."""
    client.force_login(make_staff("manager"))
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-hans"' in page
