"""Keep the outbox small: delivered items go after 14 days, failed ones after 90
(long enough for admins to see in `/msp delivery` what failed and why)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from storage.engine import Database
from storage.repositories import outbox as outbox_repo

DELIVERED_KEPT = timedelta(days=14)
FAILED_KEPT = timedelta(days=90)
logger = logging.getLogger(__name__)


async def prune_outbox(*, db: Database, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    async with db.unit_of_work() as session:
        removed = await outbox_repo.prune(
            session, done_before=now - DELIVERED_KEPT, failed_before=now - FAILED_KEPT
        )
    if removed:
        logger.info("pruned %d finished outbox items", removed)
    return removed
