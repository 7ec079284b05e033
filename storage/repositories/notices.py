"""Scheduled notices: claiming their natural keys, and the set-based queries that
find what is due. Each query is a range on an index (a status and a date within
the given MSPs), so a sweep reads what is due, not every customer."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ChangeRequest,
    Customer,
    CustomerAssignment,
    CustomerUsage,
    Msp,
    Notice,
)
from storage.repositories.usage import NAMED_CUSTOMER_COLUMNS, NamedCustomer

NoticeKey = tuple[int, str, int, str]  # msp id, kind, subject id, period


async def claim(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[NoticeKey]:
    """Insert these notices' keys; the keys this call inserted (the others were
    claimed earlier, by this process or another). One statement for the batch."""
    if not rows:
        return set()
    table = Notice.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["msp_id", "kind", "subject_id", "period"])
        .returning(table.c.msp_id, table.c.kind, table.c.subject_id, table.c.period)
    )
    # An executemany: SQLAlchemy sends it as multi-row VALUES with RETURNING on both
    # drivers, from a statement compiled once. (A `.values(rows)` statement was
    # compiled anew for every batch, 3,000 bound values each: most of a sweep that
    # found everything claimed already.)
    result = await session.execute(statement, list(rows))
    return {(row[0], row[1], row[2], row[3]) for row in result.all()}


async def taken(session: AsyncSession, keys: Sequence[NoticeKey]) -> set[NoticeKey]:
    """Which of these notices' keys are claimed already (a read: no lock taken)."""
    if not keys:
        return set()
    table = Notice.__table__
    columns = (table.c.msp_id, table.c.kind, table.c.subject_id, table.c.period)
    rows = await session.execute(select(*columns).where(tuple_(*columns).in_(list(keys))))
    return {(row[0], row[1], row[2], row[3]) for row in rows.all()}


@dataclass(frozen=True, slots=True)
class MspClock:
    id: int
    team_id: str
    timezone: str
    trial_notice_days: str
    mau_allowance: int
    approvals_channel: str | None


async def msps(session: AsyncSession, *, only: Collection[int] | None = None) -> list[MspClock]:
    """Every enabled MSP's zone and notice settings (MSPs are few; customers are many)."""
    statement = select(
        Msp.id,
        Msp.team_id,
        Msp.timezone,
        Msp.trial_notice_days,
        Msp.mau_allowance,
        Msp.approvals_channel,
    )
    # An uninstalled workspace gets no notices (none could reach it); they resume,
    # latest first, when it installs again.
    statement = statement.where(Msp.disabled_at.is_(None)).order_by(Msp.id)
    if only is not None:
        statement = statement.where(Msp.id.in_(sorted(only)))
    return [MspClock(*row) for row in (await session.execute(statement)).all()]


@dataclass(frozen=True, slots=True)
class DueCustomer:
    id: int
    msp_id: int
    name: str
    account_number: str
    day: date  # the trial's end, or the renewal date
    users: int


_DUE_COLUMNS = (
    Customer.id,
    Customer.msp_id,
    Customer.name,
    Customer.account_number,
)


async def trials_ending(
    session: AsyncSession, *, msp_ids: Collection[int], status: str, first: date, last: date
) -> list[DueCustomer]:
    """Customers of these MSPs in `status` whose trial ends between the two days."""
    rows = await session.execute(
        select(*_DUE_COLUMNS, Customer.trial_end, Customer.users)
        .where(
            Customer.msp_id.in_(sorted(msp_ids)),
            Customer.status == status,
            Customer.trial_end >= first,
            Customer.trial_end <= last,
        )
        .order_by(Customer.trial_end, Customer.id)
    )
    return [DueCustomer(*row) for row in rows.all()]


async def end_trials(
    session: AsyncSession,
    *,
    msp_ids: Collection[int],
    before: date,
    values: dict[str, Any],
    from_status: str,
    limit: int,
) -> list[DueCustomer]:
    """R4 in one conditional UPDATE: at most `limit` of the trials of these MSPs that
    ended before `before` move on; the rows it changed (a second sweep changes none).
    The conditions are checked again on each row changed, so of two replicas each
    changes a row once."""
    table = Customer.__table__
    ended = (
        table.c.msp_id.in_(sorted(msp_ids)),
        table.c.status == from_status,
        table.c.trial_end < before,
    )
    # UPDATE ... LIMIT is not in every SQLite build: the rows are picked first, the
    # first `limit` on the index (in no particular order: each is due alike).
    picked = select(table.c.id).where(*ended).limit(limit)
    statement = (
        update(table)
        .where(table.c.id.in_(picked), *ended)
        .values(**values, version=table.c.version + 1)
        .returning(
            table.c.id,
            table.c.msp_id,
            table.c.name,
            table.c.account_number,
            table.c.trial_end,
            table.c.users,
        )
    )
    return [DueCustomer(*row) for row in (await session.execute(statement)).all()]


async def free_limit_figures(
    session: AsyncSession, *, customer_ids: Collection[int]
) -> list[tuple[int, NamedCustomer, int, float]]:
    """(msp id, customer, users, data GB) of these customers: what R15's free limits
    are checked against when their trials end."""
    if not customer_ids:
        return []
    rows = await session.execute(
        select(Customer.msp_id, *NAMED_CUSTOMER_COLUMNS, Customer.users, Customer.data_used_gb)
        .where(Customer.id.in_(sorted(customer_ids)))
        .order_by(Customer.id)
    )
    return [(row[0], NamedCustomer(*row[1:7]), int(row[7]), float(row[8])) for row in rows.all()]


async def renewals_between(
    session: AsyncSession,
    *,
    msp_ids: Collection[int],
    statuses: Sequence[str],
    first: date,
    last: date,
) -> list[DueCustomer]:
    rows = await session.execute(
        select(*_DUE_COLUMNS, Customer.renewal_date, Customer.users)
        .where(
            Customer.msp_id.in_(sorted(msp_ids)),
            Customer.status.in_(list(statuses)),
            Customer.renewal_date >= first,
            Customer.renewal_date <= last,
        )
        .order_by(Customer.renewal_date, Customer.id)
    )
    return [DueCustomer(*row) for row in rows.all()]


async def assigned_staff(
    session: AsyncSession, *, customer_ids: Collection[int]
) -> dict[int, list[str]]:
    """Who is assigned to each of these customers."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(CustomerAssignment.customer_id, CustomerAssignment.slack_user_id)
        .where(CustomerAssignment.customer_id.in_(sorted(customer_ids)))
        .order_by(CustomerAssignment.customer_id, CustomerAssignment.slack_user_id)
    )
    staff: dict[int, list[str]] = {}
    for customer_id, user_id in rows.all():
        staff.setdefault(customer_id, []).append(user_id)
    return staff


async def mau_by_msp(session: AsyncSession, *, months: dict[int, date]) -> dict[int, int]:
    """This month's MAU of each MSP (`months`: MSP id -> its month, by its zone)."""
    if not months:
        return {}
    rows = await session.execute(
        select(CustomerUsage.msp_id, func.sum(CustomerUsage.mau))
        .where(tuple_(CustomerUsage.msp_id, CustomerUsage.month).in_(list(months.items())))
        .group_by(CustomerUsage.msp_id)
    )
    return {msp_id: int(total or 0) for msp_id, total in rows.all()}


async def requests_waiting(
    session: AsyncSession, *, status: str, asked_before: datetime, msp_ids: Collection[int]
) -> list[ChangeRequest]:
    return list(
        (
            await session.scalars(
                select(ChangeRequest)
                .where(
                    ChangeRequest.status == status,
                    ChangeRequest.requested_at <= asked_before,
                    ChangeRequest.msp_id.in_(sorted(msp_ids)),
                )
                .order_by(ChangeRequest.requested_at, ChangeRequest.id)
            )
        ).all()
    )


async def at_max_mau(
    session: AsyncSession, *, months: dict[int, date]
) -> list[tuple[int, NamedCustomer, int]]:
    """(MSP id, customer, MAU) of the customers whose month's MAU reached their
    max-MAU threshold; the partial index on thresholds that can block starts it."""
    if not months:
        return []
    rows = await session.execute(
        select(Customer.msp_id, *NAMED_CUSTOMER_COLUMNS, CustomerUsage.mau)
        .join(CustomerUsage, CustomerUsage.customer_id == Customer.id)
        .where(
            Customer.msp_id.in_(sorted(months)),
            Customer.max_mau_threshold.is_not(None),
            tuple_(CustomerUsage.msp_id, CustomerUsage.month).in_(list(months.items())),
            CustomerUsage.mau >= Customer.max_mau_threshold,
        )
        .order_by(Customer.id)
    )
    return [(row[0], NamedCustomer(*row[1:7]), int(row[7])) for row in rows.all()]
