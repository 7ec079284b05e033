"""The one error handler: known refusals become friendly ephemeral messages; the
database being away (a restart) says so, with a short error id; anything else
unexpected gets a short error id that is logged with its traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.errors import BotError, InvalidInput
from bot.views.message import Message
from bot.views.notices import (
    DATABASE_UNAVAILABLE,
    database_unavailable_message,
    refusal_message,
    unexpected_error_message,
)
from handlers.deps import Deps
from storage.engine import is_database_unavailable, root_cause

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE_IN_MODAL = f"{DATABASE_UNAVAILABLE} Press Submit again in a moment."
# How often Bolt's dispatcher looks whether the listener has acked (asyncio_runner).
BOLT_ACK_POLL_S = 0.01


def new_error_id() -> str:
    return secrets.token_hex(4)


def register(app: AsyncApp, deps: Deps) -> None:
    async def handle_error(
        error: Exception,
        body: dict[str, Any],
        respond: AsyncRespond | None,
        response: BoltResponse | None,
    ) -> BoltResponse | None:
        message = _message_for(error, body)
        already_acked = response is None
        if already_acked:
            await _let_bolt_see_the_ack()
        if body.get("type") == "view_submission" and not already_acked:
            return _modal_reply(error, message, body)
        if "command" in body and not already_acked:
            reply = {"response_type": "ephemeral", **message.as_kwargs()}
            return BoltResponse(status=200, body=json.dumps(reply))
        if respond is not None:
            await respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
        return None if already_acked else BoltResponse(status=200, body="")

    app.error(handle_error)


async def _let_bolt_see_the_ack() -> None:
    """Bolt (1.30) forgets a listener's ack when the listener raises after acking:
    once this handler returns, the ack's response is set to None. Its dispatcher looks
    for the ack every 10 ms; when the ack and the error both fall between two looks
    (a database refusing connections fails in a millisecond), the request looks
    unacknowledged and Slack gets a 404 after 3 s. Waiting out two looks lets the
    dispatcher answer with the ack first (found by tests/resilience)."""
    await asyncio.sleep(2 * BOLT_ACK_POLL_S)


def _message_for(error: Exception, body: dict[str, Any]) -> Message:
    if isinstance(error, BotError):
        return refusal_message(error.message)
    error_id = new_error_id()
    if is_database_unavailable(error):
        # Expected during a database restart, one per request: a line each, without
        # the traceback or the statement (its parameters are people's data).
        logger.warning(
            "database unavailable (%s) while handling %s, error id %s",
            root_cause(error),
            _describe(body),
            error_id,
            extra={"error_id": error_id},
        )
        return database_unavailable_message(error_id)
    logger.error(
        "unexpected error %s while handling %s",
        error_id,
        _describe(body),
        exc_info=error,
        extra={"error_id": error_id},
    )
    return unexpected_error_message(error_id)


def _modal_reply(error: Exception, message: Message, body: dict[str, Any]) -> BoltResponse:
    """In a modal, a field error goes on that field; the database being away on the
    form's first field, so what was typed stays for another try; anything else on a
    clear screen."""
    first_input = _first_input_block(body)
    if isinstance(error, InvalidInput) and error.field:
        reply: dict[str, Any] = {
            "response_action": "errors",
            "errors": {error.field: error.message},
        }
    elif is_database_unavailable(error) and first_input is not None:
        reply = {
            "response_action": "errors",
            "errors": {first_input: DATABASE_UNAVAILABLE_IN_MODAL},
        }
    else:
        reply = {
            "response_action": "update",
            "view": {
                "type": "modal",
                "title": {"type": "plain_text", "text": "Something went wrong"},
                "close": {"type": "plain_text", "text": "Close"},
                "blocks": message.blocks,
            },
        }
    return BoltResponse(
        status=200, body=json.dumps(reply), headers={"content-type": "application/json"}
    )


def _first_input_block(body: dict[str, Any]) -> str | None:
    blocks = (body.get("view") or {}).get("blocks") or []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def _describe(body: dict[str, Any]) -> str:
    """What the request was, without user text or secrets (safe for logs)."""
    if "command" in body:
        return f"command {body.get('command')}"
    if body.get("type") == "event_callback":
        return f"event {body.get('event', {}).get('type')}"
    return str(body.get("type", "request"))
