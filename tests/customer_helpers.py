"""Building the customer modals' submissions the way Slack sends them."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import select, update

from bot.domain.customers import CustomerField as F
from bot.ids import ActionId, CallbackId
from storage.engine import Database
from storage.models import Customer, Msp
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.support import Reply, post

# The day the fake clock stands on (tests.support.FakeClock), which the Add form's
# contract start shows when it opens.
FORM_OPENED_ON = date(2026, 11, 22)


def text(value: str | None) -> dict[str, Any]:
    return {ActionId.FIELD: {"type": "plain_text_input", "value": value}}


def number(value: str | None) -> dict[str, Any]:
    return {ActionId.FIELD: {"type": "number_input", "value": value}}


def checkboxes(values: list[str]) -> dict[str, Any]:
    options = [{"value": value} for value in values]
    return {ActionId.FIELD: {"type": "checkboxes", "selected_options": options}}


def add_values(
    *,
    name: str = "Acme Dental",
    email: str = "admin@acme-dental.com",
    plan: str = "trial",
    licences: str | None = None,
    term: str | None = None,
    contract_start: date | None = FORM_OPENED_ON,  # the datepicker's initial day
    threshold: str | None = None,
    never_block: bool | None = None,  # None: ticked when no threshold is given
    price: str | None = "75.00",
    locations: str | None = None,
    contact_name: str | None = None,
    contact_email: str | None = None,
    assigned: list[str] | None = None,
) -> dict[str, Any]:
    return {
        F.ADMIN_EMAIL: text(email),
        F.NAME: text(name),
        F.PLAN: {ActionId.FIELD: {"type": "static_select", "selected_option": {"value": plan}}},
        F.LICENCES: number(licences),
        F.TERM: {
            ActionId.FIELD: {
                "type": "static_select",
                "selected_option": {"value": term} if term else None,
            }
        },
        F.CONTRACT_START: {
            ActionId.FIELD: {
                "type": "datepicker",
                "selected_date": contract_start.isoformat() if contract_start else None,
            }
        },
        F.THRESHOLD: number(threshold),
        F.NEVER_BLOCK: checkboxes(
            ["never"] if (threshold is None if never_block is None else never_block) else []
        ),
        F.PRICE: number(price),
        F.LOCATIONS: text(locations),
        F.CONTACT_NAME: text(contact_name),
        F.CONTACT_EMAIL: text(contact_email),
        F.ASSIGNED: {
            ActionId.FIELD: {"type": "multi_users_select", "selected_users": assigned or []}
        },
    }


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


async def customers(db: Database) -> list[Customer]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(Customer).order_by(Customer.id))).all())


async def set_max_customers(db: Database, maximum: int) -> None:
    async with db.unit_of_work() as session:
        await session.execute(update(Msp).values(max_customers=maximum))


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
