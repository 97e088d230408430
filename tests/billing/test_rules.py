"""billing.rules: each rule's three forms (Python, ORM, SQL) agree, and the rows are read once per scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import rules
from billing.models import Account, Policy
from tests.factories import AccountFactory


@pytest.fixture
def mixed(db):
    specs = [
        ("general_commercial", "5211", "", ""),
        ("large_industrial", "2611", "", ""),  # division 26: excluded
        ("large_industrial", "4430", "", ""),  # heat supply, division 44: excluded
        ("general_commercial", "1310", "small", ""),  # division 13: eligible until the row excludes it
        ("residential", "", "", ""),
        ("agricultural", "0111", "", "hospital"),
        ("general_commercial", "8411", "micro", "prevention_point"),
    ]
    return [
        AccountFactory(category=c, industry_code=code, enterprise_size=size, priority_role=role)
        for c, code, size, role in specs
    ]


@pytest.mark.django_db
def test_the_shipped_discount_row_read_as_rules():
    terms = rules.discount_rules()
    assert terms.months == [dt.date(2020, m, 1) for m in range(2, 13)]
    assert (terms.start, terms.end) == (dt.date(2020, 2, 1), dt.date(2020, 12, 31))
    assert terms.in_window(dt.date(2020, 12, 31)) and terms.in_window(dt.date(2020, 2, 1))
    assert not terms.in_window(dt.date(2020, 1, 31)) and not terms.in_window(dt.date(2021, 1, 1))
    assert not terms.in_window(None)
    assert terms.excluded_divisions == {"25", "26", "30", "31", "32", "44"}
    two_part = rules.two_part_rules()
    assert (two_part.start, two_part.end) == (dt.date(2020, 2, 1), dt.date(2020, 6, 30))
    assert two_part.earliest_seal_date == dt.date(2020, 2, 1)
    assert two_part.waives("notice_days") and two_part.waives("min_suspension_days")
    assert not two_part.waives("max_suspensions_per_year")
    with pytest.raises(Policy.DoesNotExist):
        rules.policy_rules("no-such-policy")


def _python(terms) -> set[int]:
    return {a.pk for a in Account.objects.all() if terms.admits(a)}


@pytest.mark.django_db
@pytest.mark.parametrize("extra_division", [None, "13"])
def test_m1_in_python_the_orm_and_in_the_database_agree(mixed, extra_division):
    if extra_division:
        policy = Policy.objects.get(code=rules.DISCOUNT_POLICY)
        policy.excluded_divisions = [*policy.excluded_divisions, extra_division]
        policy.save()
    terms = rules.discount_rules()
    expected = _python(terms)
    assert set(Account.objects.filter(terms.admits_q()).values_list("pk", flat=True)) == expected
    assert set(Account.objects.filter(rules.admits_q_in_db()).values_list("pk", flat=True)) == expected
    assert set(Account.objects.exclude(rules.admits_q_in_db()).values_list("pk", flat=True)) == (
        {a.pk for a in mixed} - expected
    )
    division_13 = mixed[3]
    assert (division_13.pk in expected) is (extra_division is None)
    assert terms.refusal(mixed[1]) == rules.REFUSED_DIVISION
    assert terms.refusal(mixed[4]) == rules.REFUSED_CATEGORY
    assert rules.discount_rules().admits(division_13) is (extra_division is None)


@pytest.mark.postgres
@pytest.mark.django_db
def test_m1_as_the_set_based_paths_sql_agrees(mixed):
    sql = rules.admits_sql(policy="p", account="a")
    assert "'" not in sql and "%" not in sql  # nothing but column references: no value formatted in
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id FROM billing_account a JOIN billing_policy p ON p.code = %s WHERE {sql}",  # noqa: S608
            [rules.DISCOUNT_POLICY],
        )
        assert {row[0] for row in cursor.fetchall()} == _python(rules.discount_rules())
    with pytest.raises(ValueError):
        rules.admits_sql(policy="p; DROP TABLE x", account="a")


@pytest.mark.django_db
def test_m10_in_python_the_orm_and_sql_agree(mixed):
    expected = {a.pk for a in mixed if rules.is_protected(a)}
    assert expected == {mixed[3].pk, mixed[4].pk, mixed[5].pk, mixed[6].pk}
    assert set(Account.objects.filter(rules.protected_q()).values_list("pk", flat=True)) == expected
    sql, params = rules.protected_sql("a")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT a.id FROM billing_account a WHERE {sql}", params)  # noqa: S608
        assert {row[0] for row in cursor.fetchall()} == expected


@pytest.mark.django_db
def test_rows_are_read_once_per_scope_and_afresh_after_a_change():
    with CaptureQueriesContext(connection) as outside:
        rules.discount_rules()
        rules.two_part_rules()
    assert len(outside.captured_queries) == 2  # no scope: every call reads the rows
    with rules.rules_cached():
        with CaptureQueriesContext(connection) as inside:
            rules.discount_rules()
            rules.two_part_rules()
            rules.all_policy_rules()
        assert len(inside.captured_queries) == 1
        policy = Policy.objects.get(code=rules.DISCOUNT_POLICY)
        policy.windows = [["2020-02", "2020-06"]]
        policy.save()
        assert rules.discount_rules().end == dt.date(2020, 6, 30)  # the save emptied the scope
