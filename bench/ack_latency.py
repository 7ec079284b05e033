#!/usr/bin/env python
"""Ack latency of `/msp help` over HTTP, compared with a bare Bolt app that only acks.

Starts a fake Slack Web API (tests/fake_slack.py) and two HTTP servers on 127.0.0.1:

* bot:  the msp-bot, `build_app(settings).web`, on a fresh migrated SQLite database in a
        temporary directory, with the requesting user granted the `owner` role;
* bare: a bare Bolt `AsyncApp` whose one `/msp` command only acks "ok", mounted on aiohttp
        the same way (POST /slack/events, slack_bolt.adapter.aiohttp).

Both are served like `bot.server.serve` serves the bot (aiohttp AppRunner + TCPSite,
access log off). By default each server runs in its own child process (this script with
`--serve`), so the load generator does not share an event loop with the server; it still
shares the machine's cores. `--server-mode inprocess` runs everything in one event loop.

The load generator sends N freshly signed `/msp help` slash commands at concurrency C
through one aiohttp ClientSession, times each with time.perf_counter(), checks every reply
(200; for the bot a body with "blocks" and the help header; for the bare app "ok"), and
reports p50/p95/p99 and requests/s per app.
Runs alternate between the apps (bare, bot, bare, bot...); the summary is the median over
runs, and the ratio is bot req/s / bare req/s.

Goal: at C=20, bot req/s >= 0.7 x bare req/s and bot p99 < 50 ms.

    python bench/ack_latency.py                     # defaults: N=2000 C=20 R=5 W=200
    python bench/ack_latency.py --json /tmp/ack.json
    python bench/ack_latency.py --server-mode inprocess    # one process, one event loop
    python bench/ack_latency.py --apps bot --profile-server /tmp/prof   # cProfile the server

Only 127.0.0.1 is contacted. Exit status: 0, or 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import functools
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path
import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url

from bot.app import SHUTDOWN_GRACE_S, SLACK_EVENTS_PATH, build_app
from bot.config import Settings
from bot.domain.roles import Role
from bot.services import staff
from storage import migrate
from storage.engine import Database
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests

SCRIPT = Path(__file__).resolve()

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-test"
TEAM_ID = "T0001"
USER_ID = "U0001"
COMMAND_TEXT = "help"
HELP_MARKER = b"MSP Command Center"  # the help card's header; "you are not staff" has blocks too
HOST = "127.0.0.1"

GOAL_CONCURRENCY = 20
GOAL_RATIO = 0.7
GOAL_P99_MS = 50.0

APPS = ("bare", "bot")
REQUEST_TIMEOUT_S = 30.0
CHILD_START_TIMEOUT_S = 60.0
CHILD_STOP_TIMEOUT_S = SHUTDOWN_GRACE_S + 5.0
CHILD_MAX_LIFETIME_S = 900.0  # a child left behind stops by itself after this

# --------------------------------------------------------------------------- servers


@dataclass
class Served:
    """A server listening on 127.0.0.1: its URL and how to stop it."""

    url: str
    stop: Callable[[], Awaitable[None]]
    pid: int | None = None  # the child process serving it (subprocess mode)


async def _listen(web_app: web.Application) -> tuple[web.AppRunner, int]:
    # The same runner settings as bot.server.serve, on an ephemeral port.
    runner = web.AppRunner(web_app, shutdown_timeout=SHUTDOWN_GRACE_S, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


def bot_settings(slack_url: str, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_app_token=None,  # HTTP mode even if SLACK_APP_TOKEN is in the environment
        slack_api_url=slack_url,
        database_url=database_url,
        host=HOST,
        port=0,
        mspbot_owners=frozenset(),
        log_level="WARNING",
    )


async def start_bot(slack_url: str, database_url: str) -> Served:
    bot = build_app(bot_settings(slack_url, database_url))
    runner, port = await _listen(bot.web)
    return Served(f"http://{HOST}:{port}{SLACK_EVENTS_PATH}", runner.cleanup)


def bare_bolt_app(slack_url: str) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_url),
        signing_secret=SIGNING_SECRET,
    )

    @app.command("/msp")
    async def only_ack(ack: AsyncAck) -> None:
        await ack("ok")

    return app


async def start_bare(slack_url: str) -> Served:
    bolt = bare_bolt_app(slack_url)

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    web_app = web.Application()
    web_app.add_routes([web.post(SLACK_EVENTS_PATH, handle)])
    runner, port = await _listen(web_app)
    return Served(f"http://{HOST}:{port}{SLACK_EVENTS_PATH}", runner.cleanup)


async def start_in_process(app: str, slack_url: str, database_url: str) -> Served:
    return await (start_bot(slack_url, database_url) if app == "bot" else start_bare(slack_url))


async def start_subprocess(
    app: str, slack_url: str, database_url: str, *, profile_dir: Path | None = None
) -> Served:
    """Run this script with `--serve APP` and read the URL it prints. The child stops when
    its stdin closes (so it also stops if this process dies)."""
    profile = ["--profile-to", str(profile_dir / f"{app}.prof")] if profile_dir else []
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--serve",
        app,
        "--slack-url",
        slack_url,
        "--database-url",
        database_url,
        *profile,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(harness.REPO_ROOT),
    )
    assert child.stdin is not None and child.stdout is not None

    async def stop() -> None:
        if child.returncode is not None:
            return
        assert child.stdin is not None
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), CHILD_STOP_TIMEOUT_S)
        except TimeoutError:
            child.kill()
            await child.wait()

    try:
        line = await asyncio.wait_for(child.stdout.readline(), CHILD_START_TIMEOUT_S)
        url = json.loads(line)["url"]
    except (TimeoutError, ValueError, KeyError) as error:
        await stop()
        raise RuntimeError(f"the {app} server process did not start ({error!r})") from None
    return Served(url, stop, pid=child.pid)


async def serve_child(app: str, slack_url: str, database_url: str) -> None:
    """`--serve`: start one server, print {"url": ...}, serve until stdin closes."""
    served = await start_in_process(app, slack_url, database_url)
    print(json.dumps({"url": served.url}), flush=True)
    try:
        loop = asyncio.get_running_loop()
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stdin.read(), CHILD_MAX_LIFETIME_S)  # until EOF
    finally:
        await served.stop()


# --------------------------------------------------------------------------- database


def prepare_database(database_url: str) -> None:
    """Migrate, and make USER_ID an owner of TEAM_ID's MSP (else: "you are not staff").
    Synchronous: runs before the benchmark's event loop starts."""
    migrate.upgrade(database_url)

    async def grant_owner() -> None:
        database = Database(database_url)
        try:
            async with database.unit_of_work() as session:
                await staff.grant_role_as_operator(
                    session,
                    team_id=TEAM_ID,
                    target_user_id=USER_ID,
                    new_role=Role.OWNER,
                    timezone="UTC",
                    now=datetime.now(UTC),
                )
        finally:
            await database.dispose()

    asyncio.run(grant_owner())


# --------------------------------------------------------------------------- load


@dataclass
class RunResult:
    app: str
    run: int
    requests: int
    concurrency: int
    failures: int
    first_failure: str | None
    wall_s: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    client_cpu_us_per_request: float  # CPU of this process (client; + server if in-process)
    server_cpu_us_per_request: float | None  # CPU of the server's child process, if any


def expects(app: str, body: bytes) -> bool:
    """The bot answers the help card (blocks and its header); the bare app answers "ok"."""
    return b'"blocks"' in body and HELP_MARKER in body if app == "bot" else body == b"ok"


async def run_load(
    session: aiohttp.ClientSession,
    served: Served,
    app: str,
    signer: SlackRequests,
    *,
    requests: int,
    concurrency: int,
    run: int,
) -> RunResult:
    latencies: list[float] = []
    failures: list[str] = []
    remaining = iter(range(requests))  # the shared counter; next() never yields twice

    async def worker() -> None:
        for _ in remaining:
            signed = signer.slash_command(COMMAND_TEXT, user_id=USER_ID)  # signed now
            timed = await timed_post(session, served.url, signed)
            latencies.append(timed.seconds)
            if timed.error:
                failures.append(timed.error)
            elif timed.status != 200 or not expects(app, timed.body):
                failures.append(f"HTTP {timed.status}: {timed.body[:200]!r}")

    gc.collect()
    cpu_before = time.process_time()
    server_cpu_before = harness.process_cpu_s(served.pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu_used = time.process_time() - cpu_before
    server_cpu_after = harness.process_cpu_s(served.pid)
    server_cpu = (
        None
        if server_cpu_before is None or server_cpu_after is None
        else (server_cpu_after - server_cpu_before) / requests * 1e6
    )
    ordered = sorted(latencies)
    return RunResult(
        app=app,
        run=run,
        requests=requests,
        concurrency=concurrency,
        failures=len(failures),
        first_failure=failures[0] if failures else None,
        wall_s=wall,
        rps=requests / wall,
        p50_ms=harness.percentile_ms(ordered, 0.50),
        p95_ms=harness.percentile_ms(ordered, 0.95),
        p99_ms=harness.percentile_ms(ordered, 0.99),
        max_ms=ordered[-1] * 1000.0,
        mean_ms=statistics.fmean(ordered) * 1000.0,
        client_cpu_us_per_request=cpu_used / requests * 1e6,
        server_cpu_us_per_request=server_cpu,
    )


# --------------------------------------------------------------------------- summary


@dataclass
class AppSummary:
    app: str
    runs: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_us_per_request: float | None
    client_cpu_us_per_request: float


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)
    summary: dict[str, AppSummary] = field(default_factory=dict)
    ratio: float | None = None
    paired_ratios: list[float] = field(default_factory=list)
    goal: dict[str, Any] = field(default_factory=dict)
    fake_slack_calls: dict[str, int] = field(default_factory=dict)  # during the measured runs
    fake_slack_calls_warmup: dict[str, int] = field(default_factory=dict)


def summarise(app: str, runs: list[RunResult]) -> AppSummary:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    server = [r.server_cpu_us_per_request for r in runs if r.server_cpu_us_per_request is not None]
    return AppSummary(
        app=app,
        runs=len(runs),
        failures=sum(r.failures for r in runs),
        rps=median([r.rps for r in runs]),
        p50_ms=median([r.p50_ms for r in runs]),
        p95_ms=median([r.p95_ms for r in runs]),
        p99_ms=median([r.p99_ms for r in runs]),
        max_ms=max(r.max_ms for r in runs),
        server_cpu_us_per_request=median(server) if len(server) == len(runs) else None,
        client_cpu_us_per_request=median([r.client_cpu_us_per_request for r in runs]),
    )


def judge_goal(report: Report, concurrency: int) -> dict[str, Any]:
    bot, bare = report.summary.get("bot"), report.summary.get("bare")
    if bot is None or bare is None:
        return {"evaluated": False, "why": "needs both apps (--apps bare,bot)"}
    failures = bot.failures + bare.failures
    ratio_ok = report.ratio is not None and report.ratio >= GOAL_RATIO
    p99_ok = bot.p99_ms < GOAL_P99_MS
    goal: dict[str, Any] = {
        "evaluated": concurrency == GOAL_CONCURRENCY and failures == 0,
        "ratio_ok": ratio_ok,
        "p99_ok": p99_ok,
        "met": concurrency == GOAL_CONCURRENCY and failures == 0 and ratio_ok and p99_ok,
    }
    if concurrency != GOAL_CONCURRENCY:
        goal["why"] = f"the goal is defined at concurrency {GOAL_CONCURRENCY}"
    elif failures:
        goal["why"] = f"{failures} request(s) failed"
    return goal


def finish(report: Any, summary: dict[str, Any], json_path: Path | None) -> int:
    """Print a benchmark's failures (`report.failures`), write its report and summary
    as JSON when asked; the exit status (1 when anything failed)."""
    for failure in report.failures:
        print(f"FAILED: {failure}")
    if json_path:
        json_path.write_text(
            json.dumps({**asdict(report), "summary": summary}, indent=2, default=str)
        )
    return 1 if report.failures else 0


def print_header(report: Report) -> None:
    m, s = report.machine, report.settings
    packages = ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    print(
        f"machine: nproc={m['nproc']} cpu={m['cpu_model']!r}"
        f" load average before: {m['load_average_before']}"
    )
    print(f"         {m['python']} on {m['platform']}, event loop: {m['event_loop']}")
    print(f"         {packages}")
    if s["server_mode"] == "subprocess":
        where = "each server in its own process; load generator in this one (same cores)"
    else:
        where = "servers AND load generator in ONE process and ONE event loop (shared CPU)"
    print(f"setup:   {where}")
    print(
        f"load:    {s['requests']} x `/msp {COMMAND_TEXT}` per run, concurrency {s['concurrency']},"
        f" {s['runs']} run(s) per app, {s['warmup']} warm-up request(s) per app"
    )
    print(f"bot db:  {s['database']}")
    print()


def print_run(result: RunResult) -> None:
    server = (
        f"  server CPU {result.server_cpu_us_per_request:6.0f} us/req"
        if result.server_cpu_us_per_request is not None
        else ""
    )
    failed = f"  FAILURES {result.failures} ({result.first_failure})" if result.failures else ""
    print(
        f"run {result.run} {result.app:4}  {result.rps:7.0f} req/s  p50 {result.p50_ms:6.1f}"
        f"  p95 {result.p95_ms:6.1f}  p99 {result.p99_ms:6.1f}  max {result.max_ms:6.1f} ms"
        f"{server}{failed}",
        flush=True,
    )


def print_summary(report: Report) -> None:
    print()
    print(f"median over runs    {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}", end="")
    print(f" {'server CPU us/req':>18}  failures")
    for summary in report.summary.values():
        cpu = summary.server_cpu_us_per_request
        print(
            f"  {summary.app:17} {summary.rps:8.0f} {summary.p50_ms:8.1f} {summary.p95_ms:8.1f}"
            f" {summary.p99_ms:8.1f} {(f'{cpu:.0f}' if cpu is not None else '-'):>18}"
            f"  {summary.failures}"
        )
    if report.ratio is not None:
        spread = ""
        if report.paired_ratios:
            spread = (
                f" (per run pair: {min(report.paired_ratios):.2f} .. "
                f"{max(report.paired_ratios):.2f})"
            )
        print(f"ratio bot/bare req/s: {report.ratio:.2f}{spread}")
    goal = report.goal
    bot = report.summary.get("bot")
    if goal.get("ratio_ok") is not None and bot is not None:
        verdict = "MET" if goal["met"] else "NOT MET"
        if not goal["evaluated"]:
            verdict = f"not evaluated: {goal['why']}"
        target = f"C={GOAL_CONCURRENCY}: ratio >= {GOAL_RATIO} and bot p99 < {GOAL_P99_MS:.0f} ms"
        print(
            f"goal ({target}): {verdict}  [ratio {'ok' if goal['ratio_ok'] else 'too low'},"
            f" p99 {'ok' if goal['p99_ok'] else 'too high'}]"
        )
    elif goal:
        print(f"goal: not evaluated: {goal['why']}")

    def listed(calls: dict[str, int]) -> str:
        return ", ".join(f"{m} x{n}" for m, n in sorted(calls.items())) or "nothing"

    print(
        f"fake Slack received: {listed(report.fake_slack_calls_warmup)} while starting and"
        f" warming up; {listed(report.fake_slack_calls)} during the measured runs"
    )


# --------------------------------------------------------------------------- main


async def benchmark(args: argparse.Namespace, database_url: str, report: Report) -> None:
    apps = [app for app in APPS if app in args.apps]
    start: Callable[[str, str, str], Awaitable[Served]] = start_in_process
    if args.server_mode == "subprocess":
        start = functools.partial(start_subprocess, profile_dir=args.profile_server)
    async with FakeSlack(team_id=TEAM_ID, bot_token=BOT_TOKEN) as fake:
        signer = SlackRequests(
            signing_secret=SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=fake.hooks_base_url
        )
        servers: dict[str, Served] = {}
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                for app in apps:
                    servers[app] = await start(app, fake.base_url, database_url)
                for app in apps if args.warmup else ():
                    warm = await run_load(
                        session,
                        servers[app],
                        app,
                        signer,
                        requests=args.warmup,
                        concurrency=args.concurrency,
                        run=0,
                    )
                    if warm.failures:
                        print(f"warm-up {app}: {warm.failures} failure(s): {warm.first_failure}")
                report.fake_slack_calls_warmup = count_calls(fake)
                fake.reset()
                for run in range(1, args.runs + 1):
                    for app in apps:
                        result = await run_load(
                            session,
                            servers[app],
                            app,
                            signer,
                            requests=args.requests,
                            concurrency=args.concurrency,
                            run=run,
                        )
                        report.runs.append(result)
                        print_run(result)
        finally:
            for served in servers.values():
                await served.stop()
        report.fake_slack_calls = count_calls(fake)


def count_calls(fake: FakeSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in fake.calls:
        counts[call.method] = counts.get(call.method, 0) + 1
    return counts


@dataclass(frozen=True)
class Timed:
    """One signed POST, timed from sending to reading the whole reply."""

    seconds: float
    status: int
    body: bytes
    error: str | None


async def timed_post(session: aiohttp.ClientSession, url: str, signed: Any) -> Timed:
    data = signed.body.encode()
    started = time.perf_counter()
    try:
        async with session.post(url, data=data, headers=signed.headers) as reply:
            body = await reply.read()
            return Timed(time.perf_counter() - started, reply.status, body, None)
    except (aiohttp.ClientError, TimeoutError) as error:
        return Timed(time.perf_counter() - started, 0, b"", f"{type(error).__name__}: {error}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ack latency and throughput of `/msp help`, msp-bot vs a bare Bolt app."
    )
    parser.add_argument(
        "--requests", "-n", type=harness.positive, default=2000, help="per run (2000)"
    )
    parser.add_argument("--concurrency", "-c", type=harness.positive, default=20, help="(20)")
    parser.add_argument("--runs", "-r", type=harness.positive, default=5, help="per app (5)")
    parser.add_argument("--warmup", "-w", type=int, default=200, help="per app (200)")
    parser.add_argument(
        "--database-url",
        help="the bot's database (migrated, user granted owner); default: fresh SQLite in a"
        " temporary directory",
    )
    parser.add_argument(
        "--server-mode",
        choices=("subprocess", "inprocess"),
        default="subprocess",
        help="subprocess (default): each server in a child process; inprocess: servers and"
        " load generator share one event loop",
    )
    parser.add_argument(
        "--apps",
        type=lambda text: [a.strip() for a in text.split(",") if a.strip()],
        default=list(APPS),
        help="comma-separated subset of bare,bot (default both)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument(
        "--profile-server",
        type=Path,
        metavar="DIR",
        help="subprocess mode: run each server under cProfile and write DIR/<app>.prof"
        " (inflates the timings; for finding hot spots only)",
    )
    # Internal: run one server in this process (what subprocess mode starts).
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)
    parser.add_argument("--slack-url", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.apps) - set(APPS)
    if unknown or not args.apps:
        parser.error(f"--apps: choose from {', '.join(APPS)}")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.profile_server and args.server_mode != "subprocess":
        parser.error("--profile-server needs --server-mode subprocess")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.quiet_logging()
    if args.serve:
        serve = serve_child(args.serve, args.slack_url, args.database_url)
        if args.profile_to is None:
            asyncio.run(serve)
            return 0
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(serve)
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile_to)
        return 0
    if args.profile_server:
        args.profile_server.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="msp-bench-") as tmp:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if "bot" in args.apps:
            prepare_database(database_url)  # before the benchmark's loop starts
            harness.quiet_logging()  # alembic may have touched logging
        report = Report(
            machine=harness.machine_info(),
            settings={
                "requests": args.requests,
                "concurrency": args.concurrency,
                "runs": args.runs,
                "warmup": args.warmup,
                "server_mode": args.server_mode,
                "apps": args.apps,
                "database": make_url(database_url).render_as_string(hide_password=True),
                "command": f"/msp {COMMAND_TEXT}",
            },
        )
        print_header(report)
        started = time.perf_counter()
        asyncio.run(benchmark(args, database_url, report))
        elapsed = time.perf_counter() - started

    for app in APPS:
        runs = [r for r in report.runs if r.app == app]
        if runs:
            report.summary[app] = summarise(app, runs)
    if "bot" in report.summary and "bare" in report.summary:
        report.ratio = report.summary["bot"].rps / report.summary["bare"].rps
        bare_runs = {r.run: r for r in report.runs if r.app == "bare"}
        report.paired_ratios = [r.rps / bare_runs[r.run].rps for r in report.runs if r.app == "bot"]
    report.goal = judge_goal(report, args.concurrency)
    print_summary(report)
    after = report.machine["load_average_after"] = harness.load_average()
    print(f"total time: {elapsed:.1f} s; load average after: {after}")

    if args.json:
        payload = asdict(report)
        payload["total_s"] = elapsed
        payload["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if any(r.failures for r in report.runs) else 0


if __name__ == "__main__":
    sys.exit(main())
