"""MAU usage and allowance orders. Aggregates are computed by the database (one
query per figure, never a loop over customers); every query takes the MSP id, and
a member's view adds their user id (`customers.visible`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer, CustomerUsage, MauAllowanceOrder, Msp
from storage.repositories.customers import visible


@dataclass(frozen=True, slots=True)
class CustomerName:
    id: int
    name: str
    account_number: str


@dataclass(frozen=True, slots=True)
class CustomerMonthMau:
    customer_id: int
    name: str
    account_number: str
    mau: int


async def msp_mau_by_month(
    session: AsyncSession, *, msp_id: int, first: date, last: date
) -> dict[date, int]:
    """The MSP's MAU (the sum over its customers) of each month from `first` to
    `last` (first days of months). Months without usage are absent."""
    statement = (
        select(CustomerUsage.month, func.sum(CustomerUsage.mau))
        .where(
            CustomerUsage.msp_id == msp_id,
            CustomerUsage.month >= first,
            CustomerUsage.month <= last,
        )
        .group_by(CustomerUsage.month)
    )
    return {month: int(total or 0) for month, total in (await session.execute(statement)).all()}


async def mau_for_month(session: AsyncSession, *, msp_id: int, month: date) -> int:
    """The MSP's MAU in one month."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CustomerUsage.mau), 0)).where(
            CustomerUsage.msp_id == msp_id, CustomerUsage.month == month
        )
    )
    return int(total or 0)


async def customer_mau_by_month(
    session: AsyncSession,
    *,
    msp_id: int,
    customer_id: int,
    assigned_to: str | None,
    first: date,
    last: date,
) -> dict[date, int]:
    """One customer's MAU of each month from `first` to `last`, if the person may
    see that customer (nothing otherwise)."""
    statement = select(CustomerUsage.month, CustomerUsage.mau).where(
        CustomerUsage.msp_id == msp_id,
        CustomerUsage.customer_id.in_(
            select(Customer.id).where(Customer.id == customer_id, *visible(msp_id, assigned_to))
        ),
        CustomerUsage.month >= first,
        CustomerUsage.month <= last,
    )
    return {month: int(mau) for month, mau in (await session.execute(statement)).all()}


async def top_customers_for_month(
    session: AsyncSession, *, msp_id: int, month: date, limit: int
) -> tuple[list[CustomerMonthMau], int]:
    """The customers with the most MAU in `month` (at most `limit`), and how many
    customers had any MAU that month."""
    scope = (
        CustomerUsage.msp_id == msp_id,
        Customer.msp_id == msp_id,
        CustomerUsage.month == month,
        CustomerUsage.mau > 0,
    )
    rows = await session.execute(
        select(Customer.id, Customer.name, Customer.account_number, CustomerUsage.mau)
        .join(Customer, Customer.id == CustomerUsage.customer_id)
        .where(*scope)
        .order_by(CustomerUsage.mau.desc(), Customer.name_key, Customer.id)
        .limit(limit)
    )
    top = [
        CustomerMonthMau(customer_id=cid, name=name, account_number=number, mau=int(mau))
        for cid, name, number, mau in rows.all()
    ]
    count = await session.scalar(
        select(func.count())
        .select_from(CustomerUsage)
        .join(Customer, Customer.id == CustomerUsage.customer_id)
        .where(*scope)
    )
    return top, int(count or 0)


async def visible_customer(
    session: AsyncSession, *, msp_id: int, customer_id: int, assigned_to: str | None
) -> CustomerName | None:
    """A customer the person may see (not deleted), by id."""
    row = (
        await session.execute(
            select(Customer.id, Customer.name, Customer.account_number).where(
                Customer.id == customer_id,
                Customer.status != "deleted",
                *visible(msp_id, assigned_to),
            )
        )
    ).one_or_none()
    return CustomerName(id=row[0], name=row[1], account_number=row[2]) if row else None


async def recent_orders(
    session: AsyncSession, *, msp_id: int, limit: int
) -> Sequence[MauAllowanceOrder]:
    """The MSP's allowance orders, newest first."""
    result = await session.scalars(
        select(MauAllowanceOrder)
        .where(MauAllowanceOrder.msp_id == msp_id)
        .order_by(MauAllowanceOrder.created_at.desc(), MauAllowanceOrder.id.desc())
        .limit(limit)
    )
    return result.all()


async def count_orders(session: AsyncSession, *, msp_id: int) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(MauAllowanceOrder)
        .where(MauAllowanceOrder.msp_id == msp_id)
    )
    return int(total or 0)


async def orders_explaining(
    session: AsyncSession, *, msp_id: int, since: datetime
) -> list[MauAllowanceOrder]:
    """The orders that decide the allowance of every month from `since` on, oldest
    first: the last one made before `since` (if any) and all made after it."""
    before = await session.scalar(
        select(MauAllowanceOrder)
        .where(MauAllowanceOrder.msp_id == msp_id, MauAllowanceOrder.created_at < since)
        .order_by(MauAllowanceOrder.created_at.desc(), MauAllowanceOrder.id.desc())
        .limit(1)
    )
    after = await session.scalars(
        select(MauAllowanceOrder)
        .where(MauAllowanceOrder.msp_id == msp_id, MauAllowanceOrder.created_at >= since)
        .order_by(MauAllowanceOrder.created_at, MauAllowanceOrder.id)
    )
    return ([before] if before is not None else []) + list(after.all())


async def raise_allowance(
    session: AsyncSession, *, msp_id: int, quantity: int, maximum: int, now: datetime
) -> int | None:
    """Add `quantity` to the MSP's MAU allowance in one statement (two orders at once
    both count) unless that passes `maximum`; the allowance after, or None."""
    result = await session.execute(
        update(Msp)
        .where(Msp.id == msp_id, Msp.mau_allowance + quantity <= maximum)
        .values(mau_allowance=Msp.mau_allowance + quantity, updated_at=now)
        .returning(Msp.mau_allowance)
        .execution_options(synchronize_session=False)
    )
    after = result.scalar_one_or_none()
    return int(after) if after is not None else None


async def add_order(
    session: AsyncSession,
    *,
    msp_id: int,
    ordered_by: str,
    quantity: int,
    allowance_before: int,
    allowance_after: int,
    status: str,
    note: str,
    at: datetime,
) -> MauAllowanceOrder:
    order = MauAllowanceOrder(
        msp_id=msp_id,
        ordered_by=ordered_by,
        quantity=quantity,
        allowance_before=allowance_before,
        allowance_after=allowance_after,
        status=status,
        note=note,
        created_at=at,
    )
    session.add(order)
    await session.flush()
    return order
