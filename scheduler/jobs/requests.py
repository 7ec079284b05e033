"""The requests' part of the schedule: scheduled changes applied on their
effective date (licence decreases, downgrades, add-on removals and cancellations
at renewal; deletions 30 days after approval), and pending requests expired after
the MSP's waiting time. Every change is claimed with a conditional update, so two
replicas sweeping at once apply and expire each request once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.notify.notifiers import Notifiers
from bot.results.requests import RequestInfo
from bot.services import renewals, request_changes
from storage.engine import Database

logger = logging.getLogger(__name__)


async def _sweep(
    sweep: Callable[..., Awaitable[list[RequestInfo]]],
    done: str,
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
) -> int:
    async with db.unit_of_work() as session:
        handled = await sweep(session, now=clock(), notifier=notifiers.requests)
    if handled:
        logger.info("%s %d requests", done, len(handled))
        wake()  # their messages are in the outbox
    return len(handled)


async def _renew(
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
) -> list[renewals.Renewed]:
    async with db.unit_of_work() as session:
        renewed = await renewals.roll_due(session, now=clock(), notifier=notifiers.requests)
    if renewed:
        logger.info("renewed %d terms", len(renewed))
        wake()
    return renewed


async def roll_renewals(
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
) -> int:
    """Paid terms whose renewal date has come roll forward, each once, with that
    renewal's scheduled changes (bot/services/renewals.py). How many terms rolled."""
    return len(await _renew(db=db, clock=clock, wake=wake, notifiers=notifiers))


async def apply_scheduled_changes(
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
) -> int:
    """Renewals first (the changes at renewal are theirs), then the other scheduled
    changes. How many requests were applied or found no longer applicable."""
    renewed = await _renew(db=db, clock=clock, wake=wake, notifiers=notifiers)
    at_renewal = sum(len(done.requests) for done in renewed)
    return at_renewal + await _sweep(
        request_changes.apply_due, "applied", db=db, clock=clock, wake=wake, notifiers=notifiers
    )


async def expire_pending_requests(
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    notifiers: Notifiers,
) -> int:
    return await _sweep(
        request_changes.expire_due, "expired", db=db, clock=clock, wake=wake, notifiers=notifiers
    )
