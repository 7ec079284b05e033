"""Short replies: refusals, errors, and the reply to people who are not staff."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock

from bot.sentences import Sentence
from bot.views.message import Message
from bot.views.modal import MAX_TITLE
from bot.views.mrkdwn import Mrkdwn, clip, mrkdwn, plain_text

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


def refusal_message(reason: Sentence | str) -> Message:
    """A known refusal (role, rule, bad input). Its wording may quote what a person
    typed, so nothing in it may format, mention or link. A refusal with no dates or
    people in it is shown as plain text (a command quoted as `code` shown bare, "use
    /msp request"); one with dates or people is mrkdwn, its words escaped, so each
    reader sees the dates in their own way and the people as mentions, which plain
    text cannot show. The notification text is escaped mrkdwn either way."""
    shown = reason if isinstance(reason, Sentence) else Sentence.literal(reason)
    if shown.values:
        text = mrkdwn(":no_entry: {reason}", reason=shown)
        block = SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))
    else:
        block = SectionBlock(
            text=PlainTextObject(text=(":no_entry: " + plain_text(shown))[:3000], emoji=True)
        )
    return Message.of(mrkdwn(":no_entry: {reason}", reason=shown), [block])


def refusal_modal(reason: Sentence | str, *, title: str) -> dict[str, Any]:
    """A refusal where there is no conversation to answer in (the Home tab, a modal),
    shown as `refusal_message` shows it."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": plain_text(title)[:MAX_TITLE]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": refusal_message(reason).blocks,
    }


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
