"""Modals: reading submissions, collecting every field error at once so the person
sees all that is wrong in one go (`response_action: errors`), and opening one from
wherever the click came from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import InvalidInput
from bot.views.mrkdwn import plain_text
from handlers.payload_types import InputState, InteractionBody, ViewPayload

T = TypeVar("T")


class Form:
    """The values of a submitted view, by block id (each block has one input)."""

    def __init__(self, view: ViewPayload) -> None:
        values = (view.get("state") or {}).get("values")
        self._values: dict[str, dict[str, InputState]] = values if isinstance(values, dict) else {}
        # Flagged on the view's input blocks (Slack refuses errors on others), or on
        # the state's when a view comes without its blocks.
        shown = _input_block_ids(view) or [str(block_id) for block_id in self._values]
        self.errors: dict[str, str] = {
            block_id: NOT_TEXT for block_id in shown if not _is_text(self._input(block_id))
        }

    def _input(self, block_id: str) -> InputState:
        inputs = self._values.get(block_id) or {}
        element = next(iter(inputs.values()), None) if isinstance(inputs, dict) else None
        if isinstance(element, dict):
            return element
        return {}

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
        chosen = self._input(block_id).get("selected_options")
        if not isinstance(chosen, list):
            return []
        values = [option.get("value") for option in chosen if isinstance(option, dict)]
        return [value for value in values if isinstance(value, str)]

    def users(self, block_id: str) -> list[str]:
        users = self._input(block_id).get("selected_users")
        if not isinstance(users, list):
            return []
        return [user for user in users if isinstance(user, str)]

    def check(self, parse: Callable[[], T], default: T) -> T:
        """Run a parser; on InvalidInput remember the message for its field."""
        try:
            return parse()
        except InvalidInput as error:
            self.errors[error.field or ""] = error.message
            return default


NOT_TEXT = "This has characters that are not text (invalid Unicode): type it again."


def state_values(view: ViewPayload) -> dict[str, dict[str, Any]]:
    """What has been entered in an open view, as Slack sends it (block id -> action id
    -> the element's state): what a form redrawn as it is filled in keeps."""
    values = (view.get("state") or {}).get("values")
    return values if isinstance(values, dict) else {}


def shown_inputs(view: ViewPayload) -> set[str]:
    """The block ids of the view's inputs, as the view shown had them (none when a
    view comes without its blocks)."""
    return set(_input_block_ids(view))


def _input_block_ids(view: ViewPayload) -> list[str]:
    blocks = view.get("blocks")
    return [
        str(block["block_id"])
        for block in (blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id")
    ]


def _is_text(value: Any) -> bool:
    """No lone surrogates anywhere in it (valid JSON escapes, but no text: storing
    one failed with UnicodeEncodeError; found by tests/resilience/test_modal_fuzz.py)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_is_text(inner) for inner in value.values())
    if isinstance(value, list):
        return all(_is_text(inner) for inner in value)
    return True


def errors_response(errors: dict[str, str]) -> dict[str, Any]:
    """Field errors under a modal's inputs, which Slack shows as plain text: a
    command quoted as `code` is shown bare rather than between backticks."""
    return {
        "response_action": "errors",
        "errors": {field: plain_text(message) for field, message in errors.items()},
    }


def in_modal(body: InteractionBody) -> bool:
    return (body.get("view") or {}).get("type") == "modal"


async def open_or_push(client: AsyncWebClient, body: InteractionBody, view: dict[str, Any]) -> None:
    """From a message or the Home tab, open a modal; from inside a modal, stack one on top."""
    if in_modal(body):
        await client.views_push(trigger_id=body["trigger_id"], view=view)
    else:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
