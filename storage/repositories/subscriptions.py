"""Alert subscriptions: stored, listed per MSP (or per target), removed; and the
customer names and ids they refer to, within what a person may see."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertSubscription, Customer, CustomerAssignment
from storage.repositories.customers import visible


async def add(session: AsyncSession, subscription: AlertSubscription) -> AlertSubscription:
    session.add(subscription)
    await session.flush()
    return subscription


async def get(
    session: AsyncSession, *, msp_id: int, subscription_id: int
) -> AlertSubscription | None:
    return await session.scalar(
        select(AlertSubscription).where(
            AlertSubscription.id == subscription_id, AlertSubscription.msp_id == msp_id
        )
    )


async def listing(
    session: AsyncSession, *, msp_id: int, target: str | None = None
) -> Sequence[AlertSubscription]:
    """Oldest first; `target` keeps one channel's or person's."""
    statement = select(AlertSubscription).where(AlertSubscription.msp_id == msp_id)
    if target is not None:
        statement = statement.where(AlertSubscription.target == target)
    return (await session.scalars(statement.order_by(AlertSubscription.id))).all()


async def remove(session: AsyncSession, *, msp_id: int, subscription_id: int) -> bool:
    """True if this call removed it (two clicks on Remove: only one is told so)."""
    result = await session.execute(
        delete(AlertSubscription)
        .where(AlertSubscription.id == subscription_id, AlertSubscription.msp_id == msp_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def customer_names(
    session: AsyncSession, *, msp_id: int, customer_ids: Collection[int]
) -> dict[int, str]:
    """Id -> name of the MSP's customers among `customer_ids` (deleted ones are absent)."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(Customer.id, Customer.name).where(
            Customer.msp_id == msp_id, Customer.id.in_(list(customer_ids))
        )
    )
    return {customer_id: name for customer_id, name in rows.all()}


async def visible_ids(
    session: AsyncSession,
    *,
    msp_id: int,
    customer_ids: Collection[int],
    assigned_to: str | None,
) -> set[int]:
    """Those of `customer_ids` the person may see (members: only their assigned ones)."""
    if not customer_ids:
        return set()
    rows = await session.scalars(
        select(Customer.id).where(
            Customer.id.in_(list(customer_ids)), *visible(msp_id, assigned_to)
        )
    )
    return set(rows.all())


async def assigned_ids(session: AsyncSession, *, msp_id: int, user_id: str) -> list[int]:
    """The customers assigned to a member, in id order."""
    rows = await session.scalars(
        select(CustomerAssignment.customer_id)
        .join(Customer, Customer.id == CustomerAssignment.customer_id)
        .where(Customer.msp_id == msp_id, CustomerAssignment.slack_user_id == user_id)
        .order_by(CustomerAssignment.customer_id)
    )
    return list(rows.all())
