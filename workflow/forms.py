"""Input of the workflow pages. Forms check the shape of what was typed; the services decide.

A service refuses with a Django ``ValidationError`` keyed by field; :func:`add_service_errors`
puts each message next to the form field it concerns (``form.add_error``), so that an M7 refusal
is read beside the seal or restore date it is about.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, RegexValidator
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .chain import ReasonCode, State
from .models import Application, ApplicationKind, Channel, MeterCheck, Proxy, ScanKind, Verification
from .services import SCAN_MAGIC, SCAN_MAX_BYTES, ProxyData, ScanData

SCAN_EXTENSIONS = ("pdf", "jpg", "jpeg", "png")
SCAN_ACCEPT = ",".join(f".{ext}" for ext in SCAN_EXTENSIONS)
DATE_INPUT = {"type": "date"}


def _label(model, name: str):
    """A model field's (translated, lazy) verbose name as a form label: "Received on"."""
    return capfirst(model._meta.get_field(name).verbose_name)


def _date_field(label, *, required: bool = False, help_text=""):
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(attrs=DATE_INPUT, format="%Y-%m-%d"),
    )


class ScanField(forms.FileField):
    """A scan: PDF, JPEG or PNG by extension *and* by its first bytes, at most 10 MB."""

    default_validators = [FileExtensionValidator(list(SCAN_EXTENSIONS))]

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.FileInput(attrs={"accept": SCAN_ACCEPT}))
        kwargs.setdefault("help_text", _("PDF, JPEG or PNG, at most 10 MB."))
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if not value:
            return
        if value.size > SCAN_MAX_BYTES:
            raise ValidationError(_("%(name)s is larger than 10 MB."), params={"name": value.name}, code="too_big")
        head = value.read(16)
        value.seek(0)
        if not any(head.startswith(magic) for magics in SCAN_MAGIC.values() for magic in magics):
            raise ValidationError(
                _("%(name)s is not a PDF, JPEG or PNG file."), params={"name": value.name}, code="bad_type"
            )


# Proxy fields of the form and the Proxy model fields they fill.
PROXY_FIELDS = {
    "proxy_name": "name",
    "proxy_relation": "relation",
    "proxy_id_number": "id_number",
    "proxy_phone": "phone",
}
SCAN_FIELDS = {"scan_paper_form": ScanKind.PAPER_FORM, "scan_authorisation": ScanKind.AUTHORISATION}


class ApplicationEntryForm(forms.Form):
    """A clerk's entry of an application: at the counter, or from a paper form brought by a relative."""

    account_no = forms.CharField(
        label=_("Account number"),
        max_length=10,
        validators=[RegexValidator(r"^\d{10}\Z", _("An account number has 10 digits."))],
        widget=forms.TextInput(
            attrs={"autofocus": True, "inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=_("The customer's 10-digit account number (户号)."),
    )
    kind = forms.ChoiceField(label=_label(Application, "kind"), choices=[("", "---------"), *ApplicationKind.choices])
    channel = forms.ChoiceField(
        label=_label(Application, "channel"),
        choices=Channel.choices,
        initial=Channel.COUNTER,
        help_text=_("Choose “Paper, by proxy” when a relative brings a paper application for an elderly customer."),
    )
    received_on = _date_field(
        _label(Application, "received_on"),
        required=True,
        help_text=_("For a paper application, the date written on the paper: notice periods count from it."),
    )
    capacity_kva = forms.DecimalField(
        label=_label(Application, "capacity_kva"),
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=0,
        help_text=_("For a capacity reduction or suspension: the capacity concerned."),
    )
    seal_date = _date_field(_label(Application, "seal_date"))
    restore_date = _date_field(_label(Application, "restore_date"))
    reason = forms.CharField(
        label=_label(Application, "reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    proxy_name = forms.CharField(label=_label(Proxy, "name"), required=False, max_length=50)
    proxy_relation = forms.CharField(
        label=_label(Proxy, "relation"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. son, daughter")}),
    )
    proxy_id_number = forms.CharField(
        label=_label(Proxy, "id_number"),
        required=False,
        max_length=18,
        validators=Proxy._meta.get_field("id_number").validators,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    proxy_phone = forms.CharField(
        label=_label(Proxy, "phone"),
        required=False,
        max_length=20,
        validators=Proxy._meta.get_field("phone").validators,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    scan_paper_form = ScanField(label=ScanKind.PAPER_FORM.label)
    scan_authorisation = ScanField(label=ScanKind.AUTHORISATION.label)

    APPLICATION_FIELDS = (
        "account_no",
        "kind",
        "channel",
        "received_on",
        "capacity_kva",
        "seal_date",
        "restore_date",
        "reason",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["received_on"].initial = timezone.localdate

    # --- groups for the template -----------------------------------------------------------
    def application_fields(self):
        return [self[name] for name in self.APPLICATION_FIELDS]

    def proxy_fields(self):
        return [self[name] for name in PROXY_FIELDS]

    def scan_fields(self):
        return [self[name] for name in SCAN_FIELDS]

    @property
    def files_need_choosing_again(self) -> bool:
        """A browser never re-sends a file: after an error, chosen scans must be chosen again."""
        return self.is_bound and bool(self.files)

    def focus_first_error(self) -> None:
        """Move ``autofocus`` to the first field with an error (keyboard users land on it)."""
        first = next((name for name in self.fields if name in self.errors), None)
        if first is None:
            return
        for field in self.fields.values():
            field.widget.attrs.pop("autofocus", None)
        self.fields[first].widget.attrs["autofocus"] = True

    # --- validation ---------------------------------------------------------------------
    def clean(self):
        data = super().clean()
        proxy = {name: (data.get(name) or "").strip() for name in PROXY_FIELDS}
        needs_proxy = data.get("channel") == Channel.PAPER_PROXY or any(proxy.values())
        if needs_proxy:
            for name, value in proxy.items():
                if not value and name not in self.errors:
                    message = (
                        _("Required for a paper application by proxy.")
                        if data.get("channel") == Channel.PAPER_PROXY
                        else _("Give all of the proxy's details, or none.")
                    )
                    self.add_error(name, message)
        return data

    def proxy_data(self) -> ProxyData | None:
        values = {model_name: (self.cleaned_data.get(name) or "").strip() for name, model_name in PROXY_FIELDS.items()}
        if not any(values.values()):
            return None
        values["id_number"] = values["id_number"].upper()
        return ProxyData(**values)

    def scan_data(self) -> list[ScanData]:
        return [
            ScanData(kind=kind, file=self.cleaned_data[name])
            for name, kind in SCAN_FIELDS.items()
            if self.cleaned_data.get(name)
        ]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "account_no": data["account_no"],
            "kind": data["kind"],
            "channel": data["channel"],
            "received_on": data["received_on"],
            "capacity_kva": data.get("capacity_kva"),
            "seal_date": data.get("seal_date"),
            "restore_date": data.get("restore_date"),
            "reason": data.get("reason") or "",
            "proxy": self.proxy_data(),
            "scans": self.scan_data(),
        }


# Keys of the services' ValidationErrors (model and service field names) → the entry form's fields.
ENTRY_ERROR_FIELDS = {
    "account": "account_no",
    "proxy": "proxy_name",
    **{model_name: name for name, model_name in PROXY_FIELDS.items()},
    **{f"proxy.{model_name}": name for name, model_name in PROXY_FIELDS.items()},
}


def add_service_errors(form: forms.Form, error: ValidationError, field_map: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: each message beside its field, the rest on top."""
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        name = field_map.get(key, key)
        if key == "scans":
            chosen = [field for field in SCAN_FIELDS if form.files.get(field)]
            name = chosen[0] if len(chosen) == 1 else None
        form.add_error(name if name in form.fields else None, errors)


class TransitionForm(forms.Form):
    """What an action posts: the state the page showed, and the reason when one is needed."""

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    reason_code = forms.ChoiceField(
        label=_("Reason code"), required=False, choices=[("", "---------"), *ReasonCode.choices]
    )


class VerificationForm(forms.Form):
    """The meter-data check and the site survey of a capacity application (programme.md §3)."""

    meter_check = forms.ChoiceField(
        label=_label(Verification, "meter_check"), choices=MeterCheck.choices, widget=forms.RadioSelect
    )
    survey_date = _date_field(_label(Verification, "survey_date"), required=True)
    surveyor = forms.CharField(label=_label(Verification, "surveyor"), max_length=50)
    findings = forms.CharField(label=_label(Verification, "findings"), widget=forms.Textarea(attrs={"rows": 4}))
    seal_number = forms.CharField(label=_label(Verification, "seal_number"), max_length=50)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["meter_check"].widget.attrs["autofocus"] = True

    @classmethod
    def initial_from(cls, verification: Verification | None) -> dict:
        if verification is None:
            return {}
        return {name: getattr(verification, name) for name in cls.base_fields}


INCLUDE = "include"
EXCLUDE = "exclude"


class EntryChangeForm(forms.Form):
    """A clerk adds an account to a draft eligibility list, or removes one, with a reason."""

    account_no = forms.CharField(
        label=_("Account number"),
        max_length=10,
        validators=[RegexValidator(r"^\d{10}\Z", _("An account number has 10 digits."))],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    change = forms.ChoiceField(
        label=_("Change"),
        choices=[(INCLUDE, _("Add to the list")), (EXCLUDE, _("Remove from the list"))],
        initial=INCLUDE,
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


def _prescreen_policies() -> list[tuple[str, str]]:
    """The price-reduction policies (the 95% policy): the ones district eligibility lists are for."""
    from billing.models import Policy, PolicyKind

    return [(p.code, p.name) for p in Policy.objects.filter(kind=PolicyKind.DISCOUNT).order_by("code")]


class PrescreenForm(forms.Form):
    """The city reviewer's pre-screen button on the eligibility lists page: which policy."""

    policy = forms.ChoiceField(
        label=_("Policy"),
        choices=_prescreen_policies,
        initial="discount-2020",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
