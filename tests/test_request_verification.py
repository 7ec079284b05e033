"""Requests that Slack did not sign are refused before anything runs: no listener,
no error handler, no call out, and the body never reaches the log. A signed
request's response_url is used only on Slack's hosts (or the configured Web API's
origin), and a redirect from it is never followed; in Socket Mode too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from multidict import CIMultiDict
from pydantic import SecretStr
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Bot, build_app
from bot.config import Settings
from bot.domain.roles import Role
from bot.response_urls import ResponseUrlPolicy
from bot.server import serve
from bot.slack_signature import SignatureCheck
from tests import forged_requests
from tests.drive import Reply, calls_to, post
from tests.fake_slack import RESPONSE_URL_CALL, FakeSlack
from tests.forged_requests import (
    BAD_SIGNATURES,
    BAD_TIMESTAMPS,
    SIGNATURE,
    TIMESTAMP,
    RawRequest,
    Target,
    foreign_response_urls,
    marker,
    raw,
    running_target,
    signed_at,
    with_header,
)
from tests.seed import ADMIN, grant
from tests.slack_requests import SignedRequest, SlackRequests, sign
from tests.support import SIGNING_SECRET, TEAM_ID
from tests.wait import settle, settle_bot

STRANGER = "U0999"  # on no MSP's staff


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    async with running_target() as running:
        yield running


@pytest.fixture
def forger(target: Target) -> SlackRequests:
    """Requests whose response_urls point at the target."""
    return SlackRequests(signing_secret=SIGNING_SECRET, team_id=TEAM_ID, hooks_base_url=target.url)


def click(requests: SlackRequests, *, user_id: str = ADMIN, name: str = "alice") -> SignedRequest:
    return forged_requests.click(requests, user_id=user_id, name=name)


async def send(client, request: SignedRequest | RawRequest) -> Reply:
    body, headers = raw(request)
    response = await client.post("/slack/events", data=body.encode(), headers=headers)
    return Reply(status=response.status, text=await response.text())


# ---------------------------------------------------------------- what the bot did


def listener_runs(bot: Bot) -> float:
    return sum(
        sample.value
        for metric in bot.metrics.listener_calls.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def answered_through_the_fake(client, bot: Bot, slack, fake_slack: FakeSlack) -> None:
    """A valid click, answered through the fake's response_url: once its answer is
    there and the listeners are done, whatever an earlier request would have made
    the bot send has been sent."""
    before = len(fake_slack.calls_to(RESPONSE_URL_CALL))
    reply = await post(client, click(slack))
    assert reply.status == 200
    await calls_to(fake_slack, RESPONSE_URL_CALL, before + 1)
    await settle(bot)
    assert len(fake_slack.calls_to(RESPONSE_URL_CALL)) == before + 1


@pytest.fixture
async def ready(client, bot, db, slack, fake_slack) -> None:
    """Staff granted and one request served, so Bolt's one-off auth.test is behind us."""
    await grant(db, ADMIN, Role.ADMIN)
    await answered_through_the_fake(client, bot, slack, fake_slack)


async def assert_refused_and_nothing_ran(
    client, bot, slack, fake_slack, target, caplog, request, secret_word: str
) -> None:
    runs, calls = listener_runs(bot), len(fake_slack.calls)
    with caplog.at_level(logging.DEBUG):
        reply = await send(client, request)
        await settle(bot)
    assert reply.status == 401
    assert len(reply.text) < 100
    assert listener_runs(bot) == runs
    await answered_through_the_fake(client, bot, slack, fake_slack)
    assert [call.method for call in fake_slack.calls[calls:]] == [RESPONSE_URL_CALL]
    assert listener_runs(bot) == runs + 1  # the valid click only
    assert target.hits == []
    assert secret_word not in caplog.text
    assert not [record for record in caplog.records if record.exc_info]
    refusals = [record for record in caplog.records if record.name == "bot.slack_signature"]
    assert len(refusals) == 1
    assert "bytes" in refusals[0].getMessage()


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize("form", list(BAD_TIMESTAMPS), ids=list(BAD_TIMESTAMPS))
async def test_a_bad_timestamp_is_refused_before_anything_runs(
    client, bot, slack, forger, fake_slack, target, caplog, ready, form
):
    word = marker()
    request = BAD_TIMESTAMPS[form](click(forger, name=f"alice\n{word}"))
    await assert_refused_and_nothing_ran(
        client, bot, slack, fake_slack, target, caplog, request, word
    )


@pytest.mark.parametrize("form", list(BAD_SIGNATURES), ids=list(BAD_SIGNATURES))
async def test_a_bad_signature_is_refused_before_anything_runs(
    client, bot, slack, forger, fake_slack, target, caplog, ready, form
):
    word = marker()
    request = BAD_SIGNATURES[form](click(forger, name=f"alice\n{word}"))
    await assert_refused_and_nothing_ran(
        client, bot, slack, fake_slack, target, caplog, request, word
    )


async def test_a_forged_request_leaves_one_short_log_line_with_length_and_hash(
    client, bot, forger, caplog, ready
):
    word = marker()
    request = with_header(click(forger, name=f"x\n{word}\n" + "y" * 450_000), TIMESTAMP, "abc")
    with caplog.at_level(logging.DEBUG):
        reply = await post(client, request)
        await settle(bot)
    assert reply.status == 401
    assert word not in caplog.text
    assert max(len(r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO) < 300
    [refusal] = [r.getMessage() for r in caplog.records if r.name == "bot.slack_signature"]
    assert "\n" not in refusal
    assert f"{len(request.body.encode())} bytes" in refusal
    assert hashlib.sha256(request.body.encode()).hexdigest()[:12] in refusal


async def test_bolt_s_own_check_never_logs_the_body_it_refuses(bot, forger, caplog):
    """Bolt checks the signature again after ours and logs what it refuses, raw
    body included. Ours runs first, so that should never happen; were it to (a
    route without our check), the line is kept and the body is not."""
    word = marker()
    request = signed_at(click(forger, name=f"alice\n{word}"), str(int(time.time())), "not-ours")
    # Bolt copies its base logger's level onto this logger when the app is built, and
    # a CLI test run earlier leaves that at WARNING: open it here, or the refusal line
    # would not be written at all.
    verification = "slack_bolt.RequestVerification"
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger=verification):
        response = await bot.bolt.async_dispatch(
            AsyncBoltRequest(body=request.body, headers=request.headers)
        )
    assert response.status == 401
    assert word not in caplog.text
    assert [r for r in caplog.records if "body not logged" in r.getMessage()]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "payload=" + quote('{"type": "block_actions", ')),
        ("application/x-www-form-urlencoded; charset=no-such-charset", "payload=%7B%7D"),
    ],
    ids=["malformed-json", "unknown-charset"],
)
async def test_a_signed_body_bolt_cannot_read_is_a_400(client, target, content_type, body):
    stamp = int(time.time())
    headers = {
        "Content-Type": content_type,
        TIMESTAMP: str(stamp),
        SIGNATURE: sign(body, secret=SIGNING_SECRET, timestamp=stamp),
    }
    response = await client.post("/slack/events", data=body.encode(), headers=headers)
    assert response.status == 400
    await settle_bot(client)
    assert target.hits == []


# ---------------------------------------------------------------- accepted


async def test_a_valid_request_passes_and_a_timestamp_five_minutes_old_is_still_valid(
    client, bot, slack, fake_slack, ready
):
    runs = listener_runs(bot)
    request = signed_at(click(slack), str(int(time.time()) - 290))
    assert (await post(client, request)).status == 200
    await calls_to(fake_slack, RESPONSE_URL_CALL, 2)
    await settle(bot)
    assert listener_runs(bot) == runs + 1


def test_the_age_rule_is_five_minutes_either_way_by_the_given_clock():
    check = SignatureCheck(SIGNING_SECRET, now=lambda: 1_800_000_000.0)
    body = b"payload=x"

    def headers(stamp: int) -> CIMultiDict[str]:
        base = f"v0:{stamp}:".encode() + body
        digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
        return CIMultiDict({TIMESTAMP: str(stamp), SIGNATURE: f"v0={digest}"})

    assert check.refusal(headers(1_800_000_000 - 300), body) is None
    assert check.refusal(headers(1_800_000_000 + 300), body) is None
    assert check.refusal(headers(1_800_000_000 - 301), body) == "stale timestamp"
    assert check.refusal(headers(1_800_000_000 + 301), body) == "stale timestamp"


# ---------------------------------------------------------------- response_url


@pytest.mark.parametrize("user_id", [ADMIN, STRANGER], ids=["staff", "not-staff"])
async def test_a_foreign_response_url_is_never_posted_to(
    client, bot, slack, fake_slack, target, ready, user_id
):
    """Staff: the listener runs and its answer goes nowhere. Not staff: the
    middleware's turn-away goes nowhere either."""
    for url in foreign_response_urls(target).values():
        runs = listener_runs(bot)
        request = forged_requests.click_with_response_url(slack, url, user_id=user_id)
        assert (await post(client, request)).status == 200
        await settle(bot)
        assert listener_runs(bot) == runs + (1 if user_id == ADMIN else 0)
    assert target.hits == []
    assert len(fake_slack.calls_to(RESPONSE_URL_CALL)) == 1  # the warm-up's


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_from_a_response_url_is_not_followed(
    client, bot, slack, fake_slack, target, ready, status
):
    fake_slack.redirect(RESPONSE_URL_CALL, to=f"{target.url}elsewhere", status=status)
    reply = await post(client, click(slack))
    assert reply.status == 200
    await calls_to(fake_slack, RESPONSE_URL_CALL, 2)
    await settle(bot)
    assert len(fake_slack.calls_to(RESPONSE_URL_CALL)) == 2
    assert target.hits == []


API = "http://127.0.0.1:8080/api/"


@pytest.mark.parametrize(
    ("api_url", "url"),
    [
        ("https://slack.com/api/", "https://hooks.slack.com/actions/T1/1/abc"),
        ("https://slack.com/api/", "https://HOOKS.Slack.com/actions/T1/1/abc"),
        ("https://slack.com/api/", "https://hooks.slack.com:443/commands/T1/1/abc"),
        ("https://slack-gov.com/api/", "https://hooks.slack-gov.com/actions/T1/1/abc"),
        ("https://slack.com/api/", "https://hooks.slack-gov.com/actions/T1/1/abc"),
        (API, "http://127.0.0.1:8080/hooks/actions/T1/1/abc"),
    ],
)
def test_slack_hooks_and_the_api_origin_are_allowed(api_url, url):
    assert ResponseUrlPolicy.for_api_url(api_url).allows(url)


@pytest.mark.parametrize(
    ("api_url", "url"),
    [
        ("https://slack.com/api/", "http://hooks.slack.com/actions/T1/1/abc"),
        ("https://slack.com/api/", "https://hooks.slack.com:8443/actions/T1/1/abc"),
        ("https://slack.com/api/", "https://hooks.slack.com.evil.example/x"),
        ("https://slack.com/api/", "https://hooks.slack.com./x"),
        ("https://slack.com/api/", "https://evil.example/?hooks.slack.com"),
        ("https://slack.com/api/", "https://hooks.slack.com@evil.example/x"),
        ("https://slack.com/api/", "https://evil.example#@hooks.slack.com/x"),
        ("https://slack.com/api/", "https://user:pw@hooks.slack.com/x"),
        ("https://slack.com/api/", "https://evil.example\\@hooks.slack.com/x"),
        ("https://slack.com/api/", "https://127.0.0.1/x"),
        ("https://slack.com/api/", "https://[::1]/x"),
        ("https://slack.com/api/", "https://169.254.169.254/latest/meta-data"),
        ("https://slack.com/api/", "file:///etc/passwd"),
        ("https://slack.com/api/", "hooks.slack.com/actions/T1/1/abc"),
        ("https://slack.com/api/", "//hooks.slack.com/actions"),
        ("https://slack.com/api/", "https://hooks.slack.com:99999/x"),
        ("https://slack.com/api/", ""),
        ("https://slack.com/api/", None),
        ("https://slack.com/api/", 42),
        ("https://slack.com/api/", ["https://hooks.slack.com/x"]),
        (API, "http://127.0.0.1:8081/hooks/x"),
        (API, "https://127.0.0.1:8080/hooks/x"),
        (API, "http://localhost:8080/hooks/x"),
        (API, "http://hooks.slack.com/x"),
    ],
)
def test_anything_else_is_refused(api_url, url):
    assert not ResponseUrlPolicy.for_api_url(api_url).allows(url)


# ---------------------------------------------------------------- Socket Mode


@pytest.fixture
async def socket_bot(settings: Settings, db, clock) -> AsyncIterator[Bot]:
    configured = settings.model_copy(
        update={"host": "127.0.0.1", "port": 0, "slack_app_token": SecretStr("xapp-test")}
    )
    bot = build_app(configured, clock=clock, db=db)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(bot, stop=stop))
    yield bot
    stop.set()
    await asyncio.wait_for(task, 20)


async def test_socket_mode_uses_slack_s_response_url_and_never_a_foreign_one(
    socket_bot, db, fake_slack, slack, forger, target
):
    await grant(db, ADMIN, Role.ADMIN)
    runs = listener_runs(socket_bot)
    await fake_slack.send_socket_mode_envelope("interactive", click(forger).payload, timeout=10)
    await settle(socket_bot)
    assert listener_runs(socket_bot) == runs + 1
    await fake_slack.send_socket_mode_envelope("interactive", click(slack).payload, timeout=10)
    await calls_to(fake_slack, RESPONSE_URL_CALL)
    await settle(socket_bot)
    assert listener_runs(socket_bot) == runs + 2
    assert len(fake_slack.calls_to(RESPONSE_URL_CALL)) == 1
    assert target.hits == []
