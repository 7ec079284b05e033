"""The alerts' part of the schedule: snoozed alerts whose snooze is over fire
again, and their messages say so. Each alert is woken by a conditional update,
so two replicas sweeping at once wake it once; a batch at a time, each batch its
own transaction, so other writers get through between."""

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
    woken = 0
    while True:
        async with db.unit_of_work() as session:
            batch = await alert_actions.wake_snoozed(
                session, now=clock(), notifier=notifiers.alerts
            )
        if batch:
            wake()  # their messages are in the outbox
        woken += batch
        # A full batch may have left more; each batch changes the rows it woke, so
        # this ends.
        if batch < alert_actions.WAKE_BATCH:
            break
    if woken:
        logger.info("woke %d snoozed alerts", woken)
    return woken
