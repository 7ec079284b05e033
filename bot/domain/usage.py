"""Usage reports: months, and when a customer reaches its max-MAU threshold (R20)."""

from __future__ import annotations

import re
from datetime import date

# A month as the usage API takes it: "2026-11".
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits only
FIRST_YEAR = 2000


def parse_month(text: str) -> date | None:
    """The first day of the month written as YYYY-MM, or None if it is not one."""
    match = _MONTH.fullmatch(text)
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    if year < FIRST_YEAR or not 1 <= month <= 12:
        return None
    return date(year, month, 1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def format_month(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def threshold_blocks(threshold: int | None) -> bool:
    """R20: any number blocks, taken literally; None is the choice "never block"."""
    return threshold is not None


def reached_max_mau(before: int, after: int, threshold: int | None) -> bool:
    """R20: the MAU went from below the threshold to at or above it.

    Only the crossing counts, so a report repeating a figure already at or over
    the threshold does not raise the alert a second time."""
    return threshold is not None and before < threshold <= after
