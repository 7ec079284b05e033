"""The bot as the operator runs it: `msp-bot run` in a process of its own, Socket
Mode, and a graceful stop that lets in-flight work finish."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import build_app
from bot.config import Settings
from bot.domain.roles import Role
from bot.server import serve
from storage.models import OutboxItem
from tests.fake_slack import FakeSlack
from tests.seed import grant
from tests.slack_requests import SignedRequest, SlackRequests
from tests.support import SIGNING_SECRET, TEAM_ID

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _process_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MSPBOT_", "DATABASE_URL"))
    }
    env.update(extra)
    return env


async def _wait_until_up(session: aiohttp.ClientSession, url: str, process) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"the bot exited early with {process.returncode}")
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not come up")


async def test_msp_bot_run_serves_slack_and_stops_on_sigterm(tmp_path, fake_slack: FakeSlack):
    port = free_port()
    env = _process_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.base_url,
        HOST="127.0.0.1",
        PORT=str(port),
        MSPBOT_OWNERS="U0001",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await _wait_until_up(session, f"{base}/healthz", process)
            async with session.get(f"{base}/readyz") as ready:
                assert ready.status == 200
            request = SlackRequests(signing_secret=SIGNING_SECRET, team_id=TEAM_ID).slash_command(
                "help", user_id="U0001"
            )
            status, body = await _post_signed(session, base, request)
            assert status == 200
            assert body["response_type"] == "ephemeral"
            assert any(block["type"] == "header" for block in body["blocks"])
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = output.decode()
    assert process.returncode == 0, log
    assert "stopped cleanly" in log
    assert "xoxb-test" not in log and SIGNING_SECRET not in log
    assert (tmp_path / "msp-bot.db").exists()


async def test_msp_bot_run_without_tokens_exits_2_without_a_traceback(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=_process_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    text = output.decode()
    assert process.returncode == 2
    assert "Missing environment variables: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in text
    assert "README" in text
    assert "Traceback" not in text
    assert not (tmp_path / "msp-bot.db").exists()


@pytest.fixture
def running(settings: Settings, db, clock):
    """Start serve() in this loop; yields (bot, stop event, task)."""

    async def start(**overrides):
        configured = settings.model_copy(
            update={"host": "127.0.0.1", "port": free_port(), **overrides}
        )
        bot = build_app(configured, clock=clock, db=db)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(bot, stop=stop))
        return bot, stop, task

    return start


async def test_socket_mode_answers_a_slash_command(running, db, fake_slack: FakeSlack):
    await grant(db, "U0001", Role.OWNER)
    from pydantic import SecretStr

    bot, stop, task = await running(slack_app_token=SecretStr("xapp-test"))
    try:
        payload = (
            SlackRequests(signing_secret=SIGNING_SECRET)
            .slash_command("whoami", user_id="U0001")
            .payload
        )
        ack = await fake_slack.send_socket_mode_envelope("slash_commands", payload, timeout=10)
        assert ack["payload"]["text"] == "You are an Owner of this MSP"
        assert "You are <@U0001>" in ack["payload"]["blocks"][0]["text"]["text"]
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{bot.settings.port}"
            async with session.get(f"{url}/healthz") as health:
                assert health.status == 200
            async with session.post(f"{url}/slack/events", data=b"{}") as events:
                assert events.status in (404, 405)  # no HTTP route for Slack in Socket Mode
        assert fake_slack.calls_to("apps.connections.open")
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def test_stop_waits_for_in_flight_work(running, db, slack, fake_slack: FakeSlack):
    await grant(db, "U0001", Role.OWNER)
    bot, stop, task = await running()
    fake_slack.fail("views.publish", delay=0.6)  # a slow Slack
    async with aiohttp.ClientSession() as session:
        await _wait_until_up(session, f"http://127.0.0.1:{bot.settings.port}/healthz", _Alive())
        base = f"http://127.0.0.1:{bot.settings.port}"
        status, _ = await _post_signed(session, base, slack.app_home_opened(user_id="U0001"))
        assert status == 200  # acked before the slow publish finished
    for _ in range(300):  # the delivery worker picks the publish up
        if fake_slack.calls_to("views.publish"):
            break
        await asyncio.sleep(0.01)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 20)
    assert time.monotonic() - started >= 0.4  # it waited for the slow publish to finish
    assert len(bot.in_flight) == 0
    assert len(fake_slack.calls_to("views.publish")) == 1
    async with db.unit_of_work() as session:
        statuses = (await session.scalars(select(OutboxItem.status))).all()
    assert list(statuses) == ["sent"]  # and recorded it before closing the database
    assert not bot.scheduler.running


async def _post_signed(
    session: aiohttp.ClientSession, base: str, request: SignedRequest
) -> tuple[int, Any]:
    async with session.post(
        f"{base}/slack/events", data=request.body.encode(), headers=request.headers
    ) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


class _Alive:
    returncode = None
