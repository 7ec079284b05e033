"""The weekly summary's figures, read from what is already recorded: the audit log
(customers added, a status before and after each change, usage reports), the
alerts and the requests. Each is one aggregate query over all the weeks compared
at once, a count per week: nothing is read a customer at a time.

Statuses and actions come in as the plain strings stored: `storage` knows nothing
of the domain's enums."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Alert, AuditEvent, ChangeRequest, CustomerUsage, Msp


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time from `start` up to (not including) `end`, aware."""

    start: datetime
    end: datetime


def _within(column: Any, span: Span) -> ColumnElement[bool]:
    return and_(column >= span.start, column < span.end)


def _whole(spans: Sequence[Span]) -> Span:
    return Span(min(span.start for span in spans), max(span.end for span in spans))


async def msp_created_at(session: AsyncSession, *, msp_id: int) -> datetime | None:
    """When the MSP was created (the bot's first contact with its workspace)."""
    return await session.scalar(select(Msp.created_at).where(Msp.id == msp_id))


# ---------------------------------------------------------------- customers


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """How the audit log records a customer's life, as stored: its creation, the
    changes whose snapshots carry its status before and after (an update, a
    deletion, whose after is empty), and the statuses that matter here."""

    entity_type: str
    created: str
    changed: tuple[str, ...]
    trials: tuple[str, ...]  # a trial, active or expired
    active_trial: str
    paying: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CustomerMoves:
    created: int
    converted: int  # moved from a trial to a paying status
    lost: int  # left an active trial for anything but a paying status, and not converted


async def customer_moves(
    session: AsyncSession, *, msp_id: int, spans: Sequence[Span], lifecycle: Lifecycle
) -> list[CustomerMoves]:
    """Per span: customers added, trials converted and trials lost. A customer counts
    once per span: a trial that ended on Tuesday and was upgraded on Thursday was
    converted, not lost."""
    whole = _whole(spans)
    span_of = case(
        *((_within(AuditEvent.created_at, span), index) for index, span in enumerate(spans))
    )
    before = AuditEvent.before["status"].as_string()
    # A deletion has no after: it left whatever it was.
    after = func.coalesce(AuditEvent.after["status"].as_string(), "")
    converted = and_(before.in_(lifecycle.trials), after.in_(lifecycle.paying))
    lost = and_(
        before == lifecycle.active_trial,
        after.not_in([lifecycle.active_trial, *lifecycle.paying]),
    )
    per_customer = (
        select(
            span_of.label("span"),
            func.max(case((AuditEvent.action == lifecycle.created, 1), else_=0)).label("created"),
            func.max(case((converted, 1), else_=0)).label("converted"),
            func.max(case((lost, 1), else_=0)).label("lost"),
        )
        .where(
            AuditEvent.msp_id == msp_id,
            _within(AuditEvent.created_at, whole),
            AuditEvent.entity_type == lifecycle.entity_type,
            AuditEvent.action.in_([lifecycle.created, *lifecycle.changed]),
        )
        .group_by(span_of, AuditEvent.entity_id)
        .subquery()
    )
    lost_only = case((and_(per_customer.c.lost == 1, per_customer.c.converted == 0), 1), else_=0)
    rows = await session.execute(
        select(
            per_customer.c.span,
            func.sum(per_customer.c.created),
            func.sum(per_customer.c.converted),
            func.sum(lost_only),
        ).group_by(per_customer.c.span)
    )
    found = {span: CustomerMoves(int(a or 0), int(c or 0), int(lo or 0)) for span, a, c, lo in rows}
    return [found.get(index, CustomerMoves(0, 0, 0)) for index in range(len(spans))]


# ---------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class AlertCounts:
    opened: int
    resolved: int


async def alert_counts(
    session: AsyncSession, *, msp_id: int, spans: Sequence[Span]
) -> list[AlertCounts]:
    """Per span: alerts first seen in it (a reopened alert is a new one) and alerts
    resolved in it."""
    whole = _whole(spans)
    columns = []
    for span in spans:
        columns += [
            func.count().filter(_within(Alert.first_seen_at, span)),
            func.count().filter(_within(Alert.resolved_at, span)),
        ]
    row = (
        await session.execute(
            select(*columns).where(
                Alert.msp_id == msp_id,
                or_(_within(Alert.first_seen_at, whole), _within(Alert.resolved_at, whole)),
            )
        )
    ).one()
    return [AlertCounts(int(row[2 * i]), int(row[2 * i + 1])) for i in range(len(spans))]


# ---------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class RequestCounts:
    approved: int
    denied: int
    waiting: int  # asked before the span's end and still undecided then


async def request_counts(
    session: AsyncSession,
    *,
    msp_id: int,
    spans: Sequence[Span],
    approved: Collection[str],
    denied: str,
) -> list[RequestCounts]:
    """Per span: requests approved (`approved`: the statuses an approved request is
    in, whatever became of it since) and denied in it, and those waiting at its end.
    Every move out of waiting (a decision, a withdrawal, an expiry) sets decided_at."""
    whole = _whole(spans)
    columns = []
    for span in spans:
        decided_in = _within(ChangeRequest.decided_at, span)
        undecided_at_end = or_(
            ChangeRequest.decided_at.is_(None), ChangeRequest.decided_at >= span.end
        )
        columns += [
            func.count().filter(decided_in, ChangeRequest.status.in_(sorted(approved))),
            func.count().filter(decided_in, ChangeRequest.status == denied),
            func.count().filter(ChangeRequest.requested_at < span.end, undecided_at_end),
        ]
    row = (
        await session.execute(
            select(*columns).where(
                ChangeRequest.msp_id == msp_id,
                ChangeRequest.requested_at < whole.end,
                or_(ChangeRequest.decided_at.is_(None), ChangeRequest.decided_at >= whole.start),
            )
        )
    ).one()
    return [RequestCounts(*(int(row[3 * i + n]) for n in range(3))) for i in range(len(spans))]


# ---------------------------------------------------------------- monthly active users


async def mau_by_month(
    session: AsyncSession, *, msp_id: int, months: Collection[date]
) -> dict[date, int]:
    """The MSP's MAU reported for each of these months (their first days), as now."""
    rows = await session.execute(
        select(CustomerUsage.month, func.sum(CustomerUsage.mau))
        .where(CustomerUsage.msp_id == msp_id, CustomerUsage.month.in_(sorted(months)))
        .group_by(CustomerUsage.month)
    )
    totals = {month: int(total or 0) for month, total in rows.all()}
    return {month: totals.get(month, 0) for month in months}


async def mau_reported_since(
    session: AsyncSession,
    *,
    msp_id: int,
    action: str,
    months: Collection[str],
    since: Sequence[datetime],
) -> dict[str, list[int]]:
    """For each month (as the usage audit events name it, `2026-12`): how much the
    reports audited from each of `since` on changed its MAU, in total. A report
    replaces a customer's month, and its event holds the MAU before and after, so
    the month's MAU at a past moment is today's less what came after it."""
    change = AuditEvent.after["mau"].as_integer() - AuditEvent.before["mau"].as_integer()
    month = AuditEvent.after["month"].as_string()
    columns = [
        func.coalesce(func.sum(change).filter(AuditEvent.created_at >= moment), 0)
        for moment in since
    ]
    rows = await session.execute(
        select(month, *columns)
        .where(
            AuditEvent.msp_id == msp_id,
            AuditEvent.created_at >= min(since),
            AuditEvent.action == action,
            month.in_(sorted(months)),
        )
        .group_by(month)
    )
    found = {row[0]: [int(value) for value in row[1:]] for row in rows.all()}
    return {name: found.get(name, [0] * len(since)) for name in months}
