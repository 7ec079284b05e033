"""The one error handler: known refusals become friendly ephemeral messages; anything
unexpected gets a short error id that is logged with its traceback."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.errors import BotError, InvalidInput
from bot.views.message import Message
from bot.views.notices import refusal_message, unexpected_error_message
from handlers.deps import Deps

logger = logging.getLogger(__name__)


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
        if body.get("type") == "view_submission" and not already_acked:
            return _modal_reply(error, message)
        if "command" in body and not already_acked:
            reply = {"response_type": "ephemeral", **message.as_kwargs()}
            return BoltResponse(status=200, body=json.dumps(reply))
        if respond is not None:
            await respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
        return None if already_acked else BoltResponse(status=200, body="")

    app.error(handle_error)


def _message_for(error: Exception, body: dict[str, Any]) -> Message:
    if isinstance(error, BotError):
        return refusal_message(error.message)
    error_id = new_error_id()
    logger.error(
        "unexpected error %s while handling %s",
        error_id,
        _describe(body),
        exc_info=error,
        extra={"error_id": error_id},
    )
    return unexpected_error_message(error_id)


def _modal_reply(error: Exception, message: Message) -> BoltResponse:
    """In a modal, a field error goes on that field; anything else on a clear screen."""
    if isinstance(error, InvalidInput) and error.field:
        reply: dict[str, Any] = {
            "response_action": "errors",
            "errors": {error.field: error.message},
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


def _describe(body: dict[str, Any]) -> str:
    """What the request was, without user text or secrets (safe for logs)."""
    if "command" in body:
        return f"command {body.get('command')}"
    if body.get("type") == "event_callback":
        return f"event {body.get('event', {}).get('type')}"
    return str(body.get("type", "request"))
