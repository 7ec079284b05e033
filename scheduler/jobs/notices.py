"""The notices' part of the schedule (bot/services/notices.py): each sweep claims
and enqueues what is due a chunk at a time, each chunk its own transaction, its
messages woken out of the outbox once committed."""

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
    # A session without a transaction block: the sweep's statements open one, each
    # chunk's end commits it, and the next statement opens the next. Between chunks
    # the bot's other writers take their turn at SQLite's one write lock. If the
    # sweep fails, the chunk under way rolls back with the session; the chunks
    # committed stay, and what they left is due again at the next sweep.
    async with db.sessions() as session:

        async def end_chunk() -> None:
            await session.commit()
            wake()  # that chunk's messages may leave now

        sent = await sweep(
            session, now=clock(), notifier=notifiers.notices, only=only, end_chunk=end_chunk
        )
        await session.commit()
    if sent:
        logger.info("%s: %d notices", name, sent)
        wake()
    return sent
