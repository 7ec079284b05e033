"""The MSP (tenant) table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Msp
from storage.repositories._upsert import insert_ignoring_conflict


async def get_by_team(session: AsyncSession, team_id: str) -> Msp | None:
    return await session.scalar(select(Msp).where(Msp.team_id == team_id))


async def get_or_create(
    session: AsyncSession, *, team_id: str, timezone: str, now: datetime
) -> tuple[Msp, bool]:
    """The MSP of a workspace, created on first contact. Returns (msp, created)."""
    existing = await get_by_team(session, team_id)
    if existing is not None:
        return existing, False
    created = await insert_ignoring_conflict(
        session,
        Msp.__table__,  # type: ignore[arg-type]
        {"team_id": team_id, "timezone": timezone, "created_at": now, "updated_at": now},
        ["team_id"],
    )
    msp = await get_by_team(session, team_id)
    assert msp is not None  # inserted above, or by the request we raced with
    return msp, created


async def lock_customer_count(session: AsyncSession, *, msp_id: int) -> int | None:
    """Hold the MSP's right to add customers until the transaction ends; returns its
    maximum (R3) as it stands once held, or None when there is no such MSP.

    Counting the customers and then inserting is only safe while nobody else of this
    MSP does the same, so the add (or import chunk) starts with a write to the MSP's
    row: PostgreSQL keeps that row locked (a second writer waits for the first to
    commit, then counts what it wrote), and SQLite takes its one write lock. It has
    to be a write, not a read: SQLite runs reads outside the transaction until the
    first write begins it, and ignores FOR UPDATE. The column written keeps its
    value, and is in no unique index, so PostgreSQL's foreign-key checks of other
    writers (who only share the row) do not wait for it."""
    result = await session.execute(
        update(Msp)
        .where(Msp.id == msp_id)
        .values(max_customers=Msp.max_customers)
        .returning(Msp.max_customers)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def lock(session: AsyncSession, *, msp_id: int) -> None:
    """Take the MSP's turn on PostgreSQL: its row is locked until commit, so work
    that must see what the previous one wrote (alert groups opened) goes one at a
    time per MSP. Taken before any customer's row, always in that order, so two
    such transactions never wait on each other's locks. FOR NO KEY UPDATE: rows
    that refer to the MSP (an outbox item, an alert) take a key-share lock on it as
    they are written, which FOR UPDATE would block. SQLite has one writer."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            select(Msp.id).where(Msp.id == msp_id).with_for_update(key_share=True)
        )


async def mark_home_stale(session: AsyncSession, *, msp_id: int, now: datetime) -> None:
    """Note that the MSP's Home tabs need redrawing. Only the first change since the
    last redraw writes: later ones find the mark already set and change nothing."""
    await session.execute(
        update(Msp)
        .where(Msp.id == msp_id, Msp.home_stale_since.is_(None))
        .values(home_stale_since=now)
    )


async def stale_home_msps(session: AsyncSession, *, before: datetime, limit: int) -> list[int]:
    """MSPs whose Home tabs went stale before `before` (so changes have settled)."""
    rows = await session.scalars(
        select(Msp.id)
        .where(
            Msp.home_stale_since.is_not(None),
            Msp.home_stale_since <= before,
            Msp.disabled_at.is_(None),  # uninstalled: no Home tab to draw
        )
        .order_by(Msp.home_stale_since)
        .limit(limit)
    )
    return list(rows.all())


async def claim_home_refresh(session: AsyncSession, *, msp_id: int, before: datetime) -> bool:
    """Clear the stale mark if it is still there: of several replicas running the
    refresh at once, exactly one gets True and redraws."""
    result = await session.execute(
        update(Msp)
        .where(Msp.id == msp_id, Msp.home_stale_since.is_not(None), Msp.home_stale_since <= before)
        .values(home_stale_since=None)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def team_of(session: AsyncSession, *, msp_id: int) -> str:
    return str(await session.scalar(select(Msp.team_id).where(Msp.id == msp_id)))


async def enable(session: AsyncSession, *, msp_id: int, now: datetime) -> bool:
    """Turn a disabled MSP back on; True when it was disabled (only one of several
    concurrent requests gets True)."""
    result = await session.execute(
        update(Msp)
        .where(Msp.id == msp_id, Msp.disabled_at.is_not(None))
        .values(disabled_at=None, disabled_reason=None, updated_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def disable(session: AsyncSession, *, msp_id: int, reason: str, now: datetime) -> bool:
    """Disable an enabled MSP; True for the one caller that did (Slack sends both
    app_uninstalled and tokens_revoked, maybe at once, maybe to two replicas)."""
    result = await session.execute(
        update(Msp)
        .where(Msp.id == msp_id, Msp.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason, updated_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
