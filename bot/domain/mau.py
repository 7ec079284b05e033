"""Monthly active users (MAU) maths, R19: months, overage, the allowance each past
month had, percentage used and the month-end projection. Pure: no I/O, no clock.

A month is represented by its first day (`date(2026, 11, 1)`), as in the
`customer_usage` table.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.domain.customers import parse_whole_number

HISTORY_MONTHS = 12
MAX_ORDER_QUANTITY = 10_000_000
# The allowance is a 32-bit integer column; stay well below its 2,147,483,647.
MAX_ALLOWANCE = 2_000_000_000
_LABEL = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


# ---------------------------------------------------------------- months


def month_start(day: date) -> date:
    """The month `day` falls in, as its first day."""
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after (or before) `month`'s."""
    index = month.year * 12 + (month.month - 1) + count
    return date(index // 12, index % 12 + 1, 1)


def days_in_month(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def month_end(month: date) -> date:
    """The last day of `month`'s month."""
    return month.replace(day=days_in_month(month))


def last_months(today: date, count: int = HISTORY_MONTHS) -> list[date]:
    """The `count` months ending with `today`'s, oldest first."""
    current = month_start(today)
    return [add_months(current, offset) for offset in range(1 - count, 1)]


def month_label(month: date) -> str:
    """`2026-11`: sorts, and reads the same in every locale."""
    return f"{month.year:04d}-{month.month:02d}"


def month_name(month: date) -> str:
    """`November 2026`, for headings."""
    return f"{calendar.month_name[month.month]} {month.year}"


def parse_month_label(text: str) -> date | None:
    """`2026-11` -> date(2026, 11, 1); anything else -> None."""
    match = _LABEL.match(text.strip())
    if match is None:
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)


# ---------------------------------------------------------------- allowance and usage


def overage(mau: int, allowance: int) -> int:
    """R19: the MAU above the allowance, never negative."""
    return max(0, mau - allowance)


def percent_used(mau: int, allowance: int) -> float | None:
    """How much of the allowance is used, in percent; None without an allowance."""
    if allowance <= 0:
        return None
    return mau * 100 / allowance


@dataclass(frozen=True, slots=True)
class AllowanceChange:
    """An allowance order, as the history needs it: the day it was made (in the
    MSP's time zone) and the allowance before and after."""

    day: date
    before: int
    after: int


def allowance_by_month(
    months: Sequence[date],
    changes: Sequence[AllowanceChange],
    *,
    current: int,
    current_month: date,
) -> list[int]:
    """The allowance of each month in `months`.

    A past month had the allowance after the last order made on or before its last
    day; a month before the first order had that order's allowance before; with no
    orders it had the current allowance. From `current_month` on the current
    allowance applies: it is what is true now, the orders only explain the past.
    `changes` must be in the order they were made (ties on a day keep that order).
    """
    ordered = sorted(changes, key=lambda change: change.day)
    return [
        current if month_start(month) >= current_month else _allowance_in(month, ordered, current)
        for month in months
    ]


def _allowance_in(month: date, ordered: Sequence[AllowanceChange], current: int) -> int:
    if not ordered:
        return current
    last_day = month_end(month)
    made = [change for change in ordered if change.day <= last_day]
    return made[-1].after if made else ordered[0].before


@dataclass(frozen=True, slots=True)
class Projection:
    """A linear month-end projection from the month to date."""

    mau_to_date: int
    days_elapsed: int
    days_in_month: int

    @property
    def month_end(self) -> int:
        if self.days_elapsed >= self.days_in_month:
            return self.mau_to_date
        # Rounded half up, in integers: no float surprises on large numbers.
        numerator = self.mau_to_date * self.days_in_month
        return (2 * numerator + self.days_elapsed) // (2 * self.days_elapsed)

    @property
    def explanation(self) -> str:
        """How the number was reached, in words a person can check."""
        if self.days_elapsed >= self.days_in_month:
            return f"The month is complete: {self.mau_to_date:,} MAU."
        return (
            f"Projected linearly from the month to date: {self.mau_to_date:,} MAU in "
            f"{self.days_elapsed} of {self.days_in_month} days, so {self.mau_to_date:,} "
            f"÷ {self.days_elapsed} days, times {self.days_in_month} days ≈ {self.month_end:,}."
        )


def project_month_end(mau_to_date: int, *, today: date) -> Projection:
    """Assume the rest of the month goes on as the days so far (today counts as
    elapsed: usage reports during the day already include it)."""
    return Projection(
        mau_to_date=mau_to_date,
        days_elapsed=today.day,
        days_in_month=days_in_month(today),
    )


# ---------------------------------------------------------------- allowance orders


def parse_order_quantity(text: str | None, *, field: str) -> int:
    """The quantity typed in the order form: a whole number from 1 to 10,000,000."""
    return parse_whole_number(
        text, field=field, what="quantity", minimum=1, maximum=MAX_ORDER_QUANTITY
    )


def allowance_cap_refusal(allowance: int) -> str:
    return f"The allowance can be at most {MAX_ALLOWANCE:,} MAU; it is {allowance:,} now."
