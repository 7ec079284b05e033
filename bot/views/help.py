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
from bot.views.mrkdwn import escape


def help_message(
    *, command: str, role: Role, entries: list[SubcommandSpec], notice: str | None = None
) -> Message:
    """The help card. `notice` (already mrkdwn) goes first, e.g. a "did you mean"."""
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=notice)))
    blocks.append(HeaderBlock(block_id=BlockId.HELP_HEADER, text="MSP Command Center"))
    lines = [f"`{command} {entry.usage}` — {entry.summary}" for entry in entries]
    blocks.append(
        SectionBlock(block_id=BlockId.HELP_COMMANDS, text=MarkdownTextObject(text="\n".join(lines)))
    )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Your role: *{role.label}* ({escape(ROLE_DESCRIPTIONS[role])})."
                )
            ]
        )
    )
    return Message.of(f"MSP Command Center: {len(entries)} commands you can use", blocks)


def unknown_subcommand_notice(*, command: str, word: str, suggestion: str | None) -> str:
    shown = escape(word[:40])
    if suggestion:
        return f":thinking_face: I don't know `{shown}`. Did you mean `{command} {suggestion}`?"
    return f":thinking_face: I don't know `{shown}`. Here is what you can do:"
