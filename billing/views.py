"""The accounts pages: the list with its filters, and one account with its bills."""

from __future__ import annotations

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.utils.translation import gettext as _
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from .filters import AccountFilter
from .models import DISCOUNT_CATEGORIES, Account, Industry
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
    """Why the account is or is not eligible for the 95% measure (programme.md M1)."""
    if account.category not in DISCOUNT_CATEGORIES:
        return _("Not eligible: the category %(category)s is not covered by the measure.") % {
            "category": account.get_category_display()
        }
    if account.high_energy:
        return _("Not eligible: industry division %(division)s is high-energy-consuming.") % {
            "division": account.industry_code[:2]
        }
    return _("Eligible: %(category)s, not a high-energy industry.") % {"category": account.get_category_display()}


class AccountDetailView(PermissionRequiredMixin, DetailView):
    """One account (404 outside the user's district) and its bills by month, with totals."""

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
        bills = account_bills(account=account)
        industry = Industry.objects.filter(code=account.industry_code).first() if account.industry_code else None
        context.update(
            bill_table=BillTable(bills.rows, totals=bills.totals),
            bill_totals=bills.totals,
            industry=industry,
            eligibility_reason=eligibility_reason(account),
        )
        return context
