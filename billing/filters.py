"""Filters of the accounts list (django-filter over ``billing.selectors.account_list``).

No filter offers a choice among a large table's rows (field-notes: a 300k-row ``<select>``):
an account is found by typing its number or name; only districts (nine rows) are a choice.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from organisation.models import District

from .models import Category
from .selectors import account_list_filter_eligible

YES = "yes"
NO = "no"
YES_NO = [(YES, _("Yes")), (NO, _("No"))]


class AccountFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Account number or name"),
        method="filter_search",
        widget=forms.TextInput(
            attrs={"placeholder": _("Account number (start) or part of the name"), "type": "search"}
        ),
    )
    district = django_filters.ModelChoiceFilter(
        label=_("District"),
        queryset=District.objects.all(),
        to_field_name="code",
        empty_label=_("All districts"),
    )
    category = django_filters.ChoiceFilter(label=_("Category"), choices=Category.choices, empty_label=_("All"))
    eligible = django_filters.ChoiceFilter(
        label=_("Eligible for the 95% measure"), choices=YES_NO, method="filter_eligible", empty_label=_("All")
    )
    high_energy = django_filters.ChoiceFilter(
        label=_("High-energy"), choices=YES_NO, method="filter_high_energy", empty_label=_("All")
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        user = getattr(request, "user", None)
        if not getattr(user, "sees_all_districts", False):
            # District-bound staff see only their own district: a district choice would be noise.
            del self.filters["district"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q(name__icontains=value)
        if value.isascii() and value.isdigit():
            # Account numbers are digits: match them from the start, never in the middle.
            condition |= Q(account_no__startswith=value)
        return queryset.filter(condition)

    def filter_eligible(self, queryset, name, value):
        if value not in (YES, NO):
            return queryset
        return account_list_filter_eligible(queryset, value == YES)

    def filter_high_energy(self, queryset, name, value):
        if value not in (YES, NO):
            return queryset
        return queryset.filter(high_energy=value == YES)
