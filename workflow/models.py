"""Applications and district eligibility lists, and the chain they move through.

Transition methods change only the row; the one service in ``workflow.services`` locks, checks
permission, transitions, saves, records the decision and enqueues effects in one transaction.
``Decision`` is the one audit trail of the chain: every transition writes exactly one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from . import chain
from .chain import PENDING_STATES, State
from .storage import private_storage


def _evidence_complete(item) -> bool:
    return item.evidence_complete()


class ChainItem(ConcurrentTransitionMixin, models.Model):
    """What applications and eligibility lists share: the state machine of programme.md §3."""

    # Integer keys, as first created (django-fsm-log's StateLog, migrated to Decision by workflow 0005,
    # referred to items by an integer object id).
    id = models.AutoField(primary_key=True)
    state = FSMField(_("state"), default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    district = models.ForeignKey(
        "portal.District", verbose_name=_("district"), on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    state_changed_at = models.DateTimeField(_("in this state since"), default=timezone.now, db_index=True)
    settle_error = models.TextField(_("settlement error"), blank=True)

    class Meta:
        abstract = True

    # --- evidence and history, overridden or used by subclasses --------------------------------
    def evidence_complete(self) -> bool:
        """Evidence a district reviewer needs before approving (programme.md §3)."""
        return True

    def decision_history(self):
        """Decisions on this item, oldest first (prefetched when possible)."""
        return list(self.decisions.all())

    def _moved(self) -> None:
        self.state_changed_at = timezone.now()

    # --- transitions (change only the row) ------------------------------------------------------
    @transition(field=state, source=State.DRAFT, target=State.PENDING_DISTRICT, permission=chain.may_act)
    def submit(self, *, by=None) -> None:
        self.submitted_by = by
        self._moved()

    @transition(field=state, source=State.PENDING_LEADER, target=State.APPROVED, permission=chain.may_act)
    @transition(field=state, source=State.PENDING_HEAD, target=State.PENDING_LEADER, permission=chain.may_act)
    @transition(field=state, source=State.PENDING_CITY, target=State.PENDING_HEAD, permission=chain.may_act)
    @transition(
        field=state,
        source=State.PENDING_DISTRICT,
        target=State.PENDING_CITY,
        permission=chain.may_act,
        conditions=[_evidence_complete],
    )
    def approve(self, *, by=None) -> None:
        self._moved()

    @transition(field=state, source=State.PENDING_LEADER, target=State.PENDING_HEAD, permission=chain.may_act)
    @transition(field=state, source=State.PENDING_HEAD, target=State.PENDING_CITY, permission=chain.may_act)
    @transition(field=state, source=State.PENDING_CITY, target=State.PENDING_DISTRICT, permission=chain.may_act)
    @transition(field=state, source=State.PENDING_DISTRICT, target=State.DRAFT, permission=chain.may_act)
    def send_back(self, *, by=None) -> None:
        """The ``return`` action: one level back."""
        self._moved()

    @transition(field=state, source=list(PENDING_STATES), target=State.REJECTED, permission=chain.may_act)
    def reject(self, *, by=None) -> None:
        self._moved()

    @transition(
        field=state, source=[State.DRAFT, *PENDING_STATES], target=State.WITHDRAWN, permission=chain.may_withdraw
    )
    def withdraw(self, *, by=None) -> None:
        self._moved()

    @transition(field=state, source=State.PENDING_DISTRICT, target=State.APPROVED, permission=chain.is_system)
    def fast_track(self) -> None:
        """三零服务: a just-submitted new connection of a priority unit skips the rest of the chain."""
        self._moved()

    @transition(field=state, source=State.APPROVED, target=State.SETTLED, permission=chain.is_system)
    def settle(self) -> None:
        self.settle_error = ""
        self._moved()


class ApplicationKind(models.TextChoices):
    CAPACITY_REDUCTION = "capacity_reduction", _("Capacity reduction (减容)")
    SUSPENSION = "suspension", _("Suspension (暂停)")
    REDUCTION_RESTORE = "reduction_restore", _("Capacity reduction restore (减容恢复)")
    SUSPENSION_RESTORE = "suspension_restore", _("Suspension restore (暂停恢复)")
    METHOD_CHANGE = "method_change", _("Basic-charge method change (计费方式变更)")
    DEMAND_RELIEF = "demand_relief", _("Expanded-capacity demand relief (扩大产能需量)")
    NEW_CONNECTION = "new_connection", _("New connection (新装)")
    CAPACITY_INCREASE = "capacity_increase", _("Capacity increase (增容)")
    ARREARS_PROTECTION = "arrears_protection", _("Arrears protection (欠费不停电)")


# Kinds that change capacity in service: a district reviewer needs verification first.
CAPACITY_KINDS = (
    ApplicationKind.CAPACITY_REDUCTION,
    ApplicationKind.SUSPENSION,
    ApplicationKind.REDUCTION_RESTORE,
    ApplicationKind.SUSPENSION_RESTORE,
)


class Channel(models.TextChoices):
    COUNTER = "counter", _("Counter")
    PAPER_PROXY = "paper_proxy", _("Paper, by proxy")
    HOTLINE_95598 = "hotline_95598", _("95598 hotline")
    WECHAT = "wechat", _("WeChat")
    APP_WSGW = "app_wsgw", _("网上国网 app")
    APP_ZSDL = "app_zsdl", _("掌上电力 app")
    SITE_VISIT = "site_visit", _("Site visit")


class Application(ChainItem):
    """A customer's application: capacity changes, connections, arrears protection."""

    kind = models.CharField(_("kind"), max_length=30, choices=ApplicationKind.choices)
    account = models.ForeignKey(
        "billing.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="applications"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    received_on = models.DateField(_("received on"), default=timezone.localdate)
    capacity_kva = models.DecimalField(
        _("capacity concerned (kVA)"), max_digits=10, decimal_places=0, null=True, blank=True
    )
    seal_date = models.DateField(_("seal date (first day not charged)"), null=True, blank=True)
    restore_date = models.DateField(_("restore date (first day charged again)"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    relief = models.BooleanField(
        _("under the relief policy"),
        default=False,
        help_text=_("Decided on entry: the effective date lies in the relief window (programme.md M7)."),
    )
    fast_tracked = models.BooleanField(_("fast-tracked"), default=False)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        indexes = [
            models.Index(fields=["state", "district", "state_changed_at"], name="application_queue"),
            # City-level queues (no district condition): oldest first straight from the index.
            models.Index(fields=["state", "state_changed_at", "id"], name="application_queue_city"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"

    def evidence_complete(self) -> bool:
        if self.kind not in CAPACITY_KINDS:
            return True
        verification = getattr(self, "verification", None)
        return verification is not None and verification.complete


class Proxy(models.Model):
    """A relative acting for an elderly customer (亲人代办)."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="proxy")
    name = models.CharField(_("proxy name"), max_length=50)
    relation = models.CharField(_("relation to the customer"), max_length=30)
    id_number = models.CharField(
        _("ID number"),
        max_length=18,
        validators=[RegexValidator(r"^\d{17}[\dXx]$", _("An ID number has 17 digits and a check digit."))],
    )
    phone = models.CharField(
        _("phone"), max_length=20, validators=[RegexValidator(r"^[\d\-+ ]{7,20}$", _("Enter a phone number."))]
    )

    class Meta:
        verbose_name = _("proxy")
        verbose_name_plural = _("proxies")

    def __str__(self) -> str:
        return f"{self.name} ({self.relation})"

    @property
    def id_number_masked(self) -> str:
        """Shown everywhere except to whoever must check it: first 3 and last 4 characters."""
        n = self.id_number
        return f"{n[:3]}{'*' * (len(n) - 7)}{n[-4:]}" if len(n) > 7 else "*" * len(n)


def _scan_path(instance, filename: str) -> str:
    # The stored name never comes from the uploader: the application and a random token.
    import secrets
    from pathlib import PurePath

    suffix = PurePath(filename).suffix.lower()
    return f"scans/{instance.application_id}/{secrets.token_hex(16)}{suffix}"


class ScanKind(models.TextChoices):
    PAPER_FORM = "paper_form", _("Paper application form")
    AUTHORISATION = "authorisation", _("Authorisation letter")
    OTHER = "other", _("Other document")


class Scan(models.Model):
    """A scan of a paper document, stored outside the web root and served only through a checked view."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="scans")
    kind = models.CharField(_("document"), max_length=20, choices=ScanKind.choices)
    file = models.FileField(_("file"), upload_to=_scan_path, storage=private_storage)
    original_name = models.CharField(_("original file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("scan")
        verbose_name_plural = _("scans")

    def __str__(self) -> str:
        return self.original_name


class MeterCheck(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed by meter data")
    NOT_CONFIRMED = "not_confirmed", _("Not confirmed by meter data")


class Verification(models.Model):
    """Meter-data check and site survey recorded before a district reviewer approves."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="verification")
    meter_check = models.CharField(_("meter-data check"), max_length=20, choices=MeterCheck.choices)
    survey_date = models.DateField(_("survey date"))
    surveyor = models.CharField(_("surveyor"), max_length=50)
    findings = models.TextField(_("findings"))
    seal_number = models.CharField(_("seal number"), max_length=50)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")

    def __str__(self) -> str:
        return f"verification of #{self.application_id}"

    @property
    def complete(self) -> bool:
        return bool(
            self.meter_check == MeterCheck.CONFIRMED
            and self.survey_date
            and self.surveyor
            and self.findings
            and self.seal_number
        )


class EligibilityList(ChainItem):
    """A district's list of accounts eligible for a policy (the 95% measure), run through the chain."""

    policy = models.ForeignKey(
        "billing.Policy", verbose_name=_("policy"), to_field="code", on_delete=models.PROTECT, related_name="+"
    )
    forecast_accounts = models.PositiveIntegerField(_("forecast: accounts"), default=0)
    forecast_reduction = models.DecimalField(
        _("forecast: reduction (yuan)"), max_digits=16, decimal_places=2, default=0
    )
    forecast_billed = models.DecimalField(
        _("forecast: of which from bills so far"), max_digits=16, decimal_places=2, default=0
    )
    forecast_at = models.DateTimeField(_("forecast computed"), null=True, blank=True)

    class Meta:
        verbose_name = _("eligibility list")
        verbose_name_plural = _("eligibility lists")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "district"],
                condition=~models.Q(state__in=[State.REJECTED, State.WITHDRAWN]),
                name="eligibility_list_one_live_per_district",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.district}"


class EntrySource(models.TextChoices):
    PRESCREEN = "prescreen", _("Pre-screened by the rules")
    ADDED = "added", _("Added by a clerk")


class EligibilityEntry(models.Model):
    """One account on a list; a clerk may add or remove one only with a reason."""

    eligibility_list = models.ForeignKey(EligibilityList, on_delete=models.CASCADE, related_name="entries")
    account = models.ForeignKey("billing.Account", on_delete=models.PROTECT, related_name="eligibility_entries")
    source = models.CharField(_("source"), max_length=20, choices=EntrySource.choices)
    included = models.BooleanField(_("included"), default=True)
    reason = models.TextField(_("reason for the change"), blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        verbose_name = _("eligibility entry")
        verbose_name_plural = _("eligibility entries")
        constraints = [
            models.UniqueConstraint(fields=["eligibility_list", "account"], name="eligibility_entry_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.eligibility_list_id}:{self.account_id}"


class Decision(models.Model):
    """Our own record of every decision: level, action, reason, actor, time and what was seen."""

    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    eligibility_list = models.ForeignKey(
        EligibilityList, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    level = models.CharField(_("level"), max_length=20, choices=chain.Level.choices)
    action = models.CharField(_("action"), max_length=20, choices=chain.Action.choices)
    from_state = models.CharField(_("from"), max_length=20, choices=State.choices)
    to_state = models.CharField(_("to"), max_length=20, choices=State.choices)
    reason_code = models.CharField(_("reason code"), max_length=30, choices=chain.ReasonCode.choices, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions",
        help_text=_("Blank for a system decision."),
    )
    policy_reason = models.CharField(_("policy applied by the system"), max_length=200, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)
    # When the item reached the state this decision left: the previous decision's time, or the
    # item's creation. Stored so that time-in-level statistics need no window over the history.
    arrived_at = models.DateTimeField(_("arrived at this level"), null=True, blank=True)
    snapshot = models.JSONField(_("what the decider saw"), default=dict)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        indexes = [
            # Time per level (dashboard chain health): read from the index alone.
            models.Index(fields=["level", "at", "arrived_at"], name="decision_stays"),
            # Returns and rejections by reason code.
            models.Index(fields=["level", "action", "reason_code"], name="decision_returns"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(application__isnull=False, eligibility_list__isnull=True)
                | models.Q(application__isnull=True, eligibility_list__isnull=False),
                name="decision_on_exactly_one_item",
            ),
            models.CheckConstraint(
                condition=~models.Q(action="reject") | ~models.Q(reason_code=""),
                name="decision_reject_has_code",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"

    @property
    def policy_reason_display(self) -> str:
        """The policy a system decision applied, in the reader's language.

        The service stores the message id (English); older rows hold whatever text was written then,
        which is shown as it is.
        """
        return gettext(self.policy_reason) if self.policy_reason else ""


class PrescreenRunState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PrescreenRun(models.Model):
    """One pre-screen started from the eligibility lists page: run by a Celery task, district by district.

    The page shows its progress (districts done of total) and, once done, its result per district.
    """

    policy = models.ForeignKey(
        "billing.Policy", verbose_name=_("policy"), to_field="code", on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(
        _("state"), max_length=10, choices=PrescreenRunState.choices, default=PrescreenRunState.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    districts_total = models.PositiveIntegerField(_("districts"), default=0)
    districts_done = models.PositiveIntegerField(_("districts done"), default=0)
    results = models.JSONField(_("result per district"), default=list)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("pre-screen run")
        verbose_name_plural = _("pre-screen runs")

    def __str__(self) -> str:
        return f"pre-screen {self.policy_id} #{self.pk}"

    @property
    def active(self) -> bool:
        return self.state in (PrescreenRunState.QUEUED, PrescreenRunState.RUNNING)

    @property
    def percent(self) -> int:
        if self.state == PrescreenRunState.DONE:
            return 100
        return int(100 * self.districts_done / self.districts_total) if self.districts_total else 0
