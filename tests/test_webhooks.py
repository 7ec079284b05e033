"""Outgoing webhooks end to end: a request decided through signed Slack requests
reaches a local receiver as one signed JSON POST, retried like Slack deliveries,
and never with a secret in the logs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import Bot, build_app
from bot.config import Settings
from bot.delivery.limits import DeliveryLimits
from bot.delivery.outbox import Kind
from bot.delivery.sender import Failed, Retry, Sent, classify_webhook
from bot.delivery.webhooks import signing_key
from bot.domain.requests import RequestStatus, RequestType
from bot.ids import BlockId
from bot.notify.request_webhooks import event_of, request_event
from bot.results.requests import RequestInfo
from storage.engine import Database
from storage.models import OutboxItem
from tests.drive import approve, ask, invoke_cli, post
from tests.rows import customers, msp_row
from tests.seed import ADMIN, APPROVER, MEMBER, OWNER, grant_staff, paid
from tests.support import TEAM_ID, FakeClock
from tests.webhook_targets import FakeDns

WEBHOOK_SECRET = "test-webhook-master-secret-0123456789"
QUICK_RETRIES = replace(
    DeliveryLimits(), retry_base_seconds=0.01, retry_cap_seconds=0.05, poll_seconds=0.01
)
REQUEST_FIELDS = {
    "id",
    "type",
    "status",
    "customer",
    "requested_by",
    "requested_at",
    "summary",
    "reason",
    "effective_on",
    "decided_by",
    "decided_at",
    "decision_note",
}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A PSA's webhook endpoint: records every POST, answers `answers` in turn, then 200."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        # By name: only hosts on MSPBOT_WEBHOOK_ALLOW_HOSTS may be at a loopback address.
        receiver.url = str(server.make_url("/hook")).replace("127.0.0.1", "localhost")
        yield receiver


@pytest.fixture
def webhook_secret() -> str | None:
    return WEBHOOK_SECRET


@pytest.fixture
def settings(settings: Settings, webhook_secret: str | None) -> Settings:
    secret = SecretStr(webhook_secret) if webhook_secret else None
    return settings.model_copy(
        update={
            "mspbot_webhook_secret": secret,
            "mspbot_webhook_allow_hosts": frozenset({"localhost"}),
        }
    )


@pytest.fixture
async def bot(settings: Settings, db: Database, clock: FakeClock) -> Bot:
    return build_app(
        settings, clock=clock, db=db, delivery_limits=QUICK_RETRIES, host_lookup=FakeDns()
    )


@pytest.fixture
async def staff(db: Database) -> None:
    await grant_staff(db)


async def _set_webhook(client, slack, text: str, user_id: str = OWNER):
    return await post(client, slack.slash_command(f"settings webhook {text}", user_id=user_id))


async def _approved_request(bot, client, slack, fake_slack, db) -> int:
    """A member asks for two more licences for a new customer; an approver approves."""
    await paid(db, assigned=[MEMBER])
    asked = await ask(
        client, slack, fake_slack, "add-licences Northwind", **{BlockId.REQUEST_LICENCES: "2"}
    )
    await approve(bot, client, slack, fake_slack, asked)  # waits for the outbox to drain
    return asked.request_id


async def _webhook_items(db: Database) -> list[OutboxItem]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(OutboxItem).where(OutboxItem.kind == Kind.WEBHOOK))
        return list(rows.all())


def _verifies(key: str, received: Received) -> bool:
    """What the receiver does (docs/DELIVERY.md), written out here on purpose."""
    timestamp = received.headers["X-MspBot-Timestamp"]
    signed = f"{timestamp}.".encode() + received.body
    expected = "v1=" + hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["X-MspBot-Signature"])


async def _key_from_cli(database_url: str, cli_env: dict[str, str], team: str = TEAM_ID) -> str:
    env = {**cli_env, "DATABASE_URL": database_url, "MSPBOT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    # The CLI runs its own event loop, so not on this one.
    result = await asyncio.to_thread(invoke_cli, ["webhooks", "secret", "--team", team], env)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


# ---------------------------------------------------------------- delivered, signed


async def test_an_approval_is_posted_once_signed_with_the_key_the_cli_prints(
    bot, client, slack, db, staff, fake_slack, receiver, database_url, cli_env, caplog
):
    caplog.set_level(logging.DEBUG)
    label = receiver.url.removeprefix("http://")
    reply = await _set_webhook(client, slack, f"<{receiver.url}|{label}>")
    assert "Settings saved" in reply.text and receiver.url in reply.text
    request_id = await _approved_request(bot, client, slack, fake_slack, db)

    [received] = receiver.received
    assert received.headers["Content-Type"] == "application/json"
    assert abs(int(received.headers["X-MspBot-Timestamp"]) - time.time()) < 60
    body = json.loads(received.body)
    assert set(body) == {"event", "team_id", "request", "sent_at"}
    assert (body["event"], body["team_id"]) == ("request.approved", TEAM_ID)
    request = body["request"]
    assert set(request) == REQUEST_FIELDS
    [northwind] = await customers(db)
    assert request["customer"] == {"name": "Northwind", "account_number": northwind.account_number}
    assert request["id"] == request_id
    assert (request["type"], request["status"]) == ("add_licences", "applied")
    assert (request["requested_by"], request["decided_by"]) == (MEMBER, APPROVER)
    assert request["summary"] == "+2 licences"
    assert request["requested_at"] == request["decided_at"] == "2026-11-22T09:00:00Z"
    assert request["effective_on"] is None and request["decision_note"] is None
    assert datetime.fromisoformat(body["sent_at"]).tzinfo is not None
    assert body["sent_at"].endswith("Z")
    [item] = await _webhook_items(db)
    assert (item.status, item.lane) == ("sent", f"webhook:{item.msp_id}")

    logged = caplog.text
    assert "outbox" in logged  # the delivery ran with DEBUG logging on
    key = await _key_from_cli(database_url, cli_env)
    assert _verifies(key, received)
    assert not _verifies("0" * 64, received)
    assert WEBHOOK_SECRET not in logged and key not in logged


async def test_500s_are_retried_and_it_arrives_once(
    bot, client, slack, db, staff, fake_slack, receiver, database_url, cli_env
):
    await _set_webhook(client, slack, f"<{receiver.url}>")
    receiver.answers = [500, 500]
    await _approved_request(bot, client, slack, fake_slack, db)
    assert len(receiver.received) == 3, "two 500s, then accepted: no fourth"
    [item] = await _webhook_items(db)
    assert (item.status, item.attempts) == ("sent", 3)
    # The same event each time, signed each time: the receiver can drop repeats by id.
    assert len({r.headers["X-MspBot-Delivery"] for r in receiver.received}) == 1
    assert len({json.loads(r.body)["request"]["decided_at"] for r in receiver.received}) == 1
    key = await _key_from_cli(database_url, cli_env)
    assert all(_verifies(key, r) for r in receiver.received)


async def test_a_400_fails_for_good_and_delivery_status_shows_it(
    bot, client, slack, db, staff, fake_slack, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    await _set_webhook(client, slack, receiver.url)
    receiver.answers = [400]
    await _approved_request(bot, client, slack, fake_slack, db)
    assert len(receiver.received) == 1, "no retry after a 400"
    [item] = await _webhook_items(db)
    assert (item.status, item.last_error) == ("failed", "http_400")
    shown = await post(client, slack.slash_command("delivery", user_id=ADMIN))
    assert "The webhook" in shown.text and "http_400" in shown.text
    assert "failed for good: http_400" in caplog.text
    key = signing_key(WEBHOOK_SECRET, TEAM_ID)
    assert WEBHOOK_SECRET not in caplog.text and key not in caplog.text


async def test_without_a_webhook_url_nothing_is_sent(
    bot, client, slack, db, staff, fake_slack, receiver
):
    await _approved_request(bot, client, slack, fake_slack, db)
    assert receiver.received == [] and await _webhook_items(db) == []


async def test_webhook_off_stops_it(bot, client, slack, db, staff, fake_slack, receiver):
    await _set_webhook(client, slack, receiver.url)
    reply = await _set_webhook(client, slack, "off", user_id=ADMIN)
    assert "*Webhook for decisions* none" in reply.text
    assert (await msp_row(db)).webhook_url is None
    await _approved_request(bot, client, slack, fake_slack, db)
    assert receiver.received == []


# ---------------------------------------------------------------- setting it


@pytest.mark.parametrize(
    "text",
    [
        "http://psa.example.com/hook",  # plain http only to this machine
        "ftp://psa.example.com/hook",
        "https://",
        "<https:///no-host>",
        "https://psa.example.com:port/hook",
        "psa.example.com/hook",
    ],
)
async def test_a_webhook_url_must_be_https_with_a_host(client, slack, db, staff, text):
    reply = await _set_webhook(client, slack, text)
    assert "needs an https:// URL with a host" in reply.text
    assert (await msp_row(db)).webhook_url is None


async def test_a_webhook_url_has_at_most_500_characters(client, slack, db, staff):
    url = "https://psa.example.com/" + "h" * 477
    reply = await _set_webhook(client, slack, f"<{url}>")
    assert "at most 500" in reply.text
    assert (await _set_webhook(client, slack, f"<{url[:-1]}>")).status == 200
    assert (await msp_row(db)).webhook_url == url[:-1]


async def test_slack_escaping_is_undone_in_the_url(client, slack, db, staff):
    await _set_webhook(client, slack, "<https://psa.example.com/h?a=1&amp;b=2|psa>")
    assert (await msp_row(db)).webhook_url == "https://psa.example.com/h?a=1&b=2"
    shown = await post(client, slack.slash_command("settings", user_id=ADMIN))
    assert "https://psa.example.com/h?a=1&amp;b=2" in shown.text  # escaped again for mrkdwn


async def test_members_cannot_set_a_webhook(client, slack, db, staff):
    reply = await _set_webhook(client, slack, "https://psa.example.com/hook", user_id=MEMBER)
    assert "cannot use /msp settings" in reply.text
    assert (await msp_row(db)).webhook_url is None


@pytest.mark.parametrize("webhook_secret", [None])
async def test_without_the_master_secret_a_webhook_is_refused(client, slack, db, staff):
    reply = await _set_webhook(client, slack, "https://psa.example.com/hook")
    assert "MSPBOT_WEBHOOK_SECRET" in reply.text
    assert (await msp_row(db)).webhook_url is None


def test_the_cli_needs_the_master_secret_and_a_known_team(cli_env):
    missing = invoke_cli(["webhooks", "secret", "--team", "T1"], cli_env)
    assert missing.exit_code == 2 and "MSPBOT_WEBHOOK_SECRET is not set" in missing.output
    env = {**cli_env, "MSPBOT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    unknown = invoke_cli(["webhooks", "secret", "--team", "T9"], env)
    assert unknown.exit_code == 1 and "T9 has no MSP" in unknown.output
    assert WEBHOOK_SECRET not in missing.output + unknown.output


# ---------------------------------------------------------------- events and answers


def _info(status: RequestStatus, **changes) -> RequestInfo:
    moment = datetime.fromisoformat("2026-11-22T10:30:00+01:00")
    info = RequestInfo(
        id=7,
        kind=RequestType.DOWNGRADE,
        status=status,
        customer_id=3,
        customer_name="Contoso",
        account_number="ACC-0003",
        requested_by=MEMBER,
        requested_at=moment,
        reason="cheaper",
        summary="Essentials",
        explanation="",
        effective_on=None,
        expires_at=moment,
        decided_by=APPROVER,
        decided_at=moment,
        decision_note=None,
        applied_at=None,
        needs_typed_name=False,
    )
    return replace(info, **changes)


@pytest.mark.parametrize(
    ("status", "effective_on", "event"),
    [
        (RequestStatus.APPLIED, None, "request.approved"),
        (RequestStatus.SCHEDULED, date(2027, 3, 1), "request.scheduled"),
        (RequestStatus.APPLIED, date(2027, 3, 1), "request.applied"),
        (RequestStatus.DENIED, None, "request.denied"),
        (RequestStatus.WITHDRAWN, None, "request.withdrawn"),
        (RequestStatus.EXPIRED, None, "request.expired"),
        (RequestStatus.REVERSED, date(2027, 3, 1), "request.reversed"),
    ],
)
def test_each_decision_has_its_event(status, effective_on, event):
    assert event_of(_info(status, effective_on=effective_on)) == event


def test_times_are_utc_and_the_msps_own_orders_have_no_customer():
    body = request_event(
        _info(
            RequestStatus.SCHEDULED,
            kind=RequestType.MAU_ALLOWANCE_ORDER,
            customer_id=None,
            customer_name="",
            account_number=None,
            effective_on=date(2027, 3, 1),
        ),
        team_id=TEAM_ID,
    )
    request = body["request"]
    assert request["customer"] is None
    assert request["decided_at"] == "2026-11-22T09:30:00Z"
    assert request["effective_on"] == "2027-03-01"
    assert request["type"] == "mau_allowance_order"


@pytest.mark.parametrize(
    ("status", "headers", "outcome"),
    [
        (200, {}, Sent(ts=None, channel=None)),
        (204, {}, Sent(ts=None, channel=None)),
        (429, {"Retry-After": "7"}, Retry(reason="http_429", after_seconds=7.0)),
        (429, {}, Retry(reason="http_429")),
        (429, {"Retry-After": "86400"}, Retry(reason="http_429", after_seconds=300.0)),
        (503, {}, Retry(reason="http_503")),
        (400, {}, Failed("http_400")),
        (404, {}, Failed("http_404")),
        (301, {"Location": "http://elsewhere"}, Failed("http_301")),
    ],
)
def test_what_a_receivers_answer_means(status, headers, outcome):
    assert classify_webhook(status, headers) == outcome
