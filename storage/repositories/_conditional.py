"""The conditional update behind every claim step (requests, alerts): change a row
only while it is still in one of the statuses the change starts from."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


async def move_if_status(
    session: AsyncSession,
    model: Any,
    *,
    msp_id: int,
    row_id: int,
    from_statuses: Collection[str],
    values: Mapping[str, Any],
) -> bool:
    """Of two transactions trying at once, exactly one gets True; the other's
    UPDATE matches nothing once the winner's status is written."""
    result = await session.execute(
        update(model)
        .where(
            model.id == row_id,
            model.msp_id == msp_id,
            model.status.in_(sorted(from_statuses)),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
