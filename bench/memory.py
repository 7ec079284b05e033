#!/usr/bin/env python
"""The bot's memory with 100,000 customers, served as in production.

The script

1. makes a fresh database (SQLite: a file in a temporary directory; PostgreSQL with
   `--database-url`: schema `public` dropped and recreated), migrates it, makes U0001 an
   owner and U0002 a member of T0001's MSP, seeds `--customers` customers with `--notes`
   characters of notes each (tests/seed.py `seed_customers`: every third with two sites,
   every second a primary contact, every fifth assigned to the member) and makes an API
   token. Seeding is not measured;
2. starts a fake Slack Web API (tests/fake_slack.py) in this process and the bot in a
   child process exactly as an operator does: `python -m bot run` (migrations checked,
   the HTTP server, the scheduler and the delivery worker), HTTP mode, configured by
   its environment and pointed at the fake Slack;
3. then, one step at a time, through signed requests and the API:
   `home`      the Home tab's Refresh clicked by the owner and by the member, until both
               views are published;
   `customers` `/msp customers all` and `trials` as the owner, `all` as the member and
               `/msp customer NAME` (replies checked);
   `export`    `/msp export customers` as the owner, until the file is shared in the DM;
   `alerts`    `--alerts` alerts (100 a request) through `POST /api/v1/alerts`;
   `settled`   a few seconds later, once the scheduler has redrawn the Home tabs the
               alerts marked stale;
   all of it `--rounds` times (2), so that memory that keeps growing shows;
   and after each step reads the server's resident memory from /proc/PID/status:
   VmRSS (now; split into its anonymous memory and its mapped files) and VmHWM (the
   most it ever held).

Goal: the server's VmHWM under 200 MB at the end. `--tracemalloc` runs the server
through this script's `--child` instead (the same `run` command, with `-X
tracemalloc=1`, so the imports are counted) and prints, after each step, what Python
holds by package and the lines that allocated most of it: what to look at when the
goal is missed. tracemalloc slows the server and adds its own memory, so that run's
RSS figures are not the measure.

    python bench/memory.py                         # SQLite, 100,000 customers, 2 rounds
    python bench/memory.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    python bench/memory.py --customers 10000 --tracemalloc
    python bench/memory.py --json /tmp/memory.json

`--database-url` DROPS schema public of a PostgreSQL database (or overwrites a SQLite
file): never point it at a database that matters. Only 127.0.0.1 is contacted. Exit
status: 0, or 1 when a step failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import inspect
import json
import linecache
import os
import signal
import socket
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path

# bench/ack_latency.py: the signing secret, the token and the report written as JSON
import ack_latency as ack
import aiohttp
from sqlalchemy.engine import make_url

from bot.domain.roles import Role
from bot.services import api_tokens, audit
from storage import migrate
from storage.engine import Database
from tests import fake_slack
from tests.fake_slack import FakeSlack
from tests.seed import grant, seed_customers
from tests.slack_requests import SlackRequests
from tests.support import TEAM_ID, reset_postgres

SCRIPT = Path(__file__).resolve()

OWNER_ID = "U0001"
MEMBER_ID = "U0002"
HOST = "127.0.0.1"
GOAL_MB = 200.0
ALERTS_PER_REQUEST = 100
START_TIMEOUT_S = 120.0
STEP_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1  # prctl(2)
SETTLE_S = 1.0  # after a step's last answer, for the work it left after its ack
SETTLED_S = 6.0  # the Home tabs' redraw job runs every few seconds
SLACK_MAX_UPLOAD_BYTES = 1024**3  # Slack takes files up to 1 GB; the fake, 64 MB by default
PACKAGES = (*harness.PACKAGES, "asyncpg")
# The server's environment: everything it reads is set here, and nothing it would
# pick up from the shell (a Socket Mode token, OAuth, owners) is passed on.
_NOT_PASSED = ("SLACK_", "MSPBOT_", "DATABASE_URL", "HOST", "PORT", "LOG_")


@dataclass
class Step:
    name: str
    seconds: float
    rss_mb: float
    hwm_mb: float
    anon_mb: float  # of VmRSS: the process's own memory (heap, Python objects)
    file_mb: float  # of VmRSS: mapped files (the interpreter, libraries' code)
    traced_mb: float | None = None
    top: list[str] = field(default_factory=list)


@dataclass
class Report:
    started_at: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    seed_seconds: float = 0.0
    steps: list[Step] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        peak = max((step.hwm_mb for step in self.steps), default=float("nan"))
        met = bool(self.steps) and peak < GOAL_MB and not self.failures
        return {
            "peak_mb": peak,
            "goal": f"server VmHWM under {GOAL_MB:.0f} MB",
            # tracemalloc's own memory would count against the server's
            "met": None if self.settings["tracemalloc"] else met,
        }


# --------------------------------------------------------------------------- database


def remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


async def prepare_database(database_url: str, customers: int, notes: int) -> tuple[str, float]:
    """A fresh, migrated, seeded database; returns an API token and the seconds
    seeding took."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        await reset_postgres(database_url)
    elif url.database:
        await asyncio.to_thread(remove_sqlite, url.database)
    await migrate.upgrade_async(database_url)
    database = Database(database_url)
    try:
        await grant(database, OWNER_ID, Role.OWNER)
        await grant(database, MEMBER_ID, Role.MEMBER)
        started = time.perf_counter()
        await seed_customers(database, count=customers, notes_length=notes, member=MEMBER_ID)
        seconds = time.perf_counter() - started
        async with database.unit_of_work() as session:
            created = await api_tokens.create_token(
                session,
                team_id=TEAM_ID,
                name="bench",
                timezone="UTC",
                created_by=audit.OPERATOR_ACTOR,
                now=datetime.now(UTC),
            )
        return created.token, seconds
    finally:
        await database.dispose()


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def status_mb(pid: int, name: str) -> float:
    """A field of /proc/PID/status (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {name} in /proc/{pid}/status")


@dataclass
class Server:
    process: asyncio.subprocess.Process
    base_url: str
    trace_file: Path | None

    @property
    def events_url(self) -> str:
        return f"{self.base_url}{ack.SLACK_EVENTS_PATH}"

    async def traced(self) -> tuple[float | None, list[str]]:
        """What tracemalloc sees in the server now (`--tracemalloc`): asked by SIGUSR1."""
        if self.trace_file is None:
            return None, []
        self.trace_file.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        for _ in range(2400):
            if self.trace_file.exists():
                with contextlib.suppress(ValueError):
                    written = json.loads(self.trace_file.read_text())
                    return written["traced_mb"], written["top"]
            await asyncio.sleep(0.05)
        return None, ["(no tracemalloc snapshot from the server)"]

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def start_server(slack_url: str, database_url: str, workdir: Path, *, trace: bool) -> Server:
    """`msp-bot run` in a child process, configured by its environment, in a directory
    of its own (so no .env is read); ready once /healthz answers."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(_NOT_PASSED)}
    env |= {
        "SLACK_BOT_TOKEN": ack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": ack.SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_URL": database_url,
        "HOST": HOST,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(harness.REPO_ROOT),
    }
    trace_file = workdir / "tracemalloc.json" if trace else None
    command = (
        [sys.executable, "-X", "tracemalloc=1", str(SCRIPT), "--child", str(trace_file)]
        if trace_file
        else [sys.executable, "-m", "bot", "run"]
    )
    process = await asyncio.create_subprocess_exec(
        *command, cwd=str(workdir), env=env, preexec_fn=_stop_with_parent
    )
    server = Server(process, f"http://{HOST}:{port}", trace_file)
    deadline = time.monotonic() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"the server stopped at start-up ({process.returncode})")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{server.base_url}/healthz") as reply:
                    if reply.status == 200:
                        return server
            await asyncio.sleep(0.2)
    await server.stop()
    raise RuntimeError("the server did not answer /healthz in time")


def _stop_with_parent() -> None:
    """In the child, before it runs: SIGTERM when this script dies (Linux), so no
    server is left behind by an interrupted run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_child(trace_file: str) -> None:
    """`--child FILE`: `msp-bot run` with tracemalloc on from the interpreter's start
    (`-X tracemalloc`, so the imports are counted); SIGUSR1 writes what it holds to
    FILE."""

    def dump(_signum: int, _frame: Any) -> None:
        # What this dump and tracemalloc allocate for themselves is left out.
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [
                tracemalloc.Filter(False, module.__file__ or "")
                for module in (tracemalloc, linecache, inspect)
            ]
        )
        top = ["by package:"]
        by_package: dict[str, list[int]] = {}
        for stat in snapshot.statistics("filename"):
            package = _package_of(stat.traceback[0].filename)
            sizes = by_package.setdefault(package, [0, 0])
            sizes[0] += stat.size
            sizes[1] += stat.count
        for package, (size, count) in sorted(by_package.items(), key=lambda item: -item[1][0])[:12]:
            top += [f"  {size / 1e6:7.2f} MB in {count:7,} blocks  {package}"]
        top += ["by line:"]
        top += [f"  {stat}" for stat in snapshot.statistics("lineno")[:12]]
        current = tracemalloc.get_traced_memory()[0] / 1e6
        Path(trace_file + ".tmp").write_text(json.dumps({"traced_mb": current, "top": top}))
        Path(trace_file + ".tmp").replace(trace_file)

    signal.signal(signal.SIGUSR1, dump)
    from bot.cli import cli

    cli(["run"])


def _package_of(filename: str) -> str:
    """site-packages/sqlalchemy/orm/x.py -> sqlalchemy; the repository's own by folder;
    the standard library and frozen modules as such."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    if path.is_relative_to(harness.REPO_ROOT):
        return f"(ours) {path.relative_to(harness.REPO_ROOT).parts[0]}"
    if filename.startswith("<"):
        return filename
    return "(standard library)"


# --------------------------------------------------------------------------- the steps


class Steps:
    """The requests of each step, checked, against a server and the fake Slack."""

    def __init__(
        self, server: Server, fake: FakeSlack, http: aiohttp.ClientSession, token: str, alerts: int
    ) -> None:
        self.server = server
        self.fake = fake
        self.http = http
        self.token = token
        self.alerts = alerts
        self.signer = SlackRequests(
            signing_secret=ack.SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=fake.hooks_base_url
        )

    async def command(self, text: str, *, user_id: str, marker: bytes) -> None:
        signed = self.signer.slash_command(text, user_id=user_id)
        reply = await ack.timed_post(self.http, self.server.events_url, signed)
        if reply.status != 200 or marker not in reply.body:
            raise StepFailed(f"/msp {text} as {user_id}: {reply.status} {reply.body[:200]!r}")

    async def until_calls(self, method: str, count: int) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while len(self.fake.calls_to(method)) < count:
            if time.monotonic() > deadline:
                raise StepFailed(f"{method}: {len(self.fake.calls_to(method))} of {count} calls")
            await asyncio.sleep(0.05)

    async def home(self) -> None:
        published = len(self.fake.calls_to("views.publish"))
        for user_id in (OWNER_ID, MEMBER_ID):
            signed = self.signer.block_actions(
                action_id="home_refresh", user_id=user_id, view={"type": "home"}, channel_id=None
            )
            reply = await ack.timed_post(self.http, self.server.events_url, signed)
            if reply.status != 200:
                raise StepFailed(f"Refresh as {user_id}: {reply.status}")
        await self.until_calls("views.publish", published + 2)

    async def customers(self) -> None:
        await self.command("customers all", user_id=OWNER_ID, marker=b"blocks")
        await self.command("customers trials", user_id=OWNER_ID, marker=b"blocks")
        await self.command("customers all", user_id=MEMBER_ID, marker=b"blocks")
        await self.command("customer Customer 000500", user_id=OWNER_ID, marker=b"blocks")

    async def export(self) -> None:
        shared = len(self.fake.calls_to("files.completeUploadExternal"))
        told = len(self.fake.calls_to(fake_slack.RESPONSE_URL_CALL))
        await self.command("export customers", user_id=OWNER_ID, marker=b"preparing")
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while len(self.fake.calls_to("files.completeUploadExternal")) == shared:
            if len(self.fake.calls_to(fake_slack.RESPONSE_URL_CALL)) > told:  # "not delivered: ..."
                raise StepFailed(f"export: {self.fake.calls_to(fake_slack.RESPONSE_URL_CALL)[-1]}")
            if time.monotonic() > deadline:
                raise StepFailed("export: the file was not shared in time")
            await asyncio.sleep(0.05)

    async def alerts_step(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        url = f"{self.server.base_url}/api/v1/alerts"
        for first in range(0, self.alerts, ALERTS_PER_REQUEST):
            items = [
                {
                    "customer": f"Customer {number * 37 % 1000:06d}",  # tests/seed.py names
                    "kind": "disk_space",
                    "severity": ("low", "medium", "high")[number % 3],
                    "title": f"Disk space low on PC-{number:05d}",
                    "details": f"Seen by the RMM's check {number % 97}.",
                    "dedup_key": f"bench:disk:{number:05d}",
                    "status": "firing",
                }
                for number in range(first, min(first + ALERTS_PER_REQUEST, self.alerts))
            ]
            async with self.http.post(url, json={"alerts": items}, headers=headers) as reply:
                text = await reply.text()
                if reply.status >= 300:
                    raise StepFailed(f"POST /api/v1/alerts: {reply.status} {text[:200]}")

    async def settled(self) -> None:
        await asyncio.sleep(SETTLED_S - SETTLE_S)


class StepFailed(Exception):
    pass


async def measure(server: Server, name: str, seconds: float) -> Step:
    await asyncio.sleep(SETTLE_S)
    pid = server.process.pid
    step = Step(
        name,
        seconds,
        status_mb(pid, "VmRSS"),
        status_mb(pid, "VmHWM"),
        status_mb(pid, "RssAnon"),
        status_mb(pid, "RssFile"),
    )
    step.traced_mb, step.top = await server.traced()
    traced = f", traced {step.traced_mb:.1f} MB" if step.traced_mb is not None else ""
    print(
        f"{name:<13} {seconds:7.2f} s   VmRSS {step.rss_mb:6.1f} MB (anonymous "
        f"{step.anon_mb:5.1f}, files {step.file_mb:5.1f})   VmHWM {step.hwm_mb:6.1f} MB{traced}",
        flush=True,
    )
    for line in step.top:
        print(f"    {line}")
    return step


async def benchmark(args: argparse.Namespace, database_url: str, report: Report) -> None:
    token, report.seed_seconds = await prepare_database(database_url, args.customers, args.notes)
    print(f"seeded {args.customers:,} customers in {report.seed_seconds:.1f} s (not measured)")
    fake_slack.MAX_UPLOAD_BYTES = SLACK_MAX_UPLOAD_BYTES  # a long-notes export is larger
    with tempfile.TemporaryDirectory(prefix="msp-memory-") as workdir:
        async with FakeSlack(team_id=TEAM_ID, bot_token=ack.BOT_TOKEN) as fake:
            started = time.perf_counter()
            server = await start_server(
                fake.base_url, database_url, Path(workdir), trace=args.tracemalloc
            )
            try:
                report.steps.append(await measure(server, "started", time.perf_counter() - started))
                timeout = aiohttp.ClientTimeout(total=STEP_TIMEOUT_S)
                async with aiohttp.ClientSession(timeout=timeout) as http:
                    steps = Steps(server, fake, http, token, args.alerts)
                    for round_number in range(1, args.rounds + 1):
                        suffix = f" #{round_number}" if args.rounds > 1 else ""
                        for name, step in (
                            ("home", steps.home),
                            ("customers", steps.customers),
                            ("export", steps.export),
                            ("alerts", steps.alerts_step),
                            ("settled", steps.settled),
                        ):
                            began = time.perf_counter()
                            try:
                                await step()
                            except StepFailed as failure:
                                report.failures.append(f"{name}{suffix}: {failure}")
                            report.steps.append(
                                await measure(server, name + suffix, time.perf_counter() - began)
                            )
            finally:
                await server.stop()


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=harness.positive, default=100_000)
    parser.add_argument("--notes", type=int, default=200, help="characters of notes each")
    parser.add_argument("--alerts", type=harness.positive, default=1_000)
    parser.add_argument(
        "--rounds", type=harness.positive, default=2, help="the steps, again (memory that grows)"
    )
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="print what the server holds after each step"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        run_child(args.child)
        return 0
    harness.quiet_logging()
    with tempfile.TemporaryDirectory() as directory:
        database_url = args.database_url or f"sqlite+aiosqlite:///{directory}/memory.db"
        report = Report(
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            machine=harness.machine_info(PACKAGES),
            settings={
                "customers": args.customers,
                "notes": args.notes,
                "alerts": args.alerts,
                "rounds": args.rounds,
                "database": make_url(database_url).get_backend_name(),
                "tracemalloc": args.tracemalloc,
            },
        )
        harness.print_started(report.started_at, report.machine, report.settings)
        asyncio.run(benchmark(args, database_url, report))
    summary = report.summary()
    verdict = {True: "met", False: "NOT met", None: "not judged under tracemalloc"}
    print(
        f"goal: {summary['goal']}: {verdict[summary['met']]} "
        f"(peak {summary['peak_mb']:.1f} MB); load average after: {harness.load_average()}"
    )
    return ack.finish(report, summary, args.json)


if __name__ == "__main__":
    sys.exit(main())
