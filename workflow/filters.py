"""Filters of the queue pages (django-filter over ``workflow.queues``).

The district choice (nine rows) is offered to city roles only; district-bound staff see their own
district anyway. No filter offers a choice among a large table's rows.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from organisation.models import District

from .models import ApplicationKind, Channel
from .queues import filter_min_age

YES = "yes"
NO = "no"
YES_NO = [(YES, _("Yes")), (NO, _("No"))]


class _AgeFilters(django_filters.FilterSet):
    """What applications and eligibility lists share in a queue: district, age and overdue."""

    district = django_filters.ModelChoiceFilter(
        label=_("District"),
        queryset=District.objects.all(),
        to_field_name="code",
        empty_label=_("All districts"),
    )
    min_age = django_filters.NumberFilter(
        label=_("Waiting at least (days)"),
        method="filter_min_age",
        min_value=0,
        max_value=3650,
        widget=forms.NumberInput(attrs={"min": 0, "max": 3650, "step": 1}),
    )
    overdue = django_filters.ChoiceFilter(
        label=_("Overdue"), choices=YES_NO, method="filter_overdue", empty_label=_("All")
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        user = getattr(request, "user", None)
        if not getattr(user, "sees_all_districts", False):
            del self.filters["district"]

    def filter_min_age(self, queryset, name, value):
        if value is None:
            return queryset
        return filter_min_age(queryset, int(value))

    def filter_overdue(self, queryset, name, value):
        if value not in (YES, NO):
            return queryset
        return queryset.filter(overdue=value == YES)


class ApplicationQueueFilter(_AgeFilters):
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=ApplicationKind.choices, empty_label=_("All kinds"))
    channel = django_filters.ChoiceFilter(label=_("Channel"), choices=Channel.choices, empty_label=_("All channels"))

    @property
    def narrows_applications_only(self) -> bool:
        """Kind and channel are the applications' own: eligibility lists have neither."""
        data = self.form.cleaned_data if self.form.is_valid() else {}
        return bool(data.get("kind") or data.get("channel"))


class ListQueueFilter(_AgeFilters):
    """The same query string applied to the eligibility lists of the queue (its form is not shown)."""

    district = django_filters.CharFilter(field_name="district__code")
