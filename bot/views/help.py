"""`/msp help`: what this person may do, by role."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.roles import ROLE_DESCRIPTIONS, Role
from bot.domain.subcommands import SubcommandSpec
from bot.ids import BlockId
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, escape, join, mrkdwn


def help_message(
    *, command: str, role: Role, entries: list[SubcommandSpec], notice: Mrkdwn | None = None
) -> Message:
    """The help card. `notice` goes first, e.g. a "did you mean"."""
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=notice)))
    blocks.append(HeaderBlock(block_id=BlockId.HELP_HEADER, text="MSP Command Center"))
    lines = join("\n", (command_line(command, entry) for entry in entries))
    blocks.append(SectionBlock(block_id=BlockId.HELP_COMMANDS, text=MarkdownTextObject(text=lines)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Your role: *{role.label}* ({escape(ROLE_DESCRIPTIONS[role])})."
                )
            ]
        )
    )
    text = mrkdwn("MSP Command Center: {count} commands you can use", count=len(entries))
    return Message.of(text, blocks)


def command_line(command: str, entry: SubcommandSpec) -> Mrkdwn:
    """`/msp customers [TEXT]` — list customers, with totals."""
    return mrkdwn(
        "`{command} {usage}` — {summary}",
        command=command,
        usage=entry.usage,
        summary=entry.summary,
    )


def usable_commands(command: str, entries: list[SubcommandSpec]) -> Mrkdwn:
    """`/msp add`, `/msp role`: the names of the commands a person may use."""
    return join(", ", (mrkdwn("`{command} {name}`", command=command, name=e.name) for e in entries))


def unknown_subcommand_notice(*, command: str, word: str, suggestion: str | None) -> Mrkdwn:
    if suggestion:
        return mrkdwn(
            ":thinking_face: I don't know `{word}`. Did you mean `{command} {suggestion}`?",
            word=word[:40],
            command=command,
            suggestion=suggestion,
        )
    return mrkdwn(":thinking_face: I don't know `{word}`. Here is what you can do:", word=word[:40])
