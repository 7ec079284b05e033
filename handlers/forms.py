"""Modals: reading submissions, collecting every field error at once so the person
sees all that is wrong in one go (`response_action: errors`), and opening one from
wherever the click came from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import InvalidInput

T = TypeVar("T")


class Form:
    """The values of a submitted view, by block id (each block has one input)."""

    def __init__(self, view: dict[str, Any]) -> None:
        self._values: dict[str, dict[str, Any]] = view.get("state", {}).get("values", {})
        self.errors: dict[str, str] = {}

    def _input(self, block_id: str) -> dict[str, Any]:
        inputs = self._values.get(block_id) or {}
        return next(iter(inputs.values()), {}) if isinstance(inputs, dict) else {}

    def text(self, block_id: str) -> str | None:
        value = self._input(block_id).get("value")
        return value if isinstance(value, str) else None

    def selected(self, block_id: str) -> str | None:
        option = self._input(block_id).get("selected_option") or {}
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    def date(self, block_id: str) -> date | None:
        raw = self._input(block_id).get("selected_date")
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except (TypeError, ValueError):
            self.errors[block_id] = "Pick a date from the calendar."
            return None

    def conversation(self, block_id: str) -> str | None:
        value = self._input(block_id).get("selected_conversation")
        return value if isinstance(value, str) and value else None

    def options(self, block_id: str) -> list[str]:
        """The values of checkboxes or a multi-select."""
        chosen = self._input(block_id).get("selected_options") or []
        values = [option.get("value") for option in chosen if isinstance(option, dict)]
        return [value for value in values if isinstance(value, str)]

    def users(self, block_id: str) -> list[str]:
        users = self._input(block_id).get("selected_users") or []
        return [user for user in users if isinstance(user, str)]

    def check(self, parse: Callable[[], T], default: T) -> T:
        """Run a parser; on InvalidInput remember the message for its field."""
        try:
            return parse()
        except InvalidInput as error:
            self.errors[error.field or ""] = error.message
            return default


def errors_response(errors: dict[str, str]) -> dict[str, Any]:
    return {"response_action": "errors", "errors": errors}


def in_modal(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "modal"


async def open_or_push(client: AsyncWebClient, body: dict[str, Any], view: dict[str, Any]) -> None:
    """From a message or the Home tab, open a modal; from inside a modal, stack one on top."""
    if in_modal(body):
        await client.views_push(trigger_id=body["trigger_id"], view=view)
    else:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
