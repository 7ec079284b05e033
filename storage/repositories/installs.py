"""Distribution mode's token tables (slack_sdk's layout, storage/models.py): what
the bot itself does with them besides slack_sdk's stores, in the caller's
transaction."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SLACK_BOTS, SLACK_INSTALLATIONS


async def forget_tokens(session: AsyncSession, *, team_id: str) -> int:
    """Delete every stored token of a workspace (uninstalled, or tokens revoked):
    they no longer work, and a revoked token is not worth keeping. Returns how many
    rows went."""
    removed = 0
    for table in (SLACK_BOTS, SLACK_INSTALLATIONS):
        result = await session.execute(delete(table).where(table.c.team_id == team_id))
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    return removed
