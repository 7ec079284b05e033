"""The alerts' part of the schedule: snoozed alerts whose snooze is over fire
again, and their messages say so. Each alert is woken by a conditional update,
so two replicas sweeping at once wake it once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.notify.notifiers import Notifiers
from bot.services import alert_actions
from storage.engine import Database

logger = logging.getLogger(__name__)


async def wake_snoozed_alerts(
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
) -> int:
    async with db.unit_of_work() as session:
        woken = await alert_actions.wake_snoozed(session, now=clock(), notifier=notifiers.alerts)
    if woken:
        logger.info("woke %d snoozed alerts", woken)
        wake()  # their messages are in the outbox
    return woken
