"""Messages about people and roles: whoami, the staff list, role changes."""

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
from bot.views.message import Message
from bot.views.mrkdwn import mention

# A section's text may hold 3,000 characters; one line per person is ~40.
PEOPLE_PER_SECTION = 60


def whoami_message(
    *, user_id: str, role: Role, command: str, entries: list[SubcommandSpec]
) -> Message:
    usable = ", ".join(f"`{command} {entry.name.value}`" for entry in entries)
    text = (
        f"You are {mention(user_id)}, *{role.label}* of this workspace's MSP: "
        f"{ROLE_DESCRIPTIONS[role]}.\nCommands you can use: {usable}"
    )
    return Message.of(
        f"You are {role.label} of this MSP", [SectionBlock(text=MarkdownTextObject(text=text))]
    )


def staff_list_message(*, staff: list[tuple[str, Role]]) -> Message:
    blocks: list[Block] = [HeaderBlock(text=f"Staff and roles ({len(staff)})")]
    lines = [f"{mention(user_id)} — {role.label}" for user_id, role in staff]
    for start in range(0, len(lines), PEOPLE_PER_SECTION):
        chunk = "\n".join(lines[start : start + PEOPLE_PER_SECTION])
        blocks.append(SectionBlock(text=MarkdownTextObject(text=chunk)))
    if not staff:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nobody has a role yet.")))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Owners and admins change roles with `/msp role @person ROLE`."
                )
            ]
        )
    )
    return Message.of(f"{len(staff)} staff members", blocks)


def role_change_message(*, user_id: str, before: Role | None, after: Role | None) -> Message:
    who = mention(user_id)
    if before == after:
        has = "no role" if after is None else f"the *{after.label}* role"
        text = f"{who} already has {has}. Nothing changed."
    elif after is None:
        was = before.label if before else "-"
        text = f":white_check_mark: {who} is no longer on the staff (was *{was}*)."
    elif before is None:
        text = f":white_check_mark: {who} is now *{after.label}*: {ROLE_DESCRIPTIONS[after]}."
    else:
        text = f":white_check_mark: {who} is now *{after.label}* (was *{before.label}*)."
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])
