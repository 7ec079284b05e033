"""Job registry: each job opens a unit of work and calls services or the outbox.
Exactly-once comes from the database (conditional statements), so any replica may
run any job; running one twice is harmless."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery.home_tabs import refresh_stale_home_tabs
from scheduler.jobs.alerts import wake_snoozed_alerts
from scheduler.jobs.outbox_retention import prune_outbox
from scheduler.jobs.requests import apply_scheduled_changes, expire_pending_requests
from storage.engine import Database


@dataclass(frozen=True, slots=True)
class JobSettings:
    home_refresh_seconds: float = 5.0
    request_sweep_seconds: float = 300.0
    snooze_sweep_seconds: float = 60.0  # a snooze ends within a minute of its time


def register_jobs(
    scheduler: AsyncIOScheduler,
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake_delivery: Callable[[], None],
    settings: JobSettings,
) -> None:
    scheduler.add_job(
        refresh_stale_home_tabs,
        IntervalTrigger(seconds=settings.home_refresh_seconds),
        kwargs={"db": db, "clock": clock, "wake": wake_delivery},
        id="refresh_home_tabs",
        replace_existing=True,
    )
    scheduler.add_job(
        prune_outbox,
        CronTrigger(hour=3, minute=30),
        kwargs={"db": db},
        id="prune_outbox",
        replace_existing=True,
    )
    sweeps = (
        (apply_scheduled_changes, settings.request_sweep_seconds),
        (expire_pending_requests, settings.request_sweep_seconds),
        (wake_snoozed_alerts, settings.snooze_sweep_seconds),
    )
    for job, seconds in sweeps:
        scheduler.add_job(
            job,
            IntervalTrigger(seconds=seconds),
            kwargs={"db": db, "clock": clock, "wake": wake_delivery},
            id=job.__name__,
            replace_existing=True,
        )
