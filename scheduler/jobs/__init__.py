"""Job registry. Jobs arrive with the notices and lifecycle features (trials,
renewals, MAU); until then the scheduler runs with none."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler


def register_jobs(scheduler: AsyncIOScheduler) -> None:
    """Add every job to `scheduler`. No job exists yet."""
    del scheduler
