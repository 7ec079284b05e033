#!/usr/bin/env python
"""Delivery throughput against Slack's per-channel posting limit.

A backlog of posts (default 600: 120 in each of 5 channels) is put in the outbox of a fresh
migrated database (SQLite in a temporary directory, or `--database-url`) *before* the delivery
worker starts. Then the real `DeliveryWorker` (with `DeliveryLimits()`: 1 message/s per
channel, burst 3) sends it to the fake Slack of tests/fake_slack.py, which enforces
`limit_rate("chat.postMessage", per_second=RATE, burst=FAKE_BURST)`: calls over it get a 429
with a Retry-After (whole seconds, as Slack sends) and change nothing.

Reported per channel: messages delivered, first and last delivery (seconds after the worker
started), the achieved rate two ways:

* `n/elapsed` = n / (last delivery - worker start): what a backlog of n messages really took,
  start-up included. The rate goal is judged on this one, on the slowest channel.
* `(n-1)/span` = (n - 1) / (last - first delivery): the spacing between deliveries.

Both are above the limit for short runs because of the burst (n messages need only
(n - burst) intervals); `ideal` shows that bound. Overall: 429s provoked (`fake.rate_limited`),
the worker's retries and failures (`worker.stats`), messages lost (enqueued - delivered),
duplicates (a text accepted twice), and whether each channel kept its order.

Goals: achieved >= 0.9 x the limit per channel; few 429s (no number was set:
this script calls "few" <= 1% of the messages); 0 lost. Also checked: 0 duplicates, order kept.

    python bench/delivery.py                          # 5 x 120 at 1/s, fake burst 3: ~2 min
    python bench/delivery.py --fake-burst 3,1         # also a fake Slack with no burst at all
    python bench/delivery.py --rate 10                # 10/s for the fake and the limiter: ~12 s
    python bench/delivery.py --messages-per-channel 20 --rate 10    # a few seconds
    python bench/delivery.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python bench/delivery.py --json /tmp/delivery.json

`--rate R` is a time scale: the fake's limit, the limiter's `channel_per_second` and its
`chat.postMessage` tier cap (300/min) are all multiplied by R, and the worker's poll interval
divided by R, so a scaled run has the shape of a 1/s one. NOT scaled: Slack's Retry-After
(whole seconds: a 429 costs R times more intervals in a scaled run), the tier bucket's size
(10 s of its rate), and the claim-to-Slack latency (a larger share of a shorter interval).
So a scaled run is the harsher test; record a 1/s run for the real figure.

`--database-url` with PostgreSQL DROPS AND RECREATES SCHEMA public before each run (as
tests/support.py reset_postgres does); it takes PostgreSQL URLs only. Without it each run
gets its own fresh SQLite file in a temporary directory.

`--claim` measures something else: claim rounds (`DeliveryWorker._claim`, the claim
transaction) at each `--queued` backlog size (100 and 100,000 posts over `--channels` lanes),
each size in a database of its own (on PostgreSQL `DB_qSIZE` beside the one named, made and
dropped here), with every lane's head due, with every head waiting for its lane's pace, and
with coalescible posts; each round is undone after it is timed, so all do the same work, and
the sizes' rounds take turns. Goal: a round costs the same at 100 and 100,000 queued (within
1.5x), printed per state as MET or NOT MET.

    python bench/delivery.py --claim
    python bench/delivery.py --claim --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB

Only 127.0.0.1 is contacted. Exit status: 1 when a message was lost, duplicated or out of
order, or the backlog did not drain in time; else 0 (goals are reported, not enforced).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import delete, event, func, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.delivery import outbox
from bot.delivery.limits import DeliveryLimits, TierLimiter
from bot.delivery.sender import Sender
from bot.delivery.worker import DeliveryWorker
from bot.notify.digest import digest_payload
from bot.services.tenancy import ensure_msp
from storage import migrate
from storage.engine import Database
from storage.models import DeliveryLane, OutboxItem
from storage.repositories import outbox as outbox_repo
from tests.fake_slack import FakeSlack, running_fake_slack
from tests.support import database_of_its_own, reset_postgres

TEAM_ID = "T0001"
BOT_TOKEN = "xoxb-test"
METHOD = "chat.postMessage"
PACKAGES = ("slack_bolt", "slack_sdk", "aiohttp", "SQLAlchemy", "aiosqlite", "asyncpg")

GOAL_RATIO = 0.9  # achieved messages/s per channel >= 0.9 x the limit
GOAL_429_SHARE = 0.01  # "few" 429s: at most 1% of the messages (threshold chosen here)

DEFAULTS = DeliveryLimits()
POST_TIER_PER_MINUTE = DEFAULTS.per_minute[METHOD]

# --------------------------------------------------------------------------- recording


class Recorder:
    """When the fake Slack accepted each post, and when it answered a 429.

    Wraps two private hooks of the test fake (it keeps no per-call outcome): the
    chat.postMessage handler, which runs only for calls that passed the rate limit, and the
    per-channel limit check. Nothing about the fake's answers changes."""

    def __init__(self, fake: FakeSlack) -> None:
        self.accepted: list[tuple[float, str, str]] = []  # (monotonic, channel, text)
        self.refused: list[tuple[float, str]] = []  # (monotonic, channel)
        handler = fake._handlers[METHOD]
        over_limit = fake._over_channel_limit

        def accept(args: dict[str, Any]) -> dict[str, Any]:
            body = handler(args)
            self.accepted.append((time.monotonic(), str(body["channel"]), str(args["text"])))
            return body

        def check(method: str, args: dict[str, Any]) -> Any:
            answer = over_limit(method, args)
            if answer is not None and method == METHOD:
                self.refused.append((time.monotonic(), str(args.get("channel"))))
            return answer

        fake._handlers[METHOD] = accept
        fake._over_channel_limit = check  # type: ignore[method-assign]


# --------------------------------------------------------------------------- results


@dataclass
class ChannelResult:
    channel: str
    enqueued: int
    delivered: int  # distinct texts of this channel Slack accepted
    rate_limited: int  # 429s answered on this channel
    rate_limited_at_s: list[float]  # when, seconds after the worker started
    first_s: float | None  # first delivery, seconds after the worker started
    last_s: float | None
    rate_elapsed: float | None  # n / last_s
    rate_span: float | None  # (n - 1) / (last_s - first_s)
    ratio_elapsed: float | None  # rate_elapsed / limit
    ratio_span: float | None
    ideal_rate_elapsed: float  # the fake's bound: n / ((n - burst) / limit)
    max_gap_s: float | None  # longest wait between two deliveries
    order_kept: bool
    duplicates: int
    lost: int


@dataclass
class RunResult:
    scenario: str
    run: int
    channels: int
    per_channel: int
    limit_per_s: float  # the fake's limit and the limiter's channel_per_second
    fake_burst: int
    limiter_burst: int
    post_tier_per_minute: int
    poll_seconds: float
    mode: str
    enqueue_s: float
    drained: bool
    elapsed_s: float  # worker start -> last delivery
    enqueued: int
    delivered: int
    lost: int
    duplicates: int
    order_kept: bool
    rate_limited: int  # fake.rate_limited
    rate_limited_first_5_intervals: int  # of those, in the first 5 intervals (initial burst)
    cpu_s: float  # CPU of this process (worker AND fake Slack) while delivering
    post_calls: int  # chat.postMessage calls the fake received
    worker_sent: dict[str, int]
    worker_retried: dict[str, int]
    worker_failed: dict[str, int]
    worker_rate_limited: int
    outbox_status: dict[str, int]
    min_ratio_elapsed: float | None
    min_ratio_span: float | None
    goals: dict[str, Any]
    per_channel_results: list[ChannelResult] = field(default_factory=list)


def channel_result(
    channel: str,
    expected: list[str],
    accepted: list[tuple[float, str]],
    refused: list[float],
    *,
    started: float,
    limit: float,
    burst: int,
) -> ChannelResult:
    texts = [text for _t, text in accepted]
    counts = Counter(texts)
    delivered = len(set(texts) & set(expected))
    first_seen: list[str] = []
    seen: set[str] = set()
    for text in texts:
        if text not in seen:
            seen.add(text)
            first_seen.append(text)
    # Order: what arrived came in the enqueued order (what did not arrive counts as lost).
    index = {text: i for i, text in enumerate(expected)}
    positions = [index.get(text, -1) for text in first_seen]
    n = len(accepted)
    first = accepted[0][0] - started if accepted else None
    last = accepted[-1][0] - started if accepted else None
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(accepted)]
    rate_elapsed = n / last if n and last and last > 0 else None
    rate_span = (n - 1) / (last - first) if n > 1 and last and first is not None else None
    ideal_time = max(len(expected) - burst, 0) / limit
    return ChannelResult(
        channel=channel,
        enqueued=len(expected),
        delivered=delivered,
        rate_limited=len(refused),
        rate_limited_at_s=[round(at - started, 3) for at in refused],
        first_s=first,
        last_s=last,
        rate_elapsed=rate_elapsed,
        rate_span=rate_span,
        ratio_elapsed=rate_elapsed / limit if rate_elapsed else None,
        ratio_span=rate_span / limit if rate_span else None,
        ideal_rate_elapsed=len(expected) / ideal_time if ideal_time else float("inf"),
        max_gap_s=max(gaps) if gaps else None,
        order_kept=all(a < b for a, b in itertools.pairwise(positions)),
        duplicates=sum(c - 1 for c in counts.values() if c > 1),
        lost=len(expected) - delivered,
    )


# --------------------------------------------------------------------------- database


async def fresh_database(base_url: str | None, tmp: Path, tag: str) -> str:
    """A migrated, empty database for one run."""
    if base_url is None:
        url = f"sqlite+aiosqlite:///{tmp / f'delivery-{tag}.db'}"
    else:
        url = base_url
        await reset_postgres(url)
    await migrate.upgrade_async(url)
    return url


async def enqueue_backlog(db: Database, msp_id: int, plan: dict[str, list[str]]) -> None:
    """Everything in one transaction, channels interleaved (C1 m0, C2 m0, ..., C1 m1, ...)."""
    async with db.unit_of_work() as session:
        for index in range(max(len(texts) for texts in plan.values())):
            for channel, texts in plan.items():
                if index < len(texts):
                    await outbox.post_message(
                        session,
                        msp_id=msp_id,
                        key=f"bench:{texts[index]}",
                        channel=channel,
                        text=texts[index],
                    )


async def outbox_status(db: Database) -> dict[str, int]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
        )
        return {status: int(count) for status, count in rows.all()}


async def waiting(db: Database) -> int:
    async with db.unit_of_work() as session:
        depth, _oldest = await outbox_repo.depth_and_oldest(session)
    return depth


# --------------------------------------------------------------------------- one run


def bench_limits(args: argparse.Namespace) -> DeliveryLimits:
    """`DeliveryLimits()` with the time scale (--rate) and the bursts applied."""
    per_minute = dict(DEFAULTS.per_minute)
    per_minute[METHOD] = args.post_tier or round(POST_TIER_PER_MINUTE * args.rate)
    poll = args.poll_seconds if args.poll_seconds is not None else DEFAULTS.poll_seconds / args.rate
    return replace(
        DEFAULTS,
        channel_per_second=DEFAULTS.channel_per_second * args.rate,
        channel_burst=args.burst,
        per_minute=per_minute,
        poll_seconds=poll,
    )


async def run_once(
    args: argparse.Namespace, tmp: Path, fake_burst: int, run: int
) -> tuple[RunResult, float]:
    limits = bench_limits(args)
    limit = limits.channel_per_second
    channels = [f"C{n:04d}" for n in range(1, args.channels + 1)]
    plan = {ch: [f"{ch}/{n:05d}" for n in range(args.messages_per_channel)] for ch in channels}
    expected_total = sum(len(texts) for texts in plan.values())
    ideal_s = max(args.messages_per_channel - fake_burst, 0) / limit
    timeout = args.timeout or max(60.0, 3 * ideal_s + 30)

    url = await fresh_database(args.database_url, tmp, f"b{fake_burst}-r{run}")
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            msp_id = await ensure_msp(
                session, team_id=TEAM_ID, timezone="UTC", now=datetime.now(UTC)
            )
        began = time.perf_counter()
        await enqueue_backlog(db, msp_id, plan)
        enqueue_s = time.perf_counter() - began

        async with running_fake_slack(team_id=TEAM_ID, bot_token=BOT_TOKEN) as fake:
            fake.limit_rate(METHOD, per_second=limit, burst=fake_burst)
            recorder = Recorder(fake)
            client = AsyncWebClient(
                token=BOT_TOKEN, base_url=fake.base_url, timeout=limits.request_timeout_seconds
            )
            worker = DeliveryWorker(
                db=db,
                sender=Sender(client, TierLimiter(limits.per_minute)),
                limits=limits,
                digest=digest_payload,
            )
            cpu_before = time.process_time()
            started = time.monotonic()
            drained = await run_worker(worker, db, recorder, args.mode, expected_total, timeout)
            stopped = time.monotonic()
            cpu_s = time.process_time() - cpu_before
            rate_limited = fake.rate_limited
            post_calls = len(fake.calls_to(METHOD))
        status = await outbox_status(db)
    finally:
        await db.dispose()

    by_channel: dict[str, list[tuple[float, str]]] = {ch: [] for ch in channels}
    for at, channel, text in recorder.accepted:
        by_channel.setdefault(channel, []).append((at, text))
    refused: dict[str, list[float]] = {ch: [] for ch in channels}
    for at, channel in recorder.refused:
        refused.setdefault(channel, []).append(at)
    results = [
        channel_result(
            ch,
            plan[ch],
            by_channel[ch],
            refused[ch],
            started=started,
            limit=limit,
            burst=fake_burst,
        )
        for ch in channels
    ]
    stray = sum(len(v) for ch, v in by_channel.items() if ch not in plan)
    last = max((r.last_s for r in results if r.last_s is not None), default=stopped - started)
    early = sum(1 for at, _ch in recorder.refused if at - started < 5 / limit)
    ratios_elapsed = [r.ratio_elapsed or 0.0 for r in results]
    ratios_span = [r.ratio_span or 0.0 for r in results]
    result = RunResult(
        scenario=f"fake burst {fake_burst}",
        run=run,
        channels=args.channels,
        per_channel=args.messages_per_channel,
        limit_per_s=limit,
        fake_burst=fake_burst,
        limiter_burst=limits.channel_burst,
        post_tier_per_minute=limits.per_minute[METHOD],
        poll_seconds=limits.poll_seconds,
        mode=args.mode,
        enqueue_s=enqueue_s,
        drained=drained,
        elapsed_s=last,
        enqueued=expected_total,
        delivered=sum(r.delivered for r in results),
        lost=sum(r.lost for r in results),
        duplicates=sum(r.duplicates for r in results) + stray,
        order_kept=all(r.order_kept for r in results),
        rate_limited=rate_limited,
        rate_limited_first_5_intervals=early,
        cpu_s=cpu_s,
        post_calls=post_calls,
        worker_sent=dict(worker.stats.sent),
        worker_retried=dict(worker.stats.retried),
        worker_failed=dict(worker.stats.failed),
        worker_rate_limited=worker.stats.rate_limited,
        outbox_status=status,
        min_ratio_elapsed=min(ratios_elapsed),
        min_ratio_span=min(ratios_span),
        goals={},
        per_channel_results=results,
    )
    result.goals = judge(result)
    return result, ideal_s


async def run_worker(
    worker: DeliveryWorker,
    db: Database,
    recorder: Recorder,
    mode: str,
    expected: int,
    timeout: float,
) -> bool:
    """Run the worker until nothing is waiting in the outbox; False on timeout."""
    if mode == "drain":
        try:
            await worker.drain(timeout)
        except TimeoutError:
            return False
        return True
    # "service": the worker's own loop, as the app runs it (start() ... stop()).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_check = loop.time() + 1.0
    worker.start()
    try:
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            # Every item done is the end; all accepted is the usual hint to look at once.
            if len(recorder.accepted) >= expected or loop.time() >= next_check:
                next_check = loop.time() + 1.0
                if await waiting(db) == 0:
                    return True
        return False
    finally:
        await worker.stop()


# --------------------------------------------------------------------------- claim rounds

GOAL_CLAIM_RATIO = 1.5  # "the same cost": a round at the largest backlog within 1.5x the smallest
CLAIM_STATES = ("heads due", "heads waiting", "coalescing")
SEED_BATCH = 5_000  # posts per enqueueing transaction while seeding
COALESCED_RUN = 20  # "coalescing": a head and the 18 posts behind it merge, the 20th is not


@dataclass
class ClaimTiming:
    """The claim rounds of one backlog in one state; milliseconds."""

    queued: int
    state: str
    rounds: int
    claimed_per_round: int
    merged_per_round: int
    median_ms: float
    p90_ms: float
    min_ms: float
    cpu_median_ms: float
    statements: list[dict[str, Any]] = field(default_factory=list)


async def seed_backlog(db: Database, msp_id: int, queued: int, lanes: list[str]) -> float:
    """`queued` posts over the lanes in turn, enqueued a batch per transaction."""
    began = time.perf_counter()
    for start in range(0, queued, SEED_BATCH):
        posts = [
            outbox.Post(
                key=f"bench:{n:07d}",
                channel=lanes[n % len(lanes)],
                text=f"{lanes[n % len(lanes)]}/{n:07d}",
            )
            for n in range(start, min(queued, start + SEED_BATCH))
        ]
        async with db.unit_of_work() as session:
            await outbox.post_messages(session, msp_id=msp_id, posts=posts)
    return time.perf_counter() - began


def run_ends(queued: int, lanes: int) -> list[str]:
    """The keys of every COALESCED_RUN-th post of each lane (seed_backlog's keys)."""
    return [
        f"bench:{n:07d}" for n in range(queued) if (n // lanes) % COALESCED_RUN == COALESCED_RUN - 1
    ]


async def heads_of_lanes(db: Database) -> list[int]:
    """The first waiting item of each lane (set up here the slow way, untimed)."""
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(func.min(OutboxItem.id))
            .where(OutboxItem.status == "pending")
            .group_by(OutboxItem.msp_id, OutboxItem.lane)
        )
        return sorted(int(row[0]) for row in rows.all())


async def put_back(db: Database, claimed: list[OutboxItem]) -> int:
    """Undo a round (untimed): its items waiting again as before, merged ones taken
    out of their digests, and the lanes' pacing forgotten, so every round does the
    same work."""
    ids = [item.id for item in claimed]
    merged = 0
    async with db.unit_of_work() as session:
        if ids:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.coalesced_into.in_(ids))
                .values(status="pending", coalesced_into=None)
            )
            merged = int(result.rowcount or 0)  # type: ignore[attr-defined]
            for item in claimed:
                row = await session.get(OutboxItem, item.id)
                assert row is not None
                if row.original_payload is not None:
                    row.payload, row.original_payload = row.original_payload, None
                row.status, row.attempts, row.lease_until = "pending", row.attempts - 1, None
        await session.execute(delete(DeliveryLane))
    return merged


class StatementLog:
    """Every statement of a round, with its time (execute and fetch)."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.captured: list[tuple[str, Any, float]] = []
        self._started: list[float] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        began = self._started.pop()
        self.captured.append((statement, parameters, time.perf_counter() - began))

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


async def explained(db: Database, log: StatementLog) -> list[dict[str, Any]]:
    """The round's statements with their times, and the plan of its SELECTs."""
    postgres = db.engine.dialect.name == "postgresql"
    shown = []
    async with db.engine.connect() as connection:
        for statement, parameters, seconds in log.captured:
            plan: list[str] = []
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb in ("SELECT", "WITH"):
                if postgres:
                    result = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
                    plan = [str(row[0]) for row in result.all()]
                else:
                    result = await connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, parameters
                    )
                    plan = [f"{row[1]:>3} {row[3]}" for row in result.all()]
            shown.append({"sql": " ".join(statement.split()), "ms": seconds * 1000.0, "plan": plan})
        await connection.rollback()
    return shown


@dataclass
class Backlog:
    """One backlog size: its own database, a worker on it and its lanes' heads."""

    queued: int
    url: str
    db: Database
    worker: DeliveryWorker
    heads: list[int]
    seed_s: float
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    claimed: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)

    async def round(self) -> None:
        """One claim round (DeliveryWorker._claim: the claim transaction), timed, then
        put back."""
        cpu_began, began = time.process_time(), time.perf_counter()
        claimed = await self.worker._claim(self.worker.limits.concurrency)
        self.wall.append(time.perf_counter() - began)
        self.cpu.append(time.process_time() - cpu_began)
        self.claimed.append(len(claimed))
        self.merged.append(await put_back(self.db, claimed))

    async def timing(self, state: str) -> ClaimTiming:
        """The rounds since the last call, and one more with its statements explained."""
        with StatementLog(self.db) as log:
            claimed = await self.worker._claim(self.worker.limits.concurrency)
        await put_back(self.db, claimed)
        ordered = sorted(self.wall)
        timing = ClaimTiming(
            queued=self.queued,
            state=state,
            rounds=len(self.wall),
            claimed_per_round=round(statistics.median(self.claimed)),
            merged_per_round=round(statistics.median(self.merged)),
            median_ms=statistics.median(self.wall) * 1000.0,
            p90_ms=harness.percentile_ms(ordered, 0.9),
            min_ms=ordered[0] * 1000.0,
            cpu_median_ms=statistics.median(self.cpu) * 1000.0,
            statements=await explained(self.db, log),
        )
        self.wall, self.cpu, self.claimed, self.merged = [], [], [], []
        return timing


async def backlog_database(base_url: str | None, tmp: Path, queued: int) -> str:
    """A fresh migrated database for one backlog size: a SQLite file, or on PostgreSQL
    a database of its own named after the given one (`DB_q100`; its schema dropped)."""
    if base_url is None:
        url = f"sqlite+aiosqlite:///{tmp / f'claim-{queued}.db'}"
    else:
        url = await database_of_its_own(base_url, f"q{queued}")
        await reset_postgres(url)
    await migrate.upgrade_async(url)
    quiet_logging()  # alembic may have touched logging
    return url


async def drop_database(url: str) -> None:
    """Drop a PostgreSQL database this script made (nothing for SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    engine = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sql_text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
    finally:
        await engine.dispose()


async def open_backlog(args: argparse.Namespace, tmp: Path, queued: int) -> Backlog:
    """A fresh database with `queued` posts over `--channels` lanes, and a worker."""
    url = await backlog_database(args.database_url, tmp, queued)
    db = Database(url)
    lanes = [f"C{n:04d}" for n in range(1, args.channels + 1)]
    async with db.unit_of_work() as session:
        msp_id = await ensure_msp(session, team_id=TEAM_ID, timezone="UTC", now=datetime.now(UTC))
    seed_s = await seed_backlog(db, msp_id, queued, lanes)
    client = AsyncWebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/")
    limits = DeliveryLimits()
    worker = DeliveryWorker(
        db=db,
        sender=Sender(client, TierLimiter(limits.per_minute)),  # never called here
        limits=limits,
        digest=digest_payload,
    )
    await worker._claim(0)  # the pool's connection opened, the statement cache warm
    return Backlog(queued, url, db, worker, await heads_of_lanes(db), seed_s)


async def enter_state(backlog: Backlog, state: str) -> None:
    """Every lane's head due ("heads due"); every head waiting for its lane's pace, with
    everything behind it due ("heads waiting": only the heads need be looked at); the
    heads due again and the posts coalescible in runs of 19 ("coalescing": each head
    claimed merges the 18 behind it, at every size)."""
    async with backlog.db.unit_of_work() as session:
        heads = OutboxItem.id.in_(backlog.heads)
        if state == "heads waiting":
            later = datetime.now(UTC) + timedelta(hours=1)
            await session.execute(update(OutboxItem).where(heads).values(next_attempt_at=later))
        elif state == "coalescing":
            earlier = datetime.now(UTC) - timedelta(seconds=1)
            await session.execute(update(OutboxItem).where(heads).values(next_attempt_at=earlier))
            await session.execute(update(OutboxItem).values(coalescible=True))
            ends = run_ends(backlog.queued, len({*(await lanes_of(session))}))
            await session.execute(
                update(OutboxItem).where(OutboxItem.key.in_(ends)).values(coalescible=False)
            )


async def lanes_of(session: Any) -> list[str]:
    return list((await session.scalars(select(OutboxItem.lane).distinct())).all())


async def claim_benchmark(args: argparse.Namespace, tmp: Path) -> list[ClaimTiming]:
    """Every backlog size in its own database; then, state by state, the sizes' rounds
    in turn (so other work on the machine weighs on each alike)."""
    backlogs: list[Backlog] = []
    timings: list[ClaimTiming] = []
    try:
        for queued in args.queued:
            backlogs.append(await open_backlog(args, tmp, queued))
            print(
                f"{queued:,} posts over {args.channels} lanes enqueued in"
                f" {backlogs[-1].seed_s:.1f} s (not timed); load {harness.load_average()}",
                flush=True,
            )
        for state in CLAIM_STATES:
            for backlog in backlogs:
                await enter_state(backlog, state)
            for _ in range(args.claim_rounds):
                for backlog in backlogs:
                    await backlog.round()
            timings += [await backlog.timing(state) for backlog in backlogs]
    finally:
        for backlog in backlogs:
            await backlog.db.dispose()
            await drop_database(backlog.url)
    return timings


def judge_claims(timings: list[ClaimTiming]) -> list[dict[str, Any]]:
    """Per state: the round at the largest backlog against the smallest (CPU too)."""
    sizes = sorted({t.queued for t in timings})
    verdicts = []
    for state in CLAIM_STATES:
        by_size = {t.queued: t for t in timings if t.state == state}
        small, large = by_size.get(sizes[0]), by_size.get(sizes[-1])
        if small is None or large is None or small is large:
            continue
        ratio = large.median_ms / small.median_ms if small.median_ms else float("inf")
        cpu_ratio = (
            large.cpu_median_ms / small.cpu_median_ms if small.cpu_median_ms else float("inf")
        )
        verdicts.append(
            {
                "state": state,
                "small": small.queued,
                "large": large.queued,
                "small_ms": round(small.median_ms, 2),
                "large_ms": round(large.median_ms, 2),
                "ratio": round(ratio, 2),
                "cpu_ratio": round(cpu_ratio, 2),
                "same_cost": ratio <= GOAL_CLAIM_RATIO,
            }
        )
    return verdicts


def print_claims(timings: list[ClaimTiming], verdicts: list[dict[str, Any]], plans: bool) -> None:
    print(
        f"{'queued':>9}  {'state':14} {'rounds':>6} {'claimed':>7} {'merged':>6}"
        f" {'median ms':>9} {'p90 ms':>7} {'min ms':>7} {'cpu ms':>7}"
    )
    for t in timings:
        print(
            f"{t.queued:9,}  {t.state:14} {t.rounds:6d} {t.claimed_per_round:7d}"
            f" {t.merged_per_round:6d} {t.median_ms:9.2f} {t.p90_ms:7.2f} {t.min_ms:7.2f}"
            f" {t.cpu_median_ms:7.2f}"
        )
    print()
    for v in verdicts:
        print(
            f"goal: a claim round costs the same at {v['small']:,} and {v['large']:,} queued"
            f" ({v['state']}; within {GOAL_CLAIM_RATIO}x): {v['small_ms']} -> {v['large_ms']} ms,"
            f" {v['ratio']}x (CPU {v['cpu_ratio']}x): {'MET' if v['same_cost'] else 'NOT MET'}"
        )
    if plans:
        largest = max(t.queued for t in timings)
        for t in timings:
            if t.queued != largest:
                continue
            print(f"\n-- one round, {t.queued:,} queued, {t.state}: its statements")
            for s in t.statements:
                sql = s["sql"]
                print(f"   {s['ms']:8.2f} ms  {sql[:160]}{'...' if len(sql) > 160 else ''}")
                for line in s["plan"]:
                    print(f"                {line}")


# --------------------------------------------------------------------------- verdicts


def judge(result: RunResult) -> dict[str, Any]:
    few = max(0, int(GOAL_429_SHARE * result.enqueued))
    return {
        "rate_ok": (result.min_ratio_elapsed or 0.0) >= GOAL_RATIO,
        "few_429s": result.rate_limited <= few,
        "few_429s_threshold": few,
        "none_lost": result.lost == 0 and result.drained,
        "no_duplicates": result.duplicates == 0,
        "order_kept": result.order_kept,
    }


def correct(result: RunResult) -> bool:
    goals = result.goals
    return goals["none_lost"] and goals["no_duplicates"] and goals["order_kept"]


# --------------------------------------------------------------------------- output


def machine_info() -> dict[str, Any]:
    return harness.machine_info(PACKAGES)


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_header(machine: dict[str, Any], settings: dict[str, Any]) -> None:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    print(
        f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r}"
        f" load average before: {machine['load_average_before']}"
    )
    print(f"         {machine['python']} on {machine['platform']}")
    print(f"         {packages}")
    s = settings
    print(
        f"backlog: {s['channels']} channels x {s['messages_per_channel']} posts, enqueued"
        f" before the worker starts; database: {s['database']}"
    )
    print(
        f"limits:  {s['limit_per_s']:g}/s per channel (fake and limiter), limiter burst"
        f" {s['limiter_burst']}, {METHOD} tier {s['post_tier_per_minute']}/min,"
        f" poll {s['poll_seconds']:g} s, worker mode {s['mode']}"
    )
    print(f"fake Slack burst: {', '.join(str(b) for b in s['fake_bursts'])}; runs: {s['runs']}")
    print()


def print_run(result: RunResult, ideal_s: float) -> None:
    print(
        f"== {result.scenario} (limiter burst {result.limiter_burst}), run {result.run}:"
        f" enqueue {result.enqueue_s:.1f} s, delivery {result.elapsed_s:.1f} s"
        f" (ideal under the fake's limit {ideal_s:.1f} s)"
    )
    print(
        f"   {'channel':8} {'sent':>5} {'429s':>5} {'first s':>8} {'last s':>8}"
        f" {'n/elapsed':>10} {'ratio':>6} {'(n-1)/span':>11} {'ratio':>6} {'ideal':>6}"
        f" {'max gap s':>9}  order"
    )
    for r in result.per_channel_results:
        print(
            f"   {r.channel:8} {r.delivered:5d} {r.rate_limited:5d} {fmt(r.first_s, '8.2f')}"
            f" {fmt(r.last_s, '8.2f')} {fmt(r.rate_elapsed, '10.3f')}"
            f" {fmt(r.ratio_elapsed, '6.3f')} {fmt(r.rate_span, '11.3f')}"
            f" {fmt(r.ratio_span, '6.3f')} {r.ideal_rate_elapsed:6.3f}"
            f" {fmt(r.max_gap_s, '9.2f')}  {'kept' if r.order_kept else 'BROKEN'}"
        )
    retried = ", ".join(f"{k} {v}" for k, v in sorted(result.worker_retried.items())) or "none"
    failed = ", ".join(f"{k} {v}" for k, v in sorted(result.worker_failed.items())) or "none"
    status = ", ".join(f"{k} {v}" for k, v in sorted(result.outbox_status.items()))
    print(
        f"   429s provoked: {result.rate_limited} ({result.rate_limited_first_5_intervals} in"
        f" the first 5 intervals) of {result.post_calls} {METHOD} calls; worker retried:"
        f" {retried}; failed: {failed}"
    )
    times = sorted(t for r in result.per_channel_results for t in r.rate_limited_at_s)
    if times:
        shown = ", ".join(f"{t:.2f}" for t in times[:12]) + (" ..." if len(times) > 12 else "")
        print(f"   429s at (s after start): {shown}")
    print(
        f"   enqueued {result.enqueued}, delivered {result.delivered}, lost {result.lost},"
        f" duplicates {result.duplicates}, order {'kept' if result.order_kept else 'BROKEN'},"
        f" drained {'yes' if result.drained else 'NO (timed out)'}; outbox: {status};"
        f" CPU {result.cpu_s:.1f} s"
    )
    g = result.goals
    print(
        f"   goals: rate >= {GOAL_RATIO} x limit (slowest channel, n/elapsed"
        f" {fmt(result.min_ratio_elapsed)}): {'MET' if g['rate_ok'] else 'NOT MET'};"
        f" few 429s (<= {g['few_429s_threshold']}): {'MET' if g['few_429s'] else 'NOT MET'};"
        f" 0 lost: {'MET' if g['none_lost'] else 'NOT MET'}"
    )
    print(flush=True)


def summarise(runs: list[RunResult]) -> dict[str, Any]:
    """Medians over the runs of one scenario (sums for what must be 0)."""
    return {
        "runs": len(runs),
        "elapsed_s": statistics.median(r.elapsed_s for r in runs),
        "min_ratio_elapsed": statistics.median(r.min_ratio_elapsed or 0.0 for r in runs),
        "min_ratio_span": statistics.median(r.min_ratio_span or 0.0 for r in runs),
        "rate_limited": statistics.median(r.rate_limited for r in runs),
        "lost": sum(r.lost for r in runs),
        "duplicates": sum(r.duplicates for r in runs),
        "order_kept": all(r.order_kept for r in runs),
        "all_goals_met": all(
            all(v for k, v in r.goals.items() if k != "few_429s_threshold") for r in runs
        ),
    }


def print_summary(summary: dict[str, dict[str, Any]]) -> None:
    print(
        f"{'summary (median over runs)':28} {'delivery s':>10} {'min n/elapsed':>14}"
        f" {'min (n-1)/span':>15} {'429s':>6} {'lost':>5} {'dups':>5}  order  goals"
    )
    for scenario, s in summary.items():
        print(
            f"  {scenario:26} {s['elapsed_s']:10.1f} {s['min_ratio_elapsed']:14.3f}"
            f" {s['min_ratio_span']:15.3f} {s['rate_limited']:6g} {s['lost']:5d}"
            f" {s['duplicates']:5d}  {'kept' if s['order_kept'] else 'BROKEN':5}"
            f"  {'all met' if s['all_goals_met'] else 'NOT all met'}"
        )


# --------------------------------------------------------------------------- main


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Delivery of a backlog against a fake Slack enforcing 1 message/s per channel."
    )
    parser.add_argument("--channels", type=harness.positive, default=5, help="(5)")
    parser.add_argument(
        "--messages-per-channel",
        "-m",
        type=harness.positive,
        default=120,
        help="backlog per channel (120)",
    )
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=1.0,
        help="time scale: the per-channel limit of the fake AND the limiter, in messages/s;"
        " also scales the chat.postMessage tier cap and the poll interval (1)",
    )
    parser.add_argument(
        "--fake-burst",
        type=harness.whole_numbers,
        default=[3],
        help="burst(s) the fake Slack tolerates per channel; a list runs each (3; try 3,1)",
    )
    parser.add_argument(
        "--burst",
        type=harness.positive,
        default=DEFAULTS.channel_burst,
        help=f"the limiter's channel_burst ({DEFAULTS.channel_burst}, the default)",
    )
    parser.add_argument(
        "--post-tier",
        type=harness.positive,
        help=f"the limiter's {METHOD} cap per minute (default {POST_TIER_PER_MINUTE} x rate)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=positive_float,
        help=f"the worker's poll interval (default {DEFAULTS.poll_seconds:g} / rate)",
    )
    parser.add_argument(
        "--mode",
        choices=("service", "drain"),
        default="service",
        help="service (default): worker.start() ... stop(), the app's loop; drain: worker.drain()",
    )
    parser.add_argument("--runs", "-r", type=harness.positive, default=1, help="per fake burst (1)")
    parser.add_argument(
        "--timeout", type=positive_float, help="per run, seconds (default 3 x ideal + 30, >= 60)"
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL, whose schema public is DROPPED and recreated before each run"
        " (default: a fresh SQLite file per run in a temporary directory)",
    )
    parser.add_argument(
        "--claim",
        action="store_true",
        help="instead of a drain: time claim rounds at each --queued backlog (no Slack)",
    )
    parser.add_argument(
        "--queued",
        type=harness.whole_numbers,
        default=[100, 100_000],
        help="with --claim: posts waiting, over --channels lanes (100,100000)",
    )
    parser.add_argument(
        "--claim-rounds", type=harness.positive, default=30, help="with --claim: per state (30)"
    )
    parser.add_argument(
        "--no-plans", action="store_true", help="with --claim: leave out the statements and plans"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.database_url and make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url: PostgreSQL only (the default is a fresh SQLite database)")
    return args


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("slack_bolt", "slack_sdk", "aiohttp", "sqlalchemy", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def benchmark(args: argparse.Namespace, tmp: Path) -> list[tuple[RunResult, float]]:
    done = []
    for fake_burst in args.fake_burst:
        for run in range(1, args.runs + 1):
            result = await run_once(args, tmp, fake_burst, run)
            quiet_logging()  # alembic may have touched logging
            print_run(*result)
            done.append(result)
    return done


def claim_main(args: argparse.Namespace) -> int:
    """`--claim`: claim rounds at each backlog size, and whether they cost the same."""
    database = (
        make_url(args.database_url).render_as_string(hide_password=True)
        if args.database_url
        else "fresh SQLite in a temporary directory"
    )
    machine = machine_info()
    settings = {
        "queued": args.queued,
        "lanes": args.channels,
        "rounds": args.claim_rounds,
        "database": database,
        "command": " ".join(["python", "bench/delivery.py", *sys.argv[1:]]),
    }
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    print(
        f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r}"
        f" load average before: {machine['load_average_before']}"
    )
    print(f"         {machine['python']} on {machine['platform']}")
    print(f"         {packages}")
    print(
        f"claim rounds: DeliveryWorker._claim (one transaction: the lanes' heads, pacing, the"
        f" claims, coalescing), {args.claim_rounds} per state, each undone afterwards;"
        f" backlogs {', '.join(f'{q:,}' for q in args.queued)} posts over {args.channels}"
        f" lanes; database: {database}\n"
    )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="msp-bench-claim-") as tmp:
        timings = asyncio.run(claim_benchmark(args, Path(tmp)))
    verdicts = judge_claims(timings)
    print()
    print_claims(timings, verdicts, plans=not args.no_plans)
    machine["load_average_after"] = harness.load_average()
    total = time.perf_counter() - began
    print(f"\ntotal time: {total:.1f} s; load average after: {machine['load_average_after']}")
    if args.json:
        payload = {
            "machine": machine,
            "settings": settings,
            "goal": {"same_cost_within": GOAL_CLAIM_RATIO},
            "timings": [asdict(t) for t in timings],
            "verdicts": verdicts,
            "total_s": total,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logging()
    if args.claim:
        return claim_main(args)
    limits = bench_limits(args)
    database = (
        make_url(args.database_url).render_as_string(hide_password=True)
        if args.database_url
        else "fresh SQLite in a temporary directory"
    )
    settings = {
        "channels": args.channels,
        "messages_per_channel": args.messages_per_channel,
        "limit_per_s": limits.channel_per_second,
        "rate_scale": args.rate,
        "fake_bursts": args.fake_burst,
        "limiter_burst": limits.channel_burst,
        "post_tier_per_minute": limits.per_minute[METHOD],
        "poll_seconds": limits.poll_seconds,
        "mode": args.mode,
        "runs": args.runs,
        "database": database,
        "command": " ".join(["python", "bench/delivery.py", *sys.argv[1:]]),
    }
    machine = machine_info()
    print_header(machine, settings)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="msp-bench-delivery-") as tmp:
        done = asyncio.run(benchmark(args, Path(tmp)))
    total = time.perf_counter() - began
    runs = [result for result, _ideal in done]
    summary: dict[str, dict[str, Any]] = {}
    for scenario in dict.fromkeys(r.scenario for r in runs):
        summary[scenario] = summarise([r for r in runs if r.scenario == scenario])
    print_summary(summary)
    machine["load_average_after"] = harness.load_average()
    print(f"total time: {total:.1f} s; load average after: {machine['load_average_after']}")
    if args.json:
        payload = {
            "machine": machine,
            "settings": settings,
            "goals": {"ratio": GOAL_RATIO, "max_429_share": GOAL_429_SHARE},
            "runs": [asdict(r) | {"ideal_s": ideal} for r, ideal in done],
            "summary": summary,
            "total_s": total,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(correct(r) and r.drained for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
