"""What a scheduled notice says (trials, renewals, MAU, reminders, digests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.mau import Projection
from bot.domain.notices import NoticeKind
from bot.results.dashboard import Dashboard
from bot.results.requests import RequestInfo


@dataclass(frozen=True, slots=True)
class NoticeInfo:
    """What a notice says; the view (bot/views/scheduled.py) words it."""

    kind: NoticeKind
    customer_id: int | None = None
    customer_name: str = ""
    account_number: str = ""
    day: date | None = None  # the trial's end, the renewal date, the digest's day
    days_left: int | None = None
    users: int | None = None
    percent: int | None = None  # the MAU threshold reached
    mau: int | None = None
    allowance: int | None = None
    projection: Projection | None = None
    request: RequestInfo | None = None
    board: Dashboard | None = None
    period: str = ""
