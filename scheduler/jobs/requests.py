"""The requests' part of the schedule: scheduled changes applied on their
effective date (licence decreases, downgrades, add-on removals and cancellations
at renewal; deletions 30 days after approval), and pending requests expired after
the MSP's waiting time. Every change is claimed with a conditional update, so two
replicas sweeping at once apply and expire each request once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.delivery.request_messages import OutboxRequestNotifier
from bot.services import requests as request_service
from storage.engine import Database

logger = logging.getLogger(__name__)
NOTIFIER = OutboxRequestNotifier()


async def apply_scheduled_changes(
    *, db: Database, clock: Callable[[], datetime], wake: Callable[[], None]
) -> int:
    async with db.unit_of_work() as session:
        applied = await request_service.apply_due(session, now=clock(), notifier=NOTIFIER)
    if applied:
        logger.info("applied %d scheduled changes", len(applied))
        wake()
    return len(applied)


async def expire_pending_requests(
    *, db: Database, clock: Callable[[], datetime], wake: Callable[[], None]
) -> int:
    async with db.unit_of_work() as session:
        expired = await request_service.expire_due(session, now=clock(), notifier=NOTIFIER)
    if expired:
        logger.info("expired %d pending requests", len(expired))
        wake()
    return len(expired)
