"""Driving requests the way Slack does, shared by the request tests: the staff, a
paid customer, the request modal opened and submitted, the approval message and
its buttons, and waiting for the bot (its listeners and its delivery worker)."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.app import Bot, build_app
from bot.config import Settings
from bot.delivery.limits import DeliveryLimits
from bot.domain.roles import Role
from bot.ids import ActionId, BlockId, CallbackId
from bot.payloads import RequestRef
from storage.engine import Database
from storage.models import AuditEvent, ChangeRequest, Customer, Msp
from tests.customer_helpers import all_text, calls_to
from tests.dashboard_helpers import seed_customer, set_msp
from tests.fake_slack import FakeSlack
from tests.support import Reply, grant, post

TODAY = date(2026, 11, 22)  # the FakeClock's day
RENEWAL = date(2027, 3, 1)
APPROVALS = "C0APPROVE"
OWNER, ADMIN, APPROVER, MEMBER, VIEWER = "U0001", "U0002", "U0003", "U0004", "U0005"
NOW_SHOWN = "<!date^1795338000^{date_short_pretty} {time}|2026-11-22 09:00 UTC>"  # the clock's
# Many messages to one channel: the tests lift Slack's pacing of a channel.
FAST_DELIVERY = replace(
    DeliveryLimits(), channel_per_second=1000.0, channel_burst=100, poll_seconds=0.01
)


def fast_bot(settings: Settings, db: Database, clock) -> Bot:
    return build_app(settings, clock=clock, db=db, delivery_limits=FAST_DELIVERY)


async def grant_staff(db: Database) -> None:
    """One person in each role, and an approvals channel."""
    await grant(db, OWNER, Role.OWNER)
    await grant(db, ADMIN, Role.ADMIN)
    await grant(db, APPROVER, Role.APPROVER)
    await grant(db, MEMBER, Role.MEMBER)
    await grant(db, VIEWER, Role.VIEWER)
    await set_msp(db, approvals_channel=APPROVALS)


# A paid Essentials customer: 10 licences at $75 each a month ($750), an annual term
# renewing on RENEWAL.
PAID_COLUMNS: dict[str, Any] = {
    "status": "paid",
    "plan": "essentials",
    "licences": 10,
    "users": 8,
    "unit_price_cents": 7_500,
    "term": "annual",
    "contract_start": date(2026, 3, 1),
    "renewal_date": RENEWAL,
}


async def paid(db: Database, name: str = "Northwind", **columns: Any) -> int:
    """A paid Essentials customer (PAID_COLUMNS), with `columns` changed."""
    values: dict[str, Any] = {**PAID_COLUMNS, **columns}
    return await seed_customer(db, name=name, status=values.pop("status", "paid"), **values)


async def customer_row(db: Database, customer_id: int) -> Customer:
    async with db.unit_of_work() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        session.expunge(customer)
        return customer


async def msp_row(db: Database) -> Msp:
    async with db.unit_of_work() as session:
        msp = await session.scalar(select(Msp))
        assert msp is not None
        session.expunge(msp)
        return msp


async def request_rows(db: Database) -> list[ChangeRequest]:
    async with db.unit_of_work() as session:
        rows = (await session.scalars(select(ChangeRequest).order_by(ChangeRequest.id))).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


async def audit_rows(db: Database, action: str) -> list[AuditEvent]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows.all())


async def settle(bot: Bot) -> None:
    """Wait until the listeners still running after their acks are done and the
    outbox has gone out to the fake Slack."""
    await bot.in_flight.drain(30.0)
    await bot.delivery.drain()


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


def submit_values(**fields: Any) -> dict[str, dict[str, Any]]:
    """Block id -> value: a dict is the element's state as is, a string a number input."""
    values: dict[str, dict[str, Any]] = {}
    for block_id, value in fields.items():
        if isinstance(value, dict):
            values[block_id] = {ActionId.FIELD: value}
        else:
            values[block_id] = {ActionId.FIELD: {"type": "number_input", "value": value}}
    return values


def selected(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


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


def plan_options(view: dict[str, Any]) -> list[str]:
    """The plans the modal's plan menu offers."""
    for block in view["blocks"]:
        if block.get("block_id") == BlockId.REQUEST_PLAN:
            return [option["value"] for option in block["element"]["options"]]
    raise AssertionError("no plan menu in the modal")


def block_ids(view: dict[str, Any]) -> list[str]:
    return [block["block_id"] for block in view["blocks"] if block["type"] == "input"]


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


def updates_to(fake_slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [c.args for c in fake_slack.calls_to("chat.update") if c.args["channel"] == channel]


def messages_in(fake_slack: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """The messages of a conversation as Slack now shows them (updates applied)."""
    return [message for (where, _ts), message in fake_slack.messages.items() if where == channel]


def lines(blocks: list[dict[str, Any]]) -> list[str]:
    """What a person reads in blocks, line by line."""
    return all_text(blocks).splitlines()


def button(message: dict, action_id: str) -> dict:
    for block in message["blocks"]:
        for element in [*(block.get("elements", []) or []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button in {json.dumps(message)[:500]}")


def has_actions(message: dict) -> bool:
    return any(block["type"] == "actions" for block in message["blocks"])


def outcome(message: dict[str, Any]) -> str:
    """A decided message's last line; a decided request has no buttons."""
    assert not has_actions(message)
    return lines(message["blocks"])[-1]


def day(moment: date) -> str:
    """A date as Slack's date formatting shows it (noon UTC of that day)."""
    stamp = calendar.timegm((moment.year, moment.month, moment.day, 12, 0, 0))
    return f"<!date^{stamp}^{{date_short_pretty}}|{moment.isoformat()}>"


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
