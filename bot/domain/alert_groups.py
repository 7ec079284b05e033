"""Alert groups: alerts that keep coming for the same customer (and, if a
subscription asks, of the same kind) are threaded under one message instead of
each taking a place in the channel.

A group stays open while alerts keep arriving: each one that comes within the
window of the group's latest joins it, so a slow storm (an alert every few
seconds for an hour) is one message with a thread, not hundreds of posts. Pure:
what a group is keyed by, and when a new alert still belongs to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.errors import InvalidInput


class GroupBy(StrEnum):
    CUSTOMER = "customer"  # every alert of a customer
    KIND = "kind"  # a customer's alerts of one kind
    OFF = "off"  # every alert is a message of its own


DEFAULT_GROUP_BY = GroupBy.CUSTOMER
DEFAULT_WINDOW_MINUTES = 5
MAX_WINDOW_MINUTES = 60
_MINUTES = re.compile(r"^([0-9]{1,3})\s*(m|min|mins|minutes?)?$")
_GROUP_WORDS = frozenset(by.value for by in GroupBy)
GROUPING_EXAMPLE = "group=kind, group=10m, group=kind,10m or group=off"


@dataclass(frozen=True, slots=True)
class Grouping:
    """How a subscription groups its alerts."""

    by: GroupBy = DEFAULT_GROUP_BY
    minutes: int = DEFAULT_WINDOW_MINUTES

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.minutes)

    def describe(self) -> str:
        """For lists: nothing for the default, so only a changed setting is shown."""
        if self.by is GroupBy.OFF:
            return "not grouped"
        if self == DEFAULT_GROUPING:
            return ""
        by = "customer and kind" if self.by is GroupBy.KIND else "customer"
        return f"grouped by {by} within {self.minutes} min"


DEFAULT_GROUPING = Grouping()


def parse_grouping(value: str, *, field: str | None = None) -> Grouping:
    """`kind`, `customer`, `off`, `10m`, or a grouping and a window: `kind,10m`."""
    by, minutes = DEFAULT_GROUP_BY, DEFAULT_WINDOW_MINUTES
    parts = [part.strip().lower() for part in value.split(",")]
    if not parts or len(parts) > 2 or not all(parts):
        raise _invalid(value, field)
    seen_by = seen_minutes = False
    for part in parts:
        if part in _GROUP_WORDS and not seen_by:
            by, seen_by = GroupBy(part), True
            continue
        match = _MINUTES.match(part)
        if match is None or seen_minutes:
            raise _invalid(value, field)
        minutes, seen_minutes = int(match[1]), True
        if not 1 <= minutes <= MAX_WINDOW_MINUTES:
            raise InvalidInput(
                f"Group alerts within 1 to {MAX_WINDOW_MINUTES} minutes, not {minutes}.",
                field=field,
            )
    if by is GroupBy.OFF and seen_minutes:
        raise InvalidInput("group=off takes no window: alerts are not grouped.", field=field)
    return Grouping(by, minutes)


def _invalid(value: str, field: str | None) -> InvalidInput:
    return InvalidInput(
        f"“{value[:40]}” is not a way to group alerts; use {GROUPING_EXAMPLE}.", field=field
    )


def group_key(grouping: Grouping, *, customer_id: int | None, kind: str) -> str | None:
    """What alerts of one group share; None when the subscription does not group."""
    if grouping.by is GroupBy.OFF:
        return None
    customer = f"c{customer_id or 0}"
    return f"{customer}{_KIND_MARK}{kind}"[:200] if grouping.by is GroupBy.KIND else customer


def kind_of_key(key: str) -> str | None:
    """The kind a group's alerts share, when it groups by kind."""
    _customer, mark, kind = key.partition(_KIND_MARK)
    return kind if mark else None


_KIND_MARK = ":k:"


def still_open(last_at: datetime, now: datetime, grouping: Grouping) -> bool:
    """A group takes a new alert while its latest one is at most a window old."""
    return now - last_at <= grouping.window
