"""Subscriptions as people list them, and the normal form they are stored in."""

from __future__ import annotations

from dataclasses import dataclass, fields

from bot.domain.alert_groups import (
    DEFAULT_GROUP_BY,
    DEFAULT_WINDOW_MINUTES,
    GroupBy,
    Grouping,
)


@dataclass(frozen=True, slots=True)
class SubscriptionList:
    rows: list[SubscriptionRow]
    can_subscribe_channels: bool
    everyone: bool  # the MSP's subscriptions, not only the person's own


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """A subscription as people read it: its customers also by name."""

    id: int
    filters: SubscriptionFilters
    included: tuple[str, ...]
    excluded: tuple[str, ...]
    created_by: str
    can_remove: bool


@dataclass(frozen=True, slots=True)
class SubscriptionFilters:
    """A subscription's columns in a normal form (lists sorted), to store and to
    compare with the stored ones; customers by id."""

    target: str
    target_kind: str
    topics: tuple[str, ...]
    min_severity: str | None
    customers_included: tuple[int, ...]
    customers_excluded: tuple[int, ...]
    kinds: tuple[str, ...]
    quiet_start: str | None
    quiet_end: str | None
    quiet_timezone: str | None  # the person's zone; None: the MSP's
    group_by: str = DEFAULT_GROUP_BY.value  # alerts: how they are threaded together
    group_minutes: int = DEFAULT_WINDOW_MINUTES

    @property
    def grouping(self) -> Grouping:
        return Grouping(GroupBy(self.group_by), self.group_minutes)

    def columns(self) -> dict[str, object]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in ((f.name, getattr(self, f.name)) for f in fields(self))
        }
