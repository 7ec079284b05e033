"""Paid terms (bot/domain/terms.py): renewals anchored to the contract's day of the
month, and quotes for added licences that never drift."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.terms import (
    Term,
    TermShare,
    check_contract_start,
    licences_quote,
    next_renewal,
    previous_renewal,
    share_left,
    term_start,
)
from bot.errors import InvalidInput

starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))
terms = st.sampled_from(list(Term))


def _expected_day(start: date, year: int, month: int) -> int:
    return min(start.day, calendar.monthrange(year, month)[1])


def test_a_contract_starting_on_the_31st_renews_on_month_ends_and_comes_back_to_the_31st() -> None:
    start = date(2027, 1, 31)
    renewals = []
    day = start
    for _ in range(4):
        day = next_renewal(start, Term.MONTHLY, day)
        renewals.append(day)
    assert renewals == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]
    assert next_renewal(date(2028, 1, 31), Term.MONTHLY, date(2028, 1, 31)) == date(2028, 2, 29)


def test_an_annual_contract_starting_on_29_february_renews_on_the_29th_in_leap_years() -> None:
    start = date(2028, 2, 29)
    assert next_renewal(start, Term.ANNUAL, start) == date(2029, 2, 28)
    assert next_renewal(start, Term.ANNUAL, date(2031, 2, 28)) == date(2032, 2, 29)


@given(start=starts, term=terms, offset=st.integers(min_value=-40, max_value=12_000))
def test_the_next_renewal_is_on_the_anchor_day_and_within_one_term(
    start: date, term: Term, offset: int
) -> None:
    after = start + timedelta(days=offset)
    renewal = next_renewal(start, term, after)
    assert renewal > after
    assert renewal.day == _expected_day(start, renewal.year, renewal.month)
    months = (renewal.year - start.year) * 12 + renewal.month - start.month
    assert months > 0 and months % term.months == 0
    # No renewal of the contract is skipped between `after` and the one returned.
    previous = previous_renewal(start, term, renewal)
    assert previous <= after or previous == start
    assert term_start(start, term, renewal) == previous


@given(start=starts, term=terms, count=st.integers(min_value=1, max_value=200))
def test_rolling_term_after_term_never_drifts(start: date, term: Term, count: int) -> None:
    renewal = start
    for _ in range(count):
        renewal = next_renewal(start, term, renewal)
    months = count * term.months
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    assert renewal == date(year, month + 1, _expected_day(start, year, month + 1))


def test_a_renewal_date_off_the_anchor_ends_a_whole_term() -> None:
    assert term_start(date(2026, 3, 3), Term.ANNUAL, date(2027, 1, 15)) == date(2026, 1, 15)


@given(
    unit=st.integers(min_value=0, max_value=1_000_000).map(lambda c: Decimal(c) / 100),
    steps=st.lists(st.integers(min_value=-500, max_value=500), min_size=1, max_size=12),
    term=terms,
    days_left=st.integers(min_value=0, max_value=366),
)
def test_every_quote_is_unit_price_times_count_times_the_share_left(
    unit: Decimal, steps: list[int], term: Term, days_left: int
) -> None:
    share = TermShare(days_left=min(days_left, 365), term_days=365)
    licences = 10
    for step in steps:
        if step > 0:
            quote = licences_quote(unit_price=unit, count=step, term=term, share=share)
            exact = unit * step * term.months * share.days_left / share.term_days
            assert abs(quote - exact) <= Decimal("0.005")
            licences += step
        else:
            licences = max(1, licences + step)
    # The rate never depends on how many licences the account has.
    assert licences_quote(unit_price=unit, count=10, term=term, share=share) == licences_quote(
        unit_price=unit, count=10, term=term, share=share
    )


def test_ten_more_licences_cost_the_same_however_many_the_account_has() -> None:
    share = share_left(
        contract_start=date(2027, 1, 1),
        term=Term.ANNUAL,
        renewal=date(2028, 1, 1),
        today=date(2027, 1, 1),
    )
    quote = licences_quote(unit_price=Decimal("75"), count=10, term=Term.ANNUAL, share=share)
    assert quote == Decimal("9000.00")


def test_a_contract_start_in_the_future_is_refused_on_its_field() -> None:
    today = date(2027, 5, 1)
    assert check_contract_start(today, today=today, field="start") == today
    with pytest.raises(InvalidInput) as refused:
        check_contract_start(today + timedelta(days=1), today=today, field="start")
    assert refused.value.field == "start"
