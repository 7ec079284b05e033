"""Distribution mode's token tables (slack_sdk's layout, storage/models.py): what
the bot itself does with them besides slack_sdk's stores, in the caller's
transaction."""

from __future__ import annotations

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SLACK_BOTS, SLACK_INSTALLATIONS, secret_columns


async def forget_tokens(session: AsyncSession, *, team_id: str) -> int:
    """Delete every stored token of a workspace (uninstalled, or tokens revoked):
    they no longer work, and a revoked token is not worth keeping. Returns how many
    rows went."""
    removed = 0
    for table in (SLACK_BOTS, SLACK_INSTALLATIONS):
        result = await session.execute(delete(table).where(table.c.team_id == team_id))
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    return removed


async def row_ids(session: AsyncSession, table: Table) -> list[int]:
    return list(await session.scalars(select(table.c.id).order_by(table.c.id)))


async def stored_secrets(session: AsyncSession, table: Table, row_id: int) -> dict[str, str]:
    """A row's credential columns as stored (encrypted or not); empty ones left out."""
    columns = secret_columns(table)
    row = (await session.execute(select(*columns).where(table.c.id == row_id))).first()
    if row is None:
        return {}
    return {
        column.name: value for column, value in zip(columns, row, strict=True) if value is not None
    }


async def replace_secrets(
    session: AsyncSession,
    table: Table,
    row_id: int,
    *,
    was: dict[str, str],
    now: dict[str, str],
) -> bool:
    """Store `now` over the values that were `was`, only if they still are (a replica
    may have saved a rotated token meanwhile: that one is kept). True if replaced."""
    unchanged = [table.c[name] == value for name, value in was.items() if name in now]
    result = await session.execute(
        update(table).where(table.c.id == row_id, *unchanged).values(now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
