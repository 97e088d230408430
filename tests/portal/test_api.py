"""The API foundation: token login, 401 for anonymous callers, error mapping, schema and docs."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils import translation
from django_fsm import TransitionNotAllowed
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory

from organisation.api import Conflict, PortalAPIView
from tests.factories import AccountFactory

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def clerk(make_staff):
    return make_staff("clerk", district="南岗", username="clerk1")


# --- Token login ------------------------------------------------------------------------------------


def test_token_url_is_the_documented_one():
    assert reverse("api:token") == TOKEN_URL


def test_token_obtain_with_good_credentials_returns_the_users_token(api_client, clerk):
    response = api_client.post(TOKEN_URL, {"username": "clerk1", "password": "demo-pass-123"}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    assert response.json()["token"] == Token.objects.get(user=clerk).key


def test_token_obtain_is_stable_across_logins(api_client, clerk):
    body = {"username": "clerk1", "password": "demo-pass-123"}
    first = api_client.post(TOKEN_URL, body, format="json").json()["token"]
    second = api_client.post(TOKEN_URL, body, format="json").json()["token"]
    assert first == second


def test_token_obtain_with_bad_password_is_400_with_field_errors(api_client, clerk):
    response = api_client.post(TOKEN_URL, {"username": "clerk1", "password": "wrong"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "token" not in body
    assert list(body) == ["non_field_errors"]
    assert isinstance(body["non_field_errors"], list) and body["non_field_errors"][0]
    assert not Token.objects.exists()


def test_token_obtain_without_password_names_the_field(api_client, clerk):
    response = api_client.post(TOKEN_URL, {"username": "clerk1"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    assert isinstance(response.json()["password"], list)


def test_token_obtain_for_inactive_user_is_refused(api_client, make_staff):
    make_staff("clerk", district="南岗", username="gone", is_active=False)
    response = api_client.post(TOKEN_URL, {"username": "gone", "password": "demo-pass-123"}, format="json")
    assert response.status_code == 400


def test_token_obtain_ignores_a_stale_token_header(api_client, clerk):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.post(TOKEN_URL, {"username": "clerk1", "password": "demo-pass-123"}, format="json")
    assert response.status_code == 200


def test_token_obtain_rejects_get(api_client):
    assert api_client.get(TOKEN_URL).status_code == 405


# --- Authentication on an endpoint ----------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_request_is_401_with_token_challenge(api_client):
    account = AccountFactory(district_name="南岗")
    response = api_client.get(f"/api/v1/customers/{account.account_no}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_token_authenticates_a_request(api_client, clerk):
    account = AccountFactory(district_name="南岗")
    token = api_client.post(TOKEN_URL, {"username": "clerk1", "password": "demo-pass-123"}, format="json").json()[
        "token"
    ]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.get(f"/api/v1/customers/{account.account_no}/")
    assert response.status_code == 200
    assert response.json()["account_no"] == account.account_no


def test_bad_token_is_401(api_client, clerk):
    account = AccountFactory(district_name="南岗")
    api_client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert api_client.get(f"/api/v1/customers/{account.account_no}/").status_code == 401


def test_session_authenticates_a_request(api_client, clerk):
    account = AccountFactory(district_name="南岗")
    api_client.force_login(clerk)
    assert api_client.get(f"/api/v1/customers/{account.account_no}/").status_code == 200


def test_user_without_a_role_is_403_saying_why(api_client, make_staff):
    nobody = make_staff(district="南岗")
    account = AccountFactory(district_name="南岗")
    api_client.force_login(nobody)
    response = api_client.get(f"/api/v1/customers/{account.account_no}/")
    assert response.status_code == 403
    assert "billing.view_account" in response.json()["detail"]


# --- Error mapping ------------------------------------------------------------------------------------


class _Raises(PortalAPIView):
    permission_classes: list = []
    authentication_classes: list = []
    exc: Exception = RuntimeError("set by as_view")

    def get(self, request):
        raise self.exc


def _call(exc: Exception):
    request = APIRequestFactory().get("/x/")
    return _Raises.as_view(exc=exc)(request)


def test_django_validation_error_with_fields_is_400_field_errors():
    response = _call(DjangoValidationError({"seal_date": ["Before 2020-02-01."], "__all__": ["Overlaps."]}))
    assert response.status_code == 400
    assert response.data == {"seal_date": ["Before 2020-02-01."], "non_field_errors": ["Overlaps."]}


def test_django_validation_error_without_field_is_400_non_field_errors():
    response = _call(DjangoValidationError("Suspension shorter than 15 days (M7)."))
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Suspension shorter than 15 days (M7)."]}


def test_django_permission_denied_is_403_keeping_the_reason():
    response = _call(PermissionDenied("You submitted this item: separation of duties."))
    assert response.status_code == 403
    assert response.data == {"detail": "You submitted this item: separation of duties."}


def test_conflict_is_409_with_its_message():
    response = _call(Conflict("The application is now pending_city."))
    assert response.status_code == 409
    assert response.data == {"detail": "The application is now pending_city."}


def test_conflict_has_a_default_message():
    response = _call(Conflict())
    assert response.status_code == 409
    assert response.data["detail"]


def test_fsm_transition_not_allowed_is_409_not_500_with_our_message_and_the_state_in_its_field():
    class Item:
        state = "approved"

    response = _call(TransitionNotAllowed("Can't switch from state 'approved' using method 'approve'", object=Item()))
    assert response.status_code == 409
    # django-fsm's English text (naming codes) is not passed on; the state code is a field.
    assert response.data["state"] == "approved"
    assert "approve" not in str(response.data["detail"])
    with translation.override("zh-hans"):
        response = _call(TransitionNotAllowed("Can't switch from state 'approved' using method 'approve'"))
        assert response.status_code == 409
        assert str(response.data["detail"]) == "该事项的状态已变化，不能再执行此操作。"


def test_unhandled_error_is_not_swallowed():
    with pytest.raises(ZeroDivisionError):
        _call(ZeroDivisionError())


# --- Schema and docs ----------------------------------------------------------------------------------


def test_schema_is_private(api_client, db):
    assert api_client.get("/api/v1/schema/").status_code == 401


def test_schema_is_a_valid_openapi_3_document_listing_the_paths(api_client, clerk):
    api_client.force_login(clerk)
    response = api_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises jsonschema.ValidationError if invalid
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/token/",
        "/api/v1/customers/{account_no}/",
        "/api/v1/customers/{account_no}/bills/",
    } <= paths
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_page_sends_anonymous_browser_to_login(client, db):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_docs_page_loads_no_asset_from_outside(client, clerk):
    client.force_login(clerk)
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert reverse("api:schema") in html
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.IGNORECASE)
    assert external == []
    assert "cdn" not in html.lower()
    # Swagger UI would otherwise fetch a badge from validator.swagger.io.
    assert re.search(r'"validatorUrl":\s*null', html)
