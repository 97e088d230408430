"""The accounts pages: the list with its filters, one account with its bills and their relief, a bill's PDF."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from . import rules
from .filters import AccountFilter
from .ledger import account_statements, bill_statement
from .models import Account, Industry, LedgerKind
from .pdf import bill_statement_pdf, statement_filename
from .selectors import account_bills, account_list
from .tables import AccountTable, BillTable, BoundedLazyPaginator


class AccountListView(PermissionRequiredMixin, SingleTableMixin, FilterView):
    """Accounts the user may see; paged without ``COUNT(*)`` (LazyPaginator)."""

    permission_required = "billing.view_account"
    template_name = "billing/account_list.html"
    table_class = AccountTable
    filterset_class = AccountFilter
    table_pagination = {"per_page": 25, "paginator_class": BoundedLazyPaginator}

    def get_queryset(self):
        return account_list(user=self.request.user)

    def get_table_kwargs(self):
        # District-bound staff see one district only: its column would repeat the same name.
        if not self.request.user.sees_all_districts:
            return {"exclude": ("district",)}
        return {}


def eligibility_reason(account: Account) -> str:
    """Why the account is or is not eligible for the 95% measure (programme.md M1, the policy row's rule)."""
    refusal = rules.discount_rules().refusal(account)
    if refusal == rules.REFUSED_CATEGORY:
        return _("Not eligible: the category %(category)s is not covered by the measure.") % {
            "category": account.get_category_display()
        }
    if refusal == rules.REFUSED_DIVISION:
        # The policy's excluded divisions are the high-energy industries it names (programme.md M1).
        return _("Not eligible: industry division %(division)s is high-energy-consuming.") % {
            "division": account.industry_code[:2]
        }
    return _("Eligible: %(category)s, not a high-energy industry.") % {"category": account.get_category_display()}


class AccountDetailView(PermissionRequiredMixin, DetailView):
    """One account (404 outside the user's district): its bills by month with totals, then each bill's
    statement (lines, the discount line, credits with their causes, amount due) and the balance.

    Eleven queries whatever the number of bills (pinned in tests/billing/test_ledger_outputs.py).
    """

    permission_required = ("billing.view_account", "billing.view_bill")
    template_name = "billing/account_detail.html"
    context_object_name = "account"
    slug_field = "account_no"
    slug_url_kwarg = "account_no"

    def get_queryset(self):
        return account_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        account = self.object
        statements = account_statements(account=account)
        bills = account_bills(account=account, bills=[s.bill for s in statements.statements])
        industry = Industry.objects.filter(code=account.industry_code).first() if account.industry_code else None
        context.update(
            bill_table=BillTable(bills.rows, totals=bills.totals),
            bill_totals=bills.totals,
            statements=statements.statements,
            relief_totals=statements.totals,
            balance=statements.balance,
            discount_label=LedgerKind.DISCOUNT.label,
            industry=industry,
            eligibility_reason=eligibility_reason(account),
        )
        return context


PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")


def parse_period(value: str) -> dt.date | None:
    """``"2020-03"`` → 2020-03-01; anything else → None."""
    match = PERIOD_RE.match(value)
    return dt.date(int(match[1]), int(match[2]), 1) if match else None


class BillStatementPdfView(PermissionRequiredMixin, View):
    """One bill's statement as a PDF in Chinese (404 outside the user's district, or with no such bill)."""

    permission_required = ("billing.view_account", "billing.view_bill")

    def get(self, request, account_no: str, period: str):
        month = parse_period(period)
        if month is None:
            raise Http404
        account = get_object_or_404(account_list(user=request.user), account_no=account_no)
        statement = bill_statement(account=account, period=month)
        if statement is None:
            raise Http404
        response = HttpResponse(bill_statement_pdf(statement), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{statement_filename(statement)}"'
        response["Cache-Control"] = "private, no-store"
        return response
