"""Proration (R9, R13): months, terms, the share of the term left and the charge for
added licences, each worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.proration import (
    add_months,
    added_licences_charge,
    prorate,
    term_months,
    to_cents,
)
from bot.domain.terms import Term

RENEWAL = date(2027, 3, 1)
YEAR_START = date(2026, 3, 1)  # a 12-month term of 365 days


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 3, 1), 12, date(2028, 3, 1)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2027, 1, 15), -1, date(2026, 12, 15)),
        (date(2027, 3, 31), -1, date(2027, 2, 28)),
        (date(2027, 3, 1), -12, date(2026, 3, 1)),
        (date(2027, 3, 1), 0, date(2027, 3, 1)),
        (date(2027, 1, 31), 25, date(2029, 2, 28)),
    ],
)
def test_add_months_keeps_the_day_or_the_last_of_the_month(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "renewal", "months"),
    [
        (None, RENEWAL, 12),
        (YEAR_START, RENEWAL, 12),
        (date(2024, 3, 1), RENEWAL, 36),
        (date(2027, 2, 1), RENEWAL, 1),
        (date(2027, 1, 31), date(2027, 2, 28), 1),  # the short month still counts
        (date(2026, 3, 15), RENEWAL, 11),  # 11 whole months and a half
        (date(2026, 3, 2), RENEWAL, 11),
        (date(2026, 2, 28), date(2027, 2, 28), 12),
        (date(2027, 2, 28), date(2028, 2, 29), 12),
        (RENEWAL, RENEWAL, 12),  # no positive difference: a year
        (date(2027, 6, 1), RENEWAL, 12),  # start after the renewal: a year
        (date(2027, 2, 15), RENEWAL, 12),  # under a month: a year
    ],
)
def test_term_months(start, renewal, months):
    assert term_months(start, renewal) == months


@pytest.mark.parametrize(
    ("today", "days_left"),
    [
        (RENEWAL - timedelta(days=73), 73),
        (RENEWAL - timedelta(days=1), 1),  # today counts, the renewal does not
        (YEAR_START, 365),  # the first day of the term: all of it
        (RENEWAL, 0),
        (RENEWAL + timedelta(days=5), 0),  # a passed renewal leaves nothing
    ],
)
def test_days_left_run_from_today_to_the_renewal(today, days_left):
    share = prorate(today=today, renewal=RENEWAL, contract_start=YEAR_START, monthly_amount=None)
    assert share.days_left == days_left
    assert share.term_days == 365
    assert share.fraction == Decimal(days_left) / 365
    assert share.amount is None


@pytest.mark.parametrize(
    ("today", "renewal", "start", "monthly", "days_left", "term_days", "amount"),
    [
        # a term with a leap day: 100 x 12 x 29/366 = 95.081...
        (date(2028, 2, 1), date(2028, 3, 1), date(2027, 3, 1), "100", 29, 366, "95.08"),
        # a monthly term counts the days of that month: 280 x 1 x 14/28
        (date(2027, 2, 15), RENEWAL, date(2027, 2, 1), "280", 14, 28, "140.00"),
        # without a contract start the term is a year: 150 x 12 x 73/365
        (RENEWAL - timedelta(days=73), RENEWAL, None, "150", 73, 365, "360.00"),
        # a whole month at half a cent rounds up (half-even would give 0.12)
        (date(2027, 2, 1), RENEWAL, date(2027, 2, 1), "0.125", 28, 28, "0.13"),
        # a renewal two years away with no start: 24 months of 10 charged over a year's days
        (date(2025, 3, 1), RENEWAL, None, "10", 730, 365, "240.00"),
    ],
)
def test_prorated_amounts(today, renewal, start, monthly, days_left, term_days, amount):
    share = prorate(
        today=today, renewal=renewal, contract_start=start, monthly_amount=Decimal(monthly)
    )
    assert (share.days_left, share.term_days) == (days_left, term_days)
    assert share.amount == Decimal(amount)


def test_two_more_licences_for_73_of_365_days():
    charge = added_licences_charge(
        count=2,
        unit_price=Decimal("75.00"),
        term=Term.ANNUAL,
        today=RENEWAL - timedelta(days=73),
        renewal=RENEWAL,
        contract_start=YEAR_START,
    )
    # 2 x $75 x 12 months x 73/365 = $360.00
    assert charge.amount == Decimal("360.00")
    assert (charge.days_left, charge.term_days) == (73, 365)
    assert charge.fraction == Decimal("0.2")


def test_added_licences_cost_the_unit_price_whatever_the_account_has():
    """10 licences at $75 for a whole annual term are $9,000, before and after 10 more."""
    for _ in range(2):
        charge = added_licences_charge(
            count=10,
            unit_price=Decimal("75.00"),
            term=Term.ANNUAL,
            today=YEAR_START,
            renewal=RENEWAL,
            contract_start=YEAR_START,
        )
        assert charge.amount == Decimal("9000.00")


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("0.125", "0.13"), ("0.135", "0.14"), ("0.124", "0.12"), ("2.5", "2.50"), ("0", "0.00")],
)
def test_money_rounds_half_up_to_cents(amount, cents):
    assert to_cents(Decimal(amount)) == Decimal(cents)


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    months=st.integers(min_value=1, max_value=60),
    offset=st.integers(min_value=0, max_value=2000),
    price=st.decimals(min_value=0, max_value=100_000, places=2),
)
def test_within_a_term_the_share_left_is_between_nothing_and_all(start, months, offset, price):
    renewal = add_months(start, months)
    term = term_months(start, renewal)
    term_start = add_months(renewal, -term)
    today = min(term_start + timedelta(days=offset), renewal)
    share = prorate(today=today, renewal=renewal, contract_start=start, monthly_amount=price)
    assert 0 <= share.fraction <= 1
    assert share.days_left + (today - term_start).days == share.term_days
    assert share.amount is not None
    assert Decimal(0) <= share.amount <= to_cents(price * term)
