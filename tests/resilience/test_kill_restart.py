"""The bot killed with SIGKILL while delivering, then restarted: nothing lost (resilience).

The real bot runs as its own process (`python -m bot run`, HTTP mode, SQLite in
tmp_path) against the fake Slack, whose `chat.postMessage` answers slowly so that
posts are in flight when the kill lands. 200 alerts come in through the API: each
goes to a quiet channel of its own kind (individual posts) and to a storm channel
(digests), 400 outbox items in all. The process is killed three times at
different points and restarted on the same database; then the outbox must drain.
Checked: every alert is shown in every channel it was routed to (its own message
or a digest's List all), no outbox item is left pending, sending or failed, and
the only posts Slack received twice are ones whose answer a kill cut off (at most
one per send slot per kill: at-least-once delivery, docs/DELIVERY.md).

A killed process's claims keep their 60 s lease. Rather than wait a minute per
kill, the test runs the lease out in the database while the process is dead, as
that minute would. Figures: docs/RELIABILITY.md."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bot.delivery.limits import DeliveryLimits
from storage.engine import Database
from storage.models import Alert, OutboxItem
from tests.fake_slack import FakeSlack
from tests.resilience.test_slack_faults import _alerts_shown
from tests.seed import Tenant, make_tenant
from tests.support import SIGNING_SECRET, FakeClock
from tests.test_alert_routing import subscribe

pytestmark = pytest.mark.resilience

REPO = Path(__file__).resolve().parents[2]
KINDS = 40  # one quiet channel per alert kind
QUIET = {f"svc{n}": f"C0KQ{n:02d}" for n in range(KINDS)}
STORM = "C0KSTORM"  # subscribed to everything: its posts pile up into digests
ALERTS, BATCH, CUSTOMERS = 200, 50, 10
KILL_AT = (40, 85, 130)  # chat.postMessage calls received when each kill lands
POST_DELAY = 0.2  # seconds the fake takes to answer each chat.postMessage
READY_TIMEOUT, DRAIN_TIMEOUT = 20.0, 40.0
SLOTS = DeliveryLimits().concurrency  # sends in flight at once in one process


@dataclass
class Kill:
    posts_before: int  # messages in Slack when the kill landed
    in_flight: int  # posts Slack had received but not yet answered
    sending: int  # outbox items claimed (`sending`) by the dead process
    lost_answers: int  # posts Slack accepted whose outcome the bot never recorded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bot_env(fake_slack: FakeSlack, database_url: str, port: int) -> dict[str, str]:
    """Only what the bot needs: nothing of the test runner's environment leaks in."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "SLACK_BOT_TOKEN": fake_slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }


class BotProcess:
    """`python -m bot run` in tmp_path (so no .env is read), its output in a log file."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.base_url = f"http://127.0.0.1:{env['PORT']}"
        self.process: asyncio.subprocess.Process | None = None
        self.lives = 0

    @property
    def log(self) -> Path:
        return self.tmp_path / f"bot-{self.lives}.log"

    async def start(self) -> float:
        """Start the bot and wait until /readyz answers 200; the seconds it took."""
        self.lives += 1
        started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=self.tmp_path,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        deadline = started + READY_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while time.perf_counter() < deadline:
                if self.process.returncode is not None:
                    pytest.fail(f"the bot exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    async with http.get(f"{self.base_url}/readyz") as answer:
                        if answer.status == 200:
                            return time.perf_counter() - started
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        pytest.fail(f"the bot was not ready within {READY_TIMEOUT} s:\n{self.tail()}")

    def kill(self) -> None:
        assert self.process is not None and self.process.returncode is None
        os.kill(self.process.pid, signal.SIGKILL)

    async def wait(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; SIGKILL if it does not go in time."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await self.wait()
        finally:
            self.ensure_dead()

    def ensure_dead(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


async def _tenant_with_subscriptions(db: Database) -> Tenant:
    clock = FakeClock(datetime.now(UTC))
    tenant = await make_tenant(db, clock, names={f"Customer {n}": 100 for n in range(CUSTOMERS)})
    await subscribe(db, clock, tenant, STORM)
    for kind, channel in QUIET.items():
        await subscribe(db, clock, tenant, channel, kinds=[kind])
    return tenant


async def _ingest(bot: BotProcess, tenant: Tenant) -> None:
    accounts = list(tenant.accounts.values())
    headers = {"Authorization": f"Bearer {tenant.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for first in range(0, ALERTS, BATCH):
            alerts = [
                {
                    "customer": accounts[n % CUSTOMERS],
                    "kind": f"svc{n % KINDS}",
                    "severity": "high",
                    "title": f"Disk {n}",
                    "dedup_key": f"disk:{n}",
                }
                for n in range(first, first + BATCH)
            ]
            async with http.post(f"{bot.base_url}/api/v1/alerts", json={"alerts": alerts}) as r:
                assert r.status == 200, await r.text()


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not await condition():
        if time.perf_counter() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _statuses(db: Database) -> Counter[str]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
        )
        return Counter({status: count for status, count in rows.all()})


async def _posts_recorded_sent(db: Database) -> int:
    async with db.unit_of_work() as session:
        return await session.scalar(
            select(func.count()).where(OutboxItem.kind == "post", OutboxItem.status == "sent")
        )


async def _run_out_leases(db: Database) -> int:
    """What the 60 s after a crash would do: the dead process's claims expire."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(OutboxItem).where(OutboxItem.status == "sending").values(lease_until=past)
        )
        return result.rowcount


async def _kill_while_delivering(
    bot: BotProcess, db: Database, fake_slack: FakeSlack, at: int
) -> Kill:
    posts = fake_slack.calls_to

    async def reached() -> bool:
        return len(posts("chat.postMessage")) >= at

    await _wait_for(reached, 30.0, f"{at} posts")
    bot.kill()
    in_slack, received = len(fake_slack.messages), len(posts("chat.postMessage"))
    assert await bot.wait() == -signal.SIGKILL

    async def slack_answered_all() -> bool:  # the slow answers of the dead process's posts
        return len(fake_slack.messages) == len(posts("chat.postMessage"))

    await _wait_for(slack_answered_all, 5.0, "the fake Slack to finish the cut-off posts")
    sending = await _run_out_leases(db)
    return Kill(
        posts_before=in_slack,
        in_flight=received - in_slack,
        sending=sending,
        lost_answers=len(fake_slack.messages) - await _posts_recorded_sent(db),
    )


async def test_sigkill_while_delivering_then_restart_loses_nothing(
    fake_slack, db, database_url, tmp_path
):
    tenant = await _tenant_with_subscriptions(db)
    fake_slack.fail("chat.postMessage", times=1_000_000, delay=POST_DELAY)
    bot = BotProcess(tmp_path, _bot_env(fake_slack, database_url, _free_port()))
    kills: list[Kill] = []
    started = time.perf_counter()
    try:
        startups = [await bot.start()]
        await _ingest(bot, tenant)
        for at in KILL_AT:
            kills.append(await _kill_while_delivering(bot, db, fake_slack, at))
            startups.append(await bot.start())
        restarted = time.perf_counter() - startups[-1]

        async def drained() -> bool:
            statuses = await _statuses(db)
            return statuses["pending"] + statuses["sending"] == 0

        await _wait_for(drained, DRAIN_TIMEOUT, "the outbox to drain after the last restart")
        drain_seconds = time.perf_counter() - restarted
        assert await bot.stop() == 0, bot.tail()
    finally:
        bot.ensure_dead()
    elapsed = time.perf_counter() - started

    async with db.unit_of_work() as session:
        alerts = dict((await session.execute(select(Alert.id, Alert.kind))).all())
    statuses = await _statuses(db)
    shown: dict[str, Counter[int]] = {}
    for (channel, _ts), message in fake_slack.messages.items():
        shown.setdefault(channel, Counter()).update(_alerts_shown(message))
    repeated_alerts = sum(n - 1 for counter in shown.values() for n in counter.values())
    duplicates = len(fake_slack.messages) - await _posts_recorded_sent(db)

    print(
        f"\n{ALERTS} alerts -> {sum(statuses.values())} outbox items "
        f"({KINDS} quiet channels + 1 storm channel), chat.postMessage answering in "
        f"{POST_DELAY} s, {len(kills)} SIGKILLs, {elapsed:.1f} s in all"
    )
    # Answers lost at each kill: each such post is sent again after the restart.
    lost = [kills[0].lost_answers] + [
        later.lost_answers - earlier.lost_answers for earlier, later in pairwise(kills)
    ]
    for number, (kill, lost_here, startup) in enumerate(
        zip(kills, lost, startups[1:], strict=True), 1
    ):
        print(
            f"kill {number}: {kill.posts_before} posts in Slack, {kill.in_flight} in flight, "
            f"{kill.sending} claimed (sending), {lost_here} accepted but not recorded; "
            f"restart ready in {startup:.1f} s"
        )
    storm_posts = sum(1 for channel, _ts in fake_slack.messages if channel == STORM)
    print(
        f"first start ready in {startups[0]:.1f} s; drained {drain_seconds:.1f} s after the "
        f"last restart; {len(fake_slack.messages)} messages in Slack ({storm_posts} in the "
        f"storm channel), outbox {dict(statuses)}; posted twice: {duplicates} messages "
        f"({repeated_alerts} alert lines shown twice)"
    )

    assert len(alerts) == ALERTS
    assert set(statuses) <= {"sent", "coalesced"}, statuses  # nothing left, nothing failed
    assert set(shown[STORM]) == set(alerts)  # none lost in the storm channel
    for kind, channel in QUIET.items():
        expected = {alert_id for alert_id, alert_kind in alerts.items() if alert_kind == kind}
        assert set(shown[channel]) == expected, channel  # none lost, none misrouted
    for kill in kills:
        assert 0 < kill.posts_before < ALERTS  # the kill landed while delivering
        assert kill.sending > 0
    # At-least-once: a second copy only of a post whose answer a kill cut off, at most
    # one per send slot per kill.
    assert duplicates == kills[-1].lost_answers
    assert all(0 <= n <= SLOTS for n in lost), lost
