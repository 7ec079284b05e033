"""PostgreSQL restarted under load (resilience): while Slack requests (a
slash command, two modal submissions that write, a button that writes) and API
requests (alerts, usage) keep coming, the database goes away and comes back.
Checked: every Slack request gets a clean answer in time (no 5xx, no traceback: a
message saying the database is away), the API answers 503 with Retry-After, no
write is left half done, and the same bot instance (its pool, its delivery worker,
its scheduler) works again within a few seconds. Figures: docs/RELIABILITY.md.

The restart is played by a TCP proxy between the bot and the server
(tests/resilience/tcp_proxy.py), so the PostgreSQL that other tests share keeps
running. PostgreSQL only: set MSPBOT_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import make_url

from bot.app import Bot, build_app
from bot.delivery.limits import DeliveryLimits
from bot.domain.alerts import AlertAction
from bot.domain.customers import name_key
from bot.domain.requests import RequestType
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import AlertChoice, RequestFormState
from bot.views.customers import add_modal
from storage.engine import Database
from storage.models import (
    Alert,
    AlertMessage,
    AuditEvent,
    ChangeRequest,
    Customer,
    Msp,
    OutboxItem,
    StaffMember,
)
from tests.drive import all_text, calls_to, post, post_json
from tests.fake_slack import RESPONSE_URL_CALL, FakeSlack
from tests.forms import FORM_OPENED_ON, add_values
from tests.forms import submit_values as request_values
from tests.resilience.tcp_proxy import TcpProxy
from tests.resilience.test_slack_faults import _alerts_shown
from tests.seed import ADMIN, APPROVALS, OWNER, Tenant, grant_staff, make_tenant
from tests.support import TODAY, postgres_url, reset_postgres
from tests.test_alert_routing import subscribe
from tests.wait import settle

# Alone: its assertions are about answering in time under load, which another
# test process on the same cores would make a matter of luck.
pytestmark = [pytest.mark.resilience, pytest.mark.alone]

CHANNELS = ("C0NOC", "C0SUPPORT")
BEFORE_S = 3.0  # load before the restart
DOWN_S = 1.2  # then the port is closed: connections refused
STARTING_S = 0.8  # then open, answering "the database system is starting up"
AFTER_S = 5.0  # load after it
RECOVERED_WITHIN_S = 2.0  # every request started this long after the restart succeeds
SLACK_DEADLINE_S = 3.0  # Slack shows the person an error after 3 s without an answer
# Between one caller's requests. The bot, the test's callers, the fake Slack and the
# proxy share one event loop (and, in CI, two cores): a saturated loop would
# measure nothing but itself.
PAUSE_S = 0.1
TRIAL_CUSTOMERS = 400  # one trial-extension request each
ACKABLE_ALERTS = 300  # one Acknowledge click each
LEAK_WORDS = ("Traceback", "sqlalchemy", "asyncpg", "DBAPIError", "Errno", "[SQL:")
PHASES = ("before", "cut", "during", "after")
UNAVAILABLE = "The database is not answering"  # how each refusal here begins


@dataclass
class Outcome:
    kind: str
    started: float
    ended: float
    status: int
    answer: str  # "done", "refused" (a message saying why instead), or "BAD: ..."
    shown: str = ""  # what the person (or the API's caller) was told
    key: Any = None  # what the request writes, to look for afterwards

    def phase(self, down_at: float, up_at: float) -> str:
        if self.ended < down_at:
            return "before"
        if self.started < down_at:
            return "cut"  # in flight when the connections were cut
        return "during" if self.started < up_at else "after"


# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL suite: set MSPBOT_TEST_DATABASE_URL to run it")
    server = make_url(url)
    running = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def database_url(proxy: TcpProxy) -> str:
    """The bot's database URL: the test's PostgreSQL, through the proxy."""
    url = postgres_url()
    assert url is not None
    await reset_postgres(url)
    return make_url(url).set(host=proxy.host, port=proxy.port).render_as_string(False)


@pytest.fixture
async def direct(db: Database) -> AsyncIterator[Database]:
    """The same database (migrated by `db`) without the proxy, for the checks."""
    url = postgres_url()
    assert url is not None
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
def settings(settings):
    # The scheduled job watched: the Home tab refresh, every second (5 s in
    # production), so that runs fall into the outage. The clock stands still during
    # the load, so no redraw is due until `_home_tabs_redrawn` moves it: each run is
    # one small query.
    return settings.model_copy(update={"mspbot_home_refresh_seconds": 1.0})


@pytest.fixture
async def bot(settings, db, clock) -> Bot:
    # Slack's pacing of a channel is lifted (each channel gets every alert). The
    # worker keeps trying to record a send's outcome for half its lease (60 s in
    # production, 8 s here) so the 2 s outage loses no record and doubles nothing.
    # The worker polls as in production (every 0.5 s, and at once on a commit).
    limits = replace(
        DeliveryLimits(), channel_per_second=1000.0, channel_burst=100, lease_seconds=8.0
    )
    return build_app(settings, clock=clock, db=db, delivery_limits=limits)


# ---------------------------------------------------------------- the tenant


@dataclass
class World:
    tenant: Tenant
    trial_ids: list[int]  # customers to ask a trial extension for
    alert_ids: list[int]  # alerts to acknowledge
    request_blocks: list[dict[str, Any]]  # the request modal's blocks, as it opened


async def _world(client, bot: Bot, db: Database, clock, slack, fake_slack: FakeSlack) -> World:
    tenant = await make_tenant(db, clock, names={f"Customer {n}": 1_000_000 for n in range(5)})
    await grant_staff(db)
    for channel in CHANNELS:
        await subscribe(db, clock, tenant, channel)
    async with db.unit_of_work() as session:
        # (grant_staff marked the Home tabs stale at the real time, past the clock's.)
        await session.execute(update(Msp).values(max_customers=10_000, home_stale_since=None))
        # Everyone looked at the Home tab lately: changes have it redrawn.
        await session.execute(update(StaffMember).values(home_opened_at=clock()))
    trial_ids = await _trial_customers(db, clock, tenant.msp_id, TRIAL_CUSTOMERS)
    accounts = list(tenant.accounts.values())
    for batch in range(ACKABLE_ALERTS // 60):
        alerts = [_alert(accounts[n % len(accounts)], f"setup:{batch}:{n}") for n in range(60)]
        answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": alerts})
        assert answer.status == 200, answer.json
    async with db.unit_of_work() as session:
        alert_ids = list((await session.scalars(select(Alert.id).order_by(Alert.id))).all())
    reply = await post(client, slack.slash_command("request extend Trial 0", user_id=ADMIN))
    assert reply.status == 200, reply.text
    [opened] = await calls_to(fake_slack, "views.open", 1)
    await settle(bot)
    return World(tenant, trial_ids[1:], alert_ids, opened.args["view"]["blocks"])


async def _trial_customers(db: Database, clock, msp_id: int, count: int) -> list[int]:
    now = clock()
    rows = [
        {
            "msp_id": msp_id,
            "account_number": f"TRIAL-{n:04d}",
            "name": f"Trial {n}",
            "name_key": name_key(f"Trial {n}"),
            "admin_email": f"admin{n}@trial.example",
            "admin_email_key": f"admin{n}@trial.example",
            "plan": "trial",
            "status": "active_trial",
            "trial_start": TODAY - timedelta(days=20),
            "trial_end": TODAY + timedelta(days=10),
            "created_by": "test",
            "add_ons": [],
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    async with db.unit_of_work() as session:
        await session.execute(insert(Customer), rows)
        ids = await session.scalars(
            select(Customer.id).where(Customer.name.like("Trial %")).order_by(Customer.id)
        )
        return list(ids.all())


def _alert(account: str, dedup_key: str) -> dict[str, Any]:
    return {
        "customer": account,
        "kind": "backup_failed",
        "severity": "high",
        "title": f"Backup failed ({dedup_key})",
        "dedup_key": dedup_key,
    }


# ---------------------------------------------------------------- what a person is told


def _leaks(text: str) -> bool:
    return any(word in text for word in LEAK_WORDS)


def _slack_answer(status: int, text: str, done: str) -> tuple[str, str]:
    """How a Slack request was answered: done (its answer holds `done`), refused
    with a message, or BAD."""
    if status != 200:
        return f"BAD: HTTP {status}", text[:200]
    if _leaks(text):
        return "BAD: internals shown", text[:300]
    try:
        body = json.loads(text)
    except ValueError:
        return "BAD: not JSON", text[:200]
    if done in text:
        return "done", ""
    shown = _shown(body)
    return ("refused", shown) if shown.strip() else ("BAD: no message", text[:200])


def _shown(body: dict[str, Any]) -> str:
    """The words a person reads in an answer: a message, a modal, or field errors."""
    if body.get("response_action") == "errors":
        return " / ".join(body.get("errors", {}).values())
    if body.get("response_action") == "update":
        return all_text(body["view"].get("blocks", []))
    return body.get("text") or all_text(body.get("blocks") or [])


def _api_answer(status: int, body: Any, headers: Any) -> tuple[str, str]:
    text = json.dumps(body)
    if _leaks(text):
        return "BAD: internals shown", text[:300]
    if status == 200 and body.get("ok") is True:
        return "done", ""
    if status == 503 and body.get("ok") is False and body.get("message"):
        if not headers.get("Retry-After"):
            return "BAD: 503 without Retry-After", text[:300]
        return "refused", f"503 {body['error']}: {body['message']}"
    return f"BAD: HTTP {status}", text[:300]


# ---------------------------------------------------------------- the load


@dataclass
class Load:
    """One caller per kind of request, each sending the next as soon as it has its
    answer (and a short pause), until told to stop."""

    client: Any
    slack: Any
    fake_slack: FakeSlack
    world: World
    outcomes: list[Outcome] = field(default_factory=list)
    clicks: list[tuple[Outcome, str]] = field(default_factory=list)  # (click, response_url)

    def __post_init__(self) -> None:
        self._numbers = itertools.count()
        self._trials = iter(self.world.trial_ids)
        self._alerts = iter(self.world.alert_ids)
        self._accounts = list(self.world.tenant.accounts.values())
        self._add_blocks = add_modal(default_price=75, today=FORM_OPENED_ON)["blocks"]

    async def run(self, stop: asyncio.Event) -> None:
        kinds: dict[str, Callable[[], Awaitable[Outcome | None]]] = {
            "slash command": self.list_customers,
            "modal: add customer": self.add_customer,
            "modal: request": self.ask_trial_extension,
            "button: acknowledge": self.acknowledge,
            "API: alerts": self.report_alerts,
            "API: usage": self.report_usage,
        }
        await asyncio.gather(*(self._caller(kind, send, stop) for kind, send in kinds.items()))

    async def _caller(
        self, kind: str, send: Callable[[], Awaitable[Outcome | None]], stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                outcome = await asyncio.wait_for(send(), 10)
            except TimeoutError:
                outcome = Outcome(kind, started, time.monotonic(), 0, "BAD: no answer in 10 s")
            if outcome is None:  # nothing left to click or ask for
                return
            outcome.kind, outcome.started = kind, started
            self.outcomes.append(outcome)
            await asyncio.sleep(PAUSE_S)

    async def list_customers(self) -> Outcome:
        reply = await post(self.client, self.slack.slash_command("customers", user_id=ADMIN))
        answer, shown = _slack_answer(reply.status, reply.text, done="All Customers: ")
        return Outcome("", 0, time.monotonic(), reply.status, answer, shown)

    async def add_customer(self) -> Outcome:
        n = next(self._numbers)
        name = f"Load {n}"
        request = self.slack.view_submission(
            callback_id=CallbackId.ADD_CUSTOMER,
            values=add_values(name=name, email=f"admin{n}@load.example"),
            blocks=self._add_blocks,
            user_id=OWNER,
        )
        reply = await post(self.client, request)
        answer, shown = _slack_answer(reply.status, reply.text, done=f"Added {name}")
        return Outcome("", 0, time.monotonic(), reply.status, answer, shown, key=name)

    async def ask_trial_extension(self) -> Outcome | None:
        customer_id = next(self._trials, None)
        if customer_id is None:
            return None
        state = RequestFormState(
            kind=RequestType.TRIAL_EXTENSION, customer_id=customer_id, channel="C0LOAD"
        )
        request = self.slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=state.encode(),
            values=request_values(**{BlockId.REQUEST_DAYS: "7"}),
            blocks=self.world.request_blocks,
            user_id=ADMIN,
        )
        reply = await post(self.client, request)
        answer, shown = _slack_answer(reply.status, reply.text, done="Request sent")
        return Outcome("", 0, time.monotonic(), reply.status, answer, shown, key=customer_id)

    async def acknowledge(self) -> Outcome | None:
        alert_id = next(self._alerts, None)
        if alert_id is None:
            return None
        value = AlertChoice(alert_id=alert_id, action=AlertAction.ACKNOWLEDGE).encode()
        request = self.slack.block_actions(
            action_id=ActionId.ALERT_ACKNOWLEDGE, value=value, user_id=ADMIN, channel_id=CHANNELS[0]
        )
        reply = await post(self.client, request)
        # Acked at once with an empty 200; what happened next is said below the
        # message (response_url) if it failed: see `read_click_answers`.
        clean = reply.status == 200 and not reply.text
        answer = "done" if clean else f"BAD: HTTP {reply.status} {reply.text[:100]}"
        outcome = Outcome("", 0, time.monotonic(), reply.status, answer, key=alert_id)
        self.clicks.append((outcome, urlsplit(request.payload["response_url"]).path))
        return outcome

    async def report_alerts(self) -> Outcome:
        n = next(self._numbers)
        keys = tuple(f"load:{n}:{i}" for i in range(3))
        alerts = [_alert(self._accounts[(n + i) % 5], key) for i, key in enumerate(keys)]
        token = self.world.tenant.token
        answer = await post_json(self.client, "/api/v1/alerts", token, {"alerts": alerts})
        said, shown = _api_answer(answer.status, answer.json, answer.headers)
        return Outcome("", 0, time.monotonic(), answer.status, said, shown, key=keys)

    async def report_usage(self) -> Outcome:
        n = next(self._numbers)
        report = {
            "customer": self._accounts[n % 5],
            "month": "2026-10",
            "mau": n,
            "users": 5,
            "agents_total": 10,
            "agents_reporting": 9,
            "data_gb": 1.5,
        }
        token = self.world.tenant.token
        answer = await post_json(self.client, "/api/v1/usage", token, {"usage": [report]})
        said, shown = _api_answer(answer.status, answer.json, answer.headers)
        return Outcome("", 0, time.monotonic(), answer.status, said, shown)

    def read_click_answers(self) -> None:
        """A click whose work failed after its ack was answered below its message."""
        said: dict[str, list[str]] = defaultdict(list)
        for call in self.fake_slack.calls_to(RESPONSE_URL_CALL):
            blocks = call.args.get("blocks") or []
            said[call.path].append(all_text(blocks) or str(call.args.get("text", "")))
        for outcome, path in self.clicks:
            if said.get(path) and outcome.answer == "done":
                text = " ".join(said[path])
                outcome.answer = "BAD: internals shown" if _leaks(text) else "refused"
                outcome.shown = text


# ---------------------------------------------------------------- the test


async def test_postgresql_restarted_under_load(
    client, bot, db, direct, clock, slack, fake_slack, proxy
):
    async def restart() -> tuple[float, float, str]:
        await proxy.restart(down_seconds=DOWN_S, starting_seconds=STARTING_S)
        stats = proxy.stats
        said = (
            f"restart: {stats.cut} open connections cut; {DOWN_S:.1f} s refused, then "
            f"{STARTING_S:.1f} s 'starting up' ({stats.turned_away} connections turned away)"
        )
        return *stats.restarts[-1], said

    run = await _under_load(restart, client, bot, db, direct, clock, slack, fake_slack, proxy)
    # While the port was closed, every request was told the database is away (and
    # there were such requests: the load went on through the outage).
    refused_port = [o for o in run.outcomes if run.down_at <= o.started < run.down_at + DOWN_S]
    assert refused_port and all(o.answer == "refused" for o in refused_port)


async def test_sessions_ended_by_the_server_under_load(
    client, bot, db, direct, clock, slack, fake_slack, proxy
):
    """The same load while the real server ends every session of the bot (what a
    fast shutdown does to them: SQLSTATE 57P01), without restarting the server that
    other tests share: pg_terminate_backend, for the sessions opened through the
    proxy only."""

    async def terminate() -> tuple[float, float, str]:
        began = time.monotonic()
        async with direct.unit_of_work() as session:
            ended = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND client_port = ANY(:ports)"
                ),
                {"ports": proxy.server_side_ports()},
            )
        assert ended, "no session of the bot to end"
        # A backend ends a moment after it is signalled: a request started just after
        # this may still lose its connection (and be told so).
        return began, time.monotonic(), f"{ended} sessions ended (pg_terminate_backend)"

    # Whether a request meets an ended session is a matter of timing: the pool hands
    # out idle connections checked first, and a request on one the server ended in
    # its middle is refused, saying why. Either way every answer is clean.
    await _under_load(terminate, client, bot, db, direct, clock, slack, fake_slack, proxy)
    assert proxy.stats.cut == 0  # the proxy only forwarded: the server did it all


@dataclass
class Run:
    outcomes: list[Outcome]
    down_at: float
    up_at: float


async def _under_load(
    outage: Callable[[], Awaitable[tuple[float, float, str]]],
    client,
    bot: Bot,
    db: Database,
    direct: Database,
    clock,
    slack,
    fake_slack: FakeSlack,
    proxy: TcpProxy,
) -> Run:
    """The load, the outage in its middle, the checks every outage must pass."""
    world = await _world(client, bot, db, clock, slack, fake_slack)
    load = Load(client, slack, fake_slack, world)
    stop = asyncio.Event()
    running = asyncio.create_task(load.run(stop))
    await asyncio.sleep(BEFORE_S)
    jobs_before = _job_runs(bot)
    down_at, up_at, what = await outage()
    jobs_at_up = _job_runs(bot)
    await asyncio.sleep(AFTER_S)
    stop.set()
    await running
    await bot.in_flight.drain(30.0)
    load.read_click_answers()
    jobs_after = _job_runs(bot)
    published_after = await _home_tabs_redrawn(clock, fake_slack, since=up_at)
    await bot.delivery.drain(timeout=30)
    outcomes = load.outcomes
    ambiguous = await _check_no_partial_writes(direct, load)
    doubled = _check_nothing_lost(fake_slack, direct_alerts=await _alert_ids(direct))
    print(f"\n{what}; {proxy.stats.forwarded} connections forwarded in all")
    print(_report(outcomes, down_at, up_at, ambiguous, doubled, jobs_before, jobs_after))
    assert set(doubled.values()) <= {0}, f"shown twice: {doubled}"

    # (1) A clean answer to every request, in time: done, or a message saying why.
    bad = [o for o in outcomes if o.answer.startswith("BAD")]
    assert bad == [], [(o.kind, o.answer, o.shown) for o in bad[:10]]
    slowest = max(o.ended - o.started for o in outcomes if not o.kind.startswith("API"))
    assert slowest < SLACK_DEADLINE_S, slowest
    refused = [o for o in outcomes if o.answer == "refused"]
    assert all(UNAVAILABLE in o.shown for o in refused), Counter(o.shown[:80] for o in refused)
    for kind in {o.kind for o in outcomes}:
        assert any(o.answer == "done" for o in outcomes if o.kind == kind and o.ended < down_at)
    # (2) No partial writes: checked above, and the outbox drained below.
    # (3) The same bot works again within seconds: its pool, its worker, its scheduler.
    late = [o for o in outcomes if o.started >= up_at + RECOVERED_WITHIN_S]
    assert late and all(o.answer == "done" for o in late), Counter(
        (o.kind, o.answer, o.shown[:80]) for o in late if o.answer != "done"
    )
    assert jobs_after["refresh_home_tabs", "ok"] > jobs_at_up["refresh_home_tabs", "ok"]
    assert published_after, "no Home tab was redrawn after the outage"
    assert bot.delivery._task is not None and not bot.delivery._task.done()
    await _check_outbox_drained(direct, bot)
    return Run(outcomes, down_at, up_at)


def _job_runs(bot: Bot) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for metric in bot.metrics.job_runs.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counts[sample.labels["job"], sample.labels["outcome"]] = int(sample.value)
    return counts


async def _home_tabs_redrawn(clock, fake_slack: FakeSlack, *, since: float) -> int:
    """The Home tab refresh (a scheduled job) redraws tabs, through the outbox: the
    clock stands still in tests, so it moves past the refresh's settling time."""
    clock.advance(minutes=1)
    for _ in range(100):
        published = [c for c in fake_slack.calls_to("views.publish") if c.at > since]
        if published:
            return len(published)
        await asyncio.sleep(0.1)
    return 0


# ---------------------------------------------------------------- the checks


async def _check_no_partial_writes(direct: Database, load: Load) -> Counter[str]:
    """Each write all there or not at all, across tables; what was answered as done is
    there. Returns the writes refused yet found committed, by kind."""
    async with direct.unit_of_work() as session:
        audits = Counter(await session.execute(select(AuditEvent.action, AuditEvent.entity_id)))
        customers = dict(
            (await session.execute(select(Customer.name, Customer.account_number))).all()
        )
        requests = (await session.scalars(select(ChangeRequest))).all()
        alerts = (await session.scalars(select(Alert))).all()
        messages = Counter((await session.scalars(select(AlertMessage.alert_id))).all())
        message_keys = set((await session.scalars(select(AlertMessage.outbox_key))).all())
        outbox_keys = set((await session.scalars(select(OutboxItem.key))).all())

    # A customer added and its audit event (by account number); no audit event
    # without its customer.
    added = {name: number for name, number in customers.items() if name.startswith("Load ")}
    for name, account_number in added.items():
        assert audits["customer.created", account_number] == 1, name
    created = {entity for action, entity in audits if action == "customer.created"}
    assert created <= set(customers.values())
    # A request, its audit event and its approval message in the outbox.
    for request in requests:
        assert audits["request.created", str(request.id)] == 1, request.id
        assert request.message_keys and set(request.message_keys) <= outbox_keys, request.id
    # An alert, its audit event, its message in each channel (each in the outbox);
    # acknowledged exactly when its acknowledgement was recorded.
    for alert in alerts:
        assert audits["alert.created", str(alert.id)] == 1, alert.id
        assert messages[alert.id] == len(CHANNELS), alert.id
        acknowledged = audits["alert.acknowledged", str(alert.id)]
        assert acknowledged == int(alert.status == "acknowledged"), alert.id
    assert message_keys <= outbox_keys

    asked = {request.customer_id for request in requests}
    acknowledged_ids = {alert.id for alert in alerts if alert.status == "acknowledged"}
    dedup_keys = {alert.dedup_key for alert in alerts}
    written: dict[str, Callable[[Any], bool]] = {
        "modal: add customer": lambda name: name in added,
        "modal: request": lambda customer_id: customer_id in asked,
        "button: acknowledge": lambda alert_id: alert_id in acknowledged_ids,
        "API: alerts": lambda keys: set(keys) <= dedup_keys,
    }
    refused_yet_committed: Counter[str] = Counter()
    for outcome in load.outcomes:
        there = written.get(outcome.kind)
        if there is None or outcome.key is None:  # no answer at all: reported as BAD
            continue
        if outcome.answer == "done":
            assert there(outcome.key), (outcome.kind, outcome.key)
        elif there(outcome.key):  # the commit went through, its answer was cut off
            refused_yet_committed[outcome.kind] += 1
        if outcome.kind == "API: alerts":  # three alerts, all or none
            found = {key for key in outcome.key if key in dedup_keys}
            assert len(found) in (0, len(outcome.key)), outcome.key
    return refused_yet_committed


async def _alert_ids(direct: Database) -> set[int]:
    async with direct.unit_of_work() as session:
        return set((await session.scalars(select(Alert.id))).all())


def _check_nothing_lost(fake_slack: FakeSlack, *, direct_alerts: set[int]) -> dict[str, int]:
    """Every alert posted in each channel, every request's approval message posted;
    returns how many were shown twice (a post whose outcome could not be recorded
    goes again when its lease ends: at most one duplicate each, docs/DELIVERY.md)."""
    doubled: dict[str, int] = {}
    posts = fake_slack.calls_to("chat.postMessage")
    for channel in CHANNELS:
        shown = Counter(
            alert_id
            for call in posts
            if call.args["channel"] == channel
            for alert_id in _alerts_shown(call.args)
        )
        assert set(shown) == direct_alerts, channel
        assert max(shown.values()) <= 2, channel
        doubled[channel] = sum(1 for count in shown.values() if count > 1)
    approvals = Counter(
        all_text(call.args["blocks"][:1]).split(":")[0]
        for call in posts
        if call.args["channel"] == APPROVALS
    )
    assert max(approvals.values()) <= 2
    doubled[APPROVALS] = sum(1 for count in approvals.values() if count > 1)
    return doubled


async def _check_outbox_drained(direct: Database, bot: Bot) -> None:
    async with direct.unit_of_work() as session:
        statuses = Counter((await session.scalars(select(OutboxItem.status))).all())
    assert set(statuses) <= {"sent", "coalesced"}, statuses
    assert not bot.delivery.stats.failed, bot.delivery.stats.failed


# ---------------------------------------------------------------- the figures


def _first_success(outcomes: list[Outcome], down_at: float, up_at: float) -> str:
    """How long after the database was back the first request sent since the outage
    began was answered as done."""
    done = [o.ended for o in outcomes if o.answer == "done" and o.started >= down_at]
    first = min((at for at in done if at >= up_at), default=None)
    return f"first success {(first - up_at) * 1000:.0f} ms after" if first else "no success"


def _report(
    outcomes: list[Outcome],
    down_at: float,
    up_at: float,
    ambiguous: Counter[str],
    doubled: dict[str, int],
    jobs_before: Counter[tuple[str, str]],
    jobs_after: Counter[tuple[str, str]],
) -> str:
    seconds = max(o.ended for o in outcomes) - min(o.started for o in outcomes)
    lines = [f"{len(outcomes)} requests in {seconds:.1f} s"]
    for kind in sorted({o.kind for o in outcomes}):
        mine = [o for o in outcomes if o.kind == kind]
        cells = []
        for phase in PHASES:
            those = [o for o in mine if o.phase(down_at, up_at) == phase]
            answers = Counter(o.answer for o in those)
            took = sorted(o.ended - o.started for o in those)
            timing = f" (median {took[len(took) // 2] * 1000:.0f} ms)" if took else ""
            cells.append(f"{phase} {dict(answers)}{timing}")
        lines.append(f"  {kind}: {'; '.join(cells)}; {_first_success(mine, down_at, up_at)}")
    lines.append(f"  all kinds: {_first_success(outcomes, down_at, up_at)}")
    told = Counter(o.shown[:160] for o in outcomes if o.answer == "refused")
    lines += [f"  told {n} x: {text}" for text, n in told.most_common(8)]
    slowest = max(o.ended - o.started for o in outcomes if not o.kind.startswith("API"))
    jobs = {
        key: jobs_after[key] - jobs_before[key]
        for key in jobs_after
        if jobs_after[key] != jobs_before[key]
    }
    lines += [
        f"  slowest Slack answer {slowest * 1000:.0f} ms",
        f"  refused, yet committed (the commit's answer was cut off): {dict(ambiguous)}",
        f"  shown twice (alerts per channel, requests in {APPROVALS}): {doubled}",
        f"  job runs since the restart began: {jobs}",
    ]
    return "\n".join(lines)
