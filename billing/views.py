from django.views.generic import DetailView, ListView

from portal.scoping import scope_to_user

from .models import Account


class AccountListView(ListView):
    template_name = "billing/account_list.html"

    def get_queryset(self):
        return scope_to_user(Account.objects.select_related("district"), self.request.user)


class AccountDetailView(DetailView):
    template_name = "billing/account_detail.html"
    slug_field = "account_no"
    slug_url_kwarg = "account_no"

    def get_queryset(self):
        return scope_to_user(Account.objects.select_related("district"), self.request.user)
