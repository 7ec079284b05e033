"""`/msp help`: what this person may do, by role."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.domain import subcommands
from bot.domain.roles import Role, article, what_you_can_do
from bot.domain.subcommands import Subcommand, SubcommandSpec
from bot.ids import ActionId, BlockId
from bot.views.message import Message
from bot.views.mrkdwn import Mrkdwn, join, mrkdwn


def help_message(
    *, command: str, role: Role, entries: list[SubcommandSpec], notice: Mrkdwn | None = None
) -> Message:
    """The help card: what this role may do, by task, with an example or two each,
    buttons for the usual first steps, and how to see a command's whole syntax.
    `notice` goes first, e.g. a "did you mean"."""
    blocks: list[Block] = []
    if notice:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=notice)))
    blocks.append(HeaderBlock(block_id=BlockId.HELP_HEADER, text="MSP Command Center"))
    for task, specs in subcommands.by_task(entries):
        lines = join("\n", (_brief_line(command, spec) for spec in specs))
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=mrkdwn("*{task}*\n{lines}", task=task, lines=lines))
            )
        )
        examples = subcommands.examples_for(role, task=task)
        if examples:
            blocks.append(
                ContextBlock(elements=[MarkdownTextObject(text=_examples(command, examples))])
            )
    starts = _first_steps(role)
    if starts:
        blocks.append(ActionsBlock(block_id=BlockId.HELP_COMMANDS, elements=starts))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=mrkdwn(
                        "`{command} help NAME` shows a command's whole syntax, e.g. "
                        "`{command} help subscribe`. You are {a} *{role}*: {what}.",
                        command=command,
                        a=article(role),
                        role=role.label,
                        what=what_you_can_do(role),
                    )
                )
            ]
        )
    )
    # A notice is what the person needs first, in the notification too.
    text = notice or mrkdwn("MSP Command Center: {count} commands you can use", count=len(entries))
    return Message.of(text, blocks)


def help_topic_message(*, command: str, role: Role, spec: SubcommandSpec) -> Message:
    """`/msp help NAME`: the command's whole syntax, what it does, examples."""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=mrkdwn(
                    "`{command} {usage}`\n{summary}",
                    command=command,
                    usage=spec.usage,
                    summary=spec.summary,
                )
            )
        )
    ]
    examples = subcommands.examples_for(role, name=spec.name)
    if examples:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_examples(command, examples))])
        )
    if role not in spec.allowed:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=mrkdwn(
                            "{reason}",
                            reason=subcommands.not_allowed_reason(role, spec.name, what="it"),
                        )
                    )
                ]
            )
        )
    text = mrkdwn("{command} {usage}", command=command, usage=spec.usage)
    return Message.of(text, blocks)


def _brief_line(command: str, spec: SubcommandSpec) -> Mrkdwn:
    return mrkdwn(
        "`{command} {name}` {summary}", command=command, name=spec.name, summary=spec.summary
    )


def _examples(command: str, examples: list[str]) -> Mrkdwn:
    return mrkdwn(
        "e.g. {examples}",
        examples=join(" · ", (mrkdwn("`{command} {e}`", command=command, e=e) for e in examples)),
    )


def _first_steps(role: Role) -> list[ButtonElement]:
    """Buttons for what people most often start with, as the role allows."""
    buttons = []
    if subcommands.may_use(role, Subcommand.ADD):
        buttons.append(
            ButtonElement(
                text="Add customer", action_id=ActionId.HOME_ADD_CUSTOMER, style="primary"
            )
        )
    buttons.append(ButtonElement(text="Subscribe to alerts", action_id=ActionId.SUBSCRIPTION_NEW))
    return buttons


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
