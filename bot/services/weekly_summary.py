"""The weekly summary: what changed over the week just ended (Monday to Sunday in the
MSP's zone), each figure beside the week before's. Customers added, trials converted
and lost, monthly active users, alerts opened and resolved, requests decided and
waiting, from what the audit log, the alerts, the requests and the usage reports
already record: a few aggregate queries for both weeks at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.customers import Status
from bot.domain.notices import Week, summary_weeks
from bot.domain.requests import RequestStatus
from bot.domain.usage import format_month, month_of
from bot.results.notices import Compared, MauWeek, WeeklySummary
from bot.services.audit import AuditAction
from storage.repositories import weekly as weekly_repo
from storage.repositories.weekly import Lifecycle, Span

_LIFECYCLE = Lifecycle(
    entity_type="customer",
    created=AuditAction.CUSTOMER_CREATED.value,
    # The changes that record a status before and after: the rules' and requests'
    # updates (R4's end of a trial among them) and deletions.
    changed=(AuditAction.CUSTOMER_UPDATED.value, AuditAction.CUSTOMER_DELETED.value),
    trials=(Status.ACTIVE_TRIAL.value, Status.EXPIRED_TRIAL.value),
    active_trial=Status.ACTIVE_TRIAL.value,
    paying=(Status.PAID.value, Status.PENDING_CANCELLATION.value),
)
# An approved request is applied or scheduled, or reversed later on (R16, R17).
_APPROVED = (RequestStatus.APPLIED, RequestStatus.SCHEDULED, RequestStatus.REVERSED)


async def weekly_summary(
    session: AsyncSession, *, msp_id: int, local_now: datetime
) -> WeeklySummary:
    """The summary due at `local_now` (aware, in the MSP's zone): the last whole week
    before it against the week before that."""
    ended, before = summary_weeks(local_now.date())
    spans = [_span(before, local_now), _span(ended, local_now)]
    created = await weekly_repo.msp_created_at(session, msp_id=msp_id)
    first_day = created.astimezone(local_now.tzinfo).date() if created is not None else None
    customers = await weekly_repo.customer_moves(
        session, msp_id=msp_id, spans=spans, lifecycle=_LIFECYCLE
    )
    alerts = await weekly_repo.alert_counts(session, msp_id=msp_id, spans=spans)
    requests = await weekly_repo.request_counts(
        session,
        msp_id=msp_id,
        spans=spans,
        approved=[status.value for status in _APPROVED],
        denied=RequestStatus.DENIED.value,
    )
    summary = WeeklySummary(
        first_day=ended.first,
        last_day=ended.last,
        new_customers=Compared(customers[1].created, customers[0].created),
        trials_converted=Compared(customers[1].converted, customers[0].converted),
        trials_lost=Compared(customers[1].lost, customers[0].lost),
        alerts_opened=Compared(alerts[1].opened, alerts[0].opened),
        alerts_resolved=Compared(alerts[1].resolved, alerts[0].resolved),
        requests_approved=Compared(requests[1].approved, requests[0].approved),
        requests_denied=Compared(requests[1].denied, requests[0].denied),
        requests_waiting=Compared(requests[1].waiting, requests[0].waiting),
        mau=await _mau_week(session, msp_id=msp_id, ended=ended, before=before, spans=spans),
    )
    # The bot arrived after the week before began and nothing was recorded in it: that
    # week is not a week of noughts to compare with, it is one the bot did not see.
    if first_day is not None and first_day > before.first and _nothing_before(summary):
        return replace(summary, installed_on=first_day)
    return summary


def _nothing_before(summary: WeeklySummary) -> bool:
    figures = (*summary.events, summary.requests_waiting)
    mau = summary.mau
    return not any(f.week_before for f in figures) and not (mau.week_ago or mau.month_before)


def _span(week: Week, local_now: datetime) -> Span:
    """The week's local midnights in UTC: a week across a DST change is 167 or 169
    hours long, and still Monday to Monday on the wall clock."""
    zone = local_now.tzinfo

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    return Span(midnight(week.first), midnight(week.end))


async def _mau_week(
    session: AsyncSession, *, msp_id: int, ended: Week, before: Week, spans: list[Span]
) -> MauWeek:
    """The month-to-date MAU at the week's end against a week earlier. Reports replace
    a customer's month, so the figure at a past moment is today's less the changes
    audited since: a figure as it stood then, not as later reports revised it."""
    month, month_before = month_of(ended.last), month_of(before.last)
    now = await weekly_repo.mau_by_month(session, msp_id=msp_id, months={month, month_before})
    since = await weekly_repo.mau_reported_since(
        session,
        msp_id=msp_id,
        action=AuditAction.CUSTOMER_USAGE_REPORTED.value,
        months={format_month(month), format_month(month_before)},
        since=[spans[1].start, spans[1].end],
    )
    at_week_start, at_week_end = (
        {day: now[day] - since[format_month(day)][index] for day in now} for index in (0, 1)
    )
    same_month = month == month_before
    return MauWeek(
        month=month,
        at_end=at_week_end[month],
        week_ago=at_week_start[month] if same_month else None,
        month_before=None if same_month else at_week_end[month_before],
    )
