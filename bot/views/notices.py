"""Short replies: refusals, errors, and the reply to people who are not staff."""

from __future__ import annotations

from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

from bot.views.message import Message
from bot.views.mrkdwn import escape

NOT_STAFF_TEXT = (
    ":wave: You're not on this workspace's MSP staff yet, so I can't show you anything. "
    "Ask an admin of this workspace to add you with `/msp role @you member`."
)


def not_staff_message() -> Message:
    return Message.of(NOT_STAFF_TEXT, [SectionBlock(text=MarkdownTextObject(text=NOT_STAFF_TEXT))])


def refusal_message(reason: str) -> Message:
    """A known refusal (role, rule, bad input). `reason` is plain text from a service."""
    text = f":no_entry: {escape(reason)}"
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


def unexpected_error_message(error_id: str) -> Message:
    text = (
        ":warning: Something went wrong on our side and nothing was changed by that step. "
        "Please try again; if it keeps happening, give your admin the error id "
        f"`{escape(error_id)}`."
    )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])
