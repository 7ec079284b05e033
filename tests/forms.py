"""The modals as Slack submits them: the values of the customer and request forms,
and what a request modal offers."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.customers import CustomerField as F
from bot.ids import ActionId, BlockId

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


def plan_options(view: dict[str, Any]) -> list[str]:
    """The plans the modal's plan menu offers."""
    for block in view["blocks"]:
        if block.get("block_id") == BlockId.REQUEST_PLAN:
            return [option["value"] for option in block["element"]["options"]]
    raise AssertionError("no plan menu in the modal")


def block_ids(view: dict[str, Any]) -> list[str]:
    return [block["block_id"] for block in view["blocks"] if block["type"] == "input"]
