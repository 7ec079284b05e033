"""The Command Center's figures, each one aggregate query over the customers a
person may see (the MSP's, or a member's assigned ones). No query loads every
customer: the dashboard of a 100,000-customer MSP reads a handful of rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer, CustomerLocation, CustomerUsage
from storage.repositories.customers import visible


@dataclass(frozen=True, slots=True)
class StatusFigures:
    """What one status contributes: how many customers, their users, and their
    agents that are installed but not reporting."""

    customers: int
    users: int
    silent_agents: int
    customers_with_silent_agents: int


async def figures_by_status(
    session: AsyncSession, *, msp_id: int, assigned_to: str | None
) -> dict[str, StatusFigures]:
    silent = Customer.agents_total - Customer.agents_reporting
    statement = (
        select(
            Customer.status,
            func.count(),
            func.coalesce(func.sum(Customer.users), 0),
            func.coalesce(func.sum(silent), 0),
            func.count().filter(silent > 0),
        )
        .where(*visible(msp_id, assigned_to))
        .group_by(Customer.status)
    )
    return {
        status: StatusFigures(int(count), int(users), int(silent_sum), int(with_silent))
        for status, count, users, silent_sum, with_silent in (await session.execute(statement))
    }


async def location_count(
    session: AsyncSession, *, msp_id: int, assigned_to: str | None, excluded_statuses: list[str]
) -> int:
    statement = (
        select(func.count())
        .select_from(CustomerLocation)
        .join(Customer, Customer.id == CustomerLocation.customer_id)
        .where(*visible(msp_id, assigned_to), Customer.status.not_in(excluded_statuses))
    )
    return int(await session.scalar(statement) or 0)


async def mau_in_month(
    session: AsyncSession, *, msp_id: int, assigned_to: str | None, month: date
) -> int:
    """Monthly active users reported for `month` (its first day) across the customers."""
    statement = select(func.coalesce(func.sum(CustomerUsage.mau), 0)).where(
        CustomerUsage.msp_id == msp_id, CustomerUsage.month == month
    )
    if assigned_to is not None:
        statement = statement.join(Customer, Customer.id == CustomerUsage.customer_id).where(
            *visible(msp_id, assigned_to)
        )
    return int(await session.scalar(statement) or 0)


async def trials_ending(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    status: str,
    first_day: date,
    last_day: date,
    limit: int,
) -> tuple[Sequence[Customer], int]:
    """Trials ending between two days (inclusive), soonest first, and how many there are."""
    where = [
        *visible(msp_id, assigned_to),
        Customer.status == status,
        Customer.trial_end.between(first_day, last_day),
    ]
    total = await session.scalar(select(func.count()).select_from(Customer).where(*where))
    rows = await session.scalars(
        select(Customer).where(*where).order_by(Customer.trial_end, Customer.name_key).limit(limit)
    )
    return rows.all(), int(total or 0)


async def silent_agents(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    excluded_statuses: list[str],
    limit: int,
) -> Sequence[Customer]:
    """The customers with the most agents not reporting."""
    silent = Customer.agents_total - Customer.agents_reporting
    statement = (
        select(Customer)
        .where(
            *visible(msp_id, assigned_to),
            Customer.status.not_in(excluded_statuses),
            # A literal, as in the partial index: generic plans only match it so.
            silent > literal_column("0"),
        )
        .order_by(silent.desc(), Customer.name_key)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


# A customer at its max-MAU threshold: id, account number, name, MAU, threshold.
# Plain values: the service gives them the dashboard's own type.
AtThresholdRow = tuple[int, str, str, int, int]


async def at_max_mau(
    session: AsyncSession,
    *,
    msp_id: int,
    assigned_to: str | None,
    month: date,
    excluded_statuses: list[str],
    limit: int,
) -> tuple[list[AtThresholdRow], int]:
    """R20: customers whose MAU reported for `month` is at or over their threshold
    (None never blocks), furthest over first, and how many there are. Starts from
    the few customers that have a threshold at all (a partial index)."""
    where = [
        *visible(msp_id, assigned_to),
        Customer.status.not_in(excluded_statuses),
        # The partial index's own condition (`max_mau_threshold IS NOT NULL`).
        Customer.max_mau_threshold.is_not(None),
        CustomerUsage.mau >= Customer.max_mau_threshold,
    ]
    this_month = and_(CustomerUsage.customer_id == Customer.id, CustomerUsage.month == month)
    total = await session.scalar(
        select(func.count()).select_from(Customer).join(CustomerUsage, this_month).where(*where)
    )
    if not total:
        return [], 0
    over = CustomerUsage.mau - Customer.max_mau_threshold
    rows = await session.execute(
        select(
            Customer.id,
            Customer.account_number,
            Customer.name,
            CustomerUsage.mau,
            Customer.max_mau_threshold,
        )
        .select_from(Customer)
        .join(CustomerUsage, this_month)
        .where(*where)
        .order_by(over.desc(), Customer.name_key)
        .limit(limit)
    )
    return [(id_, number, name, mau, limit_) for id_, number, name, mau, limit_ in rows], int(total)
