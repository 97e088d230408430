"""Billing master data: industries, customer accounts, tariffs and bills as billed.

Original bills are immutable (programme.md M8): relief is posted to the ledger, never by
editing a bill.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 14, "decimal_places": 2}


class Category(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential")
    GENERAL_COMMERCIAL = "general_commercial", _("General commercial and other")
    LARGE_INDUSTRIAL = "large_industrial", _("Large industrial")
    AGRICULTURAL = "agricultural", _("Agricultural")


class BasicChargeMethod(models.TextChoices):
    CAPACITY = "capacity", _("Capacity basis")
    DEMAND = "demand", _("Demand basis")


class EnterpriseSize(models.TextChoices):
    LARGE = "large", _("Large")
    MEDIUM = "medium", _("Medium")
    SMALL = "small", _("Small")
    MICRO = "micro", _("Micro")


class PriorityRole(models.TextChoices):
    HOSPITAL = "hospital", _("Designated hospital")
    PREVENTION_POINT = "prevention_point", _("Prevention point")
    SUPPLIES_MAKER = "supplies_maker", _("Protective-supplies maker")


VOLTAGES_KV = (Decimal("0.4"), Decimal("10"), Decimal("35"), Decimal("66"), Decimal("110"), Decimal("220"))


class Industry(models.Model):
    """A class (小类) of GB/T 4754-2017; ``high_energy`` is decided by its code."""

    code = models.CharField(_("code"), max_length=4, primary_key=True, validators=[RegexValidator(r"^\d{4}$")])
    name = models.CharField(_("name"), max_length=100)
    high_energy = models.BooleanField(_("high-energy"), default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("industry")
        verbose_name_plural = _("industries")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Account(models.Model):
    """A customer account (户) as the marketing system knows it."""

    account_no = models.CharField(
        _("account number"),
        max_length=10,
        unique=True,
        validators=[RegexValidator(r"^\d{10}$", _("An account number has 10 digits."))],
    )
    name = models.CharField(_("name"), max_length=200)
    district = models.ForeignKey(
        "portal.District", verbose_name=_("district"), on_delete=models.PROTECT, related_name="accounts"
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    industry_code = models.CharField(_("industry code"), max_length=4, blank=True)
    # Derived from industry_code by billing.industry.is_high_energy when the account is written: a fact
    # about the industry, for display and filtering. Eligibility (M1) is the policy row's
    # (billing.rules), never this column.
    high_energy = models.BooleanField(_("high-energy"), default=False)
    voltage_kv = models.DecimalField(_("voltage (kV)"), max_digits=6, decimal_places=1)
    basic_charge_method = models.CharField(
        _("basic charge method"), max_length=10, choices=BasicChargeMethod.choices, blank=True
    )
    capacity_kva = models.DecimalField(
        _("capacity (kVA)"),
        max_digits=10,
        decimal_places=0,
        default=0,
        validators=[MinValueValidator(0)],
    )
    contract_demand_kw = models.DecimalField(
        _("contract demand (kW)"),
        max_digits=10,
        decimal_places=0,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    enterprise_size = models.CharField(_("enterprise size"), max_length=10, choices=EnterpriseSize.choices, blank=True)
    priority_role = models.CharField(_("priority role"), max_length=20, choices=PriorityRole.choices, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["account_no"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            models.Index(fields=["district", "account_no"], name="account_district_no"),
            models.Index(fields=["category", "high_energy"], name="account_category_he"),
            models.Index(fields=["name"], name="account_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(category__in=[c.value for c in Category]),
                name="account_category_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_no} {self.name}"


class TariffComponent(models.TextChoices):
    ENERGY_FLAT = "energy_flat", _("Energy, flat period")
    ENERGY_PEAK = "energy_peak", _("Energy, peak period")
    ENERGY_VALLEY = "energy_valley", _("Energy, valley period")
    BASIC_CAPACITY = "basic_capacity", _("Basic charge, capacity basis")
    BASIC_DEMAND = "basic_demand", _("Basic charge, demand basis")


class Tariff(models.Model):
    """A rate with the dates it is in force, so that official figures replace demo ones by data."""

    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    voltage_min_kv = models.DecimalField(_("from voltage (kV)"), max_digits=6, decimal_places=1)
    voltage_max_kv = models.DecimalField(
        _("below voltage (kV)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        help_text=_("Blank: no upper bound."),
    )
    component = models.CharField(_("component"), max_length=20, choices=TariffComponent.choices)
    rate = models.DecimalField(_("rate"), max_digits=10, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=20)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to"), null=True, blank=True)
    is_demo = models.BooleanField(
        _("demo data"), default=True, help_text=_("示例数据，非官方电价 — demo figures, not official.")
    )
    source = models.CharField(_("source"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["category", "component", "voltage_min_kv", "effective_from"]
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "component", "voltage_min_kv", "effective_from"],
                name="tariff_unique_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.get_component_display()} {self.rate}"


def period_label(period: dt.date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


class Bill(models.Model):
    """One account's bill for one month, as billed by the marketing system (immutable).

    The charges are held as columns; ``lines`` presents them as the bill's lines.
    """

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="bills")
    period = models.DateField(_("billing month"), help_text=_("First day of the month."))
    energy_kwh = models.DecimalField(_("energy (kWh)"), max_digits=14, decimal_places=0)
    energy_charge = models.DecimalField(_("energy charge"), **MONEY)
    basic_rate = models.DecimalField(_("basic-charge rate"), max_digits=10, decimal_places=4, null=True, blank=True)
    max_demand_kw = models.DecimalField(
        _("maximum demand (kW)"), max_digits=10, decimal_places=0, null=True, blank=True
    )
    basic_charge = models.DecimalField(_("basic charge"), **MONEY)
    power_factor_rate = models.DecimalField(_("power-factor rate"), max_digits=7, decimal_places=4)
    power_factor_charge = models.DecimalField(_("power-factor adjustment"), **MONEY)
    late_fee = models.DecimalField(_("late fee"), **MONEY)
    paid = models.DecimalField(_("paid"), **MONEY)
    imported_at = models.DateTimeField(_("imported"), auto_now_add=True)

    class Meta:
        ordering = ["account", "period"]
        verbose_name = _("bill")
        verbose_name_plural = _("bills")
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="bill_unique_account_period"),
        ]
        indexes = [models.Index(fields=["period"], name="bill_period")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period_label}"

    @property
    def period_label(self) -> str:
        return period_label(self.period)

    @property
    def lines(self) -> list[tuple[str, str, Decimal]]:
        """(kind, label, amount) for each line of the bill as billed."""
        return [
            ("energy", str(_("Energy charge")), self.energy_charge),
            ("basic", str(_("Basic charge")), self.basic_charge),
            ("power_factor", str(_("Power-factor adjustment")), self.power_factor_charge),
            ("late_fee", str(_("Late fee")), self.late_fee),
        ]

    @property
    def gross(self) -> Decimal:
        return self.energy_charge + self.basic_charge + self.power_factor_charge + self.late_fee


class PolicyKind(models.TextChoices):
    # Translators: "95%" is a percentage, not a format placeholder.
    DISCOUNT = "discount", _("Price reduction (95 percent settlement)")
    TWO_PART_RELIEF = "two_part_relief", _("Supportive two-part tariff relief")


class Policy(models.Model):
    """A relief policy as data an admin can read: windows, rate, scope, components.

    ``discount-2020`` is the 95% policy of programme.md M1–M3 (发改价格〔2020〕258号 and 994号).
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=PolicyKind.choices)
    source = models.CharField(_("source"), max_length=200, blank=True)
    rate = models.DecimalField(
        _("rate"),
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Share of each line given back (0.05 for the 95 percent settlement)."),
    )
    windows = models.JSONField(
        _("windows"), default=list, help_text=_('Periods as [["2020-02", "2020-06"], ["2020-07", "2020-12"]].')
    )
    eligible_categories = models.JSONField(_("eligible categories"), default=list)
    excluded_divisions = models.JSONField(
        _("excluded industry divisions"),
        default=list,
        help_text=_("First two digits of GB/T 4754-2017 codes that are excluded (high-energy)."),
    )
    components = models.JSONField(_("components the rate applies to"), default=list)
    earliest_seal_date = models.DateField(_("earliest seal date"), null=True, blank=True)
    waived_rules = models.JSONField(_("waived rules"), default=list)
    # Who changed what and when (the admin shows it field by field): billing.policy_rules.
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        verbose_name = _("policy")
        verbose_name_plural = _("policies")

    def __str__(self) -> str:
        return self.name


class CauseType(models.TextChoices):
    """What a grant or a ledger entry comes from (interfaces.md ``cause_type``)."""

    ELIGIBILITY_LIST = "eligibility_list", _("Eligibility list")
    APPLICATION = "application", _("Application")


class GrantKind(models.TextChoices):
    DISCOUNT = "discount", _("95 percent settlement")
    SEAL = "seal", _("Capacity sealed (suspension or reduction)")
    DEMAND_RELIEF = "demand_relief", _("No double charge above 105%")
    LATE_FEE_WAIVER = "late_fee_waiver", _("Late fees waived")


class Grant(models.Model):
    """What an approved list or application gives an account.

    The workflow writes grants through ``billing.services`` when an item is approved, in the same
    transaction; billing computes from grants and never reads the workflow's tables.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="grants")
    kind = models.CharField(_("kind"), max_length=20, choices=GrantKind.choices)
    policy = models.ForeignKey(Policy, to_field="code", on_delete=models.PROTECT, related_name="grants")
    cause_type = models.CharField(_("cause type"), max_length=20, choices=CauseType.choices)
    cause_id = models.PositiveIntegerField(_("cause"))
    capacity_kva = models.DecimalField(_("sealed capacity (kVA)"), max_digits=10, decimal_places=0, null=True)
    seal_date = models.DateField(_("seal date"), null=True)
    restore_date = models.DateField(_("restore date"), null=True)
    restored_by = models.PositiveIntegerField(_("restored by application"), null=True, blank=True)
    created_at = models.DateTimeField(_("granted"), auto_now_add=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        constraints = [
            models.UniqueConstraint(fields=["cause_type", "cause_id", "account", "kind"], name="grant_once_per_cause"),
        ]
        indexes = [models.Index(fields=["account", "kind"], name="grant_account_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id} ({self.cause_type} {self.cause_id})"


class LedgerKind(models.TextChoices):
    # The labels are the bill's wording; zh-hans reads 阶段性降低企业用电成本优惠（按95%结算）and
    # 支持性两部制电价减免（退补）(locale/zh_Hans).
    DISCOUNT = "discount", _("Reduced electricity cost for enterprises (settled at 95 percent)")
    BASIC_CHARGE_CREDIT = "basic_charge_credit", _("Supportive two-part tariff relief (credit)")
    DEMAND_RELIEF_CREDIT = "demand_relief_credit", _("Expanded-capacity demand relief (credit)")
    INVESTMENT_WAIVER = "investment_waiver", _("Connection investment waived")
    LATE_FEE_WAIVER = "late_fee_waiver", _("Late fee waived")


class LedgerEntry(models.Model):
    """An append-only posting in the customer's favour (negative: a correction).

    Per (bill, kind) the entries are numbered 1, 2, …; the unique ``(bill, kind, seq)`` makes two
    posters that computed the same difference at once collide, so one of them posts nothing.
    """

    # No single-column indexes: ledger_account_period and the unique (bill, kind, seq) cover them,
    # and every index costs the posting batch (docs/benchmarks.md "Posting").
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False)
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False)
    period = models.DateField(_("billing month"))
    kind = models.CharField(_("kind"), max_length=30, choices=LedgerKind.choices)
    seq = models.PositiveIntegerField(_("posting number"))
    amount = models.DecimalField(_("amount"), **MONEY)
    cause_type = models.CharField(_("cause type"), max_length=20, choices=CauseType.choices)
    cause_id = models.PositiveIntegerField(_("cause"))
    # The job that posted the entry is bookkeeping, like the cause: no constraint or index in the
    # database. Every chunk of a job refers to the same job row, and a per-row foreign-key check
    # from two chunks at once turns its lock into a MultiXact that each further check must read:
    # 42 s instead of 33 s for the benchmark's batch (docs/benchmarks.md "Posting"). Jobs are never
    # deleted; the ORM still protects them.
    job = models.ForeignKey(
        "PostingJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    posted_at = models.DateTimeField(_("posted"), auto_now_add=True)

    class Meta:
        ordering = ["account", "period", "kind", "seq"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(fields=["bill", "kind", "seq"], name="ledger_one_posting_per_seq"),
            models.CheckConstraint(condition=~models.Q(amount=0), name="ledger_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["account", "period"], name="ledger_account_period"),
            models.Index(fields=["cause_type", "cause_id"], name="ledger_cause"),
            # Which accounts hold entries of other kinds than the discount (posting_sql's choice of
            # path): a few rows, where the full index made each chunk read all its 22,000 entries.
            models.Index(fields=["account"], condition=~models.Q(kind="discount"), name="ledger_other_kinds"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.bill_id}#{self.seq})"


class JobState(models.TextChoices):
    PENDING = "pending", _("Waiting for a worker")
    RUNNING = "running", _("Posting")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed (will be retried)")


class PostingJob(models.Model):
    """A batch of postings for one cause (or for new bills), split into account-range chunks.

    The row is the truth about progress: a sweep resumes jobs that are not done, whatever the
    broker remembers.
    """

    cause_type = models.CharField(_("cause type"), max_length=20, blank=True)
    cause_id = models.PositiveIntegerField(_("cause"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=JobState.choices, default=JobState.PENDING)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    entries_posted = models.PositiveIntegerField(_("entries posted"), default=0)
    error = models.TextField(_("last error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("posting job")
        verbose_name_plural = _("posting jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["cause_type", "cause_id"], condition=~models.Q(cause_type=""), name="job_once_per_cause"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.cause_type} {self.cause_id} {self.state}"

    @property
    def progress(self) -> int:
        """Percent of chunks done (0–100)."""
        if self.state == JobState.DONE:
            return 100
        return int(self.chunks_done * 100 / self.chunks_total) if self.chunks_total else 0


class PostingChunk(models.Model):
    """Accounts ``account_from`` … ``account_to`` (ids, inclusive) of a job; done in one transaction.

    The transaction that posts the chunk also records which accounts' dashboard rows it left to
    refresh (``stats_from`` … ``stats_to``, None when none); ``stats_done_at`` is set by the
    transaction that refreshes them (``billing.posting.chunk_stats_run``). A chunk done with a
    range and no ``stats_done_at`` is a refresh pending: the sweep finds it whatever the broker lost.
    """

    job = models.ForeignKey(PostingJob, on_delete=models.CASCADE, related_name="chunks")
    account_from = models.BigIntegerField()
    account_to = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    stats_from = models.BigIntegerField(null=True, blank=True)
    stats_to = models.BigIntegerField(null=True, blank=True)
    stats_done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "account_from"]
        constraints = [
            models.UniqueConstraint(fields=["job", "account_from"], name="chunk_unique_start"),
            models.CheckConstraint(
                condition=models.Q(stats_from__isnull=True, stats_to__isnull=True)
                | models.Q(stats_from__lte=models.F("stats_to")),
                name="chunk_stats_range",
            ),
        ]
        indexes = [
            models.Index(
                fields=["done_at"],
                condition=models.Q(stats_from__isnull=False, stats_done_at__isnull=True),
                name="chunk_stats_pending",
            ),
        ]

    @property
    def stats_pending(self) -> bool:
        return self.stats_from is not None and self.stats_done_at is None

    def __str__(self) -> str:
        return f"chunk {self.account_from}-{self.account_to} of job {self.job_id}"


# --- Statistics (programme.md M11): summary rows the posting keeps, the dashboard reads ---------


class StatsMetric(models.TextChoices):
    """What a summary cell counts and sums (``billing.stats`` says how each one is derived)."""

    DISCOUNT = "discount", _("95 percent settlement")
    BASIC_CHARGE_CREDIT = "basic_charge_credit", _("Basic charge credited (seals)")
    DEMAND_RELIEF_CREDIT = "demand_relief_credit", _("Demand relief credited (no double charge)")
    INVESTMENT_WAIVER = "investment_waiver", _("Connection investment waived")
    LATE_FEE_WAIVER = "late_fee_waiver", _("Late fees waived")
    TWO_PART = "two_part", _("Two-part tariff relief")
    ALL = "all", _("All relief")
    PROTECTED = "protected", _("Protected accounts and their arrears")
    IN_ARREARS = "in_arrears", _("Protected accounts in arrears")


class StatsAccountMonth(models.Model):
    """One account's relief and arrears in one billing month: the ledger's sums per kind, to the fen.

    Derived rows, rewritten by ``billing.stats.stats_refresh`` for the accounts a posting chunk
    touched; never edited by hand. A row exists when the month has relief (any kind's sum is not
    zero) or the account is protected (M10) and has a bill for the month. ``district`` and
    ``category`` are the account's when the row was written.
    """

    # Derived rows, so no foreign-key constraints in the database: their checks cost a posting chunk
    # ≈ 120 ms of ≈ 670 (docs/benchmarks.md "Posting"); the ORM still cascades and protects, and
    # ``refresh_stats --check`` compares every row with the ledger. No index of the account alone:
    # the unique (account, period) serves.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    period = models.DateField(_("billing month"))
    district = models.ForeignKey("portal.District", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    discount = models.DecimalField(_("discount"), default=0, **MONEY)
    basic_charge_credit = models.DecimalField(_("basic charge credit"), default=0, **MONEY)
    demand_relief_credit = models.DecimalField(_("demand relief credit"), default=0, **MONEY)
    investment_waiver = models.DecimalField(_("investment waived"), default=0, **MONEY)
    late_fee_waiver = models.DecimalField(_("late fee waived"), default=0, **MONEY)
    two_part = models.DecimalField(_("two-part relief"), default=0, **MONEY)
    total = models.DecimalField(_("all relief"), default=0, **MONEY)
    protected = models.BooleanField(_("protected, with a bill"), default=False)
    arrears = models.DecimalField(_("arrears"), default=0, **MONEY)

    class Meta:
        verbose_name = _("account-month statistics")
        verbose_name_plural = _("account-month statistics")
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="stats_account_month_unique"),
        ]
        indexes = [models.Index(fields=["period", "district", "category"], name="stats_am_cell")]

    def __str__(self) -> str:
        return f"{self.account_id} {period_label(self.period)}"


class StatsMonth(models.Model):
    """A dashboard cell: per month, district, category and metric, the accounts counted and the yuan.

    Kept by increments (``stats_refresh`` adds what a chunk changed), so the counts are of
    (account, month) pairs: they add up over districts and categories, never over months.
    """

    period = models.DateField(_("billing month"))
    district = models.ForeignKey("portal.District", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    metric = models.CharField(_("metric"), max_length=30, choices=StatsMetric.choices)
    accounts = models.IntegerField(_("accounts"), default=0)
    amount = models.DecimalField(_("amount"), default=0, **MONEY)

    class Meta:
        verbose_name = _("monthly statistics")
        verbose_name_plural = _("monthly statistics")
        constraints = [
            models.UniqueConstraint(
                fields=["period", "district", "category", "metric"], name="stats_month_unique_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"{period_label(self.period)} {self.district_id} {self.category} {self.metric}"


class StatsTotal(models.Model):
    """A dashboard cell for the whole programme: per district, category and metric.

    ``accounts`` counts distinct accounts over every month (an account benefiting in five months
    counts once), which the monthly cells cannot give by addition.
    """

    district = models.ForeignKey("portal.District", on_delete=models.PROTECT, related_name="+")
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    metric = models.CharField(_("metric"), max_length=30, choices=StatsMetric.choices)
    accounts = models.IntegerField(_("accounts"), default=0)
    amount = models.DecimalField(_("amount"), default=0, **MONEY)

    class Meta:
        verbose_name = _("programme statistics")
        verbose_name_plural = _("programme statistics")
        constraints = [
            models.UniqueConstraint(fields=["district", "category", "metric"], name="stats_total_unique_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.district_id} {self.category} {self.metric}"
