"""django-tables2 tables of the queue pages and of an eligibility list's entries."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.engine import to_wan
from billing.tables import TABLE_TEMPLATE, BadgeColumn

from .models import Application, EligibilityEntry, EligibilityList
from .queues import age_days

TABLE_ATTRS = {"class": "table table-sm table-hover align-middle mb-0"}


def _overdue_row_class(record) -> str:
    return "table-warning overdue" if getattr(record, "overdue", False) else ""


class SelectColumn(tables.Column):
    """A labelled checkbox per row for the bulk action; the header selects the page (workflow.js)."""

    def __init__(self, *, input_name: str, **kwargs):
        self.input_name = input_name
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("attrs", {"td": {"class": "text-center"}, "th": {"class": "text-center"}})
        super().__init__(**kwargs)

    @property
    def header(self):
        return format_html(
            '<input class="form-check-input" type="checkbox" data-select-all="{}" aria-label="{}">',
            self.input_name,
            _("Select all on this page"),
        )

    def render(self, value, record):
        return format_html(
            '<input class="form-check-input" type="checkbox" name="{}" value="{}" aria-label="{}">',
            self.input_name,
            value,
            _("Select #%(id)s") % {"id": value},
        )


class AgeColumn(tables.Column):
    """Whole days the item has waited at its level, with the overdue badge."""

    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", _("Days in level"))
        kwargs.setdefault("orderable", False)
        kwargs.setdefault(
            "attrs", {"td": {"class": "text-end font-monospace-num text-nowrap"}, "th": {"class": "text-end"}}
        )
        super().__init__(**kwargs)

    def render(self, value, record):
        days = age_days(value)
        if getattr(record, "overdue", False):
            return format_html('{} <span class="badge text-bg-danger">{}</span>', days, _("Overdue"))
        return days


class ApplicationQueueTable(tables.Table):
    select = SelectColumn(input_name="applications", verbose_name=_("Select"))
    id = tables.Column(
        verbose_name=_("No."),
        linkify=("workflow:application-detail", {"pk": tables.A("pk")}),
        attrs={"td": {"class": "font-monospace-num text-nowrap"}},
    )
    account_no = tables.Column(
        verbose_name=_("Account number"),
        accessor="account__account_no",
        attrs={"td": {"class": "font-monospace-num text-nowrap"}},
    )
    account_name = tables.Column(
        verbose_name=_("Customer"), accessor="account__name", attrs={"td": {"class": "col-name"}}
    )
    kind = tables.Column()
    district = tables.Column(attrs={"td": {"class": "text-nowrap"}})
    channel = tables.Column()
    received_on = tables.DateColumn(format="Y-m-d", attrs={"td": {"class": "font-monospace-num text-nowrap"}})
    age = AgeColumn()

    class Meta:
        model = Application
        fields = ("select", "id", "account_no", "account_name", "kind", "district", "channel", "received_on", "age")
        sequence = fields
        template_name = TABLE_TEMPLATE
        attrs = TABLE_ATTRS
        row_attrs = {"class": _overdue_row_class, "data-item": lambda record: record.pk}
        orderable = False
        empty_text = _("Nothing waits here.")

    def render_id(self, value):
        return f"#{value}"


class ListQueueTable(tables.Table):
    select = SelectColumn(input_name="lists", verbose_name=_("Select"))
    id = tables.Column(
        verbose_name=_("No."),
        linkify=("workflow:list-detail", {"pk": tables.A("pk")}),
        attrs={"td": {"class": "font-monospace-num text-nowrap"}},
    )
    policy = tables.Column(accessor="policy__name", verbose_name=_("Policy"))
    district = tables.Column()
    forecast_accounts = tables.Column(
        verbose_name=_("Forecast accounts (10k)"),
        attrs={"td": {"class": "text-end font-monospace-num"}, "th": {"class": "text-end"}},
    )
    forecast_reduction = tables.Column(
        verbose_name=_("Forecast reduction (10k yuan)"),
        attrs={"td": {"class": "text-end font-monospace-num"}, "th": {"class": "text-end"}},
    )
    age = AgeColumn()

    class Meta:
        model = EligibilityList
        fields = ("select", "id", "policy", "district", "forecast_accounts", "forecast_reduction", "age")
        sequence = fields
        template_name = TABLE_TEMPLATE
        attrs = TABLE_ATTRS
        row_attrs = {"class": _overdue_row_class, "data-item": lambda record: record.pk}
        orderable = False
        empty_text = _("No eligibility list waits here.")

    def render_id(self, value):
        return f"#{value}"

    def render_forecast_accounts(self, value):
        return to_wan(value or 0)

    def render_forecast_reduction(self, value):
        return to_wan(value or 0)


class EntryTable(tables.Table):
    """The accounts on an eligibility list (rows from ``selectors.eligibility_entries``)."""

    account_no = tables.Column(
        verbose_name=_("Account number"),
        linkify=("billing:account-detail", {"account_no": tables.A("account_no")}),
        attrs={"td": {"class": "font-monospace-num text-nowrap"}},
    )
    name = tables.Column(verbose_name=_("Name"), accessor="account__name", attrs={"td": {"class": "col-name"}})
    source = tables.Column(attrs={"td": {"class": "text-nowrap"}})
    included = BadgeColumn(
        verbose_name=_("On the list"),
        yes_label=_("Included"),
        yes_class="text-bg-success",
        no_label=_("Removed"),
        no_class="text-bg-secondary",
    )
    reason = tables.Column(verbose_name=_("Reason for the change"), empty_values=("",), default="—")
    changed_by = tables.Column(verbose_name=_("Changed by"), default="—")

    class Meta:
        model = EligibilityEntry
        fields = ("account_no", "name", "source", "included", "reason", "changed_by")
        sequence = fields
        template_name = TABLE_TEMPLATE
        attrs = TABLE_ATTRS
        orderable = False
        empty_text = _("No account on this list matches.")

    def render_changed_by(self, value):
        return value.get_full_name() or value.get_username()
