"""Driving the bot the way Slack, the ingest API's callers and the operator do, and
reading what the fake Slack received: signed posts and their replies, JSON posts,
the command line, the customer and request modals sent, the approval message and its
buttons, and the messages and exports as a person reads them."""

from __future__ import annotations

import asyncio
import calendar
import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from typer.testing import CliRunner, Result

from bot.app import Bot
from bot.cli import cli
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import RequestRef
from bot.sentences import readable_day, readable_time
from bot.services.customer_csv import CSV_COLUMNS
from tests.fake_slack import FakeSlack
from tests.forms import add_values, submit_values, typed
from tests.seed import ADMIN, APPROVALS, APPROVER, MEMBER
from tests.slack_requests import SignedRequest, SlackRequests
from tests.wait import settle

# ---------------------------------------------------------------- posting to the bot


@dataclass
class Reply:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


async def post(client: TestClient, request: SignedRequest, path: str = "/slack/events") -> Reply:
    response = await client.post(path, data=request.body.encode(), headers=request.headers)
    return Reply(status=response.status, text=await response.text())


@dataclass
class Answer:
    status: int
    json: Any
    headers: Any


async def post_json(
    client,
    path: str,
    token: str | None,
    body: Any = None,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = {"Content-Type": "application/json"}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    payload = data if data is not None else json.dumps(body).encode()
    response = await client.post(path, data=payload, headers=sent)
    text = await response.text()
    return Answer(response.status, json.loads(text) if text else None, response.headers)


def field_errors(answer: Answer) -> dict[str, str]:
    """A 422's errors, field -> message."""
    assert answer.status == 422, (answer.status, answer.json)
    assert answer.json["ok"] is False and answer.json["error"] == "invalid_request"
    return {error["field"]: error["message"] for error in answer.json["errors"]}


async def post_chunked_spaces(client, path: str, token: str, *, collection: str, kb: int) -> int:
    """POST a chunked body of `kb` KB of spaces (no Content-Length); its status."""

    async def chunks():
        yield f'{{"{collection}": ['.encode()
        for _ in range(kb // 64):
            yield b" " * 64 * 1024
        yield b"]}"

    response = await client.post(
        path,
        data=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.status


def invoke_cli(args: list[str], env: dict[str, str]) -> Result:
    """Run `msp-bot ARGS` in-process, as the operator would in a shell."""
    return CliRunner().invoke(cli, args, env=env)


# ---------------------------------------------------------------- what the fake Slack received


async def calls_to(fake: FakeSlack, method: str, count: int = 1) -> list:
    """Calls the bot makes after its ack arrive a moment later."""
    for _ in range(300):
        if len(fake.calls_to(method)) >= count:
            break
        await asyncio.sleep(0.01)
    return fake.calls_to(method)


def all_text(blocks: list[dict[str, Any]]) -> str:
    """What a person reads in blocks: section texts and fields, headers, contexts."""
    parts: list[str] = []
    for block in blocks:
        text_object = block.get("text")
        if isinstance(text_object, dict):
            parts.append(str(text_object.get("text", "")))
        for field in block.get("fields", []) or []:
            parts.append(str(field.get("text", "")))
        for element in block.get("elements", []) or []:
            if isinstance(element, dict):
                inner = element.get("text")
                parts.append(
                    str(inner.get("text", "")) if isinstance(inner, dict) else str(inner or "")
                )
    return "\n".join(parts)


def lines(blocks: list[dict[str, Any]]) -> list[str]:
    """What a person reads in blocks, line by line."""
    return all_text(blocks).splitlines()


def day(moment: date) -> str:
    """A date as Slack's date formatting shows it (noon UTC of that day)."""
    stamp = calendar.timegm((moment.year, moment.month, moment.day, 12, 0, 0))
    return f"<!date^{stamp}^{{date_short_pretty}}|{readable_day(moment)}>"


def moment_shown(moment: datetime) -> str:
    """A moment as Slack's date formatting shows it, in each reader's own zone."""
    stamp = calendar.timegm(moment.utctimetuple())
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{readable_time(moment)}>"


def updates_to(fake_slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [c.args for c in fake_slack.calls_to("chat.update") if c.args["channel"] == channel]


def messages_in(fake_slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """The messages of a conversation as Slack now shows them (updates applied)."""
    return [message for (where, _ts), message in fake_slack.messages.items() if where == channel]


def button(message: dict, action_id: str) -> dict:
    for block in message["blocks"]:
        for element in [*(block.get("elements", []) or []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button in {json.dumps(message)[:500]}")


def has_actions(message: dict) -> bool:
    return any(block["type"] == "actions" for block in message["blocks"])


def outcome(message: dict[str, Any]) -> str:
    """A decided message's last line of text; a decided request has no Approve or Deny
    (one that expired offers Ask again, below that line)."""
    decisions = (ActionId.REQUEST_APPROVE, ActionId.REQUEST_DENY)
    assert not any(
        element.get("action_id") in decisions
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    )
    return lines([block for block in message["blocks"] if block["type"] != "actions"])[-1]


def read_csv(data: bytes) -> list[dict[str, str]]:
    """An export's rows, by column, checking the header and the byte order mark."""
    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "the export starts with a byte order mark"
    records = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert tuple(records[0]) == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, record, strict=True)) for record in records[1:]]


# ---------------------------------------------------------------- customers and the dashboard


async def submit_add(client, slack: SlackRequests, *, user_id: str = "U0001", **fields) -> Reply:
    return await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.ADD_CUSTOMER, values=add_values(**fields), user_id=user_id
        ),
    )


async def add_customer(client, slack: SlackRequests, *, user_id: str = "U0001", **fields) -> str:
    """Add through the modal; returns the account number shown on the card."""
    reply = await submit_add(client, slack, user_id=user_id, **fields)
    assert reply.json["response_action"] == "update", reply.text
    return account_number_in(reply.json["view"])


def account_number_in(view_or_message: dict[str, Any]) -> str:
    for block in view_or_message["blocks"]:
        for element in block.get("elements", []):
            words = str(element.get("text", ""))
            if words.startswith("Account `"):
                return words.split("`")[1]
    raise AssertionError("no account number on the card")


async def share_dashboard(client, slack, **where: Any) -> None:
    """`/msp dashboard share`, then a click on the preview's "Post in this channel"
    (`where`: user_id, channel_id, team_id, as for both requests)."""
    command = {key: value for key, value in where.items() if key != "channel_id"}
    channel = where.get("channel_id", "C0001")
    reply = await post(
        client, slack.slash_command("dashboard share", channel_id=channel, **command)
    )
    [offer] = [b for b in reply.json["blocks"] if b.get("block_id") == BlockId.DASHBOARD_ACTIONS]
    button = offer["accessory"]
    await post(
        client,
        slack.block_actions(
            action_id=button["action_id"], value=button["value"], channel_id=channel, **command
        ),
    )


# ---------------------------------------------------------------- the request modal


async def open_form(
    client, slack, fake_slack: FakeSlack, text: str, user_id: str = MEMBER
) -> dict[str, Any]:
    """`/msp request TEXT`; the modal it opens."""
    before = len(fake_slack.calls_to("views.open"))
    reply = await post(client, slack.slash_command(f"request {text}", user_id=user_id))
    assert reply.status == 200
    calls = await calls_to(fake_slack, "views.open", before + 1)
    assert len(calls) == before + 1, reply.text
    return calls[before].args["view"]


async def submit(client, slack, view: dict, user_id: str = MEMBER, **fields: Any) -> Reply:
    return await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.REQUEST_FORM,
            private_metadata=view["private_metadata"],
            values=submit_values(**fields),
            user_id=user_id,
        ),
    )


# ---------------------------------------------------------------- a form redrawn as it is filled in


def held_view(fake_slack: FakeSlack, callback_id: str) -> dict[str, Any]:
    """The modal with this callback id as Slack now holds it, with its id and hash
    (the newest, if several were opened)."""
    held = [view for view in fake_slack.views.values() if view["callback_id"] == callback_id]
    assert held, f"no {callback_id} modal is open"
    return held[-1]


def input_block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    [block] = [b for b in view["blocks"] if b["type"] == "input" and b["block_id"] == block_id]
    return block


def as_slack_sends(view: dict[str, Any], entered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`entered` (block id -> element state) as a view's state.values: each state under
    its element's own action id, as Slack sends it."""
    action_ids = {
        block["block_id"]: block["element"]["action_id"]
        for block in view["blocks"]
        if block["type"] == "input"
    }
    return {
        block_id: {action_ids.get(block_id, ActionId.FIELD): state}
        for block_id, state in entered.items()
    }


async def dispatched(
    client,
    slack: SlackRequests,
    fake_slack: FakeSlack,
    view: dict[str, Any],
    block_id: str,
    entered: dict[str, dict[str, Any]],
    *,
    user_id: str,
) -> Any:
    """What Slack sends when an input with dispatch_action changes in an open modal (a
    choice made, a character typed): block_actions for that input, carrying the view as
    Slack holds it (`view`: its id and hash) with `entered` as its state. The
    views.update call the bot answers with."""
    element = input_block(view, block_id)["element"]
    changed = entered[block_id]
    updates = len(fake_slack.calls_to("views.update"))
    request = slack.block_actions(
        action_id=element["action_id"],
        block_id=block_id,
        value=changed.get("value"),
        selected_option=changed.get("selected_option"),
        extra_action={"type": element["type"]},
        user_id=user_id,
        channel_id=None,
        view={**view, "state": {"values": as_slack_sends(view, entered)}},
    )
    reply = await post(client, request)
    assert reply.status == 200 and reply.text == "", reply.text
    calls = await calls_to(fake_slack, "views.update", updates + 1)
    assert len(calls) == updates + 1, "the form was not redrawn"
    return calls[-1]


# ---------------------------------------------------------------- the approval message


async def posts_to(fake_slack: FakeSlack, channel: str, count: int) -> list:
    for _ in range(300):
        posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == channel]
        if len(posts) >= count:
            return posts
        await calls_to(
            fake_slack, "chat.postMessage", len(fake_slack.calls_to("chat.postMessage")) + 1
        )
    return [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == channel]


async def approval_message(fake_slack: FakeSlack, count: int = 1) -> dict:
    """The `count`th message posted to the approvals channel, as posted."""
    posts = await posts_to(fake_slack, APPROVALS, count)
    assert len(posts) >= count
    return posts[count - 1].args


async def click(client, slack, action_id: str, value: str, user_id: str) -> Reply:
    return await post(
        client,
        slack.block_actions(
            action_id=action_id, value=value, user_id=user_id, channel_id=APPROVALS
        ),
    )


def request_ref(request_id: int) -> str:
    return RequestRef(request_id=request_id).encode()


# ---------------------------------------------------------------- a whole request


@dataclass(frozen=True)
class Asked:
    view: dict[str, Any]  # the request modal as it opened
    sent: dict[str, Any]  # the "Request sent" modal that replaced it
    message: dict[str, Any]  # the approval message as posted
    request_id: int


async def ask(
    client, slack, fake_slack: FakeSlack, text: str, user_id: str = MEMBER, **fields: Any
) -> Asked:
    """Open the request modal, send it, and wait for its approval message."""
    posted = len(
        [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == APPROVALS]
    )
    view = await open_form(client, slack, fake_slack, text, user_id=user_id)
    reply = await submit(client, slack, view, user_id=user_id, **fields)
    assert reply.json["response_action"] == "update", reply.text
    message = await approval_message(fake_slack, posted + 1)
    request_id = RequestRef.decode(button(message, ActionId.REQUEST_APPROVE)["value"]).request_id
    return Asked(view=view, sent=reply.json["view"], message=message, request_id=request_id)


@dataclass(frozen=True)
class Decided:
    message: dict[str, Any]  # the approval message as Slack now shows it
    notice: dict[str, Any]  # the requester's DM


async def approve(
    bot: Bot,
    client,
    slack,
    fake_slack: FakeSlack,
    asked: Asked,
    approver: str = APPROVER,
    *,
    notices: int = 1,
) -> Decided:
    """Click Approve on the request's message and wait for the message's update and
    the requester's DMs (`notices` of them)."""
    requester = _asker(asked)
    before = len(messages_in(fake_slack, "D" + requester[1:]))
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(asked.request_id), approver)
    await settle(bot)
    return decided(fake_slack, asked, before, notices)


def decided(fake_slack: FakeSlack, asked: Asked, notices_before: int, notices: int = 1) -> Decided:
    sent = messages_in(fake_slack, "D" + _asker(asked)[1:])
    assert len(sent) == notices_before + notices, sent
    return Decided(message=shown_message(fake_slack, asked.request_id), notice=sent[-1])


def shown_message(fake_slack: FakeSlack, request_id: int) -> dict[str, Any]:
    """The request's one approval message, as the approvals channel now shows it."""
    [message] = [
        message
        for message in messages_in(fake_slack, APPROVALS)
        if message["blocks"][0]["text"]["text"].startswith(f"Request #{request_id}:")
    ]
    return message


def _asker(asked: Asked) -> str:
    for field in asked.message["blocks"][1]["fields"]:
        if field["text"].startswith("*Asked by* <@"):
            return field["text"].removeprefix("*Asked by* <@").removesuffix(">")
    raise AssertionError("no requester on the approval message")


async def approve_deletion(bot: Bot, client, slack, fake_slack, asked: Asked, name: str) -> dict:
    """Approve… asks an admin for the customer's typed name; the answer to the name.
    Once approved, the message is updated and the requester told."""
    notices = len(messages_in(fake_slack, "D" + _asker(asked)[1:]))
    opened = len(fake_slack.calls_to("views.open"))
    await click(client, slack, ActionId.REQUEST_APPROVE, request_ref(asked.request_id), ADMIN)
    await settle(bot)
    [confirm] = [call.args["view"] for call in fake_slack.calls_to("views.open")[opened:]]
    assert confirm["callback_id"] == CallbackId.CONFIRM_DELETION
    reply = await post(
        client,
        slack.view_submission(
            callback_id=CallbackId.CONFIRM_DELETION,
            private_metadata=confirm["private_metadata"],
            values={BlockId.REQUEST_CONFIRM_NAME: {ActionId.FIELD: typed(name)}},
            user_id=ADMIN,
        ),
    )
    if reply.json["response_action"] == "update":
        await settle(bot)
        decided(fake_slack, asked, notices)
    return reply.json
