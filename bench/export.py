#!/usr/bin/env python
"""Memory and time of `/msp export customers` for an MSP with 10,000 customers whose
notes are 2,000 characters long (a CSV of about 21 MB).

The script

1. makes a fresh database (SQLite: a file in a temporary directory; PostgreSQL with
   `--database-url`: schema `public` dropped and recreated), migrates it, makes U0001 an
   owner of T0001's MSP and seeds `--customers` customers with `--notes` characters of
   notes each, with SQLAlchemy Core bulk inserts (tests/seed.py, `seed_customers`: every third
   customer has two sites, every second a primary contact). Seeding is not measured;
2. starts the fake Slack Web API (tests/fake_slack.py) in a child process (this script
   with `--serve-fake`), so what it receives is not counted in this process's memory;
3. runs the export `--runs` times as the bot does after its ack
   (`handlers.customer_export.export_to_dm`: conversations.open, the CSV written to a
   temporary file a batch of customers at a time, then streamed to the upload URL and
   shared in the DM), each run twice: once timed, once under `tracemalloc` for the peak
   of memory allocated by Python while it runs (what the export holds at its worst;
   the interpreter, the libraries and the seeded database's cache are not in it).
   Every run checks that all customers were exported and the upload was accepted.

`--mode whole` measures instead what holding the file does: the same CSV built whole
in memory (`customer_csv.export_customers_csv`) and uploaded with slack_sdk's
`files_upload_v2`, as a file queued in the outbox was.

Reports the median over runs (and the range) of the peak traced memory and of the time.

    python bench/export.py                         # SQLite, 10,000 customers, 5 runs
    python bench/export.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    python bench/export.py --mode whole -r 3       # the file whole in memory, to compare
    python bench/export.py --batch 2000            # customers read at a time (default 500)
    python bench/export.py --json /tmp/export.json

`--database-url` DROPS schema public of a PostgreSQL database (or overwrites a SQLite
file): never point it at a database that matters. Only 127.0.0.1 is contacted. Exit
status: 0, or 1 when a run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path

# bench/ack_latency.py: the report written as JSON
import ack_latency as ack
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.delivery.limits import DeliveryLimits, TierLimiter
from bot.domain.roles import Role
from bot.services import customer_csv
from bot.services.tenancy import Requester
from handlers.customer_export import export_to_dm
from storage import migrate
from storage.engine import Database
from storage.models import Msp
from tests.fake_slack import FakeSlack
from tests.seed import grant, seed_customers
from tests.support import TEAM_ID, reset_postgres

SCRIPT = Path(__file__).resolve()

USER_ID = "U0001"
BOT_TOKEN = "xoxb-test"
CHILD_START_TIMEOUT_S = 60.0
CHILD_MAX_LIFETIME_S = 1800.0  # a child left behind stops by itself after this
DAY = date(2026, 11, 22)
MODES = ("stream", "whole")
PACKAGES = (*harness.PACKAGES, "asyncpg")


@dataclass
class Run:
    seconds: float
    peak_mb: float | None  # None: the timed run (tracemalloc off)
    customers: int


@dataclass
class Report:
    started_at: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    seed_seconds: float = 0.0
    runs: list[Run] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        timed = [run.seconds for run in self.runs if run.peak_mb is None]
        peaks = [run.peak_mb for run in self.runs if run.peak_mb is not None]
        return {
            "median_seconds": statistics.median(timed) if timed else None,
            "seconds_range": [min(timed), max(timed)] if timed else None,
            "median_peak_mb": statistics.median(peaks) if peaks else None,
            "peak_mb_range": [min(peaks), max(peaks)] if peaks else None,
        }


# --------------------------------------------------------------------------- fake Slack


async def serve_fake() -> None:
    """`--serve-fake`: start the fake Slack, print {"url": ...}, serve until stdin closes."""
    async with FakeSlack(team_id=TEAM_ID, bot_token=BOT_TOKEN) as fake:
        print(json.dumps({"url": fake.base_url}), flush=True)
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stdin.read(), CHILD_MAX_LIFETIME_S)  # until EOF


async def start_fake() -> tuple[str, Callable[[], Awaitable[None]]]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--serve-fake",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(harness.REPO_ROOT),
    )
    assert child.stdin is not None and child.stdout is not None

    async def stop() -> None:
        if child.returncode is None:
            assert child.stdin is not None
            child.stdin.close()
            try:
                await asyncio.wait_for(child.wait(), 10)
            except TimeoutError:
                child.kill()
                await child.wait()

    try:
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_START_TIMEOUT_S)
        return json.loads(line)["url"], stop
    except (TimeoutError, ValueError, KeyError) as error:
        await stop()
        raise RuntimeError(f"the fake Slack process did not start ({error!r})") from None


# --------------------------------------------------------------------------- database


async def prepare_database(database_url: str, customers: int, notes: int) -> float:
    """A fresh, migrated, seeded database; returns the seconds seeding took."""
    if make_url(database_url).get_backend_name() == "postgresql":
        await reset_postgres(database_url)
    await migrate.upgrade_async(database_url)
    database = Database(database_url)
    try:
        await grant(database, USER_ID, Role.OWNER)
        started = time.perf_counter()
        await seed_customers(database, count=customers, notes_length=notes)
        return time.perf_counter() - started
    finally:
        await database.dispose()


async def owner(database: Database) -> Requester:
    async with database.unit_of_work() as session:
        msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == TEAM_ID))
    assert msp_id is not None
    return Requester(msp_id=int(msp_id), team_id=TEAM_ID, user_id=USER_ID, role=Role.OWNER)


# --------------------------------------------------------------------------- the export


async def export_streamed(client: AsyncWebClient, database: Database, who: Requester) -> int:
    tiers = TierLimiter(DeliveryLimits().per_minute)
    summary = await export_to_dm(client, tiers, database, who, day=DAY)
    return summary.count


async def export_whole(client: AsyncWebClient, database: Database, who: Requester) -> int:
    async with database.unit_of_work() as session:
        data = await customer_csv.export_customers_csv(session, requester=who)
    await client.files_upload_v2(channel="D0001", content=data, filename="customers.csv")
    return data.count(b"\r\nEX")  # rows start with their account number (EX0000000)


async def one_run(
    export: Callable[[AsyncWebClient, Database, Requester], Awaitable[int]],
    client: AsyncWebClient,
    database: Database,
    who: Requester,
    *,
    traced: bool,
) -> Run:
    gc.collect()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        count = await export(client, database, who)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6 if traced else None
    finally:
        if traced:
            tracemalloc.stop()
    return Run(seconds=seconds, peak_mb=peak, customers=count)


async def benchmark(args: argparse.Namespace, database_url: str, report: Report) -> None:
    report.seed_seconds = await prepare_database(database_url, args.customers, args.notes)
    url, stop_fake = await start_fake()
    database = Database(database_url)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=url)
    export = export_streamed if args.mode == "stream" else export_whole
    try:
        who = await owner(database)
        for number in range(1, args.runs + 1):
            for traced in (False, True):
                run = await one_run(export, client, database, who, traced=traced)
                report.runs.append(run)
                if run.customers != args.customers:
                    report.failures.append(
                        f"run {number}: {run.customers} customers, not {args.customers}"
                    )
                peak = f"{run.peak_mb:7.1f} MB peak" if run.peak_mb is not None else "timed"
                print(f"run {number} {peak:>15}  {run.seconds:6.2f} s", flush=True)
    finally:
        await database.dispose()
        await stop_fake()


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=harness.positive, default=10_000)
    parser.add_argument("--notes", type=int, default=2_000, help="characters of notes each")
    parser.add_argument("-r", "--runs", type=harness.positive, default=5)
    parser.add_argument("--mode", choices=MODES, default="stream")
    parser.add_argument(
        "--batch", type=harness.positive, help="customers read at a time (default: the bot's)"
    )
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_fake:
        asyncio.run(serve_fake())
        return 0
    harness.quiet_logging()
    if args.batch:
        customer_csv.EXPORT_BATCH = args.batch
    with tempfile.TemporaryDirectory() as directory:
        database_url = args.database_url or f"sqlite+aiosqlite:///{directory}/export.db"
        report = Report(
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            machine=harness.machine_info(PACKAGES),
            settings={
                "customers": args.customers,
                "notes": args.notes,
                "runs": args.runs,
                "mode": args.mode,
                "database": make_url(database_url).get_backend_name(),
                "batch": customer_csv.EXPORT_BATCH,
            },
        )
        harness.print_started(report.started_at, report.machine, report.settings)
        asyncio.run(benchmark(args, database_url, report))
    summary = report.summary()
    print(f"seeding (not measured): {report.seed_seconds:.1f} s")
    print(
        f"median over {args.runs} runs: peak traced memory {summary['median_peak_mb']:.1f} MB "
        f"(range {summary['peak_mb_range'][0]:.1f}-{summary['peak_mb_range'][1]:.1f}), "
        f"time {summary['median_seconds']:.2f} s "
        f"(range {summary['seconds_range'][0]:.2f}-{summary['seconds_range'][1]:.2f})"
    )
    return ack.finish(report, summary, args.json)


if __name__ == "__main__":
    sys.exit(main())
