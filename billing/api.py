"""Customer endpoints of the API (interfaces.md §2): an account and its bills.

Both are scoped to the caller's district (portal.scoping): an account outside it answers 404,
exactly as an unknown one does, and so does a malformed account number.
"""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from portal.api import READ_ERRORS, PortalAPIView, require_perms
from portal.scoping import scope_to_user

from .models import Account
from .serializers import BillStatementSerializer, CustomerSerializer, bill_statements

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
    queryset = Account.objects.select_related("district") if with_district else Account.objects.all()
    try:
        return scope_to_user(queryset, user).get(account_no=account_no)
    except Account.DoesNotExist:
        raise NotFound() from None


@extend_schema(
    tags=["customers"], parameters=[ACCOUNT_NO_PARAMETER], responses={200: CustomerSerializer, **READ_ERRORS}
)
class CustomerDetailView(PortalAPIView):
    """The account with its relief facts: ``high_energy``, ``eligible_discount``, ``protected``, ``balance``."""

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
    """The account's bills, oldest month first: lines as billed, discounts, what is due, credits.

    Two queries whatever the number of bills (the account, then its bills), besides authentication.
    """

    permission_classes = [IsAuthenticated, require_perms("billing.view_account", "billing.view_bill")]
    serializer_class = BillStatementSerializer

    def get(self, request, account_no: str):
        account = customer_for_user(request.user, account_no)
        bills = account.bills.order_by("period")
        return Response(BillStatementSerializer(bill_statements(bills), many=True).data)
