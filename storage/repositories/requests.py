"""Change requests: stored, listed, and moved from one status to the next with
conditional updates, so a request is decided (and later applied) exactly once
however many people click, and however many replicas run the scheduler."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OPEN_REQUEST, ChangeRequest, Customer, CustomerAssignment
from storage.repositories._conditional import move_if_status
from storage.repositories._upsert import insert_returning_id_ignoring_conflict


async def add_unless_open(session: AsyncSession, values: dict[str, Any]) -> ChangeRequest | None:
    """Store a request, unless its customer already has an open one of its type: the
    partial unique index decides, so of the same form sent several times at once
    exactly one is stored, and the others get None (nothing written, the transaction
    still usable)."""
    request_id = await insert_returning_id_ignoring_conflict(
        session,
        ChangeRequest.__table__,  # type: ignore[arg-type]
        values,
        ["customer_id", "kind"],
        index_where=OPEN_REQUEST,
    )
    return None if request_id is None else await session.get(ChangeRequest, request_id)


async def get(session: AsyncSession, *, msp_id: int, request_id: int) -> ChangeRequest | None:
    # populate_existing: a conditional UPDATE in this transaction may have changed it.
    request = await session.get(ChangeRequest, request_id, populate_existing=True)
    return request if request is not None and request.msp_id == msp_id else None


async def move(
    session: AsyncSession,
    *,
    msp_id: int,
    request_id: int,
    from_statuses: Sequence[str],
    values: dict[str, Any],
) -> bool:
    """Change a request only if it is still in one of `from_statuses`: of two
    transactions trying at once, exactly one gets True."""
    return await move_if_status(
        session,
        ChangeRequest,
        msp_id=msp_id,
        row_id=request_id,
        from_statuses=from_statuses,
        values=values,
    )


async def lock_customer(session: AsyncSession, *, msp_id: int, customer_id: int) -> None:
    """Hold the customer's row until the transaction ends, for a request changing it.
    PostgreSQL locks the row; SQLite ignores FOR UPDATE, but the transaction already
    holds SQLite's one write lock, taken by the request's own conditional UPDATE."""
    await session.execute(
        select(Customer.id)
        .where(Customer.id == customer_id, Customer.msp_id == msp_id)
        .with_for_update()
    )


async def listing(
    session: AsyncSession,
    *,
    msp_id: int,
    statuses: Sequence[str] | None,
    requested_by: str | None,
    member: str | None,
    limit: int,
) -> tuple[Sequence[ChangeRequest], int]:
    """Requests, newest first, and how many match. `member` keeps those about
    customers assigned to that member, and the member's own."""
    where: list[Any] = [ChangeRequest.msp_id == msp_id]
    if statuses is not None:
        where.append(ChangeRequest.status.in_(list(statuses)))
    if requested_by is not None:
        where.append(ChangeRequest.requested_by == requested_by)
    if member is not None:
        assigned = select(CustomerAssignment.customer_id).where(
            CustomerAssignment.slack_user_id == member
        )
        where.append(
            ChangeRequest.customer_id.in_(assigned) | (ChangeRequest.requested_by == member)
        )
    total = await session.scalar(select(func.count()).select_from(ChangeRequest).where(*where))
    rows = await session.scalars(
        select(ChangeRequest)
        .where(*where)
        .order_by(ChangeRequest.requested_at.desc(), ChangeRequest.id.desc())
        .limit(limit)
    )
    return rows.all(), int(total or 0)


async def for_customer(
    session: AsyncSession, *, msp_id: int, customer_id: int, limit: int
) -> Sequence[ChangeRequest]:
    rows = await session.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.msp_id == msp_id, ChangeRequest.customer_id == customer_id)
        .order_by(ChangeRequest.requested_at.desc(), ChangeRequest.id.desc())
        .limit(limit)
    )
    return rows.all()


async def open_of_kind(
    session: AsyncSession, *, msp_id: int, customer_id: int, kind: str, statuses: Sequence[str]
) -> ChangeRequest | None:
    """A request of this kind for this customer still pending or scheduled (so the
    same change is not asked for twice)."""
    return await session.scalar(
        select(ChangeRequest)
        .where(
            ChangeRequest.msp_id == msp_id,
            ChangeRequest.customer_id == customer_id,
            ChangeRequest.kind == kind,
            ChangeRequest.status.in_(list(statuses)),
        )
        .order_by(ChangeRequest.id.desc())
        .limit(1)
    )


async def due_scheduled(
    session: AsyncSession, *, status: str, on_or_before: date, limit: int
) -> Sequence[ChangeRequest]:
    """Scheduled requests whose effective date has come (every MSP), oldest first.
    `on_or_before` is a bound: each MSP's own date is checked by the caller."""
    rows = await session.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.status == status, ChangeRequest.effective_on <= on_or_before)
        .order_by(ChangeRequest.effective_on, ChangeRequest.id)
        .limit(limit)
    )
    return rows.all()


async def due_to_expire(
    session: AsyncSession, *, status: str, now: datetime, limit: int
) -> Sequence[ChangeRequest]:
    rows = await session.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.status == status, ChangeRequest.expires_at <= now)
        .order_by(ChangeRequest.expires_at, ChangeRequest.id)
        .limit(limit)
    )
    return rows.all()


async def count_pending(session: AsyncSession, *, msp_id: int, status: str) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(ChangeRequest)
        .where(ChangeRequest.msp_id == msp_id, ChangeRequest.status == status)
    )
    return int(total or 0)


async def open_for_customer(
    session: AsyncSession, *, msp_id: int, customer_id: int, statuses: Sequence[str]
) -> Sequence[ChangeRequest]:
    """The customer's requests still pending or scheduled, oldest first."""
    return await _of_customer(
        session,
        msp_id,
        customer_id,
        ChangeRequest.status.in_(list(statuses)),
        order_by=(ChangeRequest.id,),
    )


async def scheduled_at_renewal(
    session: AsyncSession,
    *,
    msp_id: int,
    customer_id: int,
    kinds: Sequence[str],
    on_or_before: date,
) -> Sequence[ChangeRequest]:
    """The customer's scheduled changes due at a renewal, in the order approved."""
    return await _of_customer(
        session,
        msp_id,
        customer_id,
        ChangeRequest.status == "scheduled",
        ChangeRequest.kind.in_(list(kinds)),
        ChangeRequest.effective_on <= on_or_before,
        order_by=(ChangeRequest.decided_at, ChangeRequest.id),
    )


async def _of_customer(
    session: AsyncSession,
    msp_id: int,
    customer_id: int,
    *conditions: ColumnElement[bool],
    order_by: tuple[Any, ...],
) -> Sequence[ChangeRequest]:
    rows = await session.scalars(
        select(ChangeRequest)
        .where(
            ChangeRequest.msp_id == msp_id, ChangeRequest.customer_id == customer_id, *conditions
        )
        .order_by(*order_by)
    )
    return rows.all()
