"""What a scheduled notice says (trials, renewals, MAU, reminders, digests, the
weekly summary)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.mau import Projection
from bot.domain.notices import NoticeKind
from bot.results.dashboard import Dashboard
from bot.results.requests import RequestInfo


@dataclass(frozen=True, slots=True)
class Compared:
    """One figure of the week just ended, and the same figure of the week before."""

    week: int
    week_before: int


@dataclass(frozen=True, slots=True)
class MauWeek:
    """The MSP's monthly active users as the usage reports had them at the week's end.
    A month-to-date figure only compares with the same month's: when a month began
    during the week there is no "a week ago", only what the month before reached."""

    month: date  # the month of the week's last day (its first day)
    at_end: int  # that month's MAU by the week's end
    week_ago: int | None  # the same month's a week earlier; None: the month began this week
    month_before: int | None  # what the previous month reached; None: the same month


@dataclass(frozen=True, slots=True)
class WeeklySummary:
    """What changed over a week (Monday to Sunday in the MSP's zone), each figure
    with the week before's."""

    first_day: date  # the week's Monday
    last_day: date  # its Sunday
    new_customers: Compared
    trials_converted: Compared  # a trial (active or expired) moved to a paid plan
    trials_lost: Compared  # an active trial that ended, or was removed, unconverted
    alerts_opened: Compared
    alerts_resolved: Compared
    requests_approved: Compared
    requests_denied: Compared
    requests_waiting: Compared  # undecided at each week's end
    mau: MauWeek
    # The MSP's first day (in its zone) when it came after the week before began and
    # nothing was recorded in that week: its noughts are no comparison.
    installed_on: date | None = None

    @property
    def compared(self) -> bool:
        return self.installed_on is None

    @property
    def events(self) -> tuple[Compared, ...]:
        """What happens in a week, as against what merely stands (requests waiting)."""
        return (
            self.new_customers,
            self.trials_converted,
            self.trials_lost,
            self.alerts_opened,
            self.alerts_resolved,
            self.requests_approved,
            self.requests_denied,
        )


@dataclass(frozen=True, slots=True)
class NoticeInfo:
    """What a notice says; the view (bot/views/scheduled.py) words it."""

    kind: NoticeKind
    customer_id: int | None = None
    customer_name: str = ""
    account_number: str = ""
    day: date | None = None  # the trial's last day, the renewal date, the digest's day
    days_left: int | None = None  # R4: a trial's active days left, today included
    users: int | None = None
    percent: int | None = None  # the MAU threshold reached
    mau: int | None = None
    allowance: int | None = None
    projection: Projection | None = None
    request: RequestInfo | None = None
    board: Dashboard | None = None  # the daily digest's figures
    week: WeeklySummary | None = None  # the weekly summary's
    period: str = ""


@dataclass(frozen=True, slots=True)
class CustomerNotice:
    """A notice about one customer (a trial ending or ended, a renewal window) as a
    busy conversation's digest lists it, read back from the message it was merged
    from: enough for a row with the notice's next steps."""

    kind: NoticeKind
    customer_id: int
    customer_name: str
    account_number: str
    day: date  # the trial's last day, or the renewal date
    days_left: int | None  # a trial ending: its days left when the notice was sent
    users: int
