"""The API's shared parts (interfaces.md §2): token login, error mapping, base view, permissions.

Errors follow interfaces.md §2:

- ``400`` ``{"field": ["message"]}`` — DRF's ``ValidationError``, and Django's ``ValidationError``
  raised by a service's ``full_clean()`` (mapped here; errors not tied to a field go under
  ``non_field_errors``);
- ``401`` no or bad credentials (``TokenAuthentication`` comes first in the settings, so DRF
  answers 401 with ``WWW-Authenticate: Token``, not 403);
- ``403`` not allowed, ``{"detail": "<why>"}`` — DRF's ``PermissionDenied`` or Django's, with the
  reason kept;
- ``404`` unknown, or outside the caller's district (never 403: that would confirm it exists);
- ``409`` the item is no longer in the state the action needs — raise :class:`Conflict` with a
  message naming its current state. django-fsm's ``TransitionNotAllowed`` and
  ``ConcurrentTransition`` are mapped to 409 as a safety net, but services should raise
  ``Conflict`` with a clear message themselves.

Every API view should derive from :class:`PortalAPIView` (or use :class:`PortalExceptionMixin`) so
that this mapping applies; a caller's input must never produce a 500.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from organisation.errors import Conflict as DomainConflict


class Conflict(exceptions.APIException):
    """409: the item is no longer in the state the action needs. Say its current state."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The item is no longer in the state this action needs.")
    default_code = "conflict"


def _django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    """Django's ValidationError as ``{"field": ["message"]}``."""
    if hasattr(exc, "error_dict"):
        detail = {}
        for field, messages in exc.message_dict.items():
            key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
            detail[key] = list(messages)
        return detail
    return {api_settings.NON_FIELD_ERRORS_KEY: list(exc.messages)}


def exception_handler(exc, context):
    """DRF's handler, plus Django validation errors (400), lookups (404) and FSM conflicts (409)."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DomainConflict):
        exc = Conflict({"detail": exc.message, "state": exc.current_state})
    elif isinstance(exc, (TransitionNotAllowed, ConcurrentTransition)):
        # django-fsm's own text is English and names state and method codes: the message is ours, in
        # the caller's language; the item's state (a code) goes in its field, as for DomainConflict.
        state = getattr(getattr(exc, "object", None), "state", None)
        exc = Conflict({"detail": Conflict.default_detail, "state": state}) if state else Conflict()
    return drf_exception_handler(exc, context)


# --- Error bodies, for the schema --------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in the caller's language.")


FIELD_ERRORS = OpenApiResponse(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    description='Invalid input: {"field": ["message"]} (non_field_errors for the whole body).',
)
NOT_LOGGED_IN = OpenApiResponse(ErrorSerializer, description="Not logged in (no or bad credentials).")
NOT_ALLOWED = OpenApiResponse(ErrorSerializer, description="Not allowed; the message says why.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Unknown, or outside the caller's district.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="The item is no longer in the state the action needs.")
# The errors every authenticated read can answer.
READ_ERRORS = {401: NOT_LOGGED_IN, 403: NOT_ALLOWED, 404: NOT_FOUND}


class PortalExceptionMixin:
    """Use :func:`exception_handler` for this view whatever ``REST_FRAMEWORK`` says."""

    def get_exception_handler(self):
        return exception_handler


class PortalAPIView(PortalExceptionMixin, APIView):
    """Base of the portal's API views: authenticated (token or session), errors as above."""

    permission_classes = [IsAuthenticated]


def require_perms(*perms: str) -> type[BasePermission]:
    """A permission class: the user holds every one of ``perms`` (403 saying which is missing)."""

    class HasPerms(BasePermission):
        def has_permission(self, request, view) -> bool:
            user = request.user
            if user and user.is_authenticated and user.has_perms(perms):
                return True
            # Built per request so that it is in the caller's language.
            self.message = _("Your role does not allow this (it needs: %(perms)s).") % {"perms": ", ".join(perms)}
            return False

    HasPerms.__name__ = HasPerms.__qualname__ = "HasPerms_" + "_".join(p.replace(".", "_") for p in perms)
    return HasPerms


@extend_schema(
    tags=["auth"],
    summary="Obtain an API token",
    description="Send the token back as `Authorization: Token <token>`. Bad credentials answer 400.",
    responses={200: inline_serializer("Token", {"token": serializers.CharField()}), 400: FIELD_ERRORS},
)
class TokenObtainView(PortalExceptionMixin, ObtainAuthToken):
    """``POST {"username", "password"}`` → ``{"token": "…"}``; bad credentials → 400."""

    # No authentication runs here: a stale token header or a browser session must not get in the
    # way of logging in (and a session would otherwise demand a CSRF token).
    authentication_classes: list = []
    permission_classes: list = []
