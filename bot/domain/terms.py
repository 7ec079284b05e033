"""Paid terms: a paid account has a contract start, a term (monthly or annual), a
renewal date anchored to the contract start's day of the month, and a price per
licence a month. Pure: no clock, no storage.

Renewal n falls on contract start + n terms, computed from the contract start and
never from the previous renewal, so a contract starting on the 31st renews on the
last day of shorter months and on the 31st again afterwards (never drifting to the
28th), and an annual contract starting on 29 February renews on 28 February in
other years and on the 29th in leap years.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from bot.errors import InvalidInput
from bot.sentences import sentence

CENT = Decimal("0.01")
# How far back a contract start may be typed: terms roll forward from it.
MAX_CONTRACT_AGE_YEARS = 30


class Term(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return 1 if self is Term.MONTHLY else 12

    @property
    def label(self) -> str:
        return "Monthly" if self is Term.MONTHLY else "Annual"

    @property
    def a_term(self) -> str:
        """For a sentence's start: "A monthly", "An annual"."""
        return "A monthly" if self is Term.MONTHLY else "An annual"


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (or earlier), on the month's last day
    when it is shorter: 2028-02-29 + 12 -> 2029-02-28, 2027-01-31 + 1 -> 2027-02-28."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def renewal_number(contract_start: date, term: Term, n: int) -> date:
    """The n-th renewal date of the contract (n = 0 is the contract start)."""
    return add_months(contract_start, n * term.months)


def next_renewal(contract_start: date, term: Term, after: date) -> date:
    """The first renewal date of the contract strictly after `after`."""
    months = (after.year - contract_start.year) * 12 + after.month - contract_start.month
    n = max(1, months // term.months)
    while n > 1 and renewal_number(contract_start, term, n - 1) > after:
        n -= 1
    while renewal_number(contract_start, term, n) <= after:
        n += 1
    return renewal_number(contract_start, term, n)


def previous_renewal(contract_start: date, term: Term, before: date) -> date:
    """The last renewal date of the contract (or its start) strictly before `before`."""
    months = (before.year - contract_start.year) * 12 + before.month - contract_start.month
    n = max(0, months // term.months + 1)
    while n > 0 and renewal_number(contract_start, term, n) >= before:
        n -= 1
    return renewal_number(contract_start, term, n)


def term_start(contract_start: date, term: Term, renewal: date) -> date:
    """The day the term ending on `renewal` began: the renewal before it, or the
    contract start. A renewal date off the contract's anchor (set by hand) is
    taken as ending a whole term."""
    previous = previous_renewal(contract_start, term, renewal)
    if previous < renewal and next_renewal(contract_start, term, previous) == renewal:
        return previous
    return add_months(renewal, -term.months)


def check_contract_start(start: date, *, today: date, field: str) -> date:
    """A contract start is a day that has come (today at the latest), within
    MAX_CONTRACT_AGE_YEARS: a contract that has not started yet is not added."""
    if start > today:
        raise InvalidInput(
            sentence("The contract start cannot be in the future (today is {today}).", today=today),
            field=field,
        )
    if start < add_months(today, -12 * MAX_CONTRACT_AGE_YEARS):
        raise InvalidInput(
            f"The contract start can be at most {MAX_CONTRACT_AGE_YEARS} years ago.", field=field
        )
    return start


def parse_term(text: str | None, *, field: str) -> Term:
    cleaned = (text or "").strip().casefold()
    try:
        return Term(cleaned)
    except ValueError:
        raise InvalidInput("The term is monthly or annual.", field=field) from None


def to_cents(amount: Decimal) -> Decimal:
    """The one rounding rule for money: exact until the end, then half up to cents."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class TermShare:
    """What is left of the term: from today (inclusive) to the renewal (exclusive)."""

    days_left: int
    term_days: int

    @property
    def fraction(self) -> Decimal:
        return Decimal(self.days_left) / Decimal(self.term_days)


def share_left(*, contract_start: date, term: Term, renewal: date, today: date) -> TermShare:
    start = term_start(contract_start, term, renewal)
    term_days = max(1, (renewal - start).days)
    return TermShare(days_left=min(term_days, max(0, (renewal - today).days)), term_days=term_days)


def licences_quote(*, unit_price: Decimal, count: int, term: Term, share: TermShare) -> Decimal:
    """R9: `count` licences at the unit price for what is left of the term, so they
    renew with the others: unit price x count x months of the term x days left /
    days of the term, rounded once, half up to the cent."""
    return to_cents(unit_price * count * term.months * share.days_left / share.term_days)


@dataclass(frozen=True, slots=True)
class PaidTerm:
    term: Term
    contract_start: date
    renewal_date: date


def paid_term(
    *,
    term: Term | None,
    contract_start: date | None,
    renewal: date | None,
    today: date,
    fields: tuple[str, str],
) -> PaidTerm:
    """The term of a paid account being added, from what was typed (annual unless
    told). With a contract start the renewal date follows from it, and one typed too
    must be that date; with only a renewal date the contract is taken to start whole
    terms before it, on or before today. `fields` names the contract start's and the
    renewal date's fields for the errors."""
    term = term or Term.ANNUAL
    start_field, renewal_field = fields
    if contract_start is not None:
        start = check_contract_start(contract_start, today=today, field=start_field)
        expected = next_renewal(start, term, today)
        if renewal is not None and renewal != expected:
            raise InvalidInput(
                sentence(
                    "{term} contract starting on {start} renews on {expected}: leave the "
                    "renewal date empty or make it that date.",
                    term=term.a_term,
                    start=start,
                    expected=expected,
                ),
                field=renewal_field,
            )
        return PaidTerm(term=term, contract_start=start, renewal_date=expected)
    if renewal is None:
        return PaidTerm(
            term=term, contract_start=today, renewal_date=next_renewal(today, term, today)
        )
    start = add_months(renewal, -term.months)
    terms = 1
    while start > today:
        terms += 1
        start = add_months(renewal, -term.months * terms)
    return PaidTerm(term=term, contract_start=start, renewal_date=renewal)
