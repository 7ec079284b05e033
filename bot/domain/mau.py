"""Monthly active users (MAU) maths, R19: months, overage, the allowance each past
month had, percentage used and the month-end estimate. Pure: no I/O, no clock.

A month is represented by its first day (`date(2026, 11, 1)`), as in the
`customer_usage` table. An allowance of 0 means none had been bought yet: that
month's MAU is plain usage, never overage.
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
# Not calendar.month_abbr, which follows the process locale: the bot's wording is English.
_MONTH_ABBREVIATIONS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip


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


def month_key(month: date) -> str:
    """`2026-11`, for machines (button values, block ids, file names): it sorts and
    parses back. People are shown `readable_month`."""
    return f"{month.year:04d}-{month.month:02d}"


def readable_month(month: date, *, to_date: bool = False) -> str:
    """`Nov 2026`: how a month is shown to a person, everywhere (tables, menus, chart
    axes, sentences). `to_date` marks the month still in progress, whose figures are
    only partial: `Nov 2026 (to date)`."""
    label = f"{_MONTH_ABBREVIATIONS[month.month - 1]} {month.year}"
    return f"{label} (to date)" if to_date else label


def parse_month_key(text: str) -> date | None:
    """`2026-11` -> date(2026, 11, 1); anything else -> None."""
    match = _LABEL.match(text.strip())
    if match is None:
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)


# ---------------------------------------------------------------- allowance and usage


def has_allowance(allowance: int) -> bool:
    """Whether an allowance had been bought (0: none yet, the column's default)."""
    return allowance > 0


def overage(mau: int, allowance: int) -> int:
    """R19: the MAU above the allowance, never negative. Without an allowance (a
    month before the first was bought) there is nothing to be over: plain usage."""
    if not has_allowance(allowance):
        return 0
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


# ---------------------------------------------------------------- the month-end estimate

# Before this day of the month there is no estimate, and so no warning of overage:
# a few days' pace, multiplied by three or more, says more about which customers
# reported first than about the month. From day 10 a month is a third gone.
ESTIMATE_FROM_DAY = 10


@dataclass(frozen=True, slots=True)
class Projection:
    """This month's MAU so far and the month-end estimate made from it, against the
    allowance (0: none). The one computation the licence view, `/msp mau`, the chart,
    the dashboard and the MAU notice all show, in the words of `sentence`."""

    mau_to_date: int
    days_elapsed: int  # today counts: usage reports during the day already include it
    days_in_month: int
    allowance: int = 0

    @property
    def ready(self) -> bool:
        """Whether enough of the month has gone for an estimate to mean something."""
        return self.days_elapsed >= min(ESTIMATE_FROM_DAY, self.days_in_month)

    @property
    def month_end(self) -> int | None:
        """The estimate: the pace so far kept up to the month's last day (None before
        `ESTIMATE_FROM_DAY`)."""
        if not self.ready:
            return None
        if self.days_elapsed >= self.days_in_month:
            return self.mau_to_date
        # Rounded half up, in integers: no float surprises on large numbers.
        numerator = self.mau_to_date * self.days_in_month
        return (2 * numerator + self.days_elapsed) // (2 * self.days_elapsed)

    @property
    def projected_overage(self) -> int:
        """The estimate above the allowance: 0 without an estimate or an allowance."""
        estimate = self.month_end
        return 0 if estimate is None else overage(estimate, self.allowance)

    @property
    def warns(self) -> bool:
        """Whether to warn of overage by the month's end: only once there is an
        estimate, an allowance, and the estimate is above it."""
        return self.projected_overage > 0

    @property
    def sentence(self) -> str:
        """The estimate in words a person can check, the same wherever it is shown
        (plain text: escape it for mrkdwn)."""
        estimate = self.month_end
        if estimate is None:
            return (
                f"No month-end estimate before day {ESTIMATE_FROM_DAY} of the month: "
                f"{self.mau_to_date:,} active users in {_days(self.days_elapsed)} so far "
                "are too few to go on."
            )
        said = (
            f"Estimate: at this month's pace so far ({self.mau_to_date:,} active users in "
            f"{self.days_elapsed:,} of {self.days_in_month:,} days), about {estimate:,} by "
            "the end of the month"
        )
        if not has_allowance(self.allowance):
            return f"{said}."
        if self.warns:
            return f"{said}, {self.projected_overage:,} over the allowance of {self.allowance:,}."
        return f"{said}, within the allowance of {self.allowance:,}."


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count:,} days"


def project_month_end(mau_to_date: int, *, today: date, allowance: int = 0) -> Projection:
    """Assume the rest of the month goes on as the days so far (today counts as
    elapsed: usage reports during the day already include it)."""
    return Projection(
        mau_to_date=mau_to_date,
        days_elapsed=today.day,
        days_in_month=days_in_month(today),
        allowance=allowance,
    )


# ---------------------------------------------------------------- allowance orders


def parse_order_quantity(text: str | None, *, field: str) -> int:
    """The quantity typed in the order form: a whole number from 1 to 10,000,000."""
    return parse_whole_number(
        text, field=field, what="quantity", minimum=1, maximum=MAX_ORDER_QUANTITY
    )


def allowance_cap_refusal(allowance: int) -> str:
    return f"The allowance can be at most {MAX_ALLOWANCE:,} MAU; it is {allowance:,} now."
