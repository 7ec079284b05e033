"""SlackRequests: signatures verify with slack_sdk, bodies parse the way Bolt parses them."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import (
    is_app_home_opened_event,
    is_block_actions,
    is_block_suggestion,
    is_global_shortcut,
    is_slash_command,
    is_view_closed,
    is_view_submission,
    to_action,
    to_options,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fake_slack import FakeSlack, running_fake_slack
from tests.slack_guard import forbid_real_slack  # noqa: F401  (fixture)
from tests.slack_requests import SignedRequest, SlackRequests, sign

pytestmark = pytest.mark.usefixtures("forbid_real_slack")

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_500


@pytest.fixture
def slack() -> SlackRequests:
    return SlackRequests(signing_secret=SECRET, clock=lambda: NOW)


def _verifies(request: SignedRequest, *, now: float = NOW) -> bool:
    verifier = SignatureVerifier(SECRET, clock=_FixedClock(now))
    return verifier.is_valid_request(request.body, request.headers)


class _FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _form(request: SignedRequest) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.body, strict_parsing=True).items()}


def _interaction(request: SignedRequest) -> dict[str, Any]:
    form = _form(request)
    assert list(form) == ["payload"]
    return json.loads(form["payload"])


# ---------------------------------------------------------------- signing


def test_sign_matches_slacks_documented_example() -> None:
    # The worked example from Slack's "Verifying requests from Slack" guide.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert (
        sign(body, secret=SECRET, timestamp=1531420618)
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_every_builder_verifies_and_has_the_right_content_type(slack: SlackRequests) -> None:
    form = "application/x-www-form-urlencoded"
    requests = {
        form: [
            slack.slash_command("status"),
            slack.block_actions(action_id="ack"),
            slack.view_submission(callback_id="cb", values={}),
            slack.view_closed(callback_id="cb"),
            slack.global_shortcut(callback_id="sc"),
            slack.block_suggestion(action_id="pick", value="ac"),
        ],
        "application/json": [
            slack.event({"type": "app_mention", "user": "U0001", "text": "hi"}),
            slack.app_home_opened(),
            slack.url_verification("challenge-token"),
        ],
    }
    for content_type, built in requests.items():
        for request in built:
            assert request.headers["Content-Type"] == content_type
            assert request.headers["X-Slack-Request-Timestamp"] == str(NOW)
            assert _verifies(request), request.payload.get("type")


def test_signature_is_hmac_of_exact_body(slack: SlackRequests) -> None:
    request = slack.slash_command("x")
    expected = hmac.new(
        SECRET.encode(), f"v0:{NOW}:{request.body}".encode(), hashlib.sha256
    ).hexdigest()
    assert request.headers["X-Slack-Signature"] == f"v0={expected}"


def test_tampered_body_or_wrong_secret_does_not_verify(slack: SlackRequests) -> None:
    request = slack.slash_command("status")

    tampered = dataclasses.replace(request, body=request.body.replace("status", "delete"))
    other_secret = SlackRequests(signing_secret="other", clock=lambda: NOW).slash_command("status")

    assert _verifies(request)
    assert not _verifies(tampered)
    assert not _verifies(other_secret)


def test_stale_timestamp_is_stale(slack: SlackRequests) -> None:
    stale = slack.slash_command("status", timestamp=NOW - 6 * 60)

    assert stale.headers["X-Slack-Request-Timestamp"] == str(NOW - 6 * 60)
    # correctly signed for its own time, yet rejected because Slack's window is 5 minutes
    expected = sign(stale.body, secret=SECRET, timestamp=NOW - 6 * 60)
    assert stale.headers["X-Slack-Signature"] == expected
    assert not _verifies(stale)
    assert _verifies(stale, now=NOW - 6 * 60)


def test_clock_is_used_when_no_timestamp(slack: SlackRequests) -> None:
    ticking = iter([100.9, 200.2])
    builder = SlackRequests(signing_secret=SECRET, clock=lambda: next(ticking))
    assert builder.slash_command().headers["X-Slack-Request-Timestamp"] == "100"
    assert builder.slash_command().headers["X-Slack-Request-Timestamp"] == "200"


# ---------------------------------------------------------------- body shapes


def test_slash_command_form(slack: SlackRequests) -> None:
    request = slack.slash_command(
        "ticket new & urgent", user_id="U0009", command="/msp", trigger_id="1.2.3"
    )
    form = _form(request)

    assert list(form) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert form == request.payload
    assert (form["text"], form["command"], form["user_id"]) == (
        "ticket new & urgent",
        "/msp",
        "U0009",
    )
    assert (form["team_id"], form["team_domain"]) == ("T0001", "acme-msp")
    assert form["trigger_id"] == "1.2.3"
    assert form["response_url"].startswith("https://hooks.slack.com/commands/T0001/")
    assert is_slash_command(form)


def test_block_actions_from_a_message(slack: SlackRequests) -> None:
    request = slack.block_actions(
        action_id="ticket_ack",
        value="42",
        block_id="ticket",
        # characters that only survive a properly URL-encoded payload field
        message={"text": "Ticket #42: fan+PSU & c=d 100%"},
    )
    payload = _interaction(request)

    assert payload == request.payload
    assert is_block_actions(payload)
    assert to_action(payload) == payload["actions"][0]
    action = payload["actions"][0]
    assert (action["type"], action["action_id"], action["block_id"], action["value"]) == (
        "button",
        "ticket_ack",
        "ticket",
        "42",
    )
    assert payload["user"] == {
        "id": "U0001",
        "username": "alice",
        "name": "alice",
        "team_id": "T0001",
    }
    assert payload["team"] == {"id": "T0001", "domain": "acme-msp"}
    assert payload["channel"]["id"] == "C0001"
    assert payload["message"]["text"] == "Ticket #42: fan+PSU & c=d 100%"
    assert payload["container"] == {
        "type": "message",
        "message_ts": payload["message"]["ts"],
        "channel_id": "C0001",
        "is_ephemeral": False,
    }
    assert payload["response_url"].startswith("https://hooks.slack.com/actions/T0001/")
    assert payload["trigger_id"] and payload["api_app_id"] == "A0001"


def test_block_actions_from_a_view_with_a_select(slack: SlackRequests) -> None:
    option = {"text": {"type": "plain_text", "text": "High"}, "value": "high"}
    request = slack.block_actions(
        action_id="priority",
        view={"id": "V0042", "type": "home", "callback_id": "home"},
        selected_option=option,
        extra_action={"placeholder": {"type": "plain_text", "text": "Priority"}},
    )
    payload = _interaction(request)

    assert payload["container"] == {"type": "view", "view_id": "V0042"}
    assert payload["view"]["type"] == "home"
    assert "channel" not in payload and "response_url" not in payload
    action = payload["actions"][0]
    assert (action["type"], action["selected_option"]) == ("static_select", option)
    assert action["placeholder"]["text"] == "Priority"


def test_block_actions_needs_a_source(slack: SlackRequests) -> None:
    with pytest.raises(ValueError, match="view or a channel_id"):
        slack.block_actions(action_id="x", channel_id=None)


def test_view_submission_values(slack: SlackRequests) -> None:
    users = {"type": "multi_users_select", "selected_users": ["U1", "U2"]}
    request = slack.view_submission(
        callback_id="ticket_modal",
        values={"title": {"title_input": "Printer on fire"}, "watchers": {"pick": users}},
        private_metadata='{"client": 7}',
    )
    payload = _interaction(request)

    assert is_view_submission(payload)
    view = payload["view"]
    assert (view["callback_id"], view["private_metadata"], view["id"]) == (
        "ticket_modal",
        '{"client": 7}',
        "V0001",
    )
    assert view["state"]["values"] == {
        "title": {"title_input": {"type": "plain_text_input", "value": "Printer on fire"}},
        "watchers": {"pick": users},
    }
    assert view["hash"] and payload["response_urls"] == []


def test_view_closed_and_shortcut_and_suggestion(slack: SlackRequests) -> None:
    closed = _interaction(slack.view_closed(callback_id="ticket_modal", is_cleared=True))
    shortcut = _interaction(slack.global_shortcut(callback_id="new_ticket"))
    suggestion = _interaction(slack.block_suggestion(action_id="client_pick", value="ac"))

    assert is_view_closed(closed) and closed["is_cleared"] is True
    assert closed["view"]["callback_id"] == "ticket_modal"
    assert is_global_shortcut(shortcut) and shortcut["callback_id"] == "new_ticket"
    assert shortcut["trigger_id"]
    assert is_block_suggestion(suggestion)
    options = to_options(suggestion)
    assert options is not None
    assert (options["action_id"], options["block_id"]) == ("client_pick", "b")
    assert suggestion["value"] == "ac"
    assert suggestion["container"] == {"type": "view", "view_id": suggestion["view"]["id"]}


def test_event_envelope(slack: SlackRequests) -> None:
    event = {"type": "app_mention", "user": "U0001", "text": "<@UBOT> hi", "channel": "C0001"}
    request = slack.event(event, event_id="Ev123", retry_num=1)
    envelope = json.loads(request.body)

    assert envelope == request.payload
    assert (envelope["type"], envelope["event_id"], envelope["event_time"]) == (
        "event_callback",
        "Ev123",
        NOW,
    )
    assert envelope["event"] == {**event, "event_ts": envelope["event"]["event_ts"]}
    assert envelope["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0001",
            "user_id": "UBOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    assert request.headers["X-Slack-Retry-Num"] == "1"
    assert "X-Slack-Retry-Num" not in slack.event(event).headers
    assert event == {
        "type": "app_mention",
        "user": "U0001",
        "text": "<@UBOT> hi",
        "channel": "C0001",
    }


def test_app_home_opened_and_url_verification(slack: SlackRequests) -> None:
    home = json.loads(slack.app_home_opened(user_id="U0007").body)
    verification = json.loads(slack.url_verification("abc").body)

    assert is_app_home_opened_event(home, tab="home")
    assert (home["event"]["user"], home["event"]["channel"]) == ("U0007", "D0007")
    assert "view" not in home["event"]
    assert verification == {
        "token": "legacy-verification-token",
        "challenge": "abc",
        "type": "url_verification",
    }


def test_generated_ids_are_unique(slack: SlackRequests) -> None:
    triggers = {slack.slash_command().payload["trigger_id"] for _ in range(20)}
    event_ids = {slack.event({"type": "x"}).payload["event_id"] for _ in range(20)}
    assert len(triggers) == 20 and len(event_ids) == 20


# ---------------------------------------------------------------- through a real Bolt app


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with running_fake_slack() as server:
        yield server


def _app(fake: FakeSlack) -> AsyncApp:
    # process_before_response: listeners finish inside dispatch, so no waiting in tests
    return AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token="xoxb-test", base_url=fake.base_url),
        process_before_response=True,
    )


async def _dispatch(app: AsyncApp, request: SignedRequest) -> tuple[int, str]:
    response = await app.async_dispatch(
        AsyncBoltRequest(body=request.body, headers=request.headers)
    )
    return response.status, response.body


async def test_bolt_accepts_the_requests_and_routes_them(fake: FakeSlack) -> None:
    slack = SlackRequests(signing_secret=SECRET, hooks_base_url=fake.hooks_base_url)
    app = _app(fake)
    seen: list[str] = []

    @app.command("/msp")
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(f"got {command['text']}")

    @app.action("ticket_ack")
    async def on_action(ack: AsyncAck, respond: AsyncRespond, action: dict[str, Any]) -> None:
        await ack()
        await respond(f"acked {action['value']}")

    @app.view("ticket_modal")
    async def on_submit(ack: AsyncAck, view: dict[str, Any]) -> None:
        seen.append(view["state"]["values"]["t"]["i"]["value"])
        await ack()

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any]) -> None:
        seen.append(event["tab"])

    @app.options("client_pick")
    async def on_options(ack: AsyncAck, payload: dict[str, Any]) -> None:
        await ack(options=[{"text": {"type": "plain_text", "text": "Acme"}, "value": "acme"}])

    assert await _dispatch(app, slack.slash_command("status")) == (200, "got status")
    status, _ = await _dispatch(app, slack.block_actions(action_id="ticket_ack", value="42"))
    assert status == 200
    assert fake.calls_to("response_url")[0].args["text"] == "acked 42"
    status, _ = await _dispatch(
        app, slack.view_submission(callback_id="ticket_modal", values={"t": {"i": "x"}})
    )
    assert status == 200
    assert (await _dispatch(app, slack.app_home_opened()))[0] == 200
    status, body = await _dispatch(app, slack.block_suggestion(action_id="client_pick", value="a"))
    assert status == 200 and json.loads(body)["options"][0]["value"] == "acme"
    assert await _dispatch(app, slack.url_verification("xyz")) == (200, '{"challenge": "xyz"}')
    assert seen == ["x", "home"]


async def test_bolt_rejects_stale_and_tampered_requests(fake: FakeSlack) -> None:
    slack = SlackRequests(signing_secret=SECRET)
    app = _app(fake)
    ran: list[str] = []

    @app.command("/msp")
    async def on_command(ack: AsyncAck) -> None:
        ran.append("command")
        await ack()

    good = slack.slash_command("status")
    stale = slack.slash_command("status", timestamp=int(slack.clock()) - 10 * 60)
    tampered = dataclasses.replace(good, body=good.body.replace("status", "delete"))

    assert (await _dispatch(app, stale))[0] == 401
    assert (await _dispatch(app, tampered))[0] == 401
    assert ran == []
    assert (await _dispatch(app, good))[0] == 200
    assert ran == ["command"]
