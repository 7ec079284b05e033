"""Job registry: each job opens a unit of work and calls services or the outbox.
Exactly-once comes from the database (conditional statements), so any replica may
run any job; running one twice is harmless."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from scheduler.jobs.outbox_retention import prune_outbox
from storage.engine import Database


def register_jobs(scheduler: AsyncIOScheduler, *, db: Database) -> None:
    scheduler.add_job(
        prune_outbox,
        CronTrigger(hour=3, minute=30),
        kwargs={"db": db},
        id="prune_outbox",
        replace_existing=True,
    )
