"""Outbound delivery as admins see it: the queue, what went out and what failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    key: str
    kind: str
    lane: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    queued: int
    oldest_age_seconds: float | None
    last_day: dict[str, int]  # status -> count
    failed_by_reason: dict[str, int]  # last 7 days
    recent_failures: list[FailedDelivery]
