#!/usr/bin/env python
"""The scheduler's notice sweeps with 10,000 and 100,000 customers and the same number due.

For each size (`--customers`, default 10000,100000) the script

1. makes a fresh database (a SQLite file in a temporary directory, or with `--database-url`
   a PostgreSQL database made beside the one named), migrates it (`storage.migrate.upgrade`)
   and seeds it with SQLAlchemy Core bulk inserts (executemany in batches), as
   bench/customers.py does (its names, account numbers and customer rows):

   * `--msps` MSPs (default 1; T0001, T0002...), in the time zones of ZONES in turn (UTC,
     America/Los_Angeles, Asia/Tokyo, Pacific/Kiritimati...), each with U0001 `owner`,
     U0002 `member`, the default trial notice days (7,3,1) and channel subscriptions: C0TRIALS
     (topic trials), C0REQUESTS (requests), C0MAU (mau), C0DIGEST (digest), C0ALERTS (alerts);
   * SIZE customers spread over the MSPs, with bench/customers.py's mix (~40 % active trials,
     ~40 % paid, ~10 % expired trials, ~10 % free; ~30 % assigned to other staff, ~2 % to the
     member), re-dated so that **exactly `--due` (default 1,000) are due for each sweep that
     is about customers**, and the others are not:

     - trial_expiry_notices: D active trials ending 7, 3 or 1 days ahead (in turn); every
       other active trial ends 8-30 days ahead (beyond the widest notice day);
     - end_trials: D more active trials whose last day was 1-3 days ago;
     - renewal_window_notices: D paid customers renewing 30-37 days ahead (the window's last
       week before the 30-day cut-off); every other paid customer renews 1-29 or 38-365 days
       ahead;
     - max_mau_alerts (if the working tree has it): D paid customers with a max-MAU threshold
       at or under this month's MAU, and D/2 more with one above it (the others keep the
       default 1,000,000, which never blocks);
     - expired trials (trial ended, status already moved on) and free customers stay as
       bench/customers.py makes them: not due for anything;

   * this month's `customer_usage` row (MAU <= users x 3) for every paid and active-trial
     customer, and the MSP's MAU allowance set so that this month's MAU is at 90 % of it
     (mau_notices: the 80 % notice, and a projected overage early in the month);
   * `--requests` (default 100) change requests pending for two days (request_reminders:
     due) and as many asked an hour ago (not due), each with its approval message (a sent
     outbox post in C0APPROVALS) to reply to.

   Seeding time is reported apart and is not part of any figure. The seeded database is
   kept as the master copy (a SQLite file checkpointed; PostgreSQL's VACUUM ANALYZEd);
2. after `--warmup` untimed rounds (default 1: SQLAlchemy's statement cache filled, as in a
   scheduler that has been running), for each of `--runs` runs (default 5) and each sweep of
   `bot.services.notices.SWEEPS`, copies the master to a fresh database (a file copy, or a
   PostgreSQL database made with the master as its template: every run finds the same due
   set; nothing is reseeded), opens the bot's `Database` on it, warms its
   connection (one small query), then times `scheduler.jobs.notices.run_sweep(name, db=,
   clock=, wake=, notifiers=)`: the sweep's queries, the notices' keys claimed and the outbox posts
   enqueued, and the commits (a chunk of due rows per transaction). It also notes the
   transactions that wrote and the longest of them from its first write to its commit: how
   long SQLite's one write lock was held (`--chunk N` sets the chunk, a large N putting a
   sweep in one transaction, as before chunks). Right after, on the same database, it times
   the same sweep again (everything already claimed). The clock is fixed (`--now`, default
   today at 10:00 UTC);
3. checks each run: the notices (`notices` rows) and outbox posts each sweep made, against
   what the seed says is due (trial expiry, trials ended, renewal window: D notices and D
   posts; reminders: R notices and 2R posts, the approval thread and C0REQUESTS; MAU and
   digests: what `bot.domain` says is due per MSP; max-MAU alerts: D notices), the trials
   ended (D customers now expired trials), and 0 notices and 0 posts on the repeat; any
   mismatch makes the script exit with 1;
4. runs each sweep once more on a fresh copy with every statement captured (SQL, time,
   fetching included) and prints them grouped by shape with SQLite's `EXPLAIN QUERY PLAN`
   (PostgreSQL: EXPLAIN) for the SELECTs and UPDATEs, and whether the due queries use their
   indexes (ix_customers_msp_id_status_trial_end, ix_customers_msp_id_status_renewal_date).
   `--profile DIR` also writes a cProfile of one more run per sweep to DIR.

Goal: 100,000 customers with 1 % due, each sweep under 1 s (on SQLite, and PostgreSQL is
measured the same way); and 10,000 against
100,000 customers with the same number due, to show that the cost follows what is due.

    python bench/scheduler.py                              # 10,000 and 100,000; D=1,000; 5 runs
    python bench/scheduler.py --customers 100000 --due 1000 --runs 9
    python bench/scheduler.py --msps 4                     # 4 MSPs in 4 time zones
    python bench/scheduler.py --sweeps trial_expiry_notices,end_trials
    python bench/scheduler.py --profile /tmp/prof          # + cProfile per sweep
    python bench/scheduler.py --json /tmp/scheduler.json

    python bench/scheduler.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB

SQLite by default (a fresh file per size, deleted at the end). `--database-url` takes
PostgreSQL only, and MAKES AND DROPS databases DB_scheduler_SIZE and DB_scheduler_SIZE_run on
that server (the database named is not touched). Nothing else is contacted. Exit status: 0,
or 1 when a count did not match the seeded data.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import math
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import _harness as harness  # first: the repository on the import path

# bench/customers.py: names, account numbers and customer rows
import customers as customers_bench
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain import notices as rules
from bot.domain.customers import Status
from bot.domain.mau import month_start, project_month_end
from bot.domain.roles import Role
from bot.notify.notifiers import outbox_notifiers
from bot.services import notices as notices_service
from bot.services import staff
from scheduler.jobs.notices import run_sweep
from storage import migrate
from storage.engine import Database
from storage.models import (
    AlertSubscription,
    ChangeRequest,
    Customer,
    CustomerAssignment,
    CustomerUsage,
    Msp,
    Notice,
    OutboxItem,
)
from storage.repositories import msps as msp_repo

OWNER_ID = customers_bench.OWNER_ID
MEMBER_ID = customers_bench.MEMBER_ID
OTHER_STAFF = customers_bench.OTHER_STAFF
ZONES = (
    "UTC",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Pacific/Kiritimati",  # UTC+14: already tomorrow for most of the UTC day
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Sao_Paulo",
)
SUBSCRIPTIONS = {  # channel -> topics, for every MSP
    "C0TRIALS": ["trials"],
    "C0REQUESTS": ["requests"],
    "C0MAU": ["mau"],
    "C0DIGEST": ["digest"],
    "C0ALERTS": ["alerts"],
}
APPROVALS_CHANNEL = "C0APPROVALS"
DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_DUE = 1_000
DEFAULT_REQUESTS = 100
GOAL_SIZE = 100_000
GOAL_S = 1.0  # each sweep, median wall time, SQLite
TRIAL_DAYS = 30
TRIAL_NOTICE_DAYS = rules.DEFAULT_TRIAL_NOTICE_DAYS  # (7, 3, 1)
WIDEST_NOTICE = max(TRIAL_NOTICE_DAYS)
RENEWAL_FIRST = rules.renewal_window_range(date(2000, 1, 1))[0] - date(2000, 1, 1)  # 30 days
RENEWAL_LAST = rules.renewal_window_range(date(2000, 1, 1))[1] - date(2000, 1, 1)  # 37 days
MAU_PER_USER = 3
MAU_USED = 0.9  # this month's MAU as a share of the MSP's allowance
ASSIGNED_SHARE = customers_bench.ASSIGNED_SHARE
MEMBER_SHARE = customers_bench.MEMBER_SHARE
BATCH_ROWS = 5_000
CUSTOMER_SWEEPS = ("trial_expiry_notices", "end_trials", "renewal_window_notices")
DUE_INDEXES = {
    "trial_expiry_notices": "ix_customers_msp_id_status_trial_end",
    "end_trials": "ix_customers_msp_id_status_trial_end",
    "renewal_window_notices": "ix_customers_msp_id_status_renewal_date",
}
PACKAGES = ("SQLAlchemy", "aiosqlite", "asyncpg")


# --------------------------------------------------------------------------- seeding


@dataclass
class Expected:
    """What one sweep must make on a fresh copy: None where the bench does not say."""

    notices: int
    posts: int | None
    expired: int = 0  # customers moved to expired_trial (end_trials)


@dataclass
class Seeding:
    size: int
    due: int
    msps: list[dict[str, Any]]  # id, team, zone, local date, allowance, MAU
    migrate_s: float
    seed_s: float
    statuses: dict[str, int]
    assignments: int
    usage_rows: int
    requests_waiting: int
    requests_fresh: int
    db_bytes: int
    expected: dict[str, Expected]


@dataclass(frozen=True)
class Tenant:
    id: int
    team_id: str
    zone: str
    today: date
    local_now: datetime


def not_window_renewal(rng: random.Random) -> int:
    """Days to a renewal outside the renewal window's last week (30-37 days ahead)."""
    first, last = RENEWAL_FIRST.days, RENEWAL_LAST.days
    days = rng.randint(1, 365 - (last - first + 1))
    return days + (last - first + 1) if days >= first else days


def row_of_status(
    status: str, name: str, account: str, rng: random.Random, tenant: Tenant, now: datetime
) -> dict[str, Any]:
    """A bench/customers.py row of this status (drawn until one comes out so)."""
    while True:
        row = customers_bench.customer_row(
            name, account, rng, msp_id=tenant.id, today=tenant.today, now=now
        )
        if row["status"] == status:
            return row


async def seed(url: str, args: argparse.Namespace, size: int, now: datetime) -> Seeding:
    """The MSPs, customers, usage, assignments and requests of one scenario."""
    rng = random.Random(args.seed)
    due = args.due
    started = time.perf_counter()
    database = Database(url)
    tenants: list[Tenant] = []
    try:
        async with database.unit_of_work() as session:
            for index in range(args.msps):
                team_id, zone = f"T{index + 1:04d}", ZONES[index]
                for user_id, role in ((OWNER_ID, Role.OWNER), (MEMBER_ID, Role.MEMBER)):
                    await staff.grant_role_as_operator(
                        session,
                        team_id=team_id,
                        target_user_id=user_id,
                        new_role=role,
                        timezone=zone,
                        now=now,
                    )
                msp = await msp_repo.get_by_team(session, team_id)
                assert msp is not None
                local_now = now.astimezone(ZoneInfo(zone))
                tenants.append(Tenant(msp.id, team_id, zone, local_now.date(), local_now))
                await session.execute(
                    update(Msp).where(Msp.id == msp.id).values(max_customers=size * 2 + 1000)
                )
                for channel, topics in SUBSCRIPTIONS.items():
                    session.add(
                        AlertSubscription(
                            msp_id=msp.id,
                            target=channel,
                            target_kind="channel",
                            topics=topics,
                            created_by=OWNER_ID,
                            created_at=now - timedelta(days=30),
                        )
                    )

        # Who is due for what: disjoint sets of customer positions.
        positions = list(range(size))
        rng.shuffle(positions)
        roles: dict[int, str] = {}
        groups = [
            ("expiring", due),
            ("ended", due),
            ("renewing", due),
            ("at_max_mau", due),
            ("under_max_mau", due // 2),
        ]
        cursor = 0
        for role, count in groups:
            for position in positions[cursor : cursor + count]:
                roles[position] = role
            cursor += count

        names = customers_bench.company_names(size, rng)
        accounts = customers_bench.account_numbers(size)
        rows: list[dict[str, Any]] = []
        usage: list[dict[str, Any]] = []
        mau_by_msp: dict[int, int] = {tenant.id: 0 for tenant in tenants}
        for position, (name, account) in enumerate(zip(names, accounts, strict=True)):
            tenant = tenants[position % len(tenants)]
            today = tenant.today
            role = roles.get(position, "")
            if role in ("expiring", "ended"):
                row = row_of_status(Status.ACTIVE_TRIAL.value, name, account, rng, tenant, now)
            elif role in ("renewing", "at_max_mau", "under_max_mau"):
                row = row_of_status(Status.PAID.value, name, account, rng, tenant, now)
            else:
                row = customers_bench.customer_row(
                    name, account, rng, msp_id=tenant.id, today=today, now=now
                )
            if row["status"] == Status.ACTIVE_TRIAL.value:
                if role == "expiring":
                    days = TRIAL_NOTICE_DAYS[position % len(TRIAL_NOTICE_DAYS)]
                elif role == "ended":
                    days = -rng.randint(1, 3)
                else:
                    days = rng.randint(WIDEST_NOTICE + 1, TRIAL_DAYS)
                end = today + timedelta(days=days)
                row.update(trial_start=end - timedelta(days=TRIAL_DAYS), trial_end=end)
            elif row["status"] == Status.PAID.value:
                if role == "renewing":
                    days = rng.randint(RENEWAL_FIRST.days, RENEWAL_LAST.days)
                else:
                    days = not_window_renewal(rng)
                renewal = today + timedelta(days=days)
                row.update(renewal_date=renewal, contract_start=renewal - timedelta(days=365))
            if row["status"] in (Status.PAID.value, Status.ACTIVE_TRIAL.value):
                if role in ("at_max_mau", "under_max_mau"):
                    row["users"] = max(1, row["users"])
                    mau = rng.randint(1, row["users"] * MAU_PER_USER)
                    if role == "at_max_mau":
                        row["max_mau_threshold"] = rng.randint(max(1, mau // 2), mau)
                    else:
                        row["max_mau_threshold"] = mau + rng.randint(1, 50)
                else:
                    mau = rng.randint(0, row["users"] * MAU_PER_USER)
                row["mau_this_month"] = mau
                row["usage_reported_at"] = now
                mau_by_msp[tenant.id] += mau
                usage.append(
                    {
                        "msp_id": tenant.id,
                        "customer_id": None,  # filled in once the ids are known
                        "position": position,
                        "month": month_start(today),
                        "mau": mau,
                        "users": row["users"],
                        "agents_total": 0,
                        "agents_reporting": 0,
                        "data_gb": row["data_used_gb"],
                        "reported_at": now,
                    }
                )
            else:
                row["usage_reported_at"] = None
            rows.append(row)

        customers_table = Customer.__table__
        async with database.engine.begin() as connection:
            for start in range(0, size, BATCH_ROWS):
                await connection.execute(insert(customers_table), rows[start : start + BATCH_ROWS])
            ids = dict(
                (await connection.execute(select(Customer.account_number, Customer.id))).all()
            )
            for entry in usage:
                entry["customer_id"] = ids[accounts[entry.pop("position")]]
            for start in range(0, len(usage), BATCH_ROWS):
                batch = usage[start : start + BATCH_ROWS]
                await connection.execute(insert(CustomerUsage.__table__), batch)
            assignments: list[dict[str, Any]] = []
            for account in accounts:
                if rng.random() < ASSIGNED_SHARE:
                    assignments.append(
                        {"customer_id": ids[account], "slack_user_id": rng.choice(OTHER_STAFF)}
                    )
                if rng.random() < MEMBER_SHARE:
                    assignments.append({"customer_id": ids[account], "slack_user_id": MEMBER_ID})
            for start in range(0, len(assignments), BATCH_ROWS):
                batch = assignments[start : start + BATCH_ROWS]
                await connection.execute(insert(CustomerAssignment.__table__), batch)
            allowances = {
                msp_id: max(1, math.ceil(mau / MAU_USED)) for msp_id, mau in mau_by_msp.items()
            }
            for msp_id, allowance in allowances.items():
                await connection.execute(
                    update(Msp).where(Msp.id == msp_id).values(mau_allowance=allowance)
                )
            waiting = await seed_requests(connection, rows, ids, tenants, roles, rng, args, now)
        if database.engine.dialect.name == "sqlite":
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            # Statistics, as a server that has been running has them; and nothing
            # left for autovacuum, whose connection would stop the copies.
            autocommit = database.engine.execution_options(isolation_level="AUTOCOMMIT")
            async with autocommit.connect() as connection:
                await connection.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await database.dispose()
    seed_s = time.perf_counter() - started

    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    expected = expected_counts(args, tenants, mau_by_msp, allowances, due, waiting)
    return Seeding(
        size=size,
        due=due,
        msps=[
            {
                "id": tenant.id,
                "team_id": tenant.team_id,
                "zone": tenant.zone,
                "local_now": tenant.local_now.isoformat(timespec="minutes"),
                "mau": mau_by_msp[tenant.id],
                "mau_allowance": allowances[tenant.id],
            }
            for tenant in tenants
        ],
        migrate_s=0.0,
        seed_s=seed_s,
        statuses=statuses,
        assignments=len(assignments),
        usage_rows=len(usage),
        requests_waiting=waiting,
        requests_fresh=args.requests,
        db_bytes=0,
        expected=expected,
    )


async def seed_requests(
    connection: Any,
    rows: list[dict[str, Any]],
    ids: dict[str, int],
    tenants: list[Tenant],
    roles: dict[int, str],
    rng: random.Random,
    args: argparse.Namespace,
    now: datetime,
) -> int:
    """`--requests` requests pending for two days and as many asked an hour ago, each
    with its approval message, already sent, in the approvals channel."""
    quiet = [i for i, row in enumerate(rows) if row["status"] == "paid" and i not in roles]
    chosen = rng.sample(quiet, min(len(quiet), 2 * args.requests))
    requests: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for number, position in enumerate(chosen):
        row = rows[position]
        asked = now - (timedelta(days=2) if number < args.requests else timedelta(hours=1))
        key = f"request:{number}:approval"
        messages.append(
            {
                "msp_id": row["msp_id"],
                "key": key,
                "kind": "post",
                "lane": APPROVALS_CHANNEL,
                "payload": {"channel": APPROVALS_CHANNEL, "text": f"Request {number}"},
                "coalescible": False,
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": asked,
                "ts": f"1764000000.{number:06d}",
                "sent_channel": APPROVALS_CHANNEL,
                "sent_at": asked,
                "created_at": asked,
                "updated_at": asked,
            }
        )
        requests.append(
            {
                "msp_id": row["msp_id"],
                "customer_id": ids[row["account_number"]],
                "customer_name": row["name"],
                "account_number": row["account_number"],
                "kind": "add_licences",
                "status": "pending",
                "requested_by": MEMBER_ID,
                "reason": "More staff",
                "details": {"summary": "+5 licences", "licences": row["licences"] + 5},
                "requested_at": asked,
                "expires_at": asked + timedelta(days=7),
                "message_keys": [key],
            }
        )
    if messages:
        await connection.execute(insert(OutboxItem.__table__), messages)
        await connection.execute(insert(ChangeRequest.__table__), requests)
    return min(args.requests, len(chosen))


def expected_counts(
    args: argparse.Namespace,
    tenants: list[Tenant],
    mau_by_msp: dict[int, int],
    allowances: dict[int, int],
    due: int,
    waiting: int,
) -> dict[str, Expected]:
    """What each sweep must make, from the seed (and, for MAU and digests, the rules)."""
    mau_notices = digests = 0
    for tenant in tenants:
        mau, allowance = mau_by_msp[tenant.id], allowances[tenant.id]
        mau_notices += rules.mau_threshold_reached(mau, allowance) is not None
        projection = project_month_end(mau, today=tenant.today, allowance=allowance)
        mau_notices += mau < allowance and projection.warns
        digests += rules.digest_day(tenant.local_now) is not None
        digests += rules.weekly_period(tenant.local_now) is not None
    return {
        "trial_expiry_notices": Expected(due, due),
        # Posts: one notice per trial ended, plus the over-free-limits alert (R15) of
        # each that ends with more users or data than the free plan allows, which goes
        # wherever the MSP's alerts are routed: not counted here.
        "end_trials": Expected(due, None, expired=due),
        "renewal_window_notices": Expected(due, due),
        "mau_notices": Expected(mau_notices, mau_notices),
        "request_reminders": Expected(waiting, 2 * waiting),
        "max_mau_alerts": Expected(due, None),
        "digests": Expected(digests, digests),
    }


def prepare(args: argparse.Namespace, master: Place, size: int, now: datetime) -> Seeding:
    """A fresh database, migrated and seeded. Synchronous: alembic runs its own loop."""
    asyncio.run(master.remove())
    asyncio.run(master.create())
    started = time.perf_counter()
    migrate.upgrade(master.url)
    harness.quiet_logging()  # alembic may have touched logging
    migrate_s = time.perf_counter() - started
    seeding = asyncio.run(seed(master.url, args, size, now))
    seeding.migrate_s = migrate_s
    seeding.db_bytes = asyncio.run(master.size())
    return seeding


@dataclass(frozen=True)
class Place:
    """A database the script seeds or runs on: a SQLite file, or a PostgreSQL database
    on the server `--database-url` names (made and dropped by this script)."""

    url: str

    @classmethod
    def of(cls, args: argparse.Namespace, tmp: Path, name: str) -> Place:
        if args.database_url is None:
            return cls(f"sqlite+aiosqlite:///{tmp / f'{name}.db'}")
        given = make_url(args.database_url)
        own = given.set(database=f"{given.database}_{name.replace('-', '_')}")
        return cls(own.render_as_string(hide_password=False))

    @property
    def path(self) -> Path | None:
        parsed = make_url(self.url)
        return Path(parsed.database) if parsed.get_backend_name() == "sqlite" else None

    async def _server(self, *statements: str) -> None:
        """Statements on the server's own `postgres` database, outside a transaction."""
        parsed = make_url(self.url)
        engine = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    async def create(self) -> None:
        if self.path is None:
            await self._server(f'CREATE DATABASE "{make_url(self.url).database}"')

    async def remove(self) -> None:
        if self.path is not None:
            remove_file(self.path)
        else:
            await self._server(f'DROP DATABASE IF EXISTS "{make_url(self.url).database}"')

    async def copy_to(self, work: Place) -> None:
        """`work` as this one is: a file copy (it was checkpointed: no WAL), or on
        PostgreSQL a database made from this one as its template."""
        await work.remove()
        if self.path is not None and work.path is not None:
            shutil.copyfile(self.path, work.path)
            return
        name, template = make_url(work.url).database, make_url(self.url).database
        for attempt in range(60):
            try:
                await self._server(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return
            except Exception:  # the template in use a moment longer (autovacuum)
                if attempt == 59:
                    raise
                await asyncio.sleep(0.5)

    async def size(self) -> int:
        if self.path is not None:
            return self.path.stat().st_size
        database = Database(self.url)
        try:
            async with database.engine.connect() as connection:
                size = await connection.scalar(
                    select(func.pg_database_size(func.current_database()))
                )
        finally:
            await database.dispose()
        return int(size or 0)


def remove_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def fresh_copy(master: Place, work: Place) -> None:
    """The seeded database as it was, for one run."""
    await master.copy_to(work)


# --------------------------------------------------------------------------- measuring


@dataclass
class Counts:
    notices: int
    posts: int
    expired: int


async def counts(database: Database) -> Counts:
    async with database.engine.connect() as connection:
        notices = await connection.scalar(select(func.count()).select_from(Notice))
        posts = await connection.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "post")
        )
        expired = await connection.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.status == Status.EXPIRED_TRIAL.value)
        )
    return Counts(int(notices or 0), int(posts or 0), int(expired or 0))


class WriteLocks:
    """How long each transaction of the sweep held the database's write lock, as
    SQLite counts it: from its first write to its commit (or rollback)."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine.sync_engine
        self.held: list[float] = []
        self._since: float | None = None

    def _statement(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        verb = statement.lstrip().split(None, 1)[0].upper()
        if self._since is None and verb in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            self._since = time.perf_counter()

    def _end(self, conn) -> None:  # type: ignore[no-untyped-def]
        if self._since is not None:
            self.held.append(time.perf_counter() - self._since)
            self._since = None

    def __enter__(self) -> WriteLocks:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._end)
        event.listen(self.engine, "rollback", self._end)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._end)
        event.remove(self.engine, "rollback", self._end)


@dataclass
class Run:
    first_s: float
    first_cpu_s: float
    repeat_s: float
    repeat_cpu_s: float
    transactions: int  # the first run's transactions that wrote
    longest_write_s: float  # the longest of them, from its first write to its commit
    sent: int  # run_sweep's answer
    repeat_sent: int
    notices: int  # rows the sweep added
    posts: int
    expired: int
    repeat_notices: int
    repeat_posts: int


async def run_once(
    master: Place, work: Place, name: str, now: datetime, profiler: cProfile.Profile | None = None
) -> Run:
    """One fresh copy: the sweep, then the same sweep again."""
    await fresh_copy(master, work)
    database = Database(work.url)
    try:
        before = await counts(database)  # also opens and warms the pooled connection
        gc.collect()
        clock = lambda: now  # noqa: E731
        notifiers = outbox_notifiers()
        with WriteLocks(database) as locks:
            cpu, started = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            sent = await run_sweep(
                name, db=database, clock=clock, wake=lambda: None, notifiers=notifiers
            )
            if profiler is not None:
                profiler.disable()
            first_s, first_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        middle = await counts(database)
        cpu, started = time.process_time(), time.perf_counter()
        repeat_sent = await run_sweep(
            name, db=database, clock=clock, wake=lambda: None, notifiers=notifiers
        )
        repeat_s, repeat_cpu_s = time.perf_counter() - started, time.process_time() - cpu
        after = await counts(database)
    finally:
        await database.dispose()
    return Run(
        first_s=first_s,
        first_cpu_s=first_cpu_s,
        transactions=len(locks.held),
        longest_write_s=max(locks.held, default=0.0),
        repeat_s=repeat_s,
        repeat_cpu_s=repeat_cpu_s,
        sent=sent,
        repeat_sent=repeat_sent,
        notices=middle.notices - before.notices,
        posts=middle.posts - before.posts,
        expired=middle.expired - before.expired,
        repeat_notices=after.notices - middle.notices,
        repeat_posts=after.posts - middle.posts,
    )


def check(run: Run, expected: Expected | None, name: str) -> list[str]:
    """What in this run does not match the seed."""
    problems = []
    if run.sent != run.notices:
        problems.append(f"run_sweep said {run.sent}, {run.notices} notices rows")
    if expected is not None:
        if run.notices != expected.notices:
            problems.append(f"notices: {run.notices} != {expected.notices}")
        if expected.posts is not None and run.posts != expected.posts:
            problems.append(f"posts: {run.posts} != {expected.posts}")
        if run.expired != expected.expired:
            problems.append(f"trials ended: {run.expired} != {expected.expired}")
    if run.repeat_sent or run.repeat_notices or run.repeat_posts:
        problems.append(
            f"repeat: {run.repeat_sent} sent, {run.repeat_notices} notices,"
            f" {run.repeat_posts} posts (want 0)"
        )
    return [f"{name}: {problem}" for problem in problems]


@dataclass
class SweepTiming:
    """One sweep over the runs; milliseconds."""

    sweep: str
    runs: int
    median_ms: float
    min_ms: float
    max_ms: float
    cpu_median_ms: float
    repeat_median_ms: float
    repeat_min_ms: float
    repeat_max_ms: float
    notices: int
    posts: int
    repeat_notices: int
    repeat_posts: int
    transactions: int  # of the first run, that wrote
    longest_write_ms: float  # median over runs of the longest: first write to commit
    each_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def summarise(name: str, runs: list[Run], failures: list[str]) -> SweepTiming:
    first = sorted(run.first_s * 1000.0 for run in runs)
    repeat = sorted(run.repeat_s * 1000.0 for run in runs)
    return SweepTiming(
        sweep=name,
        runs=len(runs),
        median_ms=statistics.median(first),
        min_ms=first[0],
        max_ms=first[-1],
        cpu_median_ms=statistics.median(run.first_cpu_s for run in runs) * 1000.0,
        repeat_median_ms=statistics.median(repeat),
        repeat_min_ms=repeat[0],
        repeat_max_ms=repeat[-1],
        notices=runs[0].notices,
        posts=runs[0].posts,
        repeat_notices=max(run.repeat_notices for run in runs),
        repeat_posts=max(run.repeat_posts for run in runs),
        transactions=runs[0].transactions,
        longest_write_ms=statistics.median(run.longest_write_s for run in runs) * 1000.0,
        each_ms=[round(run.first_s * 1000.0, 1) for run in runs],
        failures=failures,
    )


@dataclass
class Scenario:
    """One size: its seeded master database, the copy each run works on, and what is due."""

    size: int
    master: Place
    work: Place
    seeding: Seeding


async def measure(
    args: argparse.Namespace, scenarios: list[Scenario], now: datetime
) -> dict[int, list[SweepTiming]]:
    """`--runs` rounds; in each, every size in turn and every sweep, each on a fresh copy.
    The sizes alternate so that other work on the machine weighs on them alike."""
    runs = {s.size: {name: list[Run]() for name in args.sweeps} for s in scenarios}
    failures = {s.size: {name: list[str]() for name in args.sweeps} for s in scenarios}
    for _ in range(args.warmup):  # untimed: SQLAlchemy's statement cache, as a running scheduler
        for scenario in scenarios:
            for name in args.sweeps:
                await run_once(scenario.master, scenario.work, name, now)
    for number in range(args.runs):
        for scenario in scenarios:
            mine = runs[scenario.size]
            for name in args.sweeps:
                run = await run_once(scenario.master, scenario.work, name, now)
                mine[name].append(run)
                failures[scenario.size][name] += [
                    f"run {number + 1}: {problem}"
                    for problem in check(run, scenario.seeding.expected.get(name), name)
                ]
            print(
                f"  run {number + 1}/{args.runs}, {scenario.size:,}: "
                + ", ".join(f"{name} {mine[name][-1].first_s * 1000:.0f}" for name in args.sweeps)
                + f" ms (load {harness.load_average()})",
                flush=True,
            )
    return {
        size: [summarise(name, by_name[name], failures[size][name]) for name in args.sweeps]
        for size, by_name in runs.items()
    }


# --------------------------------------------------------------------------- explain


def shape(sql: str) -> str:
    """A statement with its lists of placeholders folded, to group repeats."""
    text = " ".join(sql.split())
    # PostgreSQL's $1::TYPE
    text = re.sub(r"\$\d+(?:::(?:TIMESTAMP WITH(?:OUT)? TIME ZONE|[A-Z]+(?:\[\])?))?", "?", text)
    text = re.sub(r"\((?:\?, )*\?\)", "(?)", text)
    return re.sub(r"\(\?\)(?:, \(\?\))+", "(?), ...", text)


async def explain(master: Place, work: Place, name: str, now: datetime) -> dict[str, Any]:
    """One more run of the sweep with every statement captured: grouped by shape, with the
    count, total time (execute and fetch, as seen from the event loop) and, for SELECTs and
    UPDATEs, the plan of the first of them (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's
    EXPLAIN)."""
    await fresh_copy(master, work)
    database = Database(work.url)
    postgres = work.path is None
    captured: list[tuple[str, Any, bool, float]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        started = conn.info["bench_started"].pop()
        captured.append((statement, parameters, executemany, time.perf_counter() - started))

    try:
        await counts(database)
        notifiers = outbox_notifiers()
        event.listen(database.engine.sync_engine, "before_cursor_execute", before)
        event.listen(database.engine.sync_engine, "after_cursor_execute", after)
        started = time.perf_counter()
        await run_sweep(
            name, db=database, clock=lambda: now, wake=lambda: None, notifiers=notifiers
        )
        total_s = time.perf_counter() - started
        event.remove(database.engine.sync_engine, "before_cursor_execute", before)
        event.remove(database.engine.sync_engine, "after_cursor_execute", after)
        groups: dict[str, dict[str, Any]] = {}
        for statement, parameters, executemany, seconds in captured:
            entry = groups.setdefault(
                shape(statement),
                {"count": 0, "ms": 0.0, "first": (statement, parameters, executemany)},
            )
            entry["count"] += 1
            entry["ms"] += seconds * 1000.0
        statements = []
        async with database.engine.connect() as connection:
            for key, entry in groups.items():
                statement, parameters, executemany = entry.pop("first")
                plan: list[str] = []
                verb = statement.lstrip().split(None, 1)[0].upper()
                if verb in ("SELECT", "UPDATE", "WITH", "DELETE") and not executemany:
                    plan = await plan_of(connection, statement, parameters, postgres=postgres)
                statements.append(
                    {"sql": key, "count": entry["count"], "ms": entry["ms"], "plan": plan}
                )
    finally:
        await database.dispose()
    statements.sort(key=lambda s: -s["ms"])
    index = DUE_INDEXES.get(name)
    return {
        "sweep": name,
        "total_ms": total_s * 1000.0,
        "statements": len(captured),
        "in_statements_ms": sum(s["ms"] for s in statements),
        "shapes": statements,
        "due_index": index,
        "due_index_used": None
        if index is None
        else any(index in line for s in statements for line in s["plan"]),
    }


async def plan_of(connection: Any, statement: str, parameters: Any, *, postgres: bool) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN (not run: an UPDATE's plan
    changes nothing)."""
    if not postgres:
        result = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [f"{row[1]:>3} {row[3]}" for row in result.all()]
    try:
        result = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return [str(row[0]) for row in result.all()]
    except Exception as error:  # a statement that cannot be explained as captured
        await connection.rollback()
        return [f"(no plan: {type(error).__name__})"]


def print_explain(report: dict[str, Any]) -> None:
    used = ""
    if report["due_index"]:
        verdict = "uses" if report["due_index_used"] else "does NOT use"
        used = f"; the due query {verdict} {report['due_index']}"
    print(
        f"\n-- {report['sweep']}: {report['total_ms']:.1f} ms with capture,"
        f" {report['statements']} statements, {report['in_statements_ms']:.1f} ms in their"
        f" execute calls{used}"
    )
    for statement in report["shapes"]:
        sql = statement["sql"]
        print(
            f"   {statement['count']:>5} x {statement['ms']:8.2f} ms  "
            f"{sql[:150]}{'...' if len(sql) > 150 else ''}"
        )
        for line in statement["plan"]:
            print(f"                       {line}")


def profile(master: Place, work: Place, name: str, now: datetime, out: Path) -> Path:
    profiler = cProfile.Profile()
    asyncio.run(run_once(master, work, name, now, profiler))
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.prof"
    profiler.dump_stats(target)
    return target


# --------------------------------------------------------------------------- report


@dataclass
class ScenarioReport:
    size: int
    seeding: dict[str, Any]
    timings: list[SweepTiming] = field(default_factory=list)
    explain: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)


def machine_info() -> dict[str, Any]:
    machine = harness.machine_info(PACKAGES)
    machine["sqlite"] = sqlite3.sqlite_version
    try:
        machine["commit"] = subprocess.run(
            ["git", "-C", str(harness.REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(harness.REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        machine["uncommitted"] = sorted(line[3:] for line in dirty if line.strip())
    except (OSError, subprocess.CalledProcessError):
        machine["commit"] = None
    return machine


def print_header(machine: dict[str, Any], args: argparse.Namespace, now: datetime) -> None:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    print(
        f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r}"
        f" load average before: {machine['load_average_before']}"
    )
    print(f"         {machine['python']} on {machine['platform']}")
    print(f"         {packages}, SQLite {machine['sqlite']}")
    if machine.get("commit"):
        dirty = machine.get("uncommitted") or []
        print(
            f"code:    {machine['commit']}"
            + (f" + uncommitted changes to {len(dirty)} files" if dirty else "")
        )
    database = (
        make_url(args.database_url).render_as_string(hide_password=True)
        if args.database_url
        else "SQLite files in a temporary directory"
    )
    print(f"database: {database}")
    print(
        f"runs:    {args.runs} per sweep after {args.warmup} untimed round(s), each on a fresh copy"
        f" of the seeded database; clock fixed at {now.isoformat(timespec='minutes')}"
    )
    print(
        "         first = run_sweep() on the copy (queries, claims, outbox, commit);"
        " repeat = the same sweep again right after; tx = its transactions that wrote,"
        " lock ms = the longest of them from its first write to its commit (SQLite's write lock)"
    )


def print_seeded(report: ScenarioReport) -> None:
    s = report.seeding
    statuses = s["statuses"]
    zones = ", ".join(f"{m['team_id']} {m['zone']} ({m['local_now']})" for m in s["msps"])
    print(
        f"\n== {report.size:,} customers, {s['due']:,} due per customer sweep ==\n"
        f"seeded in {s['seed_s']:.1f} s (migrations {s['migrate_s']:.1f} s; not measured):"
        f" {statuses.get('active_trial', 0):,} active trials, {statuses.get('paid', 0):,} paid,"
        f" {statuses.get('expired_trial', 0):,} expired trials, {statuses.get('free', 0):,} free;"
        f"\n  {s['usage_rows']:,} usage rows, {s['assignments']:,} assignments,"
        f" {s['requests_waiting']} requests waiting over a day and {s['requests_fresh']} fresh;"
        f" file {s['db_bytes'] / 1e6:.1f} MB\n  MSPs: {zones}"
    )


def print_timings(report: ScenarioReport) -> None:
    print(
        f"\n{'sweep':24} {'N':>2} {'median ms':>9} {'min':>7} {'max':>7} {'cpu ms':>7}"
        f" {'repeat ms':>9} {'min':>6} {'max':>6} {'notices':>7} {'posts':>6} {'again':>6}"
        f" {'tx':>3} {'lock ms':>7}  check"
    )
    for t in report.timings:
        status = "ok" if not t.failures else "MISMATCH: " + "; ".join(t.failures[:3])
        print(
            f"{t.sweep:24} {t.runs:>2} {t.median_ms:9.1f} {t.min_ms:7.1f} {t.max_ms:7.1f}"
            f" {t.cpu_median_ms:7.1f} {t.repeat_median_ms:9.1f} {t.repeat_min_ms:6.1f}"
            f" {t.repeat_max_ms:6.1f} {t.notices:>7,} {t.posts:>6,}"
            f" {t.repeat_notices + t.repeat_posts:>6} {t.transactions:>3}"
            f" {t.longest_write_ms:7.1f}  {status}",
            flush=True,
        )


def compare(reports: list[ScenarioReport]) -> list[dict[str, Any]]:
    """Each sweep's median at the smallest and the largest size, and their ratio."""
    if len(reports) < 2:
        return []
    small, large = min(reports, key=lambda r: r.size), max(reports, key=lambda r: r.size)
    rows = []
    for timing in large.timings:
        other = next((t for t in small.timings if t.sweep == timing.sweep), None)
        if other is None:
            continue
        rows.append(
            {
                "sweep": timing.sweep,
                "small": small.size,
                "large": large.size,
                "small_median_ms": round(other.median_ms, 1),
                "large_median_ms": round(timing.median_ms, 1),
                "ratio": round(timing.median_ms / other.median_ms, 2) if other.median_ms else None,
                "small_repeat_ms": round(other.repeat_median_ms, 1),
                "large_repeat_ms": round(timing.repeat_median_ms, 1),
            }
        )
    return rows


def print_comparison(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    small, large = rows[0]["small"], rows[0]["large"]
    print(
        f"\n{'sweep':24} {f'{small:,} ms':>11} {f'{large:,} ms':>11} {'ratio':>6}"
        f" {'repeat ' + f'{small:,}':>13} {'repeat ' + f'{large:,}':>14}"
    )
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        print(
            f"{row['sweep']:24} {row['small_median_ms']:11.1f} {row['large_median_ms']:11.1f}"
            f" {ratio:>6} {row['small_repeat_ms']:13.1f} {row['large_repeat_ms']:14.1f}"
        )


def judge_goal(reports: list[ScenarioReport]) -> dict[str, Any]:
    goal: dict[str, Any] = {"size": GOAL_SIZE, "goal_s": GOAL_S}
    report = next((r for r in reports if r.size == GOAL_SIZE), None)
    if report is None:
        return goal | {"evaluated": False, "why": f"needs {GOAL_SIZE:,} customers"}
    if report.seeding["due"] * 100 != GOAL_SIZE:
        return goal | {"evaluated": False, "why": "needs 1 % due (--due 1000)"}
    if any(t.failures for t in report.timings):
        return goal | {"evaluated": False, "why": "a count did not match the seed"}
    slowest = max(report.timings, key=lambda t: t.median_ms)
    return goal | {
        "evaluated": True,
        "met": slowest.median_ms < GOAL_S * 1000.0,
        "slowest": slowest.sweep,
        "slowest_median_ms": round(slowest.median_ms, 1),
        "slowest_max_ms": round(slowest.max_ms, 1),
        "all_sweeps_ms": round(sum(t.median_ms for t in report.timings), 1),
    }


def print_goal(goal: dict[str, Any]) -> None:
    target = f"{goal['size']:,} customers, 1 % due, every sweep's median < {goal['goal_s']:.0f} s"
    if not goal["evaluated"]:
        print(f"\ngoal ({target}): not evaluated: {goal['why']}")
        return
    print(
        f"\ngoal ({target}): {'MET' if goal['met'] else 'NOT MET'}; slowest: {goal['slowest']}"
        f" {goal['slowest_median_ms']} ms (max {goal['slowest_max_ms']});"
        f" all sweeps one after the other: {goal['all_sweeps_ms']} ms"
    )


# --------------------------------------------------------------------------- main


def sweep_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in notices_service.SWEEPS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown sweep(s) {unknown}; known: {', '.join(notices_service.SWEEPS)}"
        )
    return names


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the scheduler's notice sweeps with many customers and a few due."
    )
    parser.add_argument(
        "--customers",
        type=harness.whole_numbers,
        default=list(DEFAULT_SIZES),
        help="customers to seed, one fresh database each (10000,100000)",
    )
    parser.add_argument(
        "--due",
        type=harness.positive,
        default=DEFAULT_DUE,
        help="customers due for each customer sweep, at every size (1000)",
    )
    parser.add_argument("--runs", "-n", type=harness.positive, default=5, help="per sweep (5)")
    parser.add_argument(
        "--warmup", "-w", type=int, default=1, help="untimed rounds over the sweeps first (1)"
    )
    parser.add_argument(
        "--msps",
        type=harness.positive,
        default=1,
        help=f"MSPs, in the zones {', '.join(ZONES[:4])}... in turn (1)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help="requests waiting over a day, and as many fresh ones (100)",
    )
    parser.add_argument(
        "--sweeps",
        type=sweep_names,
        default=list(notices_service.SWEEPS),
        help="comma-separated sweeps to time (all of bot.services.notices.SWEEPS)",
    )
    parser.add_argument(
        "--now",
        type=moment,
        help="the sweeps' clock, ISO 8601 (default: today at 10:00 UTC)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data (1)")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="also cProfile one run per sweep into DIR"
    )
    parser.add_argument(
        "--no-explain", action="store_true", help="skip the statements and plans per sweep"
    )
    parser.add_argument(
        "--chunk",
        type=harness.positive,
        help="due rows per transaction (bot.services.notices.CHUNK,"
        f" {notices_service.CHUNK}; a large number: everything in one, as before chunks)",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL: the server to use, named by a database on it (DB): this script"
        " makes and DROPS databases DB_scheduler_SIZE and DB_scheduler_SIZE_run there"
        " (default: SQLite files in a temporary directory)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.database_url and make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url: PostgreSQL only (the default is SQLite)")
    if args.msps > len(ZONES):
        parser.error(f"--msps: at most {len(ZONES)}")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.requests < 0:
        parser.error("--requests must be >= 0")
    for size in args.customers:
        if size < 5 * args.due:
            parser.error(f"--customers {size}: needs at least 5 x --due (the due sets)")
    return args


def seed_scenario(args: argparse.Namespace, tmp: Path, size: int, now: datetime) -> Scenario:
    master = Place.of(args, tmp, f"scheduler-{size}")
    work = Place.of(args, tmp, f"scheduler-{size}-run")
    return Scenario(size, master, work, prepare(args, master, size, now))


def report_of(scenario: Scenario) -> ScenarioReport:
    seeding = scenario.seeding
    return ScenarioReport(
        size=scenario.size,
        seeding={key: value for key, value in asdict(seeding).items() if key != "expected"}
        | {"expected": {name: asdict(e) for name, e in seeding.expected.items()}},
    )


def finish_scenario(
    args: argparse.Namespace, scenario: Scenario, report: ScenarioReport, now: datetime
) -> None:
    """The timings' table, then the statements and plans (and profiles) of this size."""
    print(f"\n== {scenario.size:,} customers ==")
    print_timings(report)
    if not args.no_explain:
        for name in args.sweeps:
            entry = asyncio.run(explain(scenario.master, scenario.work, name, now))
            report.explain.append(entry)
            print_explain(entry)
    if args.profile:
        out = args.profile / f"scheduler-{scenario.size}"
        for name in args.sweeps:
            target = profile(scenario.master, scenario.work, name, now, out)
            report.profiles.append(str(target))
            print(f"profile of {name}: {target} (python -m pstats {target})")
    for place in (scenario.master, scenario.work):
        asyncio.run(place.remove())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.chunk:
        notices_service.CHUNK = args.chunk
    harness.quiet_logging()
    machine = machine_info()
    now = args.now or datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    print_header(machine, args, now)
    reports: list[ScenarioReport] = []
    failed = False
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="msp-bench-scheduler-") as tmp:
        scenarios = []
        for size in args.customers:
            scenarios.append(seed_scenario(args, Path(tmp), size, now))
            reports.append(report_of(scenarios[-1]))
            print_seeded(reports[-1])
        print()
        timings = asyncio.run(measure(args, scenarios, now))
        for scenario, report in zip(scenarios, reports, strict=True):
            report.timings = timings[scenario.size]
            failed |= any(t.failures for t in report.timings)
            finish_scenario(args, scenario, report, now)
    elapsed = time.perf_counter() - started
    comparison = compare(reports)
    print_comparison(comparison)
    goal = judge_goal(reports)
    print_goal(goal)
    if failed:
        print("COUNTS DID NOT MATCH THE SEEDED DATA (see 'check' above): exit status 1")
    machine["load_average_after"] = harness.load_average()
    print(f"total time: {elapsed:.1f} s; load average after: {machine['load_average_after']}")
    if args.json:
        payload = {
            "machine": machine,
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in vars(args).items()
            }
            | {"now": now.isoformat(timespec="seconds")},
            "scenarios": [asdict(report) for report in reports],
            "comparison": comparison,
            "goal": goal,
            "total_s": elapsed,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
