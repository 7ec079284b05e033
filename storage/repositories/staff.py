"""Staff members and their roles, always within one MSP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Msp, StaffMember
from storage.repositories._upsert import insert_ignoring_conflict


async def get(session: AsyncSession, *, msp_id: int, slack_user_id: str) -> StaffMember | None:
    return await session.scalar(
        select(StaffMember).where(
            StaffMember.msp_id == msp_id, StaffMember.slack_user_id == slack_user_id
        )
    )


async def list_for_msp(session: AsyncSession, *, msp_id: int) -> Sequence[StaffMember]:
    result = await session.scalars(
        select(StaffMember)
        .where(StaffMember.msp_id == msp_id)
        .order_by(StaffMember.role, StaffMember.slack_user_id)
    )
    return result.all()


async def user_ids_with_role(session: AsyncSession, *, msp_id: int, role: str) -> list[str]:
    result = await session.scalars(
        select(StaffMember.slack_user_id).where(
            StaffMember.msp_id == msp_id, StaffMember.role == role
        )
    )
    return list(result.all())


async def managers(session: AsyncSession, *, msp_id: int, limit: int) -> list[str]:
    """Up to `limit` owners and admins, owners first, the longest on the staff first."""
    result = await session.scalars(
        select(StaffMember.slack_user_id)
        .where(StaffMember.msp_id == msp_id, StaffMember.role.in_(("owner", "admin")))
        .order_by(
            case((StaffMember.role == "owner", 0), else_=1),
            StaffMember.created_at,
            StaffMember.id,
        )
        .limit(limit)
    )
    return list(result.all())


async def count_with_role(session: AsyncSession, *, msp_id: int, role: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(StaffMember)
        .where(StaffMember.msp_id == msp_id, StaffMember.role == role)
    )
    return int(count or 0)


async def add_if_absent(
    session: AsyncSession, *, msp_id: int, slack_user_id: str, role: str, now: datetime
) -> bool:
    """Add a staff member unless one exists; True when this call added them."""
    return await insert_ignoring_conflict(
        session,
        StaffMember.__table__,  # type: ignore[arg-type]
        {
            "msp_id": msp_id,
            "slack_user_id": slack_user_id,
            "role": role,
            "created_at": now,
            "updated_at": now,
        },
        ["msp_id", "slack_user_id"],
    )


async def add_owner_if_none(
    session: AsyncSession, *, msp_id: int, slack_user_id: str, now: datetime
) -> bool:
    """Make someone owner of an MSP that has no owner; True when this call did.

    Of several people arriving at once, only the first becomes owner: on PostgreSQL
    the MSP's row is locked first, so the check runs after the winner committed;
    SQLite runs the one INSERT ... SELECT under its write lock.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(select(Msp.id).where(Msp.id == msp_id).with_for_update())
    table = StaffMember.__table__
    has_owner = exists().where(table.c.msp_id == msp_id, table.c.role == "owner")
    row = select(
        literal(msp_id, table.c.msp_id.type),
        literal(slack_user_id, table.c.slack_user_id.type),
        literal("owner", table.c.role.type),
        literal(now, table.c.created_at.type),
        literal(now, table.c.updated_at.type),
    ).where(~has_owner)
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .from_select(["msp_id", "slack_user_id", "role", "created_at", "updated_at"], row)
        .on_conflict_do_nothing(index_elements=["msp_id", "slack_user_id"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lock_owners(session: AsyncSession, *, msp_id: int) -> Sequence[StaffMember]:
    """The MSP's owners, locked on PostgreSQL so two demotions cannot both pass the
    last-owner check. SQLite serialises writers, so the lock is not needed there."""
    statement = select(StaffMember).where(StaffMember.msp_id == msp_id, StaffMember.role == "owner")
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return (await session.scalars(statement)).all()


@dataclass(frozen=True, slots=True)
class FoundRole:
    msp_id: int
    role: str | None
    msp_disabled: bool


async def find_role(session: AsyncSession, *, team_id: str, slack_user_id: str) -> FoundRole | None:
    """A person's role in a workspace's MSP (and whether that MSP is disabled), in
    one query. None when the workspace has no MSP yet. This runs on every request,
    so it is one indexed join rather than two ORM lookups.
    """
    statement = (
        select(Msp.id, StaffMember.role, Msp.disabled_at)
        .outerjoin(
            StaffMember,
            and_(StaffMember.msp_id == Msp.id, StaffMember.slack_user_id == slack_user_id),
        )
        .where(Msp.team_id == team_id)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else FoundRole(row[0], row[1], row[2] is not None)


async def note_home_opened(
    session: AsyncSession, *, msp_id: int, slack_user_id: str, now: datetime, unless_since: datetime
) -> None:
    """Remember when someone opened the Home tab; written at most once per period
    (`unless_since`) so opening it repeatedly does not write every time. Read first:
    an UPDATE that changes nothing still waits for SQLite's write lock."""
    stale = or_(StaffMember.home_opened_at.is_(None), StaffMember.home_opened_at < unless_since)
    mine = (StaffMember.msp_id == msp_id, StaffMember.slack_user_id == slack_user_id)
    if await session.scalar(select(StaffMember.id).where(*mine, stale)) is None:
        return
    await session.execute(update(StaffMember).where(*mine, stale).values(home_opened_at=now))


async def home_viewers(
    session: AsyncSession, *, msp_id: int, since: datetime
) -> Sequence[tuple[str, str]]:
    """(user id, role) of the staff who opened the Home tab since `since`."""
    rows = await session.execute(
        select(StaffMember.slack_user_id, StaffMember.role).where(
            StaffMember.msp_id == msp_id, StaffMember.home_opened_at >= since
        )
    )
    return [(user_id, role) for user_id, role in rows.all()]
