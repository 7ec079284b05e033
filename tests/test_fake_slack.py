"""FakeSlack driven by the real slack_sdk clients, plus the real-Slack guard.

Rate-limit note (slack_sdk 3.47): `AsyncWebClient`'s default `retry_handlers` is
`async_default_handlers()` == `[AsyncConnectionErrorRetryHandler()]`, which retries once on
connection errors only; a 429 or 5xx is *not* retried by default and surfaces as SlackApiError.
The client fixture still passes `retry_handlers=[]` so these tests see exactly one attempt
per call even if a future slack_sdk adds a rate-limit handler to the defaults.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fake_slack import JSON_CONTENT_TYPE, FakeSlack, running_fake_slack
from tests.slack_guard import SlackGuard, forbid_real_slack  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("forbid_real_slack")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

MODAL = {
    "type": "modal",
    "callback_id": "ticket_modal",
    "title": {"type": "plain_text", "text": "Ticket"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    "private_metadata": "ticket=42",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=[])


async def _raw_post(url: str, **kwargs: object) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.post(url, **kwargs) as resp:  # type: ignore[arg-type]
        return resp.status, dict(resp.headers), await resp.text()


# ---------------------------------------------------------------- basics and auth


async def test_base_url_has_trailing_slash_and_real_port(fake: FakeSlack) -> None:
    assert fake.port > 0
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/api/"


async def test_auth_test(fake: FakeSlack, client: AsyncWebClient) -> None:
    response = await client.auth_test()

    assert response.data == {
        "ok": True,
        "url": "https://acme-msp.slack.com/",
        "team": "Acme MSP",
        "user": "msp-bot",
        "team_id": "T0001",
        "user_id": "UBOT",
        "bot_id": "B0001",
        "is_enterprise_install": False,
    }
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    [call] = fake.calls_to("auth.test")
    assert call.headers["Authorization"] == "Bearer xoxb-test"


async def test_missing_token_is_not_authed(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await AsyncWebClient(base_url=fake.base_url).auth_test()
    assert excinfo.value.response["error"] == "not_authed"


async def test_wrong_token_is_invalid_auth_and_still_recorded(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await AsyncWebClient(token="xoxb-other", base_url=fake.base_url).chat_postMessage(
            channel="C1", text="x"
        )
    assert excinfo.value.response["error"] == "invalid_auth"
    assert [c.args["text"] for c in fake.calls_to("chat.postMessage")] == ["x"]


async def test_app_token_only_opens_connections(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await client.apps_connections_open(app_token="xoxb-test")
    assert excinfo.value.response["error"] == "not_allowed_token_type"

    response = await client.apps_connections_open(app_token="xapp-test")
    assert response["url"] == f"ws://127.0.0.1:{fake.port}/socket"


async def test_unknown_method(fake: FakeSlack, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await client.api_call("reactions.add", json={"name": "tada"})
    assert excinfo.value.response["error"] == "unknown_method"
    assert fake.calls_to("reactions.add")[0].args == {"name": "tada"}


async def test_get_and_form_arguments_are_merged_and_json_fields_decoded(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    await client.api_call("users.info", http_verb="GET", params={"user": "U42"})
    blocks = [{"type": "divider"}]
    await client.api_call(
        "chat.postMessage",
        params={"channel": "C1"},
        data={"text": "[1]", "blocks": json.dumps(blocks)},
    )

    assert fake.calls_to("users.info")[0].args == {"user": "U42"}
    posted = fake.calls_to("chat.postMessage")[0].args
    # blocks is decoded; text that merely looks like JSON is left alone
    assert posted == {"channel": "C1", "text": "[1]", "blocks": blocks}


# ---------------------------------------------------------------- chat


async def test_post_message_then_update_by_ts(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = await client.chat_postMessage(channel="C0001", text="hi", blocks=blocks)
    second = await client.chat_postMessage(channel="C0001", text="again")

    assert first["channel"] == "C0001"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == blocks
    assert first["message"]["user"] == "UBOT"
    assert first["message"]["type"] == "message"

    updated = await client.chat_update(channel="C0001", ts=first["ts"], text="edited")
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C0001", first["ts"], "edited")
    assert fake.messages[("C0001", first["ts"])]["text"] == "edited"


async def test_update_unknown_ts_is_message_not_found(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await client.chat_update(channel="C0001", ts="1600000000.000001", text="x")
    assert excinfo.value.response["error"] == "message_not_found"


async def test_dm_to_user_id_lands_in_im_channel(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="U0001", text="psst")
    assert posted["channel"] == "D0001"
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edited")


@pytest.mark.parametrize(
    ("channel_setup", "kwargs", "error"),
    [
        (None, {"channel": "", "text": "x"}, "channel_not_found"),
        (None, {"channel": "not-an-id", "text": "x"}, "channel_not_found"),
        (None, {"channel": "C0001"}, "no_text"),
        ({"is_archived": True}, {"channel": "C0009", "text": "x"}, "is_archived"),
        ({"is_member": False}, {"channel": "C0009", "text": "x"}, "not_in_channel"),
    ],
)
async def test_post_message_permanent_errors(
    fake: FakeSlack,
    client: AsyncWebClient,
    channel_setup: dict[str, bool] | None,
    kwargs: dict[str, str],
    error: str,
) -> None:
    if channel_setup is not None:
        fake.add_channel("C0009", name="ops", **channel_setup)
    with pytest.raises(SlackApiError) as excinfo:
        # api_call: chat_postMessage() would warn about the missing text before sending
        await client.api_call("chat.postMessage", json=kwargs)
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response["error"] == error


async def test_post_ephemeral(client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel="C0001", user="U0001", text="only you")
    assert response["ok"] is True
    assert response["message_ts"]

    with pytest.raises(SlackApiError) as excinfo:
        await client.api_call("chat.postEphemeral", json={"channel": "C0001", "text": "x"})
    assert excinfo.value.response["error"] == "invalid_arguments"


# ---------------------------------------------------------------- injected failures


async def test_rate_limited_with_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as excinfo:
        await client.chat_postMessage(channel="C0001", text="x")

    response = excinfo.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"] == JSON_CONTENT_TYPE
    assert response["error"] == "ratelimited"
    # only the queued call failed
    assert (await client.chat_postMessage(channel="C0001", text="x"))["ok"] is True


def test_default_async_retry_handlers_do_not_retry_rate_limits() -> None:
    """Pins the slack_sdk behaviour described in the module docstring."""
    handlers = async_default_handlers()
    assert [type(h) for h in handlers] == [AsyncConnectionErrorRetryHandler]


async def test_server_error_then_recovers(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("chat.postMessage", status=500)

    with pytest.raises(SlackApiError) as excinfo:
        await client.chat_postMessage(channel="C0001", text="x")
    assert excinfo.value.response.status_code == 500

    assert (await client.chat_postMessage(channel="C0001", text="x"))["ok"] is True
    assert len(fake.calls_to("chat.postMessage")) == 2


async def test_fail_times_and_wildcard(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("*", times=2, status=503)
    fake.fail("auth.test", error="account_inactive")

    statuses = []
    for _ in range(4):
        try:
            await client.auth_test()
            statuses.append("ok")
        except SlackApiError as exc:
            data = exc.response.data  # a 5xx answers plain text, not JSON
            error = data["error"] if isinstance(data, dict) else data
            statuses.append(f"{exc.response.status_code}:{error}")
    # the method-specific failure is used first, then the two wildcard ones
    assert statuses == [
        "200:account_inactive",
        "503:503 Server Error",
        "503:503 Server Error",
        "ok",
    ]


async def test_injected_error_with_200_is_permanent_error(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as excinfo:
        await client.chat_postMessage(channel="C0001", text="x")
    assert excinfo.value.response.status_code == 200
    assert excinfo.value.response.data == {"ok": False, "error": "channel_not_found"}


async def test_delay_slows_the_answer(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("auth.test", delay=0.2)

    started = time.monotonic()
    response = await client.auth_test()
    elapsed = time.monotonic() - started

    assert response["ok"] is True
    assert elapsed >= 0.2


async def test_delay_longer_than_client_timeout(fake: FakeSlack) -> None:
    fake.fail("auth.test", delay=30)
    slow_client = AsyncWebClient(
        token="xoxb-test", base_url=fake.base_url, timeout=0.2, retry_handlers=[]
    )
    with pytest.raises(asyncio.TimeoutError):
        await slow_client.auth_test()
    # stop() must not wait the 30 s out (the fixture stops the fake right after this test)


def test_fail_rejects_noop() -> None:
    with pytest.raises(ValueError, match="needs"):
        FakeSlack().fail("auth.test")


async def test_reset_forgets_calls_and_failures(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("auth.test", status=500)
    with pytest.raises(SlackApiError):
        await client.api_call("nope.nope")
    fake.reset()

    assert fake.calls == []
    assert (await client.auth_test())["ok"] is True


# ---------------------------------------------------------------- views


async def test_views_open_update_and_hash_conflict(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = (await client.views_open(trigger_id="123.456.abc", view=MODAL))["view"]
    assert opened["id"].startswith("V")
    assert (opened["callback_id"], opened["private_metadata"]) == ("ticket_modal", "ticket=42")
    assert opened["blocks"] == MODAL["blocks"]

    changed = {**MODAL, "private_metadata": "ticket=43"}
    updated = (await client.views_update(view_id=opened["id"], view=changed, hash=opened["hash"]))[
        "view"
    ]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert fake.views[opened["id"]]["private_metadata"] == "ticket=43"

    with pytest.raises(SlackApiError) as excinfo:  # the old hash is stale now
        await client.views_update(view_id=opened["id"], view=MODAL, hash=opened["hash"])
    assert excinfo.value.response["error"] == "hash_conflict"


async def test_views_errors(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await client.views_update(view_id="V404", view=MODAL)
    assert excinfo.value.response["error"] == "not_found"

    with pytest.raises(SlackApiError) as excinfo:
        await client.api_call("views.open", json={"view": MODAL})
    assert excinfo.value.response["error"] == "invalid_arguments"


async def test_views_push_and_update_by_external_id(client: AsyncWebClient) -> None:
    pushed = await client.views_push(trigger_id="1.2.3", view={**MODAL, "external_id": "ext-1"})
    updated = await client.views_update(external_id="ext-1", view=MODAL)
    assert updated["view"]["id"] == pushed["view"]["id"]


async def test_views_publish(client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "divider"}]}
    first = (await client.views_publish(user_id="U0001", view=home))["view"]
    again = (await client.views_publish(user_id="U0001", view=home, hash=first["hash"]))["view"]
    assert first["type"] == "home"
    assert again["id"] == first["id"]

    with pytest.raises(SlackApiError) as excinfo:
        await client.views_publish(user_id="U0001", view=home, hash=first["hash"])
    assert excinfo.value.response["error"] == "hash_conflict"


# ---------------------------------------------------------------- users and conversations


async def test_users_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_user("W0ADMIN", name="bob", tz="Europe/Paris", is_admin=True)

    bob = (await client.users_info(user="W0ADMIN"))["user"]
    assert (bob["name"], bob["tz"], bob["is_admin"], bob["deleted"]) == (
        "bob",
        "Europe/Paris",
        True,
        False,
    )
    assert bob["tz_offset"] in (3600, 7200)
    assert bob["profile"]["email"] == "bob@example.com"

    generated = (await client.users_info(user="U0042"))["user"]
    assert (generated["id"], generated["team_id"], generated["tz"]) == ("U0042", "T0001", "UTC")

    with pytest.raises(SlackApiError) as excinfo:
        await client.users_info(user="W0NOBODY")
    assert excinfo.value.response["error"] == "user_not_found"


async def test_conversations_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("G0001", name="secret", is_private=True, is_member=False)

    secret = (await client.conversations_info(channel="G0001"))["channel"]
    assert (secret["name"], secret["is_private"], secret["is_member"]) == ("secret", True, False)
    auto = (await client.conversations_info(channel="C0777"))["channel"]
    assert (auto["id"], auto["is_private"], auto["is_member"]) == ("C0777", False, True)

    with pytest.raises(SlackApiError) as excinfo:
        await client.conversations_info(channel="G404")
    assert excinfo.value.response["error"] == "channel_not_found"


async def test_conversations_join(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel("C0100", name="ops", is_member=False)
    fake.add_channel("C0101", name="old", is_archived=True, is_member=False)
    fake.add_channel("G0102", name="secret", is_private=True, is_member=False)

    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0100", text="x")
    joined = await client.conversations_join(channel="C0100")
    assert joined["channel"]["is_member"] is True
    assert (await client.chat_postMessage(channel="C0100", text="x"))["ok"] is True
    again = await client.conversations_join(channel="C0100")
    assert again["warning"] == "already_in_channel"

    for channel, error in [
        ("C0101", "is_archived"),
        ("G0102", "method_not_supported_for_channel_type"),
    ]:
        with pytest.raises(SlackApiError) as excinfo:
            await client.conversations_join(channel=channel)
        assert excinfo.value.response["error"] == error


# ---------------------------------------------------------------- files


async def test_files_upload_v2_end_to_end(fake: FakeSlack, client: AsyncWebClient) -> None:
    content = b"id,name\n1,acme\n"
    response = await client.files_upload_v2(
        channel="C0001",
        content=content,
        filename="report.csv",
        title="Weekly report",
        initial_comment="here you go",
    )

    file = response["file"]
    assert fake.uploaded_files == {file["id"]: content}
    assert (file["title"], file["name"], file["size"]) == ("Weekly report", "report.csv", 15)
    assert file["channels"] == ["C0001"]
    assert [c.method for c in fake.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    complete = fake.calls_to("files.completeUploadExternal")[0].args
    assert complete["files"] == [{"id": file["id"], "title": "Weekly report"}]
    assert complete["initial_comment"] == "here you go"


async def test_upload_failure_is_reported_by_files_upload_v2(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail("upload", status=502)
    with pytest.raises(Exception, match="Failed to upload a file"):
        await client.files_upload_v2(channel="C0001", content=b"x", filename="x.txt")
    assert fake.uploaded_files == {}


async def test_complete_unknown_file_is_file_not_found(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        await client.files_completeUploadExternal(files=[{"id": "F404", "title": "x"}])
    assert excinfo.value.response["error"] == "file_not_found"


async def test_upload_url_accepts_multipart(fake: FakeSlack, client: AsyncWebClient) -> None:
    issued = await client.files_getUploadURLExternal(filename="a.bin", length=3)
    form = aiohttp.FormData()
    form.add_field("file", b"abc", filename="a.bin")

    status, _, text = await _raw_post(issued["upload_url"], data=form)

    assert (status, text) == (200, "OK - 3")
    assert fake.uploaded_files[issued["file_id"]] == b"abc"


async def test_legacy_files_upload(fake: FakeSlack, client: AsyncWebClient) -> None:
    # api_call directly: client.files_upload() warns to use v2; BytesIO, as aiohttp warns that
    # raw bytes will stop making a file field in v4
    response = await client.api_call(
        "files.upload",
        files={"file": io.BytesIO(b"hello")},
        data={"filename": "h.txt", "channels": "C0001"},
    )
    assert response["file"]["name"] == "h.txt"
    assert fake.uploaded_files[response["file"]["id"]] == b"hello"


# ---------------------------------------------------------------- response_url


async def test_response_url_lands_on_the_fake(fake: FakeSlack) -> None:
    webhook = AsyncWebhookClient(url=f"{fake.hooks_base_url}actions/T0001/1/abc")
    response = await webhook.send(text="done", replace_original=True)

    assert response.status_code == 200
    [call] = fake.calls_to("response_url")
    assert call.args == {"text": "done", "replace_original": True}
    assert call.path == "/hooks/actions/T0001/1/abc"


# ---------------------------------------------------------------- Socket Mode


async def test_socket_mode_round_trip(fake: FakeSlack) -> None:
    received: list[SocketModeRequest] = []

    async def listener(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "pong"})
        )

    socket_client = SocketModeClient(
        app_token="xapp-test",
        web_client=AsyncWebClient(token="xoxb-test", base_url=fake.base_url),
    )
    socket_client.socket_mode_request_listeners.append(listener)
    try:
        await socket_client.connect()
        ack = await fake.send_socket_mode_envelope(
            "slash_commands", {"command": "/msp", "text": "ping"}
        )
    finally:
        await socket_client.close()

    [request] = received
    assert (request.type, request.payload["text"]) == ("slash_commands", "ping")
    assert ack == {"envelope_id": request.envelope_id, "payload": {"text": "pong"}}
    assert fake.socket_messages[-1] == ack
    assert len(fake.calls_to("apps.connections.open")) == 1


async def test_socket_hello_and_envelope_shape(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.socket_url) as ws:
        hello = await ws.receive_json()
        sending = asyncio.create_task(fake.send_socket_mode_envelope("events_api", {"a": 1}))
        envelope = await ws.receive_json()
        await ws.send_json({"envelope_id": envelope["envelope_id"]})
        ack = await sending

    assert hello["type"] == "hello"
    assert hello["connection_info"] == {"app_id": "A0001"}
    assert envelope == {
        "envelope_id": envelope["envelope_id"],
        "type": "events_api",
        "payload": {"a": 1},
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
    }
    assert ack == {"envelope_id": envelope["envelope_id"]}


async def test_socket_envelope_times_out_without_connection(fake: FakeSlack) -> None:
    with pytest.raises(TimeoutError):
        await fake.send_socket_mode_envelope("interactive", {}, timeout=0.05)


async def test_socket_envelope_times_out_without_ack(fake: FakeSlack) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.socket_url) as ws:
        await ws.receive_json()  # hello
        with pytest.raises(TimeoutError):
            await fake.send_socket_mode_envelope("interactive", {}, timeout=0.05)


async def test_stop_closes_websockets_and_fails_pending_envelopes() -> None:
    async with aiohttp.ClientSession() as session:
        fake = FakeSlack()
        await fake.start()
        ws = await session.ws_connect(fake.socket_url)
        await ws.receive_json()  # hello
        sending = asyncio.create_task(fake.send_socket_mode_envelope("interactive", {}))
        await ws.receive_json()  # the envelope, never acked

        stopping = asyncio.create_task(fake.stop())
        closing = await ws.receive()  # the server's close frame; answering it lets stop() finish
        await stopping

        assert closing.type == aiohttp.WSMsgType.CLOSE
        with pytest.raises(ConnectionError, match="stopped"):
            await sending
        await ws.close()


# ---------------------------------------------------------------- the real-Slack guard


async def test_guard_blocks_default_async_web_client(request: pytest.FixtureRequest) -> None:
    guard: SlackGuard = request.getfixturevalue("forbid_real_slack")

    with pytest.raises(AssertionError, match=r"real Slack: https://slack\.com/api/auth\.test"):
        await AsyncWebClient(token="xoxb-test", retry_handlers=[]).auth_test()

    assert guard.violations == ["https://slack.com/api/auth.test"]
    guard.violations.clear()  # expected: don't fail this test at teardown


async def test_guard_blocks_response_url_and_socket_hosts(
    request: pytest.FixtureRequest,
) -> None:
    guard: SlackGuard = request.getfixturevalue("forbid_real_slack")

    with pytest.raises(AssertionError):
        await AsyncWebhookClient(url="https://hooks.slack.com/actions/T/1/x").send(text="x")
    with pytest.raises(AssertionError):
        async with aiohttp.ClientSession() as session:
            await session.ws_connect("wss://wss-primary.slack.com/link/?ticket=1")

    assert len(guard.violations) == 2
    guard.violations.clear()


def test_guard_blocks_sync_clients(request: pytest.FixtureRequest) -> None:
    guard: SlackGuard = request.getfixturevalue("forbid_real_slack")

    with pytest.raises(AssertionError, match="real Slack"):
        WebClient(token="xoxb-test").auth_test()
    with pytest.raises(AssertionError, match="real Slack"):
        urllib.request.urlopen("https://api.slack.com/robots")

    assert len(guard.violations) == 2
    guard.violations.clear()


def test_guard_fails_a_test_that_swallows_the_error(tmp_path: Path) -> None:
    """Code under test may catch the AssertionError; the fixture still fails the test."""
    (tmp_path / "test_swallow.py").write_text(
        "import urllib.request\n"
        "import pytest\n"
        "from tests.slack_guard import forbid_real_slack  # noqa: F401\n"
        "pytestmark = pytest.mark.usefixtures('forbid_real_slack')\n"
        "def test_swallows():\n"
        "    try:\n"
        "        urllib.request.urlopen('https://slack.com/api/api.test')\n"
        "    except Exception:\n"
        "        pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_swallow.py"],
        cwd=tmp_path,
        # no plugin autoload: the inner run needs none, and it halves the start-up time
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 error" in result.stdout
    assert "test tried to call the real Slack" in result.stdout


async def test_guard_lets_the_fake_and_lookalike_hosts_through(client: AsyncWebClient) -> None:
    from tests.slack_guard import is_slack_host

    assert (await client.auth_test())["ok"] is True
    assert is_slack_host("SLACK.COM.")
    assert not is_slack_host("notslack.com")
    assert not is_slack_host("slack.com.evil.example")
