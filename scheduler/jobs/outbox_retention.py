"""Keep the outbox small: finished items go once past their keeping time
(bot/services/outbox_upkeep.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.services import outbox_upkeep
from storage.engine import Database

logger = logging.getLogger(__name__)


async def prune_outbox(*, db: Database, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    async with db.unit_of_work() as session:
        removed = await outbox_upkeep.prune_finished(session, now=now)
    if removed:
        logger.info("pruned %d finished outbox items", removed)
    return removed
