"""Short replies: refusals, errors, and the reply to people who are not staff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock

from bot.sentences import Sentence
from bot.views.message import Message
from bot.views.modal import MAX_TITLE
from bot.views.mrkdwn import Mrkdwn, clip, join, mention, mrkdwn, plain_text

NOT_STAFF = ":wave: You're not on this workspace's MSP staff yet, so I can't show you anything."
DATABASE_UNAVAILABLE = (
    "The database is not answering (it may be restarting, or busy with a long change), "
    "so this was most likely not saved."
)


def not_staff_text(ask: Sequence[str]) -> Mrkdwn:
    """What someone off the MSP's staff is told, wherever they try (a command, a click,
    the Home tab): whom to ask by name (`ask`: owners and admins, who alone give
    roles), and what those would type. Mentions in an ephemeral answer or a Home tab
    notify nobody."""
    if not ask:
        return mrkdwn(
            "{not_staff} Nobody here is an owner or admin yet: ask the person who runs "
            "msp-bot (the operator) to make the first owner.",
            not_staff=NOT_STAFF,
        )
    return mrkdwn(
        "{not_staff} Ask an owner or admin of your MSP ({who}) to add you: they type "
        "`/msp role @your-name member`.",
        not_staff=NOT_STAFF,
        who=join(", ", (mention(user_id) for user_id in ask)),
    )


def not_staff_message(ask: Sequence[str]) -> Message:
    text = not_staff_text(ask)
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])


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
