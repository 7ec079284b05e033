"""Builds the AsyncIOScheduler; it is started inside the running loop by the app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.metrics import Metrics
from bot.notify.notifiers import Notifiers
from scheduler.jobs import JobSettings, register_jobs
from storage.engine import Database


def build_scheduler(
    *,
    timezone: str,
    db: Database,
    clock: Callable[[], datetime],
    wake_delivery: Callable[[], None],
    notifiers: Notifiers,
    settings: JobSettings,
    metrics: Metrics | None = None,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=timezone,
        # A replica that was down skips missed runs instead of firing a burst;
        # each job catches up from the database on its next run.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    register_jobs(
        scheduler,
        db=db,
        clock=clock,
        wake_delivery=wake_delivery,
        notifiers=notifiers,
        settings=settings,
        metrics=metrics,
    )
    return scheduler
