"""Alert groups: the open ones of some conversations, opened and joined in bulk,
and found by their parent message."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AlertGroup


async def latest_since(
    session: AsyncSession,
    *,
    msp_id: int,
    keys: Collection[tuple[str, str]],
    since: datetime,
) -> dict[tuple[str, str], AlertGroup]:
    """Per (conversation, group key) of `keys`, the newest group whose latest alert
    came at or after `since` (the index on msp, channel, key and last_at finds them).
    Only the groups a batch may join are read: a conversation's other groups of the
    window grow with every alert before it (a sweep's chunks read each other's)."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(AlertGroup)
        .where(
            AlertGroup.msp_id == msp_id,
            AlertGroup.channel.in_(sorted({channel for channel, _key in keys})),
            AlertGroup.group_key.in_(sorted({key for _channel, key in keys})),
            AlertGroup.last_at >= since,
        )
        .order_by(AlertGroup.id)
    )
    return {(group.channel, group.group_key): group for group in rows}


async def open_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """New groups, one statement for a batch's."""
    if rows:
        await session.execute(insert(AlertGroup), list(rows))


async def grow_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Joined groups' count, worst severity and latest time, one statement."""
    if not rows:
        return
    table = AlertGroup.__table__
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("group_id"))
        .values(
            count=bindparam("new_count"),
            worst_severity=bindparam("new_worst"),
            last_at=bindparam("new_last_at"),
        )
        .execution_options(synchronize_session=False),
        [
            {
                "group_id": row["id"],
                "new_count": row["count"],
                "new_worst": row["worst_severity"],
                "new_last_at": row["last_at"],
            }
            for row in rows
        ],
    )


async def by_parent_keys(
    session: AsyncSession, *, msp_id: int, keys: Collection[str]
) -> dict[str, AlertGroup]:
    """The groups whose parent messages these are, with more than their parent."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(AlertGroup).where(
            AlertGroup.msp_id == msp_id,
            AlertGroup.parent_key.in_(keys),
            AlertGroup.count > 1,
        )
    )
    return {group.parent_key: group for group in rows}
