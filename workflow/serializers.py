"""Serializers of the workflow API (interfaces.md §2): applications, eligibility lists, their history.

Output serializers read what ``workflow.selectors`` fetched (no query of their own); input
serializers check a body's shape and types only — the rules themselves (M7, the chain, separation
of duties) are the services', whose errors the API maps to 400/403/409.

Amounts are decimal strings (``"11083.34"``), dates ISO ``YYYY-MM-DD``. A proxy's ID number is
masked except for the district reviewer of the application's district, who must check it.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.engine import to_wan

from .chain import Action, Level, ReasonCode, State
from .models import (
    Application,
    ApplicationKind,
    Channel,
    Decision,
    EligibilityEntry,
    EligibilityList,
    EntrySource,
    MeterCheck,
    Proxy,
    Scan,
    ScanKind,
    Verification,
)
from .selectors import PERSON_ACTIONS, item_transitions, proxy_id_visible


def _user(serializer: serializers.Serializer):
    request = serializer.context.get("request")
    return getattr(request, "user", None)


# The same choice set under several field names (state, from, to, expected_state) or two choice sets
# under one name (an application's and a scan's kind) would make drf-spectacular name enums by
# guesswork and warn; these fields refer to one named component each instead.
@extend_schema_field({"type": "string", "enum": State.values}, component_name="ChainState")
class StateField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=State.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": ScanKind.values}, component_name="ScanKind")
class ScanKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ScanKind.choices, **kwargs)


TRANSITIONS_FIELD = serializers.ListField(
    child=serializers.ChoiceField(choices=list(PERSON_ACTIONS)),
    help_text="The actions the caller may take now (state, role, district, separation of duties, evidence).",
)


class _TransitionsMixin(serializers.Serializer):
    transitions = serializers.SerializerMethodField()

    @extend_schema_field(TRANSITIONS_FIELD)
    def get_transitions(self, item) -> list[str]:
        return item_transitions(item, _user(self))


# --- history ---------------------------------------------------------------------------------


class HistoryEntrySerializer(serializers.ModelSerializer):
    """One decision: ``action``, ``from``, ``to``, ``by`` (username; null for the system), ``at``, ``reason``."""

    action = serializers.ChoiceField(choices=Action.choices, read_only=True)
    from_ = StateField(source="from_state", read_only=True)
    to = StateField(source="to_state", read_only=True)
    by = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, help_text="Username; null for a system decision."
    )
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices, allow_blank=True, read_only=True)
    level = serializers.ChoiceField(choices=Level.choices, read_only=True)
    policy_reason = serializers.CharField(
        source="policy_reason_display",
        read_only=True,
        help_text="The policy a system decision applied (fast track, settlement), in the caller's language; "
        "else blank.",
    )

    class Meta:
        model = Decision
        fields = ["action", "from_", "to", "by", "at", "reason", "reason_code", "level", "policy_reason"]
        read_only_fields = fields

    def get_fields(self):
        # "from" is a Python keyword: declared as ``from_`` and published as ``from``.
        return {("from" if name == "from_" else name): field for name, field in super().get_fields().items()}


# --- applications ------------------------------------------------------------------------------


class ProxySerializer(serializers.ModelSerializer):
    """The proxy acting for an elderly customer (亲人代办) as entered; the model's validators apply."""

    class Meta:
        model = Proxy
        fields = ["name", "relation", "id_number", "phone"]


class ProxyOutSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    relation = serializers.CharField(read_only=True)
    id_number = serializers.CharField(
        read_only=True, help_text="Masked (first 3 and last 4) except for the district reviewer of the district."
    )
    id_number_masked = serializers.BooleanField(read_only=True, help_text="Whether id_number is masked.")
    phone = serializers.CharField(read_only=True)


class VerificationSerializer(serializers.ModelSerializer):
    meter_check = serializers.ChoiceField(choices=MeterCheck.choices, read_only=True)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)
    complete = serializers.BooleanField(
        read_only=True, help_text="Meter data confirm it and the survey is recorded in full."
    )

    class Meta:
        model = Verification
        fields = [
            "meter_check",
            "survey_date",
            "surveyor",
            "findings",
            "seal_number",
            "recorded_by",
            "recorded_at",
            "complete",
        ]
        read_only_fields = fields


class VerificationInputSerializer(serializers.ModelSerializer):
    """Body of ``POST /applications/{id}/verification/``."""

    meter_check = serializers.ChoiceField(choices=MeterCheck.choices)

    class Meta:
        model = Verification
        fields = ["meter_check", "survey_date", "surveyor", "findings", "seal_number"]


class ScanSerializer(serializers.ModelSerializer):
    """A scan's metadata (the file itself is not served by this API)."""

    kind = ScanKindField(read_only=True)

    class Meta:
        model = Scan
        fields = ["id", "kind", "original_name", "content_type", "size", "uploaded_at"]
        read_only_fields = fields


class ApplicationSummarySerializer(_TransitionsMixin, serializers.ModelSerializer):
    """An application as a row of the list."""

    kind = serializers.ChoiceField(choices=ApplicationKind.choices, read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    state = StateField(read_only=True)
    account_no = serializers.CharField(source="account.account_no", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    district = serializers.CharField(source="district.name", read_only=True)

    class Meta:
        model = Application
        fields = [
            "id",
            "kind",
            "account_no",
            "account_name",
            "district",
            "channel",
            "received_on",
            "capacity_kva",
            "seal_date",
            "restore_date",
            "relief",
            "fast_tracked",
            "state",
            "state_changed_at",
            "transitions",
        ]
        read_only_fields = fields


class ApplicationSerializer(ApplicationSummarySerializer):
    """The application in full: state, transitions, history, proxy, verification, scans."""

    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True, allow_null=True)
    evidence_complete = serializers.SerializerMethodField(
        help_text="The verification a district reviewer needs before approving is recorded (or not needed)."
    )
    proxy = serializers.SerializerMethodField()
    verification = VerificationSerializer(read_only=True, allow_null=True)
    scans = ScanSerializer(many=True, read_only=True)
    history = HistoryEntrySerializer(source="decisions", many=True, read_only=True)

    class Meta(ApplicationSummarySerializer.Meta):
        fields = [
            *ApplicationSummarySerializer.Meta.fields,
            "reason",
            "created_by",
            "created_at",
            "submitted_by",
            "settle_error",
            "evidence_complete",
            "proxy",
            "verification",
            "scans",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_evidence_complete(self, application: Application) -> bool:
        return application.evidence_complete()

    @extend_schema_field(ProxyOutSerializer(allow_null=True))
    def get_proxy(self, application: Application) -> dict | None:
        try:
            proxy = application.proxy
        except Proxy.DoesNotExist:
            return None
        visible = proxy_id_visible(application, _user(self))
        return ProxyOutSerializer(
            {
                "name": proxy.name,
                "relation": proxy.relation,
                "id_number": proxy.id_number if visible else proxy.id_number_masked,
                "id_number_masked": not visible,
                "phone": proxy.phone,
            }
        ).data


class ApplicationCreateSerializer(serializers.Serializer):
    """Body of ``POST /applications/``; the M7 rules and the account's district are checked by the service."""

    kind = serializers.ChoiceField(choices=ApplicationKind.choices)
    account_no = serializers.CharField(max_length=20, help_text="户号, 10 digits, in the caller's district.")
    channel = serializers.ChoiceField(choices=Channel.choices)
    received_on = serializers.DateField(
        required=False, allow_null=True, help_text="The date on the paper application; default today."
    )
    capacity_kva = serializers.DecimalField(
        max_digits=10, decimal_places=0, required=False, allow_null=True, help_text="kVA, as a decimal string."
    )
    seal_date = serializers.DateField(required=False, allow_null=True, help_text="First day not charged.")
    restore_date = serializers.DateField(required=False, allow_null=True, help_text="First day charged again.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    proxy = ProxySerializer(required=False, allow_null=True, help_text="Needed for channel paper_proxy.")


class TransitionInputSerializer(serializers.Serializer):
    """Body of ``POST …/transitions/{action}/``."""

    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Required to return or reject."
    )
    reason_code = serializers.ChoiceField(
        choices=ReasonCode.choices, required=False, allow_blank=True, default="", help_text="Required to reject."
    )
    expected_state = StateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The state the caller saw; if the item has moved on, 409.",
    )


# --- eligibility lists -----------------------------------------------------------------------


class ForecastSerializer(serializers.Serializer):
    """预计惠及电力客户X万户，减少企业电费支出X万元 — kept up to date by the eligibility services."""

    accounts = serializers.IntegerField(read_only=True)
    accounts_wan = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, help_text="万户")
    reduction_yuan = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True)
    reduction_wan = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, help_text="万元")
    billed_yuan = serializers.DecimalField(
        max_digits=16, decimal_places=2, read_only=True, help_text="Of the reduction, what comes from bills so far."
    )
    computed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class EligibilityListSerializer(_TransitionsMixin, serializers.ModelSerializer):
    policy = serializers.CharField(source="policy_id", read_only=True, help_text="The policy's code.")
    policy_name = serializers.CharField(source="policy.name", read_only=True)
    district = serializers.CharField(source="district.name", read_only=True)
    state = StateField(read_only=True)
    accounts = serializers.IntegerField(
        source="included_accounts",
        read_only=True,
        help_text="How many accounts the list includes; the entries are at /eligibility-lists/{id}/entries/.",
    )
    forecast = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True, allow_null=True)
    history = HistoryEntrySerializer(source="decisions", many=True, read_only=True)

    class Meta:
        model = EligibilityList
        fields = [
            "id",
            "policy",
            "policy_name",
            "district",
            "state",
            "state_changed_at",
            "accounts",
            "forecast",
            "transitions",
            "created_by",
            "created_at",
            "submitted_by",
            "settle_error",
            "history",
        ]
        read_only_fields = fields

    @extend_schema_field(ForecastSerializer)
    def get_forecast(self, lst: EligibilityList) -> dict:
        return ForecastSerializer(
            {
                "accounts": lst.forecast_accounts,
                "accounts_wan": to_wan(lst.forecast_accounts),
                "reduction_yuan": lst.forecast_reduction,
                "reduction_wan": to_wan(lst.forecast_reduction),
                "billed_yuan": lst.forecast_billed,
                "computed_at": lst.forecast_at,
            }
        ).data


class EligibilityEntrySerializer(serializers.ModelSerializer):
    account_no = serializers.CharField(source="account.account_no", read_only=True)
    name = serializers.CharField(source="account.name", read_only=True)
    source = serializers.ChoiceField(choices=EntrySource.choices, read_only=True)
    changed_by = serializers.CharField(
        source="changed_by.username", read_only=True, allow_null=True, help_text="Null for the pre-screen."
    )

    class Meta:
        model = EligibilityEntry
        fields = ["account_no", "name", "source", "included", "reason", "changed_by", "changed_at"]
        read_only_fields = fields


class EligibilityEntryChangeSerializer(serializers.Serializer):
    """Body of ``POST /eligibility-lists/{id}/entries/``: a clerk adds or removes an account, with a reason."""

    account_no = serializers.CharField(max_length=20)
    include = serializers.BooleanField(help_text="true to add (the M1 rule must admit it), false to remove.")
    reason = serializers.CharField(allow_blank=True, max_length=2000, help_text="Required.")
