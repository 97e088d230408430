"""Workflow endpoints of the API (interfaces.md §2): applications and district eligibility lists.

Every read goes through ``workflow.selectors`` (scoped to the caller's district, a fixed number of
queries whatever an item's history); every write calls a service, whose refusals the portal's
exception handler maps: Django ``ValidationError`` → 400 by field, ``PermissionDenied`` → 403 with
the reason, ``organisation.errors.Conflict`` → 409 with the current state (``{"detail", "state"}``).

Decisions recorded in the schema:

- an item outside the caller's district answers 404 like an unknown one; so does an id that is
  not a positive integer;
- an action outside ``submit``/``approve``/``return``/``reject``/``withdraw`` answers **404** (the
  transition resource does not exist);
- lists are cursor-paginated (``?cursor=…&page_size=…``; deep offsets would be slow);
- ``accounts`` of an eligibility list is the number of accounts it includes; the entries themselves
  are the paginated sub-resource ``/eligibility-lists/{id}/entries/``.
"""

from __future__ import annotations

import re

import django_filters
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.settings import api_settings

from organisation.api import (
    FIELD_ERRORS,
    NOT_ALLOWED,
    NOT_FOUND,
    NOT_LOGGED_IN,
    READ_ERRORS,
    ErrorSerializer,
    PortalAPIView,
    PortalExceptionMixin,
)
from organisation.scoping import scope_to_user

from . import chain, selectors
from .chain import Action, Level, State
from .eligibility import eligibility_entry_change
from .models import Application, ApplicationKind, Channel, EligibilityEntry, EligibilityList, EntrySource
from .serializers import (
    ApplicationCreateSerializer,
    ApplicationSerializer,
    ApplicationSummarySerializer,
    EligibilityEntryChangeSerializer,
    EligibilityEntrySerializer,
    EligibilityListSerializer,
    TransitionInputSerializer,
    VerificationInputSerializer,
)
from .services import ProxyData, application_create, item_transition, verification_record

PK_RE = re.compile(r"^[1-9]\d{0,9}\Z")
PK_MAX = 2**31 - 1

ID_PARAMETER = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The item's id.")
ACTION_PARAMETER = OpenApiParameter(
    "action",
    str,
    OpenApiParameter.PATH,
    enum=list(selectors.PERSON_ACTIONS),
    description="The action to take; any other value answers 404.",
)
# The 409 body of organisation.api.exception_handler for organisation.errors.Conflict: the message and the state.
CONFLICT = OpenApiResponse(
    inline_serializer(
        "StateConflict",
        {
            "detail": serializers.CharField(help_text="What happened, naming the item's current state."),
            "state": serializers.CharField(allow_null=True, help_text="The item's current state (a ChainState)."),
        },
    ),
    description="The item is no longer in the state the action needs; `state` is its current state.",
)
TRANSITION_ERRORS = {
    400: FIELD_ERRORS,
    401: NOT_LOGGED_IN,
    403: NOT_ALLOWED,
    404: OpenApiResponse(ErrorSerializer, description="Unknown item or action, or outside the caller's district."),
    409: CONFLICT,
}
WRITE_ERRORS = {400: FIELD_ERRORS, 401: NOT_LOGGED_IN, 403: NOT_ALLOWED, 404: NOT_FOUND, 409: CONFLICT}


def parse_pk(value: str) -> int:
    """A path id as an integer key, or 404 (never a 500 for ``abc`` or a number too big for the column)."""
    if not PK_RE.match(value) or int(value) > PK_MAX:
        raise NotFound()
    return int(value)


def _flat_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as ``{"proxy.id_number": ["…"]}``: the flat shape of interfaces.md §2."""
    flat: dict[str, list[str]] = {}
    for key, value in detail.items():
        # An error of a nested object as a whole goes under the object's own name.
        name = key
        if prefix:
            name = prefix if key == api_settings.NON_FIELD_ERRORS_KEY else f"{prefix}.{key}"
        if isinstance(value, dict):
            flat.update(_flat_errors(value, name))
        else:
            flat.setdefault(name, []).extend(str(message) for message in value)
    return flat


class NewestFirstPagination(CursorPagination):
    """Cursor pages, newest first; ``page_size`` up to 200."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class EntryPagination(CursorPagination):
    """Cursor pages of a list's entries in account-number order (a district's list can be long)."""

    ordering = "account_no"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


# --- applications ------------------------------------------------------------------------------


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    kind = django_filters.ChoiceFilter(choices=ApplicationKind.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    district = django_filters.CharFilter(field_name="district__name", help_text="District name, e.g. 南岗.")
    account_no = django_filters.CharFilter(field_name="account__account_no", help_text="户号.")

    class Meta:
        model = Application
        fields = ["state", "kind", "channel", "district", "account_no"]


def _application_response(request, pk: int, *, status_code: int = status.HTTP_200_OK) -> Response:
    application = selectors.application_get(user=request.user, pk=pk)
    if application is None:  # the caller just wrote it: only a concurrent deletion gets here
        raise NotFound()
    return Response(ApplicationSerializer(application, context={"request": request}).data, status=status_code)


def _application_for_write(user, pk: str) -> Application:
    application = scope_to_user(Application.objects.all(), user).filter(pk=parse_pk(pk)).first()
    if application is None:
        raise NotFound()
    return application


class ApplicationListView(PortalExceptionMixin, generics.ListAPIView):
    """``GET`` the applications the caller may see; ``POST`` a new one (clerks)."""

    serializer_class = ApplicationSummarySerializer
    pagination_class = NewestFirstPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApplicationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        return selectors.application_list(user=self.request.user)

    @extend_schema(
        tags=["applications"],
        summary="List applications",
        description="Scoped to the caller's district (city roles see all), newest first, cursor-paginated. "
        "An unknown state, kind or channel answers 400.",
        responses={200: ApplicationSummarySerializer(many=True), 400: FIELD_ERRORS, **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["applications"],
        summary="Enter an application",
        description="A clerk enters a draft application for an account of their district. The M7 rules "
        "answer 400 on the field concerned, naming the rule; proxy errors come as `proxy.<field>`.",
        request=ApplicationCreateSerializer,
        responses={201: ApplicationSerializer, 400: FIELD_ERRORS, 401: NOT_LOGGED_IN, 403: NOT_ALLOWED},
    )
    def post(self, request, *args, **kwargs):
        user = request.user
        if not (user.has_role(chain.ROLE_OF_LEVEL[Level.REPORT_1]) or user.is_superuser):
            raise PermissionDenied(_("Only clerks enter applications."))  # before the body: 403 whatever it holds
        serializer = ApplicationCreateSerializer(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(_flat_errors(serializer.errors))
        data = dict(serializer.validated_data)
        proxy = data.pop("proxy", None)
        data["reason"] = data.get("reason") or ""
        application = application_create(
            by=user, proxy=ProxyData(**proxy) if proxy else None, **{k: v for k, v in data.items() if v is not None}
        )
        return _application_response(request, application.pk, status_code=status.HTTP_201_CREATED)


@extend_schema(
    tags=["applications"],
    summary="An application",
    description="With `transitions` (what the caller may do now), `history`, the proxy (ID number masked "
    "except for the district reviewer of its district), the verification and the scans' metadata.",
    parameters=[ID_PARAMETER],
    responses={200: ApplicationSerializer, **READ_ERRORS},
)
class ApplicationDetailView(PortalAPIView):
    serializer_class = ApplicationSerializer

    def get(self, request, id: str):
        return _application_response(request, parse_pk(id))


@extend_schema(
    tags=["applications"],
    summary="Record the verification",
    description="The district reviewer of the application's district records the meter-data check and the "
    "site survey while it waits for district review (else 409). Answers the application.",
    parameters=[ID_PARAMETER],
    request=VerificationInputSerializer,
    responses={200: ApplicationSerializer, **WRITE_ERRORS},
)
class ApplicationVerificationView(PortalAPIView):
    serializer_class = VerificationInputSerializer

    def post(self, request, id: str):
        application = _application_for_write(request.user, id)
        serializer = VerificationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        verification_record(application=application, by=request.user, **serializer.validated_data)
        return _application_response(request, application.pk)


@extend_schema(
    tags=["applications"],
    summary="Take an action on an application",
    description="`return` needs `reason`; `reject` needs `reason` and `reason_code`. 403 says why the caller "
    "may not (role, district, separation of duties); 409 says the item's current state (also in `state`); "
    "400 `verification` when a capacity application is approved at district level without it.",
    parameters=[ID_PARAMETER, ACTION_PARAMETER],
    request=TransitionInputSerializer,
    responses={200: ApplicationSerializer, **TRANSITION_ERRORS},
)
class ApplicationTransitionView(PortalAPIView):
    serializer_class = TransitionInputSerializer

    def post(self, request, id: str, action: str):
        _check_action(action)
        application = _application_for_write(request.user, id)
        item_transition(item=application, action=action, by=request.user, **_transition_input(request))
        return _application_response(request, application.pk)


def _check_action(action: str) -> None:
    if action not in selectors.PERSON_ACTIONS:
        raise NotFound(
            _("Unknown action %(action)s; one of: %(actions)s.")
            % {
                "action": action[:30],
                # The name a person reads, with the path segment a client sends.
                "actions": ", ".join(f"{Action(a).label} ({a})" for a in selectors.PERSON_ACTIONS),
            }
        )


def _transition_input(request) -> dict:
    serializer = TransitionInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- eligibility lists -----------------------------------------------------------------------


class EligibilityListFilter(django_filters.FilterSet):
    policy = django_filters.CharFilter(field_name="policy_id", help_text="The policy's code, e.g. discount-2020.")
    district = django_filters.CharFilter(field_name="district__name", help_text="District name, e.g. 南岗.")
    state = django_filters.ChoiceFilter(choices=State.choices)

    class Meta:
        model = EligibilityList
        fields = ["policy", "district", "state"]


class EntryFilter(django_filters.FilterSet):
    included = django_filters.BooleanFilter(help_text="true: on the list; false: removed by a clerk.")
    source = django_filters.ChoiceFilter(choices=EntrySource.choices)

    class Meta:
        model = EligibilityEntry
        fields = ["included", "source"]


def _list_response(request, pk: int) -> Response:
    lst = selectors.eligibility_list_get(user=request.user, pk=pk)
    if lst is None:
        raise NotFound()
    return Response(EligibilityListSerializer(lst, context={"request": request}).data)


def _list_for_write(user, pk: str) -> EligibilityList:
    lst = scope_to_user(EligibilityList.objects.all(), user).filter(pk=parse_pk(pk)).first()
    if lst is None:
        raise NotFound()
    return lst


@extend_schema(
    tags=["eligibility-lists"],
    summary="List eligibility lists",
    description="Scoped to the caller's district (city roles see all), newest first, cursor-paginated.",
    responses={200: EligibilityListSerializer(many=True), 400: FIELD_ERRORS, **READ_ERRORS},
)
class EligibilityListListView(PortalExceptionMixin, generics.ListAPIView):
    serializer_class = EligibilityListSerializer
    pagination_class = NewestFirstPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = EligibilityListFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EligibilityList.objects.none()
        return selectors.eligibility_list_list(user=self.request.user)


@extend_schema(
    tags=["eligibility-lists"],
    summary="An eligibility list",
    description="`accounts` is the number of accounts included (the entries: `/eligibility-lists/{id}/entries/`); "
    "`forecast` in yuan and in 万户/万元.",
    parameters=[ID_PARAMETER],
    responses={200: EligibilityListSerializer, **READ_ERRORS},
)
class EligibilityListDetailView(PortalAPIView):
    serializer_class = EligibilityListSerializer

    def get(self, request, id: str):
        return _list_response(request, parse_pk(id))


@extend_schema(
    tags=["eligibility-lists"],
    summary="Take an action on an eligibility list",
    description="As for applications.",
    parameters=[ID_PARAMETER, ACTION_PARAMETER],
    request=TransitionInputSerializer,
    responses={200: EligibilityListSerializer, **TRANSITION_ERRORS},
)
class EligibilityListTransitionView(PortalAPIView):
    serializer_class = TransitionInputSerializer

    def post(self, request, id: str, action: str):
        _check_action(action)
        lst = _list_for_write(request.user, id)
        item_transition(item=lst, action=action, by=request.user, **_transition_input(request))
        return _list_response(request, lst.pk)


class EligibilityEntryListView(PortalExceptionMixin, generics.ListAPIView):
    """``GET`` a list's entries (paginated); ``POST`` a clerk's change to a draft list."""

    serializer_class = EligibilityEntrySerializer
    pagination_class = EntryPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = EntryFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EligibilityEntry.objects.none()
        return selectors.eligibility_entries(eligibility_list=_list_for_write(self.request.user, self.kwargs["id"]))

    @extend_schema(
        tags=["eligibility-lists"],
        summary="The entries of an eligibility list",
        description="Every account on the list (included or removed), in account-number order, cursor-paginated.",
        parameters=[ID_PARAMETER],
        responses={200: EligibilityEntrySerializer(many=True), 400: FIELD_ERRORS, **READ_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["eligibility-lists"],
        summary="Add or remove an account",
        description="A clerk of the list's district, on a draft list (else 409), with a reason; an account the "
        "M1 rule does not admit cannot be added (400 naming M1). Answers the entry; the list's forecast is "
        "refreshed.",
        parameters=[ID_PARAMETER],
        request=EligibilityEntryChangeSerializer,
        responses={200: EligibilityEntrySerializer, **WRITE_ERRORS},
    )
    def post(self, request, id: str):
        lst = _list_for_write(request.user, id)
        serializer = EligibilityEntryChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = eligibility_entry_change(eligibility_list=lst, by=request.user, **serializer.validated_data)
        entry = selectors.eligibility_entries(eligibility_list=lst).get(pk=entry.pk)
        return Response(EligibilityEntrySerializer(entry).data)
