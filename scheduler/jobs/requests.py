"""The requests' part of the schedule: scheduled changes applied on their
effective date (licence decreases, downgrades, add-on removals and cancellations
at renewal; deletions 30 days after approval), and pending requests expired after
the MSP's waiting time. Every change is claimed with a conditional update, so two
replicas sweeping at once apply and expire each request once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.delivery.request_messages import OutboxRequestNotifier
from bot.services import renewals, request_changes
from bot.services.request_info import RequestInfo
from storage.engine import Database

logger = logging.getLogger(__name__)
NOTIFIER = OutboxRequestNotifier()


async def _sweep(
    sweep: Callable[..., Awaitable[list[RequestInfo]]],
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    done: str,
) -> int:
    async with db.unit_of_work() as session:
        handled = await sweep(session, now=clock(), notifier=NOTIFIER)
    if handled:
        logger.info("%s %d requests", done, len(handled))
        wake()  # their messages are in the outbox
    return len(handled)


async def _renew(
    *, db: Database, clock: Callable[[], datetime], wake: Callable[[], None]
) -> list[renewals.Renewed]:
    async with db.unit_of_work() as session:
        renewed = await renewals.roll_due(session, now=clock(), notifier=NOTIFIER)
    if renewed:
        logger.info("renewed %d terms", len(renewed))
        wake()
    return renewed


async def roll_renewals(
    *, db: Database, clock: Callable[[], datetime], wake: Callable[[], None]
) -> int:
    """Paid terms whose renewal date has come roll forward, each once, with that
    renewal's scheduled changes (bot/services/renewals.py). How many terms rolled."""
    return len(await _renew(db=db, clock=clock, wake=wake))


async def apply_scheduled_changes(
    *, db: Database, clock: Callable[[], datetime], wake: Callable[[], None]
) -> int:
    """Renewals first (the changes at renewal are theirs), then the other scheduled
    changes. How many requests were applied or found no longer applicable."""
    renewed = await _renew(db=db, clock=clock, wake=wake)
    at_renewal = sum(len(done.requests) for done in renewed)
    return at_renewal + await _sweep(
        request_changes.apply_due, db=db, clock=clock, wake=wake, done="applied"
    )


async def expire_pending_requests(
    *, db: Database, clock: Callable[[], datetime], wake: Callable[[], None]
) -> int:
    return await _sweep(request_changes.expire_due, db=db, clock=clock, wake=wake, done="expired")
