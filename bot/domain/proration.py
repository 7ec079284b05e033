"""Proration (R9, R13): what is left of the current term, and what added licences
cost so that everything renews on the same day (co-terming). Pure: no clock.

Money is `Decimal`, rounded half up to cents only at the end, so that a rate such as
$750 / 7 licences does not lose cents on the way.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

DEFAULT_TERM_MONTHS = 12
CENT = Decimal("0.01")


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (or earlier), on the month's last day
    when it is shorter: 2028-02-29 + 12 -> 2029-02-28, 2027-01-31 + 1 -> 2027-02-28."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def term_months(contract_start: date | None, renewal: date) -> int:
    """Whole months from the contract start to the renewal date: the most `n` with
    contract start + n months on or before the renewal. A yearly term when the
    start is unknown or not before the renewal."""
    if contract_start is None:
        return DEFAULT_TERM_MONTHS
    months = (renewal.year - contract_start.year) * 12 + renewal.month - contract_start.month
    if add_months(contract_start, months) > renewal:
        months -= 1
    return months if months > 0 else DEFAULT_TERM_MONTHS


def next_renewal(renewal: date, term: int) -> date:
    return add_months(renewal, term)


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Proration:
    """The share of the current term left. `amount` is None when the vendor prices
    it (add-ons): then only the days and the fraction are known."""

    days_left: int
    term_days: int
    fraction: Decimal
    amount: Decimal | None


def prorate(
    *, today: date, renewal: date, contract_start: date | None, monthly_amount: Decimal | None
) -> Proration:
    """From today (inclusive) to the renewal (exclusive) over the term's days, the
    term starting `term_months` before the renewal. A renewal today or past leaves
    nothing. With no contract start the term is taken as a year; a renewal further
    away than that gives a fraction above 1, which still charges the months left."""
    term = term_months(contract_start, renewal)
    term_days = (renewal - add_months(renewal, -term)).days
    days_left = max(0, (renewal - today).days)
    amount = None
    if monthly_amount is not None:
        amount = to_cents(monthly_amount * term * days_left / term_days)
    return Proration(
        days_left=days_left,
        term_days=term_days,
        fraction=Decimal(days_left) / Decimal(term_days),
        amount=amount,
    )


def licence_rate(monthly_price: Decimal, licences: int) -> Decimal:
    """What one licence costs a month at the customer's current price. Not rounded:
    the charge built from it is."""
    return monthly_price / max(licences, 1)


def added_licences_charge(
    *,
    count: int,
    monthly_price: Decimal,
    licences: int,
    today: date,
    renewal: date,
    contract_start: date | None,
) -> Proration:
    """R9: `count` more licences at the current rate for the rest of the term, so all
    licences renew on the same day."""
    return prorate(
        today=today,
        renewal=renewal,
        contract_start=contract_start,
        monthly_amount=count * licence_rate(monthly_price, licences),
    )
