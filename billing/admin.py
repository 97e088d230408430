"""Administration of tariffs and policies; read-only views of accounts, bills, the ledger and posting jobs.

The rules are billing's, not the admin's: ``billing.tariffs`` (when a tariff is used, how a later
one supersedes it) and ``billing.policy_rules`` (which policy fields may change). See docs/admin.md.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db.models import Max, Min
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from organisation.admin_site import HistoryViewOnlyMixin, ReadOnlyAdmin, ServiceRefusalMixin

from . import policy_rules, tariffs
from .models import Account, Bill, LedgerEntry, Policy, PostingJob, Tariff, period_label

# --- read-only views ---------------------------------------------------------------------------


class MonthFilter(admin.SimpleListFilter):
    """Billing month, from the first to the last in the table (two index lookups, no scan)."""

    title = _("billing month")
    parameter_name = "month"

    def lookups(self, request, model_admin):
        bounds = model_admin.model.objects.aggregate(first=Min("period"), last=Max("period"))
        if bounds["first"] is None:
            return []
        months, month = [], bounds["first"].replace(day=1)
        while month <= bounds["last"] and len(months) < 120:
            months.append((month.isoformat(), period_label(month)))
            month = (month + dt.timedelta(days=32)).replace(day=1)
        return months

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            month = dt.date.fromisoformat(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(period=month)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("account_no", "name", "district", "category", "industry_code", "high_energy", "voltage_kv")
    list_filter = ("district", "category", "high_energy", "enterprise_size", "priority_role")
    list_select_related = ("district",)
    search_fields = ("=account_no", "name")
    search_help_text = _("Account number (all 10 digits) or part of the name.")
    ordering = ("account_no",)


@admin.register(Bill)
class BillAdmin(ReadOnlyAdmin):
    list_display = (
        "account_no",
        "period",
        "energy_kwh",
        "energy_charge",
        "basic_charge",
        "power_factor_charge",
        "late_fee",
        "paid",
    )
    list_filter = (MonthFilter,)
    list_select_related = ("account",)
    search_fields = ("=account__account_no",)
    search_help_text = _("Account number (all 10 digits).")
    raw_id_fields = ("account",)
    ordering = ("account", "period")

    @admin.display(description=_("account number"), ordering="account__account_no")
    def account_no(self, obj: Bill) -> str:
        return obj.account.account_no


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account_no",
        "period",
        "kind",
        "seq",
        "amount",
        "cause_type",
        "cause_id",
        "job_id",
        "posted_at",
    )
    list_filter = ("kind", "cause_type", MonthFilter)
    list_select_related = ("account",)
    search_fields = ("=account__account_no",)
    search_help_text = _("Account number (all 10 digits).")
    raw_id_fields = ("account", "bill", "job")
    # Newest first, from the primary key (2 million rows: no sort of the table).
    ordering = ("-id",)

    @admin.display(description=_("account number"), ordering="account__account_no")
    def account_no(self, obj: LedgerEntry) -> str:
        return obj.account.account_no


@admin.register(PostingJob)
class PostingJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "cause_type",
        "cause_id",
        "state",
        "chunks_done",
        "chunks_total",
        "entries_posted",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_filter = ("state", "cause_type")
    search_fields = ("=cause_id",)
    search_help_text = _("Number of the eligibility list or application.")
    ordering = ("-created_at",)


# --- tariffs -----------------------------------------------------------------------------------


class TariffForm(forms.ModelForm):
    """Checks with billing.tariffs' rules; the admin's save then calls its atomic service."""

    class Meta:
        model = Tariff
        fields = tariffs.EDITABLE_FIELDS

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        values = {field: cleaned.get(field) for field in tariffs.EDITABLE_FIELDS}
        errors = (
            tariffs.tariff_add_errors(values)
            if self.instance.pk is None
            else tariffs.tariff_change_errors(self.instance.pk, values)
        )
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(Tariff)
class TariffAdmin(ServiceRefusalMixin, HistoryViewOnlyMixin, SimpleHistoryAdmin):
    form = TariffForm
    list_display = (
        "category",
        "component",
        "voltage_min_kv",
        "voltage_max_kv",
        "rate",
        "unit",
        "effective_from",
        "effective_to",
        "is_demo",
    )
    list_filter = ("category", "component", "is_demo")
    ordering = ("category", "component", "voltage_min_kv", "effective_from")

    @staticmethod
    def _used(obj: Tariff) -> bool:
        if not hasattr(obj, "_admin_used"):
            obj._admin_used = tariffs.tariff_is_used(obj)
        return obj._admin_used

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and self._used(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and self._used(obj):
            return False
        return super().has_delete_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "GET" and self._used(obj):
            self.message_user(request, tariffs.tariff_used_reason(obj), messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        values = {field: form.cleaned_data.get(field) for field in tariffs.EDITABLE_FIELDS}
        saved = tariffs.tariff_change(tariff_id=obj.pk, **values) if change else tariffs.tariff_add(**values)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        tariffs.tariff_delete(tariff_id=obj.pk)

    def response_add(self, request, obj, post_url_continue=None):
        closed = Tariff.objects.filter(
            category=obj.category,
            component=obj.component,
            voltage_min_kv=obj.voltage_min_kv,
            voltage_max_kv=obj.voltage_max_kv,
            effective_to=obj.effective_from - dt.timedelta(days=1),
        ).first()
        if closed is not None:
            self.message_user(
                request,
                gettext("The tariff from %(start)s now ends on %(end)s (superseded).")
                % {"start": closed.effective_from.isoformat(), "end": closed.effective_to.isoformat()},
                messages.INFO,
            )
        return super().response_add(request, obj, post_url_continue)


# --- policies ----------------------------------------------------------------------------------


class PolicyForm(forms.ModelForm):
    """Every field but the code; billing.policy_rules decides what may change and says why not."""

    class Meta:
        model = Policy
        fields = ("name", "source", *policy_rules.MONEY_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An empty list ([]) is a valid term (no excluded divisions, no waived rules); the shape of
        # every list is checked by billing.policy_rules.policy_terms_errors.
        for field in self.fields.values():
            if isinstance(field, forms.JSONField):
                field.required = False

    def clean(self):
        cleaned = super().clean()
        values = {field: cleaned[field] for field in self._meta.fields if field in cleaned}
        errors = policy_rules.policy_terms_errors(values)
        stored = Policy.objects.get(pk=self.instance.pk)
        errors.update({k: v for k, v in policy_rules.policy_change_errors(stored, values).items() if k not in errors})
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(Policy)
class PolicyAdmin(ServiceRefusalMixin, HistoryViewOnlyMixin, SimpleHistoryAdmin):
    form = PolicyForm
    list_display = ("code", "name", "kind", "rate", "source")
    readonly_fields = ("code",)
    fields = ("code", "name", "source", *policy_rules.MONEY_FIELDS)
    search_fields = ("code", "name")

    def has_add_permission(self, request) -> bool:
        # The policies are the programme's (loaded by migration); the engine knows them by code.
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        editable = (*policy_rules.FREE_FIELDS, *policy_rules.MONEY_FIELDS)
        values = {field: form.cleaned_data[field] for field in editable if field in form.cleaned_data}
        policy_rules.policy_update(policy_id=obj.pk, values=values)
        obj.refresh_from_db()
