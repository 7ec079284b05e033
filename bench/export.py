#!/usr/bin/env python
"""Memory and time of `/msp export customers` for an MSP with 10,000 customers whose
notes are 2,000 characters long (a CSV of about 21 MB).

The script

1. makes a fresh database (SQLite: a file in a temporary directory; PostgreSQL with
   `--database-url`: schema `public` dropped and recreated), migrates it, makes U0001 an
   owner of T0001's MSP and seeds `--customers` customers with `--notes` characters of
   notes each, with SQLAlchemy Core bulk inserts (tests/seed.py, `seed_customers`: every third
   customer has two sites, every second a primary contact, every fifth is assigned to the
   member U0002). Seeding is not measured;
2. starts the fake Slack Web API (tests/fake_slack.py) in a child process (this script
   with `--serve-fake`), so what it receives is not counted in this process's memory;
3. runs the export `--runs` times as the bot does after its ack
   (`handlers.customer_export.export_to_dm`: conversations.open, the CSV written to a
   temporary file a batch of customers at a time, then streamed to the upload URL and
   shared in the DM), each run twice: once timed, once under `tracemalloc` for the peak
   of memory allocated by Python while it runs (what the export holds at its worst;
   the interpreter, the libraries and the seeded database's cache are not in it).
   Every run checks that all customers were exported and the upload was accepted;
4. then `--served` times (3) sends the export to the bot served over HTTP in a child
   process (bench/ack_latency.py's `--serve`, against a fake Slack in this process): the
   owner's signed `/msp export customers`, its ack timed and checked, and until the file
   is shared in the DM, `/healthz` and the member's `/msp mau`, one after the other, timed
   (and 20 of each before the export, to compare); then the server's peak resident
   memory (VmHWM).

`--mode whole` measures instead what holding the file does: the same CSV built whole
in memory (`customer_csv.export_customers_csv`) and uploaded with slack_sdk's
`files_upload_v2`, as a file queued in the outbox was.

Reports the median over runs (and the range) of the peak traced memory and of the time,
the served figures, and each goal as met or not: the ack under 500 ms, and during the
export `/healthz` p95 under 100 ms and the member's `/msp mau` p95 under 300 ms.

    python bench/export.py                         # SQLite, 10,000 customers, 5 runs, 3 served
    python bench/export.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    python bench/export.py --mode whole -r 3 --served 0   # the file whole in memory
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
import aiohttp
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
from tests.slack_requests import SlackRequests
from tests.support import TEAM_ID, reset_postgres

SCRIPT = Path(__file__).resolve()

USER_ID = "U0001"
MEMBER_ID = "U0002"  # every fifth customer is theirs: their `/msp mau` is timed
BOT_TOKEN = "xoxb-test"
CHILD_START_TIMEOUT_S = 60.0
CHILD_MAX_LIFETIME_S = 1800.0  # a child left behind stops by itself after this
DAY = date(2026, 11, 22)
MODES = ("stream", "whole")
PACKAGES = (*harness.PACKAGES, "asyncpg")
BASELINE_PROBES = 20  # of each, before the export
PROBE_GAP_S = 0.05
EXPORT_TIMEOUT_S = 600.0
# Served: what "stays fast" means here. Slack gives up on an answer after 3 s; the
# ack of any /msp command aims at p99 < 50 ms on a quiet machine (docs/performance/ack.md).
GOAL_ACK_MS = 500.0
GOAL_HEALTHZ_P95_MS = 100.0
GOAL_MAU_P95_MS = 300.0


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
    served: list[Served] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        timed = [run.seconds for run in self.runs if run.peak_mb is None]
        peaks = [run.peak_mb for run in self.runs if run.peak_mb is not None]
        return {
            "median_seconds": statistics.median(timed) if timed else None,
            "seconds_range": [min(timed), max(timed)] if timed else None,
            "median_peak_mb": statistics.median(peaks) if peaks else None,
            "peak_mb_range": [min(peaks), max(peaks)] if peaks else None,
            "served": served_summary(self.served) if self.served else None,
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
        await grant(database, MEMBER_ID, Role.MEMBER)
        started = time.perf_counter()
        await seed_customers(database, count=customers, notes_length=notes, member=MEMBER_ID)
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
    if args.served:
        await served_runs(args, database_url, report)


# --------------------------------------------------------------------------- served


@dataclass
class Served:
    """One `/msp export customers` sent to the bot served over HTTP, and what the
    others asked of it meanwhile (`--served`)."""

    ack_ms: float
    ack_ok: bool
    export_s: float  # from sending the command to files.completeUploadExternal
    peak_rss_mb: float | None  # the server's VmHWM after the export
    healthz_before_ms: list[float] = field(default_factory=list)
    mau_before_ms: list[float] = field(default_factory=list)
    healthz_during_ms: list[float] = field(default_factory=list)
    mau_during_ms: list[float] = field(default_factory=list)
    failures: int = 0


def served_summary(runs: list[Served]) -> dict[str, Any]:
    def p(values: list[float], q: float) -> float:
        return harness.percentile_ms(sorted(v / 1000 for v in values), q)

    def pooled(name: str) -> list[float]:
        return [value for run in runs for value in getattr(run, name)]

    summary: dict[str, Any] = {
        "ack_ms_max": max(run.ack_ms for run in runs),
        "export_s_median": statistics.median(run.export_s for run in runs),
        "peak_rss_mb_max": max((run.peak_rss_mb or 0.0) for run in runs),
        "failures": sum(run.failures for run in runs),
    }
    for name in ("healthz_before_ms", "mau_before_ms", "healthz_during_ms", "mau_during_ms"):
        values = pooled(name)
        summary[name] = {
            "count": len(values),
            "p50": p(values, 0.5),
            "p95": p(values, 0.95),
            "max": max(values, default=float("nan")),
        }
    summary["goals"] = {
        f"ack under {GOAL_ACK_MS:.0f} ms": summary["ack_ms_max"] < GOAL_ACK_MS,
        f"/healthz p95 under {GOAL_HEALTHZ_P95_MS:.0f} ms during the export": (
            summary["healthz_during_ms"]["p95"] < GOAL_HEALTHZ_P95_MS
        ),
        f"/msp mau (member) p95 under {GOAL_MAU_P95_MS:.0f} ms during the export": (
            summary["mau_during_ms"]["p95"] < GOAL_MAU_P95_MS
        ),
    }
    return summary


def rss_mb(pid: int | None, field_name: str = "VmHWM") -> float | None:
    """A field of /proc/PID/status in MB (Linux), None elsewhere."""
    if pid is None:
        return None
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1]) / 1024
    return None


async def timed_get(session: aiohttp.ClientSession, url: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        async with session.get(url) as reply:
            await reply.read()
            return (time.perf_counter() - started) * 1000, reply.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return (time.perf_counter() - started) * 1000, False


async def timed_command(
    session: aiohttp.ClientSession, url: str, signed: Any, marker: bytes
) -> tuple[float, bool]:
    reply = await ack.timed_post(session, url, signed)
    return reply.seconds * 1000, reply.status == 200 and marker in reply.body


async def probe(
    session: aiohttp.ClientSession,
    bot_url: str,
    signer: SlackRequests,
    *,
    healthz: list[float],
    mau: list[float],
    until: Callable[[], bool],
    at_least: int = 0,
) -> int:
    """`/healthz` and a member's `/msp mau`, one after the other with a short gap,
    until `until()` (and at least `at_least` of each); returns the failures."""
    health_url = bot_url.replace(ack.SLACK_EVENTS_PATH, "/healthz")
    failures = 0
    while not until() or len(mau) < at_least:
        seconds, ok = await timed_get(session, health_url)
        healthz.append(seconds)
        failures += not ok
        signed = signer.slash_command("mau", user_id=MEMBER_ID)
        seconds, ok = await timed_command(session, bot_url, signed, b"blocks")
        mau.append(seconds)
        failures += not ok
        await asyncio.sleep(PROBE_GAP_S)
    return failures


async def served_runs(args: argparse.Namespace, database_url: str, report: Report) -> None:
    """The bot served over HTTP in a child process (bench/ack_latency.py's `--serve`),
    against a fake Slack in this process: `/msp export customers` as the owner, and
    meanwhile `/healthz` and a member's `/msp mau`, timed."""
    async with FakeSlack(team_id=TEAM_ID, bot_token=BOT_TOKEN) as fake:
        signer = SlackRequests(
            signing_secret=ack.SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=fake.hooks_base_url
        )
        served = await ack.start_subprocess("bot", fake.base_url, database_url)
        timeout = aiohttp.ClientTimeout(total=ack.REQUEST_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for number in range(1, args.served + 1):
                    run = await one_served(session, served, signer, fake)
                    report.served.append(run)
                    during = served_summary([run])
                    print(
                        f"served {number}: ack {run.ack_ms:.0f} ms, export {run.export_s:.2f} s, "
                        f"server peak RSS {run.peak_rss_mb or float('nan'):.0f} MB; during it "
                        f"/healthz p95 {during['healthz_during_ms']['p95']:.0f} ms, "
                        f"/msp mau p95 {during['mau_during_ms']['p95']:.0f} ms "
                        f"({len(run.mau_during_ms)} each), {run.failures} failed",
                        flush=True,
                    )
                    if not run.ack_ok or run.failures:
                        report.failures.append(f"served run {number}: a request failed")
        finally:
            await served.stop()


async def one_served(
    session: aiohttp.ClientSession, served: ack.Served, signer: SlackRequests, fake: FakeSlack
) -> Served:
    done_before = len(fake.calls_to("files.completeUploadExternal"))
    finished: list[float] = []

    async def watch() -> None:
        while True:
            if len(fake.calls_to("files.completeUploadExternal")) > done_before:
                finished.append(time.perf_counter())
                return
            await asyncio.sleep(0.01)

    healthz_before: list[float] = []
    mau_before: list[float] = []
    failures = await probe(
        session,
        served.url,
        signer,
        healthz=healthz_before,
        mau=mau_before,
        until=lambda: True,
        at_least=BASELINE_PROBES,
    )
    watcher = asyncio.create_task(watch())
    started = time.perf_counter()
    ack_ms, ack_ok = await timed_command(
        session, served.url, signer.slash_command("export customers"), b"preparing"
    )
    healthz: list[float] = []
    mau: list[float] = []
    failures += await probe(
        session, served.url, signer, healthz=healthz, mau=mau, until=watcher.done, at_least=1
    )
    await asyncio.wait_for(watcher, EXPORT_TIMEOUT_S)
    return Served(
        ack_ms=ack_ms,
        ack_ok=ack_ok,
        export_s=finished[0] - started,
        peak_rss_mb=rss_mb(served.pid),
        healthz_before_ms=healthz_before,
        mau_before_ms=mau_before,
        healthz_during_ms=healthz,
        mau_during_ms=mau,
        failures=failures,
    )


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
    parser.add_argument(
        "--served",
        type=int,
        default=3,
        help="exports sent to the bot served over HTTP, /healthz and /msp mau timed meanwhile "
        "(0: none)",
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
    if summary["served"]:
        print_served(summary["served"], len(report.served))
    print(f"load average after: {harness.load_average()}")
    return ack.finish(report, summary, args.json)


def print_served(served: dict[str, Any], runs: int) -> None:
    print(
        f"served, {runs} exports: ack at most {served['ack_ms_max']:.0f} ms, export "
        f"{served['export_s_median']:.2f} s (median), server peak RSS "
        f"{served['peak_rss_mb_max']:.0f} MB"
    )
    for name, label in (
        ("healthz_before_ms", "/healthz before"),
        ("healthz_during_ms", "/healthz during"),
        ("mau_before_ms", "/msp mau before"),
        ("mau_during_ms", "/msp mau during"),
    ):
        figures = served[name]
        print(
            f"  {label:<16} n={figures['count']:<4} p50 {figures['p50']:6.1f} ms  "
            f"p95 {figures['p95']:6.1f} ms  max {figures['max']:6.1f} ms"
        )
    for goal, met in served["goals"].items():
        print(f"goal: {goal}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
