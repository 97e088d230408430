"""Billing endpoints of the API (interfaces.md §2): an account, its bills, the ledger.

All are scoped to the caller's district (organisation.scoping). An account outside it answers 404,
exactly as an unknown one does, and so does a malformed account number in the path. The ledger is
a filtered list: ``?account_no=`` of an account outside the district gives no entries (200, an
empty page), exactly as an unknown account does; a malformed one or an unknown ``cause_type`` is a
400 naming what is wrong (the cause types are named in the message).
"""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from organisation.api import (
    FIELD_ERRORS,
    NOT_ALLOWED,
    NOT_LOGGED_IN,
    READ_ERRORS,
    PortalAPIView,
    PortalExceptionMixin,
    require_perms,
)
from organisation.scoping import scope_to_user

from . import ledger
from .models import Account, LedgerEntry
from .selectors import with_eligible
from .serializers import (
    BillStatementSerializer,
    CustomerSerializer,
    LedgerEntrySerializer,
    LedgerFilterSerializer,
)

ACCOUNT_NO_RE = re.compile(r"^\d{10}\Z")

ACCOUNT_NO_PARAMETER = OpenApiParameter(
    "account_no",
    str,
    OpenApiParameter.PATH,
    description="户号, 10 digits",
    pattern=r"^\d{10}$",
)


def customer_for_user(user, account_no: str, *, with_district: bool = False) -> Account:
    """The account ``account_no`` if ``user`` may see it; else NotFound (unknown, malformed or out of scope)."""
    if not ACCOUNT_NO_RE.match(account_no):
        raise NotFound()
    queryset = (
        with_eligible(Account.objects.select_related("district").annotate(balance=ledger.balance_subquery()))
        if with_district
        else Account.objects.all()
    )
    try:
        return scope_to_user(queryset, user).get(account_no=account_no)
    except Account.DoesNotExist:
        raise NotFound() from None


@extend_schema(
    tags=["customers"], parameters=[ACCOUNT_NO_PARAMETER], responses={200: CustomerSerializer, **READ_ERRORS}
)
class CustomerDetailView(PortalAPIView):
    """The account with its relief facts: ``high_energy``, ``eligible_discount``, ``protected``, ``balance``.

    ``balance`` is the sum of the account's credits in the ledger, read in the account's own query.
    """

    permission_classes = [IsAuthenticated, require_perms("billing.view_account")]
    serializer_class = CustomerSerializer

    def get(self, request, account_no: str):
        account = customer_for_user(request.user, account_no, with_district=True)
        return Response(CustomerSerializer(account).data)


@extend_schema(
    tags=["customers"],
    parameters=[ACCOUNT_NO_PARAMETER],
    responses={200: BillStatementSerializer(many=True), **READ_ERRORS},
)
class CustomerBillsView(PortalAPIView):
    """The account's bills, oldest month first: lines as billed, discounts, credits by cause, what is due.

    ``discount`` and ``credits`` are the ledger's sums for the bill; each line's ``discount`` is the
    relief engine's split of the bill's discount (the lines add up to it). Five queries whatever the
    number of bills (the account, its bills, the ledger's sums, its grants, the policies), besides
    authentication.
    """

    permission_classes = [IsAuthenticated, require_perms("billing.view_account", "billing.view_bill")]
    serializer_class = BillStatementSerializer

    def get(self, request, account_no: str):
        account = customer_for_user(request.user, account_no)
        statements = ledger.account_statements(account=account).statements
        return Response(BillStatementSerializer(statements, many=True).data)


class LedgerPagination(CursorPagination):
    """Cursor pages in posting order (deep offsets over the whole ledger would be slow)."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(
    tags=["ledger"],
    parameters=[LedgerFilterSerializer],
    responses={200: LedgerEntrySerializer(many=True), 400: FIELD_ERRORS, 401: NOT_LOGGED_IN, 403: NOT_ALLOWED},
)
class LedgerListView(PortalExceptionMixin, generics.ListAPIView):
    """The ledger's entries the caller may see, in posting order, cursor-paginated (``?cursor=…&page_size=…``).

    District roles see the entries of their district's accounts only; ``?account_no=`` of another
    district's account gives an empty page, like an unknown account. ``?cause_type=`` must be one of
    ``eligibility_list``, ``application`` (otherwise 400 naming them). One query per page besides
    authentication.
    """

    permission_classes = [IsAuthenticated, require_perms("billing.view_account", "billing.view_bill")]
    serializer_class = LedgerEntrySerializer
    pagination_class = LedgerPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        filters = LedgerFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return ledger.ledger_entries(user=self.request.user, **filters.validated_data)
