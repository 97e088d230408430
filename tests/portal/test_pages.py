"""The portal shell: every page is private, the layout, the per-role home page, login and passwords."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.exceptions import Resolver404
from django.utils.html import escape
from django.utils.regex_helper import normalize

from organisation.roles import Role
from tests.factories import AccountFactory

PASSWORD = "demo-pass-123"  # tests.factories.StaffFactory

# --- walking the URL resolver ------------------------------------------------------------------

SAMPLE_BY_CONVERTER = {
    IntConverter: "1",
    StringConverter: "2300000001",
    SlugConverter: "sample",
    PathConverter: "1",
    UUIDConverter: str(uuid.UUID(int=1)),
}


def _candidates(converter) -> list[str]:
    """Values to try for one URL parameter: the converter's sample first, then generic ones."""
    first = [SAMPLE_BY_CONVERTER[type(converter)]] if type(converter) in SAMPLE_BY_CONVERTER else []
    generic = ["1", "2300000001", "sample", *(config.label for config in apps.get_app_configs())]
    return first + [value for value in generic if value not in first]


def _leaves(patterns, prefix=()):
    """(pattern parts from the root, leaf URLPattern) for every leaf of the URL tree."""
    for entry in patterns:
        parts = (*prefix, entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _leaves(entry.url_patterns, parts)
        elif isinstance(entry, URLPattern):
            yield parts, entry


def _fill(parts) -> list[str]:
    """Candidate URLs for a leaf: each part's regex made concrete with sample parameter values."""
    urls = [""]
    for part in parts:
        converters = getattr(part, "converters", {})
        options = []
        for fmt, params in normalize(part.regex.pattern):
            combos = [{}]
            for param in params:
                combos = [{**c, param: v} for c in combos for v in _candidates(converters.get(param))]
            options.extend(fmt % combo for combo in combos)
        urls = [url + option for url in urls for option in options]
    return ["/" + url for url in urls]


def every_url() -> list[tuple[str, str]]:
    """(url, view name) for every leaf of the URL tree, parameters filled with sample values.

    A sample URL must resolve to its own leaf; when a leaf is shadowed by an earlier pattern for the
    same path (e.g. the portal's own set_language), the earlier one is what users reach, and is used.
    """
    found: dict[str, str] = {}
    for parts, leaf in _leaves(get_resolver().url_patterns):
        resolving = []
        for url in _fill(parts):
            try:
                match = resolve(url)
            except Resolver404:
                continue
            resolving.append((url, match))
            if match.func is leaf.callback:
                break
        else:
            assert resolving, f"no sample URL resolves for the pattern {''.join(map(str, parts))!r}"
        url, match = next(((u, m) for u, m in resolving if m.func is leaf.callback), resolving[0])
        found.setdefault(url, match.view_name)
    return sorted(found.items())


# Pages an anonymous visitor may open: the login forms (the portal's and Django admin's), and the
# language switch (the login page offers it).
PUBLIC_VIEWS = {"login", "admin:login"}
LANGUAGE_SWITCH = "set_language"
# The API's own login (POST only): open, but a GET is not allowed.
API_LOGIN = "api:token"
# The load balancer's health check: open, answers 200 or 503 with no data (docs/operations.md "Health").
HEALTH = "healthz"


def login_redirect_prefix() -> str:
    return resolve_url(settings.LOGIN_URL) + "?next="


@pytest.mark.django_db
def test_the_walk_covers_the_portal():
    names = {name for _url, name in every_url()}
    expected = {
        "home",
        "login",
        "logout",
        "password_change",
        "password_change_done",
        "set_language",
        "billing:account-list",
        "billing:account-detail",
        "admin:index",
    }
    assert expected <= names


@pytest.mark.django_db
def test_every_url_is_private_for_anonymous_visitors(client):
    """LoginRequiredMiddleware: every page sends an anonymous GET to the login page; the API says 401/403."""
    problems = []
    for url, name in every_url():
        response = client.get(url)
        status, location = response.status_code, response.get("Location", "")
        to_login = status == 302 and location.startswith(login_redirect_prefix())
        if name in PUBLIC_VIEWS:
            ok = status == 200
        elif name == LANGUAGE_SWITCH:
            ok = status == 302 and not location.startswith(resolve_url(settings.LOGIN_URL))
        elif name == API_LOGIN:
            ok = status == 405
        elif name == HEALTH:
            ok = status in (200, 503)
        elif url.startswith("/api/v1/"):
            # JSON endpoints answer 401/403; a browsable page (the schema docs) sends a browser to log in.
            ok = status in (401, 403) or to_login
        elif name.startswith("admin:"):
            # Django's admin site views carry their own login_url (the admin's login form); its
            # model views use the portal's.
            ok = status == 302 and location in (
                reverse("admin:login") + "?next=" + quote(url),
                login_redirect_prefix() + quote(url),
            )
        else:
            ok = to_login and location == login_redirect_prefix() + quote(url)
        if not ok:
            problems.append(f"{url} ({name}): {status} {location}")
    assert not problems, "anonymous GET not refused:\n" + "\n".join(problems)


# --- the layout --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_layout_serves_every_asset_from_the_project(client, make_staff):
    client.force_login(make_staff("manager"))
    body = client.get("/").content.decode()
    assert '<link rel="stylesheet" href="/static/vendor/bootstrap/bootstrap.min.css">' in body
    assert '<script src="/static/vendor/bootstrap/bootstrap.bundle.min.js" defer></script>' in body
    assets = re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]+)"', body)
    assert assets and all(url.startswith("/static/") for url in assets), assets


def test_vendored_bootstrap_files_are_present():
    root = settings.BASE_DIR / "static" / "vendor" / "bootstrap"
    for name in ("bootstrap.min.css", "bootstrap.bundle.min.js", "LICENSE"):
        assert (root / name).stat().st_size > 1000 or name == "LICENSE"
    assert "MIT License" in (root / "LICENSE").read_text(encoding="utf-8")
    assert "5.3." in (settings.BASE_DIR / "static" / "vendor" / "README.md").read_text(encoding="utf-8")


@pytest.mark.django_db
def test_navbar_shows_name_roles_district_and_logout_form(client, make_staff):
    user = make_staff("clerk", "district_reviewer", district="南岗", first_name="小明", last_name="王")
    client.force_login(user)
    body = client.get("/").content.decode()
    assert "王小明" in body or "小明 王" in body
    assert "受理员" in body and "区县审核" in body
    assert "南岗" in body
    assert 'action="/accounts/logout/"' in body and 'method="post"' in body
    assert 'href="/accounts/password/"' in body
    assert 'action="/i18n/setlang/"' in body


@pytest.mark.django_db
def test_navigation_by_role(client, make_staff):
    client.force_login(make_staff("clerk", district="南岗"))
    clerk_nav = [item["url"] for item in client.get("/").context["nav_items"]]
    assert clerk_nav == ["/", "/work/queues/", "/work/applications/new/", "/customers/"]
    client.force_login(make_staff("admin"))
    admin_nav = [item["url"] for item in client.get("/").context["nav_items"]]
    assert admin_nav == ["/", "/customers/", "/admin/"]


@pytest.mark.django_db
def test_current_page_is_marked_active(client, make_staff):
    client.force_login(make_staff("manager"))
    account = AccountFactory()
    response = client.get(f"/customers/{account.account_no}/")
    active = [item["url"] for item in response.context["nav_items"] if item["active"]]
    assert active == ["/customers/"]


@pytest.mark.django_db
def test_messages_are_shown_as_alerts(client, make_staff, rf):
    request = rf.get("/")
    request.user = make_staff("manager")
    request.session = client.session
    request._messages = FallbackStorage(request)
    messages.error(request, "Import failed on line 3")
    messages.success(request, "Saved")
    html = render_to_string("portal/home.html", {"guides": []}, request=request)
    assert re.search(r'class="alert alert-danger[^"]*"[^>]*>\s*Import failed on line 3', html)
    assert re.search(r'class="alert alert-success[^"]*"[^>]*>\s*Saved', html)


# --- the home page -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_home_page_describes_each_role(client, make_staff, role):
    district = "南岗" if role in (Role.CLERK, Role.DISTRICT_REVIEWER) else None
    client.force_login(make_staff(role.value, district=district))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # as the language switch leaves it
    response = client.get("/")
    assert response.status_code == 200
    guides = response.context["guides"]
    assert [g["role"] for g in guides] == [role]
    body = response.content.decode()
    assert escape(str(role.label)) in body
    assert guides[0]["duties"] and all(escape(str(d)) in body for d in guides[0]["duties"])
    assert any(link["url"].startswith("/customers/") for link in guides[0]["links"])


@pytest.mark.django_db
def test_home_page_of_a_two_role_person_shows_both(client, make_staff):
    client.force_login(make_staff("clerk", "district_reviewer", district="道里"))
    response = client.get("/")
    assert [g["role"] for g in response.context["guides"]] == [Role.CLERK, Role.DISTRICT_REVIEWER]
    assert "/customers/?eligible=yes" in response.content.decode()


@pytest.mark.django_db
def test_home_page_of_a_person_without_role_says_so(client, make_staff):
    client.force_login(make_staff())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # as the language switch leaves it
    response = client.get("/")
    assert response.context["guides"] == []
    assert "no role" in response.content.decode()


@pytest.mark.django_db
def test_admin_home_links_to_administration_and_clerk_home_does_not(client, make_staff):
    client.force_login(make_staff("admin"))
    assert 'href="/admin/"' in client.get("/").content.decode()
    client.force_login(make_staff("clerk", district="南岗"))
    assert 'href="/admin/"' not in client.get("/").content.decode()


# --- login, logout, password change --------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_renders_the_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert 'name="csrfmiddlewaretoken"' in body


@pytest.mark.django_db
def test_login_with_the_right_password_goes_to_next(client, make_staff):
    user = make_staff("clerk", district="南岗")
    response = client.post("/accounts/login/?next=/customers/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    assert client.get("/customers/").status_code == 200


@pytest.mark.django_db
def test_login_without_next_goes_home(client, make_staff):
    user = make_staff("manager")
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_login_with_a_wrong_password_is_refused_with_a_message(client, make_staff):
    user = make_staff("clerk", district="南岗")
    response = client.post("/accounts/login/", {"username": user.username, "password": "wrong-password"})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(client, make_staff):
    client.force_login(make_staff("manager"))
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_logout_by_get_is_not_allowed(client, make_staff):
    client.force_login(make_staff("manager"))
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_password_change(client, make_staff):
    user = make_staff("clerk", district="南岗")
    client.force_login(user)
    page = client.get("/accounts/password/")
    assert page.status_code == 200
    assert 'name="old_password"' in page.content.decode()
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "Winter-Grid-2020!", "new_password2": "Winter-Grid-2020!"},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/done/"
    assert client.get("/accounts/password/done/").status_code == 200
    user.refresh_from_db()
    assert user.check_password("Winter-Grid-2020!")
    # The session survives the change (update_session_auth_hash).
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_password_change_with_wrong_old_password_shows_errors(client, make_staff):
    user = make_staff("clerk", district="南岗")
    client.force_login(user)
    response = client.post(
        "/accounts/password/",
        {"old_password": "not-it", "new_password1": "Winter-Grid-2020!", "new_password2": "Winter-Grid-2020!"},
    )
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
