"""factory_boy factories for the portal's models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from billing.industry import is_high_energy
from billing.models import Account, Bill, Category
from organisation.models import District, User
from organisation.services import roles_ensure_groups


def district(name: str) -> District:
    return District.objects.get(name=name)


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        district_name = None

    username = factory.Sequence(lambda n: f"staff{n}")
    password = factory.django.Password("demo-pass-123")
    district = factory.LazyAttribute(lambda o: district(o.district_name) if o.district_name else None)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if not create or not extracted:
            return
        roles_ensure_groups()
        self.groups.set(Group.objects.filter(name__in=extracted))
        self.__dict__.pop("roles", None)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    class Params:
        district_name = "南岗"

    account_no = factory.Sequence(lambda n: f"{2300000000 + n:010d}")
    name = factory.Sequence(lambda n: f"示例企业{n}有限公司")
    district = factory.LazyAttribute(lambda o: district(o.district_name))
    category = Category.GENERAL_COMMERCIAL
    industry_code = "5211"
    high_energy = factory.LazyAttribute(lambda o: is_high_energy(o.industry_code))
    voltage_kv = Decimal("10")
    basic_charge_method = ""
    capacity_kva = Decimal("0")
    contract_demand_kw = None


class BillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bill

    account = factory.SubFactory(AccountFactory)
    period = dt.date(2020, 3, 1)
    energy_kwh = Decimal("10000")
    energy_charge = Decimal("7399.00")
    basic_rate = None
    max_demand_kw = None
    basic_charge = Decimal("0.00")
    power_factor_rate = Decimal("0")
    power_factor_charge = Decimal("0.00")
    late_fee = Decimal("0.00")
    paid = Decimal("0.00")


class ApplicationFactory(factory.django.DjangoModelFactory):
    """An application in any state (tests may set ``state`` directly at creation)."""

    class Meta:
        model = "workflow.Application"

    account = factory.SubFactory(AccountFactory)
    district = factory.LazyAttribute(lambda o: o.account.district)
    kind = "arrears_protection"
    channel = "counter"
    received_on = dt.date(2020, 3, 2)


class EligibilityListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "workflow.EligibilityList"

    class Params:
        district_name = "南岗"

    policy_id = "discount-2020"
    district = factory.LazyAttribute(lambda o: district(o.district_name))
