"""The notices' part of the schedule (bot/services/notices.py): each sweep in its
own transaction, its messages woken out of the outbox once committed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from bot.notify.notifiers import Notifiers
from bot.services import notices
from storage.engine import Database

logger = logging.getLogger(__name__)


async def run_sweep(
    name: str,
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
    only: Collection[int] | None = None,
) -> int:
    """Run one notice sweep now; how many notices it sent (claimed)."""
    sweep = notices.SWEEPS[name]
    async with db.unit_of_work() as session:
        sent = await sweep(session, now=clock(), notifier=notifiers.notices, only=only)
    if sent:
        logger.info("%s: %d notices", name, sent)
        wake()
    return sent
