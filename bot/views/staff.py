"""Messages about people and roles: whoami, the staff list, role changes."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain.roles import Role, article, what_they_can_do, what_you_can_do
from bot.domain.subcommands import SubcommandSpec
from bot.views.help import usable_commands
from bot.views.message import Message
from bot.views.mrkdwn import mention, mrkdwn

# A section's text may hold 3,000 characters; one line per person is ~40.
PEOPLE_PER_SECTION = 60


def whoami_message(
    *, user_id: str, role: Role, command: str, entries: list[SubcommandSpec]
) -> Message:
    text = mrkdwn(
        "You are {who}, {a} *{role}* of this workspace's MSP: {description}.\n"
        "Commands you can use: {usable}",
        who=mention(user_id),
        a=article(role),
        role=role.label,
        description=what_you_can_do(role),
        usable=usable_commands(command, entries),
    )
    return Message.of(
        mrkdwn("You are {a} {role} of this MSP", a=article(role), role=role.label),
        [SectionBlock(text=MarkdownTextObject(text=text))],
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
    return Message.of(mrkdwn("{count} staff members", count=len(staff)), blocks)


def role_change_message(*, user_id: str, before: Role | None, after: Role | None) -> Message:
    who = mention(user_id)
    if before == after:
        has = mrkdwn("no role") if after is None else mrkdwn("the *{role}* role", role=after.label)
        text = mrkdwn("{who} already has {has}. Nothing changed.", who=who, has=has)
    elif after is None:
        text = mrkdwn(
            ":white_check_mark: {who} is no longer on the staff (was *{was}*).",
            who=who,
            was=before.label if before else "-",
        )
    elif before is None:
        text = mrkdwn(
            ":white_check_mark: {who} is now *{role}*: {description}.",
            who=who,
            role=after.label,
            description=what_they_can_do(after),
        )
    else:
        text = mrkdwn(
            ":white_check_mark: {who} is now *{role}* (was *{was}*).",
            who=who,
            role=after.label,
            was=before.label,
        )
    return Message.of(text, [SectionBlock(text=MarkdownTextObject(text=text))])
