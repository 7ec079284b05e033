"""The audit log (R22): append-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent
from storage.repositories.msps import mark_home_stale


async def append(
    session: AsyncSession,
    *,
    msp_id: int,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    note: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        **_event_values(msp_id, actor, action, entity_type, entity_id, before, after, at, note)
    )
    session.add(event)
    await session.flush()
    # Every audited change can change what a dashboard shows.
    await mark_home_stale(session, msp_id=msp_id, now=at)
    return event


async def append_each(
    session: AsyncSession,
    *,
    msp_id: int,
    actor: str,
    action: str,
    entity_type: str,
    changes: Sequence[tuple[str, dict[str, Any] | None, dict[str, Any] | None]],
    at: datetime,
) -> None:
    """One event per (entity id, before, after), all of one action: written in one
    executemany, the Home tabs marked stale once (a chunk of an import). Plain rows:
    the ORM inserted them one statement each."""
    if changes:
        await session.execute(
            insert(AuditEvent.__table__),  # type: ignore[arg-type]
            [
                _event_values(msp_id, actor, action, entity_type, entity_id, before, after, at)
                for entity_id, before, after in changes
            ],
        )
    await mark_home_stale(session, msp_id=msp_id, now=at)


async def recent(session: AsyncSession, *, msp_id: int, limit: int = 50) -> Sequence[AuditEvent]:
    result = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.msp_id == msp_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return result.all()


async def latest(
    session: AsyncSession,
    *,
    msp_id: int,
    action: str,
    entity_type: str,
    entity_id: str,
) -> AuditEvent | None:
    """The newest event of this action about this entity."""
    return await session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.msp_id == msp_id,
            AuditEvent.entity_type == entity_type,
            AuditEvent.entity_id == entity_id,
            AuditEvent.action == action,
        )
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(1)
    )


def _event_values(
    msp_id: int,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    note: str | None = None,
) -> dict[str, Any]:
    return {
        "msp_id": msp_id,
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": before,
        "after": after,
        "created_at": at,
        "note": note,
    }
