#!/usr/bin/env python
"""Time of `msp-bot customers import` for a book of 10,000 (or `--rows`, up to 100,000)
customers with their lifecycle (trials half used and expired, free accounts, paid
contracts mid-term), and how long another process's writes wait while it runs.

Each run

1. makes a fresh database (SQLite: a new file in a temporary directory; PostgreSQL with
   `--database-url`: schema `public` dropped and recreated), migrates it, makes U0001 an
   owner of T0001's MSP and raises its maximum customers past `--rows` (not measured);
2. with `--writer`, starts a child process (this script with `--serve-writer`) that
   writes to the same database as the bot would (storage.engine.Database: busy timeout,
   writers' queue), one short transaction every 20 ms, and records how long each took;
3. times what the CLI does after reading the file: `parse_customer_csv`, then
   `import_customers_as_operator` (the check against the database, then the chunks),
   and checks that every row was imported and audited.

Reports per run and the median over runs (and the range) of the import's time, and
with `--writer` the writer's longest write and how many failed (a "database is locked"
after the 5 s busy timeout). Goals, on SQLite and PostgreSQL alike: 10,000 rows under
5 s, 100,000 under 60 s (the median; printed as met or not for those two sizes).

    python bench/import_csv.py                       # SQLite, 10,000 rows, 5 runs
    python bench/import_csv.py --rows 100000 -r 2    # the largest file accepted
    python bench/import_csv.py --writer              # + a writer in another process
    python bench/import_csv.py --pause 0.05 --writer # another pause between chunks
    python bench/import_csv.py --chunk 200           # another chunk size
    python bench/import_csv.py --profile /tmp/import.prof   # cProfile of the last run
    python bench/import_csv.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB

`--database-url` DROPS schema public of a PostgreSQL database (or overwrites a SQLite
file): never point it at a database that matters. Exit status: 0, or 1 when a run did
not import every row.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path

# bench/ack_latency.py: the report written as JSON
import ack_latency as ack
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.domain.roles import Role
from bot.services import customer_csv
from storage import engine as storage_engine
from storage import migrate
from storage.engine import Database, DatabaseUnavailable
from storage.models import AuditEvent, Customer, Msp
from tests.seed import grant
from tests.support import TEAM_ID, reset_postgres

SCRIPT = Path(__file__).resolve()

USER_ID = "U0001"
WRITER_TEAM = "T0WRITER"
WRITER_INTERVAL_S = 0.02
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
PACKAGES = (*harness.PACKAGES, "asyncpg")
GOAL_SECONDS = {10_000: 5.0, 100_000: 60.0}  # rows: the median import's time
HEADER = (
    "name,admin_email,plan,status,licences,users,trial_start,trial_end,contract_start,term,"
    "renewal_date,past_due,unit_price,monthly_price,locations,contact_name,contact_email,"
    "assigned_staff,notes"
)


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # this process, all threads (aiosqlite's included)
    imported: int
    audited: int
    chunks: int = 0
    longest_chunk_s: float = 0.0  # the longest transaction of the write
    chunks_s: float = 0.0  # all of them (the rest: reading, the check, the pauses)
    writer_max_ms: float | None = None
    writer_p99_ms: float | None = None
    writer_writes: int | None = None
    writer_failures: int | None = None


@dataclass
class Report:
    started_at: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        times = [run.seconds for run in self.runs]
        cpu = [run.cpu_seconds for run in self.runs]
        waits = [run.writer_max_ms for run in self.runs if run.writer_max_ms is not None]
        return {
            "median_seconds": statistics.median(times) if times else None,
            "seconds_range": [min(times), max(times)] if times else None,
            "median_cpu_seconds": statistics.median(cpu) if cpu else None,
            "rows_per_second": self.settings["rows"] / statistics.median(times) if times else None,
            "writer_max_ms": max(waits) if waits else None,
            "writer_failures": sum(run.writer_failures or 0 for run in self.runs),
        }


# --------------------------------------------------------------------------- the file


def book_row(n: int) -> str:
    """Row n of a book: 40 % active trials (half used), 10 % expired, 10 % free, 40 %
    paid (annual and monthly contracts started in the last year); every third with two
    sites, every second with a contact, every fifth assigned to someone."""
    kind = n % 10
    cells = {"name": f"Customer {n:05d}", "admin_email": f"admin{n}@customer{n}.example"}
    if kind < 4:
        start = TODAY - timedelta(days=n % 20)
        cells |= {"status": "active_trial", "trial_start": start.isoformat(), "users": "4"}
    elif kind == 4:
        end = TODAY - timedelta(days=1 + n % 60)
        cells |= {"status": "expired_trial", "trial_end": end.isoformat(), "users": "2"}
    elif kind == 5:
        cells |= {"plan": "free", "users": "3"}
    else:
        start = TODAY - timedelta(days=1 + n % 360)
        cells |= {
            "plan": ("essentials", "professional", "enterprise")[n % 3],
            "licences": str(5 + n % 50),
            "users": str(3 + n % 40),
            "contract_start": start.isoformat(),
            "term": "monthly" if n % 2 else "annual",
            "past_due": "true" if n % 25 == 0 else "",
            "unit_price": "12.50",
        }
    if n % 3 == 0:
        cells["locations"] = "HQ | Warehouse"
    if n % 2 == 0:
        cells |= {"contact_name": f"Contact {n}", "contact_email": f"it{n}@customer{n}.example"}
    if n % 5 == 0:
        cells["assigned_staff"] = f"U0STAFF{n % 7}"
    return ",".join(cells.get(column, "") for column in HEADER.split(","))


def book(rows: int) -> bytes:
    lines = [HEADER, *(book_row(n) for n in range(rows))]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


# --------------------------------------------------------------------------- the writer


async def serve_writer(database_url: str) -> None:
    """`--serve-writer`: one short write every WRITER_INTERVAL_S until stdin closes;
    prints the latencies (ms) and failures as JSON."""
    database = Database(database_url)
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    closed = asyncio.ensure_future(stdin.read())
    print(json.dumps({"ready": True}), flush=True)
    try:
        while not closed.done():
            started = time.perf_counter()
            try:
                async with database.unit_of_work() as session:
                    await session.execute(
                        update(Msp)
                        .where(Msp.team_id == WRITER_TEAM)
                        .values(updated_at=datetime.now(UTC))
                    )
                latencies.append((time.perf_counter() - started) * 1000)
            except (DBAPIError, DatabaseUnavailable):  # "database is locked": counted
                failures += 1
            await asyncio.sleep(WRITER_INTERVAL_S)
    finally:
        await database.dispose()
    print(json.dumps({"latencies_ms": latencies, "failures": failures}), flush=True)


async def start_writer(database_url: str) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--serve-writer",
        database_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(harness.REPO_ROOT),
    )
    assert child.stdout is not None
    await asyncio.wait_for(child.stdout.readline(), 60)
    return child


async def stop_writer(child: asyncio.subprocess.Process) -> dict[str, Any]:
    assert child.stdin is not None and child.stdout is not None
    child.stdin.close()
    line = await asyncio.wait_for(child.stdout.readline(), 60)
    await child.wait()
    return json.loads(line)


# --------------------------------------------------------------------------- a run


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


async def prepare_database(database_url: str, rows: int) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        await reset_postgres(database_url)
    elif url.database:
        await asyncio.to_thread(remove_sqlite, url.database)
    await migrate.upgrade_async(database_url)
    database = Database(database_url)
    try:
        await grant(database, USER_ID, Role.OWNER)
        await grant(database, USER_ID, Role.OWNER, team_id=WRITER_TEAM)
        async with database.unit_of_work() as session:
            await session.execute(update(Msp).values(max_customers=rows + 100))
    finally:
        await database.dispose()


async def count(database: Database) -> tuple[int, int]:
    async with database.unit_of_work() as session:
        customers = await session.scalar(select(func.count()).select_from(Customer))
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "customer.created")
        )
    return int(customers or 0), int(audited or 0)


class ChunkTimer:
    """Times each chunk's transaction (customer_csv._write_chunk), wrapped in place."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._write_chunk = customer_csv._write_chunk

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self._write_chunk(*args, **kwargs)
        finally:
            self.seconds.append(time.perf_counter() - started)


async def one_run(
    args: argparse.Namespace, database_url: str, data: bytes, profile: cProfile.Profile | None
) -> Run:
    await prepare_database(database_url, args.rows)
    writer = await start_writer(database_url) if args.writer else None
    database = Database(database_url)
    timer = ChunkTimer()
    customer_csv._write_chunk = timer  # type: ignore[assignment]
    try:
        if profile is not None:
            profile.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        parsed = customer_csv.parse_customer_csv(data, today=TODAY)
        report = await customer_csv.import_customers_as_operator(
            database.unit_of_work, team_id=TEAM_ID, timezone="UTC", parsed=parsed, now=NOW
        )
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        if profile is not None:
            profile.disable()
        imported, audited = await count(database)
    finally:
        customer_csv._write_chunk = timer._write_chunk  # type: ignore[assignment]
        await database.dispose()
    run = Run(
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        imported=len(report.accepted),
        audited=audited,
        chunks=len(timer.seconds),
        longest_chunk_s=max(timer.seconds, default=0.0),
        chunks_s=sum(timer.seconds),
    )
    if imported != run.imported:
        run.imported = -imported  # rows there that this run did not write
    if writer is not None:
        seen = await stop_writer(writer)
        latencies = sorted(seen["latencies_ms"])
        run.writer_writes = len(latencies)
        run.writer_failures = seen["failures"]
        if latencies:
            run.writer_max_ms = latencies[-1]
            run.writer_p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return run


async def benchmark(args: argparse.Namespace, database_url: str, report: Report) -> None:
    data = book(args.rows)
    for number in range(1, args.runs + 1):
        profile = cProfile.Profile() if args.profile and number == args.runs else None
        run = await one_run(args, database_url, data, profile)
        report.runs.append(run)
        if (run.imported, run.audited) != (args.rows, args.rows):
            report.failures.append(
                f"run {number}: {run.imported} imported and {run.audited} audited, not {args.rows}"
            )
        writer = (
            f"  writer: {run.writer_writes} writes, longest {run.writer_max_ms:.0f} ms, "
            f"p99 {run.writer_p99_ms:.0f} ms, {run.writer_failures} failed"
            if run.writer_max_ms is not None
            else ""
        )
        print(
            f"run {number}: {run.seconds:6.2f} s (CPU {run.cpu_seconds:.2f} s), {run.chunks} "
            f"chunks ({run.chunks_s:.2f} s, longest {run.longest_chunk_s:.2f} s){writer}",
            flush=True,
        )
        if profile is not None:
            profile.dump_stats(str(args.profile))


# --------------------------------------------------------------------------- main


def non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=harness.positive, default=10_000)
    parser.add_argument("-r", "--runs", type=harness.positive, default=5)
    parser.add_argument("--chunk", type=harness.positive, help="rows a transaction (the bot's)")
    parser.add_argument(
        "--pause", type=non_negative, help="SQLite: seconds between chunks (the bot's)"
    )
    parser.add_argument("--writer", action="store_true", help="a writer in another process")
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--profile", type=Path, help="cProfile the last run into this file")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve-writer", metavar="URL", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_writer:
        asyncio.run(serve_writer(args.serve_writer))
        return 0
    harness.quiet_logging()
    if args.chunk:
        customer_csv.CHUNK_ROWS = args.chunk
    if args.pause is not None:
        storage_engine.SQLITE_WRITERS_TURN_SECONDS = args.pause
    with tempfile.TemporaryDirectory() as directory:
        database_url = args.database_url or f"sqlite+aiosqlite:///{directory}/import.db"
        report = Report(
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            machine=harness.machine_info(PACKAGES),
            settings={
                "rows": args.rows,
                "runs": args.runs,
                "database": make_url(database_url).get_backend_name(),
                "chunk": customer_csv.CHUNK_ROWS,
                "pause_s": storage_engine.SQLITE_WRITERS_TURN_SECONDS,
                "writer": args.writer,
            },
        )
        harness.print_started(report.started_at, report.machine, report.settings)
        asyncio.run(benchmark(args, database_url, report))
    summary = report.summary()
    low, high = summary["seconds_range"]
    print(
        f"median over {args.runs} runs: {summary['median_seconds']:.2f} s "
        f"(range {low:.2f}-{high:.2f}), CPU {summary['median_cpu_seconds']:.2f} s, "
        f"{summary['rows_per_second']:,.0f} rows/s; "
        f"load after {harness.load_average()}"
    )
    if summary["writer_max_ms"] is not None:
        print(
            f"writer: longest write {summary['writer_max_ms']:.0f} ms, "
            f"{summary['writer_failures']} failed"
        )
    goal = GOAL_SECONDS.get(args.rows)
    if goal is not None:
        summary["goal"] = f"{args.rows:,} rows under {goal:.0f} s"
        summary["met"] = summary["median_seconds"] < goal and not report.failures
        print(f"goal: {summary['goal']}: {'met' if summary['met'] else 'NOT met'}")
    return ack.finish(report, summary, args.json)


if __name__ == "__main__":
    sys.exit(main())
