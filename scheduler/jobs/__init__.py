"""Job registry: each job opens a unit of work and calls services, with the notifiers
the composition root built (bot/app.py; bot/cli.py for `msp-bot scheduler run`).
Exactly-once comes from the database (conditional statements), so any replica may
run any job; running one twice is harmless."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.metrics import Metrics
from bot.notify.home_tabs import refresh_stale_home_tabs
from bot.notify.notifiers import Notifiers
from bot.services.notices import SWEEPS
from scheduler.jobs.alerts import wake_snoozed_alerts
from scheduler.jobs.notices import run_sweep
from scheduler.jobs.outbox_retention import prune_outbox
from scheduler.jobs.requests import (
    apply_scheduled_changes,
    expire_pending_requests,
    roll_renewals,
)
from storage.engine import Database

Runner = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class JobSettings:
    home_refresh_seconds: float = 5.0
    request_sweep_seconds: float = 300.0
    snooze_sweep_seconds: float = 60.0  # a snooze ends within a minute of its time
    # Notices: due ones go out within this long of their moment (09:00, a day's start).
    notice_sweep_seconds: float = 300.0


def register_jobs(
    scheduler: AsyncIOScheduler,
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake_delivery: Callable[[], None],
    notifiers: Notifiers,
    settings: JobSettings,
    metrics: Metrics | None = None,
) -> None:
    """Every job under its id; with `metrics`, each run is counted and timed."""
    redraw = {"db": db, "clock": clock, "wake": wake_delivery}
    swept = {**redraw, "notifiers": notifiers}

    def add(job_id: str, job: Runner, trigger: BaseTrigger, **options: Any) -> None:
        func = metrics.timed_job(job_id, job) if metrics is not None else job
        scheduler.add_job(func, trigger, id=job_id, replace_existing=True, **options)

    add(
        "refresh_home_tabs",
        refresh_stale_home_tabs,
        IntervalTrigger(seconds=settings.home_refresh_seconds),
        kwargs=redraw,
    )
    add("prune_outbox", prune_outbox, CronTrigger(hour=3, minute=30), kwargs={"db": db})
    sweeps = (
        (apply_scheduled_changes, settings.request_sweep_seconds),
        (expire_pending_requests, settings.request_sweep_seconds),
        (roll_renewals, settings.request_sweep_seconds),
        (wake_snoozed_alerts, settings.snooze_sweep_seconds),
    )
    for job, seconds in sweeps:
        add(job.__name__, job, IntervalTrigger(seconds=seconds), kwargs=swept)
    for name in SWEEPS:
        add(
            name,
            run_sweep,
            IntervalTrigger(seconds=settings.notice_sweep_seconds),
            args=[name],
            kwargs=swept,
        )


# ---------------------------------------------------------------- by hand


def _everyone(job: Callable[..., Awaitable[int]]) -> Runner:
    """A job that sweeps every MSP at once (its claims are per row, not per MSP)."""

    async def run(
        *,
        db: Database,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
        notifiers: Notifiers,
        only: Collection[int] | None,
    ) -> int:
        if only is not None:
            raise ValueError("This job runs for every MSP at once; leave out --team.")
        return await job(db=db, clock=clock, wake=wake, notifiers=notifiers)

    return run


# `msp-bot scheduler run JOB`: every job the schedule runs, by its id.
RUNNABLE: dict[str, Runner] = {
    **{name: functools.partial(run_sweep, name) for name in SWEEPS},
    "apply_scheduled_changes": _everyone(apply_scheduled_changes),
    "expire_pending_requests": _everyone(expire_pending_requests),
    "renewals": _everyone(roll_renewals),
    "wake_snoozed_alerts": _everyone(wake_snoozed_alerts),
}
