"""The one error handler: known refusals become friendly ephemeral messages; the
database being away (a restart, or locked past the wait a request can afford) says
so, with a short error id; anything else unexpected gets a short error id that is
logged with its traceback. Before the ack, the answer goes in the ack at once:
Slack is waiting for it (handlers/ack_deadline.py)."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.errors import BotError, InvalidInput, NotAllowed, NotFound
from bot.views.message import Message
from bot.views.mrkdwn import plain_text
from bot.views.notices import (
    DATABASE_UNAVAILABLE,
    database_unavailable_message,
    refusal_message,
    unexpected_error_message,
)
from handlers.ack_deadline import NoAnswerInTime
from handlers.deps import Deps
from handlers.payload_types import RequestBody
from storage.engine import is_database_unavailable, root_cause

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE_IN_MODAL = f"{DATABASE_UNAVAILABLE} Press Submit again in a moment."


def new_error_id() -> str:
    return secrets.token_hex(4)


def register(app: AsyncApp, deps: Deps) -> None:
    async def handle_error(
        error: Exception,
        body: RequestBody,
        respond: AsyncRespond | None,
        response: BoltResponse | None,
    ) -> BoltResponse | None:
        message = _message_for(error, body)
        already_acked = response is None
        if body.get("type") == "view_submission" and not already_acked:
            return _modal_reply(error, message, body)
        if "command" in body and not already_acked:
            reply = {"response_type": "ephemeral", **message.as_kwargs()}
            return BoltResponse(status=200, body=json.dumps(reply))
        if respond is not None and respond.response_url is not None:  # none: Home tab, events
            said = respond(response_type="ephemeral", replace_original=False, **message.as_kwargs())
            if already_acked:
                await said
            else:  # the ack first: Slack waits for it; the response_url can wait
                deps.in_flight.spawn(said)
        return None if already_acked else BoltResponse(status=200, body="")

    app.error(handle_error)


def _is_unavailable(error: Exception) -> bool:
    """The database away or locked, or the work before the ack cancelled at its
    deadline (nearly always a database wait): "try again in a moment"."""
    return is_database_unavailable(error) or isinstance(error, NoAnswerInTime)


def _message_for(error: Exception, body: RequestBody) -> Message:
    if isinstance(error, BotError):
        return refusal_message(error.sentence)
    error_id = new_error_id()
    if isinstance(error, NoAnswerInTime):
        logger.warning(
            "no answer within %.1f s while handling %s, error id %s: cancelled",
            error.budget_s,
            _describe(body),
            error_id,
            extra={"error_id": error_id},
        )
        return database_unavailable_message(error_id)
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


def _modal_reply(error: Exception, message: Message, body: RequestBody) -> BoltResponse:
    """In a modal, a field error goes on that field; the database being away on the
    form's first field, so what was typed stays for another try; anything else on a
    clear screen."""
    first_input = _first_input_block(body)
    if isinstance(error, InvalidInput) and error.field:
        reply: dict[str, Any] = {
            "response_action": "errors",
            "errors": {error.field: plain_text(error.sentence)},
        }
    elif _is_unavailable(error) and first_input is not None:
        reply = {
            "response_action": "errors",
            "errors": {first_input: DATABASE_UNAVAILABLE_IN_MODAL},
        }
    else:
        reply = {
            "response_action": "update",
            "view": {
                "type": "modal",
                "title": {"type": "plain_text", "text": _modal_title(error)},
                "close": {"type": "plain_text", "text": "Close"},
                "blocks": message.blocks,
            },
        }
    return BoltResponse(
        status=200, body=json.dumps(reply), headers={"content-type": "application/json"}
    )


def _modal_title(error: Exception) -> str:
    """A refusal is titled as one: "Something went wrong" is kept for what is ours."""
    if isinstance(error, NotAllowed):
        return "Not allowed"
    if isinstance(error, NotFound):
        return "Not found"
    if isinstance(error, BotError):
        return "Not possible"
    if _is_unavailable(error):
        return "Try again"
    return "Something went wrong"


def _first_input_block(body: RequestBody) -> str | None:
    blocks = (body.get("view") or {}).get("blocks") or []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def _describe(body: RequestBody) -> str:
    """What the request was, without user text or secrets (safe for logs)."""
    if "command" in body:
        return f"command {body.get('command')}"
    if body.get("type") == "event_callback":
        return f"event {body.get('event', {}).get('type')}"
    return str(body.get("type", "request"))
