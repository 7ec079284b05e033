"""Short replies: refusals, errors, and the reply to people who are not staff."""

from __future__ import annotations

import re

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock

from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, mrkdwn

NOT_STAFF_TEXT = mrkdwn(
    ":wave: You're not on this workspace's MSP staff yet, so I can't show you anything. "
    "Ask an admin of this workspace to add you with `/msp role @you member`."
)
DATABASE_UNAVAILABLE = (
    "The database is not answering (it may be restarting, or busy with a long change), "
    "so this was most likely not saved."
)


def not_staff_message() -> Message:
    return Message.of(NOT_STAFF_TEXT, [SectionBlock(text=MarkdownTextObject(text=NOT_STAFF_TEXT))])


def refusal_message(reason: str) -> Message:
    """A known refusal (role, rule, bad input). `reason` is plain text from a service
    and may quote what a person typed, so the block shows it as plain text: nothing in
    it can format, mention or link. Plain text shows no `code`, so a command quoted
    that way is shown bare ("use /msp request"), not between backticks. The
    notification text is escaped mrkdwn, where the code shows as code."""
    text = ":no_entry: " + _CODE_SPAN.sub(r"\1", reason)
    block = SectionBlock(text=PlainTextObject(text=text[:3000], emoji=True))
    return Message.of(mrkdwn(":no_entry: {reason}", reason=reason), [block])


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def unexpected_error_message(error_id: str) -> Message:
    text = mrkdwn(
        ":warning: Something went wrong on our side and nothing was changed by that step. "
        "Please try again; if it keeps happening, give your admin the error id `{error_id}`.",
        error_id=error_id,
    )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


def database_unavailable_message(error_id: str) -> Message:
    text = mrkdwn(
        ":hourglass_flowing_sand: {unavailable} Please try again in a moment; if it "
        "keeps happening, give your admin the error id `{error_id}`.",
        unavailable=DATABASE_UNAVAILABLE,
        error_id=error_id,
    )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


def done_message(text: str | Mrkdwn) -> Message:
    """A short confirmation: `text` is escaped unless it is already `Mrkdwn`."""
    shown = mrkdwn(":white_check_mark: {text}", text=text)
    return Message.of(shown, [SectionBlock(text=MarkdownTextObject(text=shown))])
