"""An alert as its messages, lists and the dashboard show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.alerts import ACTION_FROM, AlertAction, AlertLink, AlertStatus, Severity
from bot.payloads import AlertQuery


@dataclass(frozen=True, slots=True)
class AlertInfo:
    """An alert as its messages show it."""

    id: int
    customer_id: int | None
    customer_name: str
    kind: str
    severity: Severity
    title: str
    details: str
    status: AlertStatus
    occurrences: int
    last_seen_at: datetime
    links: tuple[AlertLink, ...]
    acknowledged_by: str | None
    snoozed_until: datetime | None
    snoozed_by: str | None = None
    resolved_by: str | None = None
    reopened: int = 0  # how many times this key was resolved before this alert


@dataclass(frozen=True, slots=True)
class AlertGroupSummary:
    """What a group's parent message says of the alerts threaded under it."""

    count: int  # the parent's alert included
    worst: Severity
    last_at: datetime
    kind: str | None = None  # the kind they share, when grouped by kind


@dataclass(frozen=True, slots=True)
class AlertListing:
    """A page of `/msp alerts`: the rows, and how many match by severity and status."""

    alerts: list[AlertInfo]
    counts: dict[tuple[str, str], int]  # (severity, status) -> how many match
    query: AlertQuery
    customer_name: str | None  # the customer asked about, if any
    page_size: int
    can_act: bool  # the person may acknowledge and resolve (not a viewer)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def by_severity(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (severity, _status), count in self.counts.items():
            totals[severity] = totals.get(severity, 0) + count
        return totals

    def movable(self, action: AlertAction) -> int:
        """How many of the matching alerts that action would change."""
        return sum(
            count
            for (_severity, status), count in self.counts.items()
            if status in {moved.value for moved in ACTION_FROM[action]}
        )


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    action: AlertAction
    changed: int
