"""An alert as its messages, lists and the dashboard show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.alerts import AlertLink, AlertStatus, Severity


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
