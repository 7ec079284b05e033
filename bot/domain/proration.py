"""Proration (R9, R13): what is left of the current term, and what added licences
cost so that everything renews on the same day (co-terming). Pure: no clock.

Money is `Decimal`, rounded half up to cents only at the end, so that a rate such as
$750 / 7 licences does not lose cents on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.domain.terms import Term, TermShare, add_months, share_left, to_cents

DEFAULT_TERM_MONTHS = 12


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


@dataclass(frozen=True)
class Proration:
    """The share of the current term left. `amount` is None when the vendor prices
    it (add-ons): then only the days and the fraction are known."""

    days_left: int
    term_days: int
    fraction: Decimal
    amount: Decimal | None


def prorate(
    *,
    today: date,
    renewal: date,
    contract_start: date | None,
    term: Term | None = None,
    monthly_amount: Decimal | None,
) -> Proration:
    """From today (inclusive) to the renewal (exclusive) over the term's days. With
    the account's term the term is the one ending on the renewal date (from the
    renewal before it, bot.domain.terms); without one (an account from before terms
    were stored) it starts `term_months` before the renewal, a year when the start
    is unknown. A renewal today or past leaves nothing."""
    if term is not None and contract_start is not None:
        share = share_left(contract_start=contract_start, term=term, renewal=renewal, today=today)
        months = term.months
    else:
        months = term_months(contract_start, renewal)
        term_days = (renewal - add_months(renewal, -months)).days
        share = TermShare(days_left=max(0, (renewal - today).days), term_days=term_days)
    amount = None
    if monthly_amount is not None:
        amount = to_cents(monthly_amount * months * share.days_left / share.term_days)
    return Proration(
        days_left=share.days_left,
        term_days=share.term_days,
        fraction=share.fraction,
        amount=amount,
    )


def added_licences_charge(
    *,
    count: int,
    unit_price: Decimal,
    term: Term | None,
    today: date,
    renewal: date,
    contract_start: date | None,
) -> Proration:
    """R9: `count` more licences at the unit price for the rest of the term, so all
    licences renew on the same day. The rate is the stored unit price, never the
    monthly total divided by the licences, so a quote does not depend on earlier
    changes."""
    return prorate(
        today=today,
        renewal=renewal,
        contract_start=contract_start,
        term=term,
        monthly_amount=count * unit_price,
    )
