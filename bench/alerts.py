#!/usr/bin/env python
"""An alert storm through the HTTP API into SQLite, routed to 5 subscribed channels.

1. **Seeding, per run, not measured.** A fresh SQLite file in a temporary directory, migrated;
   one MSP (T0001) with `--customers` customers (100; "PLACE TRADE KIND" names from
   bench/customers.py, made with `bot.services.customers.create_customer`), an API token
   (`bot.services.api_tokens.create_token`), and `--channels` channels (5: C0001...)
   subscribed to the topic `alerts` with no filter, so every channel gets every alert.
2. **Ingest, measured.** The bot's aiohttp application, `build_app(settings).web` with its
   background tasks taken off (`on_startup` emptied: no delivery worker, no scheduler, so
   this measures what the API accepts, not what it sends), served in this process on
   127.0.0.1 as `bot.server.serve` serves it (AppRunner + TCPSite, no access log). One
   client sends `--alerts` reports (10,000) one request after another (concurrency 1, as
   one sending system would), `--batch` per request (100), `POST /api/v1/alerts` with the
   token. The reports are drawn once (`--seed`) and are the same in every run:
   `--repeat-share` of them (20 %) repeat a dedup key that is open at that moment (any key
   an earlier report opened: none is resolved), the others open a new key; customers and
   the 5 severities uniform at random, half of the reports naming the customer by account
   number and half by name, one link each. Bodies are encoded before the clock starts.
   Per request: time from the POST to the end of reading the reply; the reply must be 200
   with `accepted`, `created` and `updated` as the batch holds. Reported: alerts/s
   accepted = alerts / wall time of the whole ingest; p50/p95/max per request; CPU of this
   process per alert (client and server share it); the SQL statements the app sends, by
   verb and table (an engine event). `--runs` runs (5), each on its own fresh database;
   the summary is the median over runs, with the range.
3. **Delivery, once, on the last run's database** (`--skip-delivery` leaves it out). The real
   `DeliveryWorker` with `DeliveryLimits()` (1 message/s per channel, burst 3, 0.1 s
   margin; coalesce at 10, at most 40 per digest; `chat.postMessage` 300/min) sends the
   outbox to the fake Slack of tests/fake_slack.py. **Pacing is simulated in virtual time**:
   the worker gets `clock=` a virtual clock that starts at the real now (the outbox stamps
   `next_attempt_at` with the real time when it enqueues), and the script drives it:
   `await worker.run_once()`, wait for the sends it started and their outcomes, claim again
   at once while something was claimed, and when nothing was, advance the clock by `--tick`
   (0.05 s; or to the next wake-up of a sleeping send, if sooner). This is faithful to the
   pacing because the per-channel GCRA, the claims, the postponements, leases and retries
   all read the injected clock only, and the `chat.postMessage` tier bucket (`TierLimiter`)
   is given the virtual clock to read and sleep on. It does not capture Slack's latency
   (each send takes zero virtual time; bench/delivery.py measures the real claim-to-Slack
   delay), nor the worker's own loop (`_run` waits up to `poll_seconds` after an idle round:
   here the claim is at most one tick late). Slack's limit is enforced by the fake in virtual time:
   a `chat.postMessage` over a GCRA of 1/s with burst 3 per channel (the rule of the
   fake's `limit_rate`) gets a 429 with a Retry-After and changes nothing.
   `--slack-error-rate R` also makes the fake fail a share R of the posts at random (500,
   503, or 429 with Retry-After 0: its `fault_rate`), to exercise retries.

   Reported per channel: single alert posts, digests (and the alerts they list), `chat.update`
   calls, first and last message (virtual seconds after the worker started), messages per
   minute (messages / minutes from the first to the last), the most messages in any 1 s and
   any 60 s window (half-open, virtual time), and **over limit**: messages that a GCRA of
   1/s with burst 3 would refuse (at most 3 at once, then one per second; so any window of
   T s holds at most T + 2). Overall: virtual and real time to drain, claim rounds, 429s.
4. **Reconciliation (0 lost).** (a) every run: the replies' `created` and `updated` add up to
   the new keys and the repeats, the alerts table holds one row per new key, all firing,
   and their `occurrences` add up to the reports sent; (b) after delivery, per channel,
   every alert id appears exactly once in what the fake Slack accepted: as its own message
   (metadata `event_payload.alert_id`) or in the `alert_ids` of a digest's "List all"
   button (`alert_list_all`), no id twice, none unknown; each digest lists exactly the
   outbox rows merged into it (its head and the rows `coalesced_into` it); (c) no outbox
   item is left pending, sending or failed. "lost" is the sum of what is unaccounted for.

Goals: at least 1,000 alerts/s accepted; per channel never above Slack's one message
per second (the burst of 3 allowed); 0 lost.

    python bench/alerts.py                               # 10,000 x 5 runs, delivery: ~21 min
    python bench/alerts.py --batch 1 --alerts 1000       # one alert per request
    python bench/alerts.py --runs 1 --skip-delivery      # ingest only
    python bench/alerts.py --alerts 1000 --runs 1        # a smoke test: ~30 s
    python bench/alerts.py --alerts 2000 --runs 1 --slack-error-rate 0.05   # retried sends
    python bench/alerts.py --profile /tmp/alerts.prof    # cProfile of the last run's ingest
    python bench/alerts.py --json /tmp/alerts.json

Only 127.0.0.1 is contacted. Exit status: 1 when a request failed, anything was lost, a
message went over the limit or the outbox did not drain; else 0 (the rate goal is reported,
not enforced).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import heapq
import itertools
import json
import math
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _harness as harness  # first: the repository on the import path

# bench/ack_latency.py: the bot's settings and constants
import ack_latency as ack
import aiohttp

# bench/customers.py: customer names
import customers as customers_bench
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import String, event, func, select, update

from bot.app import SHUTDOWN_GRACE_S, build_app
from bot.delivery.limits import DeliveryLimits, TierLimiter
from bot.delivery.sender import Sender
from bot.delivery.worker import DeliveryWorker
from bot.domain.alerts import Severity
from bot.domain.customers import Plan
from bot.domain.roles import Role
from bot.ids import ActionId
from bot.notify.digest import digest_payload
from bot.services import api_tokens
from bot.services import customers as customer_service
from bot.services.audit import OPERATOR_ACTOR
from bot.services.tenancy import Requester, ensure_msp
from bot.views.alerts import ALERT_EVENT
from storage import migrate
from storage.engine import Database
from storage.models import Alert, AlertMessage, AlertSubscription, Msp, OutboxItem
from storage.repositories import outbox as outbox_repo
from tests.fake_slack import FakeSlack, _json_response, running_fake_slack

TEAM_ID = ack.TEAM_ID
OWNER_ID = "U0001"
BOT_TOKEN = ack.BOT_TOKEN
HOST = ack.HOST
ALERTS_PATH = "/api/v1/alerts"
POST, UPDATE = "chat.postMessage", "chat.update"
PACKAGES = ("aiohttp", "SQLAlchemy", "aiosqlite", "pydantic", "slack_sdk")

GOAL_ALERTS_PER_S = 1_000.0
SLACK_PER_SECOND = 1.0  # Slack: about one message per second per channel...
SLACK_BURST = 3  # ...with short bursts (the fake's model, as in bench/delivery.py)
KINDS = ("backup_failed", "disk_full", "agent_offline", "patch_failed", "av_threat")
SEVERITIES = tuple(severity.value for severity in Severity)
LIMITS = DeliveryLimits()
REQUEST_TIMEOUT_S = 120.0
MAX_VIRTUAL_S = 24 * 3600.0  # the delivery phase gives up after this much virtual time
MAX_REAL_S = 1800.0  # ... or this much real time
MIN_SLEEP_S = 1e-6  # the shortest virtual sleep
DEPTH_CHECK_EVERY = 20  # idle rounds between two looks at the outbox's depth

# --------------------------------------------------------------------------- workload


@dataclass(frozen=True, slots=True)
class AlertKey:
    """One dedup key: what its first report says."""

    number: int
    customer: int  # index into the seeded customers
    kind: str


@dataclass(frozen=True, slots=True)
class PlannedReport:
    position: int
    key: int  # AlertKey.number
    repeat: bool
    severity: str


@dataclass
class Workload:
    keys: list[AlertKey]
    reports: list[PlannedReport]
    batches: list[list[PlannedReport]]
    repeats: int
    repeats_same_request: int  # of them, repeating a key opened earlier in the same request


def draw_workload(args: argparse.Namespace) -> Workload:
    """`alerts` reports; exactly round(alerts x repeat-share) of them repeat an open key
    (never the first), the others open a new one."""
    rng = random.Random(args.seed)
    total = args.alerts
    repeats = min(round(total * args.repeat_share), total - 1)
    repeat_positions = set(rng.sample(range(1, total), repeats)) if repeats else set()
    keys: list[AlertKey] = []
    reports: list[PlannedReport] = []
    for position in range(total):
        severity = rng.choice(SEVERITIES)
        if position in repeat_positions:
            reports.append(PlannedReport(position, rng.randrange(len(keys)), True, severity))
            continue
        key = AlertKey(len(keys), rng.randrange(args.customers), rng.choice(KINDS))
        keys.append(key)
        reports.append(PlannedReport(position, key.number, False, severity))
    batches = [reports[i : i + args.batch] for i in range(0, total, args.batch)]
    opened_in: dict[int, int] = {}
    same_request = 0
    for index, batch in enumerate(batches):
        for report in batch:
            if report.repeat:
                same_request += opened_in[report.key] == index
            else:
                opened_in[report.key] = index
    return Workload(keys, reports, batches, repeats, same_request)


@dataclass(frozen=True, slots=True)
class SeededCustomer:
    id: int
    account_number: str
    name: str


def alert_item(report: PlannedReport, key: AlertKey, customer: SeededCustomer) -> dict[str, Any]:
    """One report as the API takes it: half name the customer by account number."""
    return {
        "customer": customer.account_number if report.position % 2 == 0 else customer.name,
        "kind": key.kind,
        "severity": report.severity,
        "title": f"{key.kind.replace('_', ' ').capitalize()} on host PC-{key.number:05d}",
        "details": f"Seen by the RMM's check {key.number % 97} (report {report.position}).",
        "dedup_key": f"bench:{key.kind}:{key.number:05d}",
        "status": "firing",
        "links": [{"url": f"https://rmm.example/checks/{key.number}", "label": "Check"}],
    }


# --------------------------------------------------------------------------- seeding


@dataclass
class Seeded:
    url: str
    msp_id: int
    token: str
    customers: list[SeededCustomer]
    channels: list[str]
    seed_s: float


async def seed_database(url: str, args: argparse.Namespace) -> Seeded:
    """Migrated; one MSP, its customers, an API token, and the channels' subscriptions."""
    started = time.perf_counter()
    await migrate.upgrade_async(url)
    now = datetime.now(UTC)
    names = customers_bench.company_names(args.customers, random.Random(args.seed))
    channels = [f"C{n:04d}" for n in range(1, args.channels + 1)]
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            msp_id = await ensure_msp(session, team_id=TEAM_ID, timezone="UTC", now=now)
            await session.execute(
                update(Msp)
                .where(Msp.id == msp_id)
                .values(max_customers=func.max(Msp.max_customers, args.customers))
            )
            owner = Requester(msp_id=msp_id, team_id=TEAM_ID, user_id=OWNER_ID, role=Role.OWNER)
            seeded: list[SeededCustomer] = []
            for index, name in enumerate(names):
                card = await customer_service.create_customer(
                    session,
                    requester=owner,
                    new=customer_service.NewCustomer(
                        name=name, admin_email=f"admin{index}@customer.example", plan=Plan.TRIAL
                    ),
                    now=now,
                )
                seeded.append(SeededCustomer(card.id, card.account_number, name))
            token = await api_tokens.create_token(
                session,
                team_id=TEAM_ID,
                name="bench",
                timezone="UTC",
                created_by=OPERATOR_ACTOR,
                now=now,
            )
            for channel in channels:
                session.add(
                    AlertSubscription(
                        msp_id=msp_id,
                        target=channel,
                        target_kind="channel",
                        topics=["alerts"],
                        created_by=OWNER_ID,
                        created_at=now,
                    )
                )
            await session.execute(update(Msp).values(home_stale_since=None))
    finally:
        await db.dispose()
    return Seeded(url, msp_id, token.token, seeded, channels, time.perf_counter() - started)


# --------------------------------------------------------------------------- ingest


@dataclass
class IngestRun:
    run: int
    alerts: int
    requests: int
    batch: int
    seed_s: float
    wall_s: float
    alerts_per_s: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    first_tenth_p50_ms: float  # median of the first 10 % of the requests
    last_tenth_p50_ms: float  # ... of the last 10 %: does a request slow down as tables grow?
    statements: int  # SQL statements the app sent for the whole ingest
    statements_by_kind: dict[str, int]
    cpu_s: float  # this process: client and server
    cpu_ms_per_alert: float
    failures: int
    first_failure: str | None
    created: int  # summed from the replies
    updated: int
    alert_rows: int
    alerts_not_firing: int
    occurrences: int
    alert_messages: int
    outbox: dict[str, int]  # kind/status -> rows
    outbox_payload_bytes: int  # average size of an outbox row's JSON payload
    slack_calls_during_ingest: int
    db_bytes: int
    problems: list[str] = field(default_factory=list)  # reconciliation (a)


def settings_for(slack_url: str, database_url: str):  # type: ignore[no-untyped-def]
    return ack.bot_settings(slack_url, database_url)


class StatementCounter:
    """The SQL statements the app's engine sends (one per execute, executemany included),
    by verb and first table: where a request's round trips to aiosqlite's thread go."""

    VERB = re.compile(r"^\s*(\w+)\s+\"?(\w+)")
    TABLE = re.compile(r"\b(?:INTO|FROM)\s+\"?(\w+)", re.I)

    def __init__(self, db: Database) -> None:
        self.counts: Counter[str] = Counter()
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement: str, *_rest: Any) -> None:  # type: ignore[no-untyped-def]
        verb_match = self.VERB.match(statement)
        verb = verb_match.group(1).upper() if verb_match else "?"
        if verb == "UPDATE" and verb_match:
            table: str | None = verb_match.group(2)
        else:
            table_match = self.TABLE.search(statement)
            table = table_match.group(1) if table_match else None
        self.counts[f"{verb} {table}" if table else verb] += 1


async def serve_api(
    slack_url: str, database_url: str
) -> tuple[web.AppRunner, str, StatementCounter]:
    """The bot's application without its background tasks, on 127.0.0.1."""
    db = Database(database_url)
    counter = StatementCounter(db)
    bot = build_app(settings_for(slack_url, database_url), db=db)
    # build_app's only startup hook starts the scheduler and the delivery worker.
    bot.web.on_startup.clear()
    runner = web.AppRunner(bot.web, shutdown_timeout=SHUTDOWN_GRACE_S, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, f"http://{HOST}:{port}{ALERTS_PATH}", counter


def expected_counts(batch: list[PlannedReport]) -> tuple[int, int, int]:
    new = sum(not report.repeat for report in batch)
    return len(batch), new, len(batch) - new


async def ingest_run(
    args: argparse.Namespace, workload: Workload, url: str, run: int, profile: bool
) -> tuple[IngestRun, Seeded]:
    seeded = await seed_database(url, args)
    bodies = [
        json.dumps(
            {
                "alerts": [
                    alert_item(
                        report,
                        workload.keys[report.key],
                        seeded.customers[workload.keys[report.key].customer],
                    )
                    for report in batch
                ]
            }
        ).encode()
        for batch in workload.batches
    ]
    headers = {"Authorization": f"Bearer {seeded.token}", "Content-Type": "application/json"}
    timings: list[float] = []
    failures: list[str] = []
    created = updated = 0
    profiler = cProfile.Profile() if profile else None
    async with running_fake_slack(team_id=TEAM_ID, bot_token=BOT_TOKEN) as fake:
        runner, endpoint, counter = await serve_api(fake.base_url, url)
        try:
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                cpu = time.process_time()
                if profiler:
                    profiler.enable()
                started = time.perf_counter()
                for batch, body in zip(workload.batches, bodies, strict=True):
                    sent = time.perf_counter()
                    async with http.post(endpoint, data=body, headers=headers) as reply:
                        text = await reply.text()
                        status = reply.status
                    timings.append(time.perf_counter() - sent)
                    problem = check_reply(status, text, batch)
                    if problem:
                        failures.append(problem)
                    else:
                        answer = json.loads(text)
                        created += answer["created"]
                        updated += answer["updated"]
                wall = time.perf_counter() - started
                if profiler:
                    profiler.disable()
                cpu_s = time.process_time() - cpu
        finally:
            await runner.cleanup()
        slack_calls = len(fake.calls)
    if profiler:
        profiler.dump_stats(str(args.profile))
    ordered = sorted(timings)
    tenth = max(1, len(timings) // 10)
    result = IngestRun(
        run=run,
        alerts=len(workload.reports),
        requests=len(bodies),
        batch=args.batch,
        seed_s=seeded.seed_s,
        wall_s=wall,
        alerts_per_s=len(workload.reports) / wall,
        p50_ms=harness.percentile_ms(ordered, 0.50),
        p95_ms=harness.percentile_ms(ordered, 0.95),
        max_ms=ordered[-1] * 1000.0,
        first_tenth_p50_ms=statistics.median(timings[:tenth]) * 1000.0,
        last_tenth_p50_ms=statistics.median(timings[-tenth:]) * 1000.0,
        statements=sum(counter.counts.values()),
        statements_by_kind=dict(counter.counts.most_common()),
        cpu_s=cpu_s,
        cpu_ms_per_alert=cpu_s * 1000.0 / len(workload.reports),
        failures=len(failures),
        first_failure=failures[0] if failures else None,
        created=created,
        updated=updated,
        slack_calls_during_ingest=slack_calls,
        db_bytes=await asyncio.to_thread(file_bytes, url),
        **(await database_figures(url)),
    )
    result.problems = reconcile_ingest(result, workload, seeded)
    return result, seeded


def file_bytes(url: str) -> int:
    """The SQLite file and its WAL."""
    path = url.split(":///", 1)[1]
    return sum(
        Path(path + suffix).stat().st_size
        for suffix in ("", "-wal")
        if Path(path + suffix).exists()
    )


def remove_database(url: str) -> None:
    path = url.split(":///", 1)[1]
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def check_reply(status: int, text: str, batch: list[PlannedReport]) -> str | None:
    """None when the reply is 200 and counts what the batch holds."""
    if status != 200:
        return f"HTTP {status}: {text[:200]}"
    try:
        answer = json.loads(text)
    except ValueError:
        return f"not JSON: {text[:200]}"
    accepted, new, repeats = expected_counts(batch)
    got = (answer.get("accepted"), answer.get("created"), answer.get("updated"))
    if got != (accepted, new, repeats) or answer.get("ignored") or answer.get("resolved"):
        return f"counts {answer} != accepted {accepted}, created {new}, updated {repeats}"
    return None


async def database_figures(url: str) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            rows, occurrences = (
                await session.execute(select(func.count(), func.sum(Alert.occurrences)))
            ).one()
            not_firing = await session.scalar(
                select(func.count()).select_from(Alert).where(Alert.status != "firing")
            )
            messages = await session.scalar(select(func.count()).select_from(AlertMessage))
            payload_bytes = await session.scalar(
                select(func.avg(func.length(func.cast(OutboxItem.payload, String))))
            )
            outbox = (
                await session.execute(
                    select(OutboxItem.kind, OutboxItem.status, func.count()).group_by(
                        OutboxItem.kind, OutboxItem.status
                    )
                )
            ).all()
    finally:
        await db.dispose()
    return {
        "alert_rows": int(rows),
        "alerts_not_firing": int(not_firing or 0),
        "occurrences": int(occurrences or 0),
        "alert_messages": int(messages or 0),
        "outbox_payload_bytes": round(float(payload_bytes or 0)),
        "outbox": {f"{kind}/{status}": int(count) for kind, status, count in outbox},
    }


def reconcile_ingest(result: IngestRun, workload: Workload, seeded: Seeded) -> list[str]:
    """(a): every report accepted and counted once."""
    new_keys = len(workload.keys)
    channels = len(seeded.channels)
    expected = {
        "failed requests": (result.failures, 0),
        "created (replies)": (result.created, new_keys),
        "updated (replies)": (result.updated, workload.repeats),
        "alert rows": (result.alert_rows, new_keys),
        "alerts not firing": (result.alerts_not_firing, 0),
        "sum of occurrences": (result.occurrences, len(workload.reports)),
        "alert messages": (result.alert_messages, new_keys * channels),
        "outbox posts pending": (result.outbox.get("post/pending", 0), new_keys * channels),
        "outbox rows": (sum(result.outbox.values()), new_keys * channels),
        "Slack calls during ingest": (result.slack_calls_during_ingest, 0),
    }
    return [f"{name}: {got} != {want}" for name, (got, want) in expected.items() if got != want]


# --------------------------------------------------------------------------- virtual time


class VirtualTime:
    """The delivery worker's clock, advanced by the script; sleepers wake when it passes."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.elapsed = 0.0  # seconds since `start`
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        # At least a microsecond: a wait of 1e-12 s (a token bucket a rounding error short)
        # would not move a clock that reads 20.0 s, and the script would spin on it.
        wake_at = self.elapsed + max(seconds, MIN_SLEEP_S)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (wake_at, next(self._sequence), future))
        await future

    @property
    def sleeping(self) -> int:
        return len(self._sleepers)

    def next_wake(self) -> float | None:
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, to: float) -> None:
        self.elapsed = max(self.elapsed, to)
        while self._sleepers and self._sleepers[0][0] <= self.elapsed:
            _at, _n, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A call the fake Slack accepted, at a virtual time."""

    at: float
    method: str
    channel: str
    args: dict[str, Any]
    ts: str


class SlackRecorder:
    """Wraps two private hooks of the test fake, as bench/delivery.py does: the handlers
    of chat.postMessage and chat.update (which run only for calls that passed the limit),
    to note each accepted call at the virtual time; and the per-channel limit check, replaced
    by the same GCRA as the fake's `limit_rate` (per second, burst; a 429 with Retry-After in
    whole seconds, nothing changed) on the virtual clock, for chat.postMessage."""

    def __init__(self, fake: FakeSlack, clock: VirtualTime, *, per_second: float, burst: int):
        self.accepted: list[Accepted] = []
        self.refused: list[tuple[float, str]] = []
        self._tat: dict[str, float] = {}
        interval = 1.0 / per_second

        def recording(method: str):  # type: ignore[no-untyped-def]
            handler = fake._handlers[method]

            def accept(args: dict[str, Any]) -> dict[str, Any]:
                body = handler(args)
                self.accepted.append(
                    Accepted(clock.elapsed, method, str(body["channel"]), args, str(body["ts"]))
                )
                return body

            return accept

        def over_limit(method: str, args: dict[str, Any]) -> Any:
            if method != POST:
                return None
            channel = str(args.get("channel") or "")
            now = clock.elapsed
            tat = max(self._tat.get(channel, now), now)
            if tat - now > interval * (burst - 1) + 1e-9:
                fake.rate_limited += 1
                self.refused.append((now, channel))
                retry_after = max(1, math.ceil(tat - now - interval * (burst - 1)))
                return _json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            self._tat[channel] = tat + interval
            return None

        for method in (POST, UPDATE):
            fake._handlers[method] = recording(method)
        fake._over_channel_limit = over_limit  # type: ignore[method-assign]


# --------------------------------------------------------------------------- delivery


@dataclass
class ChannelResult:
    channel: str
    alert_posts: int  # an alert's own message
    digests: int
    digest_alerts: int  # alerts listed by the digests
    other_posts: int  # anything else posted (none expected)
    updates: int  # chat.update
    messages: int
    first_s: float | None
    last_s: float | None
    per_minute: float | None  # messages / minutes from the first to the last (spans >= 60 s)
    max_1s: int
    max_60s: int
    over_limit: int  # messages a GCRA of 1/s, burst 3 would refuse
    refused_429: int
    missing: int  # reconciliation (b)
    duplicated: int
    unknown: int


@dataclass
class DeliveryResult:
    tick_s: float
    drained: bool
    virtual_s: float  # worker start -> last message
    real_s: float
    rounds: int
    idle_rounds: int
    claimed: int
    cpu_s: float
    worker_sent: dict[str, int]
    worker_retried: dict[str, int]
    worker_failed: dict[str, int]
    worker_rate_limited: int
    worker_coalesced: int
    tier_waits: dict[str, int]
    slack_calls: dict[str, int]
    rate_limited: int
    outbox: dict[str, int]
    unfinished: int  # pending, sending or failed
    digest_mismatches: list[str]
    channels: list[ChannelResult] = field(default_factory=list)


async def settle(worker: DeliveryWorker, clock: VirtualTime) -> None:
    """Until every send the worker started is finished (outcome recorded) or asleep on the
    virtual clock. Reads the worker's private set of sends in flight."""
    while True:
        running = [task for task in worker._in_flight if not task.done()]
        if len(running) <= clock.sleeping:
            return
        await asyncio.wait(running, timeout=0.002, return_when=asyncio.FIRST_COMPLETED)


async def outbox_depth(db: Database) -> int:
    async with db.unit_of_work() as session:
        depth, _oldest = await outbox_repo.depth_and_oldest(session)
    return depth


async def drive(
    worker: DeliveryWorker, db: Database, clock: VirtualTime, tick: float
) -> tuple[bool, int, int, int]:
    """Run the worker in virtual time until the outbox is empty: (drained, rounds, idle
    rounds, items claimed)."""
    rounds = idle = claimed_total = 0
    real_deadline = time.monotonic() + MAX_REAL_S
    while clock.elapsed < MAX_VIRTUAL_S and time.monotonic() < real_deadline:
        claimed = await worker.run_once()
        rounds += 1
        claimed_total += claimed
        await settle(worker, clock)
        if claimed:
            continue  # the app's loop claims again at once after a round that claimed
        idle += 1
        if (
            clock.sleeping == 0
            and idle % DEPTH_CHECK_EVERY == 0
            and await outbox_depth(db) == 0
            and not any(not task.done() for task in worker._in_flight)
        ):
            return True, rounds, idle, claimed_total
        target = clock.elapsed + tick
        wake = clock.next_wake()
        clock.advance(min(target, wake) if wake is not None else target)
    return False, rounds, idle, claimed_total


def digest_ids(args: dict[str, Any]) -> list[int] | None:
    """The alert ids of a digest's List all button; None when the message is no digest."""
    for block in args.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == ActionId.ALERT_LIST_ALL:
                return [int(i) for i in json.loads(element["value"]).get("alert_ids", [])]
    return None


def alert_id_of(args: dict[str, Any]) -> int | None:
    metadata = args.get("metadata")
    if isinstance(metadata, dict) and metadata.get("event_type") == ALERT_EVENT:
        alert_id = (metadata.get("event_payload") or {}).get("alert_id")
        return alert_id if isinstance(alert_id, int) else None
    return None


def max_in_window(times: list[float], window: float) -> int:
    """The most messages in any half-open window [t, t + window)."""
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + window - 1e-9, lo=i) - i)
    return best


def over_gcra(times: list[float], *, per_second: float, burst: int) -> int:
    """Messages a GCRA (per_second, burst) would refuse, the refused ones not counted."""
    interval = 1.0 / per_second
    tat: float | None = None
    refused = 0
    for at in times:
        current = at if tat is None else max(tat, at)
        if current - at > interval * (burst - 1) + 1e-9:
            refused += 1
            continue
        tat = current + interval
    return refused


async def deliver(args: argparse.Namespace, seeded: Seeded) -> DeliveryResult:
    db = Database(seeded.url)
    try:
        async with running_fake_slack(team_id=TEAM_ID, bot_token=BOT_TOKEN) as fake:
            clock = VirtualTime(datetime.now(UTC))
            recorder = SlackRecorder(fake, clock, per_second=SLACK_PER_SECOND, burst=SLACK_BURST)
            tiers = TierLimiter(LIMITS.per_minute, monotonic=clock.monotonic, sleep=clock.sleep)
            client = AsyncWebClient(
                token=BOT_TOKEN, base_url=fake.base_url, timeout=LIMITS.request_timeout_seconds
            )
            if args.slack_error_rate:
                fake.fault_rate(POST, args.slack_error_rate, seed=args.seed)
            worker = DeliveryWorker(
                db=db,
                sender=Sender(client, tiers),
                limits=LIMITS,
                digest=digest_payload,
                clock=clock.now,
                rng=random.Random(args.seed),
            )
            cpu = time.process_time()
            started = time.perf_counter()
            drained, rounds, idle, claimed = await drive(worker, db, clock, args.tick)
            real_s = time.perf_counter() - started
            cpu_s = time.process_time() - cpu
            calls = Counter(call.method for call in fake.calls)
            rate_limited = fake.rate_limited
        async with db.unit_of_work() as session:
            items = list((await session.scalars(select(OutboxItem))).all())
            alert_ids = set((await session.scalars(select(Alert.id))).all())
    finally:
        await db.dispose()
    outbox = Counter(f"{item.kind}/{item.status}" for item in items)
    unfinished = sum(item.status in ("pending", "sending", "failed") for item in items)
    channels = [channel_result(ch, recorder, alert_ids, seeded.channels) for ch in seeded.channels]
    last = max((c.last_s for c in channels if c.last_s is not None), default=clock.elapsed)
    return DeliveryResult(
        tick_s=args.tick,
        drained=drained,
        virtual_s=last,
        real_s=real_s,
        rounds=rounds,
        idle_rounds=idle,
        claimed=claimed,
        cpu_s=cpu_s,
        worker_sent=dict(worker.stats.sent),
        worker_retried=dict(worker.stats.retried),
        worker_failed=dict(worker.stats.failed),
        worker_rate_limited=worker.stats.rate_limited,
        worker_coalesced=worker.stats.coalesced,
        tier_waits=dict(tiers.waits),
        slack_calls=dict(calls),
        rate_limited=rate_limited,
        outbox=dict(sorted(outbox.items())),
        unfinished=unfinished,
        digest_mismatches=check_digests(recorder, items),
        channels=channels,
    )


def channel_result(
    channel: str, recorder: SlackRecorder, alert_ids: set[int], channels: list[str]
) -> ChannelResult:
    mine = [call for call in recorder.accepted if call.channel == channel]
    seen: Counter[int] = Counter()
    alert_posts = digests = digest_alerts = other = updates = 0
    for call in mine:
        if call.method == UPDATE:
            updates += 1
            continue
        listed = digest_ids(call.args)
        single = alert_id_of(call.args)
        if listed is not None:
            digests += 1
            digest_alerts += len(listed)
            seen.update(listed)
        elif single is not None:
            alert_posts += 1
            seen[single] += 1
        else:
            other += 1
    times = sorted(call.at for call in mine)
    first = times[0] if times else None
    last = times[-1] if times else None
    span_min = (last - first) / 60.0 if first is not None and last is not None else 0.0
    return ChannelResult(
        channel=channel,
        alert_posts=alert_posts,
        digests=digests,
        digest_alerts=digest_alerts,
        other_posts=other,
        updates=updates,
        messages=len(mine),
        first_s=first,
        last_s=last,
        per_minute=len(mine) / span_min if span_min >= 1.0 else None,
        max_1s=max_in_window(times, 1.0),
        max_60s=max_in_window(times, 60.0),
        over_limit=over_gcra(times, per_second=SLACK_PER_SECOND, burst=SLACK_BURST),
        refused_429=sum(1 for _at, ch in recorder.refused if ch == channel),
        missing=len(alert_ids - set(seen)),
        duplicated=sum(count - 1 for count in seen.values() if count > 1),
        unknown=len(set(seen) - alert_ids),
    )


def check_digests(recorder: SlackRecorder, items: list[OutboxItem]) -> list[str]:
    """Each digest Slack got lists exactly the outbox rows merged into it."""
    by_message = {(item.sent_channel, item.ts): item for item in items if item.ts}
    merged: dict[int, list[int]] = {}
    for item in items:
        if item.coalesced_into is not None:
            alert_id = alert_id_of(item.payload)
            merged.setdefault(item.coalesced_into, []).append(alert_id or -1)
    problems = []
    for call in recorder.accepted:
        listed = digest_ids(call.args) if call.method == POST else None
        if listed is None:
            continue
        head = by_message.get((call.channel, call.ts))
        if head is None or head.original_payload is None:
            problems.append(f"{call.channel} {call.ts}: no outbox digest row for it")
            continue
        want = [alert_id_of(head.original_payload) or -1, *merged.get(head.id, [])]
        if sorted(want) != sorted(listed):
            problems.append(f"{call.channel} {call.ts}: lists {len(listed)}, merged {len(want)}")
    return problems


# --------------------------------------------------------------------------- output


def machine_info() -> dict[str, Any]:
    machine = harness.machine_info(PACKAGES)
    machine["sqlite"] = sqlite3.sqlite_version
    return machine


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_header(machine: dict[str, Any], args: argparse.Namespace, workload: Workload) -> None:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    print(
        f"machine: nproc={machine['nproc']} cpu={machine['cpu_model']!r}"
        f" load average before: {machine['load_average_before']}"
    )
    print(f"         {machine['python']} on {machine['platform']}")
    print(f"         {packages}, SQLite {machine['sqlite']}")
    print(
        f"storm:   {args.alerts:,} reports, {len(workload.keys):,} new keys and"
        f" {workload.repeats:,} repeats of open keys ({workload.repeats_same_request} of them"
        f" of a key opened in the same request); {args.customers} customers;"
        f" {args.channels} channels subscribed to every alert"
    )
    print(
        f"ingest:  POST {ALERTS_PATH}, {args.batch} per request ({len(workload.batches)}"
        f" requests), one at a time, in this process; no delivery worker; {args.runs} run(s),"
        " each on a fresh SQLite file"
    )
    print()


def print_ingest(result: IngestRun) -> None:
    check = "ok" if not result.problems else "MISMATCH: " + "; ".join(result.problems[:3])
    print(
        f"run {result.run}: {result.alerts_per_s:7.0f} alerts/s ({result.wall_s:.2f} s),"
        f" per request p50 {result.p50_ms:.1f} p95 {result.p95_ms:.1f} max {result.max_ms:.1f}"
        f" ms (first/last tenth {result.first_tenth_p50_ms:.0f}/{result.last_tenth_p50_ms:.0f}),"
        f" CPU {result.cpu_ms_per_alert:.2f} ms/alert,"
        f" {result.statements / result.alerts:.1f} SQL statements/alert;"
        f" rows {result.alert_rows:,},"
        f" occurrences {result.occurrences:,}, outbox {sum(result.outbox.values()):,}"
        f" (seeded in {result.seed_s:.1f} s); {check}",
        flush=True,
    )


SUMMARISED = {
    "alerts_per_s": "alerts/s accepted",
    "wall_s": "wall time s",
    "p50_ms": "per request p50 ms",
    "p95_ms": "per request p95 ms",
    "max_ms": "per request max ms",
    "first_tenth_p50_ms": "p50 ms, first 10 % of requests",
    "last_tenth_p50_ms": "p50 ms, last 10 % of requests",
    "cpu_ms_per_alert": "CPU ms per alert",
}


def summarise_ingest(runs: list[IngestRun]) -> dict[str, Any]:
    def spread(name: str) -> dict[str, float]:
        values = [getattr(r, name) for r in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "runs": len(runs),
        **{name: spread(name) for name in SUMMARISED},
        "failures": sum(r.failures for r in runs),
        "problems": sum(len(r.problems) for r in runs),
    }


def print_ingest_summary(summary: dict[str, Any]) -> None:
    print(f"\n{'ingest, over ' + str(summary['runs']) + ' run(s)':32} {'median':>9} {'range':>19}")
    for name, label in SUMMARISED.items():
        s = summary[name]
        print(f"  {label:30} {s['median']:9.1f} {s['min']:9.1f} - {s['max']:7.1f}")


def print_statements(run: IngestRun) -> None:
    """The last run's SQL statements, per request, the most frequent first."""
    shown = ", ".join(
        f"{kind} {count / run.requests:,.0f}"
        for kind, count in list(run.statements_by_kind.items())[:8]
    )
    print(
        f"  SQL statements per request (last run): {run.statements / run.requests:,.0f} in all;"
        f" {shown}"
    )


def print_delivery(result: DeliveryResult) -> None:
    print(
        f"\ndelivery (virtual time, tick {result.tick_s:g} s):"
        f" drained {'yes' if result.drained else 'NO'} in"
        f" {result.virtual_s:.1f} s virtual ({result.real_s:.1f} s real,"
        f" {result.rounds:,} claim rounds, {result.idle_rounds:,} idle; CPU {result.cpu_s:.1f} s)"
    )
    print(
        f"   {'channel':8} {'posts':>5} {'digests':>7} {'listed':>6} {'updates':>7} {'other':>5}"
        f" {'msgs':>5} {'first s':>7} {'last s':>7} {'per min':>7} {'max 1s':>6}"
        f" {'max 60s':>7} {'over':>4} {'429s':>4}"
    )
    for c in result.channels:
        print(
            f"   {c.channel:8} {c.alert_posts:5d} {c.digests:7d} {c.digest_alerts:6d}"
            f" {c.updates:7d} {c.other_posts:5d} {c.messages:5d} {fmt(c.first_s, '7.1f')}"
            f" {fmt(c.last_s, '7.1f')} {fmt(c.per_minute, '7.1f')} {c.max_1s:6d}"
            f" {c.max_60s:7d} {c.over_limit:4d} {c.refused_429:4d}"
        )
    calls = ", ".join(f"{method} {n}" for method, n in sorted(result.slack_calls.items()))
    print(
        f"   Slack calls: {calls or 'none'}; 429s {result.rate_limited}; worker sent"
        f" {result.worker_sent}, retried {result.worker_retried or 'none'}, failed"
        f" {result.worker_failed or 'none'}, coalesced {result.worker_coalesced:,};"
        f" tier waits {result.tier_waits or 'none'}"
    )
    print(f"   outbox: {', '.join(f'{k} {v:,}' for k, v in result.outbox.items())}")


def reconciliation(
    workload: Workload, runs: list[IngestRun], delivery: DeliveryResult | None
) -> dict[str, Any]:
    last = runs[-1]
    lost_reports = sum(
        abs(r.occurrences - len(workload.reports)) + abs(r.alert_rows - len(workload.keys))
        for r in runs
    )
    entry: dict[str, Any] = {
        "reports_sent": len(workload.reports),
        "new_keys": len(workload.keys),
        "repeats": workload.repeats,
        "alert_rows": last.alert_rows,
        "occurrences": last.occurrences,
        "ingest_problems": [p for r in runs for p in r.problems],
        "lost_reports": lost_reports,
    }
    lost = lost_reports + sum(r.failures for r in runs)
    if delivery is not None:
        missing = sum(c.missing for c in delivery.channels)
        entry |= {
            "missing_in_slack": missing,
            "duplicated_in_slack": sum(c.duplicated for c in delivery.channels),
            "unknown_in_slack": sum(c.unknown for c in delivery.channels),
            "outbox_unfinished": delivery.unfinished,
            "digest_mismatches": delivery.digest_mismatches,
        }
        lost += missing + delivery.unfinished + len(delivery.digest_mismatches)
    entry["lost"] = lost
    return entry


def print_reconciliation(entry: dict[str, Any], delivery: DeliveryResult | None) -> None:
    print(
        f"\nreconciliation: {entry['reports_sent']:,} reports sent = {entry['new_keys']:,} new"
        f" keys + {entry['repeats']:,} repeats; alert rows {entry['alert_rows']:,}, sum of"
        f" occurrences {entry['occurrences']:,} (last run; every run checked:"
        f" {len(entry['ingest_problems'])} problem(s))"
    )
    for problem in entry["ingest_problems"][:5]:
        print(f"   MISMATCH: {problem}")
    if delivery is not None:
        per_channel = ", ".join(
            f"{c.channel} {c.alert_posts + c.digest_alerts:,}" for c in delivery.channels
        )
        print(
            f"   in Slack, alerts per channel (own posts + listed in digests): {per_channel};"
            f" missing {entry['missing_in_slack']}, twice {entry['duplicated_in_slack']},"
            f" unknown {entry['unknown_in_slack']}; digests not matching their merged rows"
            f" {len(entry['digest_mismatches'])}; outbox unfinished {entry['outbox_unfinished']}"
        )
        for problem in entry["digest_mismatches"][:5]:
            print(f"   MISMATCH: {problem}")
    print(f"lost: {entry['lost']}")


def judge(
    summary: dict[str, Any], delivery: DeliveryResult | None, entry: dict[str, Any]
) -> dict[str, Any]:
    rate = summary["alerts_per_s"]["median"]
    goals: dict[str, Any] = {
        "alerts_per_s_median": round(rate, 1),
        "rate_met": rate >= GOAL_ALERTS_PER_S,
        "none_lost": entry["lost"] == 0,
    }
    if delivery is not None:
        goals |= {
            "within_slack_limit": all(c.over_limit == 0 for c in delivery.channels)
            and delivery.rate_limited == 0,
            "max_1s": max(c.max_1s for c in delivery.channels),
            "max_60s": max(c.max_60s for c in delivery.channels),
            "drained": delivery.drained,
        }
    return goals


def print_goals(goals: dict[str, Any]) -> None:
    verdict = "MET" if goals["rate_met"] else "NOT MET"
    print(
        f"goals: >= {GOAL_ALERTS_PER_S:,.0f} alerts/s (median {goals['alerts_per_s_median']:,.0f}):"
        f" {verdict}; 0 lost: {'MET' if goals['none_lost'] else 'NOT MET'}",
        end="",
    )
    if "within_slack_limit" in goals:
        within = "MET" if goals["within_slack_limit"] else "NOT MET"
        print(
            f"; never above 1/s per channel (burst {SLACK_BURST}; most in 1 s:"
            f" {goals['max_1s']}, in 60 s: {goals['max_60s']}): {within}"
        )
    else:
        print("; Slack limit: not evaluated (--skip-delivery)")


# --------------------------------------------------------------------------- main


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError("a share in [0, 1)")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="An alert storm through the HTTP API, then its delivery to the channels."
    )
    parser.add_argument("--alerts", "-n", type=harness.positive, default=10_000, help="(10000)")
    parser.add_argument("--customers", type=harness.positive, default=100, help="(100)")
    parser.add_argument("--channels", type=harness.positive, default=5, help="subscribed (5)")
    parser.add_argument(
        "--repeat-share", type=share, default=0.2, help="reports repeating an open key (0.2)"
    )
    parser.add_argument(
        "--batch", type=harness.positive, default=100, help="alerts per request, at most 500 (100)"
    )
    parser.add_argument("--runs", "-r", type=harness.positive, default=5, help="ingest runs (5)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the storm (1)")
    parser.add_argument(
        "--tick",
        type=positive_float,
        default=0.05,
        help="virtual seconds the clock moves after a claim round that claimed nothing (0.05)",
    )
    parser.add_argument(
        "--slack-error-rate",
        type=share,
        default=0.0,
        help="the fake Slack fails this share of chat.postMessage calls at random with a"
        " 500, 503 or 429 (tests/fake_slack.py fault_rate; 0)",
    )
    parser.add_argument(
        "--skip-delivery", action="store_true", help="ingest only (no delivery phase)"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="cProfile the last run's ingest into FILE"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.batch > 500:
        parser.error("--batch: the API takes at most 500 alerts per request")
    return args


async def benchmark(
    args: argparse.Namespace, workload: Workload, tmp: Path
) -> tuple[list[IngestRun], DeliveryResult | None]:
    runs: list[IngestRun] = []
    seeded: Seeded | None = None
    for run in range(1, args.runs + 1):
        url = f"sqlite+aiosqlite:///{tmp / f'alerts-{run}.db'}"
        last = run == args.runs
        result, seeded = await ingest_run(args, workload, url, run, bool(args.profile) and last)
        harness.quiet_logging()  # alembic may have touched logging
        print_ingest(result)
        runs.append(result)
        if not last:
            await asyncio.to_thread(remove_database, url)
    delivery = None
    if not args.skip_delivery and seeded is not None:
        delivery = await deliver(args, seeded)
    return runs, delivery


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.quiet_logging()
    machine = machine_info()
    workload = draw_workload(args)
    print_header(machine, args, workload)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="msp-bench-alerts-") as tmp:
        runs, delivery = asyncio.run(benchmark(args, workload, Path(tmp)))
    total = time.perf_counter() - began
    summary = summarise_ingest(runs)
    print_ingest_summary(summary)
    print_statements(runs[-1])
    if delivery is not None:
        print_delivery(delivery)
    entry = reconciliation(workload, runs, delivery)
    print_reconciliation(entry, delivery)
    goals = judge(summary, delivery, entry)
    print_goals(goals)
    machine["load_average_after"] = harness.load_average()
    print(f"total time: {total:.1f} s; load average after: {machine['load_average_after']}")
    if args.profile:
        print(f"wrote {args.profile} (python -m pstats {args.profile})")
    if args.json:
        payload = {
            "machine": machine,
            "settings": {
                key: (str(value) if isinstance(value, Path) else value)
                for key, value in vars(args).items()
            }
            | {
                "limits": asdict(LIMITS),
                "slack_model": {"per_second": SLACK_PER_SECOND, "burst": SLACK_BURST},
                "command": " ".join(["python", "bench/alerts.py", *sys.argv[1:]]),
            },
            "workload": {
                "reports": len(workload.reports),
                "new_keys": len(workload.keys),
                "repeats": workload.repeats,
                "repeats_same_request": workload.repeats_same_request,
                "requests": len(workload.batches),
            },
            "ingest_runs": [asdict(r) for r in runs],
            "ingest_summary": summary,
            "delivery": asdict(delivery) if delivery is not None else None,
            "reconciliation": entry,
            "goals": goals,
            "total_s": total,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    bad = (
        entry["lost"] > 0
        or any(r.failures or r.problems for r in runs)
        or (delivery is not None and not (goals["within_slack_limit"] and delivery.drained))
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
