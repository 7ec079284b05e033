"""The outbox as the operator sees it, across every MSP: how much is waiting (for
/metrics) and how long finished items are kept (the nightly prune). Each MSP's own
view is bot/services/delivery_status.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories import outbox as outbox_repo

# Delivered items go after 14 days; failed ones after 90, long enough for admins to
# see in `/msp delivery` what failed and why.
DELIVERED_KEPT = timedelta(days=14)
FAILED_KEPT = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Backlog:
    waiting: int  # not yet delivered (pending or being sent)
    oldest: datetime | None  # when the oldest of them was queued


async def backlog(session: AsyncSession) -> Backlog:
    waiting, oldest = await outbox_repo.depth_and_oldest(session)
    return Backlog(waiting=waiting, oldest=oldest)


async def prune_finished(session: AsyncSession, *, now: datetime) -> int:
    """Delete what is finished and past its keeping time; waiting items are never
    pruned. Returns how many items went."""
    return await outbox_repo.prune(
        session, done_before=now - DELIVERED_KEPT, failed_before=now - FAILED_KEPT
    )
