"""Scheduled notices (DOMAIN.md "Notices"): which are due, and the natural key that
makes each one happen once.

Pure rules over dates and numbers. A notice's key is (kind, subject, period): the
subject is what it is about (a customer, a request, or the MSP), the period what
makes it a new notice (the trial's end date and the days-before threshold, the
renewal date, the month and the MAU threshold, the local day of a digest). The
database holds the keys under a unique constraint; only the sweep whose insert
succeeds sends the notice.

After downtime the due notices are still due, but only the latest relevant one
of a series is sent: a trial with 2 days left gets the 3-day notice, not the
7-day one as well; an MSP at 104% of its MAU allowance gets the 100% one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from bot.domain.policy import notice_deadline
from bot.domain.requests import NOTICE_DAYS

DEFAULT_TRIAL_NOTICE_DAYS = (7, 3, 1)
MAX_TRIAL_NOTICE_DAYS = 60
RENEWAL_WARNING_DAYS = 7  # the renewal window notice comes a week before its cut-off
MAU_THRESHOLDS = (80, 100)  # percent of the MSP's MAU allowance
REQUEST_REMINDER_AFTER = timedelta(hours=24)
DIGEST_TIME = time(9, 0)  # the daily digest and the weekly summary, in the MSP's zone
WEEKLY_ON = 0  # Monday (date.weekday())
MSP_SUBJECT = 0  # the subject id of notices about the MSP as a whole


class NoticeKind(StrEnum):
    TRIAL_EXPIRING = "trial_expiring"
    TRIAL_ENDED = "trial_ended"
    RENEWAL_WINDOW = "renewal_window"
    MAU_ALLOWANCE = "mau_allowance"  # 80% or 100% reached
    MAU_PROJECTED = "mau_projected_overage"
    REQUEST_WAITING = "request_waiting"
    MAX_MAU_ALERT = "max_mau_alert"  # raised as the built-in alert, once a month
    DAILY_DIGEST = "daily_digest"
    WEEKLY_SUMMARY = "weekly_summary"


def trial_threshold(days_left: int, thresholds: Sequence[int]) -> int | None:
    """The days-before notice a trial with `days_left` is due (the smallest
    threshold at or above it), or None when it is further off than all of them.
    A trial ending today (0 days left) is in the smallest one."""
    if days_left < 0:
        return None
    fitting = [days for days in thresholds if days >= days_left]
    return min(fitting) if fitting else None


def trial_notice_window(today: date, thresholds: Sequence[int]) -> tuple[date, date]:
    """The trial end dates with a notice due today: from today to the furthest
    threshold (the query's range, which the index on trial_end serves)."""
    return today, today + timedelta(days=max(thresholds))


def parse_trial_notice_days(text: str) -> tuple[int, ...]:
    """`7,3,1` -> (7, 3, 1): distinct whole days from 1 to 60, largest first.
    Raises ValueError with what is wrong."""
    parts = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    if not parts:
        raise ValueError("Give the days before a trial ends, e.g. 7,3,1.")
    days: set[int] = set()
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= MAX_TRIAL_NOTICE_DAYS:
            raise ValueError(
                f"“{part[:10]}” is not a number of days from 1 to {MAX_TRIAL_NOTICE_DAYS} "
                "(e.g. 7,3,1)."
            )
        days.add(int(part))
    return tuple(sorted(days, reverse=True))


def renewal_window_due(today: date, renewal: date) -> bool:
    """The last week before the 30-day cut-off (R10, R12-R14): the final days to ask
    for a licence decrease, a downgrade or a cancellation at this renewal."""
    deadline = notice_deadline(renewal)
    return deadline - timedelta(days=RENEWAL_WARNING_DAYS) <= today <= deadline


def renewal_window_range(today: date) -> tuple[date, date]:
    """The renewal dates whose window notice is due today (the query's range): the
    same condition as `renewal_window_due`, solved for the renewal date."""
    first = today + timedelta(days=NOTICE_DAYS)
    return first, first + timedelta(days=RENEWAL_WARNING_DAYS)


def mau_threshold_reached(mau: int, allowance: int) -> int | None:
    """The highest MAU threshold (percent of the allowance) this month's MAU has
    reached, or None. No allowance, no notice (there is nothing to measure)."""
    if allowance <= 0:
        return None
    reached = [percent for percent in MAU_THRESHOLDS if mau * 100 >= allowance * percent]
    return max(reached) if reached else None


def digest_day(local_now: datetime) -> date | None:
    """The local day whose daily digest is due at `local_now` (aware, in the MSP's
    zone), or None before 09:00. Wall-clock time, so DST changes move nothing."""
    return local_now.date() if local_now.time() >= DIGEST_TIME else None


def weekly_period(local_now: datetime) -> str | None:
    """The ISO week (`2026-W49`) whose summary is due: on Monday from 09:00 to the
    day's end. Not later in the week: a bot installed on a Thursday should not
    open with a summary of a week it did not see (a Monday lost to downtime
    loses that week's summary; the daily digests still come)."""
    day = local_now.date()
    if day.weekday() != WEEKLY_ON or local_now.time() < DIGEST_TIME:
        return None
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class Week:
    """Seven local days, Monday to Sunday: what a weekly summary is about."""

    first: date  # the Monday

    @property
    def last(self) -> date:
        return self.first + timedelta(days=6)

    @property
    def end(self) -> date:
        """The Monday after it: the week runs up to that day's midnight."""
        return self.first + timedelta(days=7)


def summary_weeks(today: date) -> tuple[Week, Week]:
    """The week a summary sent on `today` is about (the last whole week, Monday to
    Sunday, before it) and the week before that, which it is compared with."""
    this_monday = today - timedelta(days=today.weekday())
    ended = Week(this_monday - timedelta(days=7))
    return ended, Week(ended.first - timedelta(days=7))
