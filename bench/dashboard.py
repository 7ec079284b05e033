#!/usr/bin/env python
"""The Home tab's dashboard built from the database with 1,000, 10,000 and 100,000 customers.

For each size (`--sizes`, default 1000,10000,100000) the script

1. makes a fresh database, migrates it and seeds the customers exactly as bench/customers.py
   does (it calls its `prepare`: one MSP T0001, U0001 `owner`, U0002 `member`; ~40 % active
   trials, ~40 % paid, ~10 % expired trials, ~10 % free; names like "Harbor Dental Group";
   ~30 % of the customers assigned to one of ten other staff and ~2 % to the member), then
   adds what the dashboard reads, with SQLAlchemy Core bulk statements (executemany in
   batches):

   * 0-3 locations per customer;
   * agents: 0-20 installed per customer, all reporting, except for ~10 % of the customers
     (1-20 installed, some of them not reporting);
   * `customer_usage` rows for the current month and the 11 before it, for every paid and
     active-trial customer (MAU <= users x 3; this month's row carries the customer's users
     and agents), and the customer's latest figures copied onto it as a usage upload does;
   * active trials re-dated so that ~1 % of them end within the next 7 days (the others in
     8-30 days);
   * a blocking max-MAU threshold (R20) for ~1 % of the customers, between half and 1.5
     times this month's MAU, so about half of those with usage are at or over it (the
     others keep the default 1,000,000, which never blocks).

   Seeding time is reported apart and is not part of any figure;
2. measures, in this process (no HTTP, no Slack), for the owner (the whole MSP) and for the
   member (the customers assigned to them), after W warm-up runs, N runs of:

   * `build`: open a unit of work, `bot.services.dashboard.dashboard(...)`, then
     `bot.views.home.home_view(...)`, and the unit of work's end; split into the database
     part (opening the unit of work, the dashboard's queries, its end) and building the view;
   * `publish`: open a unit of work, `bot.notify.home_tabs.publish_home_tab(...)` (the
     dashboard, the view and the outbox row that publishes it), and its commit;

   and reports median, p90, min and max per case;
3. checks every dashboard against figures computed in Python from the seeded rows (customers,
   billed and trial users, locations, MAU this month, overage, the lists' counts, trials
   ending within 7 days and the 10 shown, agents not reporting and the 5 customers shown,
   customers at their max-MAU threshold and the 5 shown with their MAU and threshold), the
   view's KPI fields, and the outbox row `publish` left; any mismatch makes the script
   exit with 1, so it cannot silently measure something else.

Goal: on SQLite, the Home view built from the database with a median under 50 ms at
10,000 customers and under 300 ms at 100,000 (judged on `build`, owner and member).

    python bench/dashboard.py                                # SQLite, 1,000 / 10,000 / 100,000
    python bench/dashboard.py --sizes 10000 -n 50 -w 5
    python bench/dashboard.py --explain                      # + each query's time and plan
    python bench/dashboard.py --after-seed-sql "CREATE INDEX ..." --after-seed-sql ANALYZE
    python bench/dashboard.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    python bench/dashboard.py --json /tmp/dashboard.json

`--database-url` DROPS schema public of a PostgreSQL database (or overwrites a SQLite file):
never point it at a database that matters. Nothing is contacted but that database. Exit
status: 0, or 1 when a figure did not match the seeded data.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path

# bench/customers.py: the customers' seeding
import customers as customers_bench
from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.engine import make_url

from bot.domain.customers import (
    FILTER_STATUSES,
    CustomerFilter,
    Status,
)
from bot.domain.roles import Role
from bot.ids import BlockId, SlashCommand
from bot.notify.home_tabs import publish_home_tab
from bot.results.dashboard import Dashboard
from bot.services import dashboard as dashboard_service
from bot.services.tenancy import Requester
from bot.views.home import home_view
from storage.engine import Database, is_sqlite
from storage.models import Customer, CustomerLocation, CustomerUsage, Msp, OutboxItem

TEAM_ID = customers_bench.TEAM_ID
OWNER_ID = customers_bench.OWNER_ID
MEMBER_ID = customers_bench.MEMBER_ID

DEFAULT_SIZES = (1_000, 10_000, 100_000)
GOALS_MS = {10_000: 50.0, 100_000: 300.0}  # SQLite, median of `build`
MAX_LOCATIONS = 3
MAX_AGENTS = 20
SILENT_SHARE = 0.10  # of customers with agents installed but not reporting
ENDING_SHARE = 0.01  # of active trials ending within TRIALS_ENDING_DAYS
THRESHOLD_SHARE = 0.01  # of customers with a blocking max-MAU threshold (R20)
THRESHOLD_OF_MAU = (0.5, 1.5)  # that threshold, as a multiple of this month's MAU
USAGE_MONTHS = 12  # this month and the 11 before it
USAGE_STATUSES = frozenset({Status.PAID.value, Status.ACTIVE_TRIAL.value})
MAU_PER_USER = 3
TRIAL_DAYS = 30
BATCH_ROWS = 5_000
EXPLAIN_REPEATS = 5
ROLES = {OWNER_ID: Role.OWNER, MEMBER_ID: Role.MEMBER}
PACKAGES = ("SQLAlchemy", "aiosqlite", "asyncpg", "slack_sdk")
KINDS = ("build", "publish")


# --------------------------------------------------------------------------- seeding


@dataclass
class SeedRow:
    """What the dashboard reads of one seeded customer."""

    id: int
    account_number: str
    name_key: str
    status: str
    users: int
    trial_end: date | None
    agents_total: int
    agents_reporting: int
    locations: int
    mau: int | None  # this month's usage row, if any
    max_mau_threshold: int | None = None  # R20: None never blocks

    @property
    def at_max_mau(self) -> bool:
        """R20: this month's MAU has reached a threshold that blocks."""
        return (
            self.status != Status.DELETED.value
            and self.mau is not None
            and self.max_mau_threshold is not None
            and self.mau >= self.max_mau_threshold
        )


@dataclass
class Seeding:
    size: int
    msp_id: int
    migrate_s: float
    customers_s: float  # bench/customers.py's seeding
    extra_s: float  # locations, agents, usage, trial ends (this script)
    statuses: dict[str, int]
    assignments: int
    locations: int
    usage_rows: int
    rows: list[SeedRow]
    member_ids: set[int]
    db_bytes: int | None = None


def month_before(first_day: date, months: int) -> date:
    index = first_day.year * 12 + first_day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def max_mau_threshold(rng: random.Random, mau: int | None) -> int | None:
    """THRESHOLD_SHARE of the customers get a threshold that blocks, around their MAU
    (at or over it about half the time); the others keep the default, never block."""
    if rng.random() >= THRESHOLD_SHARE:
        return None
    if not mau:  # no usage this month: never at it
        return rng.randint(1, 10)
    return max(1, round(mau * rng.uniform(*THRESHOLD_OF_MAU)))


async def add_dashboard_data(
    url: str, seeded: customers_bench.Seeded, *, seed: int, now: datetime, extra_sql: Sequence[str]
) -> tuple[list[SeedRow], int, int]:
    """Locations, agents, usage history and trial ends for the seeded customers."""
    rng = random.Random(seed * 7919 + 1)  # its own stream: customers.py's data is unchanged
    thresholds = random.Random(seed * 7919 + 2)  # and one of their own: the rest is unchanged
    today = now.date()  # the MSP's time zone is UTC
    months = [month_before(today.replace(day=1), k) for k in range(USAGE_MONTHS)]
    customers_table = Customer.__table__
    add_usage = insert(CustomerUsage.__table__)
    add_locations = insert(CustomerLocation.__table__)
    set_figures = (
        update(customers_table)
        .where(customers_table.c.id == bindparam("p_id"))
        .values(
            agents_total=bindparam("p_agents_total"),
            agents_reporting=bindparam("p_agents_reporting"),
            mau_this_month=bindparam("p_mau"),
            usage_reported_at=bindparam("p_reported_at"),
            trial_start=bindparam("p_trial_start"),
            trial_end=bindparam("p_trial_end"),
            max_mau_threshold=bindparam("p_threshold"),
        )
    )
    rows: list[SeedRow] = []
    updates: list[dict[str, Any]] = []
    locations: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    location_count = usage_count = 0
    database = Database(url)
    try:
        async with database.engine.begin() as connection:

            async def flush(statement: Any, batch: list[dict[str, Any]], *, force: bool) -> None:
                if batch and (force or len(batch) >= BATCH_ROWS):
                    await connection.execute(statement, batch)
                    batch.clear()

            for customer in seeded.customers:
                if rng.random() < SILENT_SHARE:
                    agents_total = rng.randint(1, MAX_AGENTS)
                    agents_reporting = rng.randint(0, agents_total - 1)
                else:
                    agents_total = agents_reporting = rng.randint(0, MAX_AGENTS)
                trial_end = customer.trial_end
                if customer.status == Status.ACTIVE_TRIAL.value:
                    soon = rng.random() < ENDING_SHARE
                    days = (
                        rng.randint(0, dashboard_service.TRIALS_ENDING_DAYS)
                        if soon
                        else rng.randint(dashboard_service.TRIALS_ENDING_DAYS + 1, TRIAL_DAYS)
                    )
                    trial_end = today + timedelta(days=days)
                mau: int | None = None
                if customer.status in USAGE_STATUSES:
                    for k, month in enumerate(months):
                        users = customer.users if k == 0 else rng.randint(0, customer.users)
                        total = agents_total if k == 0 else rng.randint(0, MAX_AGENTS)
                        reporting = agents_reporting if k == 0 else total
                        month_mau = rng.randint(0, users * MAU_PER_USER)
                        if k == 0:
                            mau = month_mau
                        usage.append(
                            {
                                "msp_id": seeded.msp_id,
                                "customer_id": customer.id,
                                "month": month,
                                "mau": month_mau,
                                "users": users,
                                "agents_total": total,
                                "agents_reporting": reporting,
                                "data_gb": round(rng.uniform(0, 50), 2),
                                "reported_at": now
                                if k == 0
                                else datetime.combine(month, datetime.min.time(), UTC)
                                + timedelta(days=27),
                            }
                        )
                        usage_count += 1
                    await flush(add_usage, usage, force=False)
                count = rng.randint(0, MAX_LOCATIONS)
                for position in range(count):
                    locations.append(
                        {
                            "customer_id": customer.id,
                            "position": position,
                            "name": f"Site {position + 1}",
                        }
                    )
                location_count += count
                await flush(add_locations, locations, force=False)
                threshold = max_mau_threshold(thresholds, mau)
                updates.append(
                    {
                        "p_id": customer.id,
                        "p_agents_total": agents_total,
                        "p_agents_reporting": agents_reporting,
                        "p_mau": mau or 0,
                        "p_reported_at": now if mau is not None else None,
                        "p_trial_start": trial_end - timedelta(days=TRIAL_DAYS)
                        if trial_end
                        else None,
                        "p_trial_end": trial_end,
                        "p_threshold": threshold,
                    }
                )
                await flush(set_figures, updates, force=False)
                rows.append(
                    SeedRow(
                        id=customer.id,
                        account_number=customer.account_number,
                        name_key=customer.name_key,
                        status=customer.status,
                        users=customer.users,
                        trial_end=trial_end,
                        agents_total=agents_total,
                        agents_reporting=agents_reporting,
                        locations=count,
                        mau=mau,
                        max_mau_threshold=threshold,
                    )
                )
            await flush(add_usage, usage, force=True)
            await flush(add_locations, locations, force=True)
            await flush(set_figures, updates, force=True)
            if not is_sqlite(url):  # as bench/customers.py: autovacuum would do it
                await connection.execute(text("ANALYZE"))
            for statement in extra_sql:
                await connection.execute(text(statement))
        if is_sqlite(url):
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await database.dispose()
    return rows, location_count, usage_count


def prepare(args: argparse.Namespace, url: str, size: int, now: datetime) -> Seeding:
    """Fresh database with SIZE customers (bench/customers.py), plus the dashboard's data."""
    seeded = customers_bench.prepare(url, size, args.seed, [])
    started = time.perf_counter()
    rows, locations, usage_rows = asyncio.run(
        add_dashboard_data(url, seeded, seed=args.seed, now=now, extra_sql=args.after_seed_sql)
    )
    extra_s = time.perf_counter() - started
    db_bytes = None
    if is_sqlite(url) and make_url(url).database:
        db_bytes = Path(str(make_url(url).database)).stat().st_size
    return Seeding(
        size=size,
        msp_id=seeded.msp_id,
        migrate_s=seeded.migrate_s,
        customers_s=seeded.seed_s,
        extra_s=extra_s,
        statuses=seeded.statuses,
        assignments=seeded.assignments,
        locations=locations,
        usage_rows=usage_rows,
        rows=rows,
        member_ids=seeded.member_ids,
        db_bytes=db_bytes,
    )


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    """The dashboard's figures computed from the seeded rows, the way the queries select."""

    whole_msp: bool
    today: date
    customers: int
    billable_users: int
    trial_users: int
    locations: int
    mau: int
    overage: int
    paid: int
    active_trials: int
    expired_trials: int
    trials_ending_total: int
    trials_ending: list[int]  # ids, soonest first
    silent_agents: int
    customers_with_silent_agents: int
    silent_agent_customers: list[int]  # ids, most silent first
    at_max_mau_total: int
    at_max_mau: list[tuple[int, int, int]]  # (id, MAU, threshold), furthest over first
    max_customers: int
    mau_allowance: int


def expected_figures(
    rows: Sequence[SeedRow], *, whole_msp: bool, today: date, max_customers: int, mau_allowance: int
) -> Expected:
    counted = [row for row in rows if row.status != Status.DELETED.value]

    def of(which: CustomerFilter) -> list[SeedRow]:
        statuses = {status.value for status in FILTER_STATUSES[which]}
        return [row for row in rows if row.status in statuses]

    last_day = today + timedelta(days=dashboard_service.TRIALS_ENDING_DAYS)
    ending = sorted(
        (
            row
            for row in rows
            if row.status == Status.ACTIVE_TRIAL.value
            and row.trial_end is not None
            and today <= row.trial_end <= last_day
        ),
        key=lambda row: (row.trial_end, row.name_key),
    )
    silent = sorted(
        (row for row in counted if row.agents_total > row.agents_reporting),
        key=lambda row: (row.agents_reporting - row.agents_total, row.name_key),
    )
    at_threshold = sorted(
        (row for row in rows if row.at_max_mau),
        key=lambda row: (row.max_mau_threshold - (row.mau or 0), row.name_key),
    )
    mau = sum(row.mau for row in rows if row.mau is not None)
    return Expected(
        whole_msp=whole_msp,
        today=today,
        customers=len(counted),
        billable_users=sum(row.users for row in of(CustomerFilter.PAID)),
        trial_users=sum(row.users for row in of(CustomerFilter.TRIALS)),
        locations=sum(row.locations for row in counted),
        mau=mau,
        overage=max(0, mau - mau_allowance) if whole_msp else 0,
        paid=len(of(CustomerFilter.PAID)),
        active_trials=len(of(CustomerFilter.TRIALS)),
        expired_trials=len(of(CustomerFilter.EXPIRED)),
        trials_ending_total=len(ending),
        trials_ending=[row.id for row in ending[: dashboard_service.TRIALS_SHOWN]],
        silent_agents=sum(row.agents_total - row.agents_reporting for row in silent),
        customers_with_silent_agents=len(silent),
        silent_agent_customers=[row.id for row in silent[: dashboard_service.SILENT_AGENTS_SHOWN]],
        at_max_mau_total=len(at_threshold),
        at_max_mau=[
            (row.id, row.mau or 0, row.max_mau_threshold)
            for row in at_threshold[: dashboard_service.AT_MAX_MAU_SHOWN]
        ],
        max_customers=max_customers,
        mau_allowance=mau_allowance,
    )


def check_board(board: Dashboard, expected: Expected) -> list[str]:
    """Where the dashboard differs from the seeded data (empty: it matches)."""
    got: dict[str, Any] = {
        "whole_msp": board.whole_msp,
        "today": board.today,
        "customers": board.customers,
        "billable_users": board.billable_users,
        "trial_users": board.trial_users,
        "locations": board.locations,
        "mau": board.mau,
        "overage": board.overage,
        "paid": board.paid,
        "active_trials": board.active_trials,
        "expired_trials": board.expired_trials,
        "trials_ending_total": board.trials_ending_total,
        "trials_ending": [trial.id for trial in board.trials_ending],
        "silent_agents": board.silent_agents,
        "customers_with_silent_agents": board.customers_with_silent_agents,
        "silent_agent_customers": [row.id for row in board.silent_agent_customers],
        "at_max_mau_total": board.at_max_mau_total,
        "at_max_mau": [(row.id, row.mau, row.threshold) for row in board.at_max_mau],
    }
    want = asdict(expected)
    problems = [
        f"{key}: {value!r} != {want[key]!r}" for key, value in got.items() if value != want[key]
    ]
    if expected.whole_msp:
        allowances = board.allowances
        if allowances is None or (allowances.max_customers, allowances.mau_allowance) != (
            expected.max_customers,
            expected.mau_allowance,
        ):
            problems.append(f"allowances: {allowances!r}")
        if board.delivery is None or board.delivery.failed != 0:
            problems.append(f"delivery: {board.delivery!r} (expected no failures)")
    elif board.allowances is not None or board.delivery is not None:
        problems.append("a member sees the MSP's allowances or delivery problems")
    return problems


def check_view(view: dict[str, Any], expected: Expected) -> list[str]:
    """The view's KPI fields show the expected figures."""
    kpis = [block for block in view.get("blocks", []) if block.get("block_id") == BlockId.HOME_KPIS]
    if len(kpis) != 1:
        return [f"{len(kpis)} KPI blocks in the view"]
    texts = [item["text"] for item in kpis[0].get("fields", [])]
    wanted = [
        f"*Customers*\n{expected.customers:,}",
        f"*Active users (billed)*\n{expected.billable_users:,}",
        f"*Trial users*\n{expected.trial_users:,}",
        f"*Locations*\n{expected.locations:,}",
        f"*MAU this month*\n{expected.mau:,}",
    ]
    return [
        f"view: no KPI field starting with {prefix!r}"
        for prefix in wanted
        if not any(text == prefix or text.startswith(prefix + " ") for text in texts)
    ]


# --------------------------------------------------------------------------- measuring


def open_database(url: str, pragmas: Sequence[str]) -> Database:
    """The bot's `Database`; with `--sqlite-pragma`, each SQLite connection also runs
    `PRAGMA <each>` after the bot's own (to size a change to storage/engine.py)."""
    database = Database(url)
    if pragmas and is_sqlite(url):

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        event.listen(database.engine.sync_engine, "connect", on_connect)
    return database


@dataclass
class Timing:
    """One case: N runs, milliseconds."""

    user: str
    role: str
    kind: str  # build | publish
    runs: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    cpu_median_ms: float  # CPU of this process (all threads: aiosqlite's worker too)
    db_median_ms: float | None = None  # build: unit of work + dashboard queries
    view_median_ms: float | None = None  # build: home_view
    failures: list[str] = field(default_factory=list)


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    db_seconds: float | None = None
    view_seconds: float | None = None
    board: Dashboard | None = None
    view: dict[str, Any] | None = None


def summarise(user: str, role: Role, kind: str, runs: list[Run]) -> Timing:
    ordered = sorted(run.seconds for run in runs)
    db = [run.db_seconds for run in runs if run.db_seconds is not None]
    view = [run.view_seconds for run in runs if run.view_seconds is not None]
    return Timing(
        user=user,
        role=role.value,
        kind=kind,
        runs=len(runs),
        median_ms=statistics.median(ordered) * 1000.0,
        p90_ms=harness.percentile_ms(ordered, 0.90),
        min_ms=ordered[0] * 1000.0,
        max_ms=ordered[-1] * 1000.0,
        cpu_median_ms=statistics.median(run.cpu_seconds for run in runs) * 1000.0,
        db_median_ms=statistics.median(db) * 1000.0 if db else None,
        view_median_ms=statistics.median(view) * 1000.0 if view else None,
    )


async def build_once(database: Database, requester: Requester, now: datetime) -> Run:
    cpu = time.process_time()
    started = time.perf_counter()
    async with database.unit_of_work() as session:
        board = await dashboard_service.dashboard(session, requester=requester, now=now)
        queried = time.perf_counter()
        view = home_view(board=board, command=SlashCommand.MSP)
        built = time.perf_counter()
    ended = time.perf_counter()
    return Run(
        seconds=ended - started,
        cpu_seconds=time.process_time() - cpu,
        db_seconds=(queried - started) + (ended - built),
        view_seconds=built - queried,
        board=board,
        view=view,
    )


async def publish_once(database: Database, requester: Requester, now: datetime) -> Run:
    cpu = time.process_time()
    started = time.perf_counter()
    async with database.unit_of_work() as session:
        await publish_home_tab(session, requester=requester, now=now)
    return Run(time.perf_counter() - started, time.process_time() - cpu)


async def repeat(runs: int, warmup: int, once: Callable[[], Awaitable[Run]]) -> list[Run]:
    for _ in range(warmup):
        await once()
    gc.collect()
    return [await once() for _ in range(runs)]


async def check_outbox(
    database: Database, msp_id: int, user_id: str, view: dict[str, Any], written: int
) -> list[str]:
    """`publish` left `written` rows in the person's Home lane, the newest pending with the
    view `build` drew, the others superseded."""
    lane = f"home:{user_id}"
    async with database.unit_of_work() as session:
        statuses = dict(
            (
                await session.execute(
                    select(OutboxItem.status, func.count())
                    .where(OutboxItem.msp_id == msp_id, OutboxItem.lane == lane)
                    .group_by(OutboxItem.status)
                )
            ).all()
        )
        pending = (
            await session.scalars(
                select(OutboxItem).where(
                    OutboxItem.msp_id == msp_id,
                    OutboxItem.lane == lane,
                    OutboxItem.status == "pending",
                )
            )
        ).all()
    problems = []
    if statuses != {"pending": 1} | ({"superseded": written - 1} if written > 1 else {}):
        problems.append(f"outbox {lane}: {statuses} after {written} publishes")
    if len(pending) == 1 and pending[0].payload != {"user_id": user_id, "view": view}:
        problems.append(f"outbox {lane}: the pending view differs from the one built")
    return problems


async def measure(
    args: argparse.Namespace, url: str, seeding: Seeding, now: datetime
) -> list[Timing]:
    database = open_database(url, args.sqlite_pragma)
    timings: list[Timing] = []
    try:
        async with database.unit_of_work() as session:
            msp = await session.get(Msp, seeding.msp_id)
            assert msp is not None
            max_customers, mau_allowance = msp.max_customers, msp.mau_allowance
        for user_id, role in ROLES.items():
            requester = Requester(seeding.msp_id, TEAM_ID, user_id, role)
            whole_msp = role is not Role.MEMBER
            rows = [row for row in seeding.rows if whole_msp or row.id in seeding.member_ids]
            expected = expected_figures(
                rows,
                whole_msp=whole_msp,
                today=now.date(),
                max_customers=max_customers,
                mau_allowance=mau_allowance,
            )

            async def build(requester: Requester = requester) -> Run:
                return await build_once(database, requester, now)

            async def publish(requester: Requester = requester) -> Run:
                return await publish_once(database, requester, now)

            results = await repeat(args.runs, args.warmup, build)
            timing = summarise(user_id, role, "build", results)
            problems: list[str] = []
            for run in results:  # every run's dashboard and view
                assert run.board is not None and run.view is not None
                problems += check_board(run.board, expected) + check_view(run.view, expected)
            timing.failures = list(dict.fromkeys(problems))
            view = results[-1].view
            assert view is not None
            timings.append(timing)
            print_timing(timing)
            publishes = await repeat(args.runs, args.warmup, publish)
            timing = summarise(user_id, role, "publish", publishes)
            timing.failures = await check_outbox(
                database, seeding.msp_id, user_id, view, args.runs + args.warmup
            )
            timings.append(timing)
            print_timing(timing)
    finally:
        await database.dispose()
    return timings


# --------------------------------------------------------------------------- explain


async def explain(
    url: str, seeding: Seeding, now: datetime, pragmas: Sequence[str]
) -> dict[str, Any]:
    """Each statement of `dashboard(...)`, per person: its execute time (median of a few
    warm calls, fetching included) and its plan (SQLite: EXPLAIN QUERY PLAN; PostgreSQL:
    EXPLAIN (ANALYZE, BUFFERS))."""
    database = open_database(url, pragmas)
    captured: list[tuple[str, Any, float]] = []
    postgres = not is_sqlite(url)

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        started = conn.info["bench_started"].pop()
        captured.append((statement, parameters, time.perf_counter() - started))

    event.listen(database.engine.sync_engine, "before_cursor_execute", before)
    event.listen(database.engine.sync_engine, "after_cursor_execute", after)
    report: dict[str, Any] = {}
    try:
        for user_id, role in ROLES.items():
            requester = Requester(seeding.msp_id, TEAM_ID, user_id, role)
            calls: list[list[tuple[str, Any, float]]] = []
            totals = []
            for _ in range(EXPLAIN_REPEATS):
                captured.clear()
                started = time.perf_counter()
                async with database.unit_of_work() as session:
                    await dashboard_service.dashboard(session, requester=requester, now=now)
                totals.append(time.perf_counter() - started)
                calls.append(list(captured))
            statements = []
            async with database.engine.connect() as connection:
                for index, (statement, parameters, _) in enumerate(calls[-1]):
                    seconds = statistics.median(call[index][2] for call in calls)
                    plan: list[str] = []
                    if statement.lstrip().upper().startswith("SELECT"):
                        prefix = (
                            "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
                        )
                        result = await connection.exec_driver_sql(prefix + statement, parameters)
                        plan = [
                            str(row[0]) if postgres else f"{row[1]:>3} {row[3]}"
                            for row in result.all()
                        ]
                    statements.append({"sql": statement, "ms": seconds * 1000.0, "plan": plan})
            report[f"{role.value} {user_id}"] = {
                "dashboard_ms": statistics.median(totals) * 1000.0,
                "statements": statements,
            }
    finally:
        await database.dispose()
    return report


def print_explain(report: dict[str, Any]) -> None:
    for who, entry in report.items():
        print(
            f"\n-- dashboard() for the {who}: {entry['dashboard_ms']:.1f} ms"
            " (unit of work included; median of a few warm calls); its statements:"
        )
        for statement in entry["statements"]:
            sql = " ".join(statement["sql"].split())
            print(f"   {statement['ms']:7.2f} ms  {sql[:200]}{'...' if len(sql) > 200 else ''}")
            for line in statement["plan"]:
                print(f"              {line}")


# --------------------------------------------------------------------------- report


@dataclass
class SizeReport:
    size: int
    backend: str
    seeding: dict[str, Any]
    timings: list[Timing] = field(default_factory=list)
    explain: dict[str, Any] | None = None


def machine_info() -> dict[str, Any]:
    machine = harness.machine_info(PACKAGES)
    machine["sqlite"] = sqlite3.sqlite_version
    return machine


def print_header(machine: dict[str, Any], args: argparse.Namespace, database: str) -> None:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    print(
        f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r}"
        f" load average before: {machine['load_average_before']}"
    )
    print(f"         {machine['python']} on {machine['platform']}")
    print(f"         {packages}, SQLite {machine['sqlite']}")
    print(
        f"runs:    {args.runs} per case after {args.warmup} warm-up run(s), in this process"
        " (no HTTP, no Slack)"
    )
    print("         build = unit of work + dashboard() + home_view(): db (unit of work, queries)")
    print("         + view; publish = unit of work + publish_home_tab() + commit (the outbox row)")
    print(f"db:      {database}")
    for statement in args.after_seed_sql:
        print(f"         after seeding: {statement}")
    for pragma in args.sqlite_pragma:
        print(f"         on each measured connection: PRAGMA {pragma}")


def print_seeded(report: SizeReport) -> None:
    s = report.seeding
    statuses = s["statuses"]
    size_text = f", file {s['db_bytes'] / 1e6:.1f} MB" if s["db_bytes"] else ""
    print(
        f"\n== {report.size:,} customers on {report.backend} ==\n"
        f"seeded in {s['customers_s'] + s['extra_s']:.1f} s (customers {s['customers_s']:.1f} s,"
        f" locations/agents/usage {s['extra_s']:.1f} s, migrations {s['migrate_s']:.1f} s;"
        f" not measured): {statuses.get('active_trial', 0):,} active trials,"
        f" {statuses.get('paid', 0):,} paid, {statuses.get('expired_trial', 0):,} expired trials,"
        f" {statuses.get('free', 0):,} free;\n  {s['locations']:,} locations,"
        f" {s['usage_rows']:,} usage rows, {s['assignments']:,} assignments;"
        f" {s['trials_ending']:,} trials end within 7 days,"
        f" {s['with_silent_agents']:,} customers have agents not reporting;\n"
        f"  {s['with_threshold']:,} have a blocking max-MAU threshold,"
        f" {s['at_max_mau']:,} of them at or over it;"
        f" the member sees {s['member_customers']:,} customers{size_text}"
    )
    print(
        f"{'case':24} {'N':>4} {'median ms':>9} {'p90 ms':>7} {'min ms':>7} {'max ms':>7}"
        f" {'cpu ms':>7} {'db ms':>7} {'view ms':>7}  check"
    )


def print_timing(timing: Timing) -> None:
    db = f"{timing.db_median_ms:7.1f}" if timing.db_median_ms is not None else f"{'-':>7}"
    view = f"{timing.view_median_ms:7.1f}" if timing.view_median_ms is not None else f"{'-':>7}"
    check = "ok" if not timing.failures else "MISMATCH: " + "; ".join(timing.failures[:3])
    print(
        f"{timing.kind + ' (' + timing.role + ')':24} {timing.runs:>4} {timing.median_ms:9.1f}"
        f" {timing.p90_ms:7.1f} {timing.min_ms:7.1f} {timing.max_ms:7.1f}"
        f" {timing.cpu_median_ms:7.1f} {db} {view}  {check}",
        flush=True,
    )


def judge_goals(reports: list[SizeReport]) -> list[dict[str, Any]]:
    verdicts = []
    for size, goal_ms in GOALS_MS.items():
        entry: dict[str, Any] = {"size": size, "goal_median_ms": goal_ms}
        report = next((r for r in reports if r.size == size and r.backend == "sqlite"), None)
        if report is None:
            entry |= {"evaluated": False, "why": f"needs {size:,} customers on SQLite"}
        elif any(t.failures for t in report.timings):
            entry |= {"evaluated": False, "why": "a figure did not match the seeded data"}
        else:
            build = [t for t in report.timings if t.kind == "build"]
            publish = [t for t in report.timings if t.kind == "publish"]
            slowest = max(build, key=lambda t: t.median_ms)
            slowest_publish = max(publish, key=lambda t: t.median_ms)
            entry |= {
                "evaluated": True,
                "met": slowest.median_ms < goal_ms,
                "slowest": f"build ({slowest.role})",
                "slowest_median_ms": round(slowest.median_ms, 1),
                "publish_slowest_median_ms": round(slowest_publish.median_ms, 1),
                "publish_within": slowest_publish.median_ms < goal_ms,
            }
        verdicts.append(entry)
    return verdicts


def print_goals(verdicts: list[dict[str, Any]]) -> None:
    print()
    for entry in verdicts:
        target = f"{entry['size']:,} customers on SQLite: median < {entry['goal_median_ms']:.0f} ms"
        if not entry["evaluated"]:
            print(f"goal ({target}): not evaluated: {entry['why']}")
            continue
        verdict = "MET" if entry["met"] else "NOT MET"
        within = "within" if entry["publish_within"] else "NOT within"
        print(
            f"goal ({target}): {verdict}; slowest median: {entry['slowest']}"
            f" {entry['slowest_median_ms']} ms (publish_home_tab:"
            f" {entry['publish_slowest_median_ms']} ms, {within} the same bound)"
        )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time to build the Home tab's dashboard from the database with many customers."
    )
    parser.add_argument(
        "--sizes",
        type=harness.whole_numbers,
        default=list(DEFAULT_SIZES),
        help="customers to seed, one fresh database each (1000,10000,100000)",
    )
    parser.add_argument("--runs", "-n", type=harness.positive, default=30, help="per case (30)")
    parser.add_argument("--warmup", "-w", type=int, default=3, help="per case (3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data (1)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (schema public is DROPPED and recreated) or a SQLite file URL;"
        " default: fresh SQLite files in a temporary directory",
    )
    parser.add_argument(
        "--after-seed-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="run this statement after seeding (repeatable), e.g. to try an index",
    )
    parser.add_argument(
        "--sqlite-pragma",
        action="append",
        default=[],
        metavar="PRAGMA",
        help="SQLite: also run `PRAGMA <this>` on each of the measured connections"
        " (repeatable), e.g. mmap_size=268435456",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="also print each dashboard statement's time and plan",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    return args


def run_size(args: argparse.Namespace, url: str, size: int, now: datetime) -> SizeReport:
    seeding = prepare(args, url, size, now)
    today = now.date()
    ending_last = today + timedelta(days=dashboard_service.TRIALS_ENDING_DAYS)
    report = SizeReport(
        size=size,
        backend=make_url(url).get_backend_name(),
        seeding={
            "migrate_s": seeding.migrate_s,
            "customers_s": seeding.customers_s,
            "extra_s": seeding.extra_s,
            "statuses": seeding.statuses,
            "assignments": seeding.assignments,
            "locations": seeding.locations,
            "usage_rows": seeding.usage_rows,
            "member_customers": len(seeding.member_ids),
            "trials_ending": sum(
                1
                for row in seeding.rows
                if row.status == Status.ACTIVE_TRIAL.value
                and row.trial_end is not None
                and today <= row.trial_end <= ending_last
            ),
            "with_silent_agents": sum(
                1 for row in seeding.rows if row.agents_total > row.agents_reporting
            ),
            "with_threshold": sum(1 for row in seeding.rows if row.max_mau_threshold is not None),
            "at_max_mau": sum(1 for row in seeding.rows if row.at_max_mau),
            "db_bytes": seeding.db_bytes,
        },
    )
    print_seeded(report)
    report.timings = asyncio.run(measure(args, url, seeding, now))
    if args.explain:
        report.explain = asyncio.run(explain(url, seeding, now, args.sqlite_pragma))
        print_explain(report.explain)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.quiet_logging()
    machine = machine_info()
    now = datetime.now(UTC)  # one clock for the seed and every dashboard
    reports: list[SizeReport] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="msp-bench-dashboard-") as tmp:
        shown = (
            make_url(args.database_url).render_as_string(hide_password=True)
            if args.database_url
            else f"sqlite+aiosqlite:///{tmp}/dashboard-SIZE.db (a fresh file per size)"
        )
        print_header(machine, args, shown)
        for size in args.sizes:
            url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / f'dashboard-{size}.db'}"
            reports.append(run_size(args, url, size, now))
            if not args.database_url:
                for suffix in ("", "-wal", "-shm"):
                    Path(tmp, f"dashboard-{size}.db{suffix}").unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    verdicts = judge_goals(reports)
    print_goals(verdicts)
    failed = any(timing.failures for report in reports for timing in report.timings)
    if failed:
        print("FIGURES DID NOT MATCH THE SEEDED DATA (see 'check' above): exit status 1")
    machine["load_average_after"] = harness.load_average()
    print(f"total time: {elapsed:.1f} s; load average after: {machine['load_average_after']}")
    if args.json:
        payload = {
            "machine": machine,
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in vars(args).items()
                if key != "database_url"
            }
            | {"database": shown, "now": now.isoformat(timespec="seconds")},
            "sizes": [asdict(report) for report in reports],
            "goals": verdicts,
            "total_s": elapsed,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
